// Webhooks: WebhookVerifier checks a pushed status (size, HMAC, freshness) and reads it.
#pragma once

#include "heygen/vt/clock.hpp"
#include "heygen/vt/config.hpp"
#include "heygen/vt/detail.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/protocol.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#ifdef HEYGEN_VT_WITH_OPENSSL
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

namespace heygen {

/// What a webhook entry point made of one request. http_status() gives the answer to send back.
enum class WebhookVerdict {
  accepted,       ///< Signed, fresh and readable: a final status for the client to complete a wait with.
  duplicate,      ///< Signed and readable, for a job already settled (a redelivery, or polling came first).
  bad_signature,  ///< No signature, a wrong one, or no means to check one: never accepted unchecked.
  unknown_job,    ///< Signed and readable, but no wait of this process was waiting for the job.
  malformed,      ///< Signed, but the body is not a final status the protocol reads.
  too_large,      ///< The body is over WebhookOptions::max_body_bytes; nothing else was looked at.
  stale,          ///< The timestamp is missing, unreadable or outside WebhookOptions::timestamp_tolerance.
  confirming,     ///< Unsigned, with the callback_id the job's create sent: a hint; one look at the job confirms it.
  bad_callback,   ///< Unsigned, and its callback_id is not the one the job's create sent (or the job is not ours).
};

/// The snake_case name of a verdict, e.g. "bad_signature".
constexpr std::string_view to_string(WebhookVerdict verdict) noexcept {
  switch (verdict) {
    case WebhookVerdict::accepted: return "accepted";
    case WebhookVerdict::duplicate: return "duplicate";
    case WebhookVerdict::bad_signature: return "bad_signature";
    case WebhookVerdict::unknown_job: return "unknown_job";
    case WebhookVerdict::malformed: return "malformed";
    case WebhookVerdict::too_large: return "too_large";
    case WebhookVerdict::stale: return "stale";
    case WebhookVerdict::confirming: return "confirming";
    case WebhookVerdict::bad_callback: return "bad_callback";
  }
  return "unknown";
}

/// The HTTP status to answer a push with. A sender retries any non-2xx answer (and may disable an endpoint that
/// keeps failing), so every push that was genuine and read gets 200: a duplicate (retrying it changes nothing) and
/// an unknown job too (usually one this process stopped waiting for: timed out, cancelled, or before a restart;
/// redelivering it cannot help, and a 404 would count against the endpoint the other jobs need). What cannot be
/// trusted gets 401 (bad_signature, stale, bad_callback); what cannot be read 400 (malformed) or 413 (too_large). A
/// hint taken for a look gets 202: accepted for processing, its outcome not yet known.
constexpr int http_status(WebhookVerdict verdict) noexcept {
  switch (verdict) {
    case WebhookVerdict::accepted:
    case WebhookVerdict::duplicate:
    case WebhookVerdict::unknown_job: return 200;
    case WebhookVerdict::confirming: return 202;
    case WebhookVerdict::bad_signature:
    case WebhookVerdict::bad_callback:
    case WebhookVerdict::stale: return 401;
    case WebhookVerdict::malformed: return 400;
    case WebhookVerdict::too_large: return 413;
  }
  return 500;
}

namespace detail {

/// Whether two byte strings are equal, in time that depends on their lengths only (never on where they differ),
/// so a forger cannot learn a signature a byte at a time from how fast a wrong one is refused.
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    difference =
        static_cast<unsigned char>(difference | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  return difference == 0;
}

/// The value of a hex digit (either case), or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// A SHA-256 digest's bytes from a signature header value: 64 hex digits, after an optional `sha256=` and around
/// blanks; nothing for anything else.
inline std::optional<std::string> signature_digest(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.size() > 7 && iequals(value.substr(0, 7), "sha256=")) value.remove_prefix(7);
  if (value.size() != 64) return std::nullopt;
  std::string digest(32, '\0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int high = hex_value(value[2 * i]);
    const int low = hex_value(value[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = static_cast<char>((high << 4) | low);
  }
  return digest;
}

/// The first header named `name` (case-insensitive), if present.
inline std::optional<std::string_view> header_value(const std::vector<HttpHeader>& headers, std::string_view name) {
  for (const auto& header : headers)
    if (iequals(header.name, name)) return std::string_view(header.value);
  return std::nullopt;
}

/// Unix seconds from a timestamp header: 1 to 12 decimal digits around blanks; nothing for anything else.
inline std::optional<double> unix_seconds(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 12) return std::nullopt;
  double seconds = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return seconds;
}

/// The signed string: `format` with each `{body}` and `{timestamp}` replaced by the body and the timestamp.
inline std::string expand_signed_string(std::string_view format, std::string_view body, std::string_view timestamp) {
  static constexpr std::string_view body_field = "{body}";
  static constexpr std::string_view timestamp_field = "{timestamp}";
  std::string out;
  out.reserve(format.size() + body.size() + timestamp.size());
  for (std::size_t i = 0; i < format.size();) {
    if (format.substr(i, body_field.size()) == body_field) {
      out += body;
      i += body_field.size();
    } else if (format.substr(i, timestamp_field.size()) == timestamp_field) {
      out += timestamp;
      i += timestamp_field.size();
    } else {
      out += format[i++];
    }
  }
  return out;
}

}  // namespace detail

#ifdef HEYGEN_VT_WITH_OPENSSL
namespace detail {

/// The HMAC-SHA256 of `text` with `key`, 32 bytes, through OpenSSL's one-shot HMAC(); nothing if libcrypto fails
/// (a FIPS provider refusing a short key, say), which a caller must treat as "not verified".
inline std::optional<std::string> hmac_sha256(std::string_view key, std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (key.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return std::nullopt;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
           text.size(), digest.data(), &length) == nullptr ||
      length != 32)
    return std::nullopt;
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

}  // namespace detail

/// The signature of `signed_string` with `secret`: its HMAC-SHA256 in lowercase hex, as a sender puts it in the
/// signature header (for tests and for servers that push). Only with OpenSSL (HEYGEN_VT_WITH_OPENSSL); throws
/// std::runtime_error if libcrypto fails.
inline std::string webhook_signature(std::string_view secret, std::string_view signed_string) {
  const auto digest = detail::hmac_sha256(secret, signed_string);
  if (!digest) throw std::runtime_error("heygen: HMAC-SHA256 failed in libcrypto");
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * digest->size());
  for (const char c : *digest) {
    const auto byte = static_cast<unsigned char>(c);
    text += hex[byte >> 4];
    text += hex[byte & 0x0F];
  }
  return text;
}
#endif

