// Integration tests of webhooks end to end: the simulator (in-process, ephemeral loopback port) pushes each job's
// final status to a WebhookReceiver that hands it to the client (handle_webhook), while the client's waits poll only
// as a safety net. Both protocols, with and without the faults real webhook senders show. The real transport and
// the real clock: bounds are generous (the suite also runs under valgrind), and nothing asserts on speed.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "status_simulator.hpp"

using namespace heygen;
using namespace std::chrono_literals;
using sim::DurationDistribution;
using sim::SimulatorConfig;
using sim::StatusSimulator;

namespace {

constexpr std::string_view push_secret = "it-webhook-secret";
using SteadyTime = std::chrono::steady_clock::time_point;

/// What the receiver made of the pushes, and whether each was signed with the secret (checked here, apart from
/// the client's own check).
struct Verdicts {
  std::mutex mutex;
  std::map<WebhookVerdict, int> count;
  int forged = 0;              // requests without the secret's HMAC of their body
  int forged_not_refused = 0;  // of those, answered other than bad_signature: must stay 0
  int genuine_refused = 0;     // signed right, yet bad_signature: must stay 0

  void note(const std::vector<HttpHeader>& headers, std::string_view body, WebhookVerdict verdict) {
    std::optional<std::string> signature;
    for (const auto& header : headers)
      if (detail::iequals(header.name, "X-HeyGen-Signature")) signature = header.value;
    const bool genuine = signature && *signature == webhook_signature(push_secret, body);
    std::lock_guard lock(mutex);
    ++count[verdict];
    if (!genuine) {
      ++forged;
      if (verdict != WebhookVerdict::bad_signature) ++forged_not_refused;
    } else if (verdict == WebhookVerdict::bad_signature) {
      ++genuine_refused;
    }
  }
  int of(WebhookVerdict verdict) {
    std::lock_guard lock(mutex);
    return count[verdict];
  }
};

/// One job's result, and when it arrived.
struct Arrival {
  TranslationResult result;
  SteadyTime at;
};

/// Every watched job's result as it arrives (each job must get exactly one).
class Arrivals {
 public:
  WatchCallback sink() {
    return [this](const std::string& job_id, const TranslationResult& result) {
      {
        std::lock_guard lock(mutex_);
        ++calls_;
        got_.emplace(job_id, Arrival{result, std::chrono::steady_clock::now()});
      }
      changed_.notify_all();
    };
  }
  /// Waits for `count` results, at most `bound` (generous: a wait past it fails the test, not the run).
  bool wait_for(std::size_t count, std::chrono::seconds bound) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, bound, [&] { return calls_ >= count; });
  }
  std::map<std::string, Arrival> got() {
    std::lock_guard lock(mutex_);
    return got_;
  }
  std::size_t calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Arrival> got_;
  std::size_t calls_ = 0;
};

/// The simulator, a receiver for its pushes and a client asking for them. The receiver is bound before the client
/// exists (the client's options name its URL), so it reaches the client through an atomic pointer set once the
/// client is built; it is stopped (members in reverse) before the client goes.
template <class Client>
class PushedRun {
 public:
  PushedRun(SimulatorConfig config, const std::function<ClientOptions(const StatusSimulator&)>& make_options)
      : sim_(with_secret(std::move(config))),
        receiver_([this](const std::vector<HttpHeader>& headers, std::string_view body) {
          Client* client = target_.load(std::memory_order_acquire);
          if (client == nullptr) return WebhookReply{WebhookVerdict::unknown_job, 503, "not ready"};
          WebhookReply reply = client->handle_webhook(headers, body);
          verdicts.note(headers, body, reply.verdict);
          return reply;
        }) {
    sim_.start();
    // The simulator's epoch (its stats' time zero) lies within [before, after] - uptime: `before` is the earliest.
    const SteadyTime before = std::chrono::steady_clock::now();
    const double uptime_ms = sim_.stats().uptime_ms;
    epoch_lower_ =
        before - std::chrono::duration_cast<SteadyTime::duration>(std::chrono::duration<double, std::milli>(uptime_ms));
    ClientOptions options = make_options(sim_);
    options.max_retries = 5;
    options.initial_backoff = 10ms;
    options.max_timeout = 120s;  // never reached unless something is wrong; generous for valgrind
    options.request_timeout = 10s;
    options.poller_threads = 4;
    options.webhook_url = receiver_.url();
    options.webhook.secret = std::string(push_secret);
    options.webhook.timestamp_tolerance = 300s;
    options.webhook.safety_interval = 300ms;  // small, so lost and forged pushes are caught quickly
    client_.emplace(std::move(options));
    target_.store(&*client_, std::memory_order_release);
  }

