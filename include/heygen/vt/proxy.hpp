// Proxies: a request's HTTP proxy, from the options or the environment as curl reads it.
#pragma once

#include "heygen/vt/detail.hpp"
#include "heygen/vt/options.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

namespace heygen {

/// A variable's value by name, or nothing when it is not set (set but empty is not the same: see ProxyConfig).
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment as an EnvironmentLookup (std::getenv).
inline EnvironmentLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

/// An HTTP proxy: where it listens and the credentials it wants (sent as Basic authentication).
struct ProxyUrl {
  std::string host{};      ///< Host name or address (IPv6 in brackets).
  int port = 1080;         ///< The URL's port; curl's default, 1080, when it names none.
  std::string user{};      ///< Percent-decoded user name; empty: no authentication.
  std::string password{};  ///< Percent-decoded password; never logged.
  std::string source{};    ///< Where it came from: a variable's name, or "ClientOptions::proxy".

  /// The host without IPv6 brackets, as a socket API wants it.
  [[nodiscard]] std::string bare_host() const {
    const bool bracketed = host.size() >= 2 && host.front() == '[';
    return bracketed ? host.substr(1, host.size() - 2) : host;
  }

  /// "http://host:port", with the user named and the password hidden ("http://alice:***@host:port"): for logs.
  [[nodiscard]] std::string redacted() const {
    std::string text = "http://";
    if (!user.empty()) text.append(user).append(password.empty() ? "@" : ":***@");
    return text.append(host).append(":").append(std::to_string(port));
  }

  /// Parses "[http://][user[:password]@]host[:port][/]" as curl does (no scheme means http, no port 1080). Throws
  /// std::invalid_argument naming `source` and what is wrong, never repeating the value (it may hold a password).
  static ProxyUrl parse(std::string_view text, std::string_view source) {
    const auto refuse = [source](std::string_view what) {
      std::string message = "heygen: ";
      message.append(source).append(": ").append(what).append(" (expected http://[user:password@]host[:port])");
      throw std::invalid_argument(message);
    };
    if (std::any_of(text.begin(), text.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; }))
      refuse("a proxy URL holds no whitespace or control character");
    ProxyUrl out;
    out.source = std::string(source);
    if (const auto scheme_end = text.find("://"); scheme_end != std::string_view::npos) {
      if (!detail::iequals(text.substr(0, scheme_end), "http"))
        refuse("only http:// proxies are supported (not https:// or socks)");
      text.remove_prefix(scheme_end + 3);
    }
    if (!text.empty() && text.back() == '/') text.remove_suffix(1);
    if (text.find_first_of("/?#") != std::string_view::npos) refuse("a proxy URL has no path, query or fragment");
    if (const auto at = text.rfind('@'); at != std::string_view::npos) {
      const std::string_view userinfo = text.substr(0, at);
      const auto colon = userinfo.find(':');
      if (!percent_decode(userinfo.substr(0, colon), out.user) ||
          (colon != std::string_view::npos && !percent_decode(userinfo.substr(colon + 1), out.password)))
        refuse("the user or password has a bad percent-escape");
      if (out.user.empty()) refuse("a password needs a user name");
      text.remove_prefix(at + 1);
    }
    const std::optional<std::string_view> port = split_host(text, out.host);
    if (out.host.empty()) refuse("it names no host");
    if (port && !parse_port(*port, out.port)) refuse("its port is not a number from 1 to 65535");
    return out;
  }

 private:
  /// Splits "host[:port]" or "[v6][:port]" into the host (brackets kept) and the port's text, if any; the host is
  /// left empty when the brackets do not close or something follows them other than a port.
  static std::optional<std::string_view> split_host(std::string_view authority, std::string& host) {
    if (authority.empty() || authority.front() != '[') {
      const auto colon = authority.find(':');
      host = std::string(authority.substr(0, colon));
      if (colon == std::string_view::npos) return std::nullopt;
      return authority.substr(colon + 1);
    }
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close < 2 || (close + 1 < authority.size() && authority[close + 1] != ':'))
      return std::nullopt;  // host stays empty: refused
    host = std::string(authority.substr(0, close + 1));
    if (close + 1 == authority.size()) return std::nullopt;
    return authority.substr(close + 2);
  }

  static bool parse_port(std::string_view text, int& port) {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    port = std::stoi(std::string(text));
    return port >= 1 && port <= 65535;
  }

  /// Appends `text` percent-decoded to `out`; false on a bad escape.
  static bool percent_decode(std::string_view text, std::string& out) {
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      c = detail::ascii_lower(c);
      return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '%') {
        out += text[i];
        continue;
      }
      if (i + 2 >= text.size()) return false;
      const int high = hex(text[i + 1]);
      const int low = hex(text[i + 2]);
      if (high < 0 || low < 0) return false;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    }
    return true;
  }
};

