// Test doubles: a scripted transport that logs every request, and a virtual clock that never sleeps.
#pragma once

#include <heygen/video_translation.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace heygen::testing {

/// A response with a status and a body (and optional headers).
inline HttpResponse answer(int status, std::string body, std::vector<HttpHeader> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

/// `200 {"result": "<result>"}`.
inline HttpResponse status_answer(const std::string& result) {
  return answer(200, R"({"result": ")" + result + R"("})");
}

/// A "no response arrived" answer.
inline HttpResponse no_answer(TransportError error) { return HttpResponse::failure(error, "scripted"); }

/// A one-shot event threads can wait for (no timeouts: a test that hangs here is a failing test).
class Gate {
 public:
  /// Opens the gate: every waiter goes on, and later waits return at once.
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }
  /// Waits until the gate is open.
  void wait() {
    std::unique_lock lock(mutex_);
    opened_.wait(lock, [&] { return open_; });
  }
  /// True once open() was called.
  bool is_open() {
    std::lock_guard lock(mutex_);
    return open_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

/// Shared state of a FakeTransport: copies of the transport share one script and one log.
struct FakeTransportState {
  std::mutex mutex;
  std::deque<HttpResponse> script;                          ///< answers handed out in order
  std::function<HttpResponse(const HttpRequest&)> handler;  ///< used when the script is empty
  std::vector<HttpRequest> log;                             ///< every request, in order
};

/// A transport that answers from a script (then from a handler) and records each request. Thread-safe.
class FakeTransport {
 public:
  FakeTransport() : state_(std::make_shared<FakeTransportState>()) {}

  /// Appends answers to the script.
  FakeTransport& then(HttpResponse response) {
    std::lock_guard lock(state_->mutex);
    state_->script.push_back(std::move(response));
    return *this;
  }
  /// Appends the same answer n times.
  FakeTransport& then_n(int n, const HttpResponse& response) {
    for (int i = 0; i < n; ++i) then(response);
    return *this;
  }
  /// Answers with this function once the script is used up.
  FakeTransport& otherwise(std::function<HttpResponse(const HttpRequest&)> handler) {
    std::lock_guard lock(state_->mutex);
    state_->handler = std::move(handler);
    return *this;
  }

  /// It streams: a source is read whole into the logged request's body, and a 2xx answer's body goes to the sink.
  static constexpr bool streams = true;

  /// Transport concept: the next scripted answer, or the handler's, or a 599 that no test expects. A request
  /// with a source is logged (and handed to the handler) with what the source gave as its body. A scripted answer
  /// with a status and also an error is a body cut short: its status, headers and body reach the sink, then the
  /// error.
  HttpResponse send(const HttpRequest& request) {
    HttpRequest logged = request;
    logged.source = nullptr;
    logged.sink = nullptr;
    if (request.source != nullptr && !read_source(*request.source, logged.body))
      return HttpResponse::failure(TransportError::other, "the request body's source failed");
    HttpResponse reply = next_answer(logged);
    if (request.sink == nullptr) return reply;
    return deliver(std::move(reply), *request.sink);
  }

  /// Every request sent so far.
  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(state_->mutex);
    return state_->log;
  }
  /// Number of requests sent so far.
  std::size_t request_count() const {
    std::lock_guard lock(state_->mutex);
    return state_->log.size();
  }

 private:
  HttpResponse next_answer(const HttpRequest& request) {
    std::function<HttpResponse(const HttpRequest&)> handler;
    {
      std::lock_guard lock(state_->mutex);
      state_->log.push_back(request);
      if (!state_->script.empty()) {
        HttpResponse next = std::move(state_->script.front());
        state_->script.pop_front();
        return next;
      }
      handler = state_->handler;
    }
    if (handler) return handler(request);
    return answer(599, R"({"error": "script exhausted"})");
  }

  /// The source's bytes, in small reads as a socket would take them.
  static bool read_source(const BodySource& source, std::string& out) {
    out.clear();
    char chunk[1000];
    while (out.size() < source.size) {
      const std::size_t want = std::min<std::uint64_t>(sizeof chunk, source.size - out.size());
      const std::size_t got = source.read(out.size(), chunk, want);
      if (got == 0 || got > want) return false;
      out.append(chunk, got);
    }
    return true;
  }

  /// A 2xx answer's body written to the sink in pieces of 1000 bytes; a cut one ends with its error.
  static HttpResponse deliver(HttpResponse reply, BodySink& sink) {
    if (reply.status < 200 || reply.status > 299) return reply;
    if (sink.begin && !sink.begin(reply.status, reply.headers))
      return HttpResponse::failure(TransportError::other, "the response body's sink stopped");
    for (std::size_t at = 0; at < reply.body.size(); at += 1000)
      if (!sink.write(reply.body.data() + at, std::min<std::size_t>(1000, reply.body.size() - at)))
        return HttpResponse::failure(TransportError::other, "the response body's sink stopped");
    reply.body.clear();
    if (reply.error != TransportError::none) reply.status = 0;
    return reply;
  }

  std::shared_ptr<FakeTransportState> state_;
};

/// Shared state of a FakeClock.
struct FakeClockState {
  std::mutex mutex;
  TimePoint now{};                                ///< virtual time
  std::vector<std::chrono::milliseconds> sleeps;  ///< each sleep's length, in order
  std::chrono::system_clock::time_point wall{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}};
  std::function<void()> on_sleep;  ///< runs at each sleep (e.g. to cancel)
};

