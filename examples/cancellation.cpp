// Cancelling through std::stop_source: a single wait stopped by a timer thread, and a bulk wait stopped by
// its own callback once the first job is known. Cancelled calls return at once with cause `cancelled`.
#include <heygen/video_translation.hpp>

#include <chrono>
#include <cstdio>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "status_simulator.hpp"

namespace {

void print(const std::string& id, const heygen::TranslationResult& result) {
  std::printf("  %s %-9s cause=%-9s after %.2f s\n", id.c_str(), std::string(heygen::to_string(result.status)).c_str(),
              std::string(heygen::to_string(result.cause)).c_str(),
              std::chrono::duration<double>(result.elapsed).count());
}

/// Cancels one wait from a timer thread and one bulk wait from its own callback.
int run() {
  using namespace std::chrono_literals;
  heygen::sim::SimulatorConfig config;
  config.duration = heygen::sim::DurationDistribution::uniform(0.3, 60.0);  // one short job, the rest long
  heygen::sim::StatusSimulator simulator(config);
  simulator.start();
  heygen::VideoTranslationClient client(simulator.base_url());
  std::vector<std::string> ids(6);
  for (auto& id : ids) id = client.create_translation_job();

  // 1. A wait on one job, cancelled after 0.3 s by another thread (a held long poll ends at once too).
  std::stop_source timer_stop;
  std::jthread timer([&timer_stop] {
    std::this_thread::sleep_for(300ms);
    timer_stop.request_stop();
  });
  std::printf("single wait, cancelled after 0.3 s:\n");
  const heygen::TranslationResult single = client.get_translation_status(ids.back(), timer_stop.get_token());
  print(ids.back(), single);

  // 2. A bulk wait that stops as soon as any job is known: the rest come back cancelled.
  std::stop_source first_known;
  const auto results =
      client.get_bulk_translation_statuses(ids, ids.size(), first_known.get_token(),
                                           [&first_known](const std::string&, const heygen::TranslationResult&,
                                                          heygen::BulkProgress) { first_known.request_stop(); });
  std::printf("bulk wait, stopped once the first job was known:\n");
  int cancelled = 0;
  for (const auto& [id, result] : results) {
    print(id, result);
    cancelled += result.cause == heygen::FailureCause::cancelled;
  }
  const bool ok =
      single.cause == heygen::FailureCause::cancelled && cancelled > 0 && cancelled < static_cast<int>(ids.size());
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {  // no server could be started, or create found none
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