namespace detail {

/// AF_INET or AF_INET6 when `text` is an IPv4 or IPv6 address (without brackets), its 4 or 16 bytes in `bytes`;
/// else 0.
inline int parse_ip(std::string_view text, std::array<unsigned char, 16>& bytes) {
  if (text.empty() || text.size() >= 64) return 0;
  const std::string copy(text);
  if (inet_pton(AF_INET, copy.c_str(), bytes.data()) == 1) return AF_INET;
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) == 1) return AF_INET6;
  return 0;
}

/// A decimal number from 0 to `most`, or -1.
inline int small_number(std::string_view text, int most) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  const int value = std::stoi(std::string(text));
  return value <= most ? value : -1;
}

/// A NO_PROXY entry as its pattern and its port (0: any port; -1: a port that is not one, so the entry matches
/// nothing): "name:port", "1.2.3.4:port", "[v6]:port". An IPv6 address without brackets has no port.
inline std::pair<std::string_view, int> split_no_proxy_entry(std::string_view entry) {
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return {std::string_view{}, 0};
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {std::string_view{}, 0};
    return {entry.substr(1, close - 1), rest.empty() ? 0 : small_number(rest.substr(1), 65535)};
  }
  const auto colon = entry.find(':');
  if (colon == std::string_view::npos || entry.find(':', colon + 1) != std::string_view::npos) return {entry, 0};
  const int port = small_number(entry.substr(colon + 1), 65535);
  return {entry.substr(0, colon), port == 0 ? -1 : port};
}

/// True when the address `host` is the address `pattern`, or lies in its CIDR block ("10.0.0.0/8", "fd00::/8").
inline bool ip_in_block(std::string_view host, std::string_view pattern) {
  const auto slash = pattern.find('/');
  std::array<unsigned char, 16> address{};
  std::array<unsigned char, 16> network{};
  const int family = parse_ip(host, address);
  if (family == 0 || parse_ip(pattern.substr(0, slash), network) != family) return false;
  const int all = family == AF_INET ? 32 : 128;
  const int bits = slash == std::string_view::npos ? all : small_number(pattern.substr(slash + 1), all);
  if (bits < 0) return false;
  const auto whole = static_cast<std::size_t>(bits / 8);
  if (!std::equal(address.begin(), address.begin() + static_cast<std::ptrdiff_t>(whole), network.begin())) return false;
  if (bits % 8 == 0) return true;
  const auto mask = static_cast<unsigned char>(0xFFU << (8 - bits % 8));
  return (address[whole] & mask) == (network[whole] & mask);
}

/// True when the name `host` is `pattern` or a name under it ("www.example.com" under "example.com" or
/// ".example.com" or "*.example.com"), without regard to case or a trailing dot.
inline bool name_under(std::string_view host, std::string_view pattern) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
  if (pattern.substr(0, 2) == "*.") pattern.remove_prefix(1);
  if (!pattern.empty() && pattern.front() == '.') pattern.remove_prefix(1);
  if (pattern.empty() || pattern.size() > host.size()) return false;
  if (pattern.size() == host.size()) return iequals(host, pattern);
  return host[host.size() - pattern.size() - 1] == '.' && iequals(host.substr(host.size() - pattern.size()), pattern);
}

}  // namespace detail

/// True when `list`, in the syntax of curl's NO_PROXY, says that `host` (a name, an IPv4 address, or an IPv6 one in
/// brackets) on `port` is reached directly. curl's rules: a list of entries separated by commas (blanks around them
/// ignored); "*" alone matches every host; a name matches itself and every name under it ("example.com" and
/// ".example.com" both match "example.com" and "www.example.com", not "notexample.com"), without regard to case or
/// a trailing dot; an IP address matches only an address entry, exactly or within a CIDR block ("192.168.0.0/16",
/// "fd00::/8"; IPv6 entries with or without brackets). From Go, as the issue asks: an entry may end in ":port" and
/// then matches that port alone, and "*.example.com" reads as ".example.com". Names are never resolved.
inline bool no_proxy_matches(std::string_view list, std::string_view host, int port) {
  if (detail::trim_blanks(list) == "*") return true;
  const bool bracketed = host.size() >= 2 && host.front() == '[';
  const std::string_view bare = bracketed ? host.substr(1, host.size() - 2) : host;
  std::array<unsigned char, 16> ignored{};
  const bool numeric = detail::parse_ip(bare, ignored) != 0;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view entry = detail::trim_blanks(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    const auto [pattern, entry_port] = detail::split_no_proxy_entry(entry);
    if (pattern.empty() || (entry_port != 0 && entry_port != port)) continue;
    if (numeric ? detail::ip_in_block(bare, pattern) : detail::name_under(bare, pattern)) return true;
  }
  return false;
}

