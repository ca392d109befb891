// Unit tests of the client's long-lived poller: fake transport, fake clock; no real sleeps.
//
// The poller's workers are real threads, so a test that must catch a job in the middle of a request blocks the
// fake transport's handler on a gate the test opens: the test waits on events, never on time.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

namespace {

/// A per-id status server: each id answers pending `pendings[id]` times (default 1), then completed.
struct Server {
  std::mutex mutex;
  std::map<std::string, int> pendings;
  std::map<std::string, int> looks;

  HttpResponse answer_for(const HttpRequest& request) {
    const std::string id = request.target.substr(request.target.rfind('/') + 1);
    std::lock_guard lock(mutex);
    const int seen = ++looks[id];
    const auto found = pendings.find(id);
    return status_answer(seen <= (found == pendings.end() ? 1 : found->second) ? "pending" : "completed");
  }
  int looks_at(const std::string& id) {
    std::lock_guard lock(mutex);
    return looks[id];
  }
};

ClientOptions poller_options(std::size_t threads = 2) {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1e5);  // workers share one virtual clock: keep deadlines far unless tested
  options.poller_threads = threads;
  return options;
}

struct Harness {
  FakeTransport transport;
  FakeClock clock;
  FakeClient client;
  explicit Harness(ClientOptions options = poller_options()) : client(std::move(options), transport, clock) {}
};

bool ready(std::future<TranslationResult>& future) { return future.wait_for(0s) == std::future_status::ready; }

}  // namespace

TEST_CASE("poller: a watched job's result arrives through the future; nothing stays behind") {
  Harness h;
  Server server;
  h.transport.otherwise([&](const HttpRequest& r) { return server.answer_for(r); });
  auto result = h.client.watch("a").get();
  CHECK(result.ok());
  CHECK(result.requests == 2);
  CHECK(server.looks_at("a") == 2);
  const PollerStats stats = h.client.poller_stats();
  CHECK(stats.workers == 2u);
  CHECK(stats.jobs == 0u);
  CHECK(stats.watches == 0u);
}

TEST_CASE("poller: no worker starts before the first wait, and the pool never grows") {
  Harness h(poller_options(3));
  CHECK(h.client.poller_stats().workers == 0u);
  Server server;
  h.transport.otherwise([&](const HttpRequest& r) { return server.answer_for(r); });
  std::vector<std::future<TranslationResult>> futures;
  for (int i = 0; i < 50; ++i) futures.push_back(h.client.get_translation_status_async("job" + std::to_string(i)));
  for (auto& f : futures) CHECK(f.get().ok());
  CHECK(h.client.poller_stats().workers == 3u);
}

TEST_CASE("poller: the same id watched twice is polled once and both waits get the result") {
  Harness h(poller_options(1));
  Server server;
  server.pendings["x"] = 3;
  Gate first_look;
  Gate go_on;
  h.transport.otherwise([&](const HttpRequest& r) {
    if (!first_look.is_open()) {
      first_look.open();
      go_on.wait();
    }
    return server.answer_for(r);
  });
  auto one = h.client.watch("x");
  first_look.wait();  // the job is in its first request: the second wait joins it
  auto two = h.client.watch("x");
  CHECK(h.client.poller_stats().jobs == 1u);
  CHECK(h.client.poller_stats().watches == 2u);
  go_on.open();
  CHECK(one.get().ok());
  CHECK(two.get().ok());
  CHECK(server.looks_at("x") == 4);  // 3 pending + 1 completed: one job's looks, not two
  CHECK(h.transport.request_count() == 4u);
}

TEST_CASE("poller: jobs added while another is in a request, and from inside the request, all end") {
  Harness h(poller_options(1));
  Server server;
  std::future<TranslationResult> added_inside;
  h.transport.otherwise([&](const HttpRequest& r) {
    if (r.target == "/status/a" && server.looks_at("a") == 0) added_inside = h.client.watch("c");
    return server.answer_for(r);
  });
  auto a = h.client.watch("a");
  auto b = h.client.watch("b");
  CHECK(a.get().ok());
  CHECK(b.get().ok());
  CHECK(added_inside.get().ok());
  CHECK(server.looks_at("c") == 2);
}

TEST_CASE("poller: a job watched while the worker sleeps until a later look is looked at at once") {
  // Declared before the client: "later" is still being polled when the test ends, until the client stops.
  Server server;
  Gate sleeping;
  Gate go_on;
  Harness h(poller_options(1));
  server.pendings["later"] = 1000;
  server.pendings["now"] = 0;
  h.transport.otherwise([&](const HttpRequest& r) { return server.answer_for(r); });
  h.clock.on_sleep([&] {
    if (sleeping.is_open()) return;
    sleeping.open();
    go_on.wait();
  });
  auto later = h.client.watch("later");
  sleeping.wait();  // "later" was looked at and is pending: the only worker sleeps until its next look
  auto now = h.client.watch("now");
  go_on.open();
  const TranslationResult result = now.get();
  CHECK(result.ok());
  CHECK(result.elapsed == std::chrono::milliseconds(0));  // woken for it, not left until "later"'s next look
}

