// Integration tests through a real proxy: Debian's tinyproxy, started here on a free loopback port with a config
// of the test's own, its log read back, stopped at the end. Plain HTTP and CONNECT, with and without Basic
// authentication, a 407, NO_PROXY, a proxy that is down; the simulator's job sets through it. Loopback only.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <heygen/video_translation.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "status_simulator.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere for C++

using namespace heygen;
using namespace std::chrono_literals;

namespace {

/// A port nothing listens on, on 127.0.0.1: bound, read and released (tinyproxy takes it next).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  REQUIRE(bound);
  return ntohs(address.sin_port);
}

/// True when something accepts connections on 127.0.0.1:`port`.
bool accepting(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

/// The executable `name` in a folder of PATH, or "".
std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream folders(path != nullptr ? path : "");
  for (std::string folder; std::getline(folders, folder, ':');) {
    const std::filesystem::path candidate = std::filesystem::path(folder) / name;
    if (!folder.empty() && access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

/// tinyproxy on 127.0.0.1, on a free port, logging every request to a file of its own; killed when destroyed.
class Tinyproxy {
 public:
  /// `basic_auth` ("user password"): the credentials it demands (tinyproxy's BasicAuth), none when empty.
  explicit Tinyproxy(const std::string& basic_auth = "") {
    const std::string binary = on_path("tinyproxy");
    if (binary.empty())
      FAIL(
          "tinyproxy is not installed, and the proxy tests need it: apt-get install tinyproxy (scripts/lib.sh "
          "installs it with the other packages)");
    static std::atomic<int> made{0};
    folder_ = std::filesystem::temp_directory_path() /
              ("heygen-vt-proxy-" + std::to_string(getpid()) + "-" + std::to_string(made++));
    std::filesystem::create_directories(folder_);
    port_ = free_port();
    const std::string config = (folder_ / "tinyproxy.conf").string();
    std::ofstream(config) << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nLogLevel Info\n"
                          << "LogFile \"" << log_path() << "\"\n"
                          << (basic_auth.empty() ? "" : "BasicAuth " + basic_auth + "\n");
    posix_spawn_file_actions_t quiet{};
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args{binary, "-d", "-c", config};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int spawned = posix_spawn(&pid_, binary.c_str(), &quiet, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&quiet);
    REQUIRE(spawned == 0);
    for (int i = 0; i < 100 && !accepting(port_); ++i) std::this_thread::sleep_for(50ms);
    if (!accepting(port_)) FAIL("tinyproxy did not start; its log: " << log());
  }
  Tinyproxy(const Tinyproxy&) = delete;
  Tinyproxy& operator=(const Tinyproxy&) = delete;
  ~Tinyproxy() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }

  /// "http://[CREDENTIALS@]127.0.0.1:PORT".
  [[nodiscard]] std::string url(const std::string& credentials = "") const {
    return "http://" + (credentials.empty() ? "" : credentials + "@") + "127.0.0.1:" + std::to_string(port_);
  }

  /// Its log so far.
  [[nodiscard]] std::string log() const {
    std::ifstream file(log_path());
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }

  /// The request lines it logged, in order: "GET http://127.0.0.1:5000/status/x HTTP/1.1", "CONNECT ...".
  [[nodiscard]] std::vector<std::string> requests() const {
    std::vector<std::string> lines;
    std::istringstream text(log());
    const std::string mark = "]: Request (file descriptor ";
    for (std::string line; std::getline(text, line);) {
      const auto at = line.find(mark);
      if (at == std::string::npos) continue;
      const auto start = line.find("): ", at);
      if (start != std::string::npos) lines.push_back(line.substr(start + 3));
    }
    return lines;
  }

 private:
  [[nodiscard]] std::string log_path() const { return (folder_ / "tinyproxy.log").string(); }

  std::filesystem::path folder_;
  int port_ = 0;
  pid_t pid_ = 0;
};

/// What the server behind the proxy saw of one request.
struct Seen {
  std::string line;                                ///< "GET /status/job-1"
  std::string user_agent;                          ///< Its User-Agent.
  std::optional<std::string> proxy_authorization;  ///< Its Proxy-Authorization, if it carried one.
  bool via = false;                                ///< It carried a Via header (tinyproxy adds one).
};

/// A tiny tracker server on 127.0.0.1 (HTTPS with the test certificate when `tls`), recording what it sees: every
/// create makes "job-1", every job is completed, GET /file answers "hello".
class Origin {
 public:
  explicit Origin(bool tls) : tls_(tls) {
    if (tls)
      server_ = std::make_unique<httplib::SSLServer>(HEYGEN_TEST_TLS_DIR "/cert.pem", HEYGEN_TEST_TLS_DIR "/key.pem");
    else
      server_ = std::make_unique<httplib::Server>();
    server_->Post("/create_job", [this](const httplib::Request& request, httplib::Response& response) {
      note(request);
      response.set_content(R"({"job_id": "job-1"})", "application/json");
    });
    server_->Get(R"(/status/([^/]+))", [this](const httplib::Request& request, httplib::Response& response) {
      note(request);
      response.set_content(R"({"result": "completed"})", "application/json");
    });
    server_->Get("/file", [this](const httplib::Request& request, httplib::Response& response) {
      note(request);
      response.set_content("hello", "application/octet-stream");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    for (int i = 0; i < 100 && !server_->is_running(); ++i) std::this_thread::sleep_for(10ms);
  }
  Origin(const Origin&) = delete;
  Origin& operator=(const Origin&) = delete;
  ~Origin() {
    server_->stop();
    thread_.join();
  }

  /// "http(s)://127.0.0.1:PORT".
  [[nodiscard]] std::string url() const { return (tls_ ? "https" : "http") + authority_prefix(); }
  /// "127.0.0.1:PORT".
  [[nodiscard]] std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }

  /// What it has seen, in order.
  [[nodiscard]] std::vector<Seen> seen() const {
    const std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  [[nodiscard]] std::string authority_prefix() const { return "://" + authority(); }

  void note(const httplib::Request& request) {
    Seen one{request.method + " " + request.path, request.get_header_value("User-Agent"), std::nullopt,
             request.has_header("Via")};
    if (request.has_header("Proxy-Authorization"))
      one.proxy_authorization = request.get_header_value("Proxy-Authorization");
    const std::lock_guard lock(mutex_);
    seen_.push_back(std::move(one));
  }

  bool tls_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Seen> seen_;
};

/// An environment of exactly these variables.
EnvironmentLookup environment(std::map<std::string, std::string, std::less<>> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
}

/// Test-sized options for `base_url`, reading proxies from `variables` only, with a product token of the test's.
ClientOptions through(const std::string& base_url, std::map<std::string, std::string, std::less<>> variables) {
  ClientOptions options;
  options.base_url = base_url;
  options.max_retries = 3;
  options.initial_backoff = 10ms;
  options.max_timeout = 10s;
  options.request_timeout = 5s;
  options.polling.long_poll = Seconds(0);
  options.environment = environment(std::move(variables));
  options.user_agent_suffix = "proxy-test/1.0";
  options.ca_cert_file = HEYGEN_TEST_TLS_DIR "/cert.pem";
  return options;
}

const std::string expected_agent = "heygen-vt-cpp/" HEYGEN_VT_VERSION " proxy-test/1.0";

}  // namespace

TEST_CASE("proxy: plain http through tinyproxy; it logs exactly the requests the client sent, with our User-Agent") {
  const Tinyproxy proxy;
  const Origin origin(false);
  VideoTranslationClient client(through(origin.url(), {{"http_proxy", proxy.url()}}));
  CHECK(client.create_translation_job() == "job-1");
  CHECK(client.get_translation_status("job-1").ok());
  const std::vector<std::string> logged = proxy.requests();
  REQUIRE(logged.size() == 2);
  CHECK(logged[0] == "POST " + origin.url() + "/create_job HTTP/1.1");
  CHECK(logged[1].rfind("GET " + origin.url() + "/status/job-1", 0) == 0);
  const std::vector<Seen> seen = origin.seen();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].line == "POST /create_job");
  CHECK(seen[1].line == "GET /status/job-1");
  for (const Seen& one : seen) {
    CHECK(one.via);  // it came through the proxy
    CHECK(one.user_agent == expected_agent);
  }
}

TEST_CASE("proxy: Basic authentication — the right password passes; none at all is a 407, final, not retried") {
  const Tinyproxy proxy("alice s3cret");
  const Origin origin(false);
  VideoTranslationClient good(through(origin.url(), {{"all_proxy", proxy.url("alice:s3cret")}}));
  CHECK(good.create_translation_job() == "job-1");
  REQUIRE(proxy.requests().size() == 1);

  // (tinyproxy answers a wrong password with 401, which through a plain-HTTP proxy cannot be told from the
  // server's own 401; the CONNECT test below has the wrong password.)
  VideoTranslationClient anonymous(through(origin.url(), {{"http_proxy", proxy.url()}}));
  const TranslationResult result = anonymous.get_translation_status("job-1");
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::transport);
  CHECK(result.requests == 1);
  CHECK(result.error_message.value_or("") ==
        "no response (proxy: the proxy " + proxy.url() +
            " (from http_proxy) answered 407: it wants a user and password in the proxy URL)");
  // A create is a POST with a body: tinyproxy answers 407 and closes without reading the body, so the client's
  // socket is reset and the 407 lost with it. It fails as a reset does, within its retries.
  ClientOptions options = through(origin.url(), {{"http_proxy", proxy.url()}});
  try {
    (void)anonymous.create_translation_job();
    FAIL("a create went through a proxy that wants credentials");
  } catch (const TranslationError& e) {
    CHECK(e.cause() == FailureCause::transport);
    CHECK(e.requests() <= options.max_retries + 1);
  }
  CHECK(origin.seen().size() == 1);  // only the good client's create reached the server
}

