// Unit tests of unsigned pushes (HeyGen's per-job callback_url deliveries): the callback book, and the client taking
// a push as a hint matched by its callback_id and confirmed by one look. Fake transport and fake clock; the client's
// one worker is held in its first timer sleep by a gate while a test pushes (it waits on events, never on time).
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

namespace {

using V3Client = BasicVideoTranslationClient<FakeTransport, FakeClock, HeyGenV3Protocol>;

constexpr std::string_view secret = "whsec-hints-test";

/// A HeyGen v3 client on fakes asking for pushes (safety looks every 30 s), one worker.
ClientOptions hint_options() {
  ClientOptions options = heygen_v3_options("key-1", "http://127.0.0.1:5000");
  options.random = [] { return 0.5; };
  options.polling.long_poll = Seconds(0);
  options.polling.learn = false;
  options.polling.coalesce = Seconds(0);
  options.profile = std::make_shared<ServerProfile>();
  options.profile->set_batch(Support::no);
  options.max_timeout = Seconds(1e5);
  options.poller_threads = 1;
  options.webhook_url = "https://hooks.example.com/push";  // never reached: the tests push
  options.webhook.secret = std::string(secret);
  return options;
}

/// A v3 job answer for `t1` with `status` (and `extra` members).
HttpResponse job_answer(const std::string& status, const std::string& extra = "") {
  return answer(200, R"({"data": {"id": "t1", "status": ")" + status + "\"" + extra + "}}");
}

/// HeyGen's push for `job_id` saying it succeeded, echoing `callback_id` (none when empty).
std::string success_push(const std::string& job_id, const std::string& callback_id) {
  const std::string echoed = callback_id.empty() ? "null" : "\"" + callback_id + "\"";
  return R"({"event_type": "video_translate.success", "event_data": {"video_translate_id": ")" + job_id +
         R"(", "url": "https://forged.example/v.mp4", "callback_id": )" + echoed + "}}";
}

/// The client, a created job `t1` with the callback_id its create sent, and the virtual time of each status look.
struct HintClient {
  FakeTransport transport;
  FakeClock clock;
  std::mutex mutex;  // this and the gates are used by the client's worker: declared before the client, they outlive it
  std::vector<std::chrono::milliseconds> looked_at;
  Gate sleeping;
  Gate released;
  V3Client client;
  std::string callback_id;

  /// Each status look answers the next of `answers` (the last again once they run out).
  HintClient(ClientOptions options, const std::vector<HttpResponse>& answers)
      : client(std::move(options), transport, clock) {
    transport.then(answer(200, R"({"data": {"video_translation_ids": ["t1"]}})"));
    transport.otherwise([this, answers](const HttpRequest&) {
      std::lock_guard lock(mutex);
      looked_at.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()));
      return answers[std::min(looked_at.size(), answers.size()) - 1];
    });
    client.create_translation_jobs(TranslationRequest::from_url("https://cdn.example/talk.mp4", {"German"}));
    const HttpRequest create = transport.requests().at(0);
    for (const auto& header : create.headers)
      if (header.name == "Idempotency-Key") callback_id = header.value;
    clock.on_sleep([this] {
      sleeping.open();
      released.wait();
    });
  }

  /// Watches t1 and waits until the worker sleeps towards its first safety look.
  std::future<TranslationResult> watch() {
    auto result = client.watch("t1");
    sleeping.wait();
    return result;
  }

  WebhookReply push_unsigned(const std::string& body) {
    return client.handle_webhook({{"Content-Type", "application/json"}}, body);
  }

  std::vector<std::chrono::milliseconds> looks() {
    std::lock_guard lock(mutex);
    return looked_at;
  }
};

}  // namespace

TEST_CASE("callback book: matches the create's id in full, refuses another or none, knows finished jobs") {
  CallbackBook book(10, 10);
  book.expect("t1", "cb-123");
  CHECK(book.match("t1", "cb-123") == CallbackMatch::matches);
  CHECK(book.match("t1", "cb-12") == CallbackMatch::differs);
  CHECK(book.match("t1", "") == CallbackMatch::differs);
  CHECK(book.match("t2", "cb-123") == CallbackMatch::unknown);
  book.finish("t1");
  CHECK(book.match("t1", "cb-123") == CallbackMatch::finished);
  CHECK(book.open() == 0u);
}

TEST_CASE("callback book: bounded both ways, the oldest forgotten first; a create that sent none is not noted") {
  CallbackBook book(2, 1);
  book.expect("a", "1");
  book.expect("b", "2");
  book.expect("c", "3");
  CHECK(book.match("a", "1") == CallbackMatch::unknown);
  CHECK(book.match("c", "3") == CallbackMatch::matches);
  book.expect("d", "");
  CHECK(book.match("d", "") == CallbackMatch::unknown);
  book.finish("b");
  book.finish("c");
  CHECK(book.match("b", "2") == CallbackMatch::unknown);  // past the bound of finished jobs
  CHECK(book.match("c", "3") == CallbackMatch::finished);
  for (int i = 0; i < 100; ++i) {  // finished ids left in the order are swept: the bound holds
    const std::string id = std::to_string(i);
    book.expect(id, "cb");
    book.finish(id);
  }
  CHECK(book.open() == 0u);
}

