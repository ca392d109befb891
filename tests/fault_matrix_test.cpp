// The fault matrix: every fault a server or network can produce × every operation, each cell ending defined —
// recovered after retries, an error naming the cause, or a timeout by the deadline — never later than the
// deadline + 1 s, and bulk returning a result for every id. Faults come from a scripted raw-socket server
// (tests/raw_http_server.hpp); the table is printed, and any cell that is not what it should be fails.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "raw_http_server.hpp"

using namespace heygen;
using namespace std::chrono_literals;

namespace {

using rawhttp::Reply;
using rawhttp::RequestLine;
using rawhttp::Then;

/// Every time in the matrix is multiplied by HEYGEN_TEST_TIME_SCALE (default 1): under valgrind, which runs
/// code some 50 times slower, scripts/valgrind.sh sets 10 so the same cells keep the same meaning.
double time_scale() {
  const char* text = std::getenv("HEYGEN_TEST_TIME_SCALE");
  const double scale = text != nullptr ? std::atof(text) : 1.0;
  return scale >= 1.0 ? scale : 1.0;
}
const std::chrono::duration<double> deadline = 4s * time_scale();  // max_timeout of every call
const std::chrono::duration<double> request_timeout = 500ms * time_scale();
const std::chrono::duration<double> slack = 1s * time_scale();  // no cell may end later than deadline + slack
constexpr std::size_t transient = 2;  // a transient fault spoils this many requests, then the server is healthy

/// How a cell must end.
enum class Expect {
  recovers,     ///< retried, then the operation succeeds
  fails,        ///< an error naming `cause` (per operation)
  out_of_time,  ///< timeout, or a transport error, by the deadline
};

/// The answer a healthy server gives.
Reply healthy(std::size_t n, const RequestLine& request) {
  if (request.method == "POST" && request.target == "/create_job")
    return {rawhttp::response(200, R"({"job_id":"job-)" + std::to_string(n) + R"("})")};
  if (request.target.rfind("/status/batch", 0) == 0) return {rawhttp::response(404, R"({"error":"no such route"})")};
  return {rawhttp::response(200, R"({"result":"completed"})")};
}

/// One row of the matrix.
struct Fault {
  std::string name;
  std::optional<Reply> reply;  // nothing: no server at all (connection refused)
  std::size_t spoils;          // requests answered with the fault before the server turns healthy
  Expect expect;
  FailureCause create_cause = FailureCause::none;  // for Expect::fails
  FailureCause status_cause = FailureCause::none;
  std::chrono::milliseconds trickle_every{1000};
};

constexpr std::size_t forever = static_cast<std::size_t>(-1);

std::vector<Fault> faults() {
  const std::string completed = R"({"result":"completed"})";
  return {
      {"500", Reply{rawhttp::response(500, R"({"error":"boom"})")}, transient, Expect::recovers},
      {"503 + Retry-After", Reply{rawhttp::response(503, "{}", "Retry-After: 1\r\n")}, transient, Expect::recovers},
      {"429 + Retry-After", Reply{rawhttp::response(429, "{}", "Retry-After: 1\r\n")}, transient, Expect::recovers},
      {"connection refused", std::nullopt, forever, Expect::out_of_time},
      {"reset mid-body", Reply{"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"result\":", Then::reset}, transient,
       Expect::recovers},
      {"read timeout", Reply{"", Then::hang}, transient, Expect::recovers},
      {"trickle 1 B/s", Reply{rawhttp::response(200, completed), Then::trickle}, forever, Expect::out_of_time},
      {"trickle 5 B/s", Reply{rawhttp::response(200, completed), Then::trickle}, forever, Expect::out_of_time,
       FailureCause::none, FailureCause::none, 200ms},
      {"malformed JSON", Reply{rawhttp::response(200, R"({"result": "compl)")}, forever, Expect::fails,
       FailureCause::bad_response, FailureCause::bad_response},
      {"unknown result", Reply{rawhttp::response(200, R"({"result":"paused"})")}, forever, Expect::fails,
       FailureCause::bad_response, FailureCause::unexpected_result},
      {"empty body", Reply{rawhttp::response(200, "")}, forever, Expect::fails, FailureCause::bad_response,
       FailureCause::bad_response},
      {"404", Reply{rawhttp::response(404, R"({"error":"job not found"})")}, forever, Expect::fails,
       FailureCause::http_status, FailureCause::unknown_job},
      {"100 MiB body",
       Reply{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n", Then::flood},
       forever, Expect::fails, FailureCause::transport, FailureCause::transport},
      {"redirect loop", Reply{"HTTP/1.1 302 Found\r\nLocation: /status/job-1\r\nContent-Length: 0\r\n\r\n"}, forever,
       Expect::fails, FailureCause::http_status, FailureCause::http_status},
      {"Content-Length too long", Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + completed, Then::close},
       transient, Expect::recovers},
      {"Content-Length too short", Reply{"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n" + completed}, forever,
       Expect::fails, FailureCause::bad_response, FailureCause::bad_response},
  };
}

/// What one operation ended with.
struct Outcome {
  bool ok = false;
  TranslationStatus status = TranslationStatus::pending;
  FailureCause cause = FailureCause::none;
  std::size_t results = 0;  // bulk: results returned
  std::chrono::duration<double> took{};
  std::string message;
};

ClientOptions options_for(const std::string& base_url) {
  ClientOptions options;
  options.base_url = base_url;
  options.max_timeout = Seconds(deadline.count());
  options.request_timeout = Seconds(request_timeout.count());
  options.connect_timeout = Seconds(request_timeout.count());
  options.initial_backoff = 50ms;
  options.max_backoff = 200ms;
  options.polling.long_poll = Seconds(0);
  return options;
}

/// An outcome from a result.
Outcome outcome_of(const TranslationResult& result) {
  Outcome out;
  out.ok = result.ok();
  out.status = result.status;
  out.cause = result.cause;
  out.message = result.error_message.value_or("");
  return out;
}

/// The worst result of a bulk run, so one cell says how the run ended.
Outcome from_bulk(const BasicVideoTranslationClient<HttplibTransport, SteadyClock>::ResultMap& results) {
  TranslationResult worst;
  worst.status = TranslationStatus::completed;
  for (const auto& entry : results)
    if (!entry.second.ok()) {
      worst = entry.second;
      break;
    }
  Outcome out = outcome_of(worst);
  out.results = results.size();
  return out;
}

/// Runs one operation against `base_url`.
Outcome run_operation(const std::string& operation, const std::string& base_url) {
  VideoTranslationClient client(options_for(base_url));
  const auto started = std::chrono::steady_clock::now();
  Outcome out;
  if (operation == "create") {
    try {
      client.create_translation_job();
      out.ok = true;
      out.status = TranslationStatus::completed;
    } catch (const TranslationError& e) {
      out.status = TranslationStatus::error;
      out.cause = e.cause();
      out.message = e.what();
    }
  } else if (operation == "bulk") {
    out = from_bulk(client.get_bulk_translation_statuses({"job-a", "job-b", "job-c"}, 2));
  } else {
    out = outcome_of(operation == "check" ? client.check_translation_status("job-1")
                                          : client.get_translation_status("job-1"));
  }
  out.took = std::chrono::steady_clock::now() - started;
  return out;
}

/// One cell: a fresh server with the fault, one operation.
Outcome run_cell(const Fault& fault, const std::string& operation) {
  if (!fault.reply) return run_operation(operation, "http://127.0.0.1:1");  // port 1: nothing listens
  rawhttp::Server server(
      [&fault](std::size_t n, const RequestLine& request) {
        return n < fault.spoils ? *fault.reply : healthy(n, request);
      },
      fault.trickle_every);
  return run_operation(operation, server.base_url());
}

/// Whether a cell ended as its fault says it must; the reason when not.
std::optional<std::string> misfit(const Fault& fault, const std::string& operation, const Outcome& out) {
  if (out.took > deadline + slack) return "ended after the deadline + 1 s";
  if (operation == "bulk" && out.results != 3) return "bulk returned " + std::to_string(out.results) + " of 3 results";
  switch (fault.expect) {
    case Expect::recovers:
      if (!out.ok) return "did not recover: " + out.message;
      return std::nullopt;
    case Expect::fails: {
      const FailureCause want = operation == "create" ? fault.create_cause : fault.status_cause;
      if (out.ok || out.status != TranslationStatus::error || out.cause != want)
        return "wanted error/" + std::string(to_string(want)) + ", got " + std::string(to_string(out.status)) + "/" +
               std::string(to_string(out.cause));
      return std::nullopt;
    }
    case Expect::out_of_time: {
      const bool timed_out = out.status == TranslationStatus::timeout;
      const bool gave_up = out.status == TranslationStatus::error &&
                           (out.cause == FailureCause::transport || out.cause == FailureCause::deadline);
      if (!timed_out && !gave_up)
        return "wanted a timeout or transport error, got " + std::string(to_string(out.cause));
      return std::nullopt;
    }
  }
  return "unknown expectation";
}

/// Log lines at warn and above, kept for a test to read.
struct CapturedLog {
  std::mutex mutex;
  std::vector<std::string> lines;

  /// Routes `options`' log here at warn.
  void attach(ClientOptions& options) {
    options.log_level = LogLevel::warn;
    options.log_sink = [this](LogLevel, std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    };
  }

  /// Lines that mention `text`.
  std::vector<std::string> mentioning(std::string_view text) {
    std::lock_guard lock(mutex);
    std::vector<std::string> found;
    for (const auto& line : lines)
      if (line.find(text) != std::string::npos) found.push_back(line);
    return found;
  }
};

std::string describe(const Outcome& out) {
  if (out.ok) return "ok";
  return std::string(to_string(out.status)) + "/" + std::string(to_string(out.cause));
}

}  // namespace

TEST_CASE("fault matrix: every fault × operation ends defined, by the deadline, with nothing lost") {
  const std::vector<std::string> operations{"create", "check", "wait", "bulk"};
  const std::vector<Fault> rows = faults();
  // Every cell runs side by side on its own server, so the matrix takes about as long as its slowest cell.
  std::vector<std::vector<std::future<Outcome>>> pending(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (const auto& operation : operations)
      pending[r].push_back(
          std::async(std::launch::async, [&fault = rows[r], operation] { return run_cell(fault, operation); }));

  std::printf("\n%-26s", "fault \\ operation");
  for (const auto& operation : operations) std::printf(" %-30s", operation.c_str());
  std::printf("\n");
  std::vector<std::string> problems;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::vector<Outcome> cells;
    for (auto& cell : pending[r]) cells.push_back(cell.get());
    std::printf("%-26s", rows[r].name.c_str());
    for (std::size_t c = 0; c < cells.size(); ++c) {
      char cell[64];
      std::snprintf(cell, sizeof cell, "%s %.2fs", describe(cells[c]).c_str(), cells[c].took.count());
      std::printf(" %-30s", cell);
      if (auto why = misfit(rows[r], operations[c], cells[c]))
        problems.push_back(rows[r].name + " × " + operations[c] + ": " + *why);
    }
    std::printf("\n");
  }
  std::fflush(stdout);
  for (const auto& problem : problems) FAIL_CHECK(problem);
  CHECK(problems.empty());
}

TEST_CASE("fault matrix: bytes left past a Content-Length do not poison the next call on that connection") {
  rawhttp::Server server([](std::size_t n, const RequestLine& request) {
    Reply reply = healthy(n, request);
    if (n == 0) reply.bytes += "HTTP/1.1 500 junk\r\n";  // after the body, on a connection kept alive
    return reply;
  });
  VideoTranslationClient client(options_for(server.base_url()));
  CHECK(client.check_translation_status("job-1").ok());
  const TranslationResult second = client.check_translation_status("job-2");
  CHECK(second.ok());
  CHECK(second.requests <= 2);  // at most one retry, on a fresh connection
}

/// A healthy server that keeps the head of every request it takes.
struct RecordingServer {
  std::mutex mutex;
  std::vector<std::string> recorded;
  rawhttp::Server server{[this](std::size_t n, const RequestLine& request) {
    std::lock_guard lock(mutex);
    recorded.push_back(request.head);
    return healthy(n, request);
  }};