/// What a webhook entry point answers: the verdict, the HTTP status to send back, and why a push was refused.
struct WebhookReply {
  WebhookVerdict verdict = WebhookVerdict::malformed;  ///< What was made of the request.
  int http_status = 400;                               ///< The status to answer the sender with.
  std::string reason{};                                ///< Why it was not accepted, for logs; empty if it was.
};

/// Checks push notifications (webhooks) and reads them, for any HTTP server: give it the request's headers and raw
/// body, answer with http_status(verdict). In order: the size, the signature, the timestamp, the body (through the
/// protocol's read_push), then whether the job was already settled. It never accepts a push it could not check.
/// Thread-safe: one verifier serves every request of a server at once.
///
/// Completing the wait is the client's: after an `accepted` check it hands the push to the wait for that job, then
/// calls note_outcome() with whether a wait took it, which remembers the job and gives the final verdict:
///
///     auto checked = verifier.check(headers, body, std::chrono::system_clock::now());
///     if (checked.verdict == WebhookVerdict::accepted)
///       checked.verdict = verifier.note_outcome(checked.push->job_id, poller.settle(*checked.push));
///     reply(http_status(checked.verdict));
///
/// A job settled by polling should be noted too (note_settled), so a late push for it is a duplicate rather than
/// an unknown job. The memory is bounded (`remember` ids, the oldest forgotten first).
class WebhookVerifier {
 public:
  /// Reads a push body into a final status (a protocol's read_push).
  using PushReader = std::function<OrFailure<PushedStatus>(std::string_view body)>;

  /// What a check found: the verdict, the push when it was read, and why it was refused.
  struct Verified {
    WebhookVerdict verdict = WebhookVerdict::malformed;  ///< What to make of the request.
    std::optional<PushedStatus> push{};                  ///< The push read (accepted or duplicate), else empty.
    std::string reason{};                                ///< Why it was not accepted, for logs; empty if it was.
  };

