// TunnelClient: HTTPS through an HTTP proxy's CONNECT tunnel, opened by us.
#pragma once

#include "heygen/vt/config.hpp"
#include "heygen/vt/proxy.hpp"
#include "heygen/vt/request_watchdog.hpp"

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#ifdef HEYGEN_VT_WITH_HTTPLIB

namespace heygen::detail {

/// Sends all of `bytes` on the blocking socket `sock` by `deadline`.
inline bool send_all(socket_t sock, std::string_view bytes, std::chrono::steady_clock::time_point deadline) {
  while (!bytes.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd ready{sock, POLLOUT, 0};
    if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) return false;
#ifdef MSG_NOSIGNAL
    const auto sent = ::send(sock, bytes.data(), bytes.size(), MSG_NOSIGNAL);
#else
    const auto sent = ::send(sock, bytes.data(), bytes.size(), 0);
#endif
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

/// Reads one byte from the blocking socket `sock` by `deadline`.
inline bool receive_byte(socket_t sock, char& byte, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd ready{sock, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) return false;
    const auto got = ::recv(sock, &byte, 1, 0);
    if (got == 1) return true;
    if (got == 0 || errno != EINTR) return false;
  }
}

#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
/// An HTTPS client that reaches its server through an HTTP proxy's CONNECT tunnel, opened here rather than by
/// httplib 0.11: its own tunnel sends the proxy's credentials on every request inside the tunnel too (so to the
/// server), and on any refusal but 407 goes on to a TLS handshake over the proxy's error page, which can hang past
/// every timeout. httplib connects the socket to the proxy (with its timeouts and socket options); the CONNECT is
/// written and its answer read here; the TLS handshake and the server's certificate check are httplib's, exactly
/// as without a proxy.
class TunnelClient final : public httplib::SSLClient {
 public:
  /// A client of `host` (without brackets) on `port` through `proxy`, whose CONNECT carries `user_agent`.
  TunnelClient(const std::string& host, int port, ProxyUrl proxy, const std::string& user_agent)
      : httplib::SSLClient(host, port), proxy_(std::move(proxy)) {
    std::string target = host.find(':') == std::string::npos ? host : "[" + host + "]";
    target.append(":").append(std::to_string(port));
    head_.append("CONNECT ").append(target).append(" HTTP/1.1\r\nHost: ").append(target);
    head_.append("\r\nUser-Agent: ").append(user_agent);
    if (!proxy_.user.empty()) {
      std::string credentials = proxy_.user;
      credentials.append(":").append(proxy_.password);
      head_.append("\r\nProxy-Authorization: Basic ").append(uploads::base64(credentials));
    }
    head_.append("\r\n\r\n");
  }

  /// The status with which the proxy refused the last CONNECT (407, 403, 502...), or 0.
  [[nodiscard]] int refused_with() const noexcept { return refused_; }

 private:
  /// Called by httplib, under its socket lock, for every socket it opens.
  bool create_and_connect_socket(Socket& socket, httplib::Error& error) override {
    refused_ = 0;
    if (!is_valid()) return false;
    // httplib connects to its proxy when one is set; cleared again at once, so it opens no tunnel of its own.
    proxy_host_ = proxy_.bare_host();
    proxy_port_ = proxy_.port;
    // NOLINTNEXTLINE(bugprone-parent-virtual-call): SSLClient's own is private, and adds only is_valid(), above.
    const bool connected = ClientImpl::create_and_connect_socket(socket, error);
    proxy_host_.clear();
    proxy_port_ = -1;
    if (!connected) return false;
    if (open_tunnel(socket.sock, error)) return true;
    close_socket(socket);
    return false;
  }

  /// Writes the CONNECT and reads the proxy's answer, within the read timeout; true when it answered 2xx.
  bool open_tunnel(socket_t sock, httplib::Error& error) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(read_timeout_sec_) +
                          std::chrono::microseconds(read_timeout_usec_);
    if (!send_all(sock, head_, deadline)) {
      error = httplib::Error::Write;
      return false;
    }
    // Byte by byte: what follows the answer's head is the server's TLS, for httplib to read.
    std::string answer;
    while (answer.size() < 4 || answer.compare(answer.size() - 4, 4, "\r\n\r\n") != 0) {
      char byte = 0;
      if (answer.size() > max_answer || !receive_byte(sock, byte, deadline)) {
        error = httplib::Error::Read;
        return false;
      }
      answer += byte;
    }
    // "HTTP/1.1 200 Connection established": the status is the number after the first space.
    const auto space = answer.find(' ');
    const int status = space == std::string::npos ? 0 : std::atoi(answer.c_str() + space + 1);
    if (status >= 200 && status < 300) return true;
    refused_ = status > 0 ? status : 502;  // an answer that is not HTTP: the proxy is broken
    error = httplib::Error::Connection;
    return false;
  }

  static constexpr std::size_t max_answer = std::size_t{16} * 1024;  // a CONNECT answer's head is a few lines

  ProxyUrl proxy_;
  std::string head_;  // the CONNECT request, whole
  int refused_ = 0;
};
#endif

}  // namespace heygen::detail

#endif  // HEYGEN_VT_WITH_HTTPLIB
