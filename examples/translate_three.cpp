// One video into three languages on HeyGen's v3 API: create, wait for all three, print where each result is.
// Starts the simulator in HeyGen mode in-process, so it runs by itself; with a base URL and HEYGEN_API_KEY set,
// it talks to that server instead (e.g. https://api.heygen.com).
//
//   translate_three [BASE_URL]
#include <heygen/video_translation.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

#include "status_simulator.hpp"

namespace {

/// The ten lines a caller writes: create one job per language, wait for them together, print each video's URL.
int translate(const std::string& base_url, const std::string& api_key) {
  heygen::HeyGenClient client(heygen::heygen_v3_options(api_key, base_url));
  const auto ids = client.create_translation_jobs(heygen::TranslationRequest::from_url(
      "https://example.com/keynote.mp4", {"Spanish (Spain)", "French (France)", "German"}));
  int failed = 0;
  for (const auto& [id, result] : client.get_bulk_translation_statuses(ids)) {
    std::cout << result.outputs.output_language.value_or(id) << ": "
              << (result.ok() ? result.outputs.video_url.value_or("(no URL)") : result.error_message.value_or(""))
              << "\n";
    failed += result.ok() ? 0 : 1;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const char* key = std::getenv("HEYGEN_API_KEY");
    if (argc > 1) return translate(argv[1], key ? key : "");
    heygen::sim::SimulatorConfig config;
    config.api = heygen::sim::Api::heygen_v3;
    config.api_key = "example-key";
    config.duration = heygen::sim::DurationDistribution::heygen_like();
    config.duration_scale = 0.001;  // HeyGen's minutes, as half-second jobs
    heygen::sim::StatusSimulator simulator(config);
    simulator.start();
    return translate(simulator.base_url(), config.api_key);
  } catch (const std::exception& e) {  // TranslationError: no server, a refused key, or no ids in the answer
    std::cerr << "translate_three: " << e.what() << "\n";
    return 1;
  }
}
