// Results: TranslationStatus, FailureCause, TranslationResult, OrFailure.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace heygen {

/// Where a translation job stands, as far as the client knows.
enum class TranslationStatus {
  pending,    ///< The job is waiting or being processed.
  completed,  ///< The translation finished successfully.
  error,      ///< The job failed, or the client could not learn its outcome (see FailureCause).
  timeout,    ///< max_timeout passed before the job left pending.
};

/// Why a result is not `completed`: what the caller needs to decide what to do next.
enum class FailureCause {
  none,               ///< Nothing went wrong (completed, or still pending).
  job_failed,         ///< The server says the job itself failed (`"result": "error"`).
  unknown_job,        ///< The server does not know this job id (404).
  unexpected_result,  ///< The server answered a `result` string the protocol does not define.
  transport,          ///< No answer: refused, reset, timed out, TLS, or a body over the size cap.
  http_status,        ///< The server answered with an HTTP status that ends the call.
  bad_response,       ///< The server answered, but the body was empty or not the expected JSON.
  cancelled,          ///< The caller cancelled the wait through its stop_token.
  deadline,           ///< max_timeout passed (status is `timeout`).
  unknown_outcome,    ///< A journaled create whose answer was lost, past the server's replay window: maybe no job,
                      ///< maybe one; the caller decides (a new create could be a second paid job).
};

/// The lower-case name of a status: "pending", "completed", "error" or "timeout".
constexpr std::string_view to_string(TranslationStatus status) noexcept {
  switch (status) {
    case TranslationStatus::pending: return "pending";
    case TranslationStatus::completed: return "completed";
    case TranslationStatus::error: return "error";
    case TranslationStatus::timeout: return "timeout";
  }
  return "unknown";
}

/// The snake_case name of a failure cause, e.g. "unknown_job".
constexpr std::string_view to_string(FailureCause cause) noexcept {
  switch (cause) {
    case FailureCause::none: return "none";
    case FailureCause::job_failed: return "job_failed";
    case FailureCause::unknown_job: return "unknown_job";
    case FailureCause::unexpected_result: return "unexpected_result";
    case FailureCause::transport: return "transport";
    case FailureCause::http_status: return "http_status";
    case FailureCause::bad_response: return "bad_response";
    case FailureCause::cancelled: return "cancelled";
    case FailureCause::deadline: return "deadline";
    case FailureCause::unknown_outcome: return "unknown_outcome";
  }
  return "unknown";
}

/// What a finished job produced, as far as the server says; empty where it says nothing (the exercise's server
/// never does). Output URLs may be presigned and expire: a fresh status look returns fresh ones.
struct JobOutputs {
  std::optional<std::string> video_url{};        ///< The translated video.
  std::optional<std::string> audio_url{};        ///< The translated audio track.
  std::vector<std::string> caption_urls{};       ///< Caption files (SRT, VTT), when captions were asked for.
  std::optional<std::string> output_language{};  ///< The language this job translated into.
  std::optional<double> duration_seconds{};      ///< Length of the output, in seconds.

  /// True when the server said nothing about outputs.
  [[nodiscard]] bool empty() const noexcept {
    return !video_url && !audio_url && caption_urls.empty() && !output_language && !duration_seconds;
  }
};

/// The outcome of a status check or wait: the seed's (status, error_message) plus what a caller needs to act.
struct TranslationResult {
  TranslationStatus status = TranslationStatus::pending;  ///< Where the job stands.
  std::optional<std::string> error_message{};             ///< Set whenever status is error or timeout.
  FailureCause cause = FailureCause::none;                ///< Why it is not completed.
  int http_status = 0;                                    ///< Last HTTP status received; 0 if none arrived.
  std::optional<double> progress{};                       ///< Server's progress hint (0–1), if it sent one.
  std::optional<double> eta_seconds{};                    ///< Server's estimate of time left, if it sent one.
  int requests = 0;                                       ///< HTTP requests this call made.
  std::chrono::milliseconds elapsed{0};                   ///< Time this call took.
  JobOutputs outputs{};                                   ///< What the job produced, when the server says.

  /// True when the translation completed.
  [[nodiscard]] bool ok() const noexcept { return status == TranslationStatus::completed; }
  /// True when the job has an outcome (completed or failed on the server); false for tracking failures.
  [[nodiscard]] bool job_finished() const noexcept {
    return status == TranslationStatus::completed || cause == FailureCause::job_failed;
  }
};

/// Thrown by create_translation_job when no job id could be obtained; carries the cause.
class TranslationError : public std::runtime_error {
 public:
  /// Builds the error from a cause, a message, the last HTTP status and the requests made.
  TranslationError(FailureCause cause, const std::string& message, int http_status = 0, int requests = 0)
      : std::runtime_error(message), cause_(cause), http_status_(http_status), requests_(requests) {}
  /// Why the call failed.
  [[nodiscard]] FailureCause cause() const noexcept { return cause_; }
  /// Last HTTP status received; 0 if none arrived.
  [[nodiscard]] int http_status() const noexcept { return http_status_; }
  /// HTTP requests the call made.
  [[nodiscard]] int requests() const noexcept { return requests_; }

 private:
  FailureCause cause_;
  int http_status_;
  int requests_;
};

/// Why an operation gave no value: a cause and a message for people.
struct Failure {
  FailureCause cause = FailureCause::none;  ///< What went wrong.
  std::string message{};                    ///< What happened, for logs and error messages.
};

/// A value, or the Failure that prevented it: the one shape of "result or failure" inside the library, and what
/// a Protocol's readers return (`OrFailure<StatusAnswer>` reads "a status answer, or a failure").
template <class T>
class OrFailure {
 public:
  /// A success holding a copy of `value`.
  OrFailure(const T& value) : state_(std::in_place_index<0>, value) {}  // NOLINT(google-explicit-constructor)
  /// A success holding `value`, moved in once (a by-value parameter moved it twice: every answer comes this way).
  OrFailure(T&& value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  /// A failure.
  OrFailure(Failure failure)
      : state_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT(google-explicit-constructor)

  /// True when there is a value.
  [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
  /// True when there is a value.
  explicit operator bool() const noexcept { return ok(); }
  /// The value; only when ok().
  [[nodiscard]] T& value() & { return std::get<0>(state_); }
  /// The value; only when ok().
  [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
  /// The value, moved out; only when ok().
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(state_)); }
  /// The value's members; only when ok().
  T* operator->() { return &value(); }
  /// The value's members; only when ok().
  const T* operator->() const { return &value(); }
  /// The failure; only when !ok().
  [[nodiscard]] const Failure& failure() const& { return std::get<1>(state_); }
  /// The failure, moved out; only when !ok().
  [[nodiscard]] Failure&& failure() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Failure> state_;
};

}  // namespace heygen
