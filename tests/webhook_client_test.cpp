// Unit tests of webhooks through the client: creates ask for pushes, handle_webhook verifies a push, reads it and
// ends every wait for its job at once, and polling stays on as a slow safety net. Fake transport, fake clock; no
// real sleeps.
//
// With a webhook_url set, a wait's first look is a safety interval away in virtual time, and the fake clock jumps
// there as soon as a worker sleeps. A test that needs a wait still open when its push arrives holds the workers'
// sleeps on a gate (SleepHold): virtual time cannot pass, so no look happens, until the test lets it.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <picojson.h>

#ifndef HEYGEN_VT_WITH_OPENSSL
#error "the unit tests are built with cpp-httplib's OpenSSL flags, which must turn on HEYGEN_VT_WITH_OPENSSL"
#endif

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view hook_secret = "whsec-client-test";
constexpr std::string_view signature_header = "X-HeyGen-Signature";
const std::string hook_url = "https://hooks.example.com/heygen/push";  // never reached: the tests push

/// Holds every sleep of a fake clock until released: virtual time stands still, so no look falls due. Declare it
/// after the client: it releases when destroyed, before the client's shutdown needs its workers back.
class SleepHold {
 public:
  explicit SleepHold(FakeClock& clock) : gate_(std::make_shared<Gate>()) {
    clock.on_sleep([gate = gate_] { gate->wait(); });
  }
  SleepHold(const SleepHold&) = delete;
  SleepHold& operator=(const SleepHold&) = delete;
  ~SleepHold() { release(); }
  void release() { gate_->open(); }

 private:
  std::shared_ptr<Gate> gate_;
};

/// Every result the waits it made sinks for were given, in order. Declare it before the client: the client's
/// shutdown hands the waits still open their `cancelled` results.
class Outcomes {
 public:
  WatchCallback sink() {
    return [this](const std::string& job_id, const TranslationResult& result) {
      {
        std::lock_guard lock(mutex_);
        got_.emplace_back(job_id, result);
      }
      changed_.notify_all();
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return got_.size();
  }
  std::vector<TranslationResult> of(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    std::vector<TranslationResult> out;
    for (const auto& [id, result] : got_)
      if (id == job_id) out.push_back(result);
    return out;
  }
  /// Waits until at least `count` results are in.
  void wait_for(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return got_.size() >= count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<std::string, TranslationResult>> got_;
};

/// Options for a tracker client on the fakes that asks for pushes: the test secret, one worker unless said
/// otherwise, deadlines far away.
ClientOptions hook_options(std::size_t threads = 1) {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1e5);
  options.poller_threads = threads;
  options.webhook_url = hook_url;
  options.webhook.secret = std::string(hook_secret);
  return options;
}

/// The same for a HeyGen v3 client (v3_protocol_test's options, pushes asked for).
ClientOptions v3_hook_options() {
  ClientOptions options = heygen_v3_options("key-1", "http://127.0.0.1:5000");
  options.random = [] { return 0.5; };
  options.polling.long_poll = Seconds(0);
  options.polling.learn = false;
  options.polling.coalesce = Seconds(0);
  options.profile = std::make_shared<ServerProfile>();
  options.max_timeout = Seconds(1e5);
  options.poller_threads = 1;
  options.webhook_url = hook_url;
  options.webhook.secret = std::string(hook_secret);
  return options;
}

using V3Client = BasicVideoTranslationClient<FakeTransport, FakeClock, HeyGenV3Protocol>;

/// The fakes and a client on them; push() delivers a body signed with the test secret, as a server would.
template <class Client>
struct BasicHarness {
  FakeTransport transport;
  FakeClock clock;
  Client client;
  explicit BasicHarness(ClientOptions options) : client(std::move(options), transport, clock) {}

  WebhookReply push(std::string_view body) { return client.handle_webhook(signed_headers(body), body); }

  static std::vector<HttpHeader> signed_headers(std::string_view body, std::string_view key = hook_secret) {
    return {{"Content-Type", "application/json"}, {std::string(signature_header), webhook_signature(key, body)}};
  }
};
using Harness = BasicHarness<FakeClient>;
using V3Harness = BasicHarness<V3Client>;

/// A tracker push: the job's final status and its id.
std::string tracker_push(const std::string& job_id, const std::string& result, const std::string& extra = "") {
  return R"({"job_id": ")" + job_id + R"(", "result": ")" + result + "\"" + extra + "}";
}

/// A HeyGen v3 push of `event_type` for `job_id` with `data` (JSON members, comma-led).
std::string v3_push(const std::string& event_type, const std::string& job_id, const std::string& data) {
  return R"({"event_type": ")" + event_type + R"(", "event_data": {"video_translate_id": ")" + job_id + "\"" + data +
         "}}";
}

bool ready(std::future<TranslationResult>& future) { return future.wait_for(0s) == std::future_status::ready; }

/// Virtual time in whole milliseconds (rounded: waits of a fraction of a second are not whole nanoseconds).
long long virtual_ms(const FakeClock& clock) {
  return std::llround(std::chrono::duration<double, std::milli>(clock.now().time_since_epoch()).count());
}