TEST_CASE("proxy: NO_PROXY naming the host, or an explicit proxy of \"\", goes directly: the proxy logs nothing") {
  const Tinyproxy proxy;
  const Origin origin(false);
  VideoTranslationClient excepted(
      through(origin.url(), {{"http_proxy", proxy.url()}, {"NO_PROXY", "localhost, 127.0.0.0/8"}}));
  CHECK(excepted.create_translation_job() == "job-1");
  CHECK(excepted.get_translation_status("job-1").ok());
  ClientOptions none = through(origin.url(), {{"http_proxy", proxy.url()}});
  none.proxy = "";
  VideoTranslationClient direct(none);
  CHECK(direct.get_translation_status("job-1").ok());
  CHECK(proxy.requests().empty());
  const std::vector<Seen> seen = origin.seen();
  REQUIRE(seen.size() == 3);
  for (const Seen& one : seen) CHECK_FALSE(one.via);
  // And an explicit proxy overrides an environment without one.
  ClientOptions explicit_proxy = through(origin.url(), {});
  explicit_proxy.proxy = proxy.url();
  VideoTranslationClient proxied(explicit_proxy);
  CHECK(proxied.get_translation_status("job-1").ok());
  CHECK(proxy.requests().size() == 1);
}

TEST_CASE("proxy: one that is down is retried like any refused connection, within the deadline") {
  const Origin origin(false);
  ClientOptions options = through(origin.url(), {{"http_proxy", "http://127.0.0.1:" + std::to_string(free_port())}});
  VideoTranslationClient client(options);
  const auto started = std::chrono::steady_clock::now();
  const TranslationResult result = client.get_translation_status("job-1");
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::transport);
  CHECK(result.requests == options.max_retries + 1);
  CHECK(result.error_message.value_or("").find("no response (refused: Connection, to the proxy http://127.0.0.1:") ==
        0);
  CHECK(result.error_message.value_or("").find(" from http_proxy) after 4 attempts") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(origin.seen().empty());
}

