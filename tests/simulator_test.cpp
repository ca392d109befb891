// Integration tests of the status simulator: each case starts it in-process on an ephemeral port and talks to
// it with a plain httplib::Client, so what is checked is the wire protocol clients will see.
#include "status_simulator.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <picojson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace heygen::sim;
using namespace std::chrono_literals;

/// A full-featured config whose jobs take `seconds`.
SimulatorConfig quick(double seconds) {
  SimulatorConfig config;
  config.duration = DurationDistribution::fixed(seconds);
  config.threads = 64;
  return config;
}

/// A started simulator and a client talking to it.
struct Running {
  explicit Running(SimulatorConfig config) : sim(std::move(config)), cli("127.0.0.1", sim.start()) {
    cli.set_read_timeout(5, 0);
  }
  StatusSimulator sim;
  httplib::Client cli;
};

/// Seconds since `start`.
double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// Parses a body that must be a JSON object.
picojson::object object_of(const std::string& body) {
  picojson::value doc;
  const std::string err = picojson::parse(doc, body);
  INFO("body: ", body);
  REQUIRE(err.empty());
  REQUIRE(doc.is<picojson::object>());
  return doc.get<picojson::object>();
}

/// True when `body` is not valid JSON.
bool unparseable(const std::string& body) {
  picojson::value doc;
  return !picojson::parse(doc, body).empty();
}

/// A string member, or "" when absent or not a string.
std::string text(const picojson::object& obj, const std::string& key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->second.is<std::string>() ? it->second.get<std::string>() : "";
}

/// A number member, or -1 when absent or not a number.
double number(const picojson::object& obj, const std::string& key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->second.is<double>() ? it->second.get<double>() : -1;
}

/// Creates a job and returns its id.
std::string create(httplib::Client& cli, const httplib::Headers& headers = {}) {
  const auto res = cli.Post("/create_job", headers, "", "application/json");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return text(object_of(res->body), "job_id");
}

/// GETs a status path that must answer 200 and returns the body.
picojson::object status(httplib::Client& cli, const std::string& path) {
  const auto res = cli.Get(path);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return object_of(res->body);
}

/// A batch body listing `ids`.
std::string batch_body(const std::vector<std::string>& ids) {
  picojson::array list;
  for (const auto& id : ids) list.emplace_back(id);
  picojson::object body;
  body["job_ids"] = picojson::value(list);
  return picojson::value(body).serialize();
}

/// POSTs a batch that must answer 200 and returns its "results" object.
picojson::object batch(httplib::Client& cli, const std::vector<std::string>& ids, const std::string& query = "") {
  const auto res = cli.Post("/status/batch" + query, batch_body(ids), "application/json");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const auto body = object_of(res->body);
  REQUIRE(body.count("results") == 1);
  return body.at("results").get<picojson::object>();
}

/// The per-job server-side figures of `id`.
JobStats job_stats(const StatusSimulator& sim, const std::string& id) {
  for (const auto& job : sim.stats().jobs) {
    if (job.job_id == id) return job;
  }
  FAIL("no job " << id);
  return {};
}

/// parse_args over a list of arguments (the program name is added).
ParsedArgs parse(std::vector<const char*> args) {
  args.insert(args.begin(), "status_server");
  return parse_args(static_cast<int>(args.size()), args.data());
}

}  // namespace

TEST_CASE("simulator: a job is pending, then completed for good") {
  Running s(quick(0.1));
  const std::string id = create(s.cli);
  CHECK(id == "job-000001");

  const auto first = s.cli.Get("/status/" + id);
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->get_header_value("Content-Type") == "application/json");
  CHECK(first->get_header_value("Retry-After") == "1");
  const auto pending = object_of(first->body);
  CHECK(text(pending, "result") == "pending");
  CHECK(number(pending, "progress") >= 0);
  CHECK(number(pending, "progress") < 1);
  CHECK(number(pending, "eta_seconds") > 0);
  CHECK(number(pending, "eta_seconds") <= 0.1 * 1.2 + 1e-3);
  CHECK(pending.count("error_message") == 0);

  std::this_thread::sleep_for(150ms);
  for (int i = 0; i < 2; ++i) {
    const auto res = s.cli.Get("/status/" + id);
    REQUIRE(res);
    CHECK_FALSE(res->has_header("Retry-After"));
    const auto done = object_of(res->body);
    CHECK(text(done, "result") == "completed");
    CHECK(number(done, "progress") == 1);
    CHECK(number(done, "eta_seconds") == 0);
  }
}

TEST_CASE("simulator: Retry-After on pending answers follows the estimate or the configured value") {
  SUBCASE("derived from the estimate") {
    Running s(quick(5));
    const auto res = s.cli.Get("/status/" + create(s.cli));
    REQUIRE(res);
    const int hint = std::stoi(res->get_header_value("Retry-After"));
    CHECK(hint >= 4);
    CHECK(hint <= 6);
  }
  SUBCASE("configured") {
    auto config = quick(5);
    config.pending_retry_after_s = 2;
    Running s(config);
    const auto res = s.cli.Get("/status/" + create(s.cli));
    REQUIRE(res);
    CHECK(res->get_header_value("Retry-After") == "2");
  }
}

TEST_CASE("simulator: error_probability 1 makes error jobs with a message") {
  auto config = quick(0);
  config.error_probability = 1;
  Running s(config);
  const std::string id = create(s.cli);
  const auto body = status(s.cli, "/status/" + id);
  CHECK(text(body, "result") == "error");
  CHECK(text(body, "error_message") == "simulated translation failure");
  CHECK(job_stats(s.sim, id).outcome == JobOutcome::error);
}

TEST_CASE("simulator: unknown ids get 404, or the seed's answer with seed quirks") {
  SUBCASE("404 with a JSON body") {
    Running s(quick(0.1));
    for (const std::string path : {"/status/nope", "/status/a%2Fb", "/status/", "/status?job_id=nope", "/status"}) {
      const auto res = s.cli.Get(path);
      REQUIRE(res);
      INFO(path);
      CHECK(res->status == 404);
      const auto body = object_of(res->body);
      CHECK(text(body, "result") == "error");
      CHECK(text(body, "error_message") == "unknown job");
    }
  }
  SUBCASE("seed quirks") {
    auto config = quick(0.1);
    config.not_found_404 = false;
    Running s(config);
    const auto res = s.cli.Get("/status/nope");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == R"({"result":"Job ID not found"})");
  }
}

TEST_CASE("simulator: ids with odd characters are found through percent-encoding") {
  auto config = quick(0.1);
  config.id_prefix = "a/b ";
  Running s(config);
  const std::string id = create(s.cli);
  CHECK(id == "a/b 000001");
  CHECK(text(status(s.cli, "/status/a%2Fb%20000001"), "result") == "pending");
  CHECK(text(status(s.cli, "/status?job_id=a%2Fb%20000001"), "result") == "pending");
  CHECK(text(batch(s.cli, {id}).at(id).get<picojson::object>(), "result") == "pending");
}

TEST_CASE("simulator: Idempotency-Key returns the same job") {
  SUBCASE("honoured") {
    Running s(quick(0.1));
    const std::string a = create(s.cli, {{"Idempotency-Key", "k1"}});
    CHECK(create(s.cli, {{"Idempotency-Key", "k1"}}) == a);
    CHECK(create(s.cli, {{"Idempotency-Key", "k2"}}) != a);
    CHECK(create(s.cli) != a);
    const auto totals = s.sim.stats().totals;
    CHECK(totals.jobs == 3);
    CHECK(totals.create_requests == 4);
    CHECK(totals.idempotent_replays == 1);
  }
  SUBCASE("switched off") {
    auto config = quick(0.1);
    config.idempotency = false;
    Running s(config);
    CHECK(create(s.cli, {{"Idempotency-Key", "k1"}}) != create(s.cli, {{"Idempotency-Key", "k1"}}));
    CHECK(s.sim.stats().totals.jobs == 2);
  }
}

TEST_CASE("simulator: long poll answers as soon as the job leaves pending") {
  Running s(quick(0.15));
  const std::string id = create(s.cli);
  const auto start = Clock::now();
  CHECK(text(status(s.cli, "/status/" + id + "?wait=5"), "result") == "completed");
  const double took = since(start);
  CHECK(took >= 0.1);  // it did wait for the job...
  CHECK(took < 1.0);   // ...and not for the wait cap

  const std::string other = create(s.cli);
  const auto short_start = Clock::now();
  CHECK(text(status(s.cli, "/status/" + other + "?wait=0.05"), "result") == "pending");
  CHECK(since(short_start) >= 0.04);  // fractional waits are honoured

  const auto bad = s.cli.Get("/status/" + other + "?wait=soon");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK_FALSE(text(object_of(bad->body), "error").empty());
}

TEST_CASE("simulator: long poll switched off answers at once") {
  auto config = quick(1);
  config.long_poll = false;
  Running s(config);
  const std::string id = create(s.cli);
  const auto start = Clock::now();
  CHECK(text(status(s.cli, "/status/" + id + "?wait=5"), "result") == "pending");
  CHECK(text(status(s.cli, "/status/" + id + "?wait=soon"), "result") == "pending");
  CHECK(since(start) < 0.5);
}

TEST_CASE("simulator: batch answers every id, unknown ones as errors") {
  Running s(quick(0.1));
  const std::string a = create(s.cli);
  const std::string b = create(s.cli);

  const auto all_pending = s.cli.Post("/status/batch", batch_body({a, b}), "application/json");
  REQUIRE(all_pending);
  CHECK(all_pending->get_header_value("Retry-After") == "1");

  const auto results = batch(s.cli, {a, "nope", a});
  CHECK(results.size() == 2);
  const auto job = results.at(a).get<picojson::object>();
  CHECK(text(job, "result") == "pending");
  CHECK(number(job, "progress") >= 0);
  CHECK(number(job, "eta_seconds") >= 0);
  const auto unknown = results.at("nope").get<picojson::object>();
  CHECK(text(unknown, "result") == "error");
  CHECK(text(unknown, "error_message") == "unknown job");
  CHECK(batch(s.cli, {}).empty());
}

TEST_CASE("simulator: batch with wait answers when any listed job is terminal") {
  Running s(quick(0.1));
  const std::string a = create(s.cli);
  std::this_thread::sleep_for(120ms);
  const std::string b = create(s.cli);

  auto start = Clock::now();
  auto results = batch(s.cli, {a, b}, "?wait=2");
  CHECK(since(start) < 0.08);  // a was already terminal
  CHECK(text(results.at(a).get<picojson::object>(), "result") == "completed");
  CHECK(text(results.at(b).get<picojson::object>(), "result") == "pending");

  start = Clock::now();
  results = batch(s.cli, {b}, "?wait=2");
  const double took = since(start);
  CHECK(text(results.at(b).get<picojson::object>(), "result") == "completed");
  CHECK(took >= 0.03);
  CHECK(took < 1.0);
}