  /// The heads taken so far.
  std::vector<std::string> heads() {
    std::lock_guard lock(mutex);
    return recorded;
  }
};

TEST_CASE("bounds: a job id full of CR, LF and header text stays inside one encoded path segment on the wire") {
  RecordingServer recording;
  VideoTranslationClient client(options_for(recording.server.base_url()));
  const std::string evil = "job-1 HTTP/1.1\r\nX-Injected: yes\r\n\r\nGET /admin HTTP/1.1\r\nHost: x";
  CHECK(client.check_translation_status(evil).ok());
  const std::vector<std::string> heads = recording.heads();
  REQUIRE(heads.size() == 1);                                   // one request, not two
  CHECK(heads[0].find("\r\nX-Injected") == std::string::npos);  // no header line of its own
  CHECK(heads[0].find("/admin") == std::string::npos);
  const std::string line = heads[0].substr(0, heads[0].find("\r\n"));
  CHECK(line.rfind("GET /status/job-1%20HTTP%2F1.1%0D%0AX-Injected%3A%20yes%0D%0A", 0) == 0);
}

TEST_CASE("bounds: max_body_bytes is the most a response body may take; one byte more is a clear error") {
  const std::string body = R"({"result":"completed","pad":")" + std::string(1000, 'x') + R"("})";
  rawhttp::Server server([&body](std::size_t, const RequestLine&) { return Reply{rawhttp::response(200, body)}; });
  ClientOptions options = options_for(server.base_url());
  options.max_body_bytes = body.size();
  CHECK(VideoTranslationClient(options).check_translation_status("job-1").ok());
  options.max_body_bytes = body.size() - 1;
  const TranslationResult result = VideoTranslationClient(options).check_translation_status("job-1");
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::transport);
  CHECK(result.requests == 1);
  CHECK(result.error_message.value_or("").find("max_body_bytes") != std::string::npos);
}

