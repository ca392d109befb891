// Integration tests: the real cpp-httplib transport against the simulator, in-process on an ephemeral port.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "status_simulator.hpp"

using namespace heygen;
using namespace std::chrono_literals;
using sim::DurationDistribution;
using sim::SimulatorConfig;
using sim::StatusSimulator;

namespace {

/// A simulator with short jobs, started on port 0.
struct RunningSimulator {
  explicit RunningSimulator(SimulatorConfig config) : server(std::move(config)) { server.start(); }
  StatusSimulator server;
};

SimulatorConfig short_jobs(double seconds = 0.15) {
  SimulatorConfig config;
  config.duration = DurationDistribution::fixed(seconds);
  return config;
}

/// Client options for tests: quick retries, a deadline that ends a stuck test in seconds.
ClientOptions options_for(const StatusSimulator& server) {
  ClientOptions options;
  options.base_url = server.base_url();
  options.max_retries = 3;
  options.initial_backoff = 10ms;
  options.max_timeout = 10s;
  options.request_timeout = 5s;
  return options;
}

}  // namespace

TEST_CASE("integration: create, wait, completed — by long poll, one status request") {
  RunningSimulator sim(short_jobs());
  VideoTranslationClient client(options_for(sim.server));
  const std::string id = client.create_translation_job();
  const TranslationResult result = client.get_translation_status(id);
  CHECK(result.status == TranslationStatus::completed);
  CHECK(result.cause == FailureCause::none);
  CHECK(result.requests == 1);
  const auto stats = sim.server.stats();
  REQUIRE(stats.jobs.size() == 1);
  CHECK(stats.jobs[0].job_id == id);
  CHECK(stats.jobs[0].lag_ms.has_value());
}

TEST_CASE("integration: a held long poll that ends pending is asked again at once") {
  RunningSimulator sim(short_jobs(0.5));
  ClientOptions options = options_for(sim.server);
  options.polling.long_poll = 200ms;
  VideoTranslationClient client(options);
  const TranslationResult result = client.get_translation_status(client.create_translation_job());
  CHECK(result.ok());
  CHECK(client.profile().long_poll() == Support::yes);
  CHECK(result.requests >= 3);
  CHECK(result.requests <= 4);
}

TEST_CASE("integration: a failed job is reported as job_failed with the server's message") {
  SimulatorConfig config = short_jobs();
  config.error_probability = 1.0;
  RunningSimulator sim(config);
  VideoTranslationClient client(options_for(sim.server));
  const TranslationResult result = client.get_translation_status(client.create_translation_job());
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::job_failed);
  REQUIRE(result.error_message.has_value());
  CHECK(*result.error_message == std::string(sim::detail::failure_message));
  CHECK(result.job_finished());
}

TEST_CASE("integration: an unknown id is unknown_job (404), or unexpected_result on the seed's server") {
  SUBCASE("404") {
    RunningSimulator sim(short_jobs());
    VideoTranslationClient client(options_for(sim.server));
    const TranslationResult result = client.get_translation_status("no-such-job");
    CHECK(result.status == TranslationStatus::error);
    CHECK(result.cause == FailureCause::unknown_job);
    CHECK(result.http_status == 404);
    CHECK(result.requests == 1);
  }
  SUBCASE("seed quirk: 200 {\"result\": \"Job ID not found\"}") {
    SimulatorConfig config = short_jobs();
    config.not_found_404 = false;
    RunningSimulator sim(config);
    VideoTranslationClient client(options_for(sim.server));
    const TranslationResult result = client.get_translation_status("no-such-job");
    CHECK(result.cause == FailureCause::unexpected_result);
    REQUIRE(result.error_message.has_value());
    CHECK(result.error_message->find("Job ID not found") != std::string::npos);
  }
}

TEST_CASE("integration: a core-only server works; the client notices it ignores long polls") {
  RunningSimulator sim(SimulatorConfig::core_only().disable_extensions());
  ClientOptions options = options_for(sim.server);
  options.polling.initial_interval = 50ms;  // short jobs: keep the cold schedule short too
  options.polling.cold_cap = 100ms;
  VideoTranslationClient client(options);
  const std::string first = client.create_translation_job();
  CHECK(client.get_translation_status(first).status == TranslationStatus::completed);
  CHECK(client.profile().long_poll() == Support::no);
  CHECK(client.profile().hints() == Support::no);
  const std::string second = client.create_translation_job();
  const TranslationResult result = client.get_translation_status(second);
  CHECK(result.status == TranslationStatus::completed);
  for (const auto& job : sim.server.stats().jobs) CHECK(job.status_requests >= 1);
}