TEST_CASE("simulator: batch refuses too many ids and bad bodies") {
  Running s(quick(0.1));
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back("id" + std::to_string(i));
  CHECK(batch(s.cli, ids).size() == 1000);

  ids.emplace_back("one-too-many");
  const auto too_many = s.cli.Post("/status/batch", batch_body(ids), "application/json");
  REQUIRE(too_many);
  CHECK(too_many->status == 413);
  CHECK(number(object_of(too_many->body), "max_job_ids") == 1000);

  ids.resize(10000, "same");
  const auto huge = s.cli.Post("/status/batch", batch_body(ids), "application/json");
  REQUIRE(huge);
  CHECK(huge->status == 413);

  for (const std::string body : {"{not json", R"({"job_ids": "x"})", R"({"job_ids": [1]})", "[]", ""}) {
    const auto res = s.cli.Post("/status/batch", body, "application/json");
    REQUIRE(res);
    INFO(body);
    CHECK(res->status == 400);
    CHECK_FALSE(text(object_of(res->body), "error").empty());
  }
}

TEST_CASE("simulator: a 2 MiB body and unknown paths are refused with JSON") {
  Running s(quick(0.1));
  const std::string big(std::size_t{2} << 20, 'x');
  const auto res = s.cli.Post("/status/batch", big, "application/json");
  REQUIRE(res);
  CHECK(res->status == 413);
  CHECK(text(object_of(res->body), "error") == "payload too large");

  for (const std::string path : {"/nope", "/create_job", "/stats/x"}) {
    const auto get = s.cli.Get(path);
    REQUIRE(get);
    INFO(path);
    CHECK(get->status == 404);
    CHECK(text(object_of(get->body), "error") == "not found");
  }
  const auto post = s.cli.Post("/nope", "{}", "application/json");
  REQUIRE(post);
  CHECK(post->status == 404);
  CHECK(text(object_of(post->body), "error") == "not found");
  // The server is still fine afterwards.
  CHECK(text(status(s.cli, "/status/" + create(s.cli)), "result") == "pending");
}

TEST_CASE("simulator: batch switched off answers 404") {
  auto config = quick(0.1);
  config.batch = false;
  Running s(config);
  const auto res = s.cli.Post("/status/batch", batch_body({create(s.cli)}), "application/json");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK_FALSE(text(object_of(res->body), "error").empty());
}

TEST_CASE("simulator: core_only speaks exactly the seed's protocol") {
  auto config = SimulatorConfig::core_only();
  config.duration = DurationDistribution::fixed(1);
  Running s(config);
  const std::string id = create(s.cli, {{"Idempotency-Key", "k"}});
  CHECK(create(s.cli, {{"Idempotency-Key", "k"}}) != id);

  const auto start = Clock::now();
  const auto res = s.cli.Get("/status/" + id + "?wait=5");
  REQUIRE(res);
  CHECK(since(start) < 0.5);
  CHECK(res->body == R"({"result":"pending"})");
  CHECK_FALSE(res->has_header("Retry-After"));

  const auto unknown = s.cli.Get("/status/nope");
  REQUIRE(unknown);
  CHECK(unknown->status == 200);
  CHECK(unknown->body == R"({"result":"Job ID not found"})");

  const auto no_batch = s.cli.Post("/status/batch", batch_body({id}), "application/json");
  REQUIRE(no_batch);
  CHECK(no_batch->status == 404);
}

TEST_CASE("simulator: the original single-job form GET /status") {
  Running s(quick(0.1));
  const std::string a = create(s.cli);
  const std::string b = create(s.cli);
  CHECK(text(status(s.cli, "/status"), "result") == "pending");
  CHECK(job_stats(s.sim, a).status_requests == 0);
  CHECK(job_stats(s.sim, b).status_requests == 1);  // the most recent job
  CHECK(text(status(s.cli, "/status?job_id=" + a), "result") == "pending");
  CHECK(job_stats(s.sim, a).status_requests == 1);
}

TEST_CASE("simulator: every fault mode at rate 1") {
  auto config = quick(0.05);
  SUBCASE("500") {
    config.faults.fail_5xx_rate = 1;
    Running s(config);
    for (const auto& res : {s.cli.Post("/create_job"), s.cli.Get("/status/x"),
                            s.cli.Post("/status/batch", batch_body({"x"}), "application/json")}) {
      REQUIRE(res);
      CHECK(res->status == 500);
      CHECK_FALSE(text(object_of(res->body), "error").empty());
    }
    const auto totals = s.sim.stats().totals;
    CHECK(totals.jobs == 0);
    CHECK(totals.faults.fail_5xx == 3);
    CHECK(totals.faults_injected == 3);
  }
  SUBCASE("429 with Retry-After") {
    config.faults.throttle_rate = 1;
    config.faults.retry_after_s = 3;
    Running s(config);
    for (const auto& res : {s.cli.Post("/create_job"), s.cli.Get("/status/x")}) {
      REQUIRE(res);
      CHECK(res->status == 429);
      CHECK(res->get_header_value("Retry-After") == "3");
    }
  }
  SUBCASE("503 with Retry-After") {
    config.faults.unavailable_rate = 1;
    Running s(config);
    const auto res = s.cli.Post("/create_job");
    REQUIRE(res);
    CHECK(res->status == 503);
    CHECK(res->get_header_value("Retry-After") == "1");
  }
  SUBCASE("malformed") {
    config.faults.malformed_rate = 1;
    Running s(config);
    const auto created = s.cli.Post("/create_job");
    REQUIRE(created);
    CHECK(created->status == 200);
    CHECK(unparseable(created->body));
    const std::string id = s.sim.stats().jobs.at(0).job_id;  // the job exists all the same
    std::this_thread::sleep_for(60ms);
    for (const std::string& path : std::vector<std::string>{"/status/" + id, "/status/unknown"}) {
      const auto res = s.cli.Get(path);
      REQUIRE(res);
      CHECK(res->status == 200);  // even where the true answer would have been a 404
      CHECK(unparseable(res->body));
    }
    const auto batched = s.cli.Post("/status/batch", batch_body({id}), "application/json");
    REQUIRE(batched);
    CHECK(unparseable(batched->body));
    CHECK_FALSE(job_stats(s.sim, id).first_terminal_seen_ms);  // nobody could read those answers
  }
  SUBCASE("drop") {
    config.faults.drop_rate = 1;
    Running s(config);
    s.cli.set_keep_alive(true);  // the server must close the connection, not wait for a next request
    const auto start = Clock::now();
    const auto created = s.cli.Post("/create_job");
    CHECK_FALSE(created);
    CHECK(created.error() == httplib::Error::Read);
    CHECK_FALSE(s.cli.Get("/status/x"));
    CHECK_FALSE(s.cli.Post("/status/batch", batch_body({"x"}), "application/json"));
    CHECK(since(start) < 1.0);
    const auto totals = s.sim.stats().totals;
    CHECK(totals.jobs == 0);
    CHECK(totals.faults.drop == 3);
  }
  SUBCASE("drop after commit") {
    config.faults.drop_after_commit_rate = 1;
    Running s(config);
    s.cli.set_keep_alive(true);
    const auto start = Clock::now();
    for (int attempt = 0; attempt < 2; ++attempt) {
      const auto res = s.cli.Post("/create_job", {{"Idempotency-Key", "retry-me"}}, "", "application/json");
      CHECK_FALSE(res);
    }
    CHECK(since(start) < 1.0);
    const auto stats = s.sim.stats();
    CHECK(stats.totals.jobs == 1);  // the retry found the job made by the first, unanswered, attempt
    CHECK(stats.totals.idempotent_replays == 1);
    CHECK(stats.totals.faults.drop_after_commit == 2);
    CHECK(text(status(s.cli, "/status/" + stats.jobs.at(0).job_id), "result") == "pending");
  }
  SUBCASE("latency") {
    config.faults.latency_ms = 80;
    Running s(config);
    const auto start = Clock::now();
    create(s.cli);
    CHECK(since(start) >= 0.075);
  }
}

TEST_CASE("simulator: a stale cache reports what was true stale_seconds ago") {
  auto config = quick(0.05);
  config.stale_seconds = 0.2;
  Running s(config);
  const auto created = Clock::now();
  const std::string id = create(s.cli);
  std::this_thread::sleep_for(100ms);
  CHECK(text(status(s.cli, "/status/" + id), "result") == "pending");  // done for 50 ms, not yet visible
  CHECK(text(status(s.cli, "/status/" + id + "?wait=2"), "result") == "completed");
  CHECK(since(created) >= 0.24);
  const auto job = job_stats(s.sim, id);
  REQUIRE(job.lag_ms);
  CHECK(*job.lag_ms >= 199);
}

TEST_CASE("simulator: /stats counts looks and measures the lag") {
  Running s(quick(0.05));
  const std::string id = create(s.cli);
  status(s.cli, "/status/" + id);
  status(s.cli, "/status/" + id);
  CHECK_FALSE(job_stats(s.sim, id).first_terminal_seen_ms);
  std::this_thread::sleep_for(80ms);
  status(s.cli, "/status/" + id);
  status(s.cli, "/status/" + id);
  batch(s.cli, {id, "nope"});

  const auto stats = s.sim.stats();
  REQUIRE(stats.jobs.size() == 1);
  const auto& job = stats.jobs[0];
  CHECK(job.status_requests == 5);
  CHECK(job.outcome == JobOutcome::completed);
  CHECK(job.completes_ms - job.created_ms == doctest::Approx(50).epsilon(0.01));
  REQUIRE(job.first_terminal_seen_ms);
  REQUIRE(job.lag_ms);
  CHECK(*job.lag_ms >= 0);
  CHECK(*job.lag_ms < 1000);
  CHECK(*job.lag_ms == doctest::Approx(*job.first_terminal_seen_ms - job.completes_ms));
  CHECK(stats.totals.status_requests == 5);
  CHECK(stats.totals.job_status_looks == 5);
  CHECK(stats.totals.batch_requests == 1);
  CHECK(stats.totals.jobs_seen_terminal == 1);
  CHECK(stats.totals.lag_max_ms == doctest::Approx(*job.lag_ms));
  CHECK(stats.totals.lag_p95_ms == doctest::Approx(*job.lag_ms));

  const auto json = object_of(s.cli.Get("/stats")->body);
  const auto totals = json.at("totals").get<picojson::object>();
  CHECK(number(totals, "status_requests") == 5);
  CHECK(number(totals, "jobs") == 1);
  const auto jobs = json.at("jobs").get<picojson::array>();
  REQUIRE(jobs.size() == 1);
  const auto first = jobs[0].get<picojson::object>();
  CHECK(text(first, "job_id") == id);
  CHECK(text(first, "outcome") == "completed");
  CHECK(number(first, "status_requests") == 5);
  CHECK(number(first, "lag_ms") >= 0);
}

