// Includes the header from a second translation unit of the same binary: catches a missing `inline`.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include "fakes.hpp"

#include <string>
#include <string_view>
#include <utility>

TEST_CASE("the header links from two translation units") {
  using namespace heygen;
  CHECK(to_string(TranslationStatus::timeout) == "timeout");
  CHECK(detail::percent_encode("a b") == "a%20b");
  testing::FakeTransport transport;
  transport.then(testing::status_answer("completed"));
  testing::FakeClient client(testing::test_options(), transport);
  CHECK(client.check_translation_status("x").ok());
}

// Regression: with g++ 12, a braced list of designated initializers was ambiguous between ClientOptions and the
// std::string constructor. The URL constructor is now a template a braced list cannot match; this must compile.
TEST_CASE("a client from designated initializers: ClientOptions, not the URL constructor, with both compilers") {
  using heygen::VideoTranslationClient;
  VideoTranslationClient from_options({.base_url = "http://127.0.0.1:1", .max_retries = 3});
  CHECK(from_options.options().max_retries == 3);
  CHECK(from_options.options().base_url == "http://127.0.0.1:1");
  VideoTranslationClient from_literal("http://127.0.0.1:1");
  VideoTranslationClient from_string(std::string("http://127.0.0.1:1"));
  VideoTranslationClient from_view(std::string_view("http://127.0.0.1:1"));
  CHECK(from_literal.options().max_retries == 15);  // the seed's default
  CHECK(from_string.options().base_url == from_view.options().base_url);
  VideoTranslationClient moved(std::move(from_literal));  // a client stays movable
  CHECK(moved.options().base_url == "http://127.0.0.1:1");
}