TEST_CASE("integration: the original single-job form GET /status?job_id=") {
  RunningSimulator sim(short_jobs());
  ClientOptions options = options_for(sim.server);
  options.endpoints.status = "/status";
  VideoTranslationClient client(options);
  const std::string id = client.create_translation_job();
  CHECK(client.get_translation_status(id).status == TranslationStatus::completed);
  CHECK(client.check_translation_status("no-such-job").cause == FailureCause::unknown_job);
}

TEST_CASE("integration: check_translation_status returns pending with the server's hints") {
  RunningSimulator sim(short_jobs(5.0));
  VideoTranslationClient client(options_for(sim.server));
  const TranslationResult result = client.check_translation_status(client.create_translation_job());
  CHECK(result.status == TranslationStatus::pending);
  CHECK(result.requests == 1);
  CHECK(result.progress.has_value());
  CHECK(result.eta_seconds.has_value());
}

namespace {

/// The wait for one job id on a simulator whose status answers fail at the given rate.
TranslationResult status_under_fault(double rate_value, double sim::FaultConfig::*rate, int max_retries) {
  SimulatorConfig config = short_jobs();
  config.faults.*rate = rate_value;
  RunningSimulator sim(config);
  ClientOptions options = options_for(sim.server);
  options.max_retries = max_retries;
  VideoTranslationClient client(options);
  return client.get_translation_status("job-000001");
}

}  // namespace

TEST_CASE("integration: injected faults end defined") {
  using sim::FaultConfig;
  SUBCASE("500 on every request: retried max_retries times, then http_status") {
    const TranslationResult result = status_under_fault(1.0, &FaultConfig::fail_5xx_rate, 3);
    CHECK(result.cause == FailureCause::http_status);
    CHECK(result.http_status == 500);
    CHECK(result.requests == 4);
  }
  SUBCASE("half the requests fail with 500: retried to success") {
    SimulatorConfig config = short_jobs();
    config.faults.fail_5xx_rate = 0.5;
    RunningSimulator sim(config);
    ClientOptions options = options_for(sim.server);
    options.max_retries = 15;
    VideoTranslationClient client(options);
    CHECK(client.get_translation_status(client.create_translation_job()).ok());
  }
  SUBCASE("429 with Retry-After: waits as told, then gives up with http_status 429") {
    const TranslationResult result = status_under_fault(1.0, &FaultConfig::throttle_rate, 1);
    CHECK(result.cause == FailureCause::http_status);
    CHECK(result.http_status == 429);
    CHECK(result.requests == 2);
    CHECK(result.elapsed >= 1s);  // the simulator's Retry-After: 1 was honoured, not the 10 ms backoff
  }
  SUBCASE("503 with Retry-After") {
    const TranslationResult result = status_under_fault(1.0, &FaultConfig::unavailable_rate, 0);
    CHECK(result.http_status == 503);
    CHECK(result.requests == 1);
  }
  SUBCASE("connection dropped with no answer: a transport failure, never 'the job failed'") {
    const TranslationResult result = status_under_fault(1.0, &FaultConfig::drop_rate, 3);
    CHECK(result.status == TranslationStatus::error);
    CHECK(result.cause == FailureCause::transport);
    CHECK(result.http_status == 0);
    CHECK(result.requests == 4);
    CHECK_FALSE(result.job_finished());
  }
  SUBCASE("malformed body: bad_response at once") {
    const TranslationResult result = status_under_fault(1.0, &FaultConfig::malformed_rate, 3);
    CHECK(result.cause == FailureCause::bad_response);
    CHECK(result.requests == 1);
  }
}

TEST_CASE("integration: added latency and a stale cache only delay the outcome") {
  SimulatorConfig config = short_jobs(0.1);
  config.faults.latency_ms = 30;
  config.stale_seconds = 0.3;
  RunningSimulator sim(config);
  VideoTranslationClient client(options_for(sim.server));
  const TranslationResult result = client.get_translation_status(client.create_translation_job());
  CHECK(result.ok());
  CHECK(result.elapsed >= 300ms);  // the stale answer said pending until the cache caught up
}

