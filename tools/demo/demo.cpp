// The demo: starts the simulator in-process (or uses --url), creates a batch of jobs, tracks them all with a
// live progress line, and prints a table per job with the server's measured detection lag. With
// --api heygen-v3 it speaks HeyGen's v3 API: each translation goes into 2-3 languages, one job each.
//
//   demo [--jobs N] [--min S] [--max S] [--error-rate P] [--seed N] [--url URL] [--api tracker|heygen-v3]
//
// The last line is always: summary: jobs=N completed=C failed=F timeout=T requests_per_job=R lag_p95_ms=L
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
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

/// Languages the v3 demo translates into, taken in turn.
const std::vector<std::string> demo_languages{"Spanish (Spain)", "French (France)", "German",
                                              "Japanese",        "Italian",         "Portuguese (Brazil)"};

/// Starts the embedded simulator unless --url was given.
std::unique_ptr<heygen::sim::StatusSimulator> start_simulator(const DemoArgs& args) {
  if (!args.url.empty()) return nullptr;
  heygen::sim::SimulatorConfig config;
  config.duration = heygen::sim::DurationDistribution::uniform(args.min_s, args.max_s);
  config.error_probability = args.error_rate;
  config.seed = args.seed;
  if (args.heygen_v3) {
    config.api = heygen::sim::Api::heygen_v3;
    config.api_key = args.api_key;
  }
  auto simulator = std::make_unique<heygen::sim::StatusSimulator>(config);
  simulator->start();
  std::printf("simulator: %s%s (jobs of %.1f-%.1f s, %.0f%% fail)\n", simulator->base_url().c_str(),
              args.heygen_v3 ? " speaking HeyGen's v3 API" : "", args.min_s, args.max_s, args.error_rate * 100);
  return simulator;
}

/// The options both APIs share: the deadline and one connection per job.
heygen::ClientOptions tuned(heygen::ClientOptions options, const DemoArgs& args) {
  options.max_timeout = heygen::Seconds(std::max(60.0, args.max_s * 3));
  options.connection_pool_size = static_cast<std::size_t>(args.jobs);
  return options;
}

/// Tracks every job with a live progress view.
template <class Client>
heygen::ResultMap track(Client& client, const std::vector<std::string>& ids) {
  demo::ProgressView view;
  return client.get_bulk_translation_statuses(
      ids, ids.size(), {},
      [&view](const std::string& id, const auto& result, auto progress) { view.update(id, result, progress); });
}

/// The tracker's API: one job per create.
heygen::ResultMap run_tracker(const DemoArgs& args, const std::string& url) {
  heygen::ClientOptions options;
  options.base_url = url;
  heygen::VideoTranslationClient client(tuned(options, args));
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(args.jobs));
  for (int i = 0; i < args.jobs; ++i) ids.push_back(client.create_translation_job());
  std::printf("created %d jobs; tracking them\n", args.jobs);
  return track(client, ids);
}

/// HeyGen's v3 API: translations into 2 or 3 languages each, until there are --jobs jobs; each job's language
/// goes into `languages`.
heygen::ResultMap run_heygen_v3(const DemoArgs& args, const std::string& url,
                                std::map<std::string, std::string>& languages) {
  heygen::HeyGenClient client(tuned(heygen::heygen_v3_options(args.api_key, url), args));
  std::vector<std::string> ids;
  int translations = 0;
  for (std::size_t next = 0; ids.size() < static_cast<std::size_t>(args.jobs); ++translations) {
    const std::size_t wanted = std::min<std::size_t>(2 + translations % 2, args.jobs - ids.size());
    std::vector<std::string> targets;
    for (std::size_t i = 0; i < wanted; ++i) targets.push_back(demo_languages[next++ % demo_languages.size()]);
    auto request = heygen::TranslationRequest::from_url(
        "https://example.com/videos/talk-" + std::to_string(translations + 1) + ".mp4", targets);
    request.title = "demo talk " + std::to_string(translations + 1);
    const auto created = client.create_translation_jobs(request);  // one id per language, in their order
    for (std::size_t i = 0; i < created.size(); ++i) {
      if (i < targets.size()) languages[created[i]] = targets[i];
      ids.push_back(created[i]);
    }
  }
  std::printf("created %d translations (%zu jobs, one per language); tracking them\n", translations, ids.size());
  return track(client, ids);
}

/// Prints the table and the summary line; 0 when every job ended (completed, failed or timed out).
/// `languages`, when not empty, adds a column: each job's output language.
int report(const heygen::ResultMap& results, const std::map<std::string, double>& lags,
           const std::map<std::string, std::string>& languages) {
  std::printf("\n%-14s %-10s %-16s %9s %12s%s\n", "job", "outcome", "cause", "requests", "lag ms",
              languages.empty() ? "" : "  language");
  int completed = 0, failed = 0, timed_out = 0, requests = 0;
  std::vector<double> lag_values;
  for (const auto& [id, result] : results) {
    completed += result.status == heygen::TranslationStatus::completed;
    failed += result.status == heygen::TranslationStatus::error;
    timed_out += result.status == heygen::TranslationStatus::timeout;
    requests += result.requests;
    const auto lag = lags.find(id);
    if (lag != lags.end()) lag_values.push_back(lag->second);
    const auto named = languages.find(id);
    const std::string language = languages.empty() ? "" : "  " + (named == languages.end() ? "-" : named->second);
    std::printf("%-14s %-10s %-16s %9d %12s%s\n", id.c_str(), std::string(heygen::to_string(result.status)).c_str(),
                std::string(heygen::to_string(result.cause)).c_str(), result.requests,
                lag == lags.end() ? "-" : std::to_string(static_cast<long>(std::lround(lag->second))).c_str(),
                language.c_str());
  }
  std::printf("summary: jobs=%zu completed=%d failed=%d timeout=%d requests_per_job=%.2f lag_p95_ms=%.0f\n",
              results.size(), completed, failed, timed_out,
              results.empty() ? 0.0 : static_cast<double>(requests) / static_cast<double>(results.size()),
              demo::percentile(lag_values, 0.95));
  return completed + failed + timed_out == static_cast<int>(results.size()) ? 0 : 1;
}

/// Runs the demo; 0 when every job ended (completed, failed or timed out).
int run(const DemoArgs& args) {
  auto simulator = start_simulator(args);
  const std::string url = simulator ? simulator->base_url() : args.url;
  std::map<std::string, std::string> languages;
  const auto results = args.heygen_v3 ? run_heygen_v3(args, url, languages) : run_tracker(args, url);
  const auto lags = demo::server_lags(simulator.get());
  if (simulator) simulator->stop();
  return report(results, lags, languages);
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