TEST_CASE("simulator: stop() wakes a waiting long poll at once") {
  Running s(quick(10));
  const std::string id = create(s.cli);
  std::atomic<bool> returned{false};
  std::thread poller([&] {
    httplib::Client cli("127.0.0.1", s.sim.port());
    cli.set_read_timeout(30, 0);
    cli.Get("/status/" + id + "?wait=30");
    returned = true;
  });
  std::this_thread::sleep_for(100ms);
  const auto start = Clock::now();
  s.sim.stop();
  poller.join();
  CHECK(returned);
  CHECK(since(start) < 1.0);
  s.sim.stop();  // idempotent
}

TEST_CASE("simulator: concurrent long polls all return when their job completes") {
  Running s(quick(0.15));
  const std::string id = create(s.cli);
  std::atomic<int> completed{0};
  std::vector<std::thread> pollers;
  const auto start = Clock::now();
  for (int i = 0; i < 40; ++i) {
    pollers.emplace_back([&] {
      httplib::Client cli("127.0.0.1", s.sim.port());
      const auto res = cli.Get("/status/" + id + "?wait=5");
      if (res && res->body.find("completed") != std::string::npos) ++completed;
    });
  }
  for (auto& t : pollers) t.join();
  CHECK(completed == 40);
  // Well before the 5 s hold ends: each poll returned when the job completed. (2 s was too tight under valgrind
  // on a loaded 2-core machine.)
  CHECK(since(start) < 4.0);
  CHECK(s.sim.stats().jobs.at(0).status_requests == 40);
}

TEST_CASE("simulator: lifecycle, address and configuration errors") {
  Running s(quick(0.1));
  CHECK(s.sim.port() > 0);
  CHECK(s.sim.host() == "127.0.0.1");
  CHECK(s.sim.base_url() == "http://127.0.0.1:" + std::to_string(s.sim.port()));
  CHECK_THROWS_AS(s.sim.start(), std::logic_error);

  auto taken = quick(0.1);
  taken.port = s.sim.port();
  StatusSimulator clash(taken);
  CHECK_THROWS_AS(clash.start(), std::runtime_error);

  auto bad = quick(0.1);
  bad.error_probability = 2;
  CHECK_THROWS_AS(StatusSimulator{bad}, std::invalid_argument);
  bad = quick(0.1);
  bad.faults.drop_rate = 0.6;
  bad.faults.fail_5xx_rate = 0.6;
  CHECK_THROWS_AS(StatusSimulator{bad}, std::invalid_argument);
}

TEST_CASE("simulator: duration distributions") {
  detail::Rng rng(7);
  CHECK(detail::sample_seconds(DurationDistribution::fixed(0.25), rng) == 0.25);
  std::vector<double> uniform;
  std::vector<double> lognormal;
  for (int i = 0; i < 2001; ++i) {
    uniform.push_back(detail::sample_seconds(DurationDistribution::uniform(1, 3), rng));
    lognormal.push_back(detail::sample_seconds(DurationDistribution::lognormal(2, 0.5), rng));
  }
  CHECK(*std::min_element(uniform.begin(), uniform.end()) >= 1);
  CHECK(*std::max_element(uniform.begin(), uniform.end()) < 3);
  std::nth_element(lognormal.begin(), lognormal.begin() + 1000, lognormal.end());
  CHECK(lognormal[1000] == doctest::Approx(2).epsilon(0.1));

  CHECK_FALSE(DurationDistribution::uniform(3, 1).validate().empty());
  CHECK_FALSE(DurationDistribution::lognormal(0, 1).validate().empty());
  CHECK_FALSE(DurationDistribution::fixed(-1).validate().empty());
  CHECK(DurationDistribution::uniform(1, 2.5).to_string() == "uniform:1:2.5");
}