TEST_CASE("keep-alive: a server that closes after every answer costs no counted attempt, no retry and no wait") {
  // No `Connection: close`, so the client keeps each connection and its next request races the server's close:
  // Then::close loses that race now and then, Then::close_late every time.
  for (const Then then : {Then::close, Then::close_late}) {
    CAPTURE(then == Then::close ? "close" : "close_late");
    rawhttp::Server server([then](std::size_t, const RequestLine&) {
      return Reply{rawhttp::response(200, R"({"result":"pending"})"), then};
    });
    ClientOptions options = options_for(server.base_url());
    options.initial_backoff = ClientOptions{}.initial_backoff;  // what a lost race would wait: up to 0.5 s
    options.max_backoff = ClientOptions{}.max_backoff;
    CapturedLog log;
    log.attach(options);
    VideoTranslationClient client(options);
    for (int call = 0; call < 20; ++call) {
      const TranslationResult result = client.check_translation_status("job-1");
      CHECK(result.status == TranslationStatus::pending);
      CHECK(result.requests == 1);  // a resend on a fresh connection is not an attempt of its own
    }
    for (const auto& line : log.mentioning("retrying")) FAIL_CHECK(line);  // so no backoff was waited
    CHECK(server.requests() == 20);
    CHECK(server.connections() == 20);
  }
}