TEST_CASE(
    "hints: an unsigned push with the create's callback_id is confirmed by one look, whose answer ends the wait") {
  HintClient h(hint_options(), {job_answer("completed", R"(, "video_url": "https://s3.example/t1.mp4")")});
  auto result = h.watch();
  const WebhookReply reply = h.push_unsigned(success_push("t1", h.callback_id));
  CHECK(reply.verdict == WebhookVerdict::confirming);
  CHECK(reply.http_status == 202);
  h.released.open();
  const TranslationResult got = result.get();
  CHECK(got.ok());
  CHECK(got.outputs.video_url == "https://s3.example/t1.mp4");  // the look's, never the push's body
  CHECK(got.requests == 1);
  CHECK(h.looks() == std::vector<std::chrono::milliseconds>{0ms});
  CHECK(h.client.poller_stats().hint_looks == 1u);
  // A late redelivery of the same push is a duplicate: answered 200, nothing looked at.
  CHECK(h.push_unsigned(success_push("t1", h.callback_id)).verdict == WebhookVerdict::duplicate);
}

TEST_CASE("hints: a push with the right callback_id and a false outcome ends nothing: the look says running") {
  HintClient h(hint_options(), {job_answer("running"), job_answer("completed")});
  auto result = h.watch();
  CHECK(h.push_unsigned(success_push("t1", h.callback_id)).verdict == WebhookVerdict::confirming);
  h.released.open();
  CHECK(result.get().ok());
  CHECK(h.looks() == std::vector<std::chrono::milliseconds>{0ms, 30000ms});  // the wait went on to its safety look
}

TEST_CASE("hints: a wrong, missing or unknown callback_id is refused 401 and looks at nothing") {
  HintClient h(hint_options(), {job_answer("completed")});
  auto result = h.watch();
  for (const std::string& body :
       {success_push("t1", "cb-forged"), success_push("t1", ""), success_push("t-other", h.callback_id)}) {
    const WebhookReply reply = h.push_unsigned(body);
    CHECK(reply.verdict == WebhookVerdict::bad_callback);
    CHECK(reply.http_status == 401);
  }
  h.released.open();
  CHECK(result.get().ok());
  CHECK(h.looks() == std::vector<std::chrono::milliseconds>{30000ms});  // the safety look alone
}

TEST_CASE("hints: a body that cannot be read, or too large, is refused before any callback check") {
  ClientOptions options = hint_options();
  options.webhook.max_body_bytes = 300;
  HintClient h(options, {job_answer("completed")});
  CHECK(h.push_unsigned("{not json").verdict == WebhookVerdict::malformed);
  CHECK(h.push_unsigned(std::string(301, ' ')).verdict == WebhookVerdict::too_large);
}

TEST_CASE(
    "hints: by trust, a signed push settles at once, a wrongly signed one is refused, an unsigned one is refused "
    "when only signatures are trusted") {
  SUBCASE("either (HeyGen's default): a wrong signature is refused, never taken as a hint") {
    HintClient h(hint_options(), {job_answer("completed")});
    CHECK(h.client.push_trust() == PushTrust::either);
    const std::string body = success_push("t1", h.callback_id);
    const WebhookReply reply = h.client.handle_webhook({{"X-HeyGen-Signature", std::string(64, 'a')}}, body);
    CHECK(reply.verdict == WebhookVerdict::bad_signature);
    CHECK(h.client.handle_webhook({{"X-HeyGen-Signature", webhook_signature(secret, body)}}, body).verdict ==
          WebhookVerdict::unknown_job);  // genuine, and kept: no wait has begun
  }
  SUBCASE("signature: an unsigned push is refused") {
    ClientOptions options = hint_options();
    options.webhook.trust = PushTrust::signature;
    HintClient h(options, {job_answer("completed")});
    CHECK(h.push_unsigned(success_push("t1", h.callback_id)).verdict == WebhookVerdict::bad_signature);
  }
  SUBCASE("confirm, with no secret: even a push with a signature header is only a hint") {
    ClientOptions options = hint_options();
    options.webhook.trust = PushTrust::confirm;
    options.webhook.secret.clear();
    HintClient h(options, {job_answer("completed")});
    auto result = h.watch();
    const std::string body = success_push("t1", h.callback_id);
    CHECK(h.client.handle_webhook({{"X-HeyGen-Signature", "anything"}}, body).verdict == WebhookVerdict::confirming);
    h.released.open();
    CHECK(result.get().ok());
    CHECK(h.looks() == std::vector<std::chrono::milliseconds>{0ms});
  }
}

TEST_CASE("hints: the exercise's protocol trusts signatures alone by default") {
  FakeTransport transport;
  FakeClock clock;
  ClientOptions options = test_options();
  options.webhook.secret = "s";
  FakeClient client(options, transport, clock);
  CHECK(client.push_trust() == PushTrust::signature);
}