TEST_CASE("simulator: parse_args") {
  SUBCASE("good flags") {
    const auto parsed = parse({"--port",
                               "8080",
                               "--host=0.0.0.0",
                               "--duration",
                               "lognormal:20:0.4",
                               "--error-rate",
                               "0.1",
                               "--seed",
                               "42",
                               "--stale",
                               "2",
                               "--eta-error",
                               "0.3",
                               "--fail-rate",
                               "0.1",
                               "--throttle-rate",
                               "0.1",
                               "--unavailable-rate",
                               "0.1",
                               "--retry-after",
                               "2",
                               "--latency-ms",
                               "5",
                               "--drop-rate",
                               "0.05",
                               "--drop-after-commit-rate",
                               "0.05",
                               "--malformed-rate",
                               "0.05",
                               "--no-batch",
                               "--seed-quirks",
                               "--threads",
                               "256"});
    REQUIRE(parsed.ok());
    CHECK_FALSE(parsed.help);
    const auto& c = parsed.config;
    CHECK(c.port == 8080);
    CHECK(c.host == "0.0.0.0");
    CHECK(c.duration.kind == DurationDistribution::Kind::lognormal);
    CHECK(c.duration.a == 20);
    CHECK(c.duration.b == 0.4);
    CHECK(c.error_probability == 0.1);
    CHECK(c.seed == 42);
    CHECK(c.stale_seconds == 2);
    CHECK(c.eta_error == 0.3);
    CHECK(c.faults.fail_5xx_rate == 0.1);
    CHECK(c.faults.retry_after_s == 2);
    CHECK(c.faults.latency_ms == 5);
    CHECK(c.faults.drop_after_commit_rate == 0.05);
    CHECK_FALSE(c.batch);
    CHECK_FALSE(c.not_found_404);
    CHECK(c.long_poll);
    CHECK(c.threads == 256);
  }
  SUBCASE("switches and help") {
    const auto core = parse({"--core-only", "--duration", "uniform:1:2"});
    REQUIRE(core.ok());
    CHECK_FALSE(core.config.idempotency);
    CHECK_FALSE(core.config.extra_fields);
    CHECK_FALSE(core.config.retry_after_hints);
    CHECK_FALSE(core.config.long_poll);
    CHECK_FALSE(core.config.batch);
    CHECK_FALSE(core.config.not_found_404);
    CHECK(core.config.duration.b == 2);
    const auto off = parse({"--no-idempotency", "--no-extra-fields", "--no-hints", "--no-long-poll"});
    REQUIRE(off.ok());
    CHECK_FALSE(off.config.idempotency);
    CHECK(off.config.batch);
    CHECK(parse({"--help"}).help);
    CHECK(parse({}).ok());
    CHECK(usage().find("--drop-after-commit-rate") != std::string::npos);
  }
  SUBCASE("bad flags") {
    for (const auto& args : std::vector<std::vector<const char*>>{
             {"--bogus"},
             {"positional"},
             {"--port"},
             {"--port", "70000"},
             {"--port", "12x"},
             {"--error-rate", "1.5"},
             {"--error-rate", "nan"},
             {"--duration", "gamma:1:2"},
             {"--duration", "uniform:3:1"},
             {"--duration", "fixed:"},
             {"--no-batch=yes"},
             {"--threads", "0"},
             {"--retry-after", "0.5"},
             {"--fail-rate", "0.7", "--drop-rate", "0.7"},
         }) {
      const auto parsed = parse(args);
      INFO(std::string(args.front()));
      CHECK_FALSE(parsed.ok());
      CHECK_FALSE(parsed.error.empty());
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// HeyGen v3 (--api heygen-v3)

namespace {

/// A heygen_v3 config whose jobs take `seconds`.
SimulatorConfig v3(double seconds) {
  SimulatorConfig config = quick(seconds);
  config.api = Api::heygen_v3;
  return config;
}

/// The default key's header.
const httplib::Headers v3_key{{"X-Api-Key", "sim-key"}};

/// A create body for a URL source into `languages`, with `extra` members (JSON text, comma-led) appended.
std::string v3_body(const std::vector<std::string>& languages, const std::string& extra = "") {
  picojson::array names;
  for (const auto& language : languages) names.emplace_back(language);
  return R"({"video":{"type":"url","url":"https://example.com/talk.mp4"},"output_languages":)" +
         picojson::value(names).serialize() + extra + "}";
}

/// The `data` object of a 200 answer.
picojson::object v3_data(const httplib::Result& res) {
  REQUIRE(res);
  INFO("body: ", res->body);
  REQUIRE(res->status == 200);
  const auto body = object_of(res->body);
  REQUIRE(body.count("data") == 1);
  REQUIRE(body.at("data").is<picojson::object>());
  return body.at("data").get<picojson::object>();
}

/// Checks an answer is `status` with the v3 error envelope; returns its `error` object.
picojson::object v3_error(const httplib::Result& res, int status) {
  REQUIRE(res);
  INFO("body: ", res->body);
  CHECK(res->status == status);
  const auto body = object_of(res->body);
  REQUIRE(body.count("error") == 1);
  REQUIRE(body.at("error").is<picojson::object>());
  auto error = body.at("error").get<picojson::object>();
  CHECK_FALSE(text(error, "code").empty());
  CHECK_FALSE(text(error, "message").empty());
  CHECK(error.count("param") == 1);
  CHECK(error.at("doc_url").is<picojson::null>());
  return error;
}

/// Creates translations into `languages` and returns their ids.
std::vector<std::string> v3_create(httplib::Client& cli, const std::vector<std::string>& languages,
                                   const std::string& extra = "", const httplib::Headers& headers = v3_key) {
  const auto data = v3_data(cli.Post("/v3/video-translations", headers, v3_body(languages, extra), "application/json"));
  std::vector<std::string> ids;
  for (const auto& id : data.at("video_translation_ids").get<picojson::array>()) ids.push_back(id.get<std::string>());
  return ids;
}

/// One job's record.
picojson::object v3_job(httplib::Client& cli, const std::string& id) {
  return v3_data(cli.Get("/v3/video-translations/" + id, v3_key));
}

/// A /statuses answer (the whole body).
picojson::object v3_statuses(httplib::Client& cli, const std::string& query) {
  const auto res = cli.Get("/v3/video-translations/statuses?" + query, v3_key);
  REQUIRE(res);
  INFO("body: ", res->body);
  REQUIRE(res->status == 200);
  return object_of(res->body);
}

}  // namespace

TEST_CASE("simulator v3: a create makes one job per language; each goes pending, running, completed") {
  SUBCASE("pending for the first tenth of the duration, then running") {
    Running s(v3(3.0));
    const auto ids = v3_create(s.cli, {"German", "Japanese"});
    REQUIRE(ids.size() == 2);
    const auto first = v3_job(s.cli, ids[0]);
    CHECK(text(first, "id") == ids[0]);
    CHECK(text(first, "status") == "pending");
    CHECK(text(first, "output_language") == "German");
    CHECK(text(v3_job(s.cli, ids[1]), "output_language") == "Japanese");
    CHECK(first.count("video_url") == 0);
    CHECK(first.count("failure_message") == 0);
    std::this_thread::sleep_for(400ms);
    CHECK(text(v3_job(s.cli, ids[0]), "status") == "running");
    const auto listed = v3_statuses(s.cli, "video_translation_ids=" + ids[0]);
    CHECK(text(listed.at("data").get<picojson::array>().at(0).get<picojson::object>(), "status") == "processing");
  }
  SUBCASE("completed: presigned-looking loopback URLs, captions when asked, callback_id echoed") {
    SimulatorConfig config = v3(0.1);
    config.webhooks.enabled = false;  // the callback URL is stored and its id echoed, but nothing is pushed
    Running s(config);
    const auto ids = v3_create(s.cli, {"Spanish (Spain)", "French (France)", "German"},
                               R"(,"title":"Talk","enable_caption":true,"callback_id":"cb-7",)"
                               R"("callback_url":"https://example.com/hook","input_language":"English")");
    REQUIRE(ids.size() == 3);
    CHECK(ids[0] != ids[1]);
    std::this_thread::sleep_for(150ms);
    const auto done = v3_job(s.cli, ids[1]);
    CHECK(text(done, "status") == "completed");
    CHECK(text(done, "title") == "Talk");
    CHECK(text(done, "output_language") == "French (France)");
    CHECK(text(done, "input_language") == "English");
    CHECK(text(done, "callback_id") == "cb-7");
    CHECK(number(done, "duration") > 0);
    CHECK(number(done, "created_at") > 1.6e9);
    const std::string video = text(done, "video_url");
    const std::string origin = "http://127.0.0.1:" + std::to_string(s.sim.port());
    CHECK(video.rfind(origin + "/files/" + ids[1] + "/video.mp4?Expires=", 0) == 0);
    CHECK(video.find("&Signature=") != std::string::npos);
    for (const char* name : {"audio_url", "srt_caption_url", "vtt_caption_url"}) CHECK(text(done, name).size() > 0);
    CHECK(done.count("failure_message") == 0);
    const auto file = s.cli.Get(video.substr(origin.size()));
    REQUIRE(file);
    CHECK(file->status == 200);
    CHECK(file->get_header_value("Content-Type") == "video/mp4");
    // No captions asked: no caption URLs; no title or callback_id given: null.
    const auto plain = v3_create(s.cli, {"English"});
    std::this_thread::sleep_for(150ms);
    const auto bare = v3_job(s.cli, plain.at(0));
    CHECK(bare.count("srt_caption_url") == 0);
    CHECK(bare.count("vtt_caption_url") == 0);
    CHECK(bare.at("title").is<picojson::null>());
    CHECK(bare.at("callback_id").is<picojson::null>());
    CHECK(s.sim.stats().totals.jobs == 4);
    CHECK(s.sim.stats().totals.pushes.lost + s.sim.stats().totals.pushes.failed == 0);
  }
}

TEST_CASE("simulator v3: the API key, as X-Api-Key or a bearer token") {
  Running s(v3(0.05));
  const std::string body = v3_body({"German"});
  for (const auto& headers :
       std::vector<httplib::Headers>{{}, {{"X-Api-Key", "wrong"}}, {{"Authorization", "sim-key"}}}) {
    const auto error = v3_error(s.cli.Post("/v3/video-translations", headers, body, "application/json"), 401);
    CHECK(text(error, "code") == "unauthorized");
    CHECK(error.at("param").is<picojson::null>());
    v3_error(s.cli.Get("/v3/video-translations/job-000001", headers), 401);
    v3_error(s.cli.Get("/v3/video-translations/statuses?video_translation_ids=a", headers), 401);
    v3_error(s.cli.Get("/v3/video-translations/languages", headers), 401);
  }
  CHECK(s.sim.stats().totals.jobs == 0);
  CHECK(v3_create(s.cli, {"German"}, "", {{"Authorization", "Bearer sim-key"}}).size() == 1);
  CHECK(s.cli.Get("/stats")->status == 200);  // the simulator's own endpoint needs no key

  SimulatorConfig open = v3(0.05);
  open.api_key.clear();
  Running o(open);
  CHECK(v3_create(o.cli, {"German"}, "", {}).size() == 1);
}

TEST_CASE("simulator v3: bad creates get 400 invalid_parameter naming the parameter; Idempotency-Key replays") {
  Running s(v3(0.05));
  const std::string url_video = R"({"type":"url","url":"https://example.com/a.mp4"})";
  for (const auto& [body_text, param] : std::vector<std::pair<std::string, std::string>>{
           {"not json", ""},
           {R"({"output_languages":["German"]})", "video"},
           {R"({"video":{"type":"file","url":"x"},"output_languages":["German"]})", "video"},
           {R"({"video":{"type":"asset_id"},"output_languages":["German"]})", "video"},
           {R"({"video":)" + url_video + "}", "output_languages"},
           {R"({"video":)" + url_video + R"(,"output_languages":[]})", "output_languages"},
           {R"({"video":)" + url_video + R"(,"output_languages":["Klingon"]})", "output_languages"},
           {R"({"video":)" + url_video + R"(,"output_languages":["German",3]})", "output_languages"},
           {R"({"video":)" + url_video + R"(,"output_languages":["German"],"title":5})", "title"},
           {R"({"video":)" + url_video + R"(,"output_languages":["German"],"enable_caption":"yes"})", "enable_caption"},
       }) {
    const std::string& body = body_text;  // INFO cannot capture a structured binding
    INFO("body: ", body);
    const auto error = v3_error(s.cli.Post("/v3/video-translations", v3_key, body, "application/json"), 400);
    CHECK(text(error, "code") == "invalid_parameter");
    CHECK(text(error, "param") == param);
  }
  httplib::Headers bad_key = v3_key;
  bad_key.emplace("Idempotency-Key", "no spaces allowed");
  const auto refused =
      v3_error(s.cli.Post("/v3/video-translations", bad_key, v3_body({"German"}), "application/json"), 400);
  CHECK(text(refused, "param") == "Idempotency-Key");
  CHECK(s.sim.stats().totals.jobs == 0);

  httplib::Headers keyed = v3_key;
  keyed.emplace("Idempotency-Key", "order-42");
  const auto first = v3_create(s.cli, {"German", "Japanese"}, "", keyed);
  const auto again = v3_create(s.cli, {"German", "Japanese"}, "", keyed);
  CHECK(first == again);
  const auto totals = s.sim.stats().totals;
  CHECK(totals.jobs == 2);
  CHECK(totals.create_requests == 13);
  CHECK(totals.idempotent_replays == 1);
}

TEST_CASE("simulator v3: unknown ids and paths are not_found; the tracker's routes are not served") {
  Running s(v3(0.05));
  const auto error = v3_error(s.cli.Get("/v3/video-translations/no-such-id", v3_key), 404);
  CHECK(text(error, "code") == "not_found");
  CHECK(text(v3_error(s.cli.Get("/v3/nothing/here", v3_key), 404), "code") == "not_found");
  CHECK(text(v3_error(s.cli.Post("/create_job"), 404), "code") == "not_found");
  CHECK(text(v3_error(s.cli.Get("/status/job-000001"), 404), "code") == "not_found");
  const auto languages = v3_data(s.cli.Get("/v3/video-translations/languages", v3_key));
  std::vector<std::string> names;
  for (const auto& name : languages.at("languages").get<picojson::array>()) names.push_back(name.get<std::string>());
  for (const char* name : {"English", "Spanish (Spain)", "French (France)", "German", "Japanese"})
    CHECK(std::find(names.begin(), names.end(), name) != names.end());
}

TEST_CASE("simulator v3: /statuses answers each id (not_found for unknown ones), paged, counted per id answered") {
  SimulatorConfig config = v3(0.05);
  config.statuses_page_size = 2;
  config.error_probability = 0;
  Running s(config);
  auto ids = v3_create(s.cli, {"English", "German", "Japanese", "Italian"});
  ids.push_back("no-such-id");
  std::this_thread::sleep_for(100ms);
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : ",") + id;
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  for (;;) {
    const auto page = v3_statuses(s.cli, "video_translation_ids=" + list + (token.empty() ? "" : "&token=" + token));
    ++pages;
    const auto& entries = page.at("data").get<picojson::array>();
    CHECK(entries.size() <= 2);
    for (const auto& entry : entries) {
      const auto& item = entry.get<picojson::object>();
      seen.push_back(text(item, "video_id"));
      const bool unknown = text(item, "video_id") == "no-such-id";
      CHECK(text(item, "status") == (unknown ? "not_found" : "completed"));
      CHECK(item.at("error").is<picojson::object>() == unknown);
    }
    if (!page.at("has_more").get<bool>()) {
      CHECK(page.at("next_token").is<picojson::null>());
      break;
    }
    token = text(page, "next_token");
    REQUIRE_FALSE(token.empty());
  }
  CHECK(pages == 3);
  CHECK(seen == ids);
  const auto stats = s.sim.stats();
  CHECK(stats.totals.batch_requests == 3);
  CHECK(stats.totals.status_requests == 3);
  CHECK(stats.totals.job_status_looks == 4);
  CHECK(stats.totals.jobs_seen_terminal == 4);
  for (const auto& job : stats.jobs) CHECK(job.status_requests == 1);

  std::string many;
  for (int i = 0; i < 101; ++i) many += (many.empty() ? "x" : ",x") + std::to_string(i);
  for (const std::string& query : {"video_translation_ids=" + many, std::string("video_translation_ids="),
                                   std::string("other=1"), "video_translation_ids=" + list + "&token=bogus"}) {
    INFO("query: ", query);
    const auto error = v3_error(s.cli.Get("/v3/video-translations/statuses?" + query, v3_key), 400);
    CHECK(text(error, "code") == "invalid_parameter");
  }
}

TEST_CASE("simulator v3: failed jobs carry failure_message, and an error object in /statuses") {
  SimulatorConfig config = v3(0.05);
  config.error_probability = 1;
  Running s(config);
  const auto id = v3_create(s.cli, {"German"}).at(0);
  std::this_thread::sleep_for(100ms);
  const auto job = v3_job(s.cli, id);
  CHECK(text(job, "status") == "failed");
  CHECK(text(job, "failure_message") == std::string(detail::failure_message));
  CHECK(job.count("video_url") == 0);
  const auto entry =
      v3_statuses(s.cli, "video_translation_ids=" + id).at("data").get<picojson::array>().at(0).get<picojson::object>();
  CHECK(text(entry, "status") == "failed");
  CHECK(text(entry.at("error").get<picojson::object>(), "message") == std::string(detail::failure_message));
}

TEST_CASE("simulator v3: --max-concurrent refuses creates beyond the running jobs with 429 and Retry-After") {
  SimulatorConfig config = v3(0.4);
  config.max_concurrent_jobs = 2;
  Running s(config);
  CHECK(v3_create(s.cli, {"German", "Japanese"}).size() == 2);
  const auto over = s.cli.Post("/v3/video-translations", v3_key, v3_body({"English"}), "application/json");
  CHECK(text(v3_error(over, 429), "code") == "rate_limit_exceeded");
  CHECK(over->get_header_value("Retry-After") == "1");
  const auto never =
      s.cli.Post("/v3/video-translations", v3_key, v3_body({"English", "German", "Italian"}), "application/json");
  CHECK(text(v3_error(never, 400), "param") == "output_languages");
  std::this_thread::sleep_for(450ms);
  CHECK(v3_create(s.cli, {"English", "Italian"}).size() == 2);
  CHECK(s.sim.stats().totals.jobs == 4);
}

TEST_CASE("simulator v3: fault modes answer with the error envelope") {
  SimulatorConfig config = v3(0.05);
  SUBCASE("500") {
    config.faults.fail_5xx_rate = 1;
    Running s(config);
    for (const auto& res : {s.cli.Post("/v3/video-translations", v3_key, v3_body({"German"}), "application/json"),
                            s.cli.Get("/v3/video-translations/x", v3_key),
                            s.cli.Get("/v3/video-translations/statuses?video_translation_ids=x", v3_key)}) {
      CHECK(text(v3_error(res, 500), "code") == "internal_error");
    }
    CHECK(s.sim.stats().totals.faults.fail_5xx == 3);
  }
  SUBCASE("429 and 503 with Retry-After") {
    config.faults.throttle_rate = 0.5;
    config.faults.unavailable_rate = 0.5;
    config.faults.retry_after_s = 2;
    Running s(config);
    for (int i = 0; i < 6; ++i) {
      const auto res = s.cli.Get("/v3/video-translations/x", v3_key);
      REQUIRE(res);
      CHECK(text(v3_error(res, res->status), "code") ==
            (res->status == 429 ? "rate_limit_exceeded" : "service_unavailable"));
      CHECK(res->get_header_value("Retry-After") == "2");
    }
  }
  SUBCASE("malformed") {
    config.faults.malformed_rate = 1;
    Running s(config);
    const auto created = s.cli.Post("/v3/video-translations", v3_key, v3_body({"German"}), "application/json");
    REQUIRE(created);
    CHECK(created->status == 200);
    CHECK(unparseable(created->body));
    CHECK(s.sim.stats().totals.jobs == 1);
  }
  SUBCASE("drop") {
    config.faults.drop_rate = 1;
    Running s(config);
    CHECK_FALSE(s.cli.Get("/v3/video-translations/languages", v3_key));
  }
}

TEST_CASE("simulator v3: heygen-like durations, scaled; the v3 flags") {
  const auto parsed = parse({"--api", "heygen-v3", "--api-key", "k-1", "--max-concurrent", "10", "--statuses-page-size",
                             "5", "--duration", "heygen-like:0.001", "--seed", "3"});
  REQUIRE(parsed.ok());
  const auto& c = parsed.config;
  CHECK(c.api == Api::heygen_v3);
  CHECK(c.api_key == "k-1");
  CHECK(c.max_concurrent_jobs == 10);
  CHECK(c.statuses_page_size == 5);
  CHECK(c.duration.to_string() == "lognormal:480:0.5");
  CHECK(c.duration_scale == 0.001);
  const auto scaled = parse({"--duration-scale", "0.5", "--duration", "heygen-like"});
  REQUIRE(scaled.ok());
  CHECK(scaled.config.duration_scale == 0.5);
  CHECK(parse({}).config.api == Api::tracker);
  for (const auto& args : std::vector<std::vector<const char*>>{{"--api", "v2"},
                                                                {"--statuses-page-size", "0"},
                                                                {"--statuses-page-size", "101"},
                                                                {"--duration", "heygen-like:0"},
                                                                {"--duration", "heygen-like:x"},
                                                                {"--duration-scale", "0"}}) {
    INFO(std::string(args.front()), " ", std::string(args.back()));
    CHECK_FALSE(parse(args).ok());
  }

  SimulatorConfig config = v3(0);
  config.duration = DurationDistribution::heygen_like();
  config.duration_scale = 0.001;  // median 0.48 s
  config.seed = 3;
  Running s(config);
  v3_create(s.cli, {"English", "German", "Japanese", "Italian", "Korean", "Hindi", "Dutch", "Polish", "Turkish",
                    "Russian", "Swedish"});
  std::vector<double> seconds;
  for (const auto& job : s.sim.stats().jobs) seconds.push_back((job.completes_ms - job.created_ms) / 1000);
  REQUIRE(seconds.size() == 11);
  std::sort(seconds.begin(), seconds.end());
  CHECK(seconds[5] > 0.2);
  CHECK(seconds[5] < 1.0);
  CHECK(seconds.back() < 5.0);
}

// ---------------------------------------------------------------------------------------------------------
// Webhook pushes: a tiny receiver on loopback records what the simulator POSTs to the jobs' callback URLs.

namespace {

/// One request the receiver got.
struct Received {
  std::string path;
  std::string body;
  httplib::Headers headers;
  Clock::time_point at;

  /// A header's value, or "" when absent.
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

/// A webhook receiver on an ephemeral loopback port (HTTPS with the test certificate when `tls`). It answers
/// the statuses in `answers` to its first requests, then 200; held, it keeps each request until released.
class Receiver {
 public:
  explicit Receiver(std::deque<int> answers = {}, bool tls = false) : answers_(std::move(answers)) {
    if (tls) {
      server_ = std::make_unique<httplib::SSLServer>(HEYGEN_TEST_TLS_DIR "/cert.pem", HEYGEN_TEST_TLS_DIR "/key.pem");
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) { on_post(req, res); });
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(1ms);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() {
    release();
    server_->stop();
    thread_.join();
  }

  /// The URL of `path` on this receiver.
  std::string url(const std::string& path = "/hook") const {
    return std::string(tls() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  /// Keeps every request from now on until release().
  void hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  /// Lets held requests (and later ones) answer.
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  /// Waits (up to a generous bound: valgrind is slow) until `n` requests have arrived; returns them all.
  std::vector<Received> wait_for(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, 30s, [&] { return got_.size() >= n; });
    return got_;
  }
  /// What has arrived so far.
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }

 private:
  bool tls() const { return dynamic_cast<httplib::SSLServer*>(server_.get()) != nullptr; }

  void on_post(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu_);
    got_.push_back({req.path, req.body, req.headers, Clock::now()});
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    res.status = answers_.empty() ? 200 : answers_.front();
    if (!answers_.empty()) answers_.pop_front();
    res.set_content("{}", "application/json");
  }

  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> answers_;
  std::vector<Received> got_;
  bool held_ = false;
};

/// Lowercase hex HMAC-SHA256, computed here with OpenSSL (not with the simulator's helper).
std::string hmac_hex(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  std::string out;
  static constexpr char hex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

/// Waits (polling the stats, up to a generous bound) until `done` holds for them; returns the last snapshot.
SimulatorStats stats_when(const StatusSimulator& sim, const std::function<bool(const SimulatorStats&)>& done) {
  const auto give_up = Clock::now() + 30s;
  for (;;) {
    auto stats = sim.stats();
    if (done(stats) || Clock::now() > give_up) return stats;
    std::this_thread::sleep_for(2ms);
  }
}

/// A tracker config for push tests: instant jobs, quick retries.
SimulatorConfig pushing(double seconds = 0) {
  SimulatorConfig config = quick(seconds);
  config.webhooks.retry_backoff_s = 0.01;
  return config;
}

/// Creates a tracker job whose create body is `body`; returns its id.
std::string create_with(httplib::Client& cli, const std::string& body) {
  const auto res = cli.Post("/create_job", body, "application/json");
  REQUIRE(res);
  INFO("body: ", res->body);
  REQUIRE(res->status == 200);
  return text(object_of(res->body), "job_id");
}

/// A tracker create body naming a callback.
std::string callback_body(const std::string& url, const std::string& id = "") {
  picojson::object body;
  body["callback_url"] = picojson::value(url);
  if (!id.empty()) body["callback_id"] = picojson::value(id);
  return picojson::value(body).serialize();
}

/// The Unix time now, in seconds.
long long unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("simulator push: the tracker's final status answer, with job_id and callback_id, signed") {
  Receiver receiver;
  const long long before = unix_seconds();
  SUBCASE("completed, with a callback_id") {
    Running s(pushing(0.05));
    const std::string id = create_with(s.cli, callback_body(receiver.url("/hook?from=sim"), "cb-1"));
    const auto got = receiver.wait_for(1);
    REQUIRE(got.size() == 1);
    const auto& push = got[0];
    CHECK(push.path == "/hook");
    CHECK(push.body ==
          R"({"result":"completed","progress":1,"eta_seconds":0,"job_id":")" + id + R"(","callback_id":"cb-1"})");
    CHECK(push.header("Content-Type") == "application/json");
    const long long stamp = std::stoll(push.header("X-HeyGen-Timestamp"));
    CHECK(stamp >= before);
    CHECK(stamp <= unix_seconds());
    CHECK(push.header("X-HeyGen-Signature") == hmac_hex("sim-webhook-secret", push.body));
    // It went out once the job had ended, and the stats say when it was delivered.
    const auto stats =
        stats_when(s.sim, [](const SimulatorStats& t) { return t.jobs.at(0).push_delivered_ms.has_value(); });
    const auto& job = stats.jobs.at(0);
    REQUIRE(job.push_delivered_ms);
    CHECK(*job.push_delivered_ms >= job.completes_ms);
    CHECK(stats.totals.pushes.sent == 1);
    CHECK(stats.totals.pushes.failed + stats.totals.pushes.retries + stats.totals.pushes.lost == 0);
    const auto json = object_of(s.cli.Get("/stats")->body);
    CHECK(number(json.at("totals").get<picojson::object>(), "pushes_sent") == 1);
    CHECK(number(json.at("jobs").get<picojson::array>().at(0).get<picojson::object>(), "push_delivered_ms") >= 0);
  }
  SUBCASE("error, without a callback_id; core protocol fields only") {
    auto config = pushing(0);
    config.error_probability = 1;
    Running s(config);
    const std::string id = create_with(s.cli, callback_body(receiver.url()));
    REQUIRE(receiver.wait_for(1).size() == 1);
    CHECK(receiver.received()[0].body == R"({"result":"error","error_message":"simulated translation failure",)"
                                         R"("progress":1,"eta_seconds":0,"job_id":")" +
                                             id + R"("})");
    auto bare = pushing(0);
    bare.extra_fields = false;
    Running b(bare);
    const std::string other = create_with(b.cli, callback_body(receiver.url(), "cb-2"));
    REQUIRE(receiver.wait_for(2).size() == 2);
    CHECK(receiver.received()[1].body == R"({"result":"completed","job_id":")" + other + R"(","callback_id":"cb-2"})");
  }
  SUBCASE("no callback_url, no push") {
    Running s(pushing(0));
    create(s.cli);
    create_with(s.cli, R"({"callback_id":"only-an-id"})");
    create_with(s.cli, "not JSON: the body is ignored, as the seed's server does");
    CHECK(s.sim.stats().totals.jobs == 3);
    CHECK(receiver.received().empty());
  }
}

TEST_CASE("simulator push: the tracker's create refuses a callback it cannot use") {
  Running s(pushing(0));
  for (const std::string body :
       {R"({"callback_url":5})", R"({"callback_url":"http://127.0.0.1:1/","callback_id":[]})",
        R"({"callback_url":"ftp://127.0.0.1/x"})", R"({"callback_url":"http://"})",
        R"({"callback_url":"http://user@127.0.0.1/"})", R"({"callback_url":"http://127.0.0.1:99999/"})"}) {
    INFO("body: ", body);
    const auto res = s.cli.Post("/create_job", body, "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK_FALSE(text(object_of(res->body), "error").empty());
  }
  CHECK(s.sim.stats().totals.jobs == 0);
}

TEST_CASE("simulator push: HeyGen v3 events, success and fail") {
  Receiver receiver;
  SUBCASE("video_translate.success per language, with the URL the status answer gives") {
    SimulatorConfig config = v3(0.05);
    Running s(config);
    const auto ids =
        v3_create(s.cli, {"German", "Japanese"}, R"(,"callback_url":")" + receiver.url() + R"(","callback_id":"cb-7")");
    REQUIRE(ids.size() == 2);
    auto got = receiver.wait_for(2);
    REQUIRE(got.size() == 2);
    std::sort(got.begin(), got.end(), [](const Received& a, const Received& b) { return a.body < b.body; });
    const std::string origin = "http://127.0.0.1:" + std::to_string(s.sim.port());
    for (std::size_t i = 0; i < 2; ++i) {
      const auto event = object_of(got[i].body);
      const std::string url = text(event.at("event_data").get<picojson::object>(), "url");
      CHECK(url.rfind(origin + "/files/" + ids[i] + "/video.mp4?Expires=", 0) == 0);
      CHECK(got[i].body == R"({"event_type":"video_translate.success","event_data":{"video_translate_id":")" + ids[i] +
                               R"(","url":")" + url + R"(","callback_id":"cb-7","output_language":")" +
                               (i == 0 ? "German" : "Japanese") + R"("}})");
      CHECK(got[i].header("X-HeyGen-Signature").empty());  // per-job pushes come unsigned, as HeyGen sends them
      const std::string answered = text(v3_job(s.cli, ids[i]), "video_url");
      CHECK(answered.substr(0, answered.find("?Expires=")) == url.substr(0, url.find("?Expires=")));
    }
  }
  SUBCASE("video_translate.fail, callback_id null") {
    SimulatorConfig config = v3(0);
    config.error_probability = 1;
    Running s(config);
    const auto id = v3_create(s.cli, {"German"}, R"(,"callback_url":")" + receiver.url() + R"(")").at(0);
    REQUIRE(receiver.wait_for(1).size() == 1);
    CHECK(receiver.received()[0].body ==
          R"({"event_type":"video_translate.fail","event_data":{"video_translate_id":")" + id +
              R"(","message":"simulated translation failure","callback_id":null}})");
  }
  SUBCASE("a callback_url that is no URL is refused") {
    Running s(v3(0));
    const auto error = v3_error(s.cli.Post("/v3/video-translations", v3_key,
                                           v3_body({"German"}, R"(,"callback_url":"not a url")"), "application/json"),
                                400);
    CHECK(text(error, "param") == "callback_url");
  }
}

