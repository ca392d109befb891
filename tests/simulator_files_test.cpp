// Integration tests of the simulator's object store (heygen_v3): presigned output downloads with ranges,
// refused URLs and storage faults, checked on the wire with a plain httplib::Client against output_content.
#include "status_simulator.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <picojson.h>

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

/// A heygen_v3 config whose jobs end at once, with outputs of `bytes` bytes.
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
