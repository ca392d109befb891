// The seed's usage example in C++: create a job, wait for it, then track it with the bulk call.
// Starts the simulator in-process so it runs by itself; pass a base URL to use a real server instead.
//
//   usage [BASE_URL]
#include <heygen/video_translation.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "status_simulator.hpp"

namespace {

/// The seed's main(): one job, its status, then the bulk form of the same question.
int run(const std::string& base_url) {
  heygen::VideoTranslationClient client(base_url);
  const std::string job_id = client.create_translation_job();
  std::cout << "Created job with ID: " << job_id << "\n";

  const heygen::TranslationResult result = client.get_translation_status(job_id);
  std::cout << "Job status: " << heygen::to_string(result.status) << "\n";

  const auto bulk_results = client.get_bulk_translation_statuses({job_id});
  std::cout << "Bulk job statuses: {";
  const char* separator = "";
  for (const auto& [id, bulk_result] : bulk_results) {
    std::cout << separator << id << ": " << heygen::to_string(bulk_result.status);
    separator = ", ";
  }
  std::cout << "}\n";
  return result.ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc > 1) return run(argv[1]);
    heygen::sim::SimulatorConfig config;
    config.duration = heygen::sim::DurationDistribution::fixed(0.5);
    heygen::sim::StatusSimulator simulator(config);
    simulator.start();  // port 0: a free port, read back through base_url()
    return run(simulator.base_url());
  } catch (const std::exception& e) {  // TranslationError: create found no server, or no job id in its answer
    std::cerr << "usage: " << e.what() << "\n";
    return 1;
  }
}