TEST_CASE("proxy: https through a CONNECT tunnel with Basic auth; the certificate verified; credentials kept off") {
  const Tinyproxy proxy("alice s3cret");
  const Origin origin(true);
  VideoTranslationClient client(through(origin.url(), {{"HTTPS_PROXY", proxy.url("alice:s3cret")}}));
  CHECK(client.create_translation_job() == "job-1");
  CHECK(client.get_translation_status("job-1").ok());
  const std::vector<std::string> logged = proxy.requests();
  REQUIRE_FALSE(logged.empty());
  for (const std::string& line : logged) CHECK(line == "CONNECT " + origin.authority() + " HTTP/1.1");
  const std::vector<Seen> seen = origin.seen();
  REQUIRE(seen.size() == 2);
  for (const Seen& one : seen) {
    CHECK(one.user_agent == expected_agent);
    CHECK_FALSE(one.via);                                 // a tunnel: the proxy never sees inside
    CHECK(one.proxy_authorization.value_or("").empty());  // the proxy's credentials went on the CONNECT alone
  }

  SUBCASE("the server's certificate is verified as without a proxy: an unknown issuer fails at once") {
    ClientOptions options = through(origin.url(), {{"HTTPS_PROXY", proxy.url("alice:s3cret")}});
    options.ca_cert_file.clear();
    VideoTranslationClient unverified(options);
    const TranslationResult result = unverified.get_translation_status("job-1");
    CHECK(result.cause == FailureCause::transport);
    CHECK(result.requests == 1);
    CHECK(result.error_message.value_or("").find("tls") != std::string::npos);
  }
  SUBCASE("a wrong password is refused to the CONNECT: a clear failure, not retried") {
    VideoTranslationClient wrong(through(origin.url(), {{"https_proxy", proxy.url("alice:nope-nope")}}));
    const TranslationResult result = wrong.get_translation_status("job-1");
    CHECK(result.cause == FailureCause::transport);
    CHECK(result.requests == 1);
    const std::string message = result.error_message.value_or("");
    CHECK(message.find("the proxy http://alice:***@127.0.0.1:") != std::string::npos);
    CHECK(message.find("(from https_proxy) answered a CONNECT with 401: it refused the user and password") !=
          std::string::npos);
    CHECK(message.find("nope-nope") == std::string::npos);
    try {
      (void)wrong.create_translation_job();
      FAIL("a create went through a proxy that refused its credentials");
    } catch (const TranslationError& e) {
      CHECK(e.cause() == FailureCause::transport);
      CHECK(e.requests() == 1);
      CHECK(std::string(e.what()).find("it refused the user and password") != std::string::npos);
    }
  }
}