/// The parsed JSON body of a request.
picojson::object body_of(const HttpRequest& request) {
  picojson::value value;
  REQUIRE(picojson::parse(value, request.body).empty());
  REQUIRE(value.is<picojson::object>());
  return value.get<picojson::object>();
}

/// A string member of a JSON object, or nothing.
std::optional<std::string> member(const picojson::object& object, const std::string& name) {
  const auto found = object.find(name);
  if (found == object.end() || !found->second.is<std::string>()) return std::nullopt;
  return found->second.get<std::string>();
}

/// The first header named `name` in a request.
std::optional<std::string> header_of(const HttpRequest& request, std::string_view name) {
  for (const auto& header : request.headers)
    if (detail::iequals(header.name, name)) return header.value;
  return std::nullopt;
}

/// The Unix time now, in seconds, as a timestamp header carries it.
std::string unix_now_plus(std::chrono::seconds offset) {
  const auto now = std::chrono::system_clock::now() + offset;
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
}

}  // namespace

TEST_SUITE("webhook client") {

// =============================================================================================
// A push ends the waits for its job at once.
// =============================================================================================

TEST_CASE("webhook client: a signed push ends the wait at once with the pushed result; no status request (tracker)") {
  Harness h(hook_options());
  SleepHold hold(h.clock);
  h.transport.then(answer(200, R"({"job_id": "job-1"})"));
  const std::string id = h.client.create_translation_job();
  REQUIRE(id == "job-1");
  auto future = h.client.watch(id);
  CHECK_FALSE(ready(future));
  SUBCASE("completed") {
    const WebhookReply reply = h.push(tracker_push(id, "completed", R"(, "callback_id": "cb-1")"));
    CHECK(reply.verdict == WebhookVerdict::accepted);
    CHECK(reply.http_status == 200);
    CHECK(reply.reason.empty());
    REQUIRE(ready(future));  // delivered on the pushing thread, before handle_webhook returned
    const TranslationResult result = future.get();
    CHECK(result.status == TranslationStatus::completed);
    CHECK(result.cause == FailureCause::none);
    CHECK(result.requests == 0);
  }
  SUBCASE("failed, with the server's message") {
    const WebhookReply reply = h.push(tracker_push(id, "error", R"(, "error_message": "no audio track")"));
    CHECK(reply.verdict == WebhookVerdict::accepted);
    REQUIRE(ready(future));
    const TranslationResult result = future.get();
    CHECK(result.status == TranslationStatus::error);
    CHECK(result.cause == FailureCause::job_failed);
    CHECK(result.error_message == "no audio track");
    CHECK(result.job_finished());
  }
  CHECK(h.transport.request_count() == 1u);  // the create alone: no status request was needed
  const PollerStats stats = h.client.poller_stats();
  CHECK(stats.jobs == 0u);
  CHECK(stats.watches == 0u);
  CHECK(stats.requests == 0u);
}

TEST_CASE("webhook client: HeyGen v3 pushes end each language's wait with its outputs or failure; no status request") {
  V3Harness h(v3_hook_options());
  SleepHold hold(h.clock);
  h.transport.then(answer(200, R"({"data": {"video_translation_ids": ["t-es", "t-de", "t-ja"]}})"));
  const auto ids = h.client.create_translation_jobs(
      TranslationRequest::from_url("https://cdn.example/talk.mp4", {"Spanish", "German", "Japanese"}));
  REQUIRE(ids == std::vector<std::string>{"t-es", "t-de", "t-ja"});
  const std::string callback_id = header_of(h.transport.requests().at(0), "Idempotency-Key").value_or("?");
  auto es = h.client.watch("t-es");
  auto de = h.client.watch("t-de");
  auto ja = h.client.watch("t-ja");
  const std::string url = "https://files.example/t-es/video.mp4?Expires=1";
  CHECK(h.push(v3_push("video_translate.success", "t-es",
                       R"(, "url": ")" + url + R"(", "callback_id": ")" + callback_id +
                           R"(", "output_language": "Spanish")"))
            .verdict == WebhookVerdict::accepted);
  REQUIRE(ready(es));
  CHECK_FALSE(ready(de));
  CHECK(h.push(v3_push("video_translate.fail", "t-de", R"(, "message": "unsupported codec", "callback_id": null)"))
            .verdict == WebhookVerdict::accepted);
  CHECK(h.push(v3_push("video_translate.preflight.download_failed", "t-ja", "")).verdict == WebhookVerdict::accepted);
  REQUIRE(ready(de));
  REQUIRE(ready(ja));
  const TranslationResult spanish = es.get();
  CHECK(spanish.status == TranslationStatus::completed);
  CHECK(spanish.outputs.video_url == url);
  CHECK(spanish.outputs.output_language == "Spanish");
  CHECK(spanish.requests == 0);
  const TranslationResult german = de.get();
  CHECK(german.status == TranslationStatus::error);
  CHECK(german.cause == FailureCause::job_failed);
  CHECK(german.error_message == "unsupported codec");
  const TranslationResult japanese = ja.get();
  CHECK(japanese.cause == FailureCause::job_failed);
  CHECK(japanese.error_message == "video_translate.preflight.download_failed");
  CHECK(h.transport.request_count() == 1u);  // the create alone
}

TEST_CASE("webhook client: one push ends every wait for its job (futures, callbacks, a bulk wait) at once") {
  Outcomes outcomes;
  Harness h(hook_options(2));
  SleepHold hold(h.clock);
  auto one = h.client.watch("job-1");
  auto two = h.client.watch("job-1");
  h.client.watch("job-1", outcomes.sink());
  std::mutex mutex;
  std::vector<std::string> bulk_seen;
  auto bulk = h.client.get_bulk_translation_statuses_async(
      {"job-1", "job-2"}, std::nullopt, {}, [&](const std::string& id, const TranslationResult&, BulkProgress) {
        std::lock_guard lock(mutex);
        bulk_seen.push_back(id);
      });
  CHECK(h.client.poller_stats().jobs == 2u);
  CHECK(h.client.poller_stats().watches == 5u);
  CHECK(h.push(tracker_push("job-1", "completed")).verdict == WebhookVerdict::accepted);
  REQUIRE(ready(one));
  REQUIRE(ready(two));
  CHECK(one.get().ok());
  CHECK(two.get().ok());
  REQUIRE(outcomes.size() == 1u);
  CHECK(outcomes.of("job-1").at(0).ok());
  {
    std::lock_guard lock(mutex);
    CHECK(bulk_seen == std::vector<std::string>{"job-1"});
  }
  CHECK(bulk.wait_for(0s) == std::future_status::timeout);
  CHECK(h.push(tracker_push("job-2", "error")).verdict == WebhookVerdict::accepted);
  REQUIRE(bulk.wait_for(0s) == std::future_status::ready);
  const auto results = bulk.get();
  CHECK(results.at("job-1").ok());
  CHECK(results.at("job-2").cause == FailureCause::job_failed);
  CHECK(h.client.poller_stats().watches == 0u);
  CHECK(h.transport.request_count() == 0u);
}

// =============================================================================================
// What is refused, and what is not taken twice.
// =============================================================================================

TEST_CASE("webhook client: a push not signed right is refused (401) and the wait goes on, to end by polling") {
  Outcomes outcomes;
  Harness h(hook_options());
  SleepHold hold(h.clock);
  h.client.watch("job-1", outcomes.sink());
  // Each forgery says the job failed; the server will say it completed.
  const std::string body = tracker_push("job-1", "error", R"(, "error_message": "forged")");
  std::string altered = body;
  altered[altered.find("forged") + 5] = 'e';  // "forgee": one byte changed after signing
  struct Case {
    const char* what;
    std::vector<HttpHeader> headers;
    std::string body;
  };
  const std::string genuine = webhook_signature(hook_secret, body);
  const std::vector<Case> cases{
      {"the signature of another body",
       {{std::string(signature_header), webhook_signature(hook_secret, tracker_push("job-1", "completed"))}},
       body},
      {"no signature", {{"Content-Type", "application/json"}}, body},
      {"an empty signature", {{std::string(signature_header), ""}}, body},
      {"signed with another secret", Harness::signed_headers(body, "whsec-not-the-secret"), body},
      {"signed with the secret's prefix", Harness::signed_headers(body, hook_secret.substr(0, 8)), body},
      {"the body changed by one byte after signing", Harness::signed_headers(body), altered},
      {"the signature cut short", {{std::string(signature_header), genuine.substr(0, 63)}}, body},
      {"the signature with one digit changed",
       {{std::string(signature_header), (genuine[0] == '0' ? "1" : "0") + genuine.substr(1)}},
       body},
      {"the signature in another header", {{"Signature", genuine}}, body},
  };
  for (const auto& forged : cases) {
    INFO(forged.what);
    const WebhookReply reply = h.client.handle_webhook(forged.headers, forged.body);
    CHECK(reply.verdict == WebhookVerdict::bad_signature);
    CHECK(reply.http_status == 401);
    CHECK_FALSE(reply.reason.empty());
  }
  CHECK(outcomes.size() == 0u);
  CHECK(h.client.poller_stats().watches == 1u);
  // The job ends on the server: the first safety look finds it.
  h.transport.otherwise([](const HttpRequest&) { return status_answer("completed"); });
  hold.release();
  outcomes.wait_for(1);
  const auto results = outcomes.of("job-1");
  REQUIRE(results.size() == 1u);
  CHECK(results[0].status == TranslationStatus::completed);
  CHECK(results[0].requests == 1);
  CHECK(results[0].elapsed == 30000ms);
  CHECK(h.transport.request_count() == 1u);
}

TEST_CASE("webhook client: a second push for a settled job is a duplicate; the wait got exactly one result") {
  Outcomes outcomes;
  Harness h(hook_options());
  SleepHold hold(h.clock);
  h.client.watch("job-1", outcomes.sink());
  auto future = h.client.watch("job-1");
  const std::string body = tracker_push("job-1", "completed");
  CHECK(h.push(body).verdict == WebhookVerdict::accepted);
  const WebhookReply again = h.push(body);
  CHECK(again.verdict == WebhookVerdict::duplicate);
  CHECK(again.http_status == 200);  // a redelivery is answered 2xx, so the sender stops
  CHECK_FALSE(again.reason.empty());
  // Another outcome pushed later changes nothing either.
  CHECK(h.push(tracker_push("job-1", "error", R"(, "error_message": "late")")).verdict == WebhookVerdict::duplicate);
  REQUIRE(outcomes.size() == 1u);
  CHECK(outcomes.of("job-1").at(0).ok());
  REQUIRE(ready(future));
  CHECK(future.get().ok());
  hold.release();
  // A later job's result comes through the same single worker: nothing more reached the first job's waits.
  h.transport.otherwise([](const HttpRequest&) { return status_answer("completed"); });
  CHECK(h.client.watch("job-2").get().ok());
  CHECK(outcomes.size() == 1u);
}

TEST_CASE("webhook client: an old push replayed after its job settled is a duplicate") {
  SUBCASE("the job was settled by its push") {
    Harness h(hook_options());
    SleepHold hold(h.clock);
    auto first = h.client.watch("job-1");
    auto second = h.client.watch("job-2");
    const std::string old_body = tracker_push("job-1", "completed");
    const auto old_headers = Harness::signed_headers(old_body);
    CHECK(h.client.handle_webhook(old_headers, old_body).verdict == WebhookVerdict::accepted);
    CHECK(h.push(tracker_push("job-2", "completed")).verdict == WebhookVerdict::accepted);
    CHECK(h.client.handle_webhook(old_headers, old_body).verdict == WebhookVerdict::duplicate);
    CHECK(first.get().ok());
    CHECK(second.get().ok());
  }
  SUBCASE("the job was settled by polling (its push came late)") {
    Harness h(hook_options());
    h.transport.otherwise([](const HttpRequest&) { return status_answer("error"); });
    const TranslationResult polled = h.client.watch("job-1").get();
    CHECK(polled.cause == FailureCause::job_failed);
    CHECK(polled.requests == 1);
    const WebhookReply late = h.push(tracker_push("job-1", "error"));
    CHECK(late.verdict == WebhookVerdict::duplicate);
    CHECK(late.http_status == 200);
  }
}

TEST_CASE("webhook client: with a timestamp tolerance, a push too old or too far ahead is stale (401)") {
  Outcomes outcomes;
  ClientOptions options = hook_options();
  options.webhook.timestamp_tolerance = Seconds(300);
  Harness h(options);
  SleepHold hold(h.clock);
  h.client.watch("job-1", outcomes.sink());
  const std::string body = tracker_push("job-1", "completed");
  auto with_timestamp = [&](const std::string& stamp) {
    auto headers = Harness::signed_headers(body);
    headers.push_back({"X-HeyGen-Timestamp", stamp});
    return headers;
  };
  for (const auto& push : std::vector<std::pair<const char*, std::vector<HttpHeader>>>{
           {"an hour old", with_timestamp(unix_now_plus(-3600s))},
           {"an hour ahead", with_timestamp(unix_now_plus(3600s))},
           {"no timestamp", Harness::signed_headers(body)},
           {"an unreadable timestamp", with_timestamp("yesterday")}}) {
    INFO(push.first);  // not a structured binding: clang 14 cannot capture one in INFO's lambda
    const WebhookReply reply = h.client.handle_webhook(push.second, body);
    CHECK(reply.verdict == WebhookVerdict::stale);
    CHECK(reply.http_status == 401);
    CHECK_FALSE(reply.reason.empty());
  }
  CHECK(outcomes.size() == 0u);
  CHECK(h.client.handle_webhook(with_timestamp(unix_now_plus(-5s)), body).verdict == WebhookVerdict::accepted);
  REQUIRE(outcomes.size() == 1u);
  CHECK(outcomes.of("job-1").at(0).ok());
}

TEST_CASE("webhook client: with the timestamp signed, a replay given a fresh timestamp no longer verifies") {
  Outcomes outcomes;
  ClientOptions options = hook_options();
  options.webhook.timestamp_tolerance = Seconds(300);
  options.webhook.signed_string = "{timestamp}.{body}";
  Harness h(options);
  SleepHold hold(h.clock);
  h.client.watch("job-1", outcomes.sink());
  const std::string body = tracker_push("job-1", "completed");
  const std::string old_stamp = unix_now_plus(-3600s);
  const std::vector<HttpHeader> old_push{
      {std::string(signature_header), webhook_signature(hook_secret, old_stamp + "." + body)},
      {"X-HeyGen-Timestamp", old_stamp}};
  CHECK(h.client.handle_webhook(old_push, body).verdict == WebhookVerdict::stale);
  std::vector<HttpHeader> refreshed = old_push;
  refreshed[1].value = unix_now_plus(0s);
  CHECK(h.client.handle_webhook(refreshed, body).verdict == WebhookVerdict::bad_signature);
  CHECK(outcomes.size() == 0u);
  const std::string stamp = unix_now_plus(0s);
  const std::vector<HttpHeader> fresh{
      {std::string(signature_header), webhook_signature(hook_secret, stamp + "." + body)},
      {"X-HeyGen-Timestamp", stamp}};
  CHECK(h.client.handle_webhook(fresh, body).verdict == WebhookVerdict::accepted);
  CHECK(outcomes.size() == 1u);
}

TEST_CASE("webhook client: a push for a job nobody waits for is unknown_job, kept, and ends its wait when it begins") {
  SUBCASE("pushed before the wait began") {
    Harness h(hook_options());
    const WebhookReply reply = h.push(tracker_push("early", "completed"));
    CHECK(reply.verdict == WebhookVerdict::unknown_job);
    CHECK(reply.http_status == 200);  // genuine: redelivering it would not help
    CHECK(reply.reason == "no wait for this job now: kept for one that begins later");
    CHECK(h.client.poller_stats().jobs == 0u);
    auto future = h.client.watch("early");
    REQUIRE(ready(future));  // at once, on this thread: no look, no worker needed
    const TranslationResult result = future.get();
    CHECK(result.ok());
    CHECK(result.requests == 0);
    CHECK(h.transport.request_count() == 0u);
    // The job is settled now: its push again is a duplicate.
    CHECK(h.push(tracker_push("early", "completed")).verdict == WebhookVerdict::duplicate);
  }
  SUBCASE("the push beat the create's answer") {
    Harness h(hook_options());
    std::optional<WebhookReply> during_create;
    h.transport.otherwise([&](const HttpRequest& request) {
      if (request.method != "POST") return status_answer("pending");
      during_create = h.push(tracker_push("job-7", "error", R"(, "error_message": "too short")"));
      return answer(200, R"({"job_id": "job-7"})");
    });
    const std::string id = h.client.create_translation_job();
    REQUIRE(during_create.has_value());
    CHECK(during_create->verdict == WebhookVerdict::unknown_job);
    auto future = h.client.watch(id);
    REQUIRE(ready(future));
    const TranslationResult result = future.get();
    CHECK(result.cause == FailureCause::job_failed);
    CHECK(result.error_message == "too short");
    CHECK(h.transport.request_count() == 1u);  // the create alone
  }
  SUBCASE("a bulk wait takes the kept outcome at once and polls the rest") {
    Harness h(hook_options());
    SleepHold hold(h.clock);
    CHECK(h.push(tracker_push("early", "completed")).verdict == WebhookVerdict::unknown_job);
    std::mutex mutex;
    std::vector<std::string> seen;
    auto bulk = h.client.get_bulk_translation_statuses_async(
        {"early", "later"}, std::nullopt, {}, [&](const std::string& id, const TranslationResult&, BulkProgress) {
          std::lock_guard lock(mutex);
          seen.push_back(id);
        });
    {
      std::lock_guard lock(mutex);
      CHECK(seen == std::vector<std::string>{"early"});
    }
    CHECK(h.push(tracker_push("later", "completed")).verdict == WebhookVerdict::accepted);
    REQUIRE(bulk.wait_for(0s) == std::future_status::ready);
    CHECK(bulk.get().size() == 2u);
    CHECK(h.transport.request_count() == 0u);
  }
}

TEST_CASE("webhook client: a push for a wait that ended first is unknown_job; that wait keeps its one result") {
  Outcomes outcomes;
  Harness h(hook_options());
  FailureCause ended_by = FailureCause::none;
  SUBCASE("cancelled") {
    SleepHold hold(h.clock);
    std::stop_source stop;
    h.client.watch("job-1", outcomes.sink(), WatchOptions{.stop = stop.get_token()});
    stop.request_stop();  // the wait ends here, on this thread
    ended_by = FailureCause::cancelled;
  }
  SUBCASE("timed out") {
    h.client.watch("job-1", outcomes.sink(), WatchOptions{.timeout = Seconds(10)});
    outcomes.wait_for(1);  // the deadline comes before the first safety look
    ended_by = FailureCause::deadline;
  }
  REQUIRE(outcomes.size() == 1u);
  CHECK(outcomes.of("job-1").at(0).cause == ended_by);
  CHECK(h.transport.request_count() == 0u);
  const WebhookReply reply = h.push(tracker_push("job-1", "completed"));
  CHECK(reply.verdict == WebhookVerdict::unknown_job);
  CHECK(reply.http_status == 200);
  const auto results = outcomes.of("job-1");
  REQUIRE(results.size() == 1u);
  CHECK(results[0].cause == ended_by);
  CHECK(h.client.poller_stats().watches == 0u);
}

TEST_CASE("webhook client: a malformed or oversized push is refused and completes nothing") {
  Outcomes outcomes;
  Harness h(hook_options());
  SleepHold hold(h.clock);
  h.client.watch("job-1", outcomes.sink());
  for (const std::string& body :
       {std::string("not JSON"), std::string(""), std::string("[]"), std::string(R"({"result": "completed"})"),
        tracker_push("job-1", "pending"), tracker_push("", "completed"), std::string(R"({"job_id": "job-1"})"),
        std::string(R"({"job_id": ["job-1"], "result": "completed"})"), std::string(20000, '['),
        v3_push("video_translate.success", "job-1", "")}) {
    INFO(body.substr(0, 80));
    const WebhookReply reply = h.push(body);
    CHECK(reply.verdict == WebhookVerdict::malformed);
    CHECK(reply.http_status == 400);
    CHECK_FALSE(reply.reason.empty());
  }
  // Over the cap of 64 KiB: refused before the signature or the body is looked at.
  const std::string huge =
      tracker_push("job-1", "completed", R"(, "error_message": ")" + std::string(std::size_t{64} * 1024, 'x') + "\"");
  const WebhookReply too_large = h.push(huge);
  CHECK(too_large.verdict == WebhookVerdict::too_large);
  CHECK(too_large.http_status == 413);
  CHECK(h.client.handle_webhook({}, std::string(1 << 20, '{')).verdict == WebhookVerdict::too_large);
  CHECK(outcomes.size() == 0u);
  CHECK(h.client.poller_stats().watches == 1u);
  CHECK(h.push(tracker_push("job-1", "completed")).verdict == WebhookVerdict::accepted);
  CHECK(outcomes.size() == 1u);
}

