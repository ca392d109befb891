// Webhook receiver: a small cpp-httplib server taking pushes, for callers without one.
#pragma once

#include "heygen/vt/config.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/transport_httplib.hpp"
#include "heygen/vt/webhook.hpp"

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace heygen {

// cpp-httplib comes (when enabled) through transport_httplib, so the shipped header includes it once.
#ifdef HEYGEN_VT_WITH_HTTPLIB

/// Where a WebhookReceiver listens, and how.
struct WebhookReceiverOptions {
  std::string host = "127.0.0.1";  ///< Address to bind; "0.0.0.0" to take pushes from other machines.
  int port = 0;                    ///< Port to bind; 0 picks a free one (see WebhookReceiver::port()).
  std::string path = "/webhook";   ///< Path pushes are POSTed to; other paths get 404.
  std::size_t max_body_bytes = std::size_t{64} * 1024;  ///< Larger bodies are refused (413) before being read.
  std::string cert_file{};  ///< PEM certificate for HTTPS; with key_file. Empty: plain HTTP.
  std::string key_file{};   ///< PEM private key for HTTPS.
};

/// Takes in one push: given the request's headers and raw body, what to answer (a client's handle_webhook).
using WebhookHandler = std::function<WebhookReply(const std::vector<HttpHeader>& headers, std::string_view body)>;

/// A small HTTP server for callers who have none: it takes pushes on one path and hands each to `handler`
/// (e.g. `client.webhook_handler()`), answering with the reply's status. Listens from construction to stop() or
/// destruction, on a thread of cpp-httplib's own.
class WebhookReceiver {
 public:
  /// Binds and starts listening with no handler yet: pushes are answered 503 (the sender retries) until
  /// set_handler(). So the receiver's url() can go into the options of the client that will take the pushes.
  /// Throws std::runtime_error when the address cannot be bound or TLS not set up.
  explicit WebhookReceiver(WebhookReceiverOptions options = {}) : WebhookReceiver(nullptr, std::move(options)) {}

  /// Binds and starts listening, handing pushes to `handler`; throws as the constructor above.
  WebhookReceiver(WebhookHandler handler, WebhookReceiverOptions options = {})
      : options_(std::move(options)), handler_(std::move(handler)), server_(make_server(options_)) {
    server_->set_payload_max_length(options_.max_body_bytes);
    server_->Post(options_.path,
                  [this](const httplib::Request& request, httplib::Response& response) { take(request, response); });
    port_ = options_.port == 0 ? server_->bind_to_any_port(options_.host)
                               : (server_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port_ <= 0) throw std::runtime_error("heygen: webhook receiver cannot listen on " + options_.host);
    thread_ = std::thread([this] {
      server_->listen_after_bind();
      listen_ended_ = true;
    });
    // stop() before the server runs would not reach it (cpp-httplib 0.11 has no wait_until_ready).
    while (!server_->is_running() && !listen_ended_) std::this_thread::yield();
  }

  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  /// Stops listening (see stop()).
  ~WebhookReceiver() { stop(); }

  /// The port it listens on.
  [[nodiscard]] int port() const noexcept { return port_; }

  /// The URL pushes go to, as creates should name it (`ClientOptions::webhook_url`).
  [[nodiscard]] std::string url() const {
    const bool v6 = options_.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + options_.host + "]" : options_.host;
    return std::string(options_.cert_file.empty() ? "http" : "https") + "://" + host + ":" + std::to_string(port_) +
           options_.path;
  }

  /// Hands later pushes to `handler` (empty: answers 503 again). Once it returns, the previous handler is not
  /// running and never will be, so what it calls (a client) may go: clear it before destroying that client.
  /// Not from inside a handler: it would wait for itself.
  void set_handler(WebhookHandler handler) {
    std::unique_lock lock(handler_mutex_);
    handler_ = std::move(handler);
  }

  /// Stops listening and waits for requests being handled; idempotent.
  void stop() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  static std::unique_ptr<httplib::Server> make_server(const WebhookReceiverOptions& options) {
    if (options.cert_file.empty() != options.key_file.empty())
      throw std::invalid_argument("heygen: a webhook receiver needs both cert_file and key_file, or neither");
    if (options.cert_file.empty()) return std::make_unique<httplib::Server>();
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    auto server = std::make_unique<httplib::SSLServer>(options.cert_file.c_str(), options.key_file.c_str());
    if (!server->is_valid()) throw std::runtime_error("heygen: webhook receiver: cannot load the certificate or key");
    return server;
#else
    throw std::runtime_error("heygen: webhook receiver: cpp-httplib was built without OpenSSL, so no HTTPS");
#endif
  }

  /// Hands one request to the handler; nothing it throws reaches cpp-httplib (the sender gets a 500 and retries).
  void take(const httplib::Request& request, httplib::Response& response) const noexcept {
    try {
      std::vector<HttpHeader> headers;
      headers.reserve(request.headers.size());
      for (const auto& [name, value] : request.headers) headers.push_back({name, value});
      std::shared_lock lock(handler_mutex_);  // set_handler() waits for the handler calls under way
      const WebhookReply reply = handler_ ? handler_(headers, request.body) : no_handler();
      response.status = reply.http_status;
      response.set_content(std::string(R"({"verdict":")") + std::string(to_string(reply.verdict)) + "\"}",
                           "application/json");
    } catch (...) {
      response.status = 500;
    }
  }

  /// The reply while no handler is set: a sender retries a 503.
  static WebhookReply no_handler() { return {WebhookVerdict::unknown_job, 503, "no handler set yet"}; }

  WebhookReceiverOptions options_;
  mutable std::shared_mutex handler_mutex_;
  WebhookHandler handler_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = -1;
  std::atomic<bool> listen_ended_{false};
  std::thread thread_;
};

#endif  // HEYGEN_VT_WITH_HTTPLIB

}  // namespace heygen
