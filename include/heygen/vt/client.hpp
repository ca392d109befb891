// BasicVideoTranslationClient<Transport, Clock>: creates jobs and tracks them.
#pragma once

#include "heygen/vt/clock.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/protocol.hpp"
#include "heygen/vt/result.hpp"
#include "heygen/vt/url.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace heygen {

/// Creates jobs and tracks them. Safe to call from many threads at once: every call keeps its own state
/// (deadline, attempt counts) on its own stack, never on the client. The transport must be thread-safe.
template <Transport T, Clock C = SteadyClock>
class BasicVideoTranslationClient {
 public:
  /// The transport type requests go through.
  using transport_type = T;
  /// The clock type waits are measured with.
  using clock_type = C;
  /// The map bulk calls return: job id → result.
  using ResultMap = std::map<std::string, TranslationResult>;

  /// Builds a client whose transport is made from the options (the bundled transport's way).
  explicit BasicVideoTranslationClient(
      ClientOptions options) requires std::constructible_from<T, const ClientOptions&> && std::default_initializable<C>
      : BasicVideoTranslationClient(checked(std::move(options)), construct_tag{}) {}

  /// Builds a client from the base URL alone, with the seed's defaults.
  explicit BasicVideoTranslationClient(
      std::string base_url) requires std::constructible_from<T, const ClientOptions&> && std::default_initializable<C>
      : BasicVideoTranslationClient(ClientOptions{.base_url = std::move(base_url)}) {}

  /// Builds a client on a transport (and clock) the caller brings.
  BasicVideoTranslationClient(ClientOptions options, T transport, C clock = C{})
      : options_(checked(std::move(options))),
        base_(BaseUrl::parse(options_.base_url)),
        profile_(options_.profile ? options_.profile : std::make_shared<ServerProfile>()),
        transport_(std::move(transport)),
        clock_(std::move(clock)) {}

  /// Creates a job and returns its id. Retries transient failures with one Idempotency-Key, so a retry after
  /// a lost answer never makes a second job. Throws TranslationError once retries or time run out.
  std::string create_translation_job(std::stop_token stop = {}) {
    Call call = begin_call({}, stop);
    HttpRequest request = make_request("POST", base_.prefix + options_.endpoints.create_job);
    request.headers.push_back({"Idempotency-Key", detail::random_key()});
    request.headers.push_back({"Content-Type", "application/json"});
    request.body = "{}";
    Exchange exchange = send_with_retries(std::move(request), call);
    if (!exchange.ok)
      throw TranslationError(exchange.cause, "create_translation_job: " + exchange.message, call.last_http_status,
                             call.requests);
    const HttpResponse& response = exchange.response;
    if (response.status < 200 || response.status > 299)
      throw TranslationError(FailureCause::http_status, "create_translation_job: " + describe_status(response),
                             response.status, call.requests);
    std::string error;
    auto job_id = protocol::read_job_id(response.body, error);
    if (!job_id)
      throw TranslationError(FailureCause::bad_response, "create_translation_job: " + error, response.status,
                             call.requests);
    log(LogLevel::info, [&] { return "created job " + *job_id + " (" + std::to_string(call.requests) + " requests)"; });
    return *job_id;
  }

  /// Waits until the job completes or fails, polling as the PollPolicy says; timeout once max_timeout passes.
  /// Never throws for anything the server or network does: the result names the cause.
  TranslationResult get_translation_status(std::string_view job_id, std::stop_token stop = {}) {
    Call call = begin_call(job_id, stop);
    Tracking tracking;
    tracking.first_wait = first_wait();
    if (auto stopped = wait_between_looks(call, tracking.first_wait)) return *stopped;
    while (true) {
      const Seconds long_poll = long_poll_budget(call);
      const Seconds asked_at = age(call);
      std::optional<Seconds> retry_after;
      TranslationResult result = look(call, retry_after, long_poll);
      const bool held = result.status == TranslationStatus::pending && long_poll_held(long_poll, age(call) - asked_at);
      const auto wait = after_answer(call, tracking, result, retry_after, held);
      if (!wait) return result;
      if (auto stopped = wait_between_looks(call, *wait)) return *stopped;
    }
  }

  /// One status check (with retries for transient failures): returns pending as it is, for callers who poll.
  TranslationResult check_translation_status(std::string_view job_id, std::stop_token stop = {}) {
    Call call = begin_call(job_id, stop);
    std::optional<Seconds> retry_after;
    TranslationResult result = look(call, retry_after, Seconds(0));
    note_hints(result, retry_after);
    return result;
  }

  /// Waits for every job, at most `concurrent_limit` at a time (default HEYGEN_VT_DEFAULT_BULK_CONCURRENCY).
  /// Duplicate ids are tracked once; the map has one entry per distinct id. `on_result`, when given, gets each
  /// result the moment it is known (calls are serialized; an exception it throws is logged and ignored).
  ResultMap get_bulk_translation_statuses(const std::vector<std::string>& job_ids,
                                          std::optional<std::size_t> concurrent_limit = std::nullopt,
                                          std::stop_token stop = {}, BulkCallback on_result = {}) {
    if (concurrent_limit && *concurrent_limit == 0)
      throw std::invalid_argument("heygen: concurrent_limit must be at least 1");
    std::vector<std::string> unique(job_ids);
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    BulkRun run(*this, std::move(unique), concurrent_limit.value_or(HEYGEN_VT_DEFAULT_BULK_CONCURRENCY),
                std::move(stop), std::move(on_result));
    return run.execute();
  }

