// The Protocol concept: what a wire format builds and reads, in neutral values.
#pragma once

#include "heygen/vt/clock.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/result.hpp"

#include <concepts>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// One job's status as a protocol read it from the server's answer, whatever the wire format.
struct StatusAnswer {
  TranslationStatus status = TranslationStatus::pending;  ///< pending, completed or error.
  FailureCause cause = FailureCause::none;                ///< job_failed, unknown_job or unexpected_result when failed.
  std::optional<std::string> error_message{};             ///< The server's message, or the unknown status word.
  std::optional<double> progress{};                       ///< Progress hint (0–1), if sane.
  std::optional<double> eta_seconds{};                    ///< Time-left hint, if sane.
  JobOutputs outputs{};                                   ///< What the job produced, when the server says.
};

/// One page of a many-status answer: each id the server answered for, and where the next page starts.
struct ManyStatusAnswer {
  std::vector<std::pair<std::string, StatusAnswer>> answers{};  ///< Job id → its status; ids left out are absent.
  std::string next_page{};                                      ///< Token of the next page; empty on the last.
};

/// A job's final status as a push notification (webhook) delivered it, read by a protocol's `read_push`.
struct PushedStatus {
  std::string job_id{};       ///< The job the push is about (the id its create answered).
  std::string callback_id{};  ///< The `callback_id` the create sent, echoed back; empty when the push has none.
  std::string event_type{};   ///< The server's name for the event (HeyGen: "video_translate.success"); may be empty.
  StatusAnswer answer{};      ///< The job's final status: completed or error, never pending.
};

/// How a client speaks to one kind of server. A protocol builds requests (method, target below the base URL,
/// its own headers and body: the client adds the URL, Accept, authentication and the timeout) and reads final
/// answers (after retries) into neutral values, mapping the server's error answers to failure causes. The
/// client, the pollers and the tests know no field name of any wire format. Implementations must be usable
/// from many threads at once (const members, no mutable state).
///
/// - `create_input`: what a create takes (TrackerProtocol: nothing; a real API: the video and languages).
/// - `create_request` / `read_created`: one create, which may start several jobs (one id each).
/// - `status_request` / `read_status`: one job; `hold` > 0 asks the server to hold the answer (long poll).
/// - `many_status_limit`: ids one many-status request may name; 0 when the protocol has no such endpoint.
/// - `many_status_request` / `read_many_status`: several jobs, a page at a time (`page` empty for the first).
///   A read that fails tells the client the server has no usable endpoint: it falls back to one look per job.
/// - `retryable`: whether a response (or no response) is worth another try.
/// - `describe`: a response in words, with the server's own error message where the body carries one.
/// - optional `static constexpr bool many_status_outputs`: false when many-status answers say a job completed
///   but not what it produced; the bulk poller then fetches each completed job's outputs with one look of its own.
/// - optional `bool paces(response)`: the answer is the server pacing the client (an account's concurrency
///   limit), to be waited out as its Retry-After says without using up retries.
/// - optional `OrFailure<PushedStatus> read_push(body)`: a push notification's body (a webhook the server POSTs
///   when a job ends), read into the job's final status; a body that is not one is a bad_response failure. A
///   protocol that has it is a PushProtocol.
template <class P>
concept Protocol = requires(const P& protocol, HttpRequest& out, const typename P::create_input& input,
                            std::string_view text, std::span<const std::string* const> ids, Seconds hold,
                            const HttpResponse& response) {
  { protocol.create_request(out, input, text) } -> std::same_as<void>;
  { protocol.read_created(response) } -> std::same_as<OrFailure<std::vector<std::string>>>;
  { protocol.status_request(out, text, hold) } -> std::same_as<void>;
  { protocol.read_status(response) } -> std::same_as<OrFailure<StatusAnswer>>;
  { protocol.many_status_limit() } -> std::convertible_to<std::size_t>;
  { protocol.many_status_request(out, ids, text, hold) } -> std::same_as<void>;
  { protocol.read_many_status(response) } -> std::same_as<OrFailure<ManyStatusAnswer>>;
  { protocol.retryable(response) } -> std::same_as<bool>;
  { protocol.describe(response) } -> std::same_as<std::string>;
};

/// A Protocol whose server can push a job's final status (a webhook): `read_push` reads the pushed body. It only
/// reads: checking the sender (signature, freshness) is WebhookVerifier's.
template <class P>
concept PushProtocol = Protocol<P> && requires(const P& protocol, std::string_view body) {
  { protocol.read_push(body) } -> std::same_as<OrFailure<PushedStatus>>;
};

/// Whether a protocol's many-status answers carry what each completed job produced (true unless it says not).
template <class P>
constexpr bool many_status_has_outputs(const P&) {
  if constexpr (requires { P::many_status_outputs; })
    return P::many_status_outputs;
  else
    return true;
}

/// Appends `?name=value` or `&name=value` to a request target, as its query needs. Both go in as given: a
/// value that may hold reserved characters (a page token) must be percent-encoded first.
inline void append_query(std::string& target, std::string_view name, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += name;
  target += '=';
  target += value;
}

}  // namespace heygen
