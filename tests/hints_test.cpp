// Unit tests of hints: a push that says a job ended, unverified, brings that job's look forward; the wait ends on
// what the look says. The poller runs on the fake transport and fake clock; its one worker is a real thread, held
// in its timer sleep by a gate when a test must hint while it sleeps (the test waits on events, never on time).
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <future>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

namespace {

/// A poller with one worker on fakes, expecting pushes: looks only every 30 s (virtual) as a safety net.
struct HintHarness {
  ClientOptions options;
  FakeTransport transport;
  FakeClock clock;
  Sender<FakeTransport, FakeClock> sender{options, transport, clock};
  TrackerProtocol protocol{options};
  PollingRules rules{options.polling, *options.profile, [] { return 0.5; }};
  StatusLooks<FakeTransport, FakeClock, TrackerProtocol> looks{sender, protocol, rules};
  Poller<FakeTransport, FakeClock, TrackerProtocol> poller{looks, 1, SafetyPolling{}};
  std::mutex mutex;
  std::vector<std::chrono::milliseconds> looked_at;  // the virtual time of each look

  /// Answers each look with the next of `answers` (the last one again once they run out).
  explicit HintHarness(const std::vector<std::string>& answers, ClientOptions given = test_options())
      : options(std::move(given)) {
    transport.otherwise([this, answers](const HttpRequest&) {
      std::lock_guard lock(mutex);
      looked_at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()));
      return status_answer(answers[std::min(looked_at.size(), answers.size()) - 1]);
    });
  }

  /// Watches `job_id` for an hour (virtual); the result comes through the future.
  std::future<TranslationResult> watch(const std::string& job_id) {
    auto promise = std::make_shared<std::promise<TranslationResult>>();
    poller.watch(job_id, clock.now() + 3600s, {},
                 [promise](const std::string&, TranslationResult result) { promise->set_value(std::move(result)); });
    return promise->get_future();
  }

  std::vector<std::chrono::milliseconds> looks_so_far() {
    std::lock_guard lock(mutex);
    return looked_at;
  }
};

/// Holds the worker at the start of its first sleep until released; later sleeps go through.
struct SleepGate {
  Gate sleeping;
  Gate released;
  explicit SleepGate(FakeClock& clock) {
    clock.on_sleep([this] {
      sleeping.open();
      released.wait();
    });
  }
};

}  // namespace

TEST_CASE("hints: a hint brings a watched job's look forward; the wait ends on what that one look says") {
  HintHarness h({"completed"});
  SleepGate gate(h.clock);
  auto result = h.watch("a");
  gate.sleeping.wait();  // the worker sleeps until the safety look, 30 s away
  CHECK(h.poller.hint("a") == HintOutcome::looking);
  gate.released.open();
  const TranslationResult got = result.get();
  CHECK(got.ok());
  CHECK(got.requests == 1);
  CHECK(h.looks_so_far() == std::vector<std::chrono::milliseconds>{0ms});
  CHECK(h.poller.stats().hint_looks == 1u);
  CHECK(h.poller.stats().hints_confirmed == 1u);
}

TEST_CASE("hints: a flood of hints for one job costs one look, and a look that says pending ends nothing") {
  HintHarness h({"pending", "completed"});
  SleepGate gate(h.clock);
  auto result = h.watch("a");
  gate.sleeping.wait();
  CHECK(h.poller.hint("a") == HintOutcome::looking);
  for (int i = 0; i < 100; ++i) CHECK(h.poller.hint("a") == HintOutcome::coalesced);
  gate.released.open();
  const TranslationResult got = result.get();
  CHECK(got.ok());
  // The hinted look at once said pending (the hint was false); the wait went on to its next safety look.
  CHECK(h.looks_so_far() == std::vector<std::chrono::milliseconds>{0ms, 30000ms});
  CHECK(got.requests == 2);
  CHECK(h.poller.stats().hint_looks == 1u);
  CHECK(h.poller.stats().hints_confirmed == 0u);  // the safety look ended it, not the hint's
}

TEST_CASE("hints: a hint before anyone waits is kept, and the wait's first look is at once") {
  HintHarness h({"completed"});
  CHECK(h.poller.hint("a") == HintOutcome::kept);
  const TranslationResult got = h.watch("a").get();
  CHECK(got.ok());
  CHECK(h.looks_so_far() == std::vector<std::chrono::milliseconds>{0ms});
  // Taken once: a later wait for the same job is back on the safety schedule.
  const TranslationResult again = h.watch("a").get();
  CHECK(again.ok());
  CHECK(h.looks_so_far() == std::vector<std::chrono::milliseconds>{0ms, 30000ms});
}

TEST_CASE("hints: a hint for a job whose look is under way is looked at again once that look is back") {
  HintHarness h({"pending", "completed"});
  Gate in_look;
  Gate hinted;
  h.transport.otherwise([&](const HttpRequest&) {
    std::size_t looks = 0;
    {
      std::lock_guard lock(h.mutex);
      h.looked_at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(h.clock.now().time_since_epoch()));
      looks = h.looked_at.size();
    }
    if (looks == 1) {
      in_look.open();
      hinted.wait();
      return status_answer("pending");
    }
    return status_answer("completed");
  });
  SleepGate gate(h.clock);
  auto result = h.watch("a");
  gate.sleeping.wait();
  CHECK(h.poller.hint("a") == HintOutcome::looking);
  gate.released.open();
  in_look.wait();  // the first hinted look is in flight
  CHECK(h.poller.hint("a") == HintOutcome::looking);
  CHECK(h.poller.hint("a") == HintOutcome::coalesced);
  hinted.open();
  CHECK(result.get().ok());
  // The second look waits min_interval (50 ms) after the first: one look per min_interval, however many hints.
  CHECK(h.looks_so_far() == std::vector<std::chrono::milliseconds>{0ms, 50ms});
  CHECK(h.poller.stats().hint_looks == 2u);
  CHECK(h.poller.stats().hints_confirmed == 1u);
}

TEST_CASE("hints: a hint's look goes alone, leaving the jobs due soon to their many-status round") {
  ClientOptions options = test_options();
  options.profile->set_batch(Support::yes);
  options.polling.many_status_interval = Seconds(60);  // a round's take reaches a minute ahead
  HintHarness h({"completed"}, options);
  std::vector<std::pair<std::string, std::chrono::milliseconds>> sent;  // target and virtual time, under h.mutex
  h.transport.otherwise([&](const HttpRequest& request) {
    std::lock_guard lock(h.mutex);
    sent.emplace_back(request.target,
                      std::chrono::duration_cast<std::chrono::milliseconds>(h.clock.now().time_since_epoch()));
    if (request.target == "/status/batch")
      return answer(200, R"({"results": {"b": {"result": "completed"}, "c": {"result": "completed"}}})");
    return status_answer("completed");
  });
  SleepGate gate(h.clock);
  auto a = h.watch("a");
  auto b = h.watch("b");
  auto c = h.watch("c");
  gate.sleeping.wait();  // all three due for their safety look in one round, 30 s away
  CHECK(h.poller.hint("a") == HintOutcome::looking);
  gate.released.open();
  CHECK(a.get().ok());
  CHECK(b.get().ok());
  CHECK(c.get().ok());
  std::lock_guard lock(h.mutex);
  // The hint's look at once, alone; b and c wait for their round rather than being sent in one of their own early.
  const std::vector<std::pair<std::string, std::chrono::milliseconds>> expected{{"/status/a", 0ms},
                                                                                {"/status/batch", 30000ms}};
  CHECK(sent == expected);
}
