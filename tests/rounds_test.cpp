// Unit tests of the poller's rounds: which take rule fits, and the serving of one take, on the fake transport and
// fake clock. Rounds start no thread, so these tests call serve() as a worker would, on the test's own thread.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <map>
#include <string>
#include <vector>

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

namespace {

using TestRounds = Rounds<FakeTransport, FakeClock, TrackerProtocol>;
using Take = TestRounds::Take;

/// The parts a poller's rounds look through, on fakes, and the results each job's one wait got.
struct RoundsHarness {
  ClientOptions options = test_options();
  FakeTransport transport;
  FakeClock clock;
  Sender<FakeTransport, FakeClock> sender{options, transport, clock};
  TrackerProtocol protocol{options};
  PollingRules rules{options.polling, *options.profile, [] { return 0.5; }};
  StatusLooks<FakeTransport, FakeClock, TrackerProtocol> looks{sender, protocol, rules};
  PollerShared shared{options.polling};
  std::vector<std::string> finals;  // what the final hook was told
  TestRounds rounds{looks, shared, 2, std::nullopt, [this](const std::string& id) { finals.push_back(id); }};
  std::map<std::string, TranslationResult> results;

  /// Watches `job_id` with one wait ending `deadline` from now; its result goes to `results`.
  WatchedJob& watch(const std::string& job_id, std::chrono::seconds deadline = 100s) {
    WatchedJob& job = shared.waits.add_job(sender.begin(job_id, {}));
    Watch wait;
    wait.deadline = clock.now() + deadline;
    wait.sink = [this](const std::string& id, TranslationResult result) { results[id] = std::move(result); };
    shared.waits.add_watch(job, std::move(wait));
    job.call.deadline = job.deadline;
    job.poller = JobPoller(Seconds(1));
    return job;
  }

  /// Serves `jobs` as one worker's take in `mode`; what goes back, with when.
  std::vector<Due> serve(const std::vector<WatchedJob*>& jobs, Take mode) {
    std::vector<Due> later;
    rounds.serve(jobs, mode, later, clock.now());
    return later;
  }
};

}  // namespace

TEST_CASE("rounds: one job is looked at alone; several share many-status rounds once the server may have them") {
  RoundsHarness h;
  h.watch("a");
  CHECK(h.rounds.take_mode() == Take::per_job);
  h.watch("b");
  CHECK(h.rounds.take_mode() == Take::per_job);  // the profile says this server has no batch endpoint
  h.options.profile->set_batch(Support::unknown);
  CHECK(h.rounds.take_mode() == Take::many_status);
}

TEST_CASE("rounds: a pending look puts the job back for later; a completed one ends its wait and names it final") {
  RoundsHarness h;
  WatchedJob& job = h.watch("a");
  h.transport.then(status_answer("pending")).then(status_answer("completed"));
  const auto first = h.serve({&job}, Take::per_job);
  REQUIRE(first.size() == 1u);
  CHECK(first[0].first > h.clock.now());
  CHECK(first[0].second == job.slot);
  CHECK(h.results.empty());
  CHECK_FALSE(job.settled);
  const auto second = h.serve({&job}, Take::per_job);
  REQUIRE(second.size() == 1u);
  CHECK(job.settled);
  CHECK(h.shared.waits.find("a") == nullptr);  // a new wait for "a" starts a fresh job
  REQUIRE(h.results.count("a") == 1u);
  CHECK(h.results["a"].ok());
  CHECK(h.results["a"].requests == 2);
  CHECK(h.finals == std::vector<std::string>{"a"});
  CHECK(h.shared.requests == 2u);
  CHECK(h.shared.job_looks == 2u);
}

TEST_CASE("rounds: a wait past its deadline ends timeout without a request") {
  RoundsHarness h;
  WatchedJob& job = h.watch("a", 5s);
  h.clock.advance(6000ms);
  const auto later = h.serve({&job}, Take::per_job);
  CHECK(h.transport.request_count() == 0u);
  REQUIRE(h.results.count("a") == 1u);
  CHECK(h.results["a"].status == TranslationStatus::timeout);
  CHECK(h.results["a"].cause == FailureCause::deadline);
  REQUIRE(later.size() == 1u);  // back to the worker, which drops it: nobody waits
  CHECK(job.watches.empty());
  CHECK(h.finals.empty());
}