TEST_CASE("keep-alive: a create on a connection the server closed is resent at once, with its Idempotency-Key") {
  std::mutex mutex;
  std::vector<std::string> keys;
  rawhttp::Server server([&](std::size_t, const RequestLine& request) {
    const auto at = request.head.find("Idempotency-Key: ");
    std::lock_guard lock(mutex);
    keys.push_back(at == std::string::npos ? "" : request.head.substr(at, request.head.find("\r\n", at) - at));
    return Reply{rawhttp::response(200, R"({"job_id":"x"})"), Then::close_late};
  });
  ClientOptions options = options_for(server.base_url());
  CapturedLog log;
  log.attach(options);
  VideoTranslationClient client(options);
  for (int call = 0; call < 5; ++call) CHECK(client.create_translation_job() == "x");
  for (const auto& line : log.mentioning("retrying")) FAIL_CHECK(line);
  CHECK(server.requests() == 5);
  std::lock_guard lock(mutex);
  for (const auto& key : keys) CHECK(!key.empty());
}

TEST_CASE("keep-alive: a request the server read on a reused connection and closed unanswered is sent once more") {
  rawhttp::Server server([](std::size_t n, const RequestLine&) {
    if (n == 1) return Reply{"", Then::close};  // the second request, on the kept connection: read, no answer
    return Reply{rawhttp::response(200, R"({"result":"completed"})")};
  });
  ClientOptions options = options_for(server.base_url());
  CapturedLog log;
  log.attach(options);
  VideoTranslationClient client(options);
  CHECK(client.check_translation_status("job-1").ok());
  const TranslationResult second = client.check_translation_status("job-1");
  CHECK(second.ok());
  CHECK(second.requests == 1);
  CHECK(log.mentioning("retrying").empty());
  CHECK(server.requests() == 3);
  CHECK(server.connections() == 2);
}

