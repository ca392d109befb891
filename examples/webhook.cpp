// Webhooks: a service takes the server's pushes in its own HTTP server, so each wait ends the moment its job
// ends (polling goes on only as a safety net). The one call is client.handle_webhook(headers, body); answer
// with reply.http_status. --bundled takes them on the library's small WebhookReceiver instead. Without a base
// URL it starts a pushing simulator in-process; with one, the secret comes from HEYGEN_WEBHOOK_SECRET.
//
//   webhook [BASE_URL] [--bundled]
#include <heygen/video_translation.hpp>

#include <cstdlib>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "status_simulator.hpp"

namespace {

/// Creates three jobs and waits for them with watch(): a push ends a wait at once, no status request needed.
int create_and_watch(heygen::VideoTranslationClient& client) {
  std::vector<std::pair<std::string, std::future<heygen::TranslationResult>>> waits;
  for (int i = 0; i < 3; ++i) {
    std::string id = client.create_translation_job();
    waits.emplace_back(id, client.watch(id));
  }
  int failed = 0;
  for (auto& [id, wait] : waits) {
    const heygen::TranslationResult result = wait.get();
    std::cout << id << ": " << heygen::to_string(result.status) << " after " << result.elapsed.count() << " ms, "
              << result.requests << " status requests\n";
    failed += result.ok() ? 0 : 1;
  }
  return failed == 0 ? 0 : 1;
}

/// Pushes into a cpp-httplib server of the caller's own: one POST route hands each request to the client.
int with_own_server(const std::string& base_url, const std::string& secret) {
  httplib::Server server;
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port < 0) throw std::runtime_error("cannot listen on 127.0.0.1");
  heygen::VideoTranslationClient client(
      {.base_url = base_url,
       .webhook_url = "http://127.0.0.1:" + std::to_string(port) + "/hooks/heygen",  // a public URL in real life
       .webhook = {.secret = secret}});
  server.Post("/hooks/heygen", [&client](const httplib::Request& request, httplib::Response& response) {
    std::vector<heygen::HttpHeader> headers;
    for (const auto& [name, value] : request.headers) headers.push_back({name, value});
    const heygen::WebhookReply reply = client.handle_webhook(headers, request.body);  // verify, read, end the wait
    response.status = reply.http_status;  // 200; 401 bad signature or stale, 400 malformed, 413 too large
  });
  std::jthread listener([&server] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::yield();
  struct Stop {
    httplib::Server& server;
    ~Stop() { server.stop(); }  // first, even on a throw: the listener joins, then the client goes
  } stop{server};
  return create_and_watch(client);
}

/// The bundled receiver: it binds first (port 0: any free one), the client takes its url(), and the receiver then
/// takes the client's handler; it lets go of it before the client goes.
int with_bundled_receiver(const std::string& base_url, const std::string& secret) {
  heygen::WebhookReceiver receiver;  // answers 503 (the sender retries) until it has a handler
  heygen::VideoTranslationClient client(
      heygen::ClientOptions{.base_url = base_url, .webhook_url = receiver.url(), .webhook = {.secret = secret}});
  receiver.set_handler(client.webhook_handler());
  struct Detach {
    heygen::WebhookReceiver& receiver;
    ~Detach() { receiver.set_handler({}); }  // first, even on a throw: no push reaches the client after this
  } detach{receiver};
  return create_and_watch(client);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bool bundled = argc > 1 && std::string(argv[argc - 1]) == "--bundled";
    const auto run = bundled ? with_bundled_receiver : with_own_server;
    if (argc > (bundled ? 2 : 1)) {
      const char* secret = std::getenv("HEYGEN_WEBHOOK_SECRET");
      if (secret == nullptr || *secret == '\0') throw std::runtime_error("HEYGEN_WEBHOOK_SECRET is not set");
      return run(argv[1], secret);
    }
    heygen::sim::SimulatorConfig config;  // pushes each job's final status to its callback_url, signed
    config.duration = heygen::sim::DurationDistribution::fixed(0.5);
    config.webhooks.secret = "example-secret";
    heygen::sim::StatusSimulator simulator(config);
    simulator.start();
    return run(simulator.base_url(), config.webhooks.secret);
  } catch (const std::exception& e) {  // TranslationError: no server, or no job id in its answer
    std::cerr << "webhook: " << e.what() << "\n";
    return 1;
  }
}