  /// create_translation_job on another thread. The client must outlive the future.
  std::future<std::string> create_translation_job_async(std::stop_token stop = {}) {
    return std::async(std::launch::async, [this, stop] { return create_translation_job(stop); });
  }

  /// get_translation_status on another thread. The client must outlive the future.
  std::future<TranslationResult> get_translation_status_async(std::string job_id, std::stop_token stop = {}) {
    return std::async(std::launch::async,
                      [this, id = std::move(job_id), stop] { return get_translation_status(id, stop); });
  }

  /// get_bulk_translation_statuses on another thread. The client must outlive the future.
  std::future<ResultMap> get_bulk_translation_statuses_async(std::vector<std::string> job_ids,
                                                             std::optional<std::size_t> concurrent_limit = std::nullopt,
                                                             std::stop_token stop = {}, BulkCallback on_result = {}) {
    return std::async(std::launch::async,
                      [this, ids = std::move(job_ids), concurrent_limit, stop, callback = std::move(on_result)] {
                        return get_bulk_translation_statuses(ids, concurrent_limit, stop, callback);
                      });
  }

  /// The options this client was built with (validated).
  [[nodiscard]] const ClientOptions& options() const noexcept { return options_; }
  /// What this client has learnt about the server (shared with other clients given the same profile).
  [[nodiscard]] ServerProfile& profile() noexcept { return *profile_; }
  /// The transport, e.g. to read a counting transport's figures.
  [[nodiscard]] T& transport() noexcept { return transport_; }
  /// The clock.
  [[nodiscard]] C& clock() noexcept { return clock_; }

 private:
  struct construct_tag {};

  BasicVideoTranslationClient(ClientOptions options, construct_tag)
      : options_(std::move(options)),
        base_(BaseUrl::parse(options_.base_url)),
        profile_(options_.profile ? options_.profile : std::make_shared<ServerProfile>()),
        transport_(options_),
        clock_() {}

  /// Per-call state: lives on the caller's stack, so concurrent calls never share it.
  struct Call {
    std::string job_id;
    TimePoint start;
    TimePoint deadline;
    std::stop_token stop;
    int requests = 0;
    int last_http_status = 0;
    std::string last_failure{};  // the latest retried failure, so a deadline can say what kept failing
  };

  /// What one request came to after retries: a final response, or why there is none.
  struct Exchange {
    bool ok = false;
    HttpResponse response;
    FailureCause cause = FailureCause::none;
    std::string message;
  };

  static ClientOptions checked(ClientOptions options) {
    BaseUrl::parse(options.base_url);
    auto require = [](bool good, const char* what) {
      if (!good) throw std::invalid_argument(std::string("heygen: ") + what);
    };
    auto non_negative = [](Seconds s) { return std::isfinite(s.count()) && s.count() >= 0.0; };
    require(options.max_retries >= 0, "max_retries must not be negative");
    require(non_negative(options.initial_backoff), "initial_backoff must be finite and not negative");
    require(non_negative(options.max_backoff), "max_backoff must be finite and not negative");
    require(non_negative(options.max_timeout) && options.max_timeout.count() > 0, "max_timeout must be positive");
    require(non_negative(options.request_timeout) && options.request_timeout.count() > 0,
            "request_timeout must be positive");
    require(non_negative(options.connect_timeout) && options.connect_timeout.count() > 0,
            "connect_timeout must be positive");
    const PollPolicy& poll = options.polling;
    require(non_negative(poll.initial_interval) && non_negative(poll.max_interval) && non_negative(poll.min_interval) &&
                non_negative(poll.cold_cap) && non_negative(poll.long_poll) && non_negative(poll.coalesce),
            "polling intervals must be finite and not negative");
    require(std::isfinite(poll.lag_ratio) && poll.lag_ratio > 0.0 && poll.lag_ratio <= 1.0,
            "polling.lag_ratio must be in (0, 1]");
    require(std::isfinite(poll.multiplier) && poll.multiplier >= 1.0, "polling.multiplier must be at least 1");
    require(std::isfinite(poll.jitter) && poll.jitter >= 0.0 && poll.jitter <= 1.0, "polling.jitter must be in [0, 1]");
    require(options.max_body_bytes > 0, "max_body_bytes must be positive");
    require(options.connection_pool_size > 0, "connection_pool_size must be positive");
    for (const auto* path : {&options.endpoints.create_job, &options.endpoints.status, &options.endpoints.batch})
      require(!path->empty() && path->front() == '/' && !detail::has_line_break(*path) &&
                  path->find(' ') == std::string::npos,
              "endpoint paths must start with '/' and hold no whitespace or line breaks");
    require(!detail::has_line_break(options.bearer_token), "bearer_token must not contain line breaks");
    for (const auto& header : options.extra_headers)
      require(!header.name.empty() && !detail::has_line_break(header.name) && !detail::has_line_break(header.value) &&
                  header.name.find(':') == std::string::npos,
              "extra_headers must have a name and hold no line breaks");
    return options;
  }

  Call begin_call(std::string_view job_id, std::stop_token stop) {
    Call call;
    call.job_id = std::string(job_id);
    call.start = clock_.now();
    call.deadline = call.start + detail::to_clock(options_.max_timeout);
    call.stop = std::move(stop);
    return call;
  }

  HttpRequest make_request(std::string method, std::string target) const {
    HttpRequest request;
    request.method = std::move(method);
    request.url = origin_ + target;
    request.target = std::move(target);
    request.headers = headers_;
    return request;
  }