TEST_CASE("keep-alive: a request that fails on a fresh connection is not sent again by the transport") {
  rawhttp::Server server([](std::size_t, const RequestLine&) { return Reply{"", Then::close}; });
  ClientOptions options = options_for(server.base_url());
  options.max_retries = 3;
  VideoTranslationClient client(options);
  const TranslationResult result = client.check_translation_status("job-1");
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.requests == 4);
  CHECK(server.requests() == 4);  // one request on the wire per counted attempt
}

TEST_CASE("keep-alive: a request that timed out on a reused connection is not sent again by the transport") {
  rawhttp::Server server([](std::size_t n, const RequestLine&) {
    if (n == 1) return Reply{"", Then::hang};  // the second request, on the kept connection: never answered
    return Reply{rawhttp::response(200, R"({"result":"completed"})")};
  });
  VideoTranslationClient client(options_for(server.base_url()));
  CHECK(client.check_translation_status("job-1").ok());
  const TranslationResult second = client.check_translation_status("job-1");
  CHECK(second.ok());
  CHECK(second.requests == 2);  // the timeout was a counted failure; the client's retry answered
  CHECK(server.requests() == 3);
}

TEST_CASE("keep-alive: requests on one kept connection each carry exactly their own headers, once each") {
  RecordingServer recording;
  HttplibTransport transport(options_for(recording.server.base_url()));
  const auto request = [](std::string method, std::vector<HttpHeader> headers, std::string body = "") {
    HttpRequest out;
    out.method = std::move(method);
    out.target = "/status/job-1";
    out.headers = std::move(headers);
    out.body = std::move(body);
    out.timeout = 2000ms;
    return out;
  };
  const HttpHeader accept{"Accept", "application/json"};
  // The same headers twice, then others (more, fewer, a body), then the first ones again: one connection.
  const std::vector<HttpRequest> sent = {
      request("GET", {accept}),
      request("GET", {accept}),
      request("POST", {accept, {"Idempotency-Key", "k1"}, {"Content-Type", "application/json"}}, "{}"),
      request("GET", {accept, {"X-Extra", "1"}}),
      request("GET", {{"X-Extra", "2"}}),
      request("GET", {accept, accept}),
      request("GET", {accept}),
  };
  for (const auto& one : sent) CHECK(transport.send(one).status == 200);
  const auto count = [](std::string head, const std::string& line) {
    head += "\r\n";  // the recorded head ends without its last line's CRLF
    std::size_t found = 0;
    for (auto at = head.find("\r\n" + line); at != std::string::npos; at = head.find("\r\n" + line, at + 1)) ++found;
    return found;
  };
  const std::vector<std::string> heads = recording.heads();
  REQUIRE(heads.size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CAPTURE(i);
    CAPTURE(heads[i]);
    CHECK(count(heads[i], "Host: ") == 1);
    CHECK(count(heads[i], "User-Agent: ") == 1);
    for (const auto& header : sent[i].headers) {
      std::size_t expected = 0;
      for (const auto& other : sent[i].headers) expected += other.name == header.name ? 1 : 0;
      CHECK(count(heads[i], header.name + ": ") == expected);
      CHECK(count(heads[i], header.name + ": " + header.value + "\r\n") >= 1);
    }
    CHECK(count(heads[i], "Idempotency-Key: ") == (i == 2 ? 1U : 0U));
    CHECK(count(heads[i], "X-Extra: ") == (i == 3 || i == 4 ? 1U : 0U));
    CHECK(count(heads[i], "Accept: ") == (i == 4 ? 1U : i == 5 ? 2U : 1U));  // httplib's own */* when none
  }
  CHECK(heads[4].find("Accept: */*\r\n") != std::string::npos);
  CHECK(heads[0] == heads[1]);
  CHECK(heads[0] == heads[6]);
}