TEST_CASE("webhook client: without a secret (or verify function) every push is bad_signature") {
  Outcomes outcomes;
  ClientOptions options = hook_options();
  options.webhook.secret.clear();
  Harness h(options);
  SleepHold hold(h.clock);
  h.client.watch("job-1", outcomes.sink());
  const std::string body = tracker_push("job-1", "completed");
  for (const auto& headers : {Harness::signed_headers(body), Harness::signed_headers(body, ""),
                              std::vector<HttpHeader>{}, std::vector<HttpHeader>{{"Content-Type", "text/plain"}}}) {
    const WebhookReply reply = h.client.handle_webhook(headers, body);
    CHECK(reply.verdict == WebhookVerdict::bad_signature);
    CHECK(reply.http_status == 401);
    CHECK(reply.reason.find("secret") != std::string::npos);
  }
  CHECK(outcomes.size() == 0u);
}

TEST_CASE("webhook client: a verify function of the caller's checks pushes instead of the built-in HMAC") {
  Outcomes outcomes;
  ClientOptions options = hook_options();
  options.webhook.secret.clear();
  options.webhook.verify = [](std::string_view signed_string, std::string_view signature) {
    return signature == "ok:" + std::to_string(signed_string.size());
  };
  Harness h(options);
  SleepHold hold(h.clock);
  h.client.watch("job-1", outcomes.sink());
  const std::string body = tracker_push("job-1", "completed");
  CHECK(h.push(body).verdict == WebhookVerdict::bad_signature);  // an HMAC is not what this verify wants
  CHECK(h.client.handle_webhook({{std::string(signature_header), "ok:" + std::to_string(body.size())}}, body).verdict ==
        WebhookVerdict::accepted);
  CHECK(outcomes.size() == 1u);
}

