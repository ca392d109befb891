// Unit tests of HeyGen's webhook endpoints through the client: the exact requests, the answers read, failures
// thrown as TranslationError, and secrets never logged. Fake transport and fake clock.
#include "fakes.hpp"

#include <doctest/doctest.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <picojson.h>

using namespace heygen;
using namespace heygen::testing;

namespace {

using V3Client = BasicVideoTranslationClient<FakeTransport, FakeClock, HeyGenV3Protocol>;

static_assert(WebhookEndpointsProtocol<HeyGenV3Protocol>);
static_assert(!WebhookEndpointsProtocol<TrackerProtocol>);

/// A v3 client on the fakes, with a log sink that keeps every line.
struct Harness {
  FakeTransport transport;
  FakeClock clock;
  std::mutex mutex;
  std::vector<std::string> lines;
  V3Client client;
  Harness() : client(options(), transport, clock) {}

  ClientOptions options() {
    ClientOptions out = heygen_v3_options("key-1", "http://127.0.0.1:5000/api");
    out.random = [] { return 0.5; };
    out.log_level = LogLevel::trace;
    out.log_sink = [this](LogLevel, std::string_view line) {
      std::lock_guard lock(mutex);
      lines.emplace_back(line);
    };
    return out;
  }
  /// The request sent `i`th.
  HttpRequest sent(std::size_t i) const { return transport.requests().at(i); }
  /// A header of the `i`th request, or "" when absent.
  std::string header(std::size_t i, const std::string& name) const {
    for (const auto& h : sent(i).headers)
      if (h.name == name) return h.value;
    return "";
  }
};

/// An endpoint as HeyGen answers it, `extra` (comma-led JSON members) appended.
std::string endpoint_json(const std::string& id, const std::string& events, const std::string& extra = "") {
  return R"({"endpoint_id": ")" + id + R"(", "url": "https://example.com/hook", "status": "enabled", "events": )" +
         events + R"(, "created_at": "2026-07-01T12:00:00Z")" + extra + "}";
}

/// The JSON body of a request, parsed.
picojson::object body_of(const HttpRequest& request) {
  picojson::value doc;
  REQUIRE(picojson::parse(doc, request.body).empty());
  REQUIRE(doc.is<picojson::object>());
  return doc.get<picojson::object>();
}

}  // namespace

