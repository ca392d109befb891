// One connection as the simulator serves it: the state its handler shares with the connection loop (drop it
// unanswered, close after the answer, the request byte cap), waiting on sockets, and the stream httplib parses.
#ifndef HEYGEN_SIM_CONNECTION_HPP
#define HEYGEN_SIM_CONNECTION_HPP

#include "support.hpp"
#include "tls.hpp"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

namespace heygen::sim::detail {

/// Per-connection state shared between the connection loop and the handler running on the same thread.
struct ConnectionState {
  /// The handler wants the connection closed with nothing written.
  bool drop = false;
  /// Close after this answer: the rest of the input can't be trusted (an unread or refused body).
  bool close_after = false;
  /// This request tried to read past byte_cap.
  bool over_limit = false;
  /// A write failed or was refused; httplib 0.11 ignores that, so the connection loop must not.
  bool write_failed = false;
  /// Bytes of the current request handed to the HTTP parser so far.
  std::size_t request_bytes = 0;
  /// Most bytes the current request (line, headers, body) may take.
  std::size_t byte_cap = 0;
  /// The stream the connection is read from, for a handler that must read (or drain) a body itself.
  httplib::Stream* stream = nullptr;

  /// Resets the per-request fields before a new request is read.
  void begin_request(std::size_t cap) noexcept {
    request_bytes = 0;
    byte_cap = cap;
    over_limit = false;
  }
};

/// The connection the calling worker thread is serving, if any. A handler runs on the thread that owns its
/// connection, which is how it reaches the socket that cpp-httplib keeps from it.
inline ConnectionState*& current_connection() noexcept {
  thread_local ConnectionState* state = nullptr;
  return state;
}

/// Makes `state` the calling thread's current connection for the scope's lifetime.
class ConnectionScope {
 public:
  /// Installs `state`.
  explicit ConnectionScope(ConnectionState& state) noexcept : outer_(std::exchange(current_connection(), &state)) {}
  ConnectionScope(const ConnectionScope&) = delete;
  ConnectionScope& operator=(const ConnectionScope&) = delete;
  /// Restores whatever was current before.
  ~ConnectionScope() { current_connection() = outer_; }

 private:
  ConnectionState* outer_;
};

/// Makes the current connection close with no answer; false when not called from a simulator handler.
inline bool drop_connection() noexcept {
  ConnectionState* state = current_connection();
  if (state != nullptr) state->drop = true;
  return state != nullptr;
}

/// Most bytes of a refused (too large) body read and thrown away so its sender still gets the 413.
inline constexpr std::uint64_t refused_body_drain_bytes = std::uint64_t{16} << 20;

/// Handles a declared body larger than `max_body` before httplib reads it: up to refused_body_drain_bytes it
/// is read and thrown away here (clients write the whole body before reading, so cutting it short would turn
/// the 413 into a reset); beyond that it is never read. True when the request must be refused now. Drained
/// here, not by httplib: httplib's own cap is lifted to let uploads through.
inline bool refuse_oversized_body(const httplib::Request& req, std::uint64_t max_body) {
  ConnectionState* state = current_connection();
  const auto declared = to_uint(req.get_header_value("Content-Length"));
  if (state == nullptr || !declared || *declared <= max_body) return false;
  if (*declared > refused_body_drain_bytes || state->stream == nullptr) return true;
  state->byte_cap = state->request_bytes + static_cast<std::size_t>(*declared);
  std::array<char, 16384> sink{};
  for (std::uint64_t left = *declared; left > 0;) {
    const ssize_t n =
        state->stream->read(sink.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, sink.size())));
    if (n <= 0) break;
    left -= static_cast<std::uint64_t>(n);
  }
  return true;
}

/// Bytes of framing (multipart boundaries, chunk sizes) allowed beyond a body's own limit.
inline constexpr std::uint64_t body_framing_bytes = std::uint64_t{64} << 10;

/// Lets the current request's body take up to `limit` bytes, beyond the server-wide cap (an upload).
inline void allow_body(std::uint64_t limit) {
  if (ConnectionState* state = current_connection())
    state->byte_cap = state->request_bytes + static_cast<std::size_t>(limit + body_framing_bytes);
}

/// Answers with `Connection: close`, then closes the current connection.
inline void close_after_response(httplib::Response& res) {
  if (ConnectionState* state = current_connection()) state->close_after = true;
  res.set_header("Connection", "close");
}

/// Outcome of waiting for a descriptor.
enum class Readiness { ready, timeout, stopped, failed };

/// Waits up to `timeout_ms` for `events` on `fd`, or for `stop_fd` to become readable (when >= 0).
inline Readiness wait_fd(int fd, short events, int stop_fd, int timeout_ms) {
  std::array<pollfd, 2> fds{{{fd, events, 0}, {stop_fd, POLLIN, 0}}};
  const nfds_t count = stop_fd >= 0 ? 2 : 1;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int left = timeout_ms;;) {
    const int n = ::poll(fds.data(), count, left);
    if (n > 0) return (count == 2 && fds[1].revents != 0) ? Readiness::stopped : Readiness::ready;
    if (n == 0) return Readiness::timeout;
    if (errno != EINTR) return Readiness::failed;
    left = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) return Readiness::timeout;
  }
}