// =============================================================================================
// Creates ask for pushes.
// =============================================================================================

TEST_CASE("webhook client: with a webhook_url, tracker creates carry callback_url and callback_id; without, {}") {
  SUBCASE("webhook_url set: callback_id is the create's Idempotency-Key") {
    Harness h(hook_options());
    h.transport.then(answer(200, R"({"job_id": "a"})")).then(answer(200, R"({"job_id": "b"})"));
    h.client.create_translation_job();
    h.client.create_translation_job();
    const auto sent = h.transport.requests();
    REQUIRE(sent.size() == 2u);
    std::vector<std::string> ids;
    for (const auto& request : sent) {
      const picojson::object body = body_of(request);
      CHECK(member(body, "callback_url") == hook_url);
      const auto key = header_of(request, "Idempotency-Key");
      REQUIRE(key.has_value());
      CHECK(member(body, "callback_id") == key);
      ids.push_back(member(body, "callback_id").value_or(""));
    }
    CHECK(ids[0] != ids[1]);
  }
  SUBCASE("an input naming its own callback keeps it") {
    Harness h(hook_options());
    h.transport.then(answer(200, R"({"job_id": "a"})")).then(answer(200, R"({"job_id": "b"})"));
    h.client.create_translation_jobs({.callback_url = "https://mine.example/hook", .callback_id = "mine-1"});
    h.client.create_translation_jobs({.callback_url = "https://mine.example/hook"});
    const auto sent = h.transport.requests();
    REQUIRE(sent.size() == 2u);
    const picojson::object first = body_of(sent[0]);
    CHECK(member(first, "callback_url") == "https://mine.example/hook");
    CHECK(member(first, "callback_id") == "mine-1");
    const picojson::object second = body_of(sent[1]);
    CHECK(member(second, "callback_url") == "https://mine.example/hook");
    CHECK(second.count("callback_id") == 0u);
  }
  SUBCASE("an input naming only its callback_id gets the webhook_url and keeps its id") {
    Harness h(hook_options());
    h.transport.then(answer(200, R"({"job_id": "a"})"));
    h.client.create_translation_jobs({.callback_id = "order-42"});
    const picojson::object body = body_of(h.transport.requests().at(0));
    CHECK(member(body, "callback_url") == hook_url);
    CHECK(member(body, "callback_id") == "order-42");
  }
  SUBCASE("no webhook_url: exactly the exercise's empty create body") {
    ClientOptions options = hook_options();
    options.webhook_url.clear();
    Harness h(options);
    h.transport.then(answer(200, R"({"job_id": "a"})"));
    h.client.create_translation_job();
    CHECK(h.transport.requests().at(0).body == "{}");
  }
}

