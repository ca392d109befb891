// PollPolicy presets: long_jobs(), for jobs of minutes (HeyGen's translations), tuned with bench/polling's
// heygen-like workload. Nothing sleeps for real: the client runs on FakeClock; random draws are pinned.
#include <doctest/doctest.h>

#include "fakes.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <picojson.h>

using namespace heygen;
using namespace heygen::testing;

namespace {

/// Makes `model` remember `durations`.
void learn(DurationModel& model, const std::vector<double>& durations) {
  for (double duration : durations) model.record(Seconds(duration));
}

/// Options for a fake server, polled by long_jobs() with the given random source.
ClientOptions long_jobs_options(std::function<double()> random) {
  ClientOptions options;
  options.base_url = "http://h";
  options.max_timeout = Seconds(3600);
  options.polling = PollPolicy::long_jobs();
  options.random = std::move(random);
  return options;
}

/// The job ids a batch status request names, sorted.
std::vector<std::string> ids_of(const HttpRequest& request) {
  picojson::value body;
  picojson::parse(body, request.body);
  std::vector<std::string> ids;
  for (const auto& id : body.get("job_ids").get<picojson::array>()) ids.push_back(id.to_str());
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

TEST_CASE("long_jobs: the fields") {
  const PollPolicy poll = PollPolicy::long_jobs();
  CHECK(poll.lag_ratio == doctest::Approx(0.05));
  CHECK(poll.initial_interval.count() == doctest::Approx(4.0));
  CHECK(poll.multiplier == doctest::Approx(2.0));
  CHECK(poll.cold_cap.count() == doctest::Approx(30.0));
  CHECK(poll.min_interval.count() == doctest::Approx(2.0));
  CHECK(poll.max_interval.count() == doctest::Approx(30.0));
  CHECK(poll.jitter == doctest::Approx(0.1));
  CHECK(poll.warm_after == 20);
  CHECK(poll.learn);
  CHECK(poll.use_hints);
}

TEST_CASE("long_jobs: cold, 4 s doubling to 30 s, and never past 30 s however old the job") {
  const PollPolicy poll = PollPolicy::long_jobs();
  PollContext context;
  const std::vector<double> expected{4.0, 8.0, 16.0, 30.0, 30.0};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    context.looks = static_cast<int>(i) + 1;
    CHECK(poll.cold_wait(context, 0.0).count() == doctest::Approx(expected[i]));
  }
  CHECK(poll.cold_wait(context, 1.0).count() == doctest::Approx(27.0));  // jitter: × U(0.9, 1)
  context.age = Seconds(3600);                                           // 0.05 × age would be 180 s
  CHECK(poll.cold_wait(context, 0.0).count() == doctest::Approx(30.0));
  CHECK(poll.next_wait(context, 0.0).count() == doctest::Approx(30.0));
}

TEST_CASE("long_jobs: learnt, every 5 % of jobs, never past 30 s; the first look where jobs start ending") {
  const PollPolicy poll = PollPolicy::long_jobs();
  std::vector<double> durations;
  for (int i = 0; i < 100; ++i) durations.push_back(200.0 + i);  // 200 … 299 s
  DurationModel model;
  learn(model, durations);
  // First look at the first 5 % (204 s): past max_interval, which caps only the waits between looks.
  CHECK(poll.first_wait(&model).count() == doctest::Approx(204.0));
  PollContext context;
  context.looks = 1;
  context.learnt = &model;
  context.age = Seconds(210);  // 11 % done: the next look where 16 % are, at 215 s, and a little past it
  CHECK(poll.next_wait(context, 0.5).count() == doctest::Approx(5.0 + 0.02 + 0.05));
  // Learnt finishes far apart: the wait stops at 30 s, where the default's age rule would allow 0.08 × age.
  std::vector<double> sparse(10, 200.0);
  sparse.insert(sparse.end(), 90, 2000.0);
  DurationModel far;
  learn(far, sparse);
  context.learnt = &far;
  context.age = Seconds(1500);
  CHECK(poll.next_wait(context, 0.5).count() == doctest::Approx(30.0));
  CHECK(PollPolicy{}.next_wait(context, 0.5).count() == doctest::Approx(120.0));
}

TEST_CASE("first_wait: not capped by max_interval (the default's too), floored at min_interval") {
  DurationModel model;
  learn(model, std::vector<double>(20, 300.0));
  CHECK(PollPolicy{}.first_wait(&model).count() == doctest::Approx(300.0));
  DurationModel instant;
  learn(instant, std::vector<double>(20, 1.0));
  CHECK(PollPolicy::long_jobs().first_wait(&instant).count() == doctest::Approx(2.0));
}

TEST_CASE("long_jobs: a single wait on a fake clock looks 4, 8, 16, then 30 s apart (× 0.95 at 0.5)") {
  FakeTransport transport;
  FakeClock clock;
  transport.otherwise([&](const HttpRequest&) {
    return status_answer(clock.now() >= TimePoint{} + std::chrono::seconds(100) ? "completed" : "pending");
  });
  BasicVideoTranslationClient<FakeTransport, FakeClock> client(long_jobs_options([] { return 0.5; }), transport, clock);
  const TranslationResult result = client.get_translation_status("job");
  CHECK(result.status == TranslationStatus::completed);
  using ms = std::chrono::milliseconds;
  CHECK(clock.sleeps() == std::vector<ms>{ms(3800), ms(7600), ms(15200), ms(28500), ms(28500), ms(28500)});
  CHECK(result.requests == 7);
}

TEST_CASE("long_jobs: jobs created together stay in one many-status request, however their waits are jittered") {
  FakeTransport transport;
  FakeClock clock;
  transport.otherwise([&](const HttpRequest& request) {
    const bool done = clock.now() >= TimePoint{} + std::chrono::seconds(300);
    std::string body = R"({"results": {)";
    for (const auto& id : ids_of(request))
      body +=
          (body.back() == '{' ? "\"" : ", \"") + id + R"(": {"result": ")" + (done ? "completed" : "pending") + "\"}";
    return answer(200, body + "}}");
  });
  int draws = 0;  // waits as far apart as the jitter allows: U(0.9, 1) drawn at 0, 1, 0, 1, …
  BasicVideoTranslationClient<FakeTransport, FakeClock> client(
      long_jobs_options([&] { return static_cast<double>(draws++ % 2); }), transport, clock);
  const std::vector<std::string> ids{"a", "b", "c"};
  const ResultMap results = client.get_bulk_translation_statuses(ids, 1);
  for (const auto& id : ids) CHECK(results.at(id).status == TranslationStatus::completed);
  const std::vector<HttpRequest> requests = transport.requests();
  // At 0 and ~4 s, then every many_status_interval (8 s) to 300 s: one request a round, never one per job.
  CHECK(requests.size() >= 38);
  CHECK(requests.size() <= 40);
  for (const auto& request : requests) CHECK_MESSAGE(ids_of(request) == ids, request.body);  // every round asks for all
}