/// Which proxy each request goes through: decided once per client, from its options or from the environment.
///
/// The environment is read as curl reads it: for an http:// target `http_proxy` (lower case only: `HTTP_PROXY` can
/// be set by a CGI request's `Proxy:` header), for an https:// one `https_proxy` then `HTTPS_PROXY`; when the
/// scheme's variable is not set, `all_proxy` then `ALL_PROXY`; the hosts that go direct in `no_proxy`, then
/// `NO_PROXY`. The first variable that is set is used, and a variable set to "" means no proxy (or no exception).
struct ProxyConfig {
  std::optional<ProxyUrl> http{};   ///< The proxy for http:// targets; empty: none.
  std::optional<ProxyUrl> https{};  ///< The proxy for https:// targets (a CONNECT tunnel); empty: none.
  std::string no_proxy{};           ///< Targets reached directly, in NO_PROXY's syntax (no_proxy_matches()).
  std::string no_proxy_source{};    ///< Where no_proxy came from (a variable, ClientOptions::no_proxy), if anywhere.

  /// The proxy for a request to `scheme://host:port`, or nullptr when it goes directly.
  [[nodiscard]] const ProxyUrl* for_target(std::string_view scheme, std::string_view host, int port) const {
    const std::optional<ProxyUrl>& proxy = scheme == "https" ? https : http;
    if (!proxy || no_proxy_matches(no_proxy, host, port)) return nullptr;
    return &*proxy;
  }

  /// The proxies of the environment `env`; throws std::invalid_argument naming a variable that is malformed.
  static ProxyConfig from_environment(const EnvironmentLookup& env) {
    ProxyConfig config;
    config.http = from_variables(env, {"http_proxy"});
    config.https = from_variables(env, {"https_proxy", "HTTPS_PROXY"});
    if (auto found = first_set(env, {"no_proxy", "NO_PROXY"}))
      config.use_no_proxy(std::move(found->value), std::move(found->name));
    return config;
  }

  /// The proxies `options` ask for: ClientOptions::proxy ("" for none) and no_proxy where set, the environment
  /// (ClientOptions::environment, or the process's) for the rest. Throws std::invalid_argument naming what is
  /// malformed.
  static ProxyConfig from_options(const ClientOptions& options) {
    const EnvironmentLookup env = options.environment ? options.environment : process_environment();
    if (!options.proxy) {
      ProxyConfig config = from_environment(env);
      if (options.no_proxy) config.use_no_proxy(*options.no_proxy, "ClientOptions::no_proxy");
      return config;
    }
    ProxyConfig config;
    if (!options.proxy->empty()) config.http = config.https = ProxyUrl::parse(*options.proxy, "ClientOptions::proxy");
    if (options.no_proxy)
      config.use_no_proxy(*options.no_proxy, "ClientOptions::no_proxy");
    else if (auto found = first_set(env, {"no_proxy", "NO_PROXY"}))
      config.use_no_proxy(std::move(found->value), std::move(found->name));
    return config;
  }

 private:
  struct Found {
    std::string name;
    std::string value;
  };

  void use_no_proxy(std::string list, std::string source) {
    no_proxy = std::move(list);
    no_proxy_source = std::move(source);
  }

  /// The first of `names` that is set in `env` (even to ""), with its value.
  static std::optional<Found> first_set(const EnvironmentLookup& env, std::initializer_list<std::string_view> names) {
    for (const std::string_view name : names)
      if (std::optional<std::string> value = env(name)) return Found{std::string(name), std::move(*value)};
    return std::nullopt;
  }

  /// The proxy of the first of `own` that is set, else of all_proxy or ALL_PROXY; none when that one is "".
  static std::optional<ProxyUrl> from_variables(const EnvironmentLookup& env,
                                                std::initializer_list<std::string_view> own) {
    std::optional<Found> found = first_set(env, own);
    if (!found) found = first_set(env, {"all_proxy", "ALL_PROXY"});
    if (!found || found->value.empty()) return std::nullopt;
    return ProxyUrl::parse(found->value, found->name);
  }
};

}  // namespace heygen