/// A virtual clock: sleep_until jumps time forward at once and records the wait. Copies share the time.
class FakeClock {
 public:
  FakeClock() : state_(std::make_shared<FakeClockState>()) {}

  /// Virtual now.
  TimePoint now() const {
    std::lock_guard lock(state_->mutex);
    return state_->now;
  }
  /// Wall time matching virtual now (for HTTP-date Retry-After).
  std::chrono::system_clock::time_point system_now() const {
    std::lock_guard lock(state_->mutex);
    return state_->wall +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(state_->now.time_since_epoch());
  }
  /// Jumps to `until` (never backwards), unless stop was requested (then returns false at once).
  bool sleep_until(TimePoint until, std::stop_token stop) {
    std::function<void()> hook;
    {
      std::lock_guard lock(state_->mutex);
      hook = state_->on_sleep;
    }
    if (hook) hook();
    if (stop.stop_requested()) return false;
    std::lock_guard lock(state_->mutex);
    state_->sleeps.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(until - state_->now));
    state_->now = std::max(state_->now, until);
    return true;
  }
  /// Moves virtual time forward.
  void advance(std::chrono::milliseconds by) {
    std::lock_guard lock(state_->mutex);
    state_->now += by;
  }
  /// Runs `hook` at the start of every sleep.
  void on_sleep(std::function<void()> hook) {
    std::lock_guard lock(state_->mutex);
    state_->on_sleep = std::move(hook);
  }
  /// Every sleep's length so far, in milliseconds.
  std::vector<std::chrono::milliseconds> sleeps() const {
    std::lock_guard lock(state_->mutex);
    return state_->sleeps;
  }
  /// The wall-clock epoch that virtual time zero maps to.
  std::chrono::system_clock::time_point wall_epoch() const { return state_->wall; }

 private:
  std::shared_ptr<FakeClockState> state_;
};

/// The client under test: fake transport, fake clock.
using FakeClient = BasicVideoTranslationClient<FakeTransport, FakeClock>;

/// Options for unit tests: a loopback URL, jitter pinned to the middle of its range, the cold schedule alone
/// (no long poll, no learning), and a server known to have no batch endpoint, unless a test says otherwise.
inline ClientOptions test_options() {
  ClientOptions options;
  options.base_url = "http://127.0.0.1:5000";
  options.random = [] { return 0.5; };
  options.polling.long_poll = Seconds(0);
  options.polling.learn = false;
  options.polling.coalesce = Seconds(0);  // exact waits; coalescing has tests of its own
  options.profile = std::make_shared<ServerProfile>();
  options.profile->set_batch(Support::no);
  return options;
}

}  // namespace heygen::testing
