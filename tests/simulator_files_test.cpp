// Integration tests of the simulator's object store (heygen_v3): presigned output downloads with ranges,
// refused URLs and storage faults, checked on the wire with a plain httplib::Client against output_content.
#include "status_simulator.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <picojson.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace heygen::sim;
using namespace std::chrono_literals;

/// A heygen_v3 config whose jobs end at once, with outputs of `bytes` bytes (assets ingest in the default 0.2 s).
SimulatorConfig files_config(std::uint64_t bytes = 65536) {
  SimulatorConfig config;
  config.api = Api::heygen_v3;
  config.duration = DurationDistribution::fixed(0);
  config.threads = 16;
  config.storage.output_bytes = bytes;
  return config;
}

/// The default key's header.
const httplib::Headers api_key{{"X-Api-Key", "sim-key"}};

/// A started simulator, a client talking to it, and the output URLs of one completed job.
struct Store {
  explicit Store(SimulatorConfig config = files_config()) : sim(std::move(config)), cli("127.0.0.1", sim.start()) {
    cli.set_read_timeout(5, 0);
  }

  /// Creates a job with captions and returns its output URLs (path and query) by file name.
  std::map<std::string, std::string> outputs() {
    const std::string body =
        R"({"video":{"type":"url","url":"https://example.com/a.mp4"},"output_languages":["German"],)"
        R"("enable_caption":true})";
    const auto created = cli.Post("/v3/video-translations", api_key, body, "application/json");
    REQUIRE(created);
    REQUIRE(created->status == 200);
    picojson::value doc;
    REQUIRE(picojson::parse(doc, created->body).empty());
    const std::string id = doc.get("data").get("video_translation_ids").get(0).get<std::string>();
    const auto job = cli.Get("/v3/video-translations/" + id, api_key);
    REQUIRE(job);
    REQUIRE(picojson::parse(doc, job->body).empty());
    const auto& data = doc.get("data");
    REQUIRE(data.get("status").get<std::string>() == "completed");
    std::map<std::string, std::string> out;
    const std::string origin = sim.base_url();
    for (const auto& [field, name] : {std::pair<const char*, const char*>{"video_url", "video.mp4"},
                                      {"audio_url", "audio.mp3"},
                                      {"srt_caption_url", "captions.srt"},
                                      {"vtt_caption_url", "captions.vtt"}}) {
      const std::string url = data.get(field).get<std::string>();
      std::string prefix = origin;
      prefix.append("/files/").append(id).append("/").append(name).append("?");
      REQUIRE(url.rfind(prefix, 0) == 0);
      out[name] = url.substr(origin.size());
    }
    job_id = id;
    return out;
  }

  /// The path and query of a URL to `path` signed as the simulator signs, expiring at `expires`.
  static std::string signed_url(const std::string& path, std::int64_t expires) {
    return path + "?Expires=" + std::to_string(expires) +
           "&Signature=" + detail::presign_signature("sim-key", path, expires) + "&Key-Pair-Id=SIMULATOR";
  }

  /// The storage counters.
  StorageCounts counts() const { return sim.stats().totals.storage; }

  StatusSimulator sim;
  httplib::Client cli;
  std::string job_id;
};

/// Bytes [offset, offset + n) of an output, as output_content makes them.
std::string expected(const std::string& id, const std::string& name, std::uint64_t offset, std::size_t n) {
  std::string out(n, '\0');
  output_content(id, name, offset, out.data(), n);
  return out;
}

/// Checks an answer is `status` with an S3 XML error of `code`.
void check_xml_error(const httplib::Result& res, int status, const std::string& code) {
  REQUIRE(res);
  INFO("body: ", res->body);
  CHECK(res->status == status);
  CHECK(res->get_header_value("Content-Type") == "application/xml");
  CHECK(res->body.find("<Error><Code>" + code + "</Code><Message>") != std::string::npos);
}

}  // namespace

TEST_CASE("simulator files: output_content makes any range of a file the same way") {
  const std::string whole = expected("job-000001", "video.mp4", 0, 64);
  for (std::uint64_t offset = 0; offset < 20; ++offset) {
    for (std::size_t n = 0; n < 21; ++n)
      CHECK(expected("job-000001", "video.mp4", offset, n) == whole.substr(offset, n));
  }
  CHECK(expected("job-000001", "audio.mp3", 0, 64) != whole);
  CHECK(expected("job-000002", "video.mp4", 0, 64) != whole);
  CHECK(output_size(files_config(123), "job-000001", "video.mp4") == 123);
}