TEST_CASE("poller: a wait cancelled while its job is in a request ends at once; the other wait goes on") {
  Harness h(poller_options(1));
  Server server;
  server.pendings["x"] = 2;
  std::stop_source cancel_one;
  Gate both_added;
  Gate one_ended;
  Gate checked;
  TranslationResult one;
  bool ended_during_request = false;
  h.transport.otherwise([&](const HttpRequest& r) {
    both_added.wait();
    if (!checked.is_open()) {
      cancel_one.request_stop();  // on the worker, mid-request: the wait ends now, the request goes on
      ended_during_request = one_ended.is_open();
      checked.open();
    }
    return server.answer_for(r);
  });
  h.client.watch(
      "x",
      [&](const std::string&, const TranslationResult& r) {
        one = r;
        one_ended.open();
      },
      WatchOptions{.stop = cancel_one.get_token()});
  auto two = h.client.watch("x");
  both_added.open();
  const TranslationResult second = two.get();
  CAPTURE(second.error_message.value_or(""));
  CHECK(second.ok());
  checked.wait();
  CHECK(ended_during_request);
  CHECK(one.cause == FailureCause::cancelled);
  CHECK(one.status == TranslationStatus::error);
}

TEST_CASE("poller: a job whose only wait is cancelled is dropped without another look") {
  Harness h(poller_options(1));
  std::stop_source stop;
  h.transport.otherwise([&](const HttpRequest&) {
    stop.request_stop();
    return status_answer("pending");
  });
  auto future = h.client.watch("x", WatchOptions{.stop = stop.get_token()});
  CHECK(future.get().cause == FailureCause::cancelled);
  // The look in flight returns pending; nobody waits, so the job goes and is not looked at again.
  h.transport.otherwise([](const HttpRequest&) { return status_answer("completed"); });
  auto other = h.client.watch("y", WatchOptions{.stop = std::stop_token{}});
  const TranslationResult y = other.get();
  CAPTURE(y.error_message.value_or(""));
  CHECK(y.ok());
  CHECK(h.client.poller_stats().jobs == 0u);
  int looks_at_x = 0;
  for (const auto& request : h.transport.requests()) looks_at_x += request.target == "/status/x" ? 1 : 0;
  CHECK(looks_at_x == 1);
}

TEST_CASE("poller: a stop token already triggered ends the wait at once, without a request") {
  Harness h;
  std::stop_source stop;
  stop.request_stop();
  auto future = h.client.watch("x", WatchOptions{.stop = stop.get_token()});
  REQUIRE(ready(future));
  CHECK(future.get().cause == FailureCause::cancelled);
  CHECK(h.transport.request_count() == 0u);
}

TEST_CASE("poller: each wait keeps its own deadline") {
  Harness h(poller_options(1));
  Server server;
  server.pendings["x"] = 1000;
  h.transport.otherwise([&](const HttpRequest& r) {
    if (server.looks_at("x") >= 40) server.pendings["x"] = 0;  // finishes after a while
    return server.answer_for(r);
  });
  auto soon = h.client.watch("x", WatchOptions{.timeout = Seconds(10)});
  auto late = h.client.watch("x");
  const TranslationResult timed_out = soon.get();
  CHECK(timed_out.status == TranslationStatus::timeout);
  CHECK(timed_out.cause == FailureCause::deadline);
  CHECK(late.get().ok());
}

TEST_CASE("poller: shutdown with a request in flight ends every wait cancelled, then joins") {
  auto h = std::make_unique<Harness>(poller_options(2));
  Gate in_request;
  Gate release;
  h->transport.otherwise([&](const HttpRequest&) {
    in_request.open();
    release.wait();
    return status_answer("pending");
  });
  std::atomic<int> callbacks{0};
  std::atomic<bool> returned{false};
  std::atomic<bool> late_callback{false};
  auto future = h->client.watch("a");
  h->client.watch("b", [&](const std::string&, const TranslationResult& r) {
    if (returned) late_callback = true;
    CHECK(r.cause == FailureCause::cancelled);
    ++callbacks;
  });
  in_request.wait();
  std::thread destroyer([&] {
    h.reset();
    returned = true;
  });
  // The waits end before the request in flight returns; the destructor then waits for that worker.
  const TranslationResult result = future.get();
  CHECK(result.cause == FailureCause::cancelled);
  release.open();
  destroyer.join();
  CHECK(callbacks == 1);
  CHECK_FALSE(late_callback);
}

TEST_CASE("poller: a wait added after shutdown ends cancelled at once") {
  Harness h;
  h.client.shutdown();
  auto future = h.client.watch("x");
  REQUIRE(ready(future));
  CHECK(future.get().cause == FailureCause::cancelled);
  h.client.shutdown();  // twice is fine
}