  /// A verifier reading bodies with `reader`. Throws std::invalid_argument for options that could not check a
  /// push: no secret and no verify function, an empty header name, a signed string without `{body}`, a negative
  /// tolerance, a zero size cap, or no reader.
  WebhookVerifier(WebhookOptions options, PushReader reader)
      : options_(checked(std::move(options))), reader_(std::move(reader)) {
    if (!reader_) throw std::invalid_argument("heygen: a webhook verifier needs a push reader");
  }

  /// A verifier reading bodies with `protocol`'s read_push (the client's protocol, or one made for this).
  template <PushProtocol P>
  WebhookVerifier(WebhookOptions options, P protocol)
      : WebhookVerifier(std::move(options),
                        [protocol = std::move(protocol)](std::string_view body) { return protocol.read_push(body); }) {}

  WebhookVerifier(const WebhookVerifier&) = delete;             ///< Not copied: its memory is one server's.
  WebhookVerifier& operator=(const WebhookVerifier&) = delete;  ///< Not copied: its memory is one server's.

  /// Checks one request, as received at `now`: the size, the signature, the timestamp, then reads the body. A
  /// push for a job noted as settled is a duplicate; `accepted` means only that it is genuine and new: the client
  /// decides with note_outcome() whether a wait took it.
  [[nodiscard]] Verified check(const std::vector<HttpHeader>& headers, std::string_view body,
                               std::chrono::system_clock::time_point now) const {
    if (body.size() > options_.max_body_bytes)
      return refused(WebhookVerdict::too_large, "body of " + std::to_string(body.size()) + " bytes, over the cap of " +
                                                    std::to_string(options_.max_body_bytes));
    if (auto problem = signature_problem(headers, body)) return refused(WebhookVerdict::bad_signature, *problem);
    if (auto problem = staleness(headers, now)) return refused(WebhookVerdict::stale, *problem);
    auto push = reader_(body);
    if (!push) return refused(WebhookVerdict::malformed, push.failure().message);
    Verified verified;
    verified.verdict = seen(push->job_id) ? WebhookVerdict::duplicate : WebhookVerdict::accepted;
    if (verified.verdict == WebhookVerdict::duplicate) verified.reason = "the job was already settled";
    verified.push = std::move(push).value();
    return verified;
  }

  /// check() as received now, on the system clock.
  [[nodiscard]] Verified check(const std::vector<HttpHeader>& headers, std::string_view body) const {
    return check(headers, body, std::chrono::system_clock::now());
  }

  /// After the client offered an accepted push to the waits: `settled` says whether a wait took it. Remembers a
  /// settled job and returns the verdict to answer with: accepted; duplicate when another push or a poll settled
  /// the job first; unknown_job when no wait was waiting for it.
  WebhookVerdict note_outcome(std::string_view job_id, bool settled) {
    if (settled) {
      note_settled(job_id);
      return WebhookVerdict::accepted;
    }
    return seen(job_id) ? WebhookVerdict::duplicate : WebhookVerdict::unknown_job;
  }

  /// Remembers that `job_id` has its final result (by a push or by polling): later pushes for it are duplicates.
  /// The oldest id is forgotten once `remember` ids are held.
  void note_settled(std::string_view job_id) {
    std::lock_guard lock(mutex_);
    if (options_.remember == 0 || ids_.contains(job_id)) return;
    if (order_.size() >= options_.remember) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
    order_.emplace_back(job_id);
    ids_.insert(order_.back());  // a deque never moves its elements on push_back or pop_front: the view stays valid
  }

  /// Whether `job_id` is among the settled ids remembered.
  [[nodiscard]] bool seen(std::string_view job_id) const {
    std::lock_guard lock(mutex_);
    return ids_.contains(job_id);
  }

  /// How many settled ids are remembered now (at most `remember`).
  [[nodiscard]] std::size_t remembered() const {
    std::lock_guard lock(mutex_);
    return order_.size();
  }

  /// Whether this verifier can check a signature at all: a verify function, or the built-in HMAC (OpenSSL).
  /// When false, every push is refused as bad_signature.
  [[nodiscard]] bool can_verify() const noexcept {
#ifdef HEYGEN_VT_WITH_OPENSSL
    return true;
#else
    return static_cast<bool>(options_.verify);
#endif
  }

  /// The options in force.
  [[nodiscard]] const WebhookOptions& options() const noexcept { return options_; }

