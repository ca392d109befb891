// Unit tests of the webhook part: WebhookVerifier (size cap, HMAC signature, timestamp, reading, duplicates) and the
// protocols' read_push and create callback fields. Expected HMACs come from RFC 4231 and from OpenSSL directly.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <picojson.h>

#ifndef HEYGEN_VT_WITH_OPENSSL
#error "the unit tests are built with cpp-httplib's OpenSSL flags, which must turn on HEYGEN_VT_WITH_OPENSSL"
#endif

using namespace heygen;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view secret = "whsec-test-secret";

/// A time all the timestamp tests are measured from: 2026-07-01T00:00:00Z.
constexpr long long test_epoch = 1782864000;
const std::chrono::system_clock::time_point test_now{std::chrono::seconds(test_epoch)};

/// HMAC-SHA256 in lowercase hex computed by OpenSSL here, independently of the header's code.
std::string openssl_hmac_hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  REQUIRE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &length) != nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 0x0F];
  }
  return text;
}

ClientOptions protocol_options() {
  ClientOptions options;
  options.base_url = "http://127.0.0.1:5000";
  return options;
}

/// A verifier of pushes in the tracker's form, with `options` (the test secret unless they say otherwise).
WebhookVerifier tracker_verifier(WebhookOptions options = {.secret = std::string(secret)}) {
  return {std::move(options), TrackerProtocol(protocol_options())};
}

/// A tracker push: the job's final status and its id.
std::string tracker_push(const std::string& job_id, const std::string& result, const std::string& extra = "") {
  return R"({"job_id": ")" + job_id + R"(", "result": ")" + result + "\"" + extra + "}";
}

/// The signature header for `body`, signed with `key`.
std::vector<HttpHeader> signed_with(std::string_view key, std::string_view body,
                                    const std::string& header = "X-HeyGen-Signature") {
  return {{header, openssl_hmac_hex(key, body)}};
}

const std::string completed_push = tracker_push("job-1", "completed", R"(, "callback_id": "cb-1")");

}  // namespace