TEST_CASE("rounds: due jobs share one many-status request; a job the answer leaves out is asked again shortly") {
  RoundsHarness h;
  h.options.profile->set_batch(Support::unknown);
  WatchedJob& a = h.watch("a");
  WatchedJob& b = h.watch("b");
  h.transport.then(answer(200, R"({"results": {"a": {"result": "completed"}}})"));
  const auto later = h.serve({&a, &b}, Take::many_status);
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 1u);
  CHECK(requests[0].target == "/status/batch");
  CHECK(requests[0].body == R"({"job_ids":["a","b"]})");
  CHECK(h.results.count("a") == 1u);
  CHECK(h.results.count("b") == 0u);
  REQUIRE(later.size() == 2u);
  const Due& b_due = later[0].second == b.slot ? later[0] : later[1];
  CHECK(b_due.first == h.clock.now() + detail::to_clock(h.options.polling.min_interval));
  CHECK(h.options.profile->batch() == Support::yes);
  CHECK(h.shared.requests == 1u);
  CHECK(h.shared.job_looks == 2u);
}

TEST_CASE("rounds: a server without a many-status endpoint is remembered and its jobs go back at once") {
  RoundsHarness h;
  h.options.profile->set_batch(Support::unknown);
  WatchedJob& a = h.watch("a");
  WatchedJob& b = h.watch("b");
  h.transport.then(answer(404, "not found"));
  const auto later = h.serve({&a, &b}, Take::many_status);
  CHECK(h.options.profile->batch() == Support::no);
  REQUIRE(later.size() == 2u);
  CHECK(later[0].first == h.clock.now());
  CHECK(later[1].first == h.clock.now());
  CHECK(h.results.empty());
  CHECK(h.rounds.take_mode() == Take::per_job);
}

TEST_CASE("rounds: a job nobody waits for any more goes back without a look") {
  RoundsHarness h;
  WatchedJob& job = h.watch("a");
  CHECK(h.shared.waits.end_all(job).size() == 1u);
  const auto later = h.serve({&job}, Take::per_job);
  CHECK(h.transport.request_count() == 0u);
  CHECK(later.size() == 1u);
}

TEST_CASE("rounds: queue places a job at its next look, or at its wait's deadline when that comes first") {
  RoundsHarness h;
  WatchedJob& job = h.watch("a", 3s);
  job.next_look = h.clock.now() + 10s;
  CHECK(h.rounds.queue(job) == h.clock.now() + 3s);
  CHECK(h.shared.schedule.queued(job.slot));
  job.next_look = h.clock.now() + 1s;
  CHECK(h.rounds.queue(job) == h.clock.now() + 1s);
  CHECK(h.shared.schedule.size() == 1u);
}

TEST_CASE("rounds: in a many-status round, a job a hint asked about is looked at alone; the rest share a request") {
  RoundsHarness h;
  h.options.profile->set_batch(Support::unknown);
  WatchedJob& a = h.watch("a");
  WatchedJob& b = h.watch("b");
  WatchedJob& c = h.watch("c");
  b.hinted = true;
  h.rounds.note_taken(b, h.clock.now());
  CHECK(b.confirming);
  CHECK_FALSE(b.hinted);
  h.transport.otherwise([](const HttpRequest& r) {
    if (r.target == "/status/b") return status_answer("completed");
    return answer(200, R"({"results": {"a": {"result": "pending"}, "c": {"result": "pending"}}})");
  });
  h.serve({&a, &b, &c}, Take::many_status);
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 2u);
  CHECK(requests[0].target == "/status/b");
  CHECK(requests[1].body == R"({"job_ids":["a","c"]})");
  CHECK(h.results.count("b") == 1u);
  CHECK(h.results["b"].requests == 1);
  CHECK(h.shared.hint_looks == 1u);
}

TEST_CASE("rounds: a hinted job is queued at once, not at its next look, and a second hint waits min_interval") {
  RoundsHarness h;
  WatchedJob& job = h.watch("a");
  job.next_look = h.clock.now() + 30s;
  job.hinted = true;
  CHECK(h.rounds.queue(job) == h.clock.now());
  h.rounds.note_taken(job, h.clock.now());
  job.hinted = true;  // hinted again while that look is under way
  CHECK(h.rounds.queue(job) == h.clock.now() + detail::to_clock(h.options.polling.min_interval));
}