TEST_CASE("simulator files: each output is served whole, byte for byte, with its type, length and ETag") {
  Store s(files_config(300'001));  // more than one chunk, and not a multiple of 8
  const auto urls = s.outputs();
  for (const auto& [name, url] : urls) {
    const auto res = s.cli.Get(url);
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == expected(s.job_id, name, 0, 300'001));
    CHECK(res->get_header_value("Content-Length") == "300001");
    CHECK(res->get_header_value("Accept-Ranges") == "bytes");
    CHECK(res->get_header_value("ETag") == detail::output_etag(s.job_id, name, 300'001));
    CHECK(res->get_header_value("Content-Type") == std::string(detail::output_type(name)));
  }
  const auto head = s.cli.Head(urls.at("video.mp4"));
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->get_header_value("Content-Length") == "300001");
  const auto counts = s.counts();
  CHECK(counts.file_gets == 5);
  CHECK(counts.bytes_served == 4 * 300'001);
  CHECK(counts.range_gets == 0);
  CHECK(counts.storage_requests_with_api_key == 0);
}

TEST_CASE("simulator files: byte ranges get 206 with Content-Range; one past the end gets 416") {
  Store s(files_config(1000));
  const std::string url = s.outputs().at("video.mp4");
  const auto ranged = [&](const std::string& range) { return s.cli.Get(url, {{"Range", range}}); };
  struct Case {
    std::string range;
    std::uint64_t first, last;
  };
  for (const auto& c : std::vector<Case>{{"bytes=10-19", 10, 19},
                                         {"bytes=990-", 990, 999},
                                         {"bytes=-5", 995, 999},
                                         {"bytes=500-5000", 500, 999},
                                         {"bytes=0-0", 0, 0},
                                         {"bytes=-5000", 0, 999}}) {
    INFO("range: ", c.range);
    const auto res = ranged(c.range);
    REQUIRE(res);
    CHECK(res->status == 206);
    CHECK(res->get_header_value("Content-Range") ==
          "bytes " + std::to_string(c.first) + "-" + std::to_string(c.last) + "/1000");
    CHECK(res->get_header_value("Content-Length") == std::to_string(c.last - c.first + 1));
    CHECK(res->body == expected(s.job_id, "video.mp4", c.first, c.last - c.first + 1));
  }
  // Several ranges: the whole file, as S3 answers. (httplib itself refuses a Range it cannot parse with 416.)
  const auto several = ranged("bytes=0-1,5-6");
  REQUIRE(several);
  CHECK(several->status == 200);
  CHECK(several->body.size() == 1000);
  for (const char* past : {"bytes=1000-", "bytes=5000-6000", "bytes=-0"}) {
    const auto res = ranged(past);
    check_xml_error(res, 416, "InvalidRange");
    CHECK(res->get_header_value("Content-Range") == "bytes */1000");
  }
  CHECK(s.counts().range_gets == 10);
}

TEST_CASE("simulator files: expired, forged and unsigned URLs get 403, unknown files 404, in S3's XML") {
  Store s;
  const std::string url = s.outputs().at("audio.mp3");
  const std::string path = url.substr(0, url.find('?'));
  const auto now = detail::unix_now();
  check_xml_error(s.cli.Get(Store::signed_url(path, now - 1)), 403, "AccessDenied");
  CHECK(s.cli.Get(Store::signed_url(path, now - 1))->body.find("expired") != std::string::npos);
  // A Range on a refused URL still gets the whole error, not a slice of it.
  check_xml_error(s.cli.Get(Store::signed_url(path, now - 1), {{"Range", "bytes=5-"}}), 403, "AccessDenied");
  std::string forged = url;
  forged[forged.find("&Signature=") + 11] ^= 1;
  check_xml_error(s.cli.Get(forged), 403, "AccessDenied");
  const std::string later = Store::signed_url(path, now + 100);
  check_xml_error(s.cli.Get(later.substr(0, later.find("&Signature=")) + url.substr(url.find("&Signature="))), 403,
                  "AccessDenied");  // a later expiry with the old signature
  check_xml_error(s.cli.Get(path), 403, "AccessDenied");
  CHECK(s.cli.Get(later)->status == 200);
  check_xml_error(s.cli.Get(Store::signed_url("/files/" + s.job_id + "/other.bin", now + 100)), 404, "NoSuchKey");
  check_xml_error(s.cli.Get(Store::signed_url("/files/job-999999/video.mp4", now + 100)), 404, "NoSuchKey");
  CHECK(s.counts().storage_403s == 6);
}

TEST_CASE("simulator files: --url-lifetime-s, and the API key counted when a client sends it to storage") {
  SimulatorConfig config = files_config();
  config.storage.url_lifetime_s = 1;  // valid for one to two seconds: Expires is in whole seconds
  Store s(config);
  const std::string url = s.outputs().at("video.mp4");
  CHECK(s.cli.Get(url, api_key)->status == 200);
  CHECK(s.cli.Get(url, {{"Authorization", "Bearer sim-key"}})->status == 200);
  CHECK(s.counts().storage_requests_with_api_key == 2);
  const auto expires = std::stoll(url.substr(url.find("Expires=") + 8));
  while (detail::unix_now() <= expires) std::this_thread::sleep_for(20ms);
  check_xml_error(s.cli.Get(url), 403, "AccessDenied");
  CHECK(s.counts().storage_requests_with_api_key == 2);
}

TEST_CASE("simulator files: storage faults at rate 1") {
  SUBCASE("cut: the connection closes after half of the bytes") {
    SimulatorConfig config = files_config(100'000);
    config.storage.cut_rate = 1;
    Store s(config);
    std::size_t got = 0;
    const auto res = s.cli.Get(s.outputs().at("video.mp4"), [&](const char*, std::size_t n) {
      got += n;
      return true;
    });
    CHECK_FALSE(res);
    CHECK(got == 50'000);
    CHECK(s.counts().cuts == 1);
  }
  SUBCASE("wrong length: more bytes declared than sent, then the connection closes") {
    SimulatorConfig config = files_config(1000);
    config.storage.wrong_length_rate = 1;
    Store s(config);
    std::string got;
    httplib::Headers headers;
    const auto res = s.cli.Get(
        s.outputs().at("audio.mp3"), headers,
        [&](const httplib::Response& response) {
          CHECK(response.get_header_value("Content-Length") == "1501");
          return true;
        },
        [&](const char* data, std::size_t n) {
          got.append(data, n);
          return true;
        });
    CHECK_FALSE(res);
    CHECK(got == expected(s.job_id, "audio.mp3", 0, 1000));
    CHECK(s.counts().wrong_lengths == 1);
  }
  SUBCASE("html error: 200 with an HTML page instead of the file") {
    SimulatorConfig config = files_config();
    config.storage.html_error_rate = 1;
    Store s(config);
    const auto res = s.cli.Get(s.outputs().at("captions.srt"));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type") == "text/html");
    CHECK(res->body.find("<html>") != std::string::npos);
    CHECK(s.counts().html_errors == 1);
  }
  SUBCASE("pace: 64 KiB at 256 KiB/s take about a quarter of a second") {
    SimulatorConfig config = files_config();
    config.storage.pace_bytes_per_s = 256 * 1024;
    Store s(config);
    const std::string url = s.outputs().at("video.mp4");
    const auto start = Clock::now();
    const auto res = s.cli.Get(url);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    REQUIRE(res);
    CHECK(res->body == expected(s.job_id, "video.mp4", 0, 65536));
    CHECK(seconds > 0.2);
    CHECK(seconds < 2);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Uploads: direct uploads, their presigned PUTs, completion, multipart uploads and ingest

namespace {

/// A body of `n` bytes that is not all one byte.
std::string upload_bytes(std::size_t n) { return expected("upload", "source.mp4", 0, n); }

/// Lowercase hex SHA-256 of `bytes`.
std::string sha256_hex(const std::string& bytes) {
  detail::Sha256 sha;
  sha.update(bytes.data(), bytes.size());
  const auto digest = sha.finish();
  return detail::hex_of(digest.data(), digest.size());
}

/// A direct-upload create body for `bytes`, with `extra` members (JSON text, comma-led).
std::string upload_body(const std::string& bytes, const std::string& extra = "") {
  return R"({"filename":"talk.mp4","content_type":"video/mp4","size_bytes":)" + std::to_string(bytes.size()) + extra +
         "}";
}

/// POSTs a JSON body with the key; returns the answer.
httplib::Result post(Store& s, const std::string& path, const std::string& body) {
  return s.cli.Post(path, api_key, body, "application/json");
}

/// The `data` object of a 200 JSON answer.
picojson::value data_of(const httplib::Result& res) {
  REQUIRE(res);
  INFO("body: ", res->body);
  REQUIRE(res->status == 200);
  picojson::value doc;
  REQUIRE(picojson::parse(doc, res->body).empty());
  return doc.get("data");
}

/// The v3 error code of an answer that must be `status`.
std::string error_code(const httplib::Result& res, int status) {
  REQUIRE(res);
  INFO("body: ", res->body);
  CHECK(res->status == status);
  picojson::value doc;
  REQUIRE(picojson::parse(doc, res->body).empty());
  return doc.get("error").get("code").to_str() + " " + doc.get("error").get("param").to_str();
}

/// A direct upload as created: its id, the PUT's path and query, and the headers to send.
struct Upload {
  std::string id;
  std::string url;
  httplib::Headers headers;
  std::string content_type;
};

/// Creates a direct upload from `body` (must succeed).
Upload create_upload(Store& s, const std::string& body) {
  const auto data = data_of(post(s, "/v3/assets/direct-uploads", body));
  CHECK(data.get("status").get<std::string>() == "pending_upload");
  Upload out{data.get("asset_id").get<std::string>(), data.get("upload_url").get<std::string>(), {}, ""};
  REQUIRE(out.url.rfind(s.sim.base_url() + "/uploads/" + out.id + "?Expires=", 0) == 0);
  out.url = out.url.substr(s.sim.base_url().size());
  for (const auto& [name, value] : data.get("upload_headers").get<picojson::object>()) {
    if (name == "Content-Type") out.content_type = value.get<std::string>();
    if (name != "Content-Type") out.headers.emplace(name, value.get<std::string>());
  }
  return out;
}

/// PUTs `bytes` to an upload as told (`headers`, Content-Type).
httplib::Result put(Store& s, const Upload& upload, const std::string& bytes) {
  return s.cli.Put(upload.url, upload.headers, bytes, upload.content_type);
}

/// The status word /v3/assets/statuses gives `id`.
std::string asset_status(Store& s, const std::string& id) {
  const auto res = s.cli.Get("/v3/assets/statuses?asset_ids=" + id, api_key);
  return data_of(res).get(0).get("status").get<std::string>();
}

}  // namespace

TEST_CASE("simulator files: a direct upload with its checksum: create, PUT, complete, ingest, translate") {
  Store s(files_config());
  const std::string bytes = upload_bytes(100'000);
  const auto data = data_of(
      post(s, "/v3/assets/direct-uploads", upload_body(bytes, R"(,"checksum_sha256":")" + sha256_hex(bytes) + "\"")));
  CHECK(data.get("max_bytes").get<double>() == 100'000);
  CHECK(data.get("expires_in_seconds").get<double>() == 7 * 24 * 3600);
  const Upload upload = create_upload(s, upload_body(bytes, R"(,"checksum_sha256":")" + sha256_hex(bytes) + "\""));
  CHECK(upload.content_type == "video/mp4");
  REQUIRE(upload.headers.count("x-amz-checksum-sha256") == 1);
  CHECK(upload.headers.find("x-amz-checksum-sha256")->second.size() == 44);
  CHECK(error_code(post(s, "/v3/assets/" + upload.id + "/complete", "{}"), 400) == "invalid_parameter null");
  CHECK(post(s, "/v3/assets/" + upload.id + "/complete", "{}")->body.find("PUT") != std::string::npos);
  CHECK(asset_status(s, upload.id) == "queued");

  const auto stored = put(s, upload, bytes);
  REQUIRE(stored);
  CHECK(stored->status == 200);
  CHECK(stored->get_header_value("x-amz-checksum-sha256") == upload.headers.find("x-amz-checksum-sha256")->second);
  const auto completing = std::chrono::steady_clock::now();
  const auto done =
      data_of(post(s, "/v3/assets/" + upload.id + "/complete", R"({"checksum_sha256":")" + sha256_hex(bytes) + "\"}"));
  CHECK(done.get("asset_id").get<std::string>() == upload.id);
  CHECK(done.get("status").get<std::string>() == "processing");
  CHECK(done.get("mime_type").get<std::string>() == "video/mp4");
  CHECK(done.get("size_bytes").get<double>() == 100'000);
  CHECK_FALSE(done.get("url").get<std::string>().empty());
  CHECK(data_of(post(s, "/v3/assets/" + upload.id + "/complete", "")).serialize() == done.serialize());  // idempotent

  // The ingest runs on real time (0.2 s): its words come in order, and "completed" not before the 0.2 s have passed.
  // Which words a look sees depends on how fast the looks are (under valgrind one can take longer than a phase), so
  // the order is checked here and each phase's boundaries on the rule itself.
  const std::vector<std::string> order{"queued", "processing", "completed"};
  std::vector<std::string> seen;
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (seen.empty() || seen.back() != "completed") {
    const std::string word = asset_status(s, upload.id);
    if (seen.empty() || seen.back() != word) seen.push_back(word);
    REQUIRE(std::chrono::steady_clock::now() < give_up);
    std::this_thread::sleep_for(10ms);
  }
  CHECK(std::chrono::steady_clock::now() - completing >= 200ms);
  CHECK(std::is_sorted(seen.begin(), seen.end(), [&](const std::string& a, const std::string& b) {
    return std::find(order.begin(), order.end(), a) < std::find(order.begin(), order.end(), b);
  }));
  heygen::sim::detail::Asset ingesting;
  ingesting.completed = Clock::time_point{};
  const std::vector<std::pair<std::chrono::milliseconds, std::string>> rule{
      {99ms, "queued"}, {100ms, "processing"}, {199ms, "processing"}, {200ms, "completed"}};
  for (const auto& [at, word] : rule)
    CHECK(heygen::sim::detail::asset_status(ingesting, Clock::time_point{} + at, 200ms) == word);
  const auto listed = data_of(s.cli.Get("/v3/assets/statuses?asset_ids=" + upload.id + ",asset_999999", api_key));
  CHECK(listed.get(0).get("video_id").get<std::string>() == upload.id);
  CHECK(listed.get(0).get("status").get<std::string>() == "completed");
  CHECK(listed.get(0).get("error").is<picojson::null>());
  CHECK(listed.get(0).get("batch_id").is<picojson::null>());
  CHECK(listed.get(1).get("status").get<std::string>() == "not_found");

  const std::string create =
      R"({"video":{"type":"asset_id","asset_id":")" + upload.id + R"("},"output_languages":["German"]})";
  CHECK(data_of(post(s, "/v3/video-translations", create)).get("video_translation_ids").get<picojson::array>().size() ==
        1);
  const std::string unknown =
      R"({"video":{"type":"asset_id","asset_id":"asset_999999"},"output_languages":["German"]})";
  CHECK(error_code(post(s, "/v3/video-translations", unknown), 400) == "invalid_parameter video");
  // An asset whose bytes never came is no source either.
  const Upload empty = create_upload(s, upload_body(bytes));
  const std::string pending =
      R"({"video":{"type":"asset_id","asset_id":")" + empty.id + R"("},"output_languages":["German"]})";
  CHECK(error_code(post(s, "/v3/video-translations", pending), 400) == "invalid_parameter video");

  const auto counts = s.counts();
  CHECK(counts.uploads_started == 3);
  CHECK(counts.uploads_completed == 1);
  CHECK(counts.upload_puts == 1);
  CHECK(counts.upload_bytes_received == 100'000);
  CHECK(counts.storage_requests_with_api_key == 0);
}

TEST_CASE("simulator files: the store refuses a PUT unlike what was signed, and bytes unlike the checksum") {
  Store s(files_config());
  const std::string bytes = upload_bytes(5000);
  const std::string checksum = R"(,"checksum_sha256":")" + sha256_hex(bytes) + "\"";
  SUBCASE("bad digest: 400 BadDigest, nothing stored") {
    const Upload upload = create_upload(s, upload_body(bytes, checksum));
    std::string other = bytes;
    other[10] ^= 1;
    check_xml_error(put(s, upload, other), 400, "BadDigest");
    CHECK(error_code(post(s, "/v3/assets/" + upload.id + "/complete", "{}"), 400) == "invalid_parameter null");
    CHECK(put(s, upload, bytes)->status == 200);  // a second PUT of the right bytes is taken
  }
  SUBCASE("wrong size, wrong Content-Type, missing checksum header: 403 SignatureDoesNotMatch") {
    const Upload upload = create_upload(s, upload_body(bytes, checksum));
    check_xml_error(put(s, upload, bytes.substr(1)), 403, "SignatureDoesNotMatch");
    check_xml_error(s.cli.Put(upload.url, upload.headers, bytes, "video/webm"), 403, "SignatureDoesNotMatch");
    check_xml_error(s.cli.Put(upload.url, bytes, upload.content_type), 403, "SignatureDoesNotMatch");
    CHECK(put(s, upload, bytes)->status == 200);
    CHECK(s.counts().storage_403s == 3);
  }
  SUBCASE("expired or forged upload URLs: 403 AccessDenied") {
    const Upload upload = create_upload(s, upload_body(bytes, checksum));
    const std::string path = "/uploads/" + upload.id;
    const std::int64_t past = detail::unix_now() - 1;
    Upload expired = upload;
    expired.url = path + "?Expires=" + std::to_string(past) +
                  "&Size=5000&Signature=" + detail::presign_signature("sim-key", path, past, "Size=5000");
    check_xml_error(put(s, expired, bytes), 403, "AccessDenied");
    Upload bigger = upload;
    bigger.url.replace(bigger.url.find("Size=5000"), 9, "Size=5001");
    check_xml_error(put(s, bigger, bytes + "x"), 403, "AccessDenied");
  }
  SUBCASE("a checksum given only at completion is checked there") {
    const Upload upload = create_upload(s, upload_body(bytes));
    CHECK(upload.headers.empty());
    CHECK(put(s, upload, bytes)->status == 200);
    CHECK(error_code(
              post(s, "/v3/assets/" + upload.id + "/complete", R"({"checksum_sha256":")" + sha256_hex("other") + "\"}"),
              400) == "invalid_parameter checksum_sha256");
    CHECK(post(s, "/v3/assets/" + upload.id + "/complete", "{}")->status == 200);
    CHECK(error_code(post(s, "/v3/assets/asset_999999/complete", "{}"), 404) == "not_found null");
  }
}

TEST_CASE("simulator files: direct upload creates are validated; the asset routes need the key") {
  Store s(files_config());
  const std::string bytes = upload_bytes(10);
  for (const auto& [body, param] : std::vector<std::pair<std::string, std::string>>{
           {R"({"content_type":"video/mp4","size_bytes":10})", "filename"},
           {R"({"filename":"a.mp4","size_bytes":10})", "content_type"},
           {R"({"filename":"a.txt","content_type":"text/plain","size_bytes":10})", "content_type"},
           {R"({"filename":"a.mp4","content_type":"video/mp4"})", "size_bytes"},
           {R"({"filename":"a.mp4","content_type":"video/mp4","size_bytes":0})", "size_bytes"},
           {R"({"filename":"a.mp4","content_type":"video/mp4","size_bytes":1.5})", "size_bytes"},
           {R"({"filename":"a.mp4","content_type":"video/mp4","size_bytes":1e13})", "size_bytes"},
           {upload_body(bytes, R"(,"checksum_sha256":"abc")"), "checksum_sha256"},
       }) {
    const std::string& text = body;  // structured bindings cannot be captured by INFO's lambda
    INFO("body: ", text);
    CHECK(error_code(post(s, "/v3/assets/direct-uploads", text), 400) == "invalid_parameter " + param);
  }
  for (const char* type : {"video/webm", "video/quicktime", "audio/mpeg", "audio/wav", "image/png", "image/jpeg",
                           "application/pdf", "application/x-subrip"}) {
    const std::string body = R"({"filename":"a","content_type":")" + std::string(type) + R"(","size_bytes":10})";
    CHECK(post(s, "/v3/assets/direct-uploads", body)->status == 200);
  }
  CHECK(error_code(s.cli.Post("/v3/assets/direct-uploads", upload_body(bytes), "application/json"), 401) ==
        "unauthorized null");
  CHECK(error_code(s.cli.Get("/v3/assets/statuses?asset_ids=a"), 401) == "unauthorized null");
  std::string many = "a0";
  for (int i = 1; i <= 100; ++i) many += ",a" + std::to_string(i);
  CHECK(error_code(s.cli.Get("/v3/assets/statuses?asset_ids=" + many, api_key), 400) == "invalid_parameter asset_ids");
  const Upload upload = create_upload(s, upload_body(bytes));
  CHECK(s.cli.Put(upload.url, api_key, bytes, upload.content_type)->status == 200);  // taken, and counted
  CHECK(s.counts().storage_requests_with_api_key == 1);
}

TEST_CASE("simulator files: a multipart upload is an asset at once, then ingests") {
  SimulatorConfig config = files_config();
  config.storage.ingest_s = 0;
  Store s(config);
  const std::string bytes = upload_bytes(70'000);
  const httplib::MultipartFormDataItems items{{"file", bytes, "talk.mp4", "application/octet-stream"}};
  const auto data = data_of(s.cli.Post("/v3/assets", api_key, items));
  CHECK(data.get("mime_type").get<std::string>() == "video/mp4");
  CHECK(data.get("size_bytes").get<double>() == 70'000);
  const std::string id = data.get("asset_id").get<std::string>();
  CHECK(asset_status(s, id) == "completed");
  const httplib::MultipartFormDataItems text{{"file", "hello", "notes.txt", "text/plain"}};
  CHECK(error_code(s.cli.Post("/v3/assets", api_key, text), 400) == "invalid_parameter file");
  const httplib::MultipartFormDataItems other{{"video", bytes, "talk.mp4", "video/mp4"}};
  CHECK(error_code(s.cli.Post("/v3/assets", api_key, other), 400) == "invalid_parameter file");
  CHECK(s.counts().uploads_completed == 1);
}

TEST_CASE("simulator files: ingest can fail, with an error object") {
  SimulatorConfig config = files_config();
  config.storage.ingest_s = 0;
  config.storage.ingest_fail_rate = 1;
  Store s(config);
  const std::string bytes = upload_bytes(10);
  const Upload upload = create_upload(s, upload_body(bytes));
  REQUIRE(put(s, upload, bytes)->status == 200);
  REQUIRE(post(s, "/v3/assets/" + upload.id + "/complete", "{}")->status == 200);
  const auto entry = data_of(s.cli.Get("/v3/assets/statuses?asset_ids=" + upload.id, api_key)).get(0);
  CHECK(entry.get("status").get<std::string>() == "failed");
  CHECK(entry.get("error").get("code").get<std::string>() == "ingest_failed");
}

TEST_CASE("simulator files: storage faults on upload PUTs at rate 1") {
  const std::string bytes = upload_bytes(65536);
  SUBCASE("5xx: 500 and 503 in turn, with S3's XML") {
    SimulatorConfig config = files_config();
    config.storage.fail_5xx_rate = 1;
    Store s(config);
    const Upload upload = create_upload(s, upload_body(bytes));
    check_xml_error(put(s, upload, bytes), 500, "InternalError");
    check_xml_error(put(s, upload, bytes), 503, "SlowDown");
    CHECK(s.counts().fail_5xx == 2);
  }
  SUBCASE("cut: the connection closes after about half of the body") {
    SimulatorConfig config = files_config();
    config.storage.cut_rate = 1;
    Store s(config);
    const Upload upload = create_upload(s, upload_body(bytes));
    CHECK_FALSE(put(s, upload, bytes));
    const auto counts = s.counts();
    CHECK(counts.cuts == 1);
    CHECK(counts.upload_bytes_received >= 32768);
    CHECK(counts.upload_bytes_received < 65536);
    CHECK(error_code(post(s, "/v3/assets/" + upload.id + "/complete", "{}"), 400) == "invalid_parameter null");
  }
  SUBCASE("pace: 64 KiB at 256 KiB/s take about a quarter of a second") {
    SimulatorConfig config = files_config();
    config.storage.pace_bytes_per_s = 256 * 1024;
    Store s(config);
    const Upload upload = create_upload(s, upload_body(bytes));
    const auto start = Clock::now();
    CHECK(put(s, upload, bytes)->status == 200);
    CHECK(std::chrono::duration<double>(Clock::now() - start).count() > 0.2);
  }
}
