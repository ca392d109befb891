// Unit tests of the client's core and its push intake: the options' checks, the parts built from the options, the
// deadline of a wait, and creates asking for pushes. Fake transport and fake clock, no threads (no wait is started,
// so the poller starts no worker).
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

namespace {

using TrackerCore = ClientCore<FakeTransport, FakeClock, TrackerProtocol>;
using V3Core = ClientCore<FakeTransport, FakeClock, HeyGenV3Protocol>;

/// A transport maker handing over a fresh fake.
FakeTransport fresh(const ClientOptions&) { return {}; }

/// The message checked_options() throws for `options`, or empty when it takes them.
std::string refusal(const ClientOptions& options) {
  try {
    checked_options(options);
    return {};
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

}  // namespace

TEST_SUITE("client core") {
TEST_CASE("client core: checked_options names the first field it refuses") {
  CHECK(refusal(test_options()).empty());
  ClientOptions options = test_options();
  options.max_retries = -1;
  CHECK(refusal(options) == "heygen: max_retries must not be negative");
  options = test_options();
  options.polling.jitter = 2;
  CHECK(refusal(options) == "heygen: polling.jitter must be in [0, 1]");
  options = test_options();
  options.webhook.safety_age_ratio = std::numeric_limits<double>::quiet_NaN();
  CHECK(refusal(options) == "heygen: webhook.safety_age_ratio must be in [0, 1]");
  options = test_options();
  options.extra_headers.push_back({"X-Bad", "one\r\nInjected: yes"});
  CHECK(refusal(options) == "heygen: extra_headers must have a name and hold no line breaks");
  options = test_options();
  options.base_url = "not a url";
  CHECK_THROWS_AS(checked_options(options), std::invalid_argument);
}

TEST_CASE("client core: a verifier only with a secret, safety polling only with a webhook_url") {
  TrackerCore plain(checked_options(test_options()), fresh, FakeClock(), std::nullopt);
  CHECK(plain.verifier == nullptr);
  CHECK(plain.profile != nullptr);
  ClientOptions options = test_options();
  options.webhook.secret = "s3cret";
  TrackerCore verifying(checked_options(options), fresh, FakeClock(), std::nullopt);
  CHECK(verifying.verifier != nullptr);
  CHECK_FALSE(TrackerCore::safety_of(options).has_value());
  options.webhook_url = "https://hooks.example.com/push";
  options.webhook.safety_interval = Seconds(12);
  const auto safety = TrackerCore::safety_of(options);
  REQUIRE(safety.has_value());
  CHECK(safety->interval == Seconds(12));
}

TEST_CASE("client core: a wait's deadline is its timeout, else max_timeout, from the clock's now") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(90);
  FakeClock clock;
  clock.advance(5000ms);
  TrackerCore core(checked_options(options), fresh, clock, std::nullopt);
  CHECK(core.deadline_of(Seconds(0)) == TimePoint{} + 95s);
  CHECK(core.deadline_of(Seconds(2)) == TimePoint{} + 7s);
  CHECK_THROWS_AS(core.deadline_of(Seconds(-1)), std::invalid_argument);
  CHECK_THROWS_AS(core.deadline_of(Seconds(std::numeric_limits<double>::infinity())), std::invalid_argument);
}

TEST_CASE("push intake: the trust is the options', else the protocol's default") {
  TrackerCore tracker(checked_options(test_options()), fresh, FakeClock(), std::nullopt);
  CHECK(PushIntake(tracker).trust() == PushTrust::signature);
  ClientOptions options = heygen_v3_options("key-1", "http://127.0.0.1:5000");
  V3Core v3(checked_options(options), fresh, FakeClock(), std::nullopt);
  CHECK(PushIntake(v3).trust() == PushTrust::either);
  options.webhook.trust = PushTrust::confirm;
  V3Core confirming(checked_options(options), fresh, FakeClock(), std::nullopt);
  CHECK(PushIntake(confirming).trust() == PushTrust::confirm);
}

TEST_CASE("push intake: without a secret a signed push is refused, and an unmatched hint is too") {
  TrackerCore tracker(checked_options(test_options()), fresh, FakeClock(), std::nullopt);
  const std::string body = R"({"job_id": "j1", "result": "completed"})";
  const WebhookReply unsigned_push = PushIntake(tracker).take({}, body);
  CHECK(unsigned_push.verdict == WebhookVerdict::bad_signature);
  CHECK(unsigned_push.http_status == 401);
  ClientOptions options = heygen_v3_options("key-1", "http://127.0.0.1:5000");
  V3Core v3(checked_options(options), fresh, FakeClock(), std::nullopt);
  const std::string push = R"({"event_type": "video_translate.success", "event_data": {"video_translate_id": "t1",)"
                           R"( "url": "https://v.example/v.mp4", "callback_id": "cb"}})";
  const WebhookReply hint = PushIntake(v3).take({}, push);
  CHECK(hint.verdict == WebhookVerdict::bad_callback);  // no create of this client sent that callback_id
  CHECK(PushIntake(v3).take({}, "{").verdict == WebhookVerdict::malformed);
  CHECK(PushIntake(v3).take({}, std::string(options.webhook.max_body_bytes + 1, ' ')).verdict ==
        WebhookVerdict::too_large);
}

TEST_CASE("with_callback: the webhook_url and callback_id go in unless the input names its own") {
  TrackerProtocol::create_input empty;
  const auto asked = with_callback(empty, "https://h.example/p", "key-1");
  CHECK(asked.callback_url == "https://h.example/p");
  CHECK(asked.callback_id == "key-1");
  CHECK(callback_id_of(asked) == "key-1");
  CHECK_FALSE(with_callback(empty, "", "key-1").callback_url.has_value());  // no webhook_url: no push asked for
  TrackerProtocol::create_input own;
  own.callback_id = "mine";
  const auto kept = with_callback(own, "https://h.example/p", "key-1");
  CHECK(kept.callback_id == "mine");  // the caller's own id is echoed back as given
  own.callback_url = "https://elsewhere.example/";
  CHECK(with_callback(own, "https://h.example/p", "key-1").callback_url == "https://elsewhere.example/");
  CHECK(callback_id_of(TrackerProtocol::create_input{}).empty());
}
}  // TEST_SUITE("client core")