  /// The headers every request carries: the caller's extras, Accept and the token.
  static std::vector<HttpHeader> fixed_headers(const ClientOptions& options) {
    std::vector<HttpHeader> headers = options.extra_headers;
    headers.push_back({"Accept", "application/json"});
    if (!options.bearer_token.empty()) headers.push_back({"Authorization", "Bearer " + options.bearer_token});
    return headers;
  }

  double uniform() const { return options_.random ? options_.random() : detail::random_uniform01(); }

  template <class MakeMessage>
  void log(LogLevel level, MakeMessage&& make_message) const {
    if (!options_.log_sink || level < options_.log_level || options_.log_level == LogLevel::off) return;
    std::string message = make_message();
    for (char& c : message)  // a job id from the caller or a server must not forge log lines
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    options_.log_sink(level, message);
  }

  static std::string describe_status(const HttpResponse& response) {
    std::string text = "HTTP " + std::to_string(response.status);
    if (auto message = protocol::error_message_of(response.body)) text += ": " + *message;
    return text;
  }

  static std::string describe_failure(const HttpResponse& response) {
    if (response.received()) return describe_status(response);
    std::string text = "no response (" + std::string(to_string(response.error));
    if (!response.error_detail.empty()) text += ": " + response.error_detail;
    return text + ")";
  }