TEST_CASE("webhook client: with a webhook_url, HeyGen v3 creates carry callback_url and callback_id; without, none") {
  const auto request = TranslationRequest::from_url("https://cdn.example/talk.mp4", {"German"});
  SUBCASE("webhook_url set") {
    V3Harness h(v3_hook_options());
    h.transport.then(answer(200, R"({"data": {"video_translation_ids": ["t1"]}})"));
    h.client.create_translation_jobs(request);
    const HttpRequest sent = h.transport.requests().at(0);
    const picojson::object body = body_of(sent);
    CHECK(member(body, "callback_url") == hook_url);
    REQUIRE(header_of(sent, "Idempotency-Key").has_value());
    CHECK(member(body, "callback_id") == header_of(sent, "Idempotency-Key"));
  }
  SUBCASE("a request naming its own callback keeps it") {
    V3Harness h(v3_hook_options());
    h.transport.then(answer(200, R"({"data": {"video_translation_ids": ["t1"]}})"));
    TranslationRequest own = request;
    own.callback_url = "https://mine.example/hook";
    own.callback_id = "cb-7";
    h.client.create_translation_jobs(own);
    const picojson::object body = body_of(h.transport.requests().at(0));
    CHECK(member(body, "callback_url") == "https://mine.example/hook");
    CHECK(member(body, "callback_id") == "cb-7");
  }
  SUBCASE("no webhook_url") {
    ClientOptions options = v3_hook_options();
    options.webhook_url.clear();
    V3Harness h(options);
    h.transport.then(answer(200, R"({"data": {"video_translation_ids": ["t1"]}})"));
    h.client.create_translation_jobs(request);
    const picojson::object body = body_of(h.transport.requests().at(0));
    CHECK(body.count("callback_url") == 0u);
    CHECK(body.count("callback_id") == 0u);
  }
}

