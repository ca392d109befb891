// Unit tests of HeyGenV3Protocol: HeyGen's v3 request and answer shapes, through the protocol alone and through a
// client on the fake transport and the fake clock (nothing sleeps for real).
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <picojson.h>

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

namespace {

using V3Client = BasicVideoTranslationClient<FakeTransport, FakeClock, HeyGenV3Protocol>;

/// Options for a v3 client on the fakes: a loopback base URL, a key, jitter pinned, the cold schedule alone.
ClientOptions v3_options() {
  ClientOptions options = heygen_v3_options("secret-key-123", "http://127.0.0.1:5000");
  options.random = [] { return 0.5; };
  options.polling.long_poll = Seconds(0);
  options.polling.learn = false;
  options.polling.coalesce = Seconds(0);
  options.profile = std::make_shared<ServerProfile>();
  return options;
}

/// The fakes and a v3 client on them.
struct V3Harness {
  FakeTransport transport;
  FakeClock clock;
  V3Client client;
  explicit V3Harness(ClientOptions options = v3_options()) : client(std::move(options), transport, clock) {}
};

/// A response with a v3 error envelope.
HttpResponse v3_error(int status, const std::string& code, const std::string& message,
                      std::vector<HttpHeader> headers = {}) {
  return answer(status, R"({"error": {"code": ")" + code + R"(", "message": ")" + message + R"(", "param": null}})",
                std::move(headers));
}

/// A one-job answer `{"data": {"id": ..., "status": ..., <extra>}}`.
HttpResponse job_answer(const std::string& status, const std::string& extra = "") {
  return answer(200, R"({"data": {"id": "t1", "status": ")" + status + "\"" + extra + "}}");
}

/// The protocol reading one response as a status.
OrFailure<StatusAnswer> read(const HttpResponse& response) {
  return HeyGenV3Protocol(v3_options()).read_status(response);
}

/// The first header named `name` in a request.
std::optional<std::string> header_of(const HttpRequest& request, std::string_view name) {
  for (const auto& header : request.headers)
    if (detail::iequals(header.name, name)) return header.value;
  return std::nullopt;
}

/// The parsed JSON body of a request.
picojson::object body_of(const HttpRequest& request) {
  picojson::value value;
  REQUIRE(picojson::parse(value, request.body).empty());
  REQUIRE(value.is<picojson::object>());
  return value.get<picojson::object>();
}

}  // namespace

