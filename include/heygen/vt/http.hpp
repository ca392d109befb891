// HTTP value types and the Transport concept.
#pragma once

#include "heygen/vt/detail.hpp"

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// One HTTP header line.
struct HttpHeader {
  std::string name{};   ///< Header name, as sent or received.
  std::string value{};  ///< Header value.
};

/// A request body read in chunks as it is sent (a file, say), so a body of any size moves through a fixed amount of
/// memory. Its size is known beforehand and goes out as Content-Length.
struct BodySource {
  std::uint64_t size = 0;  ///< Exactly how many bytes the body holds.
  /// Fills `buffer` with up to `capacity` bytes of the body from `offset`; returns how many (more than 0 while
  /// `offset < size`): 0 means it cannot, and the transfer stops (the source keeps its own reason).
  std::function<std::size_t(std::uint64_t offset, char* buffer, std::size_t capacity)> read{};
};

/// Where a successful (2xx) response body goes, chunk by chunk, as it arrives; any other answer's body (an error
/// page) is kept in HttpResponse::body, under the size cap, so it can be read.
struct BodySink {
  /// Told a 2xx answer's status and headers before its body (may be empty); false refuses the body, and the
  /// transfer stops (the sink keeps its own reason).
  std::function<bool(int status, const std::vector<HttpHeader>& headers)> begin{};
  /// Takes the next chunk; false stops the transfer (the sink keeps its own reason).
  std::function<bool(const char* data, std::size_t length)> write{};
};

/// A request the client asks a transport to send.
struct HttpRequest {
  std::string method{};                 ///< "GET", "POST", "PATCH" or "DELETE".
  std::string url{};                    ///< Full URL: scheme, host, port, path and query (see transport_reads_url).
  std::string target{};                 ///< Path and query only (what goes on the request line).
  std::vector<HttpHeader> headers{};    ///< Headers to add (the transport adds Host, Content-Length, auth).
  std::string body{};                   ///< Request body; empty for GET.
  std::chrono::milliseconds timeout{};  ///< Whole-request budget; the transport must give up after it.
  std::stop_token stop{};               ///< Triggered when the caller cancels; a transport may abandon the request.
  /// A streamed body instead of `body` (only for a transport that streams: see transport_streams). With a source
  /// or a sink, `url` is always set (it may name another host, such as object storage) and `timeout` bounds each
  /// silence rather than the whole transfer.
  const BodySource* source = nullptr;
  BodySink* sink = nullptr;  ///< Where a 2xx answer's body goes instead of HttpResponse::body (streaming only).
};

/// Why no HTTP response arrived.
enum class TransportError {
  none,            ///< A response arrived.
  refused,         ///< The connection could not be made (refused, unreachable, name not resolved).
  timeout,         ///< Connecting or reading took longer than allowed.
  reset,           ///< The connection broke before a whole response arrived.
  tls,             ///< The server's certificate failed verification, or the CA file could not be loaded (not retried).
  body_too_large,  ///< The body exceeded the size cap; the transport stopped reading.
  cancelled,       ///< The transport was asked to stop.
  proxy,           ///< The proxy refused the request: 407, its credentials missing or wrong (not retried).
  other,           ///< Anything else; see error_detail.
};

/// The lower-case name of a transport error, e.g. "refused".
constexpr std::string_view to_string(TransportError error) noexcept {
  switch (error) {
    case TransportError::none: return "none";
    case TransportError::refused: return "refused";
    case TransportError::timeout: return "timeout";
    case TransportError::reset: return "reset";
    case TransportError::tls: return "tls";
    case TransportError::body_too_large: return "body_too_large";
    case TransportError::cancelled: return "cancelled";
    case TransportError::proxy: return "proxy";
    case TransportError::other: return "other";
  }
  return "unknown";
}

/// What came back: a status, headers and body, or the reason nothing came back. Never an exception.
struct HttpResponse {
  int status = 0;                               ///< HTTP status; 0 when no response arrived.
  std::vector<HttpHeader> headers{};            ///< Response headers.
  std::string body{};                           ///< Response body.
  TransportError error = TransportError::none;  ///< Why no response arrived, if none did.
  std::string error_detail{};                   ///< Human-readable detail for `error`.

  /// True when an HTTP response arrived (whatever its status).
  [[nodiscard]] bool received() const noexcept { return error == TransportError::none && status > 0; }

  /// The first header named `name` (case-insensitive), if present.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept;

  /// A response that says no answer arrived, and why.
  static HttpResponse failure(TransportError error, std::string detail) {
    HttpResponse response;
    response.error = error;
    response.error_detail = std::move(detail);
    return response;
  }
};

/// Anything that can send an HttpRequest and return an HttpResponse, from many threads at once.
template <class T>
concept Transport = requires(T& transport, const HttpRequest& request) {
  { transport.send(request) } -> std::same_as<HttpResponse>;
};

/// Whether transport T reads HttpRequest::url. A transport that sends only the target on connections of its own
/// to the base URL's host declares `static constexpr bool reads_url = false;`, and the full URL, otherwise built
/// for every request, is left empty; any other transport gets it.
template <class T>
inline constexpr bool transport_reads_url = [] {
  if constexpr (requires {
                  { T::reads_url } -> std::convertible_to<bool>;
                })
    return static_cast<bool>(T::reads_url);
  else
    return true;
}();

/// Whether transport T streams: sends a BodySource and fills a BodySink (`static constexpr bool streams = true;`).
/// Uploads and downloads need one; any other transport still compiles, and a transfer through it fails with a
/// clear error.
template <class T>
inline constexpr bool transport_streams = [] {
  if constexpr (requires {
                  { T::streams } -> std::convertible_to<bool>;
                })
    return static_cast<bool>(T::streams);
  else
    return false;
}();

/// The value of the first of `headers` named `name` (case-insensitive), or nothing.
inline std::optional<std::string_view> header_value(const std::vector<HttpHeader>& headers,
                                                    std::string_view name) noexcept {
  for (const auto& h : headers)
    if (detail::iequals(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}

inline std::optional<std::string_view> HttpResponse::header(std::string_view name) const noexcept {
  return header_value(headers, name);
}

}  // namespace heygen
