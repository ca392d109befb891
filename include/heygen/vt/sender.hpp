// The sender: one request with retries, Retry-After, deadline, cancellation.
#pragma once

#include "heygen/vt/clock.hpp"
#include "heygen/vt/detail.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/log.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/policies.hpp"
#include "heygen/vt/result.hpp"
#include "heygen/vt/url.hpp"

#include <algorithm>
#include <chrono>
#include <concepts>
#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// The state of one call (a create, a check, a wait, one job of a bulk wait): its deadline, its stop token and
/// what its requests came to. It lives with the call, so concurrent calls never share it.
struct CallState {
  std::string job_id{};        ///< The job the call is about; empty for a create.
  TimePoint start{};           ///< When the call began.
  TimePoint deadline{};        ///< When it gives up (start + max_timeout).
  std::stop_token stop{};      ///< The caller's cancellation.
  int requests = 0;            ///< HTTP requests made so far.
  int last_http_status = 0;    ///< The last HTTP status received; 0 if none arrived.
  std::string last_failure{};  ///< The latest retried failure, so a deadline can say what kept failing.
  /// Told each time the server paces the call (a wait it asked for that is no failure); may be empty.
  std::function<void(Seconds wait)> on_paced{};
};

/// Whether `protocol` says `response` is the server pacing the client (e.g. an account's concurrency limit:
/// 429 with Retry-After): such answers are waited out as told, within the deadline, without using up retries.
template <class Protocol>
bool paces(const Protocol& protocol, const HttpResponse& response) {
  if constexpr (requires {
                  { protocol.paces(response) } -> std::same_as<bool>;
                })
    return protocol.paces(response);
  else
    return false;
}

/// How a sleep ended.
enum class Wake { on_time, cancelled, deadline };

/// Sends requests through a transport until a final answer, retrying what the protocol calls retryable with
/// full-jitter backoff or the server's Retry-After, within the call's deadline and until the caller cancels.
/// Owns the transport and the clock; thread-safe when they are.
template <Transport T, Clock C>
class Sender {
 public:
  /// A sender for the server in `options` (validated by the caller) over `transport`, timed by `clock`.
  Sender(const ClientOptions& options, T transport, C clock)
      : retry_(options.retry_policy()),
        max_timeout_(options.max_timeout),
        request_timeout_(options.request_timeout),
        origin_(BaseUrl::parse(options.base_url).origin()),
        headers_(fixed_headers(options)),
        random_(options.random),
        log_(options.log_sink, options.log_level),
        transport_(std::move(transport)),
        clock_(std::move(clock)) {}

  /// A new call about `job_id` (empty for a create), starting now.
  [[nodiscard]] CallState begin(std::string_view job_id, std::stop_token stop) const {
    CallState call;
    call.job_id = std::string(job_id);
    call.start = clock_.now();
    call.deadline = call.start + detail::to_clock(max_timeout_);
    call.stop = std::move(stop);
    return call;
  }

  /// A request carrying the headers every request has (the caller's extras, Accept, the token), for a protocol
  /// to fill in.
  [[nodiscard]] HttpRequest blank_request() const {
    HttpRequest request;
    request.headers = headers_;
    return request;
  }

  /// Makes `request` what blank_request() returns, reusing its buffers: a request kept to build one look after
  /// another allocates nothing once it has held the first.
  void blank(HttpRequest& request) const {
    request.method.clear();
    request.url.clear();
    request.target.clear();
    if (!same_headers(request.headers, headers_)) request.headers = headers_;  // as they were, most often
    request.body.clear();
    request.timeout = {};
    request.stop = {};
    request.source = nullptr;
    request.sink = nullptr;
  }

  /// Sends `request` (a protocol filled in its method and target) until a final answer: a response the
  /// protocol does not retry, or the Failure that ended the call (retries spent, deadline, cancellation).
  /// `server_hold` is how long the server was asked to hold the answer, added to the request's budget.
  template <class Protocol>
  OrFailure<HttpResponse> send(HttpRequest request, CallState& call, const Protocol& protocol,
                               Seconds server_hold = Seconds(0)) {
    return send_in_place(request, call, protocol, server_hold);
  }

