// BaseUrl: a base URL split into parts and checked.
#pragma once

#include "heygen/vt/detail.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace heygen {

/// A base URL split into parts and checked: scheme http or https, a host, an optional port and path prefix.
struct BaseUrl {
  std::string scheme{};  ///< "http" or "https".
  std::string host{};    ///< Host name or address (IPv6 keeps its brackets).
  int port = 0;          ///< Explicit port, or the scheme's default.
  std::string prefix{};  ///< Path prefix without a trailing slash, e.g. "/api".

  /// Parses and validates; throws std::invalid_argument naming what is wrong.
  static BaseUrl parse(std::string_view url) {
    if (url.empty()) throw std::invalid_argument("heygen: base_url is empty");
    // Any control byte, not only CR/LF: a tab or backspace in a host name is never intended.
    if (std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; }))
      throw std::invalid_argument("heygen: base_url contains whitespace or a control character");
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos)
      throw std::invalid_argument("heygen: base_url has no scheme (expected http:// or https://)");
    BaseUrl out;
    for (char c : url.substr(0, scheme_end)) out.scheme += detail::ascii_lower(c);
    if (out.scheme != "http" && out.scheme != "https")
      throw std::invalid_argument("heygen: base_url scheme must be http or https");
    std::string_view rest = url.substr(scheme_end + 3);
    const auto path_start = rest.find_first_of("/?#");
    if (path_start != std::string_view::npos && rest[path_start] != '/')
      throw std::invalid_argument("heygen: base_url must not have a query or fragment");
    std::string_view authority = rest.substr(0, path_start);
    if (authority.find('@') != std::string_view::npos)
      throw std::invalid_argument("heygen: base_url must not carry credentials; use bearer_token");
    if (path_start != std::string_view::npos) out.prefix = std::string(rest.substr(path_start));
    while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
    if (out.prefix.find_first_of("?#") != std::string::npos)
      throw std::invalid_argument("heygen: base_url must not have a query or fragment");
    out.port = out.scheme == "https" ? 443 : 80;
    const auto port_text = split_authority(authority, out.host);
    if (out.host.empty() || out.host == "[]") throw std::invalid_argument("heygen: base_url has no host");
    if (port_text) out.port = parse_port(*port_text);
    return out;
  }

  /// Splits "host[:port]" or "[v6]:port" into the host (brackets kept) and the port text, if any.
  static std::optional<std::string_view> split_authority(std::string_view authority, std::string& host) {
    if (authority.empty() || authority.front() != '[') {
      const auto colon = authority.find(':');
      host = std::string(authority.substr(0, colon));
      if (colon == std::string_view::npos) return std::nullopt;
      return authority.substr(colon + 1);
    }
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("heygen: base_url has an unclosed IPv6 bracket");
    host = std::string(authority.substr(0, close + 1));
    if (close + 1 == authority.size()) return std::nullopt;
    if (authority[close + 1] != ':') throw std::invalid_argument("heygen: base_url has junk after the IPv6 host");
    return authority.substr(close + 2);
  }

  /// "scheme://host:port", without the prefix.
  [[nodiscard]] std::string origin() const { return scheme + "://" + host + ":" + std::to_string(port); }

 private:
  static int parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw std::invalid_argument("heygen: base_url has an invalid port");
    const int port = std::stoi(std::string(text));
    if (port < 1 || port > 65535) throw std::invalid_argument("heygen: base_url port is out of range");
    return port;
  }
};

/// An absolute URL (a presigned storage URL, say) as the host to connect to and the target to send, kept
/// verbatim: a presigned URL's query is signed byte for byte.
struct AbsoluteUrl {
  BaseUrl origin{};      ///< Scheme, host and port (no prefix).
  std::string target{};  ///< Path and query, exactly as given ("/" when the URL has no path); no fragment.

  /// Splits and checks `url`; throws std::invalid_argument naming what is wrong.
  static AbsoluteUrl parse(std::string_view url) {
    const auto scheme_end = url.find("://");
    const auto authority_end =
        scheme_end == std::string_view::npos ? std::string_view::npos : url.find_first_of("/?#", scheme_end + 3);
    AbsoluteUrl out;
    out.origin = BaseUrl::parse(url.substr(0, authority_end));
    if (authority_end == std::string_view::npos) {
      out.target = "/";
      return out;
    }
    std::string_view rest = url.substr(authority_end);
    rest = rest.substr(0, rest.find('#'));
    if (rest.empty() || rest.front() != '/') out.target = "/";
    out.target += rest;
    return out;
  }
};

}  // namespace heygen
