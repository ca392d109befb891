// A scripted HTTP/1.1 server on raw sockets, for the faults an HTTP library will not produce: resets in the
// middle of a body, a byte a second, a body far longer than anyone should read, a Content-Length that lies.
// Each request is answered by the script with bytes to write and what to do after them. Loopback only.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rawhttp {

/// What the server does after writing a reply's bytes.
enum class Then {
  keep_alive,  ///< wait for the next request on this connection
  close,       ///< close the connection cleanly
  close_late,  ///< close once the next request starts to arrive, unread: a keep-alive close a reuse always races
  reset,       ///< close with an RST (SO_LINGER 0)
  hang,        ///< write nothing more and never close (until the client gives up or the server stops)
  trickle,     ///< write `bytes` one per `trickle_every`, then hang
  flood,       ///< after `bytes`, write filler until the client stops reading
};

/// One scripted answer.
struct Reply {
  std::string bytes;
  Then then = Then::keep_alive;
};

/// The request line as received.
struct RequestLine {
  std::string method;
  std::string target;
  std::string head;  ///< the whole head: request line and headers
  std::string body;
};

/// The script: request number (0-based, over all connections) and request → reply.
using Script = std::function<Reply(std::size_t, const RequestLine&)>;

/// A whole HTTP/1.1 response with a JSON body and a correct Content-Length.
inline std::string response(int status, const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

/// Serves a script on 127.0.0.1 on an ephemeral port until destroyed.
class Server {
 public:
  /// Binds and starts accepting; `trickle_every` paces Then::trickle.
  explicit Server(Script script, std::chrono::milliseconds trickle_every = std::chrono::milliseconds(1000))
      : script_(std::move(script)), trickle_every_(trickle_every) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 64) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("raw server: cannot listen on loopback");
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Stops accepting, ends every connection and joins every thread.
  ~Server() {
    stopping_ = true;
    acceptor_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      for (const int fd : open_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& thread : threads) thread.join();
    ::close(listener_);
  }

  /// The port it listens on.
  [[nodiscard]] int port() const noexcept { return port_; }
  /// "http://127.0.0.1:PORT".
  [[nodiscard]] std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// Requests read so far.
  [[nodiscard]] std::size_t requests() const noexcept { return requests_; }
  /// Connections accepted so far.
  [[nodiscard]] std::size_t connections() const noexcept { return connections_; }

 private:
  static constexpr int poll_slice_ms = 20;  // how quickly a stopping server notices

  void accept_loop() {
    while (!stopping_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, poll_slice_ms) <= 0) continue;
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      std::lock_guard lock(mutex_);
      open_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    RequestLine request;
    while (!stopping_ && read_request(fd, buffer, request)) {
      const Reply reply = script_(requests_++, request);
      if (!act(fd, reply)) break;
    }
    std::lock_guard lock(mutex_);
    std::erase(open_, fd);
    ::close(fd);
  }

  /// Writes the reply and carries out its ending; true when the connection stays open for more requests.
  bool act(int fd, const Reply& reply) {
    switch (reply.then) {
      case Then::keep_alive: return write_all(fd, reply.bytes);
      case Then::close: write_all(fd, reply.bytes); return false;
      case Then::close_late:
        if (write_all(fd, reply.bytes)) wait_readable(fd);
        return false;  // closed with the request unread: the peer gets an RST
      case Then::reset: {
        write_all(fd, reply.bytes);
        const linger hard{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        return false;
      }
      case Then::hang: write_all(fd, reply.bytes); return idle_until_peer_leaves(fd);
      case Then::trickle:
        for (const char c : reply.bytes)
          if (!write_all(fd, std::string(1, c)) || !pause(fd, trickle_every_)) return false;
        return idle_until_peer_leaves(fd);
      case Then::flood: {
        if (!write_all(fd, reply.bytes)) return false;
        const std::string filler(std::size_t{64} * 1024, ' ');
        while (!stopping_ && write_all(fd, filler)) {
        }
        return false;
      }
    }
    return false;
  }

  /// Waits `how_long`; false when the peer closed or the server is stopping.
  bool pause(int fd, std::chrono::milliseconds how_long) {
    const auto until = std::chrono::steady_clock::now() + how_long;
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, poll_slice_ms) > 0) {
        char byte;
        if (::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) return false;
      }
    }
    return !stopping_;
  }

  /// Waits until the peer sends something (or hangs up), or the server stops.
  void wait_readable(int fd) {
    for (pollfd p{fd, POLLIN, 0}; !stopping_ && ::poll(&p, 1, poll_slice_ms) == 0;) {
    }
  }

  /// Never answers; returns false once the peer hangs up or the server stops.
  bool idle_until_peer_leaves(int fd) {
    while (pause(fd, std::chrono::milliseconds(poll_slice_ms))) {
    }
    return false;
  }

  static bool write_all(int fd, const std::string& bytes) {
    for (std::size_t at = 0; at < bytes.size();) {
      const ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Reads one request (head, and a body when Content-Length says so); false on close, error or stop.
  bool read_request(int fd, std::string& buffer, RequestLine& out) {
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos)
      if (!read_more(fd, buffer)) return false;
    out.head = buffer.substr(0, end);
    buffer.erase(0, end + 4);
    const auto space = out.head.find(' ');
    out.method = out.head.substr(0, space);
    out.target = out.head.substr(space + 1, out.head.find(' ', space + 1) - space - 1);
    const std::size_t length = content_length(out.head);
    while (buffer.size() < length)
      if (!read_more(fd, buffer)) return false;
    out.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return true;
  }

  static std::size_t content_length(const std::string& head) {
    std::string lower(head);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto at = lower.find("\r\ncontent-length:");
    return at == std::string::npos ? 0 : std::stoul(lower.substr(at + 17));
  }

  bool read_more(int fd, std::string& buffer) {
    while (!stopping_) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, poll_slice_ms);
      if (ready < 0) return false;
      if (ready == 0) continue;
      char chunk[4096];
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    return false;
  }

  Script script_;
  std::chrono::milliseconds trickle_every_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> requests_{0};
  std::atomic<std::size_t> connections_{0};
  std::mutex mutex_;
  std::vector<int> open_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;  // last: it uses the members above
};

}  // namespace rawhttp