// =============================================================================================
// The safety net: polling while pushes are expected.
// =============================================================================================

TEST_CASE("webhook client: with no push, looks come at the safety schedule: max(interval, age ratio × age)") {
  ClientOptions options = hook_options(1);
  options.webhook.safety_interval = Seconds(30);
  options.webhook.safety_age_ratio = 0.1;
  Harness h(options);
  std::mutex mutex;
  std::vector<long long> looks_ms;
  h.transport.otherwise([&](const HttpRequest&) {
    std::lock_guard lock(mutex);
    looks_ms.push_back(virtual_ms(h.clock));
    return status_answer(looks_ms.size() < 14 ? "pending" : "completed");
  });
  const TranslationResult result = h.client.watch("job-1").get();
  CHECK(result.ok());
  CHECK(result.requests == 14);
  // 30 s apart while 10 % of the age is under 30 s; then 10 % of the age: 330 → 363 → 399.3 → 439.23 s.
  const std::vector<long long> expected{30000,  60000,  90000,  120000, 150000, 180000, 210000,
                                        240000, 270000, 300000, 330000, 363000, 399300, 439230};
  {
    std::lock_guard lock(mutex);
    CHECK(looks_ms == expected);
  }
  // One worker: its sleeps are the waits between looks, and nothing else slept.
  std::vector<long long> slept;
  for (const auto sleep : h.clock.sleeps()) slept.push_back(sleep.count());
  std::vector<long long> gaps;
  for (std::size_t i = 0; i < expected.size(); ++i) gaps.push_back(expected[i] - (i == 0 ? 0 : expected[i - 1]));
  REQUIRE(slept.size() == gaps.size());
  for (std::size_t i = 0; i < gaps.size(); ++i) {
    INFO("sleep ", i);
    CHECK(std::llabs(slept[i] - gaps[i]) <= 1);  // the clock records whole milliseconds, truncated
  }
}