TEST_CASE("poller: a callback may watch another job, and one that throws harms nothing") {
  std::vector<std::string> logged;
  std::mutex log_mutex;
  Gate threw_logged;
  ClientOptions options = poller_options(2);
  options.log_sink = [&](LogLevel level, std::string_view message) {
    std::lock_guard lock(log_mutex);
    logged.emplace_back(message);
    if (level == LogLevel::error) threw_logged.open();
  };
  Harness h(options);
  Server server;
  h.transport.otherwise([&](const HttpRequest& r) { return server.answer_for(r); });
  std::promise<TranslationResult> second;
  h.client.watch("first", [&](const std::string&, const TranslationResult&) {
    h.client.watch("second", [&](const std::string&, const TranslationResult& r) { second.set_value(r); });
    throw std::runtime_error("boom");
  });
  CHECK(second.get_future().get().ok());
  auto after = h.client.watch("third");
  CHECK(after.get().ok());
  threw_logged.wait();
  std::lock_guard lock(log_mutex);
  CHECK(std::any_of(logged.begin(), logged.end(), [](const std::string& m) {
    return m.find("first") != std::string::npos && m.find("boom") != std::string::npos;
  }));
}

TEST_CASE("poller: due jobs of different callers share one many-status request") {
  ClientOptions options = poller_options(1);
  options.profile->set_batch(Support::unknown);
  Harness h(options);
  std::vector<std::string> bodies;
  std::mutex mutex;
  Gate z_in_request;
  Gate both_added;
  h.transport.otherwise([&](const HttpRequest& r) {
    if (r.target == "/status/z") {  // the one worker is held here while the two callers add their jobs
      z_in_request.open();
      both_added.wait();
      return status_answer("completed");
    }
    REQUIRE(r.target == "/status/batch");
    std::lock_guard lock(mutex);
    bodies.push_back(r.body);
    return answer(200, R"({"results": {"a": {"result": "completed"}, "b": {"result": "completed"}}})");
  });
  auto z = h.client.watch("z");
  z_in_request.wait();
  auto a = h.client.watch("a");
  auto b = h.client.get_bulk_translation_statuses_async({"b"});
  both_added.open();
  CHECK(z.get().ok());
  CHECK(a.get().ok());
  const ResultMap bulk = b.get();
  REQUIRE(bulk.size() == 1u);
  CHECK(bulk.at("b").ok());
  std::lock_guard lock(mutex);
  REQUIRE(bodies.size() == 1u);
  CHECK(bodies[0] == R"({"job_ids":["a","b"]})");
}

TEST_CASE("poller: a bulk call's concurrent_limit caps its requests in flight, whatever the pool size") {
  Harness h(poller_options(4));
  std::atomic<int> in_flight{0};
  std::atomic<int> most{0};
  Server server;
  h.transport.otherwise([&](const HttpRequest& r) {
    const int now = ++in_flight;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::yield();
    HttpResponse response = server.answer_for(r);
    --in_flight;
    return response;
  });
  std::vector<std::string> ids;
  // Appended: g++ 12 at -O3 warns (-Wrestrict, a false positive) on "j" + std::to_string(i).
  for (int i = 0; i < 40; ++i) ids.push_back(std::string("j").append(std::to_string(i)));
  const ResultMap results = h.client.get_bulk_translation_statuses(ids, 1);
  REQUIRE(results.size() == 40u);
  for (const auto& [id, result] : results) CHECK(result.ok());
  CHECK(most.load() == 1);
}

TEST_CASE("poller: a bulk call with no ids returns an empty map at once") {
  Harness h;
  CHECK(h.client.get_bulk_translation_statuses({}).empty());
  CHECK(h.client.poller_stats().workers == 0u);
}

TEST_CASE("poller: a bulk callback that cancels its own call ends the rest cancelled, without deadlock") {
  // One worker: the callback runs on it, in the look that found "first" completed, before virtual time moves (a
  // second worker sleeping as the timer could run the other jobs to their deadline first, as under valgrind).
  Harness h(poller_options(1));
  h.transport.otherwise(
      [](const HttpRequest& r) { return status_answer(r.target == "/status/first" ? "completed" : "pending"); });
  std::stop_source stop;
  std::vector<std::string> told;
  const ResultMap results = h.client.get_bulk_translation_statuses(
      {"first", "second", "third"}, std::nullopt, stop.get_token(),
      [&](const std::string& id, const TranslationResult&, BulkProgress) {
        told.push_back(id);
        stop.request_stop();  // re-enters the call's collector on this thread, through the poller
      });
  REQUIRE(results.size() == 3u);
  CHECK(results.at("first").ok());
  CHECK(results.at("second").cause == FailureCause::cancelled);
  CHECK(results.at("third").cause == FailureCause::cancelled);
  CHECK(told.size() == 3u);
}