TEST_CASE("simulator push: signing options") {
  Receiver receiver;
  SUBCASE("timestamp-dot-body, another header, a secret of the caller's") {
    auto config = pushing(0);
    config.webhooks.signed_string = WebhookSigned::timestamp_dot_body;
    config.webhooks.signature_header = "Signature";
    config.webhooks.secret = "whsec-42";
    Running s(config);
    create_with(s.cli, callback_body(receiver.url()));
    const auto got = receiver.wait_for(1).at(0);
    CHECK(got.header("X-HeyGen-Signature").empty());
    CHECK(got.header("Signature") == hmac_hex("whsec-42", got.header("X-HeyGen-Timestamp") + "." + got.body));
  }
  SUBCASE("no secret: unsigned, the timestamp still sent") {
    auto config = pushing(0);
    config.webhooks.secret.clear();
    Running s(config);
    create_with(s.cli, callback_body(receiver.url()));
    const auto got = receiver.wait_for(1).at(0);
    CHECK_FALSE(got.headers.count("X-HeyGen-Signature"));
    CHECK_FALSE(got.header("X-HeyGen-Timestamp").empty());
  }
}

TEST_CASE("simulator push: faults at rate 1") {
  Receiver receiver;
  auto config = pushing(0);
  SUBCASE("lost: nothing is sent") {
    config.webhooks.lost_rate = 1;
    Running s(config);
    create_with(s.cli, callback_body(receiver.url()));
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.lost == 1; });
    CHECK(stats.totals.pushes.lost == 1);
    s.sim.stop();
    CHECK(receiver.received().empty());
    CHECK(s.sim.stats().totals.pushes.sent == 0);
    CHECK_FALSE(s.sim.stats().jobs.at(0).push_delivered_ms);
  }
  SUBCASE("duplicated: the same push twice") {
    config.webhooks.duplicate_rate = 1;
    Running s(config);
    create_with(s.cli, callback_body(receiver.url(), "cb"));
    const auto got = receiver.wait_for(2);
    REQUIRE(got.size() == 2);
    CHECK(got[0].body == got[1].body);
    for (const auto& push : got) CHECK(push.header("X-HeyGen-Signature") == hmac_hex("sim-webhook-secret", push.body));
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 2; });
    CHECK(stats.totals.pushes.duplicated == 1);
    CHECK(stats.totals.pushes.sent == 2);
  }
  SUBCASE("badly signed: a well-formed signature that does not verify") {
    config.webhooks.bad_signature_rate = 1;
    Running s(config);
    create_with(s.cli, callback_body(receiver.url()));
    const auto got = receiver.wait_for(1).at(0);
    const std::string signature = got.header("X-HeyGen-Signature");
    CHECK(signature.size() == 64);
    CHECK(signature != hmac_hex("sim-webhook-secret", got.body));
    CHECK(s.sim.stats().totals.pushes.bad_signature == 1);
  }
  SUBCASE("replayed: an earlier job's delivered push, byte for byte, after a later push") {
    config.webhooks.replay_rate = 1;
    Running s(config);
    const std::string first = create_with(s.cli, callback_body(receiver.url()));
    REQUIRE(receiver.wait_for(1).size() == 1);
    stats_when(s.sim, [](const SimulatorStats& t) { return t.jobs.at(0).push_delivered_ms.has_value(); });
    const std::string second = create_with(s.cli, callback_body(receiver.url()));
    const auto got = receiver.wait_for(3);
    REQUIRE(got.size() == 3);
    CHECK(got[0].body.find(first) != std::string::npos);
    CHECK(got[1].body.find(second) != std::string::npos);
    CHECK(got[2].body == got[0].body);
    for (const char* name : {"X-HeyGen-Timestamp", "X-HeyGen-Signature", "Content-Type"})
      CHECK(got[2].header(name) == got[0].header(name));
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 3; });
    CHECK(stats.totals.pushes.replayed == 1);
  }
  SUBCASE("delayed: each push within the delay of its job's end") {
    config.webhooks.max_delay_s = 0.2;
    Running s(config);
    for (int i = 0; i < 4; ++i) create_with(s.cli, callback_body(receiver.url()));
    REQUIRE(receiver.wait_for(4).size() == 4);
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 4; });
    for (const auto& job : stats.jobs) {
      REQUIRE(job.push_delivered_ms);
      CHECK(*job.push_delivered_ms >= job.completes_ms);
    }
  }
}