  /// send() on the caller's own request, which it fills in (URL, timeout, stop token) rather than taking a copy:
  /// the status looks build one request per look and need it no more afterwards.
  template <class Protocol>
  OrFailure<HttpResponse> send_in_place(HttpRequest& request, CallState& call, const Protocol& protocol,
                                        Seconds server_hold = Seconds(0)) {
    if constexpr (transport_reads_url<T>) request.url = origin_ + request.target;
    for (int failures = 0;;) {
      if (call.stop.stop_requested()) return Failure{FailureCause::cancelled, detail::cancelled_message};
      const auto remaining = call.deadline - clock_.now();
      if (remaining <= TimePoint::duration::zero()) return Failure{FailureCause::deadline, deadline_message(call)};
      request.timeout = detail::to_millis(std::min(Seconds(remaining), request_timeout_ + server_hold));
      request.stop = call.stop;
      HttpResponse response = send_guarded(request);
      ++call.requests;
      if (response.received()) call.last_http_status = response.status;
      if (!protocol.retryable(response)) return final_answer(std::move(response), call, protocol);
      if (auto paced = pace(response, call, protocol)) {
        if (auto ended = pause(call, *paced)) return std::move(*ended);
        continue;
      }
      ++failures;
      call.last_failure = describe(response, protocol);
      if (failures > retry_.max_retries) return spent(response, call, failures);
      const Seconds wait = retry_wait(failures, response);
      log_(LogLevel::warn, [&] {
        return (call.job_id.empty() ? std::string("create") : "job " + call.job_id) + ": attempt " +
               std::to_string(failures) + " failed (" + call.last_failure + "); retrying in " +
               std::to_string(detail::to_millis(wait).count()) + " ms";
      });
      if (auto ended = pause(call, wait)) return std::move(*ended);
    }
  }

  /// Sleeps `wait`, but never past the call's deadline; the Failure that ended the call, if the sleep did.
  std::optional<Failure> pause(const CallState& call, Seconds wait) {
    switch (sleep_for(call, wait)) {
      case Wake::on_time: return std::nullopt;
      case Wake::cancelled: return Failure{FailureCause::cancelled, detail::cancelled_message};
      case Wake::deadline: break;
    }
    return Failure{FailureCause::deadline, deadline_message(call)};
  }

  /// Full-jitter backoff, or the server's Retry-After when it sent one.
  Seconds retry_wait(int failures, const HttpResponse& response) const {
    if (auto after = retry_after_of(response)) return *after;
    return retry_.backoff(failures, uniform());
  }

  /// Sends `request` once, as it is (no headers added: a transfer to storage carries no API key), on a
  /// transport that streams; any other transport answers with a clear error.
  HttpResponse transfer(const HttpRequest& request) noexcept {
    if constexpr (transport_streams<T>)
      return send_guarded(request);
    else
      return HttpResponse::failure(TransportError::other,
                                   "this transport does not stream bodies (uploads and downloads need one that does)");
  }

  /// The retry policy: how many times a failed request is sent again.
  [[nodiscard]] const RetryPolicy& retry_policy() const noexcept { return retry_; }

  /// The response's Retry-After as a wait, taking an HTTP-date relative to the server's Date header.
  [[nodiscard]] std::optional<Seconds> retry_after_of(const HttpResponse& response) const {
    const auto value = response.header("Retry-After");
    if (!value) return std::nullopt;
    // Delta-seconds, what servers send almost always, needs no clock: read the clock only for a date.
    if (auto delta = detail::parse_delta_seconds(*value)) return delta;
    auto now = std::chrono::floor<std::chrono::seconds>(system_now());
    if (auto date = response.header("Date"))
      if (auto server_now = detail::parse_http_date(*date)) now = *server_now;
    return detail::parse_retry_after(*value, now);
  }

  /// What a call that ran out of time says, with the failure that kept it from an answer.
  [[nodiscard]] std::string deadline_message(const CallState& call) const {
    std::string text =
        "no outcome within max_timeout (" + std::to_string(detail::to_millis(max_timeout_).count()) + " ms)";
    if (!call.last_failure.empty()) text += "; last failure: " + call.last_failure;
    return text;
  }

  /// A U[0,1) draw: the options' source, else a per-thread generator.
  [[nodiscard]] double uniform() const { return random_ ? random_() : detail::random_uniform01(); }

  /// The time since the call began.
  [[nodiscard]] Seconds age(const CallState& call) const { return Seconds(clock_.now() - call.start); }

  /// The log this sender writes to.
  [[nodiscard]] const Logger& log() const noexcept { return log_; }
  /// The transport.
  [[nodiscard]] T& transport() noexcept { return transport_; }
  /// The clock.
  [[nodiscard]] C& clock() noexcept { return clock_; }
  /// The clock (read-only).
  [[nodiscard]] const C& clock() const noexcept { return clock_; }

  /// Wall-clock now: the clock's own when it has one (a fake clock pins it), else the system's.
  [[nodiscard]] std::chrono::system_clock::time_point system_now() const {
    if constexpr (requires {
                    { clock_.system_now() } -> std::same_as<std::chrono::system_clock::time_point>;
                  })
      return clock_.system_now();
    else
      return std::chrono::system_clock::now();
  }

