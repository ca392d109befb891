// The demo: starts the simulator in-process (or uses --url), creates a batch of jobs, tracks them all with a
// live progress line, and prints a table per job with the server's measured detection lag.
//
//   demo [--jobs N] [--min S] [--max S] [--error-rate P] [--seed N] [--url URL]
//
// The last line is always: summary: jobs=N completed=C failed=F timeout=T requests_per_job=R lag_p95_ms=L
#include <heygen/video_translation.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "status_simulator.hpp"

namespace {

/// What the demo was asked to do.
struct DemoArgs {
  int jobs = 20;
  double min_s = 1.0;
  double max_s = 5.0;
  double error_rate = 0.1;
  std::uint64_t seed = 1;
  std::string url;  // empty: start the embedded simulator
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: demo [--jobs N] [--min S] [--max S] [--error-rate P] [--seed N] [--url URL]\n"
               "  --jobs N        jobs to create and track (default 20)\n"
               "  --min/--max S   job durations, uniform in [min, max] seconds (default 1..5)\n"
               "  --error-rate P  share of jobs the simulator fails (default 0.1)\n"
               "  --seed N        simulator random seed (default 1)\n"
               "  --url URL       track jobs on this server instead of the embedded simulator\n");
}

std::optional<double> number(const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<DemoArgs> parse(int argc, char** argv) {
  DemoArgs args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) return std::nullopt;
    const char* value = argv[++i];
    const auto n = number(value);
    if (flag == "--url")
      args.url = value;
    else if (flag == "--jobs" && n && *n >= 1 && *n <= 100000)
      args.jobs = static_cast<int>(*n);
    else if (flag == "--min" && n && *n >= 0)
      args.min_s = *n;
    else if (flag == "--max" && n && *n >= 0)
      args.max_s = *n;
    else if (flag == "--error-rate" && n && *n >= 0 && *n <= 1)
      args.error_rate = *n;
    else if (flag == "--seed" && n && *n >= 0)
      args.seed = static_cast<std::uint64_t>(*n);
    else
      return std::nullopt;
  }
  if (args.max_s < args.min_s) return std::nullopt;
  return args;
}

/// Shows progress on one rewritten line on a terminal, or a plain line per result otherwise.
class ProgressView {
 public:
  ProgressView() : terminal_(isatty(fileno(stdout)) != 0) {}

  void update(const std::string& job_id, const heygen::TranslationResult& result, heygen::BulkProgress progress) {
    ++counts_[result.status];
    if (terminal_) {
      std::printf("\r  tracking: %zu/%zu done  completed=%d failed=%d timeout=%d ", progress.done, progress.total,
                  counts_[heygen::TranslationStatus::completed], counts_[heygen::TranslationStatus::error],
                  counts_[heygen::TranslationStatus::timeout]);
      if (progress.done == progress.total) std::printf("\n");
    } else {
      std::printf("  [%zu/%zu] %s %s\n", progress.done, progress.total, job_id.c_str(),
                  std::string(heygen::to_string(result.status)).c_str());
    }
    std::fflush(stdout);
  }

 private:
  bool terminal_;
  std::map<heygen::TranslationStatus, int> counts_;
};

/// The server's view of each job's detection lag, when the server is our simulator.
std::map<std::string, double> server_lags(const heygen::sim::StatusSimulator* simulator) {
  std::map<std::string, double> lags;
  if (simulator == nullptr) return lags;
  for (const auto& job : simulator->stats().jobs)
    if (job.lag_ms) lags[job.job_id] = *job.lag_ms;
  return lags;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

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

  ProgressView view;
  const auto results = client.get_bulk_translation_statuses(
      ids, ids.size(), {},
      [&view](const std::string& id, const auto& result, auto progress) { view.update(id, result, progress); });
  const auto lags = server_lags(simulator.get());

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
              percentile(lag_values, 0.95));
  return completed + failed + timed_out == static_cast<int>(results.size()) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = parse(argc, argv);
  if (!args) {
    usage(stderr);
    return 2;
  }
  try {
    return run(*args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: %s\n", e.what());
    return 1;
  }
}
