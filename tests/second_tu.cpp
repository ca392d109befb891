// Includes the header from a second translation unit of the same binary: catches a missing `inline`.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include "fakes.hpp"

TEST_CASE("the header links from two translation units") {
  using namespace heygen;
  CHECK(to_string(TranslationStatus::timeout) == "timeout");
  CHECK(detail::percent_encode("a b") == "a%20b");
  testing::FakeTransport transport;
  transport.then(testing::status_answer("completed"));
  testing::FakeClient client(testing::test_options(), transport);
  CHECK(client.check_translation_status("x").ok());
}
