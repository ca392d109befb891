// The bundled cpp-httplib transport and VideoTranslationClient.
#pragma once

#include "heygen/vt/client.hpp"
#include "heygen/vt/config.hpp"
#include "heygen/vt/log.hpp"
#include "heygen/vt/proxy.hpp"
#include "heygen/vt/proxy_tunnel.hpp"
#include "heygen/vt/request_watchdog.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifdef HEYGEN_VT_WITH_HTTPLIB
#include <signal.h>

#include <csignal>
#endif

namespace heygen {

#ifdef HEYGEN_VT_WITH_HTTPLIB

namespace detail {}  // namespace detail

/// The bundled transport on cpp-httplib: a pool of keep-alive connections (one httplib::Client serves one
/// request at a time), connect and read timeouts, a body-size cap, HTTPS with verification on by default, the
/// proxy of the options or the environment (ProxyConfig) and the options' User-Agent on every request.
class HttplibTransport {
 public:
  /// It sends HttpRequest::target on its own connections to the base URL's host: the full URL goes unread.
  static constexpr bool reads_url = false;
  /// It streams request and response bodies (HttpRequest::source and sink), to any host.
  static constexpr bool streams = true;

  /// Builds the pool for options.base_url; throws std::invalid_argument for https without TLS support, or naming
  /// a malformed proxy (an environment variable, or ClientOptions::proxy). Logs the proxy it uses, at info.
  explicit HttplibTransport(const ClientOptions& options) : pool_(std::make_unique<Pool>(options)) {
    ignore_sigpipe_once();
  }

  /// Sends one request on a pooled connection. Never throws for network trouble.
  ///
  /// A server may close a keep-alive connection after answering without saying so (no `Connection: close`);
  /// cpp-httplib reconnects when it sees the close before sending, but when the close arrives just after, the
  /// request meets a reset. A request that fails that way (on a reused socket, before any status line arrived,
  /// neither cancelled nor timed out) is sent once more at once on a fresh connection, within the same timeout,
  /// as curl and Go's net/http do: the caller sees one request. Safe for a create too: it carries an
  /// Idempotency-Key.
  HttpResponse send(const HttpRequest& request) {
    if (request.source != nullptr || request.sink != nullptr) return send_streamed(request);
    const auto started = std::chrono::steady_clock::now();
    const auto timeout = std::max(request.timeout, std::chrono::milliseconds(1));
    auto connection = pool_->acquire();
    HttpResponse response;  // filled in where it is returned: no copy or move of the answer on its way out
    if (exchange(*connection, request, started, timeout, response) && !request.stop.stop_requested()) {
      pool_->release(std::move(connection), false);
      connection = pool_->open();
      response = HttpResponse{};
      exchange(*connection, request, started, timeout, response);
    }
    pool_->release(std::move(connection), response.received());
    return response;
  }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  /// One keep-alive connection. cpp-httplib opens a new socket by itself when the last one was closed (by
  /// either side); `sockets` counts the sockets it opened, so a request can tell whether it went on a reused one.
  /// Its request and response objects are kept from one exchange to the next: building and destroying them (a
  /// score of members each) cost more per request than reusing them, and their strings keep their buffers.
  struct Pooled {
    std::unique_ptr<httplib::ClientImpl> client;
    std::uint64_t sockets = 0;  // touched only by the thread holding the connection, inside its send()
    httplib::Request out;       // as the members above: filled in afresh by each exchange
    httplib::Response in;
  };
  using Connection = std::unique_ptr<Pooled>;

  using Watchdog = detail::RequestWatchdog;

  /// cpp-httplib 0.11 writes without MSG_NOSIGNAL: a server closing mid-request would kill the process with
  /// SIGPIPE. Ignore it, unless the program installed its own handler (or defined HEYGEN_VT_KEEP_SIGPIPE).
  static void ignore_sigpipe_once() {
#if defined(SIGPIPE) && !defined(HEYGEN_VT_KEEP_SIGPIPE)
    static const bool done = [] {
      struct sigaction current {};
      if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
      return true;
    }();
    (void)done;
#endif
  }