  Client& client() { return *client_; }
  StatusSimulator& sim() { return sim_; }
  const WebhookReceiver& receiver() const { return receiver_; }

  /// Milliseconds from the simulator's epoch to `at`, never less than the truth: a result that arrived at `at`
  /// can only be for a job whose completes_ms is at most this.
  double sim_ms_at_most(SteadyTime at) const {
    return std::chrono::duration<double, std::milli>(at - epoch_lower_).count();
  }

  Verdicts verdicts;

 private:
  static SimulatorConfig with_secret(SimulatorConfig config) {
    config.webhooks.secret = std::string(push_secret);
    return config;
  }

  StatusSimulator sim_;
  std::optional<Client> client_;
  std::atomic<Client*> target_{nullptr};
  WebhookReceiver receiver_;
  SteadyTime epoch_lower_{};
};

/// Short jobs of both outcomes, pushing to their callback URLs.
SimulatorConfig short_pushing_jobs(sim::Api api, std::uint64_t seed) {
  SimulatorConfig config;
  config.api = api;
  config.duration = DurationDistribution::uniform(0.1, 0.5);
  config.error_probability = 0.25;
  config.seed = seed;
  config.webhooks.retry_backoff_s = 0.05;
  return config;
}

/// Push faults: lost, duplicated, delayed (out of order), badly signed and replayed.
SimulatorConfig with_push_faults(SimulatorConfig config) {
  config.webhooks.lost_rate = 0.3;
  config.webhooks.duplicate_rate = 0.3;
  config.webhooks.bad_signature_rate = 0.2;
  config.webhooks.replay_rate = 0.2;
  config.webhooks.max_delay_s = 0.3;
  return config;
}

ClientOptions tracker_options(const StatusSimulator& server) {
  ClientOptions options;
  options.base_url = server.base_url();
  return options;
}

/// HeyGen's options with a cold schedule for jobs of a fraction of a second (as integration_test's): between safety
/// looks the policy's own wait (at least 4 s for jobs of minutes) would otherwise set the pace.
ClientOptions v3_options(const StatusSimulator& server) {
  ClientOptions options = heygen_v3_options("sim-key", server.base_url());
  options.polling.initial_interval = 50ms;
  options.polling.cold_cap = 100ms;
  options.polling.min_interval = 50ms;
  options.polling.many_status_interval = Seconds(0);
  return options;
}

/// v3_options trusting signatures alone: the simulator signs every push here, so a forged one must be refused by
/// its signature (under HeyGen's default, `either`, an unsigned forgery is a hint instead: tests/push_hints_test).
ClientOptions v3_signed_options(const StatusSimulator& server) {
  ClientOptions options = v3_options(server);
  options.webhook.trust = PushTrust::signature;
  return options;
}

/// Posts a forged push to the receiver as an attacker would: the body claims an outcome, the signature is not the
/// secret's (`how` 0: another secret, 1: none, 2: the genuine signature of another body). Returns the HTTP status.
int post_forged(const WebhookReceiver& receiver, const std::string& body, int how) {
  httplib::Client cli("127.0.0.1", receiver.port());
  cli.set_read_timeout(30, 0);
  httplib::Headers headers;
  if (how == 0) headers.emplace("X-HeyGen-Signature", webhook_signature("not-the-secret", body));
  if (how == 2) headers.emplace("X-HeyGen-Signature", webhook_signature(push_secret, body + " "));
  const auto answer = cli.Post("/webhook", headers, body, "application/json");
  return answer ? answer->status : -1;
}