TEST_CASE("simulator push: a receiver that is down is retried, then given up") {
  auto config = pushing(0);
  SUBCASE("non-2xx answers: retried with doubling backoff, then counted failed") {
    Receiver receiver({503, 500, 503, 502});
    Running s(config);
    create_with(s.cli, callback_body(receiver.url()));
    const auto got = receiver.wait_for(4);
    REQUIRE(got.size() == 4);
    for (const auto& push : got) CHECK(push.body == got[0].body);
    CHECK(std::chrono::duration<double>(got[3].at - got[0].at).count() >= 0.07 - 0.005);  // 0.01 + 0.02 + 0.04
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.failed == 1; });
    CHECK(stats.totals.pushes.failed == 1);
    CHECK(stats.totals.pushes.retries == 3);
    CHECK(stats.totals.pushes.sent == 0);
    CHECK_FALSE(stats.jobs.at(0).push_delivered_ms);
  }
  SUBCASE("down, then up again: delivered on a retry") {
    Receiver receiver({500, 503});
    Running s(config);
    create_with(s.cli, callback_body(receiver.url()));
    REQUIRE(receiver.wait_for(3).size() == 3);
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 1; });
    CHECK(stats.totals.pushes.retries == 2);
    CHECK(stats.totals.pushes.failed == 0);
    CHECK(stats.jobs.at(0).push_delivered_ms);
  }
  SUBCASE("nobody listening: connection refused, retried, then counted failed") {
    std::string url;
    {
      Receiver gone;
      url = gone.url();
    }
    config.webhooks.retries = 2;
    Running s(config);
    create_with(s.cli, callback_body(url));
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.failed == 1; });
    CHECK(stats.totals.pushes.failed == 1);
    CHECK(stats.totals.pushes.retries == 2);
  }
}

TEST_CASE("simulator push: a job's delivery is noted before its push counts as sent") {
  // /stats reads both under the simulator's lock: a reader that sees the push sent must see when it was delivered.
  Receiver receiver;
  std::atomic<long long> sent_when_noted{-1};
  detail::PushSender sender(
      WebhookConfig{}, 1.0, 1, [](std::size_t, detail::PushBody) { return std::string("{}"); },
      [&](std::size_t, Clock::time_point) { sent_when_noted = static_cast<long long>(sender.counts().sent); });
  sender.schedule(0, detail::make_callback(receiver.url(), ""), Clock::now());
  REQUIRE(receiver.wait_for(1).size() == 1);
  const auto give_up = Clock::now() + 30s;
  while (sender.counts().sent == 0 && Clock::now() < give_up) std::this_thread::sleep_for(2ms);
  CHECK(sender.counts().sent == 1);
  CHECK(sent_when_noted.load() == 0);
}

TEST_CASE("simulator push: stop() returns promptly with pushes in flight and queued") {
  Receiver stalled;
  stalled.hold();
  Receiver down({503, 503, 503, 503});
  auto config = pushing(0);
  config.webhooks.retry_backoff_s = 60;
  config.webhooks.timeout_s = 30;
  std::unique_ptr<Running> s = std::make_unique<Running>(config);
  create_with(s->cli, callback_body(stalled.url()));
  create_with(s->cli, callback_body(down.url()));
  REQUIRE(stalled.wait_for(1).size() == 1);  // in flight: the receiver keeps it
  REQUIRE(down.wait_for(1).size() == 1);     // its retry waits a minute in the queue
  const auto start = Clock::now();
  s->sim.stop();
  CHECK(since(start) < 3.0);  // far below the 30 s timeout and the 60 s backoff; generous for valgrind
  const auto totals = s->sim.stats().totals;
  CHECK(totals.pushes.sent == 0);
  CHECK(totals.pushes.failed == 0);
  s.reset();
  stalled.release();
}