TEST_CASE("integration: a create whose answer is lost is retried with its key: k creates make k jobs") {
  SimulatorConfig config = short_jobs();
  config.faults.drop_after_commit_rate = 0.5;
  RunningSimulator sim(config);
  ClientOptions options = options_for(sim.server);
  options.max_retries = 15;
  VideoTranslationClient client(options);
  std::set<std::string> ids;
  constexpr int creates = 12;
  for (int i = 0; i < creates; ++i) ids.insert(client.create_translation_job());
  const auto stats = sim.server.stats();
  CHECK(ids.size() == creates);
  CHECK(stats.totals.jobs == creates);
  CHECK(stats.totals.faults.drop_after_commit > 0);
  CHECK(stats.totals.idempotent_replays == stats.totals.faults.drop_after_commit);
}

TEST_CASE("integration: refused connections end create with a transport TranslationError") {
  int closed_port = 0;
  {
    RunningSimulator sim(short_jobs());
    closed_port = sim.server.port();
  }
  ClientOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(closed_port);
  options.max_retries = 2;
  options.initial_backoff = 1ms;
  VideoTranslationClient client(options);
  try {
    client.create_translation_job();
    FAIL("create should have thrown");
  } catch (const TranslationError& e) {
    CHECK(e.cause() == FailureCause::transport);
    CHECK(e.requests() == 3);
    CHECK(std::string(e.what()).find("refused") != std::string::npos);
  }
}

TEST_CASE("integration: bulk tracking returns every job, each result handed out as it arrives") {
  SimulatorConfig config;
  config.duration = DurationDistribution::uniform(0.05, 0.3);
  config.error_probability = 0.3;
  RunningSimulator sim(config);
  VideoTranslationClient client(options_for(sim.server));
  std::vector<std::string> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(client.create_translation_job());
  ids.push_back("no-such-job");
  std::atomic<int> callbacks{0};
  const auto results = client.get_bulk_translation_statuses(
      ids, 8, {}, [&](const std::string&, const TranslationResult&, BulkProgress) { ++callbacks; });
  CHECK(results.size() == ids.size());
  CHECK(callbacks.load() == static_cast<int>(ids.size()));
  for (const auto& [id, result] : results) {
    if (id == "no-such-job")
      CHECK(result.cause == FailureCause::unknown_job);
    else
      CHECK(result.job_finished());
  }
}