TEST_CASE("webhook client: without a webhook_url the same wait polls at once, at the usual pace") {
  ClientOptions options = hook_options(1);
  options.webhook_url.clear();
  Harness h(options);
  std::mutex mutex;
  std::vector<long long> looks_ms;
  h.transport.otherwise([&](const HttpRequest&) {
    std::lock_guard lock(mutex);
    looks_ms.push_back(virtual_ms(h.clock));
    return status_answer(looks_ms.size() < 3 ? "pending" : "completed");
  });
  CHECK(h.client.watch("job-1").get().ok());
  std::lock_guard lock(mutex);
  REQUIRE(looks_ms.size() == 3u);
  CHECK(looks_ms[0] == 0);
  CHECK(looks_ms[2] < 30000);
}

TEST_CASE("webhook client: a safety look is never held as a long poll, whatever the policy asks") {
  ClientOptions options = hook_options(4);  // workers to spare: without pushes, this look would be held
  options.polling.long_poll = Seconds(20);
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return status_answer("completed"); });
  CHECK(h.client.watch("job-1").get().ok());
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 1u);
  CHECK(requests[0].target == "/status/job-1");
  options.webhook_url.clear();  // the same wait, no pushes expected: held
  Harness polling(options);
  polling.transport.otherwise([](const HttpRequest&) { return status_answer("completed"); });
  CHECK(polling.client.watch("job-1").get().ok());
  CHECK(polling.transport.requests().at(0).target == "/status/job-1?wait=20");
}