TEST_CASE("simulator push: https callback URLs, verified against a given certificate") {
  Receiver receiver({}, true);
  auto config = pushing(0);
  config.webhooks.ca_file = HEYGEN_TEST_TLS_DIR "/cert.pem";
  Running s(config);
  create_with(s.cli, callback_body(receiver.url(), "tls"));
  const auto got = receiver.wait_for(1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].body.find(R"("callback_id":"tls")") != std::string::npos);
  CHECK(stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 1; }).totals.pushes.sent == 1);

  // Without the certificate the receiver is not trusted: every attempt fails, and the push is given up.
  auto untrusting = pushing(0);
  untrusting.webhooks.retries = 1;
  Running u(untrusting);
  create_with(u.cli, callback_body(receiver.url()));
  const auto stats = stats_when(u.sim, [](const SimulatorStats& t) { return t.totals.pushes.failed == 1; });
  CHECK(stats.totals.pushes.failed == 1);
  CHECK(stats.totals.pushes.retries == 1);
  CHECK(receiver.received().size() == 1);
}

TEST_CASE("simulator push: the webhook flags, and HEYGEN_WEBHOOK_SECRET") {
  const auto parsed = parse({"--webhook-secret",
                             "s3",
                             "--webhook-signature-header",
                             "Signature",
                             "--webhook-signed",
                             "timestamp-dot-body",
                             "--webhook-lost",
                             "0.1",
                             "--webhook-duplicate",
                             "0.2",
                             "--webhook-delay",
                             "1.5",
                             "--webhook-bad-signature",
                             "0.3",
                             "--webhook-replay",
                             "0.4",
                             "--webhook-retries",
                             "5",
                             "--webhook-backoff",
                             "0.5",
                             "--webhook-timeout",
                             "2",
                             "--webhook-senders",
                             "3",
                             "--webhook-ca-file",
                             "ca.pem"});
  REQUIRE(parsed.ok());
  const auto& w = parsed.config.webhooks;
  CHECK(w.enabled);
  CHECK(w.secret == "s3");
  CHECK(w.signature_header == "Signature");
  CHECK(w.signed_string == WebhookSigned::timestamp_dot_body);
  CHECK(w.lost_rate == 0.1);
  CHECK(w.duplicate_rate == 0.2);
  CHECK(w.max_delay_s == 1.5);
  CHECK(w.bad_signature_rate == 0.3);
  CHECK(w.replay_rate == 0.4);
  CHECK(w.retries == 5);
  CHECK(w.retry_backoff_s == 0.5);
  CHECK(w.timeout_s == 2);
  CHECK(w.senders == 3);
  CHECK(w.ca_file == "ca.pem");
  CHECK_FALSE(parse({"--no-webhooks"}).config.webhooks.enabled);
  CHECK(parse({}).config.webhooks.secret == "sim-webhook-secret");
  CHECK(parse({"--webhook-secret="}).config.webhooks.secret.empty());
  ::setenv("HEYGEN_WEBHOOK_SECRET", "from-env", 1);
  CHECK(parse({}).config.webhooks.secret == "from-env");
  CHECK(parse({"--webhook-secret", "flag"}).config.webhooks.secret == "flag");
  ::unsetenv("HEYGEN_WEBHOOK_SECRET");
  CHECK(usage().find("--webhook-replay") != std::string::npos);
  for (const auto& args : std::vector<std::vector<const char*>>{{"--webhook-signed", "header"},
                                                                {"--webhook-lost", "2"},
                                                                {"--webhook-signature-header", "Bad Header"},
                                                                {"--webhook-signature-header="},
                                                                {"--webhook-retries", "21"},
                                                                {"--webhook-senders", "0"},
                                                                {"--webhook-timeout", "0"},
                                                                {"--webhook-delay", "-1"}}) {
    INFO(std::string(args.front()), " ", std::string(args.back()));
    CHECK_FALSE(parse(args).ok());
  }
}