TEST_CASE("integration: bulk on a core-only server finds no batch endpoint and polls each job") {
  SimulatorConfig config = SimulatorConfig::core_only();
  config.duration = DurationDistribution::uniform(0.05, 0.2);
  RunningSimulator sim(config);
  ClientOptions options = options_for(sim.server);
  options.polling.initial_interval = 50ms;
  options.polling.cold_cap = 100ms;
  VideoTranslationClient client(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(client.create_translation_job());
  const auto results = client.get_bulk_translation_statuses(ids, 3);
  CHECK(results.size() == ids.size());
  for (const auto& entry : results) CHECK(entry.second.ok());
  CHECK(client.profile().batch() == Support::no);
  CHECK(sim.server.stats().totals.batch_requests == 0);  // the 404 answer is not counted as a batch served
}

TEST_CASE("integration: bulk with the batch endpoint: far fewer requests than jobs") {
  SimulatorConfig config;
  config.duration = DurationDistribution::uniform(0.1, 0.4);
  RunningSimulator sim(config);
  VideoTranslationClient client(options_for(sim.server));
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(client.create_translation_job());
  const auto before = sim.server.stats().totals.status_requests;
  const auto results = client.get_bulk_translation_statuses(ids, 4);
  for (const auto& entry : results) CHECK(entry.second.ok());
  CHECK(client.profile().batch() == Support::yes);
  CHECK(sim.server.stats().totals.status_requests - before < ids.size());
}

TEST_CASE("integration: bulk with fewer jobs than workers holds one long poll per job, side by side") {
  SimulatorConfig config;
  config.duration = DurationDistribution::uniform(0.2, 2.5);
  RunningSimulator sim(config);
  VideoTranslationClient client(options_for(sim.server));
  std::vector<std::string> ids;
  // One worker of the poller's 8 stays free for jobs that arrive meanwhile: 7 jobs hold the other 7.
  for (int i = 0; i < 7; ++i) ids.push_back(client.create_translation_job());
  const auto results = client.get_bulk_translation_statuses(ids, ids.size());
  for (const auto& entry : results) {
    CHECK(entry.second.ok());
    CHECK(entry.second.requests == 1);
  }
  // Held one after another, the last jobs would be seen seconds late; side by side, each as it finishes.
  for (const auto& job : sim.server.stats().jobs) {
    REQUIRE(job.lag_ms.has_value());
    CHECK(*job.lag_ms < 500.0);
  }
}

TEST_CASE("integration: cancelling ends a held long poll at once") {
  RunningSimulator sim(short_jobs(30.0));
  VideoTranslationClient client(options_for(sim.server));
  const std::string id = client.create_translation_job();
  std::stop_source stop;
  auto waiting = client.get_translation_status_async(id, stop.get_token());
  std::this_thread::sleep_for(100ms);  // let the long poll reach the server
  stop.request_stop();
  const TranslationResult result = waiting.get();
  CHECK(result.cause == FailureCause::cancelled);
  CHECK(result.elapsed < 5s);  // the server would have held it for the whole 10 s budget
}

// ------------------------------------------------------------------------------------------------
// HTTPS: the simulator with the self-signed test certificate (tests/tls), on loopback.

namespace {

/// The simulator serving HTTPS with the test certificate.
SimulatorConfig tls_server() {
  SimulatorConfig config = short_jobs();
  config.tls_cert_file = HEYGEN_TEST_TLS_DIR "/cert.pem";
  config.tls_key_file = HEYGEN_TEST_TLS_DIR "/key.pem";
  return config;
}

}  // namespace

TEST_CASE("integration: https with the server's certificate as the CA file: create and wait") {
  RunningSimulator sim(tls_server());
  REQUIRE(sim.server.base_url().rfind("https://127.0.0.1:", 0) == 0);
  ClientOptions options = options_for(sim.server);
  options.ca_cert_file = HEYGEN_TEST_TLS_DIR "/cert.pem";
  VideoTranslationClient client(options);
  const std::string id = client.create_translation_job();
  const TranslationResult result = client.get_translation_status(id);
  CHECK(result.ok());
  CHECK(client.get_bulk_translation_statuses({id, client.create_translation_job()}).size() == 2);
}

TEST_CASE("integration: https verifies certificates by default: an unknown issuer fails at once, not retried") {
  RunningSimulator sim(tls_server());
  ClientOptions options = options_for(sim.server);  // no CA file: the system's bundle does not know it
  VideoTranslationClient client(options);
  const TranslationResult result = client.get_translation_status("job-000001");
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::transport);
  CHECK(result.requests == 1);
  CHECK(result.error_message.value_or("").find("tls") != std::string::npos);
  try {
    (void)client.create_translation_job();
    FAIL("create succeeded against an unverified server");
  } catch (const TranslationError& e) {
    CHECK(e.cause() == FailureCause::transport);
  }
  CHECK(sim.server.stats().totals.jobs == 0);
}

TEST_CASE("integration: https with verification turned off explicitly works without a CA file") {
  RunningSimulator sim(tls_server());
  ClientOptions options = options_for(sim.server);
  options.verify_tls = false;
  VideoTranslationClient client(options);
  CHECK(client.get_translation_status(client.create_translation_job()).ok());
}

TEST_CASE("integration: a plain-HTTP client against the HTTPS server fails defined, by its deadline") {
  RunningSimulator sim(tls_server());
  ClientOptions options = options_for(sim.server);
  options.base_url = "http://" + sim.server.address();
  options.max_timeout = 2s;
  VideoTranslationClient client(options);
  const auto started = std::chrono::steady_clock::now();
  const TranslationResult result = client.get_translation_status("job-000001");
  CHECK(result.status != TranslationStatus::completed);
  CHECK(std::chrono::steady_clock::now() - started < 3s);
}

TEST_CASE("integration: an IPv6 literal with hex digits reaches the server (IPv4-mapped loopback)") {
  RunningSimulator sim(short_jobs());
  ClientOptions options = options_for(sim.server);
  options.base_url = "http://[::ffff:7f00:1]:" + std::to_string(sim.server.port());
  options.max_timeout = 5s;
  VideoTranslationClient client(options);
  CHECK(client.get_translation_status(client.create_translation_job()).ok());
}

