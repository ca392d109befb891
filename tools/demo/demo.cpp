// The demo: starts the simulator in-process (or uses --url), creates a batch of jobs, tracks them all with a
// live progress line, and prints a table per job with the server's measured detection lag.
//
//   demo [--jobs N] [--min S] [--max S] [--error-rate P] [--seed N] [--url URL]
//
// The last line is always: summary: jobs=N completed=C failed=F timeout=T requests_per_job=R lag_p95_ms=L
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "args.hpp"
#include "status_simulator.hpp"
#include "view.hpp"

namespace {

using demo::DemoArgs;

/// Runs the demo; 0 when every job ended (completed, failed or timed out).
int run(const DemoArgs& args) {
  std::unique_ptr<heygen::sim::StatusSimulator> simulator;
  std::string url = args.url;
  if (url.empty()) {
    heygen::sim::SimulatorConfig config;
    config.duration = heygen::sim::DurationDistribution::uniform(args.min_s, args.max_s);
    config.error_probability = args.error_rate;
    config.seed = args.seed;
    simulator = std::make_unique<heygen::sim::StatusSimulator>(config);
    simulator->start();
    url = simulator->base_url();
    std::printf("simulator: %s (jobs of %.1f-%.1f s, %.0f%% fail)\n", url.c_str(), args.min_s, args.max_s,
                args.error_rate * 100);
  }

  heygen::ClientOptions options;
  options.base_url = url;
  options.max_timeout = heygen::Seconds(std::max(60.0, args.max_s * 3));
  options.connection_pool_size = static_cast<std::size_t>(args.jobs);
  heygen::VideoTranslationClient client(options);

  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(args.jobs));
  for (int i = 0; i < args.jobs; ++i) ids.push_back(client.create_translation_job());
  std::printf("created %d jobs; tracking them\n", args.jobs);

  demo::ProgressView view;
  const auto results = client.get_bulk_translation_statuses(
      ids, ids.size(), {},
      [&view](const std::string& id, const auto& result, auto progress) { view.update(id, result, progress); });
  const auto lags = demo::server_lags(simulator.get());

  std::printf("\n%-14s %-10s %-16s %9s %12s\n", "job", "outcome", "cause", "requests", "lag ms");
  int completed = 0, failed = 0, timed_out = 0, requests = 0;
  std::vector<double> lag_values;
  for (const auto& [id, result] : results) {
    completed += result.status == heygen::TranslationStatus::completed;
    failed += result.status == heygen::TranslationStatus::error;
    timed_out += result.status == heygen::TranslationStatus::timeout;
    requests += result.requests;
    const auto lag = lags.find(id);
    if (lag != lags.end()) lag_values.push_back(lag->second);
    std::printf("%-14s %-10s %-16s %9d %12s\n", id.c_str(), std::string(heygen::to_string(result.status)).c_str(),
                std::string(heygen::to_string(result.cause)).c_str(), result.requests,
                lag == lags.end() ? "-" : std::to_string(static_cast<long>(std::lround(lag->second))).c_str());
  }
  if (simulator) simulator->stop();
  std::printf("summary: jobs=%zu completed=%d failed=%d timeout=%d requests_per_job=%.2f lag_p95_ms=%.0f\n",
              results.size(), completed, failed, timed_out,
              results.empty() ? 0.0 : static_cast<double>(requests) / static_cast<double>(results.size()),
              demo::percentile(lag_values, 0.95));
  return completed + failed + timed_out == static_cast<int>(results.size()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = demo::parse(argc, argv);
  if (!args) {
    demo::usage(stderr);
    return 2;
  }
  try {
    return run(*args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: %s\n", e.what());
    return 1;
  }
}
