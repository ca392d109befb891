// Status looks: one job or many at once, through protocol and sender.
#pragma once

#include "heygen/vt/job_poller.hpp"
#include "heygen/vt/protocol.hpp"
#include "heygen/vt/result.hpp"
#include "heygen/vt/sender.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace heygen {

/// A status answer turned into a result, with the server's Retry-After when the job is still pending.
struct Look {
  TranslationResult result{};            ///< What the look found (or why it found nothing).
  std::optional<Seconds> retry_after{};  ///< Retry-After on a pending answer.
};

/// A many-status look: each id's answer (ids the server left out are absent) and the Retry-After it sent; or,
/// when the server answered with something that is no many-status answer (it has no such endpoint), why.
struct ManyLook {
  std::vector<std::pair<std::string, StatusAnswer>> answers{};  ///< Job id → its status.
  std::optional<Seconds> retry_after{};                         ///< Retry-After on the answer.
  std::optional<Failure> unusable{};                            ///< The answer was not a usable many-status answer.
};

/// Makes status looks for a client: builds each request with the protocol, sends it with the sender's retries
/// and reads the answer. The single wait and the bulk poller both look through this, so they look alike.
template <Transport T, Clock C, Protocol P>
class StatusLooks {
 public:
  /// Looks through `sender`, speaking `protocol`, polling by `rules`; all must outlive this.
  StatusLooks(Sender<T, C>& sender, const P& protocol, const PollingRules& rules)
      : sender_(sender), protocol_(protocol), rules_(rules) {}

  /// One status look with retries; `hold` > 0 asks the server to hold it (long poll). Pending means "look again".
  /// The result is built in the Look returned, not moved from one object to the next: this runs for every look.
  Look look(CallState& call, Seconds hold) {
    Look out;
    if (call.job_id.empty()) {
      out.result = failed(FailureCause::unknown_job, "empty job id");
      stamp(call, out.result);
      return out;
    }
    // One request per thread, rebuilt look after look: its target and headers keep their buffers. A look made
    // while one is under way on the same thread (a transport waiting on a client of its own) builds its own.
    thread_local HttpRequest kept;
    thread_local bool kept_in_use = false;
    std::optional<HttpRequest> own;
    HttpRequest& request = kept_in_use ? own.emplace() : kept;
    const bool took_kept = !kept_in_use;
    kept_in_use = true;
    struct Release {
      bool took;
      HttpRequest& request;
      ~Release() {
        if (!took) return;
        request.stop = {};  // the call's stop state is not kept alive by the thread
        kept_in_use = false;
      }
    } release{took_kept, request};
    sender_.blank(request);
    protocol_.status_request(request, call.job_id, hold);
    OrFailure<HttpResponse> response = sender_.send_in_place(request, call, protocol_, hold);
    if (!response) {
      out.result = failed(std::move(response).failure());
      stamp(call, out.result);
      return out;
    }
    OrFailure<StatusAnswer> answer = protocol_.read_status(response.value());
    if (!answer) {
      out.result = failed(std::move(answer).failure());
      stamp(call, out.result);
      return out;
    }
    take_answer(out.result, std::move(answer).value());
    stamp(call, out.result);
    if (out.result.status == TranslationStatus::pending) out.retry_after = sender_.retry_after_of(response.value());
    return out;
  }

  /// One many-status look for `ids` (at most the protocol's limit), following its pages; the Failure when a
  /// request got no final answer. An answer the protocol cannot read is `unusable` (no such endpoint, say).
  OrFailure<ManyLook> look_many(std::span<const std::string* const> ids, CallState& call, Seconds hold) {
    ManyLook out;
    std::string page;
    // A server that keeps handing out pages is stopped after one page per id: it cannot keep a look forever.
    for (std::size_t pages = 0; pages < std::max<std::size_t>(ids.size(), 1); ++pages) {
      HttpRequest request = sender_.blank_request();
      protocol_.many_status_request(request, ids, page, hold);
      OrFailure<HttpResponse> response = sender_.send(std::move(request), call, protocol_, hold);
      if (!response) return std::move(response).failure();
      OrFailure<ManyStatusAnswer> answer = protocol_.read_many_status(response.value());
      if (!answer) {
        out.unusable = std::move(answer).failure();
        return out;
      }
      out.retry_after = sender_.retry_after_of(response.value());
      if (out.answers.empty())
        out.answers = std::move(answer->answers);
      else
        for (auto& entry : answer->answers) out.answers.push_back(std::move(entry));
      if (answer->next_page.empty() || answer->next_page == page) break;
      page = std::move(answer->next_page);
    }
    return out;
  }

  /// Digests a look's result for one job: the wait before its next look, or nothing when it is final. Logs
  /// the decision at debug level.
  std::optional<Seconds> digest(const CallState& call, JobPoller& poller, const Look& look, bool held) {
    const auto wait = poller.after_answer(rules_, look.result, look.retry_after, held, sender_.age(call));
    if (wait)
      sender_.log()(LogLevel::debug, [&] {
        return "job " + call.job_id + ": pending after look " + std::to_string(poller.looks()) + "; next look in " +
               std::to_string(detail::to_millis(*wait).count()) + " ms";
      });
    return wait;
  }

  /// A result stamped with the call's requests, last HTTP status and time taken; a failure is logged.
  TranslationResult finish(const CallState& call, TranslationResult result) const {
    stamp(call, result);
    return result;
  }

  /// finish() on a result in place.
  void stamp(const CallState& call, TranslationResult& result) const {
    result.requests = call.requests;
    result.http_status = call.last_http_status;
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(sender_.clock().now() - call.start);
    if (result.status != TranslationStatus::pending && result.status != TranslationStatus::completed)
      sender_.log()(result.cause == FailureCause::job_failed ? LogLevel::info : LogLevel::warn, [&] {
        return "job " + call.job_id + ": " + std::string(to_string(result.status)) + " (" +
               std::string(to_string(result.cause)) + "): " + result.error_message.value_or("");
      });
  }

  /// A result that says the call failed: timeout for a deadline, error for anything else.
  static TranslationResult failed(Failure failure) {
    TranslationResult result;
    result.status = failure.cause == FailureCause::deadline ? TranslationStatus::timeout : TranslationStatus::error;
    result.cause = failure.cause;
    result.error_message = std::move(failure.message);
    return result;
  }

  /// failed() from a cause and a message.
  static TranslationResult failed(FailureCause cause, std::string message) {
    return failed(Failure{cause, std::move(message)});
  }

  /// A protocol's answer as a result.
  static TranslationResult from_answer(StatusAnswer answer) {
    TranslationResult result;
    take_answer(result, std::move(answer));
    return result;
  }

  /// from_answer() into a result in place.
  static void take_answer(TranslationResult& result, StatusAnswer&& answer) {
    result.status = answer.status;
    result.cause = answer.cause;
    result.error_message = std::move(answer.error_message);
    result.progress = answer.progress;
    result.eta_seconds = answer.eta_seconds;
    result.outputs = std::move(answer.outputs);
  }

  /// The sender looks go through.
  [[nodiscard]] Sender<T, C>& sender() const noexcept { return sender_; }
  /// The polling rules.
  [[nodiscard]] const PollingRules& rules() const noexcept { return rules_; }
  /// The protocol.
  [[nodiscard]] const P& protocol() const noexcept { return protocol_; }

 private:
  Sender<T, C>& sender_;
  const P& protocol_;
  const PollingRules& rules_;
};

}  // namespace heygen
