// bench/polling: how many requests and how much detection lag each polling strategy costs.
//
// Virtual mode (default): runs the real client and policy code against a fake transport and a fake clock,
// 10,000 jobs per workload × strategy, in milliseconds of real time. Lag = virtual time from a job's
// completion to the answer that first reported it. Prints a table, or CSV with --csv.
// Real mode (--real): see polling_real.hpp — the same strategies over loopback against the simulator.
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../tests/fakes.hpp"
#include "polling_common.hpp"

namespace {

using namespace heygen;
using heygen::testing::FakeClock;
using heygen::testing::FakeTransport;

/// What the fake server knows about the job being tracked.
struct FakeJob {
  TimePoint done_at{};
  double duration_s = 0;
  double eta_factor = 1;      // this job's eta error, fixed at creation as a real estimate's would be
  bool reported = false;
  double lag_s = 0;
};

/// What the fake server offers.
struct ServerKind {
  bool hints = false;
  bool long_poll = false;
};

/// Answers a status request from the job's virtual timeline; holds long polls by moving the clock.
HttpResponse answer_status(const HttpRequest& request, FakeJob& job, FakeClock& clock, ServerKind server) {
  const auto wait_at = request.target.find("wait=");
  if (server.long_poll && wait_at != std::string::npos) {
    const double hold = std::clamp(std::atof(request.target.c_str() + wait_at + 5), 0.0, 60.0);
    const TimePoint until = std::min(job.done_at, clock.now() + std::chrono::duration_cast<TimePoint::duration>(Seconds(hold)));
    if (until > clock.now()) clock.sleep_until(until, {});
  }
  const TimePoint now = clock.now();
  HttpResponse response;
  response.status = 200;
  if (now >= job.done_at) {
    if (!job.reported) {
      job.reported = true;
      job.lag_s = Seconds(now - job.done_at).count();
    }
    response.body = R"({"result": "completed"})";
    return response;
  }
  if (!server.hints) {
    response.body = R"({"result": "pending"})";
    return response;
  }
  const double remaining = Seconds(job.done_at - now).count();
  const double progress = 1.0 - remaining / job.duration_s;
  char body[160];
  std::snprintf(body, sizeof body, R"({"result": "pending", "progress": %.6f, "eta_seconds": %.3f})", progress,
                remaining * job.eta_factor);
  response.body = body;
  return response;
}

/// The client options a strategy stands for.
ClientOptions strategy_options(const std::string& strategy, std::function<double()> random) {
  ClientOptions options;
  options.base_url = "http://127.0.0.1:1";
  options.max_timeout = Seconds(1e6);
  options.random = std::move(random);
  PollPolicy& policy = options.polling;
  const bool baseline = strategy == "fixed-1s" || strategy == "seed";
  if (baseline || strategy == "cold") {
    policy.learn = false;
    policy.use_hints = false;
    policy.long_poll = Seconds(0);
  }
  if (strategy == "warm") policy.long_poll = Seconds(0);
  if (strategy == "hints") policy.long_poll = Seconds(0);
  if (strategy == "fixed-1s") {
    policy.initial_interval = policy.cold_cap = policy.max_interval = Seconds(1);
    policy.multiplier = 1;
    policy.jitter = 0;
  }
  if (strategy == "seed") {  // the Python seed: 0.5 s doubling, capped at 30 s, × U(0.5, 1)
    policy.initial_interval = Seconds(0.5);
    policy.multiplier = 2;
    policy.cold_cap = Seconds(30);
    policy.jitter = 0.5;
    policy.lag_ratio = 1e-9;  // no age rule
  }
  return options;
}

/// Runs `jobs` jobs one after another through one client; returns requests and lags of the measured ones.
bench::Figures run(const bench::Workload& workload, const std::string& strategy, int jobs, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const ServerKind server{strategy == "hints" || strategy == "long-poll", strategy == "long-poll"};
  FakeClock clock;
  FakeTransport transport;
  FakeJob job;
  transport.otherwise([&](const HttpRequest& request) { return answer_status(request, job, clock, server); });
  BasicVideoTranslationClient<FakeTransport, FakeClock> client(
      strategy_options(strategy, [&] { return unit(rng); }), transport, clock);
  const int warmup = strategy == "warm" || strategy == "hints" || strategy == "long-poll" ? 500 : 0;
  bench::Figures figures;
  figures.jobs = jobs;
  for (int i = 0; i < warmup + jobs; ++i) {
    job = FakeJob{};
    job.duration_s = workload.draw(rng);
    job.eta_factor = 0.8 + 0.4 * unit(rng);
    job.done_at = clock.now() + std::chrono::duration_cast<TimePoint::duration>(Seconds(job.duration_s));
    const TranslationResult result = client.get_translation_status("job");
    if (i < warmup) continue;
    figures.requests += result.requests;
    figures.lags.push_back(job.lag_s);
    clock.advance(std::chrono::milliseconds(1));
  }
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  bool csv = false;
  int jobs = 10000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--csv") == 0) csv = true;
    else if (std::strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) jobs = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [--csv] [--jobs N]\n", argv[0]);
      return 2;
    }
  }
  bench::Table table(csv);
  std::uint64_t seed = 1;
  for (const auto& workload : bench::workloads())
    for (const std::string strategy : {"fixed-1s", "seed", "cold", "warm", "hints", "long-poll"})
      table.row(workload.name, strategy, run(workload, strategy, jobs, seed++));
  return 0;
}
