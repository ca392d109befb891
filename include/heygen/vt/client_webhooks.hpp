// Client webhooks: pushes taken as the client's trust says; creates that ask for pushes.
#pragma once

#include "heygen/vt/callbacks.hpp"
#include "heygen/vt/client_core.hpp"
#include "heygen/vt/detail.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/protocol.hpp"
#include "heygen/vt/webhook.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// Takes pushes for one client's core: a signed push is verified and settles its job's waits at once; an unsigned
/// one is a hint, taken only with the callback_id its job's create sent, and one look at the job confirms it.
/// A view over the core: cheap to make for each push.
template <Transport T, Clock C, Protocol P>
class PushIntake {
 public:
  /// Takes pushes for `core`, which must outlive it.
  explicit PushIntake(ClientCore<T, C, P>& core) noexcept : core_(core) {}

  /// Which pushes are taken: the options' `webhook.trust`, else the protocol's default, else signature.
  [[nodiscard]] PushTrust trust() const noexcept {
    if (core_.options.webhook.trust) return *core_.options.webhook.trust;
    if constexpr (requires { P::default_push_trust; })
      return P::default_push_trust;
    else
      return PushTrust::signature;
  }

  /// One push (headers and raw body) taken by trust(); refusals are logged at info.
  WebhookReply take(const std::vector<HttpHeader>& headers, std::string_view body) {
    const PushTrust how = trust();
    const bool signed_push = detail::header_value(headers, core_.options.webhook.signature_header).has_value();
    WebhookReply out = how == PushTrust::signature || (how == PushTrust::either && signed_push)
                           ? take_signed(headers, body)
                           : take_hint(body);
    if (out.verdict != WebhookVerdict::accepted && out.verdict != WebhookVerdict::confirming)
      core_.sender.log()(LogLevel::info, [&] {
        return "push " + std::string(to_string(out.verdict)) + (out.reason.empty() ? "" : ": " + out.reason);
      });
    return out;
  }

 private:
  /// A signed push: verified, read, and settling its job's waits at once.
  WebhookReply take_signed(const std::vector<HttpHeader>& headers, std::string_view body) {
    if (!core_.verifier) return reply(WebhookVerdict::bad_signature, "no webhook secret or verify function is set");
    auto checked = core_.verifier->check(headers, body);
    if (checked.verdict == WebhookVerdict::accepted) {
      PushedStatus& push = *checked.push;
      const bool settled = core_.poller.settle(push.job_id, StatusLooks<T, C, P>::from_answer(std::move(push.answer)));
      checked.verdict = core_.verifier->note_outcome(push.job_id, settled);
      if (settled) core_.callbacks.finish(push.job_id);
      if (checked.verdict == WebhookVerdict::unknown_job)  // it may have beaten the create's answer to the caller
        checked.reason = "no wait for this job now: kept for one that begins later";
    }
    return reply(checked.verdict, std::move(checked.reason));
  }

  /// An unsigned push: a hint, taken only with the callback_id its job's create sent; one look confirms it.
  WebhookReply take_hint(std::string_view body) {
    if constexpr (PushProtocol<P>) {
      const std::size_t cap = core_.options.webhook.max_body_bytes;
      if (body.size() > cap)
        return reply(WebhookVerdict::too_large,
                     "body of " + std::to_string(body.size()) + " bytes, over the cap of " + std::to_string(cap));
      OrFailure<PushedStatus> push = core_.protocol.read_push(body);
      if (!push) return reply(WebhookVerdict::malformed, push.failure().message);
      switch (core_.callbacks.match(push->job_id, push->callback_id)) {
        case CallbackMatch::finished: return reply(WebhookVerdict::duplicate, "the job was already settled");
        case CallbackMatch::unknown:
          return reply(WebhookVerdict::bad_callback, "no create of this client is waiting for this job's push");
        case CallbackMatch::differs:
          return reply(WebhookVerdict::bad_callback, "the callback_id is not the one the job's create sent");
        case CallbackMatch::matches: break;
      }
      const HintOutcome outcome = core_.poller.hint(push->job_id);
      return reply(WebhookVerdict::confirming,
                   outcome == HintOutcome::coalesced ? "a look at the job is under way" : "");
    } else {
      (void)body;
      return reply(WebhookVerdict::bad_signature, "this protocol reads no pushes");
    }
  }

  /// A webhook reply for `verdict`.
  static WebhookReply reply(WebhookVerdict verdict, std::string reason) {
    return {verdict, http_status(verdict), std::move(reason)};
  }

  ClientCore<T, C, P>& core_;
};

/// `input` asking for a push to `webhook_url` (with `callback_id` for matching, unless it names its own), unless
/// `webhook_url` is empty, the input names a callback of its own, or the protocol's inputs have none.
template <class Input>
Input with_callback(const Input& input, const std::string& webhook_url, const std::string& callback_id) {
  Input out = input;
  if constexpr (requires {
                  out.callback_url = std::string();
                  out.callback_id = std::string();
                }) {
    const auto is_set = [](const auto& field) {
      if constexpr (requires { field.has_value(); })
        return field.has_value();
      else
        return !field.empty();
    };
    if (!webhook_url.empty() && !is_set(out.callback_url)) {
      out.callback_url = webhook_url;
      if (!is_set(out.callback_id)) out.callback_id = callback_id;  // the caller's own id is echoed back as given
    }
  }
  return out;
}

/// The callback_id `input` sends (echoed by its pushes), or empty when it sends none.
template <class Input>
std::string callback_id_of(const Input& input) {
  if constexpr (requires { std::string(input.callback_id.value_or("")); })
    return input.callback_id.value_or("");
  else if constexpr (requires { std::string(input.callback_id); })
    return input.callback_id;
  else
    return {};
}

}  // namespace heygen