 private:
  /// True when `a` and `b` hold the same headers in the same order.
  static bool same_headers(const std::vector<HttpHeader>& a, const std::vector<HttpHeader>& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const HttpHeader& x, const HttpHeader& y) { return x.name == y.name && x.value == y.value; });
  }

  /// The headers every request carries: the caller's extras, Accept and the credentials.
  static std::vector<HttpHeader> fixed_headers(const ClientOptions& options) {
    std::vector<HttpHeader> headers = options.extra_headers;
    headers.push_back({"Accept", "application/json"});
    if (!options.bearer_token.empty()) headers.push_back({"Authorization", "Bearer " + options.bearer_token});
    if (!options.api_key.empty()) headers.push_back({"X-Api-Key", options.api_key});
    return headers;
  }

  /// A response the protocol does not retry: an answer (any status), or no answer that asking again won't fix.
  template <class Protocol>
  static OrFailure<HttpResponse> final_answer(HttpResponse&& response, CallState& call, const Protocol& protocol) {
    call.last_failure.clear();  // only a failure still unresolved explains a deadline
    if (response.received()) return std::move(response);
    return Failure{FailureCause::transport, describe(response, protocol)};
  }

  /// The wait a pacing answer asks for (logged and told to the call), or nothing when it is not one.
  template <class Protocol>
  std::optional<Seconds> pace(const HttpResponse& response, CallState& call, const Protocol& protocol) {
    if (!paces(protocol, response)) return std::nullopt;
    const auto wait = retry_after_of(response);
    if (!wait || *wait <= Seconds(0)) return std::nullopt;  // no wait asked: an ordinary failure, counted
    call.last_failure = describe(response, protocol);
    log_(LogLevel::info, [&] {
      return (call.job_id.empty() ? std::string("create") : "job " + call.job_id) + ": server asks to wait " +
             std::to_string(detail::to_millis(*wait).count()) + " ms (" + call.last_failure + ")";
    });
    if (call.on_paced) call.on_paced(*wait);
    return wait;
  }

  /// The failure after the last retry.
  static Failure spent(const HttpResponse& response, const CallState& call, int failures) {
    const FailureCause cause = response.received() ? FailureCause::http_status : FailureCause::transport;
    return {cause,
            call.last_failure + " after " + std::to_string(failures) + (failures == 1 ? " attempt" : " attempts")};
  }

  /// A response in words: the protocol's description of an answer, or why none arrived.
  template <class Protocol>
  static std::string describe(const HttpResponse& response, const Protocol& protocol) {
    if (response.received()) return protocol.describe(response);
    std::string text = "no response (" + std::string(to_string(response.error));
    if (!response.error_detail.empty()) text += ": " + response.error_detail;
    return text + ")";
  }

  /// The transport's answer; a transport that throws (a custom one may) counts as "no response".
  HttpResponse send_guarded(const HttpRequest& request) noexcept {
    try {
      return transport_.send(request);
    } catch (const std::exception& e) {
      return HttpResponse::failure(TransportError::other, std::string("transport threw: ") + e.what());
    } catch (...) {
      return HttpResponse::failure(TransportError::other, "transport threw");
    }
  }

  /// Sleeps `wait`, but never past the call's deadline.
  Wake sleep_for(const CallState& call, Seconds wait) {
    if (wait <= Seconds(0)) {
      if (call.stop.stop_requested()) return Wake::cancelled;
      return clock_.now() >= call.deadline ? Wake::deadline : Wake::on_time;
    }
    const TimePoint now = clock_.now();
    if (wait >= Seconds(call.deadline - now))
      return clock_.sleep_until(call.deadline, call.stop) ? Wake::deadline : Wake::cancelled;
    const TimePoint wake = now + detail::to_clock(wait);
    if (wake >= call.deadline) return clock_.sleep_until(call.deadline, call.stop) ? Wake::deadline : Wake::cancelled;
    return clock_.sleep_until(wake, call.stop) ? Wake::on_time : Wake::cancelled;
  }

  RetryPolicy retry_;
  Seconds max_timeout_;
  Seconds request_timeout_;
  std::string origin_;               // "scheme://host:port": every request's URL starts with it
  std::vector<HttpHeader> headers_;  // built once, copied into every request
  std::function<double()> random_;
  Logger log_;
  T transport_;
  C clock_;
};

/// One request built by `build`, sent through `sender` with its retries and deadline, its answer read by `read`:
/// the value read, or TranslationError naming `what`. For calls outside the poller (webhook endpoints, uploads).
template <class S, class P, class Build, class Read>
auto checked_call(S& sender, const P& protocol, std::string_view what, std::stop_token stop, Build build, Read read) {
  CallState call = sender.begin({}, std::move(stop));
  HttpRequest request = sender.blank_request();
  build(request);
  OrFailure<HttpResponse> response = sender.send(std::move(request), call, protocol);
  const auto fail = [&](const Failure& failure) {
    return TranslationError{failure.cause, std::string(what) + ": " + failure.message, call.last_http_status,
                            call.requests};
  };
  if (!response) throw fail(response.failure());
  auto value = read(response.value());
  if (!value) throw fail(value.failure());
  return std::move(value).value();
}

}  // namespace heygen