  /// Sends until a final answer, retries run out, the deadline passes or the caller cancels.
  Exchange send_with_retries(HttpRequest request, Call& call, Seconds server_hold = Seconds(0)) {
    const RetryPolicy retry = options_.retry_policy();
    for (int failures = 0;;) {
      if (call.stop.stop_requested()) return {false, {}, FailureCause::cancelled, detail::cancelled_message};
      const auto remaining = call.deadline - clock_.now();
      if (remaining <= TimePoint::duration::zero()) return {false, {}, FailureCause::deadline, deadline_message(call)};
      request.timeout = detail::to_millis(std::min(Seconds(remaining), options_.request_timeout + server_hold));
      request.stop = call.stop;
      HttpResponse response = send_guarded(request);
      ++call.requests;
      if (response.received()) call.last_http_status = response.status;
      if (!RetryPolicy::retryable(response)) {
        call.last_failure.clear();  // only a failure still unresolved explains a deadline
        if (response.received()) return {true, std::move(response), FailureCause::none, {}};
        std::string message = describe_failure(response);
        return {false, std::move(response), FailureCause::transport, std::move(message)};
      }
      ++failures;
      const FailureCause cause = response.received() ? FailureCause::http_status : FailureCause::transport;
      call.last_failure = describe_failure(response);
      if (failures > retry.max_retries) {
        std::string message =
            call.last_failure + " after " + std::to_string(failures) + (failures == 1 ? " attempt" : " attempts");
        return {false, std::move(response), cause, std::move(message)};
      }
      const Seconds wait = retry_wait(retry, failures, response);
      log(LogLevel::warn, [&] {
        return (call.job_id.empty() ? std::string("create") : "job " + call.job_id) + ": attempt " +
               std::to_string(failures) + " failed (" + describe_failure(response) + "); retrying in " +
               std::to_string(detail::to_millis(wait).count()) + " ms";
      });
      if (auto stopped = pause_for_retry(call, wait)) return *stopped;
    }
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

  /// Full-jitter backoff, or the server's Retry-After when it sent one.
  Seconds retry_wait(const RetryPolicy& retry, int failures, const HttpResponse& response) const {
    if (auto after = retry_after_of(response)) return *after;
    return retry.backoff(failures, uniform());
  }

  /// The response's Retry-After as a wait, taking an HTTP-date relative to the server's Date header.
  std::optional<Seconds> retry_after_of(const HttpResponse& response) const {
    const auto value = response.header("Retry-After");
    if (!value) return std::nullopt;
    auto now = std::chrono::floor<std::chrono::seconds>(system_now());
    if (auto date = response.header("Date"))
      if (auto server_now = detail::parse_http_date(*date)) now = *server_now;
    return detail::parse_retry_after(*value, now);
  }

  std::chrono::system_clock::time_point system_now() const {
    if constexpr (requires {
                    { clock_.system_now() } -> std::same_as<std::chrono::system_clock::time_point>;
                  })
      return clock_.system_now();
    else
      return std::chrono::system_clock::now();
  }

  /// Why a sleep ended the call (cancelled or deadline), or nothing when it woke on time.
  std::optional<std::pair<FailureCause, std::string>> sleep_ended_call(Call& call, Seconds wait) {
    switch (sleep_for(call, wait)) {
      case Wake::on_time: return std::nullopt;
      case Wake::cancelled: return std::pair{FailureCause::cancelled, std::string(detail::cancelled_message)};
      case Wake::deadline: break;
    }
    return std::pair{FailureCause::deadline, deadline_message(call)};
  }

  std::optional<Exchange> pause_for_retry(Call& call, Seconds wait) {
    auto ended = sleep_ended_call(call, wait);
    if (!ended) return std::nullopt;
    return Exchange{false, {}, ended->first, std::move(ended->second)};
  }

  enum class Wake { on_time, cancelled, deadline };

  /// Sleeps `wait`, but never past the call's deadline.
  Wake sleep_for(const Call& call, Seconds wait) {
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

  std::optional<TranslationResult> wait_between_looks(Call& call, Seconds wait) {
    auto ended = sleep_ended_call(call, wait);
    if (!ended) return std::nullopt;
    return finish(call, failed(ended->first, std::move(ended->second)));
  }

  std::string deadline_message(const Call& call) const {
    std::string text =
        "no outcome within max_timeout (" + std::to_string(detail::to_millis(options_.max_timeout).count()) + " ms)";
    if (!call.last_failure.empty()) text += "; last failure: " + call.last_failure;
    return text;
  }

  static TranslationResult failed(FailureCause cause, std::string message) {
    TranslationResult result;
    result.status = cause == FailureCause::deadline ? TranslationStatus::timeout : TranslationStatus::error;
    result.cause = cause;
    result.error_message = std::move(message);
    return result;
  }

  TranslationResult finish(const Call& call, TranslationResult result) {
    result.requests = call.requests;
    result.http_status = call.last_http_status;
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - call.start);
    if (result.status != TranslationStatus::pending && result.status != TranslationStatus::completed)
      log(result.cause == FailureCause::job_failed ? LogLevel::info : LogLevel::warn, [&] {
        return "job " + call.job_id + ": " + std::string(to_string(result.status)) + " (" +
               std::string(to_string(result.cause)) + "): " + result.error_message.value_or("");
      });
    return result;
  }

  /// One status look with retries; a pending result means "look again", with the server's hint if any.
  TranslationResult look(Call& call, std::optional<Seconds>& retry_after, Seconds long_poll) {
    if (call.job_id.empty()) return finish(call, failed(FailureCause::unknown_job, "empty job id"));
    std::string target = protocol::status_target(base_.prefix, options_.endpoints.status, call.job_id);
    if (long_poll > Seconds(0))
      target += (target.find('?') == std::string::npos ? "?wait=" : "&wait=") + format_seconds(long_poll);
    Exchange exchange = send_with_retries(make_request("GET", std::move(target)), call, long_poll);
    if (!exchange.ok) return finish(call, failed(exchange.cause, std::move(exchange.message)));
    const HttpResponse& response = exchange.response;
    if (response.status == 404)
      return finish(call, failed(FailureCause::unknown_job,
                                 protocol::error_message_of(response.body).value_or("unknown job") + " (HTTP 404)"));
    if (response.status < 200 || response.status > 299)
      return finish(call, failed(FailureCause::http_status, describe_status(response)));
    std::string error;
    const auto answer = protocol::read_status(response.body, error);
    if (!answer) return finish(call, failed(FailureCause::bad_response, error));
    if (answer->status == TranslationStatus::pending) retry_after = retry_after_of(response);
    return finish(call, from_answer(*answer));
  }

  static TranslationResult from_answer(const StatusAnswer& answer) {
    TranslationResult result;
    result.status = answer.status;
    result.cause = answer.cause;
    result.error_message = answer.error_message;
    result.progress = answer.progress;
    result.eta_seconds = answer.eta_seconds;
    return result;
  }

  struct Tracking;

  /// Digests one answer: learns from it, and returns the wait before the next look, or nothing when the
  /// result is final. Shared by the single wait and the bulk poller, so both poll alike.
  /// `held`: the answer came from a long poll the server held, so the next look can go at once.
  std::optional<Seconds> after_answer(const Call& call, Tracking& tracking, const TranslationResult& result,
                                      const std::optional<Seconds>& retry_after, bool held) {
    const Seconds answered_at = age(call);
    note_hints(result, retry_after);
    if (result.status != TranslationStatus::pending) {
      learn_duration(tracking, result, answered_at);
      return std::nullopt;
    }
    tracking.note_pending(answered_at, result.progress, held);
    ++tracking.looks;
    const Seconds wait = held ? Seconds(0) : next_wait(tracking, tracking.looks, answered_at, result, retry_after);
    log(LogLevel::debug, [&] {
      return "job " + call.job_id + ": pending after look " + std::to_string(tracking.looks) + "; next look in " +
             std::to_string(detail::to_millis(wait).count()) + " ms";
    });
    return wait;
  }

  /// Per-call polling memory: what the previous looks saw.
  struct Tracking {
    int looks = 0;                          // pending answers so far
    Seconds first_wait{0};                  // wait before the first look
    std::optional<Seconds> last_pending{};  // age of the latest pending answer
    bool last_held = false;                 // that answer came from a held long poll
    struct ProgressSample {
      Seconds age{0};
      double progress = 0;
    };
    ProgressSample latest{};    // the latest answer that carried progress
    ProgressSample previous{};  // the one before it
    int progress_samples = 0;
    std::optional<Seconds> predicted_finish{};  // age by which the server's hints said the job would be done
    int overdue_looks = 0;

    void note_pending(Seconds age, std::optional<double> progress, bool held) {
      last_pending = age;
      last_held = held;
      if (predicted_finish && age >= *predicted_finish) ++overdue_looks;
      if (!progress) return;
      previous = latest;
      latest = {age, *progress};
      ++progress_samples;
    }

    /// Time left, extrapolated from the progress rate between the last two answers that carried progress.
    [[nodiscard]] std::optional<Seconds> progress_remaining() const {
      if (progress_samples < 2) return std::nullopt;
      const double rate = (latest.progress - previous.progress) / (latest.age - previous.age).count();
      if (!std::isfinite(rate) || rate <= 0.0) return std::nullopt;
      return Seconds((1.0 - latest.progress) / rate);
    }
  };

  Seconds age(const Call& call) const { return Seconds(clock_.now() - call.start); }

  const DurationModel* learnt() const { return options_.polling.learn ? &profile_->durations() : nullptr; }

  /// Look at once when the server will say more than the schedule knows; else where jobs start finishing.
  Seconds first_wait() const {
    const PollPolicy& policy = options_.polling;
    if (policy.long_poll > Seconds(0) && profile_->long_poll() == Support::yes) return Seconds(0);
    if (policy.use_hints && profile_->hints() == Support::yes) return Seconds(0);
    return policy.first_wait(learnt());
  }

  /// How long to ask the server to hold this look: the policy's long poll, unless the server ignores it or
  /// the deadline is too near to be worth it.
  Seconds long_poll_budget(const Call& call) const {
    const Seconds wanted = options_.polling.long_poll;
    if (wanted <= Seconds(0) || profile_->long_poll() == Support::no) return Seconds(0);
    const Seconds left = Seconds(call.deadline - clock_.now()) - Seconds(1);
    return left >= Seconds(1) ? std::min(wanted, left) : Seconds(0);
  }

  /// A pending answer to a long poll that came back well before the hold tells us the server ignores `wait`.
  bool long_poll_held(Seconds asked, Seconds took) {
    if (asked <= Seconds(0)) return false;
    const bool held = took >= asked * 0.5;
    profile_->set_long_poll(held ? Support::yes : Support::no);
    return held;
  }

  void note_hints(const TranslationResult& result, const std::optional<Seconds>& retry_after) {
    const bool hinted = result.progress || result.eta_seconds || retry_after;
    if (hinted)
      profile_->set_hints(Support::yes);
    else if (profile_->hints() == Support::unknown && result.status == TranslationStatus::pending)
      profile_->set_hints(Support::no);
  }

  Seconds next_wait(Tracking& tracking, int looks, Seconds age_now, const TranslationResult& result,
                    const std::optional<Seconds>& retry_after) {
    PollContext context;
    context.looks = looks;
    context.age = age_now;
    context.retry_after = retry_after;
    if (result.eta_seconds) context.eta = Seconds(*result.eta_seconds);
    context.progress_remaining = tracking.progress_remaining();
    context.progress_seen = result.progress.has_value();
    context.overdue_looks = tracking.overdue_looks;
    context.learnt = learnt();
    if (context.progress_remaining)
      tracking.predicted_finish = age_now + *context.progress_remaining;
    else if (context.eta)
      tracking.predicted_finish = age_now + *context.eta;
    return options_.polling.next_wait(context, uniform());
  }

  /// Remembers how long a finished job took. It finished between the last pending look and the answer that
  /// said it was done (exactly then after a held long poll); a point drawn uniformly in that interval, rather
  /// than its midpoint, keeps the learnt distribution smooth instead of clustered on past poll times.
  /// A job already done at an immediate first look teaches nothing: it may have finished long before. One done
  /// at a delayed first look finished before it: it is recorded a little earlier, so the model can move down
  /// when the server gets faster without smearing mass over ages where no job finishes.
  void learn_duration(const Tracking& tracking, const TranslationResult& result, Seconds answered_at) {
    if (!options_.polling.learn || !result.job_finished()) return;
    if (!tracking.last_pending && tracking.first_wait <= Seconds(0)) return;
    const Seconds before = tracking.last_pending.value_or(answered_at * 0.8);
    profile_->durations().record(tracking.last_held ? answered_at : before + (answered_at - before) * uniform());
  }

  /// Plain decimal seconds, truncated to milliseconds so a deadline-bounded hold never rounds up: "1500", "0.25".
  static std::string format_seconds(Seconds seconds) {
    const long long millis = detail::to_millis(Seconds(std::floor(seconds.count() * 1000.0) / 1000.0)).count();
    std::string text = std::to_string(millis / 1000);
    if (millis % 1000 != 0) {
      char fraction[8];
      std::snprintf(fraction, sizeof fraction, ".%03lld", millis % 1000);
      text += fraction;
      while (text.back() == '0') text.pop_back();
    }
    return text;
  }

  /// The bulk poller: jobs ordered by next-due time, served by a fixed pool of `limit` workers (the calling
  /// thread is one of them; never a thread per job). Each job keeps its own deadline and polling state, as a
  /// single wait would. When the server has the batch endpoint, every due job (up to 1,000) shares one request,
  /// long-polled when the server holds them.
  class BulkRun {
   public:
    BulkRun(BasicVideoTranslationClient& client, std::vector<std::string> ids, std::size_t limit, std::stop_token stop,
            BulkCallback on_result)
        : client_(client), stop_(std::move(stop)), on_result_(std::move(on_result)), limit_(limit) {
      const Seconds first = client_.first_wait();
      jobs_.reserve(ids.size());
      for (auto& id : ids) {
        Job job{client_.begin_call(id, stop_), {}, {}};
        job.tracking.first_wait = first;
        due_.push({job.call.start + detail::to_clock(first), jobs_.size()});
        jobs_.push_back(std::move(job));
      }
      remaining_ = jobs_.size();
      // A held per-job long poll occupies a worker: only worth it when every job has one.
      per_job_long_poll_ = jobs_.size() <= limit_;
    }

    /// Runs the workers until every job has a result or the caller cancels; the rest are marked cancelled.
    ResultMap execute() {
      const std::size_t workers = std::min(limit_, jobs_.size());
      {
        std::vector<std::jthread> helpers;
        helpers.reserve(workers > 0 ? workers - 1 : 0);
        for (std::size_t i = 1; i < workers; ++i) helpers.emplace_back([this] { work(); });
        if (workers > 0) work();
      }
      for (std::size_t i = 0; i < jobs_.size(); ++i)
        if (!jobs_[i].done)
          finish_job(i, client_.finish(jobs_[i].call, failed(FailureCause::cancelled, detail::cancelled_message)));
      ResultMap out;
      for (auto& job : jobs_) out.emplace(std::move(job.call.job_id), std::move(job.result));
      return out;
    }

   private:
    struct Job {
      Call call;
      Tracking tracking;
      TranslationResult result;
      bool done = false;
      TimePoint not_before{};  // a worker taking jobs ahead of time takes this one no earlier
    };
    using Due = std::pair<TimePoint, std::size_t>;

    /// One worker: take what is due, serve it, repeat. Only the worker that holds the timer sleeps until the
    /// next due time; the others wait to be notified, so idle workers do not all wake for one job.
    void work() {
      std::vector<std::size_t> taken;  // reused: a worker takes work thousands of times
      std::vector<Due> later;          // what the worker served and must look at again
      std::unique_lock lock(mutex_);
      while (remaining_ > 0 && !stop_.stop_requested()) {
        // Requeued here, under the lock the loop takes anyway, rather than locking once more per job.
        for (const Due& entry : later) due_.push(entry);
        later.clear();
        const TimePoint when = due_.empty() ? TimePoint::max() : due_.top().first;
        if (when == TimePoint::max() || (when > client_.clock_.now() && when >= timer_until_)) {
          work_ready_.wait(lock, stop_, [&] { return remaining_ == 0 || changed_; });
          changed_ = false;
          continue;
        }
        if (when > client_.clock_.now()) {
          timer_until_ = when;
          lock.unlock();
          const bool awake = client_.clock_.sleep_until(when, stop_);
          lock.lock();
          if (timer_until_ == when) timer_until_ = TimePoint::max();
          if (!awake) break;
          continue;
        }
        take_due(taken);
        serve_unlocked(lock, taken, later);
      }
      changed_ = true;  // leaving (done or cancelled): let the others see it too
      work_ready_.notify_all();
    }

    /// Serves what the worker took, with the lock released meanwhile. Going busy, it hands on what is left (more
    /// due work, or the timer nobody holds) to one idle worker. Requeues never notify: the worker that requeued
    /// loops back and takes the earliest job itself.
    void serve_unlocked(std::unique_lock<std::mutex>& lock, const std::vector<std::size_t>& taken,
                        std::vector<Due>& later) {
      const bool hand_on =
          !due_.empty() && (due_.top().first <= client_.clock_.now() || timer_until_ == TimePoint::max());
      if (hand_on) changed_ = true;
      const bool per_job = !batching();
      lock.unlock();
      // Notified after unlocking: a woken worker that preempted us would only block on the lock we hold.
      if (hand_on) work_ready_.notify_one();
      const TimePoint started = client_.clock_.now();
      const std::size_t looked = serve(taken, later, started);
      const Seconds took(client_.clock_.now() - started);
      lock.lock();
      if (per_job) note_look_time(took, looked);
    }

    /// Batch when the server may have the endpoint, unless every job can hold its own long poll (one request
    /// per job, answered the moment it finishes, beats batch rounds that end at every finish).
    bool batching() const {
      return jobs_.size() > 1 && client_.profile_->batch() != Support::no && !per_job_polls_held();
    }

    /// Each job gets its own long poll, which the server may hold (so a look can block until the job ends).
    bool per_job_polls_held() const {
      return per_job_long_poll_ && client_.options_.polling.long_poll > Seconds(0) &&
             client_.profile_->long_poll() != Support::no;
    }

    /// Fills `taken` with the earliest due job; with batching, every job due now (or within a short window) up to the
    /// batch limit. Without batching, a worker still takes the jobs due within the next min_interval that are past
    /// their not_before, as many as it can look at in that time, and serves them in turn: one wake-up for many
    /// requests instead of one each, which is what spread-out looks cost most.
    void take_due(std::vector<std::size_t>& taken) {
      taken.clear();
      const bool batch = batching();
      const Seconds window = client_.options_.polling.min_interval * (batch ? 2.0 : 1.0);
      const TimePoint now = client_.clock_.now();
      const TimePoint horizon = now + detail::to_clock(window);
      const std::size_t most = batch ? protocol::max_batch_ids : per_job_polls_held() ? 1 : looks_within(window);
      while (!due_.empty() && taken.size() < most) {
        const auto [when, i] = due_.top();
        const bool ahead_ok = batch ? when <= horizon : when <= horizon && jobs_[i].not_before <= now;
        if (!taken.empty() && !ahead_ok) break;  // the first is due: the caller checked
        taken.push_back(i);
        due_.pop();
      }
    }

    /// How many looks one worker can make in `window`, judged by how long looks have been taking, so a slow server
    /// spreads them over more workers instead of queueing them behind one.
    std::size_t looks_within(Seconds window) const { return detail::looks_within(window, look_time_, max_take); }

    /// Folds the time a worker took for `looks` per-job looks into the running estimate.
    void note_look_time(Seconds took, std::size_t looks) {
      if (looks == 0 || !(took >= Seconds(0))) return;
      const Seconds each = took / static_cast<double>(looks);
      look_time_ = look_time_ <= Seconds(0) ? each : look_time_ * 0.8 + each * 0.2;
    }

    static constexpr std::size_t max_take = 32;  // beyond this, fewer wake-ups no longer show in the CPU

    /// Serves what a worker took; nothing thrown here (bad_alloc, say) may escape a worker thread, so the jobs
    /// it held end with the error instead.
    /// Returns how many per-job looks it made: once looking since `started` has taken longer than the take window (the
    /// server slowed down), the rest go back to the queue for other workers.
    std::size_t serve(const std::vector<std::size_t>& taken, std::vector<Due>& later, TimePoint started) noexcept {
      std::size_t looked = 0;
      try {
        if (batching()) {
          serve_batch(taken, later);
          return 0;
        }
        const auto window = detail::to_clock(client_.options_.polling.min_interval);
        for (; looked < taken.size(); ++looked) {
          if (looked > 0 && client_.clock_.now() - started > window) break;
          serve_one(taken[looked], later);
        }
        for (std::size_t rest = looked; rest < taken.size(); ++rest)
          later.push_back({client_.clock_.now(), taken[rest]});
      } catch (const std::exception& e) {
        fail_all(taken, later, std::string("unexpected exception: ") + e.what());
      } catch (...) {
        fail_all(taken, later, "unexpected exception");
      }
      return looked;
    }

    /// Ends every job of the take that has no result yet with the error. `later` holds only this take's requeues,
    /// and those jobs are ended now, so it is emptied: nothing ended goes back to the queue.
    void fail_all(const std::vector<std::size_t>& taken, std::vector<Due>& later, const std::string& message) noexcept {
      for (std::size_t i : taken)
        if (!jobs_[i].done) finish_job(i, failed(FailureCause::transport, message));
      later.clear();
    }

    /// One look at one job, exactly as get_translation_status would take it; a pending job goes to `later`.
    void serve_one(std::size_t i, std::vector<Due>& later) {
      Job& job = jobs_[i];
      if (client_.clock_.now() >= job.call.deadline) return time_out(i);
      const Seconds long_poll = per_job_long_poll_ ? client_.long_poll_budget(job.call) : Seconds(0);
      const Seconds asked_at = client_.age(job.call);
      std::optional<Seconds> retry_after;
      TranslationResult result = client_.look(job.call, retry_after, long_poll);
      const bool held = result.status == TranslationStatus::pending &&
                        client_.long_poll_held(long_poll, client_.age(job.call) - asked_at);
      if (auto next = settle(i, std::move(result), retry_after, held)) later.push_back(*next);
    }

    /// One batch request for many due jobs; falls back to per-job looks when the server has no batch endpoint.
    void serve_batch(const std::vector<std::size_t>& taken, std::vector<Due>& later) {
      std::vector<std::size_t> live;
      for (std::size_t i : taken)
        if (client_.clock_.now() >= jobs_[i].call.deadline)
          time_out(i);
        else
          live.push_back(i);
      if (live.empty()) return;
      Call call = client_.begin_call("batch", stop_);
      std::vector<const std::string*> ids;
      ids.reserve(live.size());
      for (std::size_t i : live) {
        call.deadline = std::min(call.deadline, jobs_[i].call.deadline);
        ids.push_back(&jobs_[i].call.job_id);
      }
      const Seconds long_poll = client_.long_poll_budget(call);
      HttpRequest request = client_.make_request("POST", batch_target(long_poll));
      request.headers.push_back({"Content-Type", "application/json"});
      request.body = protocol::batch_body(ids);
      const TimePoint asked = client_.clock_.now();
      Exchange exchange = client_.send_with_retries(std::move(request), call, long_poll);
      for (std::size_t i : live) {
        jobs_[i].call.requests += call.requests;
        if (call.last_http_status) jobs_[i].call.last_http_status = call.last_http_status;
      }
      if (!exchange.ok) {
        for (std::size_t i : live)
          finish_job(i, client_.finish(jobs_[i].call, failed(exchange.cause, exchange.message)));
        return;
      }
      read_batch_answer(live, exchange.response, long_poll, Seconds(client_.clock_.now() - asked), later);
    }

    void read_batch_answer(const std::vector<std::size_t>& live, const HttpResponse& response, Seconds long_poll,
                           Seconds took, std::vector<Due>& later) {
      std::string error;
      const bool has_endpoint = response.status >= 200 && response.status <= 299;
      const auto answers = has_endpoint ? protocol::read_batch(response.body, error) : std::nullopt;
      if (!answers) {
        // No batch endpoint (404/405), or one we cannot read: remember, and look at these jobs one by one.
        client_.profile_->set_batch(Support::no);
        client_.log(LogLevel::info,
                    [&] { return "server has no usable batch endpoint (" + describe_status(response) + ")"; });
        for (std::size_t i : live) later.push_back({client_.clock_.now(), i});
        return;
      }
      client_.profile_->set_batch(Support::yes);
      const bool any_final = std::any_of(answers->begin(), answers->end(), [](const auto& entry) {
        return entry.second.status != TranslationStatus::pending;
      });
      const bool held = long_poll > Seconds(0) && (any_final || client_.long_poll_held(long_poll, took));
      const auto retry_after = client_.retry_after_of(response);
      // A batch long poll ends as soon as one job finishes; asking again at once for the rest would cost a
      // request per finish. A short pause gathers the next finishes into one answer (lag ≤ the pause).
      const Seconds gather = any_final ? client_.options_.polling.min_interval * 2.0 : Seconds(0);
      for (std::size_t i : live) {
        const auto answer = answers->find(jobs_[i].call.job_id);
        if (answer == answers->end()) {  // the server left it out: look again shortly
          later.push_back({client_.clock_.now() + detail::to_clock(client_.options_.polling.min_interval), i});
          continue;
        }
        TranslationResult result = client_.finish(jobs_[i].call, from_answer(answer->second));
        if (auto next = settle(i, std::move(result), retry_after, held, gather)) later.push_back(*next);
      }
    }

    std::string batch_target(Seconds long_poll) const {
      std::string target = client_.base_.prefix + client_.options_.endpoints.batch;
      if (long_poll > Seconds(0))
        target += (target.find('?') == std::string::npos ? "?wait=" : "&wait=") + format_seconds(long_poll);
      return target;
    }

    /// A final result ends the job; a pending one gets its next due time (never past its deadline).
    std::optional<Due> settle(std::size_t i, TranslationResult result, const std::optional<Seconds>& retry_after,
                              bool held, Seconds gather = Seconds(0)) {
      Job& job = jobs_[i];
      auto wait = client_.after_answer(job.call, job.tracking, result, retry_after, held);
      if (!wait || result.cause == FailureCause::cancelled) {
        finish_job(i, std::move(result));
        return std::nullopt;
      }
      *wait = std::max(*wait, gather);
      const TimePoint now = client_.clock_.now();
      // Taken ahead of time, a look goes at most a fifth of its wait early (and at most min_interval): the
      // min_interval floor between looks holds, and an early look seldom misses a finish a punctual one would see.
      const Seconds early = std::min(client_.options_.polling.min_interval, *wait / 5.0);
      const TimePoint due = *wait >= Seconds(job.call.deadline - now)
                                ? job.call.deadline
                                : std::min(coalesced(now + detail::to_clock(*wait), *wait), job.call.deadline);
      job.not_before = std::min(now + detail::to_clock(*wait - early), due);
      return Due{due, i};
    }

    /// `due` moved to the end of its coalescing tick when the wait is long enough for that to be cheap.
    TimePoint coalesced(TimePoint due, Seconds wait) const {
      const Seconds tick = client_.options_.polling.coalesce;
      if (tick <= Seconds(0) || wait < tick * 20.0) return due;
      const auto step = std::max(detail::to_clock(tick), TimePoint::duration(1));
      const auto since_epoch = due.time_since_epoch();
      if (since_epoch.count() < 0 || since_epoch > TimePoint::duration::max() - step) return due;  // custom clocks
      const auto past = since_epoch % step;
      return past == TimePoint::duration::zero() ? due : due + (step - past);
    }

    void time_out(std::size_t i) {
      finish_job(
          i, client_.finish(jobs_[i].call, failed(FailureCause::deadline, client_.deadline_message(jobs_[i].call))));
    }

    /// Records a job's result and hands it to the caller's callback (serialized, exceptions contained).
    void finish_job(std::size_t i, TranslationResult&& result) {
      std::size_t done = 0;
      {
        std::lock_guard lock(mutex_);
        if (jobs_[i].done) return;
        jobs_[i].result = std::move(result);
        jobs_[i].done = true;
        --remaining_;
        done = jobs_.size() - remaining_;
        if (remaining_ == 0) work_ready_.notify_all();
      }
      if (!on_result_) return;
      std::lock_guard lock(callback_mutex_);
      client_.deliver(on_result_, jobs_[i].call.job_id, jobs_[i].result, BulkProgress{done, jobs_.size()});
    }

    BasicVideoTranslationClient& client_;
    std::stop_token stop_;
    BulkCallback on_result_;
    std::size_t limit_;
    std::vector<Job> jobs_;
    std::mutex mutex_;  // guards due_, remaining_, look_time_ and each job's done/result
    std::condition_variable_any work_ready_;
    std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
    std::size_t remaining_ = 0;
    TimePoint timer_until_ = TimePoint::max();  // when the worker holding the timer wakes; max: nobody holds it
    bool changed_ = false;                      // the queue changed since a waiting worker last looked
    bool per_job_long_poll_ = false;
    Seconds look_time_{0};       // recent wall time of one per-job look; zero until measured
    std::mutex callback_mutex_;  // callbacks run one at a time
  };

  /// Hands a result to the caller's callback; what it throws is logged, never propagated into a worker.
  void deliver(const BulkCallback& on_result, const std::string& job_id, const TranslationResult& result,
               BulkProgress progress) const noexcept {
    try {
      on_result(job_id, result, progress);
    } catch (const std::exception& e) {
      log(LogLevel::error, [&] { return "job " + job_id + ": result callback threw: " + e.what(); });
    } catch (...) {
      log(LogLevel::error, [&] { return "job " + job_id + ": result callback threw"; });
    }
  }

  /// get_translation_status that turns even an unexpected exception (e.g. bad_alloc) into a result.
  TranslationResult status_or_failure(const std::string& job_id, std::stop_token stop) noexcept {
    try {
      return get_translation_status(job_id, stop);
    } catch (const std::exception& e) {
      TranslationResult result = failed(FailureCause::transport, std::string("exception: ") + e.what());
      return result;
    } catch (...) {
      return failed(FailureCause::transport, "unknown exception");
    }
  }

  ClientOptions options_;
  BaseUrl base_;
  std::string origin_ = base_.origin();  // "scheme://host:port", built once: every request's URL starts with it
  std::vector<HttpHeader> headers_ = fixed_headers(options_);  // built once, copied into every request
  std::shared_ptr<ServerProfile> profile_;
  T transport_;
  C clock_;
};

}  // namespace heygen