TEST_SUITE("heygen v3") {

static_assert(Protocol<HeyGenV3Protocol>);

TEST_CASE("create: POST /v3/video-translations with the video, languages, typed and extra fields") {
  V3Harness h;
  h.transport.then(answer(200, R"({"data": {"video_translation_ids": ["es1", "fr1", "de1"]}})"));
  TranslationRequest request =
      TranslationRequest::from_url("https://cdn.example/v.mp4", {"Spanish", "French", "German"});
  request.title = "Launch";
  request.mode = "precision";
  request.speaker_num = 2;
  request.enable_caption = true;
  request.callback_id = "cb-7";
  request.extra_fields = {{"start_time", "12.5"}, {"stock_voice_config", R"({"use_stock_voice": true})"}};
  const std::vector<std::string> ids = h.client.create_translation_jobs(request);
  CHECK(ids == std::vector<std::string>{"es1", "fr1", "de1"});
  const HttpRequest sent = h.transport.requests().at(0);
  CHECK(sent.method == "POST");
  CHECK(sent.url == "http://127.0.0.1:5000/v3/video-translations");
  CHECK(header_of(sent, "X-Api-Key") == "secret-key-123");
  CHECK(header_of(sent, "Idempotency-Key").has_value());
  const picojson::object body = body_of(sent);
  CHECK(body.at("video").get("type").get<std::string>() == "url");
  CHECK(body.at("video").get("url").get<std::string>() == "https://cdn.example/v.mp4");
  CHECK(body.at("output_languages").get<picojson::array>().size() == 3);
  CHECK(body.at("title").get<std::string>() == "Launch");
  CHECK(body.at("mode").get<std::string>() == "precision");
  CHECK(body.at("speaker_num").get<double>() == 2);
  CHECK(body.at("enable_caption").get<bool>());
  CHECK(body.at("callback_id").get<std::string>() == "cb-7");
  CHECK(body.at("start_time").get<double>() == 12.5);
  CHECK(body.at("stock_voice_config").get("use_stock_voice").get<bool>());
  CHECK(body.count("input_language") == 0);  // unset optional fields are left out: HeyGen's defaults apply
}

TEST_CASE("create: an asset id is the other video source") {
  V3Harness h;
  h.transport.then(answer(200, R"({"data": {"video_translation_ids": ["a1"]}})"));
  TranslationRequest request;
  request.video_asset_id = "asset-9";
  request.output_languages = {"Japanese"};
  CHECK(h.client.create_translation_jobs(request) == std::vector<std::string>{"a1"});
  const picojson::object body = body_of(h.transport.requests().at(0));
  CHECK(body.at("video").get("type").get<std::string>() == "asset_id");
  CHECK(body.at("video").get("asset_id").get<std::string>() == "asset-9");
}

TEST_CASE("create: a request HeyGen would refuse for its shape is std::invalid_argument, and nothing is sent") {
  V3Harness h;
  TranslationRequest both = TranslationRequest::from_url("https://x/v.mp4", {"Spanish"});
  both.video_asset_id = "asset";
  TranslationRequest neither;
  neither.output_languages = {"Spanish"};
  TranslationRequest no_languages = TranslationRequest::from_url("https://x/v.mp4", {});
  TranslationRequest not_json = TranslationRequest::from_url("https://x/v.mp4", {"Spanish"});
  not_json.extra_fields = {{"start_time", "twelve"}};
  TranslationRequest repeats = TranslationRequest::from_url("https://x/v.mp4", {"Spanish"});
  repeats.extra_fields = {{"title", R"("again")"}};
  for (const auto* request : {&both, &neither, &no_languages, &not_json, &repeats})
    CHECK_THROWS_AS(h.client.create_translation_jobs(*request), std::invalid_argument);
  CHECK(h.transport.request_count() == 0);
}

TEST_CASE("create: 400, 401, 402 and 403 end at once with the server's code and message") {
  const std::vector<std::pair<int, std::string>> cases{
      {400, "invalid_parameter"}, {401, "unauthorized"}, {402, "insufficient_credit"}, {403, "forbidden"}};
  for (const auto& entry : cases) {
    const int status = entry.first;  // named, not bound: clang 14 cannot capture a structured binding
    const std::string& code = entry.second;
    CAPTURE(status);
    V3Harness h;
    h.transport.then(v3_error(status, code, "told you so"));
    try {
      (void)h.client.create_translation_jobs(TranslationRequest::from_url("https://x/v.mp4", {"Spanish"}));
      FAIL("no exception");
    } catch (const TranslationError& e) {
      CHECK(e.cause() == FailureCause::http_status);
      CHECK(e.http_status() == status);
      CHECK(e.requests() == 1);
      CHECK(std::string(e.what()) ==
            "create_translation_job: HTTP " + std::to_string(status) + " " + code + ": told you so");
    }
  }
}

TEST_CASE("create: 409 request_in_progress is retried with the same Idempotency-Key; another 409 is not") {
  V3Harness h;
  h.transport.then(v3_error(409, "request_in_progress", "still working"))
      .then(answer(503, ""))
      .then(answer(200, R"({"data": {"video_translation_ids": ["x"]}})"));
  CHECK(h.client.create_translation_jobs(TranslationRequest::from_url("https://x/v.mp4", {"Spanish"})).size() == 1);
  const auto sent = h.transport.requests();
  REQUIRE(sent.size() == 3);
  CHECK(header_of(sent[0], "Idempotency-Key") == header_of(sent[2], "Idempotency-Key"));

  V3Harness conflict;
  conflict.transport.then(v3_error(409, "conflict", "no"));
  CHECK_THROWS_AS(conflict.client.create_translation_jobs(TranslationRequest::from_url("https://x/v.mp4", {"Spanish"})),
                  TranslationError);
  CHECK(conflict.transport.request_count() == 1);
}

TEST_CASE("create: a 429 (account at its concurrency limit) is waited out as Retry-After says, using no retries") {
  ClientOptions options = v3_options();
  options.max_retries = 0;  // pacing is not failure: even with no retries the create gets through
  V3Harness h(options);
  h.transport.then(v3_error(429, "rate_limit_exceeded", "10 jobs running", {{"Retry-After", "30"}}))
      .then(v3_error(429, "rate_limit_exceeded", "10 jobs running", {{"Retry-After", "45"}}))
      .then(answer(200, R"({"data": {"video_translation_ids": ["x"]}})"));
  CHECK(h.client.create_translation_jobs(TranslationRequest::from_url("https://x/v.mp4", {"Spanish"})).front() == "x");
  CHECK(h.clock.sleeps() == std::vector<std::chrono::milliseconds>{30s, 45s});
}

TEST_CASE("create: pacing stops at max_timeout, naming the throttle") {
  ClientOptions options = v3_options();
  options.max_timeout = Seconds(100);
  V3Harness h(options);
  h.transport.otherwise([](const HttpRequest&) {
    return v3_error(429, "rate_limit_exceeded", "10 jobs running", {{"Retry-After", "40"}});
  });
  try {
    (void)h.client.create_translation_jobs(TranslationRequest::from_url("https://x/v.mp4", {"Spanish"}));
    FAIL("no exception");
  } catch (const TranslationError& e) {
    CHECK(e.cause() == FailureCause::deadline);
    CHECK(std::string(e.what()).find("rate_limit_exceeded") != std::string::npos);
  }
  CHECK(h.transport.request_count() == 3);  // at 0, 40 and 80 s; the deadline comes before a fourth
}

TEST_CASE("submit_translations: inputs beyond the account's limit wait their turn, and the progress says so") {
  V3Harness h;
  h.transport.then(answer(200, R"({"data": {"video_translation_ids": ["a"]}})"))
      .then(v3_error(429, "rate_limit_exceeded", "busy", {{"Retry-After", "60"}}))
      .then(answer(200, R"({"data": {"video_translation_ids": ["b1", "b2"]}})"))
      .then(v3_error(402, "insufficient_credit", "out of credit"));
  const std::vector<TranslationRequest> inputs{TranslationRequest::from_url("https://x/1.mp4", {"Spanish"}),
                                               TranslationRequest::from_url("https://x/2.mp4", {"Spanish", "French"}),
                                               TranslationRequest::from_url("https://x/3.mp4", {"German"})};
  std::vector<SubmitProgress> seen;
  const auto out = h.client.submit_translations(inputs, [&](const SubmitProgress& p) { seen.push_back(p); });
  REQUIRE(out.size() == 3);
  CHECK(out[0].job_ids == std::vector<std::string>{"a"});
  CHECK(out[1].job_ids == std::vector<std::string>{"b1", "b2"});
  REQUIRE(out[2].failure.has_value());
  CHECK(out[2].failure->cause == FailureCause::http_status);
  REQUIRE(seen.size() == 4);
  CHECK((seen[0].created == 1 && seen[0].queued == 2 && !seen[0].waiting_for_slot));
  CHECK((seen[1].created == 1 && seen[1].queued == 2 && seen[1].waiting_for_slot == Seconds(60)));
  CHECK((seen[2].created == 2 && seen[2].queued == 1 && !seen[2].waiting_for_slot));
  CHECK((seen[3].created == 2 && seen[3].failed == 1 && seen[3].queued == 0 && seen[3].total == 3));
}

TEST_CASE("status: one job's words map to ours; outputs come with a completed job") {
  CHECK(read(job_answer("pending"))->status == TranslationStatus::pending);
  CHECK(read(job_answer("running"))->status == TranslationStatus::pending);
  const auto done =
      read(job_answer("completed", R"(, "video_url": "https://s3/v.mp4?X-Amz=1", "audio_url": "https://s3/a.mp3",
      "srt_caption_url": "https://s3/c.srt", "vtt_caption_url": null, "output_language": "Spanish", "duration": 61.5)"));
  REQUIRE(done.ok());
  CHECK(done->status == TranslationStatus::completed);
  CHECK(done->outputs.video_url == "https://s3/v.mp4?X-Amz=1");
  CHECK(done->outputs.audio_url == "https://s3/a.mp3");
  CHECK(done->outputs.caption_urls == std::vector<std::string>{"https://s3/c.srt"});  // a null one is left out
  CHECK(done->outputs.output_language == "Spanish");
  CHECK(done->outputs.duration_seconds == 61.5);
  const auto failed = read(job_answer("failed", R"(, "failure_message": "no speech found")"));
  CHECK(failed->status == TranslationStatus::error);
  CHECK(failed->cause == FailureCause::job_failed);
  CHECK(failed->error_message == "no speech found");
  const auto odd = read(job_answer("archived"));
  CHECK(odd->cause == FailureCause::unexpected_result);
  CHECK(odd->error_message == R"(server answered status "archived")");
}

TEST_CASE("status: missing, null or malformed answers are failures named for what is wrong") {
  CHECK(read(answer(200, R"({"data": {"id": "t1"}})")).failure().cause == FailureCause::bad_response);
  CHECK(read(answer(200, R"({"data": {"id": "t1", "status": null}})")).failure().cause == FailureCause::bad_response);
  CHECK(read(answer(200, R"({"data": null})")).failure().cause == FailureCause::bad_response);
  CHECK(read(answer(200, R"({"status": "completed"})")).failure().message == R"(no "data" in the answer)");
  CHECK(read(answer(200, R"({"data": {"status": "completed")")).failure().cause == FailureCause::bad_response);
  CHECK(read(answer(200, std::string(100000, '[') + std::string(100000, ']'))).failure().cause ==
        FailureCause::bad_response);
  const auto bare = read(job_answer("completed", R"(, "video_url": null, "duration": "long")"));
  CHECK(bare->outputs.empty());  // nulls and a non-number duration leave the outputs empty
  const auto unknown = read(v3_error(404, "not_found", "no such translation"));
  CHECK(unknown.failure().cause == FailureCause::unknown_job);
  CHECK(unknown.failure().message == "HTTP 404 not_found: no such translation");
  CHECK(read(v3_error(500, "internal", "oops")).failure().cause == FailureCause::http_status);
}

TEST_CASE("status through the client: GET /v3/video-translations/{id}, polled until completed") {
  V3Harness h;
  h.transport.then(job_answer("pending")).then(job_answer("running")).then(job_answer("completed"));
  const TranslationResult result = h.client.get_translation_status("t 1/x");
  CHECK(result.ok());
  CHECK(result.requests == 3);
  CHECK(h.transport.requests().at(0).target == "/v3/video-translations/t%201%2Fx");
}

/// A fake v3 server for bulk waits: `/statuses` answers each id with `word_of(id)`; a one-job look answers
/// completed with its outputs. Counts both kinds of request; the poller's workers may call it at once.
struct FakeV3Server {
  std::function<std::string(const std::string&)> word_of;
  std::atomic<int> statuses_requests = 0;
  std::atomic<int> job_requests = 0;

  HttpResponse operator()(const HttpRequest& request) {
    const auto at = request.target.find("/statuses?video_translation_ids=");
    if (at == std::string::npos) {
      ++job_requests;
      const std::string id = request.target.substr(request.target.rfind('/') + 1);
      return job_answer("completed", R"(, "video_url": "https://s3/)" + id + R"(.mp4", "output_language": "Spanish")");
    }
    ++statuses_requests;
    const std::string list = request.target.substr(at + 32, request.target.find('&') - at - 32);
    std::string data;
    for (std::size_t start = 0; start <= list.size();) {
      const auto comma = std::min(list.find(',', start), list.size());
      const std::string id = list.substr(start, comma - start);
      const std::string word = word_of(id);
      data += data.empty() ? R"({"video_id": ")" : R"(,{"video_id": ")";
      data += id;
      data += R"(", "status": ")";
      data += word;
      data += R"(", "error": )";
      data += word == "failed" ? R"({"code": "bad_audio", "message": "audio unreadable"}})" : "null}";
      start = comma + 1;
    }
    return answer(200, R"({"data": [)" + data + R"(], "has_more": false, "next_token": null})");
  }
};

TEST_CASE("many-status: up to 100 ids a request, comma-separated, with every word mapped") {
  V3Harness h;
  std::vector<std::string> ids;
  for (int i = 0; i < 150; ++i) ids.push_back("id" + std::to_string(i));
  auto server = std::make_shared<FakeV3Server>();
  server->word_of = [](const std::string& id) {
    return std::string(id == "id7" ? "failed" : id == "id8" ? "not_found" : "completed");
  };
  h.transport.otherwise([server](const HttpRequest& request) { return (*server)(request); });
  const auto results = h.client.get_bulk_translation_statuses(ids);
  CHECK(results.size() == 150);
  CHECK(server->statuses_requests == 2);  // 100 + 50
  // The two /statuses requests may go out from two workers in either order; the ids go in sorted.
  const auto sent = h.transport.requests();
  const auto first_page = std::find_if(sent.begin(), sent.end(), [](const HttpRequest& request) {
    return request.target.rfind("/v3/video-translations/statuses?video_translation_ids=id0,id1,", 0) == 0;
  });
  REQUIRE(first_page != sent.end());
  CHECK(first_page->method == "GET");
  CHECK(std::count(first_page->target.begin(), first_page->target.end(), ',') == 99);  // 100 ids
  CHECK(results.at("id0").ok());
  CHECK(results.at("id7").cause == FailureCause::job_failed);
  CHECK(results.at("id7").error_message == "audio unreadable");
  CHECK(results.at("id8").cause == FailureCause::unknown_job);
  // /statuses names no outputs: each completed job is looked at once on its own for them, and only those.
  CHECK(server->job_requests == 148);
  CHECK(results.at("id0").outputs.video_url == "https://s3/id0.mp4");
  CHECK(results.at("id149").outputs.output_language == "Spanish");
  CHECK(results.at("id0").requests == 2);  // its share of one /statuses request, and its own look
  CHECK_FALSE(results.at("id7").outputs.video_url.has_value());
}

TEST_CASE("many-status: a completed job whose outputs cannot be fetched still ends completed") {
  ClientOptions options = v3_options();
  options.max_retries = 0;
  V3Harness few(options);
  few.transport
      .then(answer(200, R"({"data": [{"video_id": "a", "status": "completed"}, {"video_id": "b", "status": )"
                        R"("completed"}], "has_more": false})"))
      .then(v3_error(404, "not_found", "gone"))
      .then(no_answer(TransportError::reset));
  const auto results = few.client.get_bulk_translation_statuses({"a", "b"});
  CHECK(results.at("a").ok());
  CHECK(results.at("b").ok());
  CHECK_FALSE(results.at("a").outputs.video_url.has_value());
  CHECK(few.transport.request_count() == 3);
}

TEST_CASE("many-status: pages are followed with the next_token; queued and processing are pending") {
  V3Harness h;
  h.transport
      .then(answer(200, R"({"data": [{"video_id": "a", "status": "queued"}], "has_more": true, "next_token": "p&2"})"))
      .then(answer(200, R"({"data": [{"video_id": "b", "status": "completed"}, {"video_id": "c", "status": )"
                        R"("processing"}], "has_more": false})"))
      .then(job_answer("completed"))
      .then(answer(200, R"({"data": [{"video_id": "a", "status": "completed"}, {"video_id": "c", "status": )"
                        R"("completed"}], "has_more": false})"))
      .then(job_answer("completed"))
      .then(job_answer("completed"));
  const auto results = h.client.get_bulk_translation_statuses({"a", "b", "c"});
  CHECK(results.at("a").ok());
  CHECK(results.at("b").ok());
  CHECK(results.at("c").ok());
  const auto sent = h.transport.requests();
  REQUIRE(sent.size() == 6);
  CHECK(sent[0].target == "/v3/video-translations/statuses?video_translation_ids=a,b,c");
  CHECK(sent[1].target == "/v3/video-translations/statuses?video_translation_ids=a,b,c&token=p%262");
  CHECK(sent[2].target == "/v3/video-translations/b");  // b's outputs
  CHECK(sent[3].target == "/v3/video-translations/statuses?video_translation_ids=a,c");
  CHECK(sent[4].target == "/v3/video-translations/a");
  CHECK(sent[5].target == "/v3/video-translations/c");
}

TEST_CASE("languages: GET /v3/video-translations/languages") {
  V3Harness h;
  h.transport.then(answer(200, R"json({"data": {"languages": ["English", "Spanish (Spain)", 7]}})json"));
  CHECK(h.client.list_languages() == std::vector<std::string>{"English", "Spanish (Spain)"});
  CHECK(h.transport.requests().at(0).target == "/v3/video-translations/languages");
  V3Harness denied;
  denied.transport.then(v3_error(401, "unauthorized", "bad key"));
  CHECK_THROWS_AS(denied.client.list_languages(), TranslationError);
}

TEST_CASE("the API key is never logged, even at trace level with failures") {
  std::vector<std::string> lines;
  std::mutex mutex;
  ClientOptions options = v3_options();
  options.log_level = LogLevel::trace;
  options.log_sink = [&](LogLevel, std::string_view line) {
    std::lock_guard lock(mutex);
    lines.emplace_back(line);
  };
  V3Harness h(options);
  h.transport.then(answer(503, "")).then(answer(200, R"({"data": {"video_translation_ids": ["x"]}})"));
  h.transport.then(v3_error(429, "rate_limit_exceeded", "busy", {{"Retry-After", "1"}})).then(job_answer("failed"));
  (void)h.client.create_translation_jobs(TranslationRequest::from_url("https://x/v.mp4", {"Spanish"}));
  (void)h.client.get_translation_status("x");
  REQUIRE_FALSE(lines.empty());
  for (const auto& line : lines) CHECK(line.find("secret-key-123") == std::string::npos);
}

}  // TEST_SUITE("heygen v3")