  /// Idle keep-alive connections waiting to be reused. A request never waits for one: when all are busy a
  /// new one is opened (callers bound concurrency), and at most `capacity` idle ones are kept.
  class Pool {
   public:
    explicit Pool(const ClientOptions& options)
        : base_(BaseUrl::parse(options.base_url)),
          capacity_(options.connection_pool_size),
          connect_timeout_(detail::to_millis(options.connect_timeout)),
          max_body_bytes_(options.max_body_bytes),
          verify_tls_(options.verify_tls),
          ca_cert_file_(options.ca_cert_file),
          proxies_(ProxyConfig::from_options(options)),
          user_agent_(options.user_agent()) {
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
      if (base_.scheme == "https") throw std::invalid_argument("heygen: https needs cpp-httplib built with OpenSSL");
#endif
      base_proxy_ = proxy_for(base_);
      const Logger log(options.log_sink, options.log_level);
      log(LogLevel::info, [this] { return route_of(base_); });
    }

    /// The proxy a request to `origin` goes through, or nullptr when it goes directly.
    [[nodiscard]] const ProxyUrl* proxy_for(const BaseUrl& origin) const {
      return proxies_.for_target(origin.scheme, origin.host, origin.port);
    }

    /// How requests to `origin` go, in words for the log: the proxy (its password hidden) or directly, and why.
    [[nodiscard]] std::string route_of(const BaseUrl& origin) const {
      std::string text = "requests to ";
      text.append(origin.origin());
      if (const ProxyUrl* proxy = proxy_for(origin))
        return text.append(" go through the proxy ")
            .append(proxy->redacted())
            .append(" (from ")
            .append(proxy->source)
            .append(")");
      text.append(" go directly");
      const bool excepted = (origin.scheme == "https" ? proxies_.https : proxies_.http).has_value();
      if (excepted) text.append(" (").append(proxies_.no_proxy_source).append(" names the host)");
      return text;
    }

    /// An idle connection, or a new one.
    Connection acquire() {
      {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
          Connection connection = std::move(idle_.back());
          idle_.pop_back();
          return connection;
        }
      }
      return open();
    }

    /// Keeps a healthy connection for reuse while fewer than `capacity` are idle; closes the rest.
    void release(Connection connection, bool healthy) {
      std::lock_guard lock(mutex_);
      if (healthy && idle_.size() < capacity_) idle_.push_back(std::move(connection));
    }

    [[nodiscard]] std::size_t max_body_bytes() const noexcept { return max_body_bytes_; }
    /// The timer that ends requests overrunning their timeout.
    [[nodiscard]] Watchdog& watchdog() noexcept { return watchdog_; }

    /// The most a connect may take.
    [[nodiscard]] std::chrono::milliseconds connect_timeout() const noexcept { return connect_timeout_; }

    /// A client for `origin`, with this pool's TLS settings and connect timeout. Built from host and port, not
    /// from a URL string: httplib's URL pattern takes only digits and colons inside brackets, so "[2001:db8::1]"
    /// would silently become a host. Throws std::invalid_argument for https without TLS support.
    [[nodiscard]] std::unique_ptr<httplib::ClientImpl> client_for(const BaseUrl& origin) const {
      const bool bracketed = origin.host.size() >= 2 && origin.host.front() == '[';
      const std::string host = bracketed ? origin.host.substr(1, origin.host.size() - 2) : origin.host;
      const ProxyUrl* proxy = proxy_for(origin);
      std::unique_ptr<httplib::ClientImpl> client;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
      if (origin.scheme == "https") {
        std::unique_ptr<httplib::SSLClient> tls;
        if (proxy != nullptr)
          tls = std::make_unique<detail::TunnelClient>(host, origin.port, *proxy, user_agent_);
        else
          tls = std::make_unique<httplib::SSLClient>(host, origin.port);
        tls->enable_server_certificate_verification(verify_tls_);
        if (!ca_cert_file_.empty()) tls->set_ca_cert_path(ca_cert_file_);
        client = std::move(tls);
      }
#else
      if (origin.scheme == "https") throw std::invalid_argument("heygen: https needs cpp-httplib built with OpenSSL");
#endif
      httplib::Headers own{{"User-Agent", user_agent_}};  // httplib adds them to any request without them
      if (!client) {
        client = std::make_unique<httplib::ClientImpl>(host, origin.port);
        if (proxy != nullptr) client->set_proxy(proxy->bare_host(), proxy->port);
        // Ours rather than httplib's set_proxy_basic_auth, which sends nothing when the password is empty.
        if (proxy != nullptr && !proxy->user.empty())
          own.emplace("Proxy-Authorization", "Basic " + uploads::base64(proxy->user + ":" + proxy->password));
      }
      client->set_default_headers(std::move(own));
      client->set_keep_alive(true);
      client->set_follow_location(false);
      client->set_tcp_nodelay(true);
      client->set_connection_timeout(connect_timeout_);
      return client;
    }