 private:
  static WebhookOptions checked(WebhookOptions options) {
    auto refuse = [](const char* why) { throw std::invalid_argument(std::string("heygen: webhook options: ") + why); };
    if (options.secret.empty() && !options.verify) refuse("a secret (or a verify function) is required");
    if (options.signature_header.empty()) refuse("signature_header is empty");
    if (options.signed_string.find("{body}") == std::string::npos) refuse("signed_string must contain {body}");
    const bool needs_timestamp =
        options.signed_string.find("{timestamp}") != std::string::npos || options.timestamp_tolerance > Seconds(0);
    if (needs_timestamp && options.timestamp_header.empty()) refuse("timestamp_header is empty");
    if (!(options.timestamp_tolerance >= Seconds(0))) refuse("timestamp_tolerance must be 0 or more");
    if (options.max_body_bytes == 0) refuse("max_body_bytes must be more than 0");
    return options;
  }

  static Verified refused(WebhookVerdict verdict, std::string reason) {
    Verified verified;
    verified.verdict = verdict;
    verified.reason = std::move(reason);
    return verified;
  }

  /// Why the signature does not hold, or nothing when it does.
  [[nodiscard]] std::optional<std::string> signature_problem(const std::vector<HttpHeader>& headers,
                                                             std::string_view body) const {
    const auto signature = detail::header_value(headers, options_.signature_header);
    if (!signature) return "no " + options_.signature_header + " header";
    const auto timestamp = detail::header_value(headers, options_.timestamp_header);
    if (!timestamp && options_.signed_string.find("{timestamp}") != std::string::npos)
      return "no " + options_.timestamp_header + " header, which the signed string includes";
    const std::string text = detail::expand_signed_string(options_.signed_string, body, timestamp.value_or(""));
    if (options_.verify) {
      if (options_.verify(text, *signature)) return std::nullopt;
      return "the verify function refused the signature";
    }
    return hmac_problem(text, *signature);
  }

  /// Why `signature` is not the HMAC of `text`, or nothing when it is.
  [[nodiscard]] std::optional<std::string> hmac_problem(const std::string& text, std::string_view signature) const {
#ifdef HEYGEN_VT_WITH_OPENSSL
    const auto sent = detail::signature_digest(signature);
    if (!sent) return "the signature is not 64 hex digits (" + detail::excerpt(signature) + ")";
    const auto expected = detail::hmac_sha256(options_.secret, text);
    if (!expected) return std::string("libcrypto could not compute the HMAC-SHA256");
    if (detail::constant_time_equal(*sent, *expected)) return std::nullopt;
    return std::string("the signature does not match");
#else
    (void)text;
    (void)signature;
    return std::string(
        "this build cannot check an HMAC (no OpenSSL: define HEYGEN_VT_WITH_OPENSSL and link libcrypto, or set "
        "WebhookOptions::verify); every push is refused");
#endif
  }

  /// Why the timestamp is not fresh, or nothing when it is (or when freshness is not checked).
  [[nodiscard]] std::optional<std::string> staleness(const std::vector<HttpHeader>& headers,
                                                     std::chrono::system_clock::time_point now) const {
    if (!(options_.timestamp_tolerance > Seconds(0))) return std::nullopt;
    const auto value = detail::header_value(headers, options_.timestamp_header);
    if (!value) return "no " + options_.timestamp_header + " header";
    const auto sent = detail::unix_seconds(*value);
    if (!sent) return "unreadable " + options_.timestamp_header + " (" + detail::excerpt(*value) + ")";
    const double age = std::chrono::duration<double>(now.time_since_epoch()).count() - *sent;
    if (std::abs(age) <= options_.timestamp_tolerance.count()) return std::nullopt;
    const std::string when = age > 0 ? " s old" : " s ahead";  // old: a replay or a late redelivery; ahead: a clock off
    return "timestamp " + std::to_string(std::llabs(static_cast<long long>(age))) + when + ", past the tolerance of " +
           std::to_string(static_cast<long long>(options_.timestamp_tolerance.count())) + " s";
  }

  WebhookOptions options_;
  PushReader reader_;
  mutable std::mutex mutex_;
  std::deque<std::string> order_;             // settled ids, oldest first
  std::unordered_set<std::string_view> ids_;  // views of order_'s strings, for lookups
};

}  // namespace heygen