TEST_CASE("simulator push: callback URLs") {
  const auto parsed = detail::parse_callback_url("HTTP://[::1]:8080/a/b?c=d#frag");
  REQUIRE(parsed);
  CHECK_FALSE(parsed->tls);
  CHECK(parsed->host == "::1");
  CHECK(parsed->port == 8080);
  CHECK(parsed->path == "/a/b?c=d");
  const auto bare = detail::parse_callback_url("http://example.com?x=1");
  REQUIRE(bare);
  CHECK(bare->port == 80);
  CHECK(bare->path == "/?x=1");
  const auto secure = detail::parse_callback_url("https://example.com");
  REQUIRE(secure);
  CHECK(secure->tls);
  CHECK(secure->port == 443);
  CHECK(secure->path == "/");
  for (const char* bad : {"", "example.com/hook", "http://", "http://:80/", "http://a:0/", "http://a:x/", "http://a:/",
                          "http://[::1/", "http://a b/", "http://u:p@a/", "ftp://a/"}) {
    INFO(bad);
    CHECK_FALSE(detail::parse_callback_url(bad));
  }
  CHECK(detail::hmac_sha256_hex("key", "The quick brown fox jumps over the lazy dog") ==
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

// ---------------------------------------------------------------------------------------------------------
// HeyGen's webhooks as HeyGen sends them: unsigned per-job callbacks, registered endpoints signed with their own
// secrets, and forged pushes for clients that must not trust an unsigned one.

namespace {

/// The `data` of a webhook endpoints call that must answer 200.
picojson::object endpoint_call(httplib::Client& cli, const std::string& method, const std::string& path,
                               const std::string& body = "") {
  const std::string full = "/v3/webhooks/endpoints" + path;
  httplib::Result res = method == "PATCH"    ? cli.Patch(full, v3_key, body, "application/json")
                        : method == "DELETE" ? cli.Delete(full, v3_key)
                        : method == "GET"    ? cli.Get(full, v3_key)
                                             : cli.Post(full, v3_key, body, "application/json");
  return v3_data(res);
}

/// Registers an endpoint at `url` taking `events` (JSON text); returns the answer's data.
picojson::object register_endpoint(httplib::Client& cli, const std::string& url, const std::string& events = "null") {
  return endpoint_call(cli, "POST", "", R"({"url":")" + url + R"(","events":)" + events + "}");
}

/// The events member of an endpoint, as JSON text.
std::string events_of(const picojson::object& endpoint) { return endpoint.at("events").serialize(); }

}  // namespace

TEST_CASE("simulator push: in HeyGen mode, per-job pushes go unsigned as HeyGen sends them, unless asked signed") {
  Receiver receiver;
  SimulatorConfig config = v3(0);
  SUBCASE("unsigned by default in HeyGen mode: no signature, no timestamp, the callback_id echoed") {
    Running s(config);
    const auto id =
        v3_create(s.cli, {"German"}, R"(,"callback_url":")" + receiver.url() + R"(","callback_id":"cb-9")").at(0);
    const auto got = receiver.wait_for(1).at(0);
    CHECK_FALSE(got.headers.count("X-HeyGen-Signature"));
    CHECK_FALSE(got.headers.count("X-HeyGen-Timestamp"));
    const auto data = object_of(got.body).at("event_data").get<picojson::object>();
    CHECK(text(data, "callback_id") == "cb-9");
    CHECK(text(data, "video_translate_id") == id);
  }
  SUBCASE("signed when asked") {
    config.webhooks.callback_signing = CallbackSigning::hmac;
    Running s(config);
    v3_create(s.cli, {"German"}, R"(,"callback_url":")" + receiver.url() + R"(","callback_id":"cb-9")");
    const auto got = receiver.wait_for(1).at(0);
    CHECK(got.header("X-HeyGen-Signature") == hmac_hex("sim-webhook-secret", got.body));
  }
  CHECK(parse({"--heygen-callback-signing", "unsigned"}).config.webhooks.callback_signing == CallbackSigning::none);
  CHECK(parse({"--heygen-callback-signing", "signed"}).config.webhooks.callback_signing == CallbackSigning::hmac);
  CHECK_FALSE(parse({}).config.webhooks.callback_signing.has_value());
  // Unset, as the real server sends them: HeyGen unsigned, the tracker signed.
  CHECK(parse({"--api", "heygen-v3"}).config.callback_signing_of() == CallbackSigning::none);
  CHECK(parse({}).config.callback_signing_of() == CallbackSigning::hmac);
  CHECK(parse({"--api", "heygen-v3", "--heygen-callback-signing", "signed"}).config.callback_signing_of() ==
        CallbackSigning::hmac);
  CHECK_FALSE(parse({"--heygen-callback-signing", "maybe"}).ok());
}

TEST_CASE("simulator v3: webhook endpoints are registered, listed in pages, updated, rotated and deleted") {
  Running s(v3(1));
  const auto made = register_endpoint(s.cli, "https://example.com/a", R"(["video_translate.success"])");
  const std::string id = text(made, "endpoint_id");
  CHECK_FALSE(id.empty());
  CHECK(text(made, "url") == "https://example.com/a");
  CHECK(text(made, "status") == "enabled");
  CHECK(events_of(made) == R"(["video_translate.success"])");
  CHECK(text(made, "created_at").size() == 20);  // 2026-07-01T12:00:00Z
  const std::string secret = text(made, "secret");
  CHECK(secret.size() > 16);
  CHECK(text(register_endpoint(s.cli, "http://127.0.0.1:9/b"), "secret") != secret);
  register_endpoint(s.cli, "http://127.0.0.1:9/c");

  SUBCASE("listed without secrets, in pages") {
    const auto first = s.cli.Get("/v3/webhooks/endpoints?limit=2", v3_key);
    REQUIRE(first);
    const auto page = object_of(first->body);
    const auto& entries = page.at("data").get<picojson::array>();
    REQUIRE(entries.size() == 2);
    CHECK(text(entries[0].get<picojson::object>(), "endpoint_id") == id);
    CHECK(entries[0].get<picojson::object>().count("secret") == 0);
    CHECK(events_of(entries[1].get<picojson::object>()) == "null");
    CHECK(page.at("has_more").get<bool>());
    const auto second = s.cli.Get("/v3/webhooks/endpoints?limit=2&token=" + text(page, "next_token"), v3_key);
    REQUIRE(second);
    const auto rest = object_of(second->body);
    CHECK(rest.at("data").get<picojson::array>().size() == 1);
    CHECK_FALSE(rest.at("has_more").get<bool>());
    CHECK(rest.at("next_token").is<picojson::null>());
  }
  SUBCASE("updated: url and events replaced, the secret kept and not shown") {
    const auto updated =
        endpoint_call(s.cli, "PATCH", "/" + id, R"({"url":"https://example.com/z","events":["video_translate.fail"]})");
    CHECK(text(updated, "url") == "https://example.com/z");
    CHECK(events_of(updated) == R"(["video_translate.fail"])");
    CHECK(updated.count("secret") == 0);
    CHECK(events_of(endpoint_call(s.cli, "PATCH", "/" + id, R"({"events":null})")) == "null");
  }
  SUBCASE("rotated: a new secret, shown once") {
    const auto rotated = endpoint_call(s.cli, "POST", "/" + id + "/rotate-secret");
    CHECK(text(rotated, "endpoint_id") == id);
    CHECK_FALSE(text(rotated, "secret").empty());
    CHECK(text(rotated, "secret") != secret);
  }
  SUBCASE("deleted: gone from the list, then not_found") {
    CHECK(endpoint_call(s.cli, "DELETE", "/" + id).empty());
    const auto listed = s.cli.Get("/v3/webhooks/endpoints", v3_key);
    REQUIRE(listed);
    CHECK(object_of(listed->body).at("data").get<picojson::array>().size() == 2);
    v3_error(s.cli.Delete("/v3/webhooks/endpoints/" + id, v3_key), 404);
  }
}

TEST_CASE("simulator v3: webhook endpoints refuse bad bodies, unknown ids and missing keys") {
  Running s(v3(1));
  const std::string path = "/v3/webhooks/endpoints";
  for (const char* body : {R"({"events":null})", R"({"url":"ftp://example.com"})", R"({"url":5})", "[]",
                           R"({"url":"http://127.0.0.1:9/","events":[]})",
                           R"({"url":"http://127.0.0.1:9/","events":["video_translate.done"]})",
                           R"({"url":"http://127.0.0.1:9/","events":"video_translate.fail"})"}) {
    INFO(body);
    const auto error = v3_error(s.cli.Post(path, v3_key, body, "application/json"), 400);
    CHECK(text(error, "code") == "invalid_parameter");
  }
  CHECK(text(v3_error(s.cli.Post(path, v3_key, R"({"url":1})", "application/json"), 400), "param") == "url");
  CHECK(text(v3_error(s.cli.Get(path + "?limit=101", v3_key), 400), "param") == "limit");
  CHECK(text(v3_error(s.cli.Get(path + "?token=nope", v3_key), 400), "param") == "token");
  CHECK(text(v3_error(s.cli.Post(path, R"({"url":"http://127.0.0.1:9/"})", "application/json"), 401), "code") ==
        "unauthorized");
  CHECK(text(v3_error(s.cli.Get(path), 401), "code") == "unauthorized");
  CHECK(text(v3_error(s.cli.Patch(path + "/ep_404", v3_key, "{}", "application/json"), 404), "code") == "not_found");
  CHECK(text(v3_error(s.cli.Post(path + "/ep_404/rotate-secret", v3_key, "", "application/json"), 404), "code") ==
        "not_found");
  v3_error(s.cli.Delete(path + "/" + std::string(100, 'a'), v3_key), 404);
  const std::string id = text(register_endpoint(s.cli, "http://127.0.0.1:9/"), "endpoint_id");
  CHECK(text(v3_error(s.cli.Patch(path + "/" + id, v3_key, R"({"url":"x"})", "application/json"), 400), "param") ==
        "url");
}

TEST_CASE("simulator push: registered endpoints get the events they take, signed with their own secrets") {
  Receiver all, success_only, fail_only, per_job;
  SimulatorConfig config = v3(0.05);
  config.webhooks.callback_signing = CallbackSigning::none;
  config.webhooks.retry_backoff_s = 0.01;
  Running s(config);
  const std::string secret = text(register_endpoint(s.cli, all.url("/all")), "secret");
  const std::string success_secret =
      text(register_endpoint(s.cli, success_only.url(), R"(["video_translate.success"])"), "secret");
  register_endpoint(s.cli, fail_only.url(), R"(["video_translate.fail"])");
  const auto id =
      v3_create(s.cli, {"German"}, R"(,"callback_url":")" + per_job.url() + R"(","callback_id":"cb-e")").at(0);
  const auto got = all.wait_for(1).at(0);
  CHECK(got.path == "/all");
  CHECK(got.header("X-HeyGen-Signature") == hmac_hex(secret, got.body));
  CHECK_FALSE(got.header("X-HeyGen-Timestamp").empty());
  const auto event = object_of(got.body);
  CHECK(text(event, "event_type") == "video_translate.success");
  CHECK(text(event.at("event_data").get<picojson::object>(), "video_translate_id") == id);
  const auto other = success_only.wait_for(1).at(0);
  CHECK(other.body == got.body);
  CHECK(other.header("X-HeyGen-Signature") == hmac_hex(success_secret, other.body));
  const auto own = per_job.wait_for(1).at(0);
  // The per-job push is its own event, built when it is due: its URL is presigned afresh, so only the query differs.
  const auto unsigned_url = [](std::string body) {
    const auto query = body.find("?Expires=");
    return query == std::string::npos ? body : body.erase(query, body.find('"', query) - query);
  };
  CHECK(unsigned_url(own.body) == unsigned_url(got.body));
  CHECK_FALSE(own.headers.count("X-HeyGen-Signature"));
  const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 3; });
  CHECK(stats.totals.pushes.sent == 3);
  s.sim.stop();
  CHECK(fail_only.received().empty());
}

TEST_CASE("simulator push: endpoint pushes have the faults of per-job pushes") {
  SimulatorConfig config = v3(0);
  config.webhooks.retry_backoff_s = 0.01;
  SUBCASE("duplicated and badly signed") {
    Receiver receiver;
    config.webhooks.duplicate_rate = 1;
    config.webhooks.bad_signature_rate = 1;
    Running s(config);
    const std::string secret = text(register_endpoint(s.cli, receiver.url()), "secret");
    v3_create(s.cli, {"German"});
    const auto got = receiver.wait_for(2);
    REQUIRE(got.size() == 2);
    CHECK(got[0].body == got[1].body);
    CHECK(got[0].header("X-HeyGen-Signature").size() == 64);
    CHECK(got[0].header("X-HeyGen-Signature") != hmac_hex(secret, got[0].body));
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 2; });
    CHECK(stats.totals.pushes.duplicated == 1);
    CHECK(stats.totals.pushes.bad_signature == 1);
  }
  SUBCASE("lost") {
    Receiver receiver;
    config.webhooks.lost_rate = 1;
    Running s(config);
    register_endpoint(s.cli, receiver.url());
    v3_create(s.cli, {"German"});
    CHECK(stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.lost == 1; }).totals.pushes.lost == 1);
    s.sim.stop();
    CHECK(receiver.received().empty());
  }
  SUBCASE("receiver down: retried, then delivered") {
    Receiver receiver({503, 500});
    Running s(config);
    register_endpoint(s.cli, receiver.url());
    v3_create(s.cli, {"German"});
    REQUIRE(receiver.wait_for(3).size() == 3);
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 1; });
    CHECK(stats.totals.pushes.retries == 2);
    CHECK(stats.jobs.at(0).push_delivered_ms);
  }
  SUBCASE("delayed: within the delay of the job's end") {
    Receiver receiver;
    config.webhooks.max_delay_s = 0.2;
    Running s(config);
    register_endpoint(s.cli, receiver.url());
    v3_create(s.cli, {"German", "Japanese"});
    REQUIRE(receiver.wait_for(2).size() == 2);
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 2; });
    for (const auto& job : stats.jobs) CHECK(*job.push_delivered_ms >= job.completes_ms);
  }
  SUBCASE("a deleted endpoint gets nothing; a rotated one is signed with its new secret") {
    Receiver gone, rotated;
    Running s(config);
    const std::string id = text(register_endpoint(s.cli, gone.url()), "endpoint_id");
    const std::string other = text(register_endpoint(s.cli, rotated.url()), "endpoint_id");
    endpoint_call(s.cli, "DELETE", "/" + id);
    const std::string secret = text(endpoint_call(s.cli, "POST", "/" + other + "/rotate-secret"), "secret");
    v3_create(s.cli, {"German"});
    const auto got = rotated.wait_for(1).at(0);
    CHECK(got.header("X-HeyGen-Signature") == hmac_hex(secret, got.body));
    s.sim.stop();
    CHECK(gone.received().empty());
  }
}

TEST_CASE("simulator push: forged pushes, sent while the job runs, counted in /stats") {
  Receiver receiver;
  SimulatorConfig config = v3(0.6);
  config.webhooks.callback_signing = CallbackSigning::none;
  const std::string extra = R"(,"callback_url":")" + receiver.url() + R"(","callback_id":"cb-f")";
  SUBCASE("a wrong or missing callback_id") {
    config.webhooks.forged_callback_id_rate = 1;
    Running s(config);
    const auto id = v3_create(s.cli, {"German"}, extra).at(0);
    const auto forged = receiver.wait_for(1).at(0);
    CHECK(text(v3_job(s.cli, id), "status") != "completed");  // sent while the job still runs
    const auto data = object_of(forged.body).at("event_data").get<picojson::object>();
    CHECK(text(data, "video_translate_id") == id);
    CHECK(text(data, "callback_id") != "cb-f");
    CHECK_FALSE(forged.headers.count("X-HeyGen-Signature"));
    const auto real = receiver.wait_for(2).at(1);
    CHECK(text(object_of(real.body).at("event_data").get<picojson::object>(), "callback_id") == "cb-f");
    const auto stats = stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.sent == 2; });
    CHECK(stats.totals.pushes.forged == 1);
    CHECK(s.sim.stats_json().find(R"("pushes_forged":1)") != std::string::npos);
  }
  SUBCASE("the right callback_id with a false outcome") {
    config.webhooks.forged_outcome_rate = 1;
    config.error_probability = 1;
    Running s(config);
    const auto id = v3_create(s.cli, {"German"}, extra).at(0);
    const auto forged = receiver.wait_for(1).at(0);
    CHECK(text(v3_job(s.cli, id), "status") == "running");
    const auto event = object_of(forged.body);
    CHECK(text(event, "event_type") == "video_translate.success");  // the job will fail
    CHECK(text(event.at("event_data").get<picojson::object>(), "callback_id") == "cb-f");
    const auto real = receiver.wait_for(2).at(1);
    CHECK(text(object_of(real.body), "event_type") == "video_translate.fail");
    CHECK(stats_when(s.sim, [](const SimulatorStats& t) { return t.totals.pushes.forged == 1; }).totals.pushes.forged ==
          1);
  }
  SUBCASE("the flags") {
    const auto parsed = parse({"--webhook-forged-callback-id", "0.25", "--webhook-forged-outcome", "0.5"});
    REQUIRE(parsed.ok());
    CHECK(parsed.config.webhooks.forged_callback_id_rate == 0.25);
    CHECK(parsed.config.webhooks.forged_outcome_rate == 0.5);
    CHECK_FALSE(parse({"--webhook-forged-outcome", "1.5"}).ok());
  }
}
