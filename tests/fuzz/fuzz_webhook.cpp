// libFuzzer target: WebhookVerifier on arbitrary requests, with the built-in HMAC (OpenSSL). The input is a
// signature header value, a timestamp header value and a body, split at the first two newlines (fewer newlines:
// the whole input is the body). A push is accepted only with a signature that signs it and a timestamp within the
// tolerance; the same body signed properly is read (accepted or malformed, never anything else); a redelivery of a
// settled job is a duplicate; the memory of settled jobs never holds more than it may.
#define HEYGEN_VT_NO_HTTPLIB
#define HEYGEN_VT_WITH_OPENSSL 1
#include <heygen/video_translation.hpp>

#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using heygen::HttpHeader;
using heygen::WebhookVerdict;
using heygen::WebhookVerifier;

constexpr std::string_view secret = "fuzz-secret";
constexpr std::size_t remember = 4;
const std::chrono::system_clock::time_point now{std::chrono::seconds(1'700'000'000)};

/// The three parts of an input.
struct Request {
  std::string_view signature, timestamp, body;
};

Request split(std::string_view input) {
  const auto first = input.find('\n');
  if (first == std::string_view::npos) return {{}, {}, input};
  const auto second = input.find('\n', first + 1);
  if (second == std::string_view::npos) return {{}, {}, input};
  return {input.substr(0, first), input.substr(first + 1, second - first - 1), input.substr(second + 1)};
}

heygen::WebhookOptions options_for(bool timestamped) {
  heygen::WebhookOptions options;
  options.secret = std::string(secret);
  options.remember = remember;
  options.max_body_bytes = 4096;
  if (timestamped) {
    options.signed_string = "{timestamp}.{body}";
    options.timestamp_tolerance = std::chrono::minutes(5);
  }
  return options;
}

/// A verdict's invariants whatever the request: a push exactly when it was read, a reason exactly when refused.
void check_shape(const WebhookVerifier::Verified& verified) {
  const bool read = verified.verdict == WebhookVerdict::accepted || verified.verdict == WebhookVerdict::duplicate;
  FUZZ_REQUIRE(read == verified.push.has_value());
  FUZZ_REQUIRE((verified.verdict == WebhookVerdict::accepted) == verified.reason.empty());
  FUZZ_REQUIRE(verified.verdict != WebhookVerdict::unknown_job);  // only note_outcome says that
  if (verified.push) {
    FUZZ_REQUIRE(!verified.push->job_id.empty());
    FUZZ_REQUIRE(verified.push->answer.status != heygen::TranslationStatus::pending);
  }
}

/// The request as the fuzzer wrote it: accepted only when its signature really signs it, and its timestamp is
/// fresh when one is checked.
void check_as_sent(const WebhookVerifier& verifier, const Request& request, bool timestamped) {
  const std::vector<HttpHeader> headers = {{"X-HeyGen-Signature", std::string(request.signature)},
                                           {"X-HeyGen-Timestamp", std::string(request.timestamp)}};
  const auto verified = verifier.check(headers, request.body, now);
  check_shape(verified);
  if (verified.verdict != WebhookVerdict::accepted) return;
  const std::string text =
      timestamped ? std::string(request.timestamp) + "." + std::string(request.body) : std::string(request.body);
  FUZZ_REQUIRE(heygen::detail::signature_digest(request.signature) == heygen::detail::hmac_sha256(secret, text));
  if (timestamped) {
    const auto sent = heygen::detail::unix_seconds(request.timestamp);
    FUZZ_REQUIRE(sent && std::abs(1'700'000'000.0 - *sent) <= 300.0);
  }
}

/// The body signed properly: too large, malformed or accepted; once settled, a duplicate; a signature off by one
/// digit is refused.
void check_signed(WebhookVerifier& verifier, std::string_view body, bool timestamped) {
  const std::string timestamp = "1700000000";
  const std::string text = timestamped ? timestamp + "." + std::string(body) : std::string(body);
  std::vector<HttpHeader> headers = {{"X-HeyGen-Signature", heygen::webhook_signature(secret, text)},
                                     {"X-HeyGen-Timestamp", timestamp}};
  const auto verified = verifier.check(headers, body, now);
  check_shape(verified);
  if (body.size() > verifier.options().max_body_bytes) {
    FUZZ_REQUIRE(verified.verdict == WebhookVerdict::too_large);
    return;
  }
  FUZZ_REQUIRE(verified.verdict == WebhookVerdict::accepted || verified.verdict == WebhookVerdict::malformed);
  if (verified.verdict == WebhookVerdict::accepted) {
    FUZZ_REQUIRE(verifier.note_outcome(verified.push->job_id, true) == WebhookVerdict::accepted);
    FUZZ_REQUIRE(verifier.check(headers, body, now).verdict == WebhookVerdict::duplicate);
    FUZZ_REQUIRE(verifier.note_outcome(verified.push->job_id, false) == WebhookVerdict::duplicate);
  }
  std::string& signature = headers[0].value;
  signature[0] = signature[0] == '0' ? '1' : '0';
  FUZZ_REQUIRE(verifier.check(headers, body, now).verdict == WebhookVerdict::bad_signature);
  FUZZ_REQUIRE(verifier.remembered() <= remember);
}

/// A fresh verifier (an empty memory) of one protocol's pushes.
template <class Protocol>
WebhookVerifier verifier_for(bool timestamped) {
  heygen::ClientOptions client_options;
  client_options.base_url = "http://127.0.0.1:1";
  return {options_for(timestamped), Protocol(client_options)};
}

/// One protocol's pushes through verifiers with and without a signed timestamp.
template <class Protocol>
void check_protocol(std::string_view input, const Request& request) {
  for (const bool timestamped : {false, true}) {
    check_as_sent(verifier_for<Protocol>(timestamped), request, timestamped);
    auto whole = verifier_for<Protocol>(timestamped);
    check_signed(whole, input, timestamped);
    auto body = verifier_for<Protocol>(timestamped);
    check_signed(body, request.body, timestamped);
  }
}

}  // namespace

/// libFuzzer entry point: one request (signature, timestamp and body).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  fuzz::no_exception("webhook verifier", [&] {
    const Request request = split(input);
    check_protocol<heygen::TrackerProtocol>(input, request);
    check_protocol<heygen::HeyGenV3Protocol>(input, request);
  });
  return 0;
}