/// Whether `done` holds within a generous bound, asking every few milliseconds.
template <class Done>
bool wait_until(Done done) {
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// What the server says of every job: id → its record.
std::map<std::string, sim::JobStats> server_jobs(const StatusSimulator& server) {
  std::map<std::string, sim::JobStats> out;
  for (auto& job : server.stats().jobs) out.emplace(job.job_id, job);
  return out;
}

/// Checks every job's one result against the server's record: the outcome the server decided, never a completion
/// before the server finished the job, and (`outputs`) the translated video's URL and language.
template <class Client>
void check_against_server(PushedRun<Client>& run, Arrivals& arrivals, const std::map<std::string, std::string>& jobs,
                          bool outputs) {
  const auto records = server_jobs(run.sim());
  const auto got = arrivals.got();
  CHECK(arrivals.calls() == jobs.size());  // exactly one result per wait
  CHECK(got.size() == jobs.size());
  for (const auto& job : jobs) {  // not a structured binding: clang 14 cannot capture one in INFO's lambda
    const std::string& id = job.first;
    const std::string& language = job.second;
    INFO("job ", id);
    REQUIRE(records.count(id) == 1u);
    REQUIRE(got.count(id) == 1u);
    const sim::JobStats& record = records.at(id);
    const Arrival& arrival = got.at(id);
    INFO("error message: ", arrival.result.error_message.value_or(""));
    CHECK(record.completes_ms <= run.sim_ms_at_most(arrival.at));  // nothing ends before the server ended it
    if (record.outcome == sim::JobOutcome::completed) {
      CHECK(arrival.result.status == TranslationStatus::completed);
      if (outputs) {
        CHECK(arrival.result.outputs.video_url.has_value());
        CHECK(arrival.result.outputs.output_language == language);
      }
    } else {
      CHECK(arrival.result.status == TranslationStatus::error);
      CHECK(arrival.result.cause == FailureCause::job_failed);
      CHECK(arrival.result.error_message == std::string(sim::detail::failure_message));
    }
  }
}

/// A forged push for `job_id` claiming the outcome `completed` (or failed) in the protocol's shape.
std::string forged_tracker_push(const std::string& job_id, bool completed) {
  return R"({"job_id": ")" + job_id + R"(", "result": ")" + (completed ? "completed" : "error") + R"("})";
}
std::string forged_v3_push(const std::string& job_id, bool completed) {
  return R"({"event_type": "video_translate.)" + std::string(completed ? "success" : "fail") +
         R"(", "event_data": {"video_translate_id": ")" + job_id + R"(", "url": "https://evil.example/x.mp4"}})";
}

/// Creates `count` tracker jobs, watching each at once; with `forge`, each also gets a forged push at once.
std::map<std::string, std::string> run_tracker_jobs(PushedRun<VideoTranslationClient>& run, Arrivals& arrivals,
                                                    int count, bool forge) {
  std::map<std::string, std::string> jobs;
  for (int i = 0; i < count; ++i) {
    const std::string id = run.client().create_translation_job();
    run.client().watch(id, arrivals.sink());
    jobs.emplace(id, "");
    if (forge) CHECK(post_forged(run.receiver(), forged_tracker_push(id, i % 2 == 0), i % 3) == 401);
  }
  return jobs;
}

/// Creates `count` HeyGen jobs (three languages a create), watching each at once; with `forge`, as above.
std::map<std::string, std::string> run_v3_jobs(PushedRun<HeyGenClient>& run, Arrivals& arrivals, int count,
                                               bool forge) {
  const std::vector<std::string> languages{"Spanish (Spain)", "German", "Japanese"};
  std::map<std::string, std::string> jobs;
  for (int made = 0; made < count;) {
    const auto ids = run.client().create_translation_jobs(
        TranslationRequest::from_url("https://example.com/talk-" + std::to_string(made) + ".mp4", languages));
    REQUIRE(ids.size() == languages.size());
    for (std::size_t i = 0; i < ids.size(); ++i, ++made) {
      run.client().watch(ids[i], arrivals.sink());
      jobs.emplace(ids[i], languages[i]);
      if (forge) CHECK(post_forged(run.receiver(), forged_v3_push(ids[i], made % 2 == 0), made % 3) == 401);
    }
  }
  return jobs;
}

}  // namespace