TEST_CASE("webhook client: webhook options out of range are refused at construction, naming the option") {
  auto build_with = [](auto change) {
    ClientOptions options = hook_options();
    change(options.webhook);
    const Harness h(options);
  };
  CHECK_THROWS_WITH_AS(build_with([](WebhookOptions& o) { o.safety_interval = Seconds(0); }),
                       doctest::Contains("webhook.safety_interval"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build_with([](WebhookOptions& o) { o.safety_interval = Seconds(-1); }),
                       doctest::Contains("webhook.safety_interval"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build_with([](WebhookOptions& o) { o.safety_age_ratio = 1.5; }),
                       doctest::Contains("webhook.safety_age_ratio"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build_with([](WebhookOptions& o) { o.safety_age_ratio = std::nan(""); }),
                       doctest::Contains("webhook.safety_age_ratio"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build_with([](WebhookOptions& o) { o.timestamp_tolerance = Seconds(-5); }),
                       doctest::Contains("webhook.timestamp_tolerance"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build_with([](WebhookOptions& o) { o.max_body_bytes = 0; }),
                       doctest::Contains("webhook.max_body_bytes"), std::invalid_argument);
  CHECK_NOTHROW(build_with([](WebhookOptions& o) { o.safety_age_ratio = 0; }));
}

TEST_CASE("webhook client: a lost push is caught by a safety look; the push arriving late is a duplicate") {
  ClientOptions options = hook_options(1);
  options.webhook.safety_interval = Seconds(20);
  Harness h(options);
  int looks = 0;
  h.transport.otherwise([&](const HttpRequest&) { return status_answer(++looks < 3 ? "pending" : "completed"); });
  const TranslationResult result = h.client.watch("job-1").get();
  CHECK(result.ok());
  CHECK(result.requests == 3);
  CHECK(result.elapsed == 60000ms);  // looks at 20, 40 and 60 s
  CHECK(h.push(tracker_push("job-1", "completed")).verdict == WebhookVerdict::duplicate);
}

TEST_CASE("webhook client: a push while a look for the job is in flight ends the wait at once; the look is ignored") {
  Outcomes outcomes;
  Harness h(hook_options(1));
  Gate in_look;
  Gate answer_look;
  std::string look_word;
  SUBCASE("the look answers completed") { look_word = "completed"; }
  SUBCASE("the look answers pending") { look_word = "pending"; }
  SUBCASE("the look answers error") { look_word = "error"; }
  h.transport.otherwise([&](const HttpRequest& request) {
    if (request.target.ends_with("/job-1")) {
      in_look.open();
      answer_look.wait();
      return status_answer(look_word);
    }
    return status_answer("completed");
  });
  h.client.watch("job-1", outcomes.sink());
  in_look.wait();  // the first safety look is in the (fake) server's hands
  const WebhookReply reply = h.push(tracker_push("job-1", "error", R"(, "error_message": "pushed")"));
  CHECK(reply.verdict == WebhookVerdict::accepted);
  REQUIRE(outcomes.size() == 1u);  // at once: the look has not answered
  answer_look.open();
  // One worker: once a later job's result is in, the look's answer was dealt with.
  CHECK(h.client.watch("job-2").get().ok());
  const auto results = outcomes.of("job-1");
  REQUIRE(results.size() == 1u);
  CHECK(results[0].cause == FailureCause::job_failed);
  CHECK(results[0].error_message == "pushed");
  CHECK(h.push(tracker_push("job-1", "error", R"(, "error_message": "pushed")")).verdict == WebhookVerdict::duplicate);
  const PollerStats stats = h.client.poller_stats();
  CHECK(stats.jobs == 0u);
  CHECK(stats.watches == 0u);
  CHECK(h.transport.request_count() == 2u);  // the look at job-1, the look at job-2
}

TEST_CASE("webhook client: pushes from many threads at once, each several times: every wait gets one result") {
  Outcomes outcomes;
  Harness h(hook_options(2));
  SleepHold hold(h.clock);
  constexpr int jobs = 100;
  for (int i = 0; i < jobs; ++i) h.client.watch("job-" + std::to_string(i), outcomes.sink());
  std::mutex mutex;
  std::map<WebhookVerdict, int> verdicts;
  std::vector<std::thread> pushers;
  for (int t = 0; t < 4; ++t)
    pushers.emplace_back([&, t] {
      for (int n = 0; n < jobs; ++n) {
        const int i = (n * 37 + t * 11) % jobs;  // each thread its own order
        const WebhookReply reply = h.push(tracker_push("job-" + std::to_string(i), i % 3 ? "completed" : "error"));
        std::lock_guard lock(mutex);
        ++verdicts[reply.verdict];
      }
    });
  for (auto& pusher : pushers) pusher.join();
  REQUIRE(outcomes.size() == static_cast<std::size_t>(jobs));
  for (int i = 0; i < jobs; ++i) {
    const auto results = outcomes.of("job-" + std::to_string(i));
    REQUIRE(results.size() == 1u);
    CHECK(results[0].status == (i % 3 ? TranslationStatus::completed : TranslationStatus::error));
  }
  CHECK(verdicts[WebhookVerdict::accepted] == jobs);
  // A push racing the one that settled its job is a duplicate, or unknown_job if it looked just between the two.
  CHECK(verdicts[WebhookVerdict::duplicate] + verdicts[WebhookVerdict::unknown_job] == 3 * jobs);
  CHECK(h.transport.request_count() == 0u);
}

}  // TEST_SUITE("webhook client")