/// Numeric address and port of a socket address.
inline void describe_address(const sockaddr_storage& addr, std::string& ip, int& port) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (addr.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(addr);
    ip = ::inet_ntop(AF_INET, &v4.sin_addr, buf.data(), buf.size()) ? buf.data() : "";
    port = ntohs(v4.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(addr);
    ip = ::inet_ntop(AF_INET6, &v6.sin6_addr, buf.data(), buf.size()) ? buf.data() : "";
    port = ntohs(v6.sin6_port);
  }
}

/// A socket stream that waits with poll(), buffers reads, caps the bytes one request may take, can be told
/// to write nothing (dropped connections), and gives up waiting as soon as the server stops.
class PollStream final : public httplib::Stream {
 public:
  /// Wraps a connected socket; `stop_fd` becomes readable when the server stops. With `tls`, bytes go
  /// through that (already accepted) TLS session instead of straight to the socket.
  PollStream(int sock, int stop_fd, int read_ms, int write_ms, ConnectionState& state, TlsSession* tls = nullptr)
      : sock_(sock), stop_fd_(stop_fd), read_ms_(read_ms), write_ms_(write_ms), state_(state), tls_(tls) {}

  using httplib::Stream::write;

  /// Buffered bytes are waiting, or the socket becomes readable before the read timeout.
  bool is_readable() const override { return wait_readable(read_ms_); }
  /// The socket becomes writable before the write timeout.
  bool is_writable() const override { return wait_fd(sock_, POLLOUT, -1, write_ms_) == Readiness::ready; }
  /// Bytes already buffered for the parser.
  std::size_t buffered() const noexcept { return len_ - pos_; }
  /// Waits for the next request's first byte; false on timeout, stop or error.
  bool wait_readable(int timeout_ms) const {
    return buffered() > 0 || (tls_ && tls_pending(tls_)) ||
           wait_fd(sock_, POLLIN, stop_fd_, timeout_ms) == Readiness::ready;
  }

  /// Reads up to `size` bytes: 0 at end of stream, -1 on error, timeout, stop or the request byte cap.
  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      const ssize_t got = fill();
      if (got <= 0) return got;
    }
    const std::size_t n = std::min(size, buffered());
    if (state_.request_bytes + n > state_.byte_cap) {
      state_.over_limit = true;
      return -1;
    }
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    state_.request_bytes += n;
    return static_cast<ssize_t>(n);
  }

  /// Writes some of the bytes; -1 (nothing written) once the handler asked for a drop.
  ssize_t write(const char* ptr, size_t size) override {
    const ssize_t n = (state_.drop || state_.write_failed || !is_writable()) ? -1 : send_some(ptr, size);
    state_.write_failed = n < 0;
    return n;
  }

  /// The peer's numeric address and port.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) describe_address(addr, ip, port);
  }
  /// Our numeric address and port.
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) describe_address(addr, ip, port);
  }
  /// The connected socket.
  socket_t socket() const override { return sock_; }

 private:
#ifdef MSG_NOSIGNAL
  static constexpr int send_flags = MSG_NOSIGNAL;  // a vanished client must not raise SIGPIPE
#else
  static constexpr int send_flags = 0;
#endif

  ssize_t send_some(const char* ptr, size_t size) const {
    if (tls_) return tls_write(tls_, ptr, size);
    for (;;) {
      const ssize_t n = ::send(sock_, ptr, size, send_flags);
      if (n >= 0 || errno != EINTR) return n;
    }
  }

  ssize_t fill() {
    if (!(tls_ && tls_pending(tls_)) && wait_fd(sock_, POLLIN, stop_fd_, read_ms_) != Readiness::ready) return -1;
    if (tls_) {
      const ssize_t n = tls_read(tls_, buf_.data(), buf_.size());
      pos_ = 0;
      len_ = n > 0 ? static_cast<std::size_t>(n) : 0;
      return n;
    }
    for (;;) {
      const ssize_t n = ::recv(sock_, buf_.data(), buf_.size(), 0);
      if (n >= 0 || errno != EINTR) {
        pos_ = 0;
        len_ = n > 0 ? static_cast<std::size_t>(n) : 0;
        return n;
      }
    }
  }

  int sock_;
  int stop_fd_;
  int read_ms_;
  int write_ms_;
  ConnectionState& state_;
  TlsSession* tls_;
  std::array<char, 16384> buf_{};
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
};

/// A worker pool that starts threads only when every existing one is busy, up to a maximum, so a generous

}  // namespace heygen::sim::detail

#endif  // HEYGEN_SIM_CONNECTION_HPP