TEST_SUITE("webhook integration") {

TEST_CASE("webhook integration: a receiver without a handler answers 503 until set_handler, and after it is cleared") {
  WebhookReceiver receiver;
  auto post = [&receiver] {
    httplib::Client cli("127.0.0.1", receiver.port());
    cli.set_read_timeout(30, 0);
    const auto answer = cli.Post("/webhook", R"({"event_type": "x"})", "application/json");
    return answer ? answer->status : -1;
  };
  CHECK(post() == 503);
  std::mutex mutex;
  std::vector<std::string> bodies;
  receiver.set_handler([&](const std::vector<HttpHeader>&, std::string_view body) {
    const std::lock_guard lock(mutex);
    bodies.emplace_back(body);
    return WebhookReply{WebhookVerdict::accepted, 200, ""};
  });
  CHECK(post() == 200);
  receiver.set_handler({});  // once it returns, the handler above is never called again
  CHECK(post() == 503);
  const std::lock_guard lock(mutex);
  CHECK(bodies == std::vector<std::string>{R"({"event_type": "x"})"});
}

TEST_CASE("webhook integration: tracker: every job's push ends its wait with the server's outcome") {
  Arrivals arrivals;  // before the run: a client shutting down hands open waits their results
  PushedRun<VideoTranslationClient> run(short_pushing_jobs(sim::Api::tracker, 21), tracker_options);
  const auto jobs = run_tracker_jobs(run, arrivals, 30, false);
  REQUIRE(arrivals.wait_for(jobs.size(), 120s));
  check_against_server(run, arrivals, jobs, false);
  CHECK(run.verdicts.of(WebhookVerdict::accepted) > 0);
  CHECK(run.verdicts.of(WebhookVerdict::bad_signature) == 0);
  CHECK(run.verdicts.of(WebhookVerdict::malformed) == 0);
  CHECK(run.verdicts.of(WebhookVerdict::stale) == 0);
  const auto totals = run.sim().stats().totals;
  CHECK(totals.pushes.failed == 0);
  CHECK(totals.pushes.lost == 0);
}

/// short_pushing_jobs in HeyGen mode with per-job pushes signed (HeyGen's own are not: the simulator's default).
SimulatorConfig signed_v3_jobs(std::uint64_t seed) {
  SimulatorConfig config = short_pushing_jobs(sim::Api::heygen_v3, seed);
  config.webhooks.callback_signing = sim::CallbackSigning::hmac;
  return config;
}

TEST_CASE("webhook integration: HeyGen v3: every job's signed push ends its wait with the outcome and outputs") {
  Arrivals arrivals;  // before the run: a client shutting down hands open waits their results
  PushedRun<HeyGenClient> run(signed_v3_jobs(22), v3_options);
  const auto jobs = run_v3_jobs(run, arrivals, 30, false);
  REQUIRE(arrivals.wait_for(jobs.size(), 120s));
  check_against_server(run, arrivals, jobs, true);
  CHECK(run.verdicts.of(WebhookVerdict::accepted) > 0);
  CHECK(run.verdicts.of(WebhookVerdict::confirming) == 0);
  CHECK(run.verdicts.of(WebhookVerdict::bad_signature) == 0);
  CHECK(run.verdicts.of(WebhookVerdict::malformed) == 0);
}

TEST_CASE("webhook integration: HeyGen v3: unsigned pushes, as HeyGen sends them, each confirmed by one look") {
  Arrivals arrivals;  // before the run: a client shutting down hands open waits their results
  PushedRun<HeyGenClient> run(short_pushing_jobs(sim::Api::heygen_v3, 25), v3_options);
  const auto jobs = run_v3_jobs(run, arrivals, 30, false);
  REQUIRE(arrivals.wait_for(jobs.size(), 120s));
  check_against_server(run, arrivals, jobs, true);  // outputs too: the confirming look carried them
  CHECK(run.verdicts.of(WebhookVerdict::confirming) > 0);
  CHECK(run.verdicts.of(WebhookVerdict::accepted) == 0);  // no wait ends on an unsigned push's body
  CHECK(run.verdicts.of(WebhookVerdict::bad_signature) == 0);
  CHECK(run.verdicts.of(WebhookVerdict::bad_callback) == 0);
  CHECK(run.client().poller_stats().hint_looks > 0);
}

TEST_CASE("webhook integration: tracker with push faults: lost, duplicated, delayed, forged and replayed") {
  Arrivals arrivals;  // before the run: a client shutting down hands open waits their results
  PushedRun<VideoTranslationClient> run(with_push_faults(short_pushing_jobs(sim::Api::tracker, 23)),
                                        [](const StatusSimulator& server) {
                                          ClientOptions options = tracker_options(server);
                                          options.polling.long_poll = Seconds(0);  // the safety net's looks alone
                                          return options;
                                        });
  const auto jobs = run_tracker_jobs(run, arrivals, 40, true);
  REQUIRE(arrivals.wait_for(jobs.size(), 120s));
  check_against_server(run, arrivals, jobs, false);
  const auto pushes = run.sim().stats().totals.pushes;
  CHECK(pushes.lost > 0);
  CHECK(pushes.duplicated > 0);
  CHECK(pushes.bad_signature > 0);
  CHECK(wait_until([&] {  // the simulator's forgeries of the last jobs may still be on their way
    std::lock_guard lock(run.verdicts.mutex);
    return run.verdicts.forged > static_cast<int>(jobs.size());  // ours, one a job, and the simulator's
  }));
  std::lock_guard lock(run.verdicts.mutex);  // ours, one a job, and the simulator's
  CHECK(run.verdicts.forged_not_refused == 0);
  CHECK(run.verdicts.genuine_refused == 0);
  CHECK(run.verdicts.count[WebhookVerdict::bad_signature] == run.verdicts.forged);
  CHECK(run.verdicts.count[WebhookVerdict::accepted] > 0);
  CHECK(run.verdicts.count[WebhookVerdict::accepted] <= static_cast<int>(jobs.size()));
  CHECK(run.verdicts.count[WebhookVerdict::duplicate] + run.verdicts.count[WebhookVerdict::unknown_job] > 0);
  CHECK(run.verdicts.count[WebhookVerdict::malformed] == 0);
  CHECK(run.verdicts.count[WebhookVerdict::stale] == 0);
}

TEST_CASE("webhook integration: HeyGen v3 with push faults: lost, duplicated, delayed, forged and replayed") {
  Arrivals arrivals;  // before the run: a client shutting down hands open waits their results
  PushedRun<HeyGenClient> run(with_push_faults(signed_v3_jobs(24)), v3_signed_options);
  const auto jobs = run_v3_jobs(run, arrivals, 42, true);
  REQUIRE(arrivals.wait_for(jobs.size(), 120s));
  check_against_server(run, arrivals, jobs, true);
  const auto pushes = run.sim().stats().totals.pushes;
  CHECK(pushes.lost > 0);
  CHECK(pushes.duplicated > 0);
  CHECK(pushes.bad_signature > 0);
  CHECK(wait_until([&] {  // the simulator's forgeries of the last jobs may still be on their way
    std::lock_guard lock(run.verdicts.mutex);
    return run.verdicts.forged > static_cast<int>(jobs.size());  // ours, one a job, and the simulator's
  }));
  std::lock_guard lock(run.verdicts.mutex);
  CHECK(run.verdicts.forged_not_refused == 0);
  CHECK(run.verdicts.genuine_refused == 0);
  CHECK(run.verdicts.count[WebhookVerdict::bad_signature] == run.verdicts.forged);
  CHECK(run.verdicts.count[WebhookVerdict::accepted] > 0);
  CHECK(run.verdicts.count[WebhookVerdict::accepted] <= static_cast<int>(jobs.size()));
  CHECK(run.verdicts.count[WebhookVerdict::malformed] == 0);
  CHECK(run.verdicts.count[WebhookVerdict::stale] == 0);
}

TEST_CASE("webhook integration: HeyGen v3 endpoints through the client; a registered endpoint's pushes verify") {
  SimulatorConfig config = short_pushing_jobs(sim::Api::heygen_v3, 31);
  config.error_probability = 0;
  config.webhooks.retries = 0;  // the per-job callback below goes nowhere: given up at once
  StatusSimulator server(config);
  server.start();
  HeyGenClient admin(v3_options(server));
  Arrivals arrivals;                   // before the client: one shutting down hands open waits their results
  std::optional<HeyGenClient> client;  // before the receiver, which is stopped first
  std::atomic<HeyGenClient*> target{nullptr};
  std::mutex mutex;
  std::map<WebhookVerdict, int> verdicts;
  WebhookReceiver receiver([&](const std::vector<HttpHeader>& headers, std::string_view body) {
    HeyGenClient* client = target.load(std::memory_order_acquire);
    if (client == nullptr) return WebhookReply{WebhookVerdict::unknown_job, 503, "not ready"};
    WebhookReply reply = client->handle_webhook(headers, body);
    std::lock_guard lock(mutex);
    ++verdicts[reply.verdict];
    return reply;
  });

  const WebhookEndpoint made = admin.create_webhook_endpoint(receiver.url(), {"video_translate.success"});
  REQUIRE(made.secret);
  CHECK(made.url == receiver.url());
  CHECK(made.events == std::vector<std::string>{"video_translate.success"});
  const auto listed = admin.list_webhook_endpoints();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].endpoint_id == made.endpoint_id);
  CHECK_FALSE(listed[0].secret);
  const std::string secret = admin.rotate_webhook_secret(made.endpoint_id);
  CHECK(secret != *made.secret);

  // A client verifying with the rotated secret; its webhook_url is not the receiver's, so only the endpoint's push
  // can end the wait before the (long) safety look.
  ClientOptions options = v3_options(server);
  options.webhook_url = "http://127.0.0.1:1/nobody";
  options.webhook.secret = secret;
  options.webhook.safety_interval = 60s;
  options.webhook.timestamp_tolerance = 300s;
  client.emplace(options);
  target.store(&*client, std::memory_order_release);
  const auto ids =
      client->create_translation_jobs(TranslationRequest::from_url("https://example.com/e.mp4", {"German"}));
  REQUIRE(ids.size() == 1);
  client->watch(ids[0], arrivals.sink());
  REQUIRE(arrivals.wait_for(1, 30s));
  CHECK(arrivals.got().at(ids[0]).result.status == TranslationStatus::completed);
  // The one push verified: accepted, or (a slow run) a duplicate of a look that came first, or kept for the wait
  // when it beat watch(); each is a signed, readable push. It may come after a look ended the wait: waited for.
  const auto pushes = [&](bool verified_only) {
    std::lock_guard lock(mutex);
    int n = 0;
    for (const auto& [verdict, count] : verdicts)
      if (!verified_only || verdict == WebhookVerdict::accepted || verdict == WebhookVerdict::duplicate ||
          verdict == WebhookVerdict::unknown_job)
        n += count;
    return n;
  };
  CHECK(wait_until([&] { return pushes(false) >= 1; }));
  CHECK(pushes(true) == 1);
  CHECK(pushes(false) == 1);

  admin.delete_webhook_endpoint(made.endpoint_id);
  CHECK(admin.list_webhook_endpoints().empty());
  try {
    admin.delete_webhook_endpoint(made.endpoint_id);
    FAIL("no exception");
  } catch (const TranslationError& e) {
    CHECK(e.http_status() == 404);
  }
}

}  // TEST_SUITE("webhook integration")
