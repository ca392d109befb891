// Integration tests of the status simulator: each case starts it in-process on an ephemeral port and talks to
// it with a plain httplib::Client, so what is checked is the wire protocol clients will see.
#include "status_simulator.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <picojson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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
    Running s(v3(0.1));
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
