// Proxies from the options and the environment, as curl reads them; the User-Agent. Pure: no network.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace heygen;

namespace {

/// An environment of exactly these variables.
EnvironmentLookup environment(std::map<std::string, std::string, std::less<>> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
}

/// "host:port (source)" of the proxy for a target, or "direct".
std::string route(const ProxyConfig& config, std::string_view scheme, std::string_view host, int port) {
  const ProxyUrl* proxy = config.for_target(scheme, host, port);
  if (proxy == nullptr) return "direct";
  return proxy->host + ":" + std::to_string(proxy->port) + " (" + proxy->source + ")";
}

/// The message of the std::invalid_argument that `make` throws, or "" when it throws none.
template <class Make>
std::string refusal(Make&& make) {
  try {
    make();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("proxy URL: curl's forms — scheme optional, port 1080 by default, credentials percent-decoded") {
  const ProxyUrl plain = ProxyUrl::parse("proxy.corp:3128", "HTTPS_PROXY");
  CHECK(plain.host == "proxy.corp");
  CHECK(plain.port == 3128);
  CHECK(plain.user.empty());
  CHECK(plain.source == "HTTPS_PROXY");
  CHECK(ProxyUrl::parse("http://proxy.corp", "x").port == 1080);
  CHECK(ProxyUrl::parse("HTTP://proxy.corp:8080/", "x").port == 8080);
  const ProxyUrl v6 = ProxyUrl::parse("http://[::1]:3128", "x");
  CHECK(v6.host == "[::1]");
  CHECK(v6.bare_host() == "::1");
  const ProxyUrl auth = ProxyUrl::parse("http://al%40ice:p%3Ass@10.0.0.1:3128", "x");
  CHECK(auth.user == "al@ice");
  CHECK(auth.password == "p:ss");
  CHECK(auth.host == "10.0.0.1");
  CHECK(auth.redacted() == "http://al@ice:***@10.0.0.1:3128");
  CHECK(ProxyUrl::parse("http://bob@h:1", "x").redacted() == "http://bob@h:1");
}

TEST_CASE("proxy URL: a malformed one is refused naming its source and never repeating the password") {
  const auto message = [](std::string_view text) {
    return refusal([&] { (void)ProxyUrl::parse(text, "HTTPS_PROXY"); });
  };
  for (const std::string_view bad :
       {"socks5://alice:hunter2@h:1080", "https://alice:hunter2@h:443", "http://alice:hunter2@h:99999",
        "http://alice:hunter2@h:port", "http://alice:hunter2@", "http://alice:hunter2@h:1/path",
        "http://alice:hunter2@h 1", "http://alice:hunter2%zz@h:1", "http://:hunter2@h:1", "http://alice:hunter2@[::1",
        "http://alice:hunter2@h:0", ""}) {
    CAPTURE(bad);
    const std::string text = message(bad);
    CHECK(text.find("heygen: HTTPS_PROXY: ") == 0);
    CHECK(text.find("hunter2") == std::string::npos);
  }
  CHECK(message("socks5://h:1080").find("only http:// proxies") != std::string::npos);
}

TEST_CASE("environment: https_proxy before HTTPS_PROXY; http_proxy in lower case only; then all_proxy, ALL_PROXY") {
  const auto config = [](std::map<std::string, std::string, std::less<>> variables) {
    return ProxyConfig::from_environment(environment(std::move(variables)));
  };
  CHECK(route(config({}), "https", "api.heygen.com", 443) == "direct");
  CHECK(route(config({{"HTTPS_PROXY", "up:1"}}), "https", "h", 443) == "up:1 (HTTPS_PROXY)");
  CHECK(route(config({{"https_proxy", "low:1"}, {"HTTPS_PROXY", "up:1"}}), "https", "h", 443) == "low:1 (https_proxy)");
  CHECK(route(config({{"HTTPS_PROXY", "up:1"}}), "http", "h", 80) == "direct");
  CHECK(route(config({{"http_proxy", "low:1"}}), "http", "h", 80) == "low:1 (http_proxy)");
  CHECK(route(config({{"HTTP_PROXY", "up:1"}}), "http", "h", 80) == "direct");
  CHECK(route(config({{"HTTP_PROXY", "up:1"}, {"ALL_PROXY", "all:1"}}), "http", "h", 80) == "all:1 (ALL_PROXY)");
  CHECK(route(config({{"all_proxy", "a:1"}, {"ALL_PROXY", "A:1"}}), "https", "h", 443) == "a:1 (all_proxy)");
  CHECK(route(config({{"https_proxy", "s:1"}, {"all_proxy", "a:1"}}), "http", "h", 80) == "a:1 (all_proxy)");
  // Set but empty: no proxy for that scheme, as curl (the search stops at the first variable that is set).
  CHECK(route(config({{"https_proxy", ""}, {"HTTPS_PROXY", "up:1"}}), "https", "h", 443) == "direct");
  CHECK(route(config({{"https_proxy", ""}, {"ALL_PROXY", "all:1"}}), "https", "h", 443) == "direct");
}

TEST_CASE("environment: a malformed variable is an error naming it, even for a scheme the base URL does not use") {
  CHECK(refusal([] {
          (void)ProxyConfig::from_environment(environment({{"HTTPS_PROXY", "socks5://h:1"}}));
        }) ==
        "heygen: HTTPS_PROXY: only http:// proxies are supported (not https:// or socks) (expected "
        "http://[user:password@]host[:port])");
  CHECK(refusal([] {
          (void)ProxyConfig::from_environment(environment({{"http_proxy", "h:x"}}));
        }).find("heygen: http_proxy: ") == 0);
  CHECK(refusal([] {
          (void)ProxyConfig::from_environment(environment({{"ALL_PROXY", "h:x"}}));
        }).find("heygen: ALL_PROXY: ") == 0);
  // Not read, so not checked: the scheme's own variable comes first.
  CHECK(refusal([] {
          (void)ProxyConfig::from_environment(
              environment({{"http_proxy", "h:1"}, {"https_proxy", "h:1"}, {"ALL_PROXY", "bad:x"}}));
        }).empty());
}

TEST_CASE("NO_PROXY: curl's documented cases") {
  // "*" alone matches every host.
  CHECK(no_proxy_matches("*", "api.heygen.com", 443));
  CHECK(no_proxy_matches(" * ", "10.1.2.3", 80));
  CHECK_FALSE(no_proxy_matches("", "api.heygen.com", 443));
  // A name matches itself and the names under it; "ample.com" matches ample.com and www.ample.com, not
  // www.example.com or ample.com.org (curl's own example), whatever the port.
  CHECK(no_proxy_matches("ample.com", "ample.com", 443));
  CHECK(no_proxy_matches("ample.com", "ample.com", 80));
  CHECK(no_proxy_matches("ample.com", "www.ample.com", 443));
  CHECK_FALSE(no_proxy_matches("ample.com", "www.example.com", 443));
  CHECK_FALSE(no_proxy_matches("ample.com", "ample.com.org", 443));
  // A leading dot: the whole domain (and, as curl strips it, the domain's own name).
  CHECK(no_proxy_matches(".example.com", "www.example.com", 443));
  CHECK(no_proxy_matches(".example.com", "home.example.com", 443));
  CHECK(no_proxy_matches(".example.com", "example.com", 443));
  CHECK_FALSE(no_proxy_matches(".example.com", "nonexample.com", 443));
  // Case and trailing dots do not matter; blanks around entries and empty entries are ignored.
  CHECK(no_proxy_matches("Example.COM.", "www.example.com.", 443));
  CHECK(no_proxy_matches(" localhost , , example.com ", "example.com", 443));
  CHECK(no_proxy_matches("localhost,example.com", "localhost", 80));
  // IP addresses match addresses exactly, IPv6 written without (or with) brackets; names are never resolved.
  CHECK(no_proxy_matches("example.com,::1,localhost", "[::1]", 80));
  CHECK(no_proxy_matches("[::1]", "[::1]", 80));
  CHECK(no_proxy_matches("127.0.0.1", "127.0.0.1", 5000));
  CHECK_FALSE(no_proxy_matches("127.0.0.1", "127.0.0.2", 5000));
  CHECK_FALSE(no_proxy_matches("localhost", "127.0.0.1", 5000));
  CHECK_FALSE(no_proxy_matches("127.0.0.1", "localhost", 5000));
  CHECK_FALSE(no_proxy_matches("127.0.0", "127.0.0.1", 5000));  // not a prefix match, as curl
  // CIDR (curl 7.86): "192.168.0.0/16" matches every address starting with 192.168.
  CHECK(no_proxy_matches("192.168.0.0/16", "192.168.7.9", 443));
  CHECK_FALSE(no_proxy_matches("192.168.0.0/16", "192.169.0.1", 443));
  CHECK(no_proxy_matches("10.0.0.0/9", "10.127.255.255", 443));
  CHECK_FALSE(no_proxy_matches("10.0.0.0/9", "10.128.0.0", 443));
  CHECK(no_proxy_matches("fd00::/8", "[fd12:3456::1]", 443));
  CHECK_FALSE(no_proxy_matches("fd00::/8", "[fe80::1]", 443));
  CHECK_FALSE(no_proxy_matches("192.168.0.0/33", "192.168.0.0", 443));
  CHECK_FALSE(no_proxy_matches("192.168.0.0/16", "[::1]", 443));
}

TEST_CASE("NO_PROXY: Go's additions the issue asks for — a port, and *.domain") {
  CHECK(no_proxy_matches("example.com:8443", "api.example.com", 8443));
  CHECK_FALSE(no_proxy_matches("example.com:8443", "api.example.com", 443));
  CHECK(no_proxy_matches("127.0.0.1:5000", "127.0.0.1", 5000));
  CHECK_FALSE(no_proxy_matches("127.0.0.1:5000", "127.0.0.1", 5001));
  CHECK(no_proxy_matches("[::1]:5000", "[::1]", 5000));
  CHECK_FALSE(no_proxy_matches("[::1]:5000", "[::1]", 80));
  CHECK_FALSE(no_proxy_matches("example.com:http", "example.com", 80));  // not a port: matches nothing
  CHECK(no_proxy_matches("*.example.com", "www.example.com", 443));
  CHECK_FALSE(no_proxy_matches("*.example.com", "www.notexample.com", 443));
}

TEST_CASE("options: an explicit proxy (or none) overrides the environment; NO_PROXY still applies unless set") {
  ClientOptions options;
  options.environment = environment({{"HTTPS_PROXY", "env:1"}, {"http_proxy", "env:2"}, {"NO_PROXY", "skip.me"}});
  CHECK(route(ProxyConfig::from_options(options), "https", "h", 443) == "env:1 (HTTPS_PROXY)");
  CHECK(route(ProxyConfig::from_options(options), "https", "skip.me", 443) == "direct");
  options.proxy = "http://mine:3128";
  const ProxyConfig mine = ProxyConfig::from_options(options);
  CHECK(route(mine, "https", "h", 443) == "mine:3128 (ClientOptions::proxy)");
  CHECK(route(mine, "http", "h", 80) == "mine:3128 (ClientOptions::proxy)");
  CHECK(route(mine, "https", "skip.me", 443) == "direct");
  CHECK(mine.no_proxy_source == "NO_PROXY");
  options.no_proxy = "";
  CHECK(route(ProxyConfig::from_options(options), "https", "skip.me", 443) == "mine:3128 (ClientOptions::proxy)");
  options.proxy = "";
  CHECK(route(ProxyConfig::from_options(options), "https", "h", 443) == "direct");
  CHECK(route(ProxyConfig::from_options(options), "http", "h", 80) == "direct");
  // An explicit proxy that is malformed is named as the option; a bad environment is not read at all then.
  options.environment = environment({{"HTTPS_PROXY", "bad:x"}});
  options.proxy = "socks5://h:1";
  CHECK(refusal([&] { (void)ProxyConfig::from_options(options); }).find("heygen: ClientOptions::proxy: ") == 0);
  options.proxy = "http://h:1";
  CHECK(refusal([&] { (void)ProxyConfig::from_options(options); }).empty());
  options.proxy.reset();
  options.no_proxy = "h";  // the environment's proxies are still read, and checked
  CHECK(refusal([&] { (void)ProxyConfig::from_options(options); }).find("heygen: HTTPS_PROXY: ") == 0);
}

TEST_CASE("the bundled transport refuses a malformed proxy variable at construction, naming it") {
  ClientOptions options;
  options.base_url = "http://127.0.0.1:5000";
  options.environment = environment({{"http_proxy", "http://alice:hunter2@proxy:99999"}});
  const std::string text = refusal([&] { VideoTranslationClient client(options); });
  CHECK(text.find("heygen: http_proxy: ") == 0);
  CHECK(text.find("hunter2") == std::string::npos);
}

TEST_CASE("the bundled transport logs the route it takes, the password hidden") {
  std::vector<std::string> lines;
  ClientOptions options;
  options.base_url = "https://api.example.com";
  options.log_sink = [&lines](LogLevel, std::string_view line) { lines.emplace_back(line); };
  options.environment = environment({{"HTTPS_PROXY", "http://alice:hunter2@proxy.corp:3128"}});
  { const HttplibTransport transport(options); }
  options.environment = environment({{"HTTPS_PROXY", "proxy.corp:3128"}, {"no_proxy", ".example.com"}});
  { const HttplibTransport transport(options); }
  options.environment = environment({});
  { const HttplibTransport transport(options); }
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] ==
        "requests to https://api.example.com:443 go through the proxy http://alice:***@proxy.corp:3128 (from "
        "HTTPS_PROXY)");
  CHECK(lines[1] == "requests to https://api.example.com:443 go directly (no_proxy names the host)");
  CHECK(lines[2] == "requests to https://api.example.com:443 go directly");
}

TEST_CASE("User-Agent: the library and its version, then the caller's own token") {
  ClientOptions options;
  CHECK(options.user_agent() == "heygen-vt-cpp/" HEYGEN_VT_VERSION);
  CHECK(options.user_agent() == "heygen-vt-cpp/" + std::to_string(HEYGEN_VT_VERSION_MAJOR) + "." +
                                    std::to_string(HEYGEN_VT_VERSION_MINOR) + "." +
                                    std::to_string(HEYGEN_VT_VERSION_PATCH));
  options.user_agent_suffix = "my-app/2.1 (+ops@example.com)";
  CHECK(options.user_agent() == "heygen-vt-cpp/" HEYGEN_VT_VERSION " my-app/2.1 (+ops@example.com)");
  options.base_url = "http://127.0.0.1:5000";
  options.user_agent_suffix = "my-app/2.1\r\nX-Injected: 1";
  CHECK(refusal([&] { (void)checked_options(options); }) == "heygen: user_agent_suffix must hold no control character");
}

TEST_CASE("a proxy's 407 is a final failure: not retried") {
  HttpResponse refused = HttpResponse::failure(TransportError::proxy, "the proxy answered 407");
  CHECK_FALSE(RetryPolicy::retryable(refused));
  CHECK(to_string(TransportError::proxy) == "proxy");
  CHECK(RetryPolicy::retryable(HttpResponse::failure(TransportError::refused, "a proxy that is down")));
}
