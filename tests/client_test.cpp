// Unit tests of the client: fake transport, fake clock; exact requests and exact waits.
#include <doctest/doctest.h>

#include "fakes.hpp"

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

TEST_CASE("create_translation_job posts once and returns the id") {
  FakeTransport transport;
  transport.then(answer(200, R"({"job_id": "abc"})"));
  FakeClient client(test_options(), transport);
  CHECK(client.create_translation_job() == "abc");
  const auto requests = transport.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/create_job");
  CHECK(requests[0].url == "http://127.0.0.1:5000/create_job");
}

TEST_CASE("get_translation_status polls pending until completed, on the schedule") {
  FakeTransport transport;
  transport.then(status_answer("pending")).then(status_answer("pending")).then(status_answer("completed"));
  FakeClock clock;
  FakeClient client(test_options(), transport, clock);
  const TranslationResult result = client.get_translation_status("job-1");
  CHECK(result.status == TranslationStatus::completed);
  CHECK(result.requests == 3);
  // cold schedule 2 s × 2, jitter 0.1 drawn at 0.5 → each wait × 0.95
  CHECK(clock.sleeps() == std::vector<std::chrono::milliseconds>{1900ms, 3800ms});
  for (const auto& request : transport.requests()) CHECK(request.target == "/status/job-1");
}