    /// The proxy of the base URL's host, or nullptr.
    [[nodiscard]] const ProxyUrl* base_proxy() const noexcept { return base_proxy_; }

    /// A new connection to the base URL's host, never an idle one.
    Connection open() const {
      auto client = client_for(base_);
      auto connection = std::make_unique<Pooled>();
      // Called for every socket the client opens, on the thread sending through it; `Pooled` never moves.
      client->set_socket_options([counted = connection.get()](socket_t) { ++counted->sockets; });
      connection->client = std::move(client);
      return connection;
    }

   private:
    BaseUrl base_;
    std::size_t capacity_;
    std::chrono::milliseconds connect_timeout_;
    std::size_t max_body_bytes_;
    bool verify_tls_;
    std::string ca_cert_file_;
    ProxyConfig proxies_;
    const ProxyUrl* base_proxy_ = nullptr;  // into proxies_
    std::string user_agent_;
    std::mutex mutex_;
    std::vector<Connection> idle_;
    Watchdog watchdog_;
  };

  /// A response body that refuses to grow past `cap` bytes.
  struct CappedBody {
    std::string text;
    std::size_t cap;
    bool too_large;

    /// Appends a chunk; false (which stops the read) when it would pass the cap.
    bool append(const char* data, std::size_t length) {
      if (text.size() + length > cap) return !(too_large = true);
      text.append(data, length);
      return true;
    }
  };

  /// Makes `kept` (the headers of the connection's last request, with what httplib added to them: Host,
  /// User-Agent...) hold exactly `headers`, as a new request's would. A header of the last request that this one
  /// has too keeps its node, and only what httplib added is dropped: requests mostly carry the same headers, and
  /// the nodes cost an allocation each. httplib adds its own again, as it does to any request.
  static void set_headers(httplib::Headers& kept, const std::vector<HttpHeader>& headers) {
    std::uint64_t matched = 0;  // bit i: headers[i] has its node
    if (headers.size() <= 64) {
      for (auto node = kept.begin(); node != kept.end();) {
        std::size_t i = 0;
        while (i < headers.size() &&
               ((matched >> i & 1U) != 0 || node->first != headers[i].name || node->second != headers[i].value))
          ++i;
        if (i == headers.size()) {
          node = kept.erase(node);
          continue;
        }
        matched |= std::uint64_t{1} << i;
        ++node;
      }
    } else {
      kept.clear();
    }
    for (std::size_t i = 0; i < headers.size(); ++i)
      if (i >= 64 || (matched >> i & 1U) == 0) kept.emplace(headers[i].name, headers[i].value);
  }

  // httplib's own read timeout normally ends a silent server first; the watchdog is for trickling ones.
  static constexpr std::chrono::milliseconds watchdog_grace{250};

