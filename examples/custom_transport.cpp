// A custom transport: wraps the bundled HttplibTransport, adds a header to every request and counts them.
// Anything with `HttpResponse send(const HttpRequest&)`, safe from many threads, satisfies heygen::Transport;
// BasicVideoTranslationClient<YourTransport> then runs on it (define HEYGEN_VT_NO_HTTPLIB to drop cpp-httplib).
#include <heygen/video_translation.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <vector>

#include "status_simulator.hpp"

/// Adds `X-Client-Name` to every request and counts requests and answers, then lets HttplibTransport send them.
class CountingTransport {
 public:
  /// Wraps a bundled transport built from the same options as the client.
  explicit CountingTransport(const heygen::ClientOptions& options) : inner_(options) {}

  /// Sends one request; called from many threads at once, hence the atomic counters.
  heygen::HttpResponse send(const heygen::HttpRequest& request) {
    heygen::HttpRequest tagged = request;
    tagged.headers.push_back({"X-Client-Name", "custom-transport-example"});
    ++counts_->requests;
    heygen::HttpResponse response = inner_.send(tagged);
    if (response.received()) ++counts_->answered;
    return response;
  }

  /// Requests sent so far.
  [[nodiscard]] int requests() const { return counts_->requests.load(); }
  /// Requests that got an HTTP answer.
  [[nodiscard]] int answered() const { return counts_->answered.load(); }

 private:
  struct Counts {
    std::atomic<int> requests{0};
    std::atomic<int> answered{0};
  };
  heygen::HttplibTransport inner_;
  std::unique_ptr<Counts> counts_ = std::make_unique<Counts>();  // atomics can't move; the client moves us
};
static_assert(heygen::Transport<CountingTransport>);

/// Creates five jobs through the counting transport and checks its count against the server's.
int run() {
  heygen::sim::SimulatorConfig config;
  config.duration = heygen::sim::DurationDistribution::uniform(0.2, 0.6);
  heygen::sim::StatusSimulator simulator(config);
  simulator.start();

  heygen::ClientOptions options{.base_url = simulator.base_url()};
  heygen::BasicVideoTranslationClient<CountingTransport> client(options, CountingTransport(options));

  std::vector<std::string> ids(5);
  for (auto& id : ids) id = client.create_translation_job();
  const auto results = client.get_bulk_translation_statuses(ids);

  int completed = 0;
  for (const auto& [id, result] : results) completed += result.ok();
  const auto server = simulator.stats().totals;
  std::printf("jobs completed: %d/%zu\n", completed, results.size());
  std::printf("transport: %d requests, %d answered\n", client.transport().requests(), client.transport().answered());
  std::printf("server saw: %llu creates + %llu status requests\n",
              static_cast<unsigned long long>(server.create_requests),
              static_cast<unsigned long long>(server.status_requests));
  const bool consistent =
      static_cast<unsigned long long>(client.transport().requests()) == server.create_requests + server.status_requests;
  return completed == static_cast<int>(results.size()) && consistent ? 0 : 1;
}

int main() {
  try {
    return run();
  } catch (const std::exception& e) {  // no server could be started, or create found none
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