// ---------------------------------------------------------------------------------------------------------
// HeyGen v3: HeyGenClient against the simulator with --api heygen-v3

namespace {

/// A heygen_v3 simulator whose jobs take `seconds`.
SimulatorConfig v3_jobs(double seconds = 0.2) {
  SimulatorConfig config = short_jobs(seconds);
  config.api = sim::Api::heygen_v3;
  return config;
}

/// heygen_v3_options for the simulator, with test-sized retries, polling and deadline.
ClientOptions v3_options(const StatusSimulator& server, std::string key = "sim-key") {
  ClientOptions options = heygen_v3_options(std::move(key), server.base_url());
  options.max_retries = 5;
  options.initial_backoff = 10ms;
  options.max_timeout = 10s;
  options.request_timeout = 5s;
  options.polling.initial_interval = 50ms;
  options.polling.cold_cap = 100ms;
  return options;
}

/// A translation of a sample video into `languages`.
TranslationRequest v3_request(std::vector<std::string> languages) {
  return TranslationRequest::from_url("https://example.com/talk.mp4", std::move(languages));
}

}  // namespace

TEST_CASE("integration v3: three languages make three ids; /statuses completes them all; each record has outputs") {
  RunningSimulator sim(v3_jobs());
  ClientOptions options = v3_options(sim.server);
  // HeyGen holds no long polls; with the default long_poll the bulk poller first tries one held poll per job.
  options.polling.long_poll = Seconds(0);
  HeyGenClient client(options);
  const std::vector<std::string> languages{"Spanish (Spain)", "French (France)", "German"};
  const auto ids = client.create_translation_jobs(v3_request(languages));
  REQUIRE(ids.size() == 3);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 3);
  const auto results = client.get_bulk_translation_statuses(ids);
  REQUIRE(results.size() == 3);
  for (const auto& id : ids) CHECK(results.at(id).status == TranslationStatus::completed);
  const auto totals = sim.server.stats().totals;
  CHECK(totals.batch_requests >= 1);
  // Every look went through /statuses, but for one look per completed job: /statuses entries carry no outputs
  // (HeyGen's shape: video_id, status, error), so the bulk poller fetches each job's record for them.
  CHECK(totals.status_requests == totals.batch_requests + 3);
  CHECK(totals.jobs_seen_terminal == 3);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHECK(results.at(ids[i]).outputs.output_language == languages[i]);
    CHECK(results.at(ids[i]).outputs.video_url.has_value());
  }
  // A single look at each job's record gives the same outputs.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const TranslationResult one = client.get_translation_status(ids[i]);
    CHECK(one.status == TranslationStatus::completed);
    CHECK(one.requests == 1);
    CHECK(one.outputs.output_language == languages[i]);
    CHECK(one.outputs.duration_seconds.has_value());
    REQUIRE(one.outputs.video_url.has_value());
    CHECK(one.outputs.video_url->rfind(sim.server.base_url() + "/files/" + ids[i] + "/video.mp4?", 0) == 0);
    CHECK(one.outputs.audio_url.has_value());
  }
}

TEST_CASE("integration v3: a wrong API key ends create at once with the server's unauthorized") {
  RunningSimulator sim(v3_jobs());
  HeyGenClient client(v3_options(sim.server, "wrong-key"));
  try {
    client.create_translation_jobs(v3_request({"German"}));
    FAIL("create succeeded with a wrong key");
  } catch (const TranslationError& e) {
    CHECK(e.cause() == FailureCause::http_status);
    CHECK(e.http_status() == 401);
    CHECK(e.requests() == 1);
    CHECK(std::string(e.what()).find("unauthorized") != std::string::npos);
  }
  CHECK(sim.server.stats().totals.jobs == 0);
}

TEST_CASE("integration v3: an unknown id is unknown_job, alone (404) or in /statuses (not_found)") {
  RunningSimulator sim(v3_jobs());
  HeyGenClient client(v3_options(sim.server));
  const TranslationResult alone = client.get_translation_status("no-such-id");
  CHECK(alone.status == TranslationStatus::error);
  CHECK(alone.cause == FailureCause::unknown_job);
  CHECK(alone.http_status == 404);
  const auto ids = client.create_translation_jobs(v3_request({"German"}));
  const auto results = client.get_bulk_translation_statuses({ids.at(0), "no-such-id"});
  CHECK(results.at(ids.at(0)).status == TranslationStatus::completed);
  CHECK(results.at("no-such-id").cause == FailureCause::unknown_job);
}