TEST_CASE("proxy: a streamed transfer (a download) goes through the proxy too, with our User-Agent") {
  const Tinyproxy proxy;
  const Origin origin(false);
  HttplibTransport transport(through("http://127.0.0.1:9", {{"http_proxy", proxy.url()}}));
  std::string body;
  BodySink sink;
  sink.write = [&body](const char* data, std::size_t length) {
    body.append(data, length);
    return true;
  };
  HttpRequest request;
  request.method = "GET";
  request.url = origin.url() + "/file";
  request.timeout = 5s;
  request.sink = &sink;
  const HttpResponse response = transport.send(request);
  CHECK(response.status == 200);
  CHECK(body == "hello");
  REQUIRE(proxy.requests().size() == 1);
  CHECK(proxy.requests()[0] == "GET " + origin.url() + "/file HTTP/1.1");
  REQUIRE(origin.seen().size() == 1);
  CHECK(origin.seen()[0].user_agent == expected_agent);
}

TEST_CASE("proxy: the simulator's job set, and a HeyGen v3 run, complete with every request seen by the proxy") {
  const Tinyproxy proxy;
  SUBCASE("the tracker protocol: ten jobs created and waited for together") {
    sim::SimulatorConfig config;
    config.duration = sim::DurationDistribution::fixed(0.2);
    sim::StatusSimulator server(config);
    server.start();
    VideoTranslationClient client(through(server.base_url(), {{"http_proxy", proxy.url()}}));
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(client.create_translation_job());
    const auto results = client.get_bulk_translation_statuses(ids);
    REQUIRE(results.size() == 10);
    for (const auto& [id, result] : results) CHECK(result.ok());
    const auto totals = server.stats().totals;
    CHECK(totals.create_requests == 10);
    CHECK(proxy.requests().size() == totals.create_requests + totals.status_requests);
  }
  SUBCASE("HeyGen v3: two languages") {
    sim::SimulatorConfig config;
    config.duration = sim::DurationDistribution::fixed(0.2);
    config.api = sim::Api::heygen_v3;
    sim::StatusSimulator server(config);
    server.start();
    ClientOptions options = heygen_v3_options("sim-key", server.base_url());
    const ClientOptions test_sized = through(server.base_url(), {{"http_proxy", proxy.url()}});
    options.environment = test_sized.environment;
    options.max_timeout = test_sized.max_timeout;
    options.polling.initial_interval = 50ms;
    options.polling.cold_cap = 100ms;
    options.polling.long_poll = Seconds(0);
    HeyGenClient client(options);
    const auto ids = client.create_translation_jobs(
        TranslationRequest::from_url("https://example.com/talk.mp4", {"Spanish (Spain)", "German"}));
    REQUIRE(ids.size() == 2);
    const auto results = client.get_bulk_translation_statuses(ids);
    for (const auto& id : ids) CHECK(results.at(id).status == TranslationStatus::completed);
    const auto totals = server.stats().totals;
    const std::vector<std::string> logged = proxy.requests();
    CHECK(logged.size() == totals.create_requests + totals.status_requests);
    for (const std::string& line : logged) CHECK(line.find(" " + server.base_url() + "/") != std::string::npos);
  }
}