TEST_SUITE("webhook endpoints") {

TEST_CASE("create: POST {url, events}; the answer's secret is returned") {
  Harness h;
  h.transport.then(answer(503, ""))
      .then(answer(
          200,
          R"({"data": )" + endpoint_json("ep_1", R"(["video_translate.success"])", R"(, "secret": "whsec_s1")") + "}"));
  const WebhookEndpoint made =
      h.client.create_webhook_endpoint("https://example.com/hook", {"video_translate.success"});
  CHECK(made.endpoint_id == "ep_1");
  CHECK(made.url == "https://example.com/hook");
  CHECK(made.status == "enabled");
  CHECK(made.events == std::vector<std::string>{"video_translate.success"});
  CHECK(made.created_at == "2026-07-01T12:00:00Z");
  CHECK(made.secret == "whsec_s1");
  REQUIRE(h.transport.requests().size() == 2);
  CHECK(h.sent(0).method == "POST");
  CHECK(h.sent(0).target == "/api/v3/webhooks/endpoints");
  const auto body = body_of(h.sent(0));  // picojson writes "/" as "\/": compared as JSON, not as bytes
  CHECK(body.size() == 2);
  CHECK(body.at("url").get<std::string>() == "https://example.com/hook");
  CHECK(body.at("events").serialize() == R"(["video_translate.success"])");
  CHECK(h.header(0, "Content-Type") == "application/json");
  CHECK(h.header(0, "Idempotency-Key").size() == 32);
  CHECK(h.header(1, "Idempotency-Key") == h.header(0, "Idempotency-Key"));  // one key for the retry
  for (const auto& line : h.lines) CHECK(line.find("whsec_s1") == std::string::npos);
}

TEST_CASE("create: no events sends null (all events); an endpoint answered with null events has none listed") {
  Harness h;
  h.transport.then(answer(200, R"({"data": )" + endpoint_json("ep_2", "null", R"(, "secret": "s")") + "}"));
  const auto made = h.client.create_webhook_endpoint("https://example.com/hook");
  CHECK(body_of(h.sent(0)).at("events").is<picojson::null>());
  CHECK(made.events.empty());
}

TEST_CASE("list: every page followed with limit and token; no secrets") {
  Harness h;
  h.transport.then(answer(200, R"({"data": [)" + endpoint_json("ep_1", "null") + "," + endpoint_json("ep_2", "null") +
                                   R"(], "has_more": true, "next_token": "t&2"})"));
  h.transport.then(answer(200, R"({"data": [)" + endpoint_json("ep_3", R"(["video_translate.fail"])") +
                                   R"(], "has_more": false, "next_token": null})"));
  const auto all = h.client.list_webhook_endpoints();
  REQUIRE(all.size() == 3);
  CHECK(all[0].endpoint_id == "ep_1");
  CHECK(all[2].events == std::vector<std::string>{"video_translate.fail"});
  for (const auto& endpoint : all) CHECK_FALSE(endpoint.secret);
  CHECK(h.sent(0).method == "GET");
  CHECK(h.sent(0).target == "/api/v3/webhooks/endpoints?limit=100");
  CHECK(h.sent(1).target == "/api/v3/webhooks/endpoints?limit=100&token=t%262");
}

TEST_CASE("list: a page token given twice ends the list with bad_response, not a loop") {
  Harness h;
  const auto page = answer(200, R"({"data": [], "has_more": true, "next_token": "again"})");
  h.transport.then(page).then(page).then(page);
  try {
    (void)h.client.list_webhook_endpoints();
    FAIL("no exception");
  } catch (const TranslationError& e) {
    CHECK(e.cause() == FailureCause::bad_response);
  }
  CHECK(h.transport.requests().size() == 2);
}

TEST_CASE("update: PATCH with only what changes; the id percent-encoded") {
  Harness h;
  h.transport.otherwise(
      [](const HttpRequest&) { return answer(200, R"({"data": )" + endpoint_json("e/1", "null") + "}"); });
  (void)h.client.update_webhook_endpoint("e/1", std::string("https://example.com/new"));
  CHECK(h.sent(0).method == "PATCH");
  CHECK(h.sent(0).target == "/api/v3/webhooks/endpoints/e%2F1");
  const auto body = body_of(h.sent(0));
  CHECK(body.size() == 1);
  CHECK(body.at("url").get<std::string>() == "https://example.com/new");
  (void)h.client.update_webhook_endpoint("e/1", std::nullopt, std::vector<std::string>{"video_translate.fail"});
  CHECK(h.sent(1).body == R"({"events":["video_translate.fail"]})");
  (void)h.client.update_webhook_endpoint("e/1", std::nullopt, std::vector<std::string>{});
  CHECK(h.sent(2).body == R"({"events":null})");
}

TEST_CASE("rotate: POST .../rotate-secret; the new secret returned, never logged") {
  Harness h;
  h.transport.then(answer(500, "")).then(answer(200, R"({"data": {"endpoint_id": "ep_1", "secret": "whsec_new"}})"));
  CHECK(h.client.rotate_webhook_secret("ep_1") == "whsec_new");
  CHECK(h.sent(1).method == "POST");
  CHECK(h.sent(1).target == "/api/v3/webhooks/endpoints/ep_1/rotate-secret");
  REQUIRE_FALSE(h.lines.empty());  // the retry was logged
  for (const auto& line : h.lines) CHECK(line.find("whsec_new") == std::string::npos);
  Harness empty;
  empty.transport.then(answer(200, R"({"data": {"endpoint_id": "ep_1"}})"));
  CHECK_THROWS_AS(empty.client.rotate_webhook_secret("ep_1"), TranslationError);
}

TEST_CASE("delete: DELETE; an unknown id throws with the status and the server's words") {
  Harness h;
  h.transport.then(answer(200, R"({"data": {}})"))
      .then(answer(404, R"({"error": {"code": "not_found", "message": "webhook endpoint ep_9 not found"}})"));
  h.client.delete_webhook_endpoint("ep_1");
  CHECK(h.sent(0).method == "DELETE");
  CHECK(h.sent(0).target == "/api/v3/webhooks/endpoints/ep_1");
  try {
    h.client.delete_webhook_endpoint("ep_9");
    FAIL("no exception");
  } catch (const TranslationError& e) {
    CHECK(e.http_status() == 404);
    CHECK(e.cause() == FailureCause::http_status);
    CHECK(std::string(e.what()) == "delete_webhook_endpoint: HTTP 404 not_found: webhook endpoint ep_9 not found");
  }
}

TEST_CASE("answers that are not endpoints are bad_response failures") {
  for (const std::string body : {R"({"data": {"url": "https://x"}})", R"({"data": []})", "{}", "not json"}) {
    INFO(body);
    Harness h;
    h.transport.then(answer(200, body));
    try {
      (void)h.client.create_webhook_endpoint("https://x");
      FAIL("no exception");
    } catch (const TranslationError& e) {
      CHECK(e.cause() == FailureCause::bad_response);
    }
  }
  Harness list;
  list.transport.then(answer(200, R"({"data": [{"url": "no id"}]})"));
  CHECK_THROWS_AS(list.client.list_webhook_endpoints(), TranslationError);
}

}  // TEST_SUITE("webhook endpoints")
