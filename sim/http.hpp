// The simulator's HTTP server: cpp-httplib's routing and parsing with a worker pool that grows on demand and
// a connection loop of its own (dropped connections, prompt stop, bounded bodies, TLS).
#ifndef HEYGEN_SIM_HTTP_HPP
#define HEYGEN_SIM_HTTP_HPP

#include "connection.hpp"
#include "tls.hpp"

#include <httplib.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace heygen::sim::detail {

/// limit costs nothing until the load needs it. Tasks beyond the limit wait in the queue.
class ElasticThreadPool final : public httplib::TaskQueue {
 public:
  /// A pool of at most `max_threads` workers (at least one).
  explicit ElasticThreadPool(std::size_t max_threads) : max_(std::max<std::size_t>(1, max_threads)) {}
  ElasticThreadPool(const ElasticThreadPool&) = delete;
  ElasticThreadPool& operator=(const ElasticThreadPool&) = delete;
  ~ElasticThreadPool() override { shutdown(); }

  /// Queues a task, starting a worker if none is idle and the limit allows.
  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (shut_ || !worker_available()) {
      lock.unlock();
      fn();  // shut down, or not one thread could be started: each task owns a socket that must be closed
      return;
    }
    queue_.push_back(std::move(fn));
    lock.unlock();
    cv_.notify_one();
  }

  /// Runs what is queued, then joins every worker. Idempotent.
  void shutdown() override {
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shut_ = true;
      workers.swap(workers_);
    }
    cv_.notify_all();
    for (auto& worker : workers) worker.join();
  }

  /// Workers started so far.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_.size();
  }

 private:
  bool worker_available() {
    if (idle_ <= queue_.size() && workers_.size() < max_) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (const std::system_error&) {
        // Out of threads: the task waits for a worker that exists.
      }
    }
    return !workers_.empty();
  }

  void work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return shut_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const std::size_t max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;
  std::size_t idle_ = 0;
  bool shut_ = false;
};

/// cpp-httplib's server with its own connection loop: the stock loop gives handlers no way to close a
/// connection unanswered, waits for keep-alive traffic in slices even after stop(), and buffers request
/// bodies without a bound when they are chunked. Overriding the (virtual) per-connection function, as
/// httplib's own SSLServer does, fixes all three while routing and parsing stay httplib's.
class SimHttpServer final : public httplib::Server {
 public:
  /// Creates the stop pipe.
  SimHttpServer() {
    if (::pipe(stop_pipe_.data()) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    for (const int fd : stop_pipe_) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  SimHttpServer(const SimHttpServer&) = delete;
  SimHttpServer& operator=(const SimHttpServer&) = delete;
  ~SimHttpServer() override {
    for (const int fd : stop_pipe_) ::close(fd);
    if (tls_context_ != nullptr) free_tls_context(tls_context_);
  }

  /// Serves HTTPS with this certificate and key from now on; throws when they cannot be loaded.
  void enable_tls(const std::string& cert_file, const std::string& key_file) {
    tls_context_ = make_tls_context(cert_file, key_file);
  }

  /// Most bytes one request (line, headers and body) may take before its connection is cut.
  void set_request_byte_cap(std::size_t cap) noexcept { byte_cap_ = cap; }
  /// Wakes every connection waiting for input so it closes; call before stop().
  void begin_shutdown() noexcept {
    shutting_down_ = true;
    const char byte = 1;
    if (::write(stop_pipe_[1], &byte, 1) < 0) {
      // The pipe only ever holds this one byte, so a failed write means it is already readable.
    }
  }
  /// Raises the listen backlog of the bound socket (listen() may be called again on a listening socket).
  bool widen_backlog(int backlog) const { return ::listen(svr_sock_, backlog) == 0; }
  /// The numeric address and port the server is bound to.
  std::pair<std::string, int> local_endpoint() const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    std::pair<std::string, int> out{"", 0};
    if (::getsockname(svr_sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      describe_address(addr, out.first, out.second);
    }
    return out;
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    ConnectionState state;
    const int on = 1;  // answers go out as two writes (head, body); Nagle would hold the second one
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    bool ok = false;
    try {
      ok = tls_context_ != nullptr ? serve_tls_connection(sock, state) : serve_connection(sock, state, nullptr);
    } catch (...) {
      // Handler exceptions are answered by httplib; anything else (out of memory while parsing) ends this
      // connection only, never the worker thread.
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  /// The TLS handshake, then the same loop over the session. A blocking session cannot be woken by the stop
  /// pipe, so the socket's own timeouts bound every read and write (and the handshake).
  bool serve_tls_connection(int sock, ConnectionState& state) {
    const timeval read_limit{read_timeout_sec_, static_cast<suseconds_t>(read_timeout_usec_)};
    const timeval write_limit{write_timeout_sec_, static_cast<suseconds_t>(write_timeout_usec_)};
    ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &read_limit, sizeof read_limit);
    ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &write_limit, sizeof write_limit);
    TlsSession* tls = accept_tls(tls_context_, sock);
    if (tls == nullptr) return false;
    const bool ok = serve_connection(sock, state, tls);
    end_tls(tls);
    return ok;
  }

  bool serve_connection(int sock, ConnectionState& state, TlsSession* tls) {
    PollStream strm(sock, stop_pipe_[0], to_ms(read_timeout_sec_, read_timeout_usec_),
                    to_ms(write_timeout_sec_, write_timeout_usec_), state, tls);
    const ConnectionScope scope(state);
    state.stream = &strm;
    bool ok = true;
    for (std::size_t left = keep_alive_max_count_; left > 0 && ok; --left) {
      if (shutting_down_ || !strm.wait_readable(to_ms(keep_alive_timeout_sec_, 0))) break;
      state.begin_request(byte_cap_);
      bool client_closes = false;
      ok = process_request(strm, left == 1 || shutting_down_, client_closes, prepare_request);
      // process_request reports a failed write as success; a dropped or broken connection must end here.
      if (client_closes || state.close_after || state.drop || state.write_failed) break;
    }
    return ok;
  }

  static void prepare_request(httplib::Request& req) {
    // A request with neither header has no body (RFC 9112, 6.3); httplib 0.11 would read until the client
    // closes, so an empty POST from curl or a bare socket would hang for the read timeout and then get 400.
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      req.set_header("Content-Length", "0");
    }
    // Handlers read the Range header themselves: httplib 0.11 would cut every answer to the parsed ranges,
    // error bodies included, and never checks a range against a streamed body's length.
    req.ranges.clear();
  }

  static int to_ms(time_t sec, time_t usec) {
    const auto ms = static_cast<long long>(sec) * 1000 + static_cast<long long>(usec) / 1000;
    return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
  }

  std::array<int, 2> stop_pipe_{-1, -1};
  std::atomic<bool> shutting_down_{false};
  std::size_t byte_cap_ = std::size_t{1} << 20;
  TlsContext* tls_context_ = nullptr;
};

}  // namespace heygen::sim::detail

#endif  // HEYGEN_SIM_HTTP_HPP