  /// Sends `request` on `connection` within what is left of `timeout` since `started`, filling in `response`
  /// (a new one). True when the request was lost to a close: it failed on a reused socket before any status
  /// line arrived, neither cancelled nor out of time, so most likely the server closed the idle connection as
  /// the request went out, and it is worth sending again on a new one.
  bool exchange(Pooled& connection, const HttpRequest& request, SteadyTime started, std::chrono::milliseconds timeout,
                HttpResponse& response) const {
    httplib::ClientImpl& client = *connection.client;
    const auto left = std::max(
        timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started),
        std::chrono::milliseconds(1));
    client.set_read_timeout(left);
    client.set_write_timeout(left);
    client.set_connection_timeout(std::min(pool_->connect_timeout(), left));
    // Every member httplib reads of a client request is set here (no progress, response handler or content
    // provider is ever set; redirects and digest auth, whose counters it keeps in the request, are off).
    httplib::Request& out = connection.out;
    if (out.method != request.method) out.method = request.method;  // the same method, most often
    out.path = request.target;
    set_headers(out.headers, request.headers);
    if (!out.body.empty() || !request.body.empty()) out.body = request.body;  // copied: it may be sent again
    CappedBody body{{}, pool_->max_body_bytes(), false};
    // One pointer captured: std::function keeps it inline instead of allocating for every request.
    out.content_receiver = [sink = &body](const char* data, std::size_t length, std::uint64_t, std::uint64_t) {
      return sink->append(data, length);
    };
    std::atomic<bool> overran{false};
    httplib::Response& in = connection.in;  // as a new one: what httplib fills in, and a status of -1 (none yet)
    in.version.clear();
    in.status = -1;
    in.reason.clear();
    in.headers.clear();
    in.body.clear();
    in.location.clear();
    httplib::Error error = httplib::Error::Success;
    // A request went on a reused socket when httplib opened none for it: with no socket open it must open one
    // (counted as soon as it exists, before its connect), and a read or write error needs a socket. So the count
    // tells, without asking httplib under its socket lock for every request.
    const std::uint64_t sockets_before = connection.sockets;
    const bool answered = [&] {
      // Cancelling shuts the socket down, so a held long poll ends now rather than when the server answers.
      std::stop_callback abandon(request.stop, [&client] { client.stop(); });
      const Watchdog::Armed watched(pool_->watchdog(), started + timeout + watchdog_grace, [&client, &overran] {
        overran = true;
        client.stop();
      });
      return client.send(out, in, error);  // this overload sends `out` as is; send(const Request&) copies it
    }();
    if (request.stop.stop_requested()) {
      response = HttpResponse::failure(TransportError::cancelled, detail::cancelled_message);
      return false;
    }
    if (overran && !answered) {  // a response that arrived just as the timer fired still counts
      response = HttpResponse::failure(
          TransportError::timeout, "request took longer than its timeout (" + std::to_string(timeout.count()) + " ms)");
      return false;
    }
    if (body.too_large) {
      response = HttpResponse::failure(TransportError::body_too_large,
                                       "response body over max_body_bytes (" + std::to_string(body.cap) + ")");
      return false;
    }
    if (auto refused = proxy_refusal(client, answered ? in.status : 0, pool_->base_proxy())) {
      response = std::move(*refused);
      return false;
    }
    if (!answered) {
      response = failure_of(error, std::chrono::steady_clock::now() - started, timeout);
      name_proxy(response, error, pool_->base_proxy());
      // httplib leaves the status at -1 until a status line is parsed; the body sink saw nothing either.
      const bool reused = connection.sockets == sockets_before;
      return reused && response.error == TransportError::reset &&
             (error == httplib::Error::Read || error == httplib::Error::Write) && in.status < 0 && body.text.empty();
    }
    response.status = in.status;
    response.headers.reserve(in.headers.size());
    for (auto& [name, value] : in.headers) {  // built in place: no header moved from a temporary
      HttpHeader& header = response.headers.emplace_back();
      header.name = name;
      header.value = std::move(value);
    }
    response.body = std::move(body.text);
    return false;
  }

  /// A streamed request: on a connection of its own to the URL's host (a transfer is long, so opening one costs
  /// nothing that matters, and storage is most often another host), the body read from the source as it goes
  /// out, a 2xx answer's body written to the sink as it comes in. The timeout bounds each read and write (a
  /// silent peer), not the whole transfer; a trickling one is the caller's to judge from its sink.
  HttpResponse send_streamed(const HttpRequest& request) const {
    if (request.url.empty()) return HttpResponse::failure(TransportError::other, "a streamed request needs its url");
    AbsoluteUrl url;
    std::unique_ptr<httplib::ClientImpl> client;
    try {
      url = AbsoluteUrl::parse(request.url);
      client = pool_->client_for(url.origin);
    } catch (const std::invalid_argument& e) {
      return HttpResponse::failure(TransportError::other, e.what());
    }
    client->set_url_encode(false);   // a presigned URL goes out byte for byte: its query is signed
    client->set_tcp_nodelay(false);  // a body of many full segments: coalescing costs no latency, saves CPU
    const auto timeout = std::max(request.timeout, std::chrono::milliseconds(1));
    client->set_read_timeout(timeout);
    client->set_write_timeout(timeout);
    client->set_keep_alive(false);
    Streamed streamed{request, {{}, pool_->max_body_bytes(), false}};
    streamed.timeout = timeout;
    httplib::Request out = streamed.outgoing(std::move(url.target));
    httplib::Response in;
    httplib::Error error = httplib::Error::Success;
    const bool answered = [&] {
      std::stop_callback abandon(request.stop, [&client] { client->stop(); });
      return client->send(out, in, error);
    }();
    streamed.refused = proxy_refusal(*client, answered ? in.status : 0, pool_->proxy_for(url.origin));
    HttpResponse response = streamed.result(answered, error, in);
    if (!answered) name_proxy(response, error, pool_->proxy_for(url.origin));
    return response;
  }

  /// The state of one streamed exchange: the request, where its answer's body goes, what stopped it.
  struct Streamed {
    const HttpRequest& request;
    CappedBody error_body;  // a non-2xx answer's body, for its message
    bool to_sink = false;   // the answer is a 2xx: its body goes to the sink
    bool source_failed = false;
    bool sink_failed = false;
    bool send_failed = false;  // the connection broke while the body went out (the server may have answered early)
    std::chrono::milliseconds timeout{};
    std::optional<HttpResponse> refused{};                        // the proxy's refusal, if it refused
    SteadyTime last_progress = std::chrono::steady_clock::now();  // when a byte last moved either way
    std::vector<char> chunk{};

    /// httplib's request: the URL's path and query, the headers, the source as a content provider, the answer's
    /// status seen before its body so the body goes to the right place.
    httplib::Request outgoing(std::string target) {
      httplib::Request out;
      out.method = request.method;
      out.path = std::move(target);
      for (const HttpHeader& header : request.headers) out.headers.emplace(header.name, header.value);
      if (request.source != nullptr) {
        out.content_length_ = static_cast<std::size_t>(request.source->size);
        out.content_provider_ = [this](std::size_t offset, std::size_t, httplib::DataSink& sink) {
          return provide(offset, sink);
        };
      } else if (!request.body.empty()) {
        out.body = request.body;
      }
      out.response_handler = [this](const httplib::Response& head) {
        to_sink = request.sink != nullptr && head.status >= 200 && head.status < 300;
        if (!to_sink || !request.sink->begin) return true;
        std::vector<HttpHeader> headers;
        for (const auto& [name, value] : head.headers) headers.push_back({name, value});
        if (request.sink->begin(head.status, headers)) return true;
        return !(sink_failed = true);
      };
      out.content_receiver = [this](const char* data, std::size_t length, std::uint64_t, std::uint64_t) {
        last_progress = std::chrono::steady_clock::now();
        if (!to_sink) return error_body.append(data, length);
        if (request.sink->write(data, length)) return true;
        return !(sink_failed = true);
      };
      return out;
    }

    /// Reads the next chunk at `offset` from the source and hands it to httplib.
    bool provide(std::size_t offset, httplib::DataSink& sink) {
      if (chunk.empty()) chunk.resize(std::size_t{1} << 18);
      const std::uint64_t left = request.source->size - offset;
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
      const std::size_t got = request.source->read(offset, chunk.data(), want);
      if (got == 0 || got > want) return !(source_failed = true);
      last_progress = std::chrono::steady_clock::now();
      if (sink.write(chunk.data(), got)) return true;
      return !(send_failed = true);  // httplib calls a provider's false a cancel: it is a broken connection
    }

    /// The answer, or why there is none.
    HttpResponse result(bool answered, httplib::Error error, httplib::Response& in) {
      if (request.stop.stop_requested())
        return HttpResponse::failure(TransportError::cancelled, detail::cancelled_message);
      if (source_failed) return HttpResponse::failure(TransportError::other, "the request body's source failed");
      if (sink_failed) return HttpResponse::failure(TransportError::other, "the response body's sink stopped");
      if (error_body.too_large)
        return HttpResponse::failure(TransportError::body_too_large,
                                     "response body over max_body_bytes (" + std::to_string(error_body.cap) + ")");
      if (send_failed && !answered)
        return HttpResponse::failure(TransportError::reset, "the connection broke while the body was sent");
      if (refused) return std::move(*refused);
      // A read or write error after a silence as long as the timeout was the timeout.
      if (!answered) return failure_of(error, std::chrono::steady_clock::now() - last_progress, timeout);
      HttpResponse response;
      response.status = in.status;
      for (auto& [name, value] : in.headers) response.headers.push_back({name, std::move(value)});
      response.body = std::move(error_body.text);
      return response;
    }
  };

  /// A proxy's refusal as the failure it is, naming the proxy without its password: a 407 to a request it
  /// forwards, or any status but 2xx to a CONNECT (tinyproxy answers a wrong password with 401). Asking again gets
  /// the same from a 4xx (TransportError::proxy, final); a 5xx (it could not reach the server) is retried as a
  /// refused connection. Nothing when there is no proxy, or it did not refuse.
  static std::optional<HttpResponse> proxy_refusal(const httplib::ClientImpl& client, int status,
                                                   const ProxyUrl* proxy) {
    if (proxy == nullptr) return std::nullopt;
    if (status != 407) status = 0;
    std::string detail = "the proxy ";
    detail.append(proxy->redacted()).append(" (from ").append(proxy->source).append(") answered ");
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (const auto* tunnel = dynamic_cast<const detail::TunnelClient*>(&client);
        tunnel && tunnel->refused_with() != 0) {
      status = tunnel->refused_with();
      detail.append("a CONNECT with ");
    }
#else
    (void)client;
#endif
    if (status == 0) return std::nullopt;
    detail.append(std::to_string(status)).append(": ");
    if (status >= 500)
      return HttpResponse::failure(TransportError::refused, detail.append("it could not reach the server"));
    if (status != 401 && status != 407)
      return HttpResponse::failure(TransportError::proxy, detail.append("it refused the tunnel"));
    detail.append(proxy->user.empty() ? "it wants a user and password in the proxy URL"
                                      : "it refused the user and password");
    return HttpResponse::failure(TransportError::proxy, std::move(detail));
  }

  /// Says in a failed connect's detail that it was the proxy that could not be reached (or not in time), so a
  /// refusal does not read as the server's.
  static void name_proxy(HttpResponse& response, httplib::Error error, const ProxyUrl* proxy) {
    if (proxy == nullptr || (error != httplib::Error::Connection && error != httplib::Error::ConnectionTimeout) ||
        (response.error != TransportError::refused && response.error != TransportError::timeout))
      return;
    response.error_detail.append(", to the proxy ").append(proxy->redacted()).append(" from ").append(proxy->source);
  }

  static HttpResponse failure_of(httplib::Error error, std::chrono::steady_clock::duration took,
                                 std::chrono::milliseconds timeout) {
    const std::string detail = httplib::to_string(error);
    switch (error) {
      case httplib::Error::Connection: return HttpResponse::failure(TransportError::refused, detail);
      case httplib::Error::ConnectionTimeout: return HttpResponse::failure(TransportError::timeout, detail);
      case httplib::Error::Read:
      case httplib::Error::Write:
        // httplib reports a read timeout as a read error; the time taken tells them apart (and a timeout is never
        // sent again on a fresh connection: the server may be working on the request).
        return HttpResponse::failure(
            took + std::chrono::milliseconds(50) >= timeout ? TransportError::timeout : TransportError::reset, detail);
      // A handshake cut short is a broken connection like any other; a certificate that fails is not.
      case httplib::Error::SSLConnection: return HttpResponse::failure(TransportError::reset, detail);
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification: return HttpResponse::failure(TransportError::tls, detail);
      case httplib::Error::Canceled: return HttpResponse::failure(TransportError::cancelled, detail);
      default: return HttpResponse::failure(TransportError::other, detail);
    }
  }

  std::unique_ptr<Pool> pool_;
};

/// The client on the bundled cpp-httplib transport and the real clock: the one most callers want.
using VideoTranslationClient = BasicVideoTranslationClient<HttplibTransport, SteadyClock>;

/// The client for HeyGen's v3 API on the bundled transport; build it with heygen_v3_options(api_key).
using HeyGenClient = BasicVideoTranslationClient<HttplibTransport, SteadyClock, HeyGenV3Protocol>;

#endif  // HEYGEN_VT_WITH_HTTPLIB

}  // namespace heygen