TEST_SUITE("webhook") {

// =============================================================================================
// HMAC and signatures.
// =============================================================================================

TEST_CASE("webhook: webhook_signature is HMAC-SHA256 in lowercase hex (RFC 4231 test case 2, and OpenSSL itself)") {
  CHECK(webhook_signature("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(openssl_hmac_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(webhook_signature(secret, completed_push) == openssl_hmac_hex(secret, completed_push));
  CHECK(webhook_signature(secret, "") == openssl_hmac_hex(secret, ""));
}

TEST_CASE("webhook: a push signed with the secret is accepted and read") {
  const auto verifier = tracker_verifier();
  const auto checked = verifier.check(signed_with(secret, completed_push), completed_push, test_now);
  CHECK(checked.verdict == WebhookVerdict::accepted);
  CHECK(checked.reason.empty());
  REQUIRE(checked.push);
  CHECK(checked.push->job_id == "job-1");
  CHECK(checked.push->callback_id == "cb-1");
  CHECK(checked.push->answer.status == TranslationStatus::completed);
  CHECK(verifier.can_verify());
}

TEST_CASE("webhook: RFC 4231 test case 2 as a push: key Jefe, the known digest in the header") {
  const std::string body = "what do ya want for nothing?";
  const WebhookVerifier verifier({.secret = "Jefe"}, [](std::string_view) -> OrFailure<PushedStatus> {
    return PushedStatus{.job_id = "rfc4231", .answer = {.status = TranslationStatus::completed}};
  });
  const auto checked = verifier.check(
      {{"X-HeyGen-Signature", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"}}, body, test_now);
  CHECK(checked.verdict == WebhookVerdict::accepted);
  const auto wrong = verifier.check(
      {{"X-HeyGen-Signature", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3844"}}, body, test_now);
  CHECK(wrong.verdict == WebhookVerdict::bad_signature);
}

TEST_CASE("webhook: a wrong, missing or unreadable signature is bad_signature, and the body is not read") {
  const auto verifier = tracker_verifier();
  SUBCASE("wrong digest") {
    std::string signature = openssl_hmac_hex(secret, completed_push);
    signature[10] = signature[10] == 'a' ? 'b' : 'a';
    const auto checked = verifier.check({{"X-HeyGen-Signature", signature}}, completed_push, test_now);
    CHECK(checked.verdict == WebhookVerdict::bad_signature);
    CHECK(checked.reason == "the signature does not match");
    CHECK(!checked.push);
  }
  SUBCASE("no signature header") {
    const auto checked = verifier.check({{"Content-Type", "application/json"}}, completed_push, test_now);
    CHECK(checked.verdict == WebhookVerdict::bad_signature);
    CHECK(checked.reason == "no X-HeyGen-Signature header");
  }
  SUBCASE("signed with another secret") {
    const auto checked = verifier.check(signed_with("another-secret", completed_push), completed_push, test_now);
    CHECK(checked.verdict == WebhookVerdict::bad_signature);
  }
  SUBCASE("the body altered by one byte after signing") {
    std::string altered = completed_push;
    altered[altered.find("completed")] = 'C';
    const auto checked = verifier.check(signed_with(secret, completed_push), altered, test_now);
    CHECK(checked.verdict == WebhookVerdict::bad_signature);
  }
  SUBCASE("one byte more or less") {
    CHECK(verifier.check(signed_with(secret, completed_push), completed_push + " ", test_now).verdict ==
          WebhookVerdict::bad_signature);
    const std::string shorter = completed_push.substr(0, completed_push.size() - 1);
    CHECK(verifier.check(signed_with(secret, completed_push), shorter, test_now).verdict ==
          WebhookVerdict::bad_signature);
  }
  SUBCASE("not 64 hex digits") {
    const std::string good = openssl_hmac_hex(secret, completed_push);
    for (const std::string& bad : {std::string(), good.substr(0, 63), good + "0", good.substr(0, 63) + "g",
                                   std::string("sha256="), "sha1=" + good, std::string(64, 'z')}) {
      const auto checked = verifier.check({{"X-HeyGen-Signature", bad}}, completed_push, test_now);
      CHECK_MESSAGE(checked.verdict == WebhookVerdict::bad_signature, bad);
    }
  }
  SUBCASE("garbage that is not even JSON is refused for its signature, not read") {
    const auto checked = verifier.check({{"X-HeyGen-Signature", "00"}}, "not json", test_now);
    CHECK(checked.verdict == WebhookVerdict::bad_signature);
  }
}

TEST_CASE("webhook: the signature may carry sha256=, upper-case hex and blanks; the header name is any case") {
  const auto verifier = tracker_verifier();
  const std::string hex = openssl_hmac_hex(secret, completed_push);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 'a' + 'A' : c);
  for (const std::string& value : {"sha256=" + hex, "SHA256=" + hex, upper, " " + hex + "\t"}) {
    const auto checked = verifier.check({{"X-HeyGen-Signature", value}}, completed_push, test_now);
    CHECK_MESSAGE(checked.verdict == WebhookVerdict::accepted, value);
  }
  CHECK(verifier.check(signed_with(secret, completed_push, "x-heygen-signature"), completed_push, test_now).verdict ==
        WebhookVerdict::accepted);
  CHECK(verifier.check(signed_with(secret, completed_push, "Signature"), completed_push, test_now).verdict ==
        WebhookVerdict::bad_signature);
}

TEST_CASE("webhook: signature_header names the header (HeyGen's exact name is uncertain)") {
  const auto verifier = tracker_verifier({.secret = std::string(secret), .signature_header = "Signature"});
  CHECK(verifier.check(signed_with(secret, completed_push, "signature"), completed_push, test_now).verdict ==
        WebhookVerdict::accepted);
  CHECK(verifier.check(signed_with(secret, completed_push), completed_push, test_now).verdict ==
        WebhookVerdict::bad_signature);
}

TEST_CASE("webhook: constant_time_equal is plain equality of bytes") {
  using detail::constant_time_equal;
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "xbc"));
  CHECK_FALSE(constant_time_equal("abc", "ab"));
  CHECK_FALSE(constant_time_equal("", "a"));
  const std::string zeros(32, '\0');
  std::string high = zeros;
  high[31] = static_cast<char>(0x80);
  CHECK(constant_time_equal(zeros, std::string(32, '\0')));
  CHECK_FALSE(constant_time_equal(zeros, high));
  CHECK(constant_time_equal(high, high));
  for (std::size_t i = 0; i < 32; ++i) {
    std::string one = zeros;
    one[i] = '\x01';
    CHECK_FALSE(constant_time_equal(zeros, one));
  }
}

// =============================================================================================
// Timestamps and the signed string.
// =============================================================================================

TEST_CASE("webhook: timestamp_tolerance: fresh either way is accepted; stale, missing or unreadable is stale") {
  const auto verifier = tracker_verifier({.secret = std::string(secret), .timestamp_tolerance = 5min});
  auto headers_at = [&](const std::string& timestamp) {
    auto headers = signed_with(secret, completed_push);
    headers.push_back({"X-HeyGen-Timestamp", timestamp});
    return headers;
  };
  const auto now = std::to_string(test_epoch);
  CHECK(verifier.check(headers_at(now), completed_push, test_now).verdict == WebhookVerdict::accepted);
  CHECK(verifier.check(headers_at(std::to_string(test_epoch - 300)), completed_push, test_now).verdict ==
        WebhookVerdict::accepted);
  CHECK(verifier.check(headers_at(std::to_string(test_epoch + 300)), completed_push, test_now).verdict ==
        WebhookVerdict::accepted);
  const auto old = verifier.check(headers_at(std::to_string(test_epoch - 301)), completed_push, test_now);
  CHECK(old.verdict == WebhookVerdict::stale);
  CHECK(old.reason == "timestamp 301 s old, past the tolerance of 300 s");
  CHECK(verifier.check(headers_at(std::to_string(test_epoch + 3600)), completed_push, test_now).verdict ==
        WebhookVerdict::stale);
  const auto missing = verifier.check(signed_with(secret, completed_push), completed_push, test_now);
  CHECK(missing.verdict == WebhookVerdict::stale);
  CHECK(missing.reason == "no X-HeyGen-Timestamp header");
  for (const char* bad : {"", "-5", "12.5", "1e9", "abc", "9999999999999", "2026-07-01T00:00:00Z"})
    CHECK_MESSAGE(verifier.check(headers_at(bad), completed_push, test_now).verdict == WebhookVerdict::stale, bad);
}

TEST_CASE("webhook: without a tolerance no timestamp is looked at") {
  const auto verifier = tracker_verifier();
  auto headers = signed_with(secret, completed_push);
  headers.push_back({"X-HeyGen-Timestamp", "1"});
  CHECK(verifier.check(headers, completed_push, test_now).verdict == WebhookVerdict::accepted);
}

TEST_CASE("webhook: signed_string {timestamp}.{body}: the timestamp is signed too") {
  const auto verifier = tracker_verifier(
      {.secret = std::string(secret), .signed_string = "{timestamp}.{body}", .timestamp_tolerance = 5min});
  const std::string timestamp = std::to_string(test_epoch - 10);
  const std::string signed_text = timestamp + "." + completed_push;
  std::vector<HttpHeader> headers = {{"X-HeyGen-Signature", openssl_hmac_hex(secret, signed_text)},
                                     {"X-HeyGen-Timestamp", timestamp}};
  CHECK(verifier.check(headers, completed_push, test_now).verdict == WebhookVerdict::accepted);
  SUBCASE("the body alone signed") {
    headers[0].value = openssl_hmac_hex(secret, completed_push);
    CHECK(verifier.check(headers, completed_push, test_now).verdict == WebhookVerdict::bad_signature);
  }
  SUBCASE("another timestamp than the one signed") {
    headers[1].value = std::to_string(test_epoch - 11);
    CHECK(verifier.check(headers, completed_push, test_now).verdict == WebhookVerdict::bad_signature);
  }
  SUBCASE("no timestamp header: the signed string cannot be made") {
    headers.pop_back();
    const auto checked = verifier.check(headers, completed_push, test_now);
    CHECK(checked.verdict == WebhookVerdict::bad_signature);
    CHECK(checked.reason == "no X-HeyGen-Timestamp header, which the signed string includes");
  }
  SUBCASE("a genuine signature on a replay past the tolerance") {
    CHECK(verifier.check(headers, completed_push, test_now + 1h).verdict == WebhookVerdict::stale);
  }
}

TEST_CASE("webhook: expand_signed_string replaces every {body} and {timestamp} and nothing else") {
  CHECK(detail::expand_signed_string("{body}", "B", "T") == "B");
  CHECK(detail::expand_signed_string("{timestamp}.{body}", "B", "T") == "T.B");
  CHECK(detail::expand_signed_string("v0:{timestamp}:{body}:{body}", "B", "T") == "v0:T:B:B");
  CHECK(detail::expand_signed_string("{bo{body}dy}{", "{body}", "") == "{bo{body}dy}{");
}

// =============================================================================================
// Size, reading, duplicates.
// =============================================================================================

TEST_CASE("webhook: a body over max_body_bytes is too_large before anything else; one at the cap is read") {
  const auto verifier = tracker_verifier({.secret = std::string(secret), .max_body_bytes = 64});
  std::string body = tracker_push("j", "completed");
  body.append(64 - body.size(), ' ');
  CHECK(verifier.check(signed_with(secret, body), body, test_now).verdict == WebhookVerdict::accepted);
  body += ' ';
  const auto checked = verifier.check(signed_with(secret, body), body, test_now);
  CHECK(checked.verdict == WebhookVerdict::too_large);
  CHECK(checked.reason == "body of 65 bytes, over the cap of 64");
  CHECK(verifier.check({}, body, test_now).verdict == WebhookVerdict::too_large);
  CHECK(tracker_verifier().options().max_body_bytes == 64 * 1024);
}

TEST_CASE("webhook: a signed body the protocol cannot read is malformed, with the reader's reason") {
  const auto verifier = tracker_verifier();
  auto check = [&](const std::string& body) { return verifier.check(signed_with(secret, body), body, test_now); };
  const auto not_json = check(R"({"job_id": "j1", "result": )");
  CHECK(not_json.verdict == WebhookVerdict::malformed);
  CHECK(not_json.reason.find("malformed JSON") != std::string::npos);
  CHECK(!not_json.push);
  CHECK(check("").verdict == WebhookVerdict::malformed);
  CHECK(check("[]").verdict == WebhookVerdict::malformed);
  CHECK(check(std::string(200, '[') + std::string(200, ']')).verdict == WebhookVerdict::malformed);
  const auto pending = check(tracker_push("j1", "pending"));
  CHECK(pending.verdict == WebhookVerdict::malformed);
  CHECK(pending.reason == "a pushed status must be final, not \"pending\"");
  CHECK(check(R"({"result": "completed"})").verdict == WebhookVerdict::malformed);
}

TEST_CASE("webhook: an unknown HeyGen event type is malformed") {
  const WebhookVerifier verifier({.secret = std::string(secret)}, HeyGenV3Protocol(protocol_options()));
  const std::string body = R"({"event_type": "avatar_video.success", "event_data": {"video_id": "v1"}})";
  const auto checked = verifier.check(signed_with(secret, body), body, test_now);
  CHECK(checked.verdict == WebhookVerdict::malformed);
  CHECK(checked.reason == "unknown event type \"avatar_video.success\"");
}

TEST_CASE("webhook: duplicates: a push for a settled job; note_outcome gives the verdict to answer with") {
  auto verifier = tracker_verifier();
  const auto first = verifier.check(signed_with(secret, completed_push), completed_push, test_now);
  REQUIRE(first.verdict == WebhookVerdict::accepted);
  CHECK_FALSE(verifier.seen("job-1"));
  CHECK(verifier.note_outcome(first.push->job_id, true) == WebhookVerdict::accepted);
  CHECK(verifier.seen("job-1"));
  const auto again = verifier.check(signed_with(secret, completed_push), completed_push, test_now);
  CHECK(again.verdict == WebhookVerdict::duplicate);
  REQUIRE(again.push);
  CHECK(again.push->job_id == "job-1");
  CHECK(verifier.note_outcome("job-1", false) == WebhookVerdict::duplicate);  // a second push raced the first
  CHECK(verifier.note_outcome("job-2", false) == WebhookVerdict::unknown_job);
  CHECK_FALSE(verifier.seen("job-2"));  // an unknown job is not remembered
  verifier.note_settled("job-3");       // settled by polling: a late push is a duplicate
  const std::string late = tracker_push("job-3", "error", R"(, "error_message": "boom")");
  CHECK(verifier.check(signed_with(secret, late), late, test_now).verdict == WebhookVerdict::duplicate);
}

TEST_CASE("webhook: the settled-id memory holds at most `remember` ids and forgets the oldest first") {
  auto verifier = tracker_verifier({.secret = std::string(secret), .remember = 3});
  for (const char* id : {"a", "b", "c"}) verifier.note_settled(id);
  CHECK(verifier.remembered() == 3);
  verifier.note_settled("b");  // already there: nothing moves
  CHECK(verifier.remembered() == 3);
  verifier.note_settled("d");
  CHECK(verifier.remembered() == 3);
  CHECK_FALSE(verifier.seen("a"));
  CHECK(verifier.seen("b"));
  CHECK(verifier.seen("c"));
  CHECK(verifier.seen("d"));
  for (int i = 0; i < 1000; ++i) verifier.note_settled("job-" + std::to_string(i));
  CHECK(verifier.remembered() == 3);
  CHECK(verifier.seen("job-999"));
  CHECK(verifier.seen("job-997"));
  CHECK_FALSE(verifier.seen("job-996"));
  CHECK_FALSE(verifier.seen("d"));

  auto forgetful = tracker_verifier({.secret = std::string(secret), .remember = 0});
  forgetful.note_settled("a");
  CHECK(forgetful.remembered() == 0);
  CHECK(forgetful.note_outcome("a", false) == WebhookVerdict::unknown_job);
  CHECK(tracker_verifier().options().remember == 100000);
}

TEST_CASE("webhook: ids longer than the small-string buffer survive the memory's growth") {
  auto verifier = tracker_verifier({.secret = std::string(secret), .remember = 5000});
  const std::string prefix(64, 'x');
  for (int i = 0; i < 6000; ++i) verifier.note_settled(prefix + std::to_string(i));
  CHECK(verifier.remembered() == 5000);
  CHECK(verifier.seen(prefix + "5999"));
  CHECK(verifier.seen(prefix + "1000"));
  CHECK_FALSE(verifier.seen(prefix + "999"));
}

TEST_CASE("webhook: checks and notes from many threads at once") {
  auto verifier = tracker_verifier({.secret = std::string(secret), .remember = 100});
  const auto headers = signed_with(secret, completed_push);
  std::atomic<int> accepted_or_duplicate{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        // Appended: g++ 12 at -O3 warns (-Wrestrict, a false positive) on "t" + std::to_string(t) + ...
        verifier.note_settled(std::string("t").append(std::to_string(t)).append("-").append(std::to_string(i)));
        const auto checked = verifier.check(headers, completed_push, test_now);
        if (checked.verdict == WebhookVerdict::accepted || checked.verdict == WebhookVerdict::duplicate)
          ++accepted_or_duplicate;
      }
    });
  for (auto& thread : threads) thread.join();
  CHECK(accepted_or_duplicate.load() == 800);
  CHECK(verifier.remembered() == 100);
}

// =============================================================================================
// Options.
// =============================================================================================

TEST_CASE("webhook: a verify function of the caller's is used instead of the HMAC, with the signed string") {
  std::vector<std::pair<std::string, std::string>> calls;
  std::mutex mutex;
  auto verify = [&](std::string_view text, std::string_view signature) {
    const std::lock_guard lock(mutex);
    calls.emplace_back(text, signature);
    return signature == "let-me-in";
  };
  const auto verifier = tracker_verifier({.signed_string = "{timestamp}:{body}", .verify = verify});
  CHECK(verifier.can_verify());
  const auto accepted =
      verifier.check({{"X-HeyGen-Signature", "let-me-in"}, {"X-HeyGen-Timestamp", "42"}}, completed_push, test_now);
  CHECK(accepted.verdict == WebhookVerdict::accepted);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].first == "42:" + completed_push);
  CHECK(calls[0].second == "let-me-in");
  const std::string hmac = openssl_hmac_hex(secret, "42:" + completed_push);
  const auto refused = verifier.check({{"X-HeyGen-Signature", hmac}, {"X-HeyGen-Timestamp", "42"}}, completed_push,
                                      test_now);  // the built-in HMAC is not consulted
  CHECK(refused.verdict == WebhookVerdict::bad_signature);
  CHECK(refused.reason == "the verify function refused the signature");
  CHECK(verifier.check({{"X-HeyGen-Timestamp", "42"}}, completed_push, test_now).verdict ==
        WebhookVerdict::bad_signature);
  CHECK(calls.size() == 2);  // no header: the function is not called
}

TEST_CASE("webhook: options that could not check a push are refused with std::invalid_argument") {
  auto make = [](WebhookOptions options) { return tracker_verifier(std::move(options)); };
  CHECK_THROWS_AS(make({}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(make({.secret = ""}), "heygen: webhook options: a secret (or a verify function) is required",
                       std::invalid_argument);
  CHECK_THROWS_AS(make({.secret = "s", .signature_header = ""}), std::invalid_argument);
  CHECK_THROWS_AS(make({.secret = "s", .signed_string = "{timestamp}"}), std::invalid_argument);
  CHECK_THROWS_AS(make({.secret = "s", .signed_string = "{timestamp}.{body}", .timestamp_header = ""}),
                  std::invalid_argument);
  CHECK_THROWS_AS(make({.secret = "s", .timestamp_header = "", .timestamp_tolerance = 1s}), std::invalid_argument);
  CHECK_THROWS_AS(make({.secret = "s", .timestamp_tolerance = -1s}), std::invalid_argument);
  CHECK_THROWS_AS(make({.secret = "s", .timestamp_tolerance = Seconds(std::nan(""))}), std::invalid_argument);
  CHECK_THROWS_AS(make({.secret = "s", .max_body_bytes = 0}), std::invalid_argument);
  CHECK_THROWS_AS(WebhookVerifier({.secret = "s"}, WebhookVerifier::PushReader{}), std::invalid_argument);
  CHECK_NOTHROW(make({.secret = "s", .timestamp_header = ""}));  // not needed: no timestamp is signed or checked
  CHECK_NOTHROW(make({.verify = [](std::string_view, std::string_view) { return false; }}));
}

TEST_CASE("webhook: verdicts: names and the HTTP status to answer with") {
  CHECK(to_string(WebhookVerdict::accepted) == "accepted");
  CHECK(to_string(WebhookVerdict::duplicate) == "duplicate");
  CHECK(to_string(WebhookVerdict::bad_signature) == "bad_signature");
  CHECK(to_string(WebhookVerdict::unknown_job) == "unknown_job");
  CHECK(to_string(WebhookVerdict::malformed) == "malformed");
  CHECK(to_string(WebhookVerdict::too_large) == "too_large");
  CHECK(to_string(WebhookVerdict::stale) == "stale");
  static_assert(http_status(WebhookVerdict::accepted) == 200);
  CHECK(http_status(WebhookVerdict::duplicate) == 200);
  CHECK(http_status(WebhookVerdict::unknown_job) == 200);
  CHECK(http_status(WebhookVerdict::bad_signature) == 401);
  CHECK(http_status(WebhookVerdict::stale) == 401);
  CHECK(http_status(WebhookVerdict::malformed) == 400);
  CHECK(http_status(WebhookVerdict::too_large) == 413);
}

// =============================================================================================
// The protocols: read_push and the create request's callback fields.
// =============================================================================================

TEST_CASE("webhook: TrackerProtocol::read_push reads the final status answer and its id") {
  const TrackerProtocol protocol(protocol_options());
  static_assert(PushProtocol<TrackerProtocol> && PushProtocol<HeyGenV3Protocol>);
  SUBCASE("completed, with the callback id and hints") {
    const auto push =
        protocol.read_push(R"({"job_id": "j1", "result": "completed", "callback_id": "cb", "progress": 1.0})");
    REQUIRE(push);
    CHECK(push->job_id == "j1");
    CHECK(push->callback_id == "cb");
    CHECK(push->event_type.empty());
    CHECK(push->answer.status == TranslationStatus::completed);
    CHECK(push->answer.cause == FailureCause::none);
    CHECK(push->answer.progress == 1.0);
  }
  SUBCASE("error with the server's message; no callback id") {
    const auto push = protocol.read_push(R"({"job_id": "j2", "result": "error", "error_message": "bad codec"})");
    REQUIRE(push);
    CHECK(push->callback_id.empty());
    CHECK(push->answer.status == TranslationStatus::error);
    CHECK(push->answer.cause == FailureCause::job_failed);
    CHECK(push->answer.error_message == "bad codec");
  }
  SUBCASE("a result word the protocol does not define is a definite failure, as in a look") {
    const auto push = protocol.read_push(R"({"job_id": "j3", "result": "exploded"})");
    REQUIRE(push);
    CHECK(push->answer.cause == FailureCause::unexpected_result);
  }
  SUBCASE("a numeric id is its decimal text, as in a create answer") {
    const auto push = protocol.read_push(R"({"job_id": 42, "result": "completed"})");
    REQUIRE(push);
    CHECK(push->job_id == "42");
  }
  SUBCASE("pending, no id, an empty id, no result, not an object: bad_response") {
    for (const std::string& body :
         {tracker_push("j", "pending"), std::string(R"({"result": "completed"})"), tracker_push("", "completed"),
          std::string(R"({"job_id": "j"})"), std::string(R"({"job_id": "j", "result": 1})"), std::string("[1]"),
          std::string(R"({"job_id": ["j"], "result": "completed"})")}) {
      const auto push = protocol.read_push(body);
      CHECK_MESSAGE(!push, body);
      if (!push) CHECK(push.failure().cause == FailureCause::bad_response);
    }
  }
}

TEST_CASE("webhook: HeyGenV3Protocol::read_push reads success, fail and preflight events") {
  const HeyGenV3Protocol protocol(protocol_options());
  SUBCASE("video_translate.success: completed, the video at url, the language and the callback id") {
    const auto push = protocol.read_push(
        R"json({"event_type": "video_translate.success", "event_data": {"video_translate_id": "vt-1",)json"
        R"json( "url": "https://files.example/vt-1.mp4", "callback_id": "cb-7",)json"
        R"json( "output_language": "French (France)"}})json");
    REQUIRE(push);
    CHECK(push->job_id == "vt-1");
    CHECK(push->callback_id == "cb-7");
    CHECK(push->event_type == "video_translate.success");
    CHECK(push->answer.status == TranslationStatus::completed);
    CHECK(push->answer.cause == FailureCause::none);
    CHECK(push->answer.outputs.video_url == "https://files.example/vt-1.mp4");
    CHECK(push->answer.outputs.output_language == "French (France)");
  }
  SUBCASE("video_translate.fail: job_failed with the message") {
    const auto push =
        protocol.read_push(R"({"event_type": "video_translate.fail", "event_data": {"video_translate_id": "vt-2",)"
                           R"( "message": "no speech found", "callback_id": "cb-8"}})");
    REQUIRE(push);
    CHECK(push->job_id == "vt-2");
    CHECK(push->callback_id == "cb-8");
    CHECK(push->answer.status == TranslationStatus::error);
    CHECK(push->answer.cause == FailureCause::job_failed);
    CHECK(push->answer.error_message == "no speech found");
    CHECK(push->answer.outputs.empty());
  }
  SUBCASE("the preflight failures are failed jobs too; without a message the event names why") {
    for (const char* event :
         {"video_translate.preflight.validation_failed", "video_translate.preflight.download_failed"}) {
      const auto push = protocol.read_push(R"({"event_type": ")" + std::string(event) +
                                           R"(", "event_data": {"video_translate_id": "vt-3"}})");
      REQUIRE(push);
      CHECK(push->answer.status == TranslationStatus::error);
      CHECK(push->answer.cause == FailureCause::job_failed);
      CHECK(push->answer.error_message == event);
      CHECK(push->callback_id.empty());
    }
  }
  SUBCASE("unknown event, no event type, no event_data, no id: bad_response") {
    for (const char* body : {
             R"({"event_type": "video_translate.started", "event_data": {"video_translate_id": "v"}})",
             R"({"event_data": {"video_translate_id": "v"}})",
             R"({"event_type": "video_translate.success"})",
             R"({"event_type": "video_translate.success", "event_data": "v"})",
             R"({"event_type": "video_translate.success", "event_data": {"url": "u"}})",
             R"({"event_type": "video_translate.success", "event_data": {"video_translate_id": ""}})",
             R"({"event_type": "video_translate.success", "event_data": {"video_translate_id": 7}})",
             "{}",
             "null",
         }) {
      const auto push = protocol.read_push(body);
      CHECK_MESSAGE(!push, body);
      if (!push) CHECK(push.failure().cause == FailureCause::bad_response);
    }
  }
}

TEST_CASE("webhook: a HeyGen push through the verifier, signed as HeyGen signs (the raw body)") {
  const WebhookVerifier verifier({.secret = std::string(secret)}, HeyGenV3Protocol(protocol_options()));
  const std::string body =
      R"({"event_type":"video_translate.fail","event_data":{"video_translate_id":"vt-9","message":"why","callback_id":"c"}})";
  const auto checked = verifier.check(signed_with(secret, body), body, test_now);
  REQUIRE(checked.verdict == WebhookVerdict::accepted);
  CHECK(checked.push->job_id == "vt-9");
  CHECK(checked.push->answer.error_message == "why");
}

TEST_CASE("webhook: TrackerProtocol's create body carries callback_url and callback_id when set, {} otherwise") {
  const TrackerProtocol protocol(protocol_options());
  HttpRequest plain;
  protocol.create_request(plain, {}, "key");
  CHECK(plain.body == "{}");
  HttpRequest both;
  protocol.create_request(both, {.callback_url = "https://me.example/hook?a=1", .callback_id = "batch \"7\""}, "key");
  picojson::value body;
  REQUIRE(picojson::parse(body, both.body).empty());
  CHECK(body.get("callback_url").get<std::string>() == "https://me.example/hook?a=1");
  CHECK(body.get("callback_id").get<std::string>() == "batch \"7\"");
  CHECK(body.get<picojson::object>().size() == 2);
  HttpRequest url_only;
  protocol.create_request(url_only, {.callback_url = "https://me.example/hook"}, "key");
  REQUIRE(picojson::parse(body, url_only.body).empty());
  CHECK(body.get<picojson::object>().size() == 1);
  CHECK(body.contains("callback_url"));
}

TEST_CASE("webhook: HeyGenV3Protocol's create body carries callback_url and callback_id") {
  const HeyGenV3Protocol protocol(protocol_options());
  auto request = TranslationRequest::from_url("https://example.com/in.mp4", {"German"});
  request.callback_url = "https://me.example/hook";
  request.callback_id = "cb-1";
  HttpRequest out;
  protocol.create_request(out, request, "key");
  picojson::value body;
  REQUIRE(picojson::parse(body, out.body).empty());
  CHECK(body.get("callback_url").get<std::string>() == "https://me.example/hook");
  CHECK(body.get("callback_id").get<std::string>() == "cb-1");
}

}  // TEST_SUITE("webhook")