TEST_CASE("integration v3: a failed job is job_failed with the server's failure_message") {
  SimulatorConfig config = v3_jobs();
  config.error_probability = 1;
  RunningSimulator sim(config);
  HeyGenClient client(v3_options(sim.server));
  const auto ids = client.create_translation_jobs(v3_request({"German", "Japanese"}));
  for (const auto& [id, result] : client.get_bulk_translation_statuses(ids)) {
    CHECK(result.cause == FailureCause::job_failed);
    REQUIRE(result.error_message.has_value());
    CHECK(*result.error_message == std::string(sim::detail::failure_message));
  }
}

TEST_CASE("integration v3: over --max-concurrent, create waits out the 429's Retry-After and succeeds") {
  SimulatorConfig config = v3_jobs(0.5);
  config.max_concurrent_jobs = 1;
  RunningSimulator sim(config);
  HeyGenClient client(v3_options(sim.server));
  const auto first = client.create_translation_jobs(v3_request({"German"}));
  const auto start = std::chrono::steady_clock::now();
  const auto second = client.create_translation_jobs(v3_request({"Japanese"}));
  CHECK(std::chrono::steady_clock::now() - start >= 900ms);  // Retry-After: 1
  REQUIRE(second.size() == 1);
  CHECK(second != first);
  const auto totals = sim.server.stats().totals;
  CHECK(totals.create_requests == 3);
  CHECK(totals.jobs == 2);
  CHECK(client.get_translation_status(second[0]).status == TranslationStatus::completed);
}

TEST_CASE("integration v3: injected 5xx answers are retried; every job ends right") {
  SimulatorConfig config = v3_jobs();
  config.faults.fail_5xx_rate = 0.3;
  config.seed = 11;
  RunningSimulator sim(config);
  ClientOptions options = v3_options(sim.server);
  options.max_retries = 15;
  HeyGenClient client(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    for (auto& id : client.create_translation_jobs(v3_request({"English", "German", "Japanese"})))
      ids.push_back(std::move(id));
  REQUIRE(ids.size() == 9);
  const auto results = client.get_bulk_translation_statuses(ids);
  REQUIRE(results.size() == 9);
  for (const auto& entry : results) {
    INFO(entry.first, ": ", entry.second.error_message.value_or(""));
    CHECK(entry.second.status == TranslationStatus::completed);
  }
  const auto totals = sim.server.stats().totals;
  CHECK(totals.jobs == 9);
  CHECK(totals.faults.fail_5xx > 0);
}

TEST_CASE("integration v3: /statuses pages of two over five ids are followed to the end") {
  SimulatorConfig config = v3_jobs();
  config.statuses_page_size = 2;
  RunningSimulator sim(config);
  ClientOptions options = v3_options(sim.server);
  options.polling.long_poll = Seconds(0);  // every look through /statuses (see above)
  HeyGenClient client(options);
  const auto ids = client.create_translation_jobs(v3_request({"English", "German", "Japanese", "Italian", "Dutch"}));
  REQUIRE(ids.size() == 5);
  const auto results = client.get_bulk_translation_statuses(ids);
  for (const auto& id : ids) CHECK(results.at(id).status == TranslationStatus::completed);
  const auto stats = sim.server.stats();
  CHECK(stats.totals.batch_requests >= 3);                                 // the first look alone is three pages
  CHECK(stats.totals.status_requests == stats.totals.batch_requests + 5);  // + each completed job's own look
  CHECK(stats.totals.jobs_seen_terminal == 5);
}

TEST_CASE("integration v3: heygen-like durations scaled down; the languages list") {
  SimulatorConfig config = v3_jobs();
  config.duration = DurationDistribution::heygen_like();
  config.duration_scale = 0.0005;  // median 0.24 s
  RunningSimulator sim(config);
  HeyGenClient client(v3_options(sim.server));
  const auto languages = client.list_languages();
  CHECK(std::find(languages.begin(), languages.end(), "Japanese") != languages.end());
  const auto ids = client.create_translation_jobs(v3_request({"English", "Japanese", "Korean"}));
  for (const auto& [id, result] : client.get_bulk_translation_statuses(ids))
    CHECK(result.status == TranslationStatus::completed);
}
