// Tracks many jobs at once and prints each result the moment it is known, through the bulk call's callback.
// Starts the simulator in-process (jobs of 0.2-2 s, a fifth of them fail), so it runs and stops by itself.
#include <heygen/video_translation.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "status_simulator.hpp"

/// Creates a dozen jobs and prints each result from the callback as it arrives.
int run() {
  heygen::sim::SimulatorConfig config;
  config.duration = heygen::sim::DurationDistribution::uniform(0.2, 2.0);
  config.error_probability = 0.2;
  heygen::sim::StatusSimulator simulator(config);
  simulator.start();

  heygen::VideoTranslationClient client({.base_url = simulator.base_url(), .max_timeout = heygen::Seconds(30)});
  std::vector<std::string> ids(12);
  for (auto& id : ids) id = client.create_translation_job();

  // Calls are serialized by the library, so the callback needs no lock of its own. It runs on a worker
  // thread: keep it quick, since a slow callback delays the worker's next request.
  auto print_result = [](const std::string& id, const heygen::TranslationResult& result,
                         heygen::BulkProgress progress) {
    std::printf("[%2zu/%zu] %s %-9s after %.2f s, %d requests%s%s\n", progress.done, progress.total, id.c_str(),
                std::string(heygen::to_string(result.status)).c_str(),
                std::chrono::duration<double>(result.elapsed).count(), result.requests,
                result.error_message ? ": " : "", result.error_message.value_or("").c_str());
    std::fflush(stdout);
  };
  const auto results = client.get_bulk_translation_statuses(ids, 4, {}, print_result);

  int finished = 0;
  for (const auto& [id, result] : results) finished += result.job_finished();
  std::printf("%d of %zu jobs finished (completed or failed on the server)\n", finished, results.size());
  return finished == static_cast<int>(results.size()) ? 0 : 1;
}

int main() {
  try {
    return run();
  } catch (const std::exception& e) {  // no server could be started, or create found none
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
