// Files in, files out, on the fake transport: downloads (resume, restart, fresh URLs, refusals, no overwrite) and
// uploads (the direct-upload calls, the bytes and headers sent, retries, bad files).
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include "fakes.hpp"
#include "scratch.hpp"

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using namespace heygen;
using namespace heygen::testing;
using V3Client = BasicVideoTranslationClient<FakeTransport, FakeClock, HeyGenV3Protocol>;

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

/// `n` bytes of a pattern that shows a misplaced byte.
std::string pattern(std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return out;
}

ClientOptions v3_test_options() {
  ClientOptions options = test_options();
  options.base_url = "http://127.0.0.1:5000";
  options.api_key = "secret-key";
  return options;
}

HttpResponse file_answer(const std::string& body) {
  return answer(200, body, {{"Content-Length", std::to_string(body.size())}, {"Content-Type", "video/mp4"}});
}

HttpResponse cut_answer(int status, const std::string& body, std::vector<HttpHeader> headers) {
  HttpResponse response = answer(status, body, std::move(headers));
  response.error = TransportError::reset;
  response.error_detail = "scripted cut";
  return response;
}

std::optional<std::string> header_of(const HttpRequest& request, std::string_view name) {
  for (const auto& header : request.headers)
    if (detail::iequals(header.name, name)) return header.value;
  return std::nullopt;
}

TranslationResult completed_with_video(const std::string& url) {
  TranslationResult result;
  result.status = TranslationStatus::completed;
  result.outputs.video_url = url;
  return result;
}

}  // namespace

TEST_CASE("a download lands whole under its final name, with no temporary file left") {
  TempDir dir;
  FakeTransport transport;
  const std::string body = pattern(10'000);
  transport.then(file_answer(body));
  V3Client client(v3_test_options(), transport);
  const auto files =
      client.download_outputs("job1", completed_with_video("http://127.0.0.1:6000/f/video.mp4?X=1"), dir.path.string());
  REQUIRE(files.size() == 1);
  CHECK(files[0].path == dir.file("job1.video.mp4"));
  CHECK(files[0].bytes == body.size());
  CHECK(read_file(files[0].path) == body);
  CHECK_FALSE(std::filesystem::exists(files::PartialFile::temporary_name(files[0].path)));
  const auto sent = transport.requests();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].url == "http://127.0.0.1:6000/f/video.mp4?X=1");
  CHECK_FALSE(header_of(sent[0], "X-Api-Key"));  // storage never sees the key
  CHECK_FALSE(header_of(sent[0], "Authorization"));
}

TEST_CASE("a download cut mid-way resumes from the byte it reached, and moves no byte twice") {
  TempDir dir;
  FakeTransport transport;
  const std::string body = pattern(10'000);
  transport.then(cut_answer(200, body.substr(0, 4'000), {{"Content-Length", "10000"}}))
      .then(answer(206, body.substr(4'000), {{"Content-Range", "bytes 4000-9999/10000"}, {"Content-Length", "6000"}}));
  V3Client client(v3_test_options(), transport);
  const auto files = client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string());
  CHECK(read_file(files.at(0).path) == body);
  CHECK(files[0].received == body.size());
  CHECK(files[0].resumed);
  const auto sent = transport.requests();
  REQUIRE(sent.size() == 2);
  CHECK_FALSE(header_of(sent[0], "Range"));
  CHECK(header_of(sent[1], "Range") == "bytes=4000-");
}

TEST_CASE("a 200 answer to a range request starts the file again") {
  TempDir dir;
  FakeTransport transport;
  const std::string body = pattern(5'000);
  transport.then(cut_answer(200, body.substr(0, 1'000), {{"Content-Length", "5000"}})).then(file_answer(body));
  V3Client client(v3_test_options(), transport);
  const auto files = client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string());
  CHECK(read_file(files.at(0).path) == body);
  CHECK(files[0].received == 6'000);
}

TEST_CASE("a partial file left by an earlier run is resumed, not fetched again") {
  TempDir dir;
  const std::string body = pattern(3'000);
  write_file(files::PartialFile::temporary_name(dir.file("job1.video.mp4")), body.substr(0, 2'500));
  FakeTransport transport;
  transport.then(answer(206, body.substr(2'500), {{"Content-Range", "bytes 2500-2999/3000"}}));
  V3Client client(v3_test_options(), transport);
  const auto files = client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string());
  CHECK(read_file(files.at(0).path) == body);
  CHECK(files[0].received == 500);
}

TEST_CASE("a 416 saying the file is already whole places it (a body cut just after its last byte)") {
  TempDir dir;
  const std::string body = pattern(3'000);
  write_file(files::PartialFile::temporary_name(dir.file("job1.video.mp4")), body);
  FakeTransport transport;
  transport.then(answer(416, "<Error/>", {{"Content-Range", "bytes */3000"}}));
  V3Client client(v3_test_options(), transport);
  const auto files = client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string());
  CHECK(read_file(files.at(0).path) == body);
  CHECK(transport.request_count() == 1);
}

TEST_CASE("an expired URL gets one fresh look at the job, and the download carries on from its byte") {
  TempDir dir;
  FakeTransport transport;
  const std::string body = pattern(8'000);
  transport.otherwise([&](const HttpRequest& request) {
    if (request.target.find("/v3/video-translations/job1") != std::string::npos)
      return answer(200, R"({"data": {"id": "job1", "status": "completed", "video_url": "http://s/new.mp4"}})");
    if (request.url == "http://s/old.mp4" && !header_of(request, "Range"))
      return cut_answer(200, body.substr(0, 3'000), {{"Content-Length", "8000"}});
    if (request.url == "http://s/old.mp4") return answer(403, "<Error><Code>AccessDenied</Code></Error>");
    return answer(206, body.substr(3'000), {{"Content-Range", "bytes 3000-7999/8000"}});
  });
  V3Client client(v3_test_options(), transport);
  const auto files = client.download_outputs("job1", completed_with_video("http://s/old.mp4"), dir.path.string());
  CHECK(read_file(files.at(0).path) == body);
  const auto sent = transport.requests();
  REQUIRE(sent.size() == 4);
  CHECK(sent[2].target.find("/v3/video-translations/job1") != std::string::npos);
  CHECK(sent[3].url == "http://s/new.mp4");
  CHECK(header_of(sent[3], "Range") == "bytes=3000-");
}

TEST_CASE("a URL that stays expired ends the download with a clear error and no final file") {
  TempDir dir;
  FakeTransport transport;
  transport.otherwise([](const HttpRequest& request) {
    if (request.target.find("/v3/video-translations/") != std::string::npos)
      return answer(200, R"({"data": {"id": "job1", "status": "completed", "video_url": "http://s/again.mp4"}})");
    return answer(403, "<Error><Code>AccessDenied</Code></Error>");
  });
  V3Client client(v3_test_options(), transport);
  try {
    client.download_outputs("job1", completed_with_video("http://s/old.mp4"), dir.path.string());
    FAIL("no error");
  } catch (const TranslationError& e) {
    CHECK(e.http_status() == 403);
    CHECK(std::string(e.what()).find("expired") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("job1.video.mp4")));
}

TEST_CASE("storage answering an HTML page or the wrong range is refused, and nothing is placed") {
  TempDir dir;
  FakeTransport transport;
  SUBCASE("an HTML page") {
    transport.then(answer(200, "<html>oops</html>", {{"Content-Type", "text/html; charset=utf-8"}}));
  }
  SUBCASE("a range other than the one asked for") {
    write_file(files::PartialFile::temporary_name(dir.file("job1.video.mp4")), "abc");
    transport.then(answer(206, "zzz", {{"Content-Range", "bytes 0-2/6"}}));
  }
  V3Client client(v3_test_options(), transport);
  CHECK_THROWS_AS(client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string()),
                  TranslationError);
  CHECK_FALSE(std::filesystem::exists(dir.file("job1.video.mp4")));
  CHECK(transport.request_count() == 1);
}

TEST_CASE("a download never replaces an existing file unless asked to") {
  TempDir dir;
  write_file(dir.file("job1.video.mp4"), "mine");
  FakeTransport transport;
  transport.then(file_answer("theirs"));
  V3Client client(v3_test_options(), transport);
  CHECK_THROWS_AS(client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string()),
                  FileError);
  CHECK(read_file(dir.file("job1.video.mp4")) == "mine");
  CHECK(transport.request_count() == 0);
  DownloadOptions options;
  options.overwrite = true;
  client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string(), options);
  CHECK(read_file(dir.file("job1.video.mp4")) == "theirs");
}

TEST_CASE("cuts and 5xx are retried with backoff; a download gives up after max_retries in a row") {
  TempDir dir;
  FakeTransport transport;
  FakeClock clock;
  ClientOptions options = v3_test_options();
  options.max_retries = 2;
  transport.then(no_answer(TransportError::reset)).then(answer(503, "busy")).then(answer(500, "down"));
  V3Client client(options, transport, clock);
  CHECK_THROWS_AS(client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string()),
                  TranslationError);
  CHECK(transport.request_count() == 3);
  CHECK(clock.sleeps().size() == 2);
}

TEST_CASE("an output folder that is a file is a clear error naming it") {
  TempDir dir;
  write_file(dir.file("plain"), "x");
  FakeTransport transport;
  V3Client client(v3_test_options(), transport);
  try {
    client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.file("plain"));
    FAIL("no error");
  } catch (const FileError& e) {
    CHECK(e.path() == dir.file("plain"));
  }
}

TEST_CASE("an output folder that cannot be written is a clear error naming the file, before any byte is fetched") {
  // /proc takes no new files, even from root (who may write anywhere else): the temporary file cannot be made.
  FakeTransport transport;
  V3Client client(v3_test_options(), transport);
  try {
    client.download_outputs("job1", completed_with_video("http://s/v.mp4"), "/proc");
    FAIL("no error");
  } catch (const FileError& e) {
    CHECK(e.path() == "/proc/.job1.video.mp4.part");
    CHECK(e.error_number() != 0);
    CHECK(std::string(e.what()).find("cannot create the download's temporary file") != std::string::npos);
  }
  CHECK(transport.request_count() == 0);
}

TEST_CASE("a disk that refuses a download's bytes ends it with an error naming the file, and leaves no file") {
  // Mid-way (more than the 1 MiB buffer comes, so writes fail while the body flows) and at the end (the last
  // bytes written as the file is placed).
  for (const std::size_t size : {std::size_t{3} << 20, std::size_t{300'000}}) {
    CAPTURE(size);
    TempDir dir;
    FakeTransport transport;
    transport.then(file_answer(pattern(size)));
    V3Client client(v3_test_options(), transport);
    std::optional<FileError> error;
    {
      const FileSizeLimit full(100'000);
      try {
        client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string());
      } catch (const FileError& e) {
        error = e;
      }
    }
    REQUIRE(error);
    const std::string final_path = dir.file("job1.video.mp4");
    CHECK(error->path() == files::PartialFile::temporary_name(final_path));
    CHECK(error->error_number() == EFBIG);
    CHECK(std::string(error->what()).find("cannot write the download") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(final_path));
    CHECK_FALSE(std::filesystem::exists(files::PartialFile::temporary_name(final_path)));
    CHECK(transport.request_count() == 1);  // a full disk is not retried
  }
}

TEST_CASE("output file names come from the job id and the URL, made safe") {
  using client_files::output_path;
  CHECK(output_path("out", "j1", {"video", "http://s/a/b.MP4?x=1"}) == "out/j1.video.mp4");
  CHECK(output_path("out/", "j1", {"captions", "http://s/c.vtt#frag"}) == "out/j1.captions.vtt");
  CHECK(output_path("out", "../../etc/x", {"audio", "http://s/noext"}) == "out/_.._.._etc_x.audio.mp3");
  CHECK(client_files::safe_name(".hidden") == "_.hidden");
  CHECK(client_files::extension_of("http://s/a.b/c", "mp4") == "mp4");
}

TEST_CASE("Content-Range is read strictly") {
  using downloads::parse_content_range;
  const auto range = parse_content_range("bytes 100-199/1000");
  REQUIRE(range);
  CHECK(range->first == 100);
  CHECK(range->last == 199);
  CHECK(range->total == 1000);
  CHECK_FALSE(parse_content_range("bytes 100-199/*"));
  CHECK_FALSE(parse_content_range("bytes 200-100/1000"));
  CHECK_FALSE(parse_content_range("bytes 0-1000/1000"));
  CHECK_FALSE(parse_content_range("items 0-1/2"));
  CHECK_FALSE(parse_content_range("bytes -1/2"));
}

TEST_CASE("base64 and hex encode as the RFCs say") {
  CHECK(uploads::base64("") == "");
  CHECK(uploads::base64("f") == "Zg==");
  CHECK(uploads::base64("fo") == "Zm8=");
  CHECK(uploads::base64("foo") == "Zm9v");
  CHECK(uploads::base64("foobar") == "Zm9vYmFy");
  CHECK(uploads::hex(std::string("\x00\xff\x10", 3)) == "00ff10");
  CHECK(uploads::content_type_of("a/b.MP4") == "video/mp4");
  CHECK(uploads::content_type_of("a.b/c").empty());
  CHECK(uploads::content_type_of("clip.exe").empty());
}

namespace {

/// A v3 server for uploads: opens direct uploads (a new URL each time), takes PUTs as `on_put` says, completes,
/// and reports the ingest completed.
struct UploadServer {
  std::vector<std::string> put_bodies;
  int opened = 0;
  std::function<HttpResponse(const HttpRequest&)> on_put = [](const HttpRequest&) { return answer(200, ""); };

  HttpResponse operator()(const HttpRequest& request) {
    if (request.method == "POST" && request.target == "/v3/assets/direct-uploads") {
      ++opened;
      const std::string id = "asset" + std::to_string(opened);
      return answer(200, R"({"data": {"asset_id": ")" + id + R"(", "upload_url": "http://store/u/)" + id +
                             R"(?sig=1", "upload_headers": {"Content-Type": "video/mp4", "x-amz-meta": "v"},
                             "expires_in_seconds": 900, "max_bytes": 100, "status": "pending_upload"}})");
    }
    if (request.method == "PUT") {
      put_bodies.push_back(request.body);
      return on_put(request);
    }
    if (request.method == "POST" && request.target.find("/complete") != std::string::npos) {
      const std::string id = request.target.substr(11, request.target.find("/complete") - 11);
      return answer(200, R"({"data": {"asset_id": ")" + id + R"(", "status": "processing"}})");
    }
    if (request.target.find("/v3/assets/statuses?asset_ids=") == 0) {
      const std::string id = request.target.substr(request.target.find('=') + 1);
      return answer(200, R"({"data": [{"video_id": ")" + id + R"(", "status": "completed", "error": null}]})");
    }
    return answer(404, R"({"error": {"code": "not_found"}})");
  }
};

}  // namespace

TEST_CASE("upload_asset opens a direct upload, PUTs the file's bytes with its headers verbatim, completes, waits") {
  TempDir dir;
  write_file(dir.file("talk.mp4"), "abc");
  FakeTransport transport;
  UploadServer server;
  transport.otherwise([&](const HttpRequest& request) { return server(request); });
  V3Client client(v3_test_options(), transport);
  UploadOptions options;
#ifndef HEYGEN_VT_WITH_OPENSSL
  options.checksum = ChecksumEncoding::none;
#endif
  CHECK(client.upload_asset(dir.file("talk.mp4"), options) == "asset1");
  const auto sent = transport.requests();
  REQUIRE(sent.size() == 4);
  CHECK(sent[0].body.find(R"("filename":"talk.mp4")") != std::string::npos);
  CHECK(sent[0].body.find(R"("content_type":"video\/mp4")") != std::string::npos);
  CHECK(sent[0].body.find(R"("size_bytes":3)") != std::string::npos);
#ifdef HEYGEN_VT_WITH_OPENSSL
  CHECK(sent[0].body.find("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != std::string::npos);
#endif
  CHECK(sent[1].method == "PUT");
  CHECK(sent[1].url == "http://store/u/asset1?sig=1");
  CHECK(sent[1].body == "abc");
  CHECK(header_of(sent[1], "x-amz-meta") == "v");
  CHECK(header_of(sent[1], "Content-Type") == "video/mp4");
  CHECK_FALSE(header_of(sent[1], "X-Api-Key"));
  CHECK(sent[2].target == "/v3/assets/asset1/complete");
  CHECK(sent[3].target == "/v3/assets/statuses?asset_ids=asset1");
}

TEST_CASE("a PUT cut or answered 5xx goes again from the start; a 403 gets a fresh upload URL") {
  TempDir dir;
  const std::string body = pattern(3'000);
  write_file(dir.file("talk.webm"), body);
  FakeTransport transport;
  UploadServer server;
  int puts = 0;
  server.on_put = [&](const HttpRequest&) {
    ++puts;
    if (puts == 1) return no_answer(TransportError::reset);
    if (puts == 2) return answer(503, "<Error/>");
    if (puts == 3) return answer(403, "<Error><Code>AccessDenied</Code></Error>");
    return answer(200, "");
  };
  transport.otherwise([&](const HttpRequest& request) { return server(request); });
  V3Client client(v3_test_options(), transport);
  UploadOptions options;
  options.checksum = ChecksumEncoding::none;
  CHECK(client.upload_asset(dir.file("talk.webm"), options) == "asset2");
  REQUIRE(server.put_bodies.size() == 4);
  for (const auto& sent : server.put_bodies) CHECK(sent == body);
  CHECK(server.opened == 2);
}

TEST_CASE("a file that is missing, a folder, empty, of a type HeyGen does not take, or changing is refused") {
  TempDir dir;
  FakeTransport transport;
  UploadServer server;
  transport.otherwise([&](const HttpRequest& request) { return server(request); });
  V3Client client(v3_test_options(), transport);
  UploadOptions options;
  options.checksum = ChecksumEncoding::none;
  write_file(dir.file("empty.mp4"), "");
  write_file(dir.file("virus.exe"), "MZ");
  const auto refused = [&](const std::string& path, std::string_view why) {
    try {
      client.upload_asset(path, options);
      FAIL("no error for " << path);
    } catch (const FileError& e) {
      CHECK(e.path() == path);
      CHECK(std::string(e.what()).find(why) != std::string::npos);
    }
  };
  refused(dir.file("none.mp4"), "cannot open");
  refused(dir.path.string(), "directory");
  refused(dir.file("empty.mp4"), "empty");
  refused(dir.file("virus.exe"), "type");
  write_file(dir.file("growing.mp4"), "abc");
  server.on_put = [&](const HttpRequest&) {
    std::ofstream(dir.file("growing.mp4"), std::ios::app) << "more";
    return answer(200, "");
  };
  refused(dir.file("growing.mp4"), "changed");
  CHECK(transport.request_count() == 2);  // one open and one PUT: nothing completed
}

namespace {
/// A transport that cannot stream: it still builds a client, and a transfer through it fails clearly.
struct PlainTransport {
  HttpResponse send(const HttpRequest&) { return answer(200, "{}"); }
};
}  // namespace

TEST_CASE("a transport that does not stream gets a clear error from a download") {
  static_assert(!transport_streams<PlainTransport>);
  static_assert(transport_streams<FakeTransport>);
  TempDir dir;
  BasicVideoTranslationClient<PlainTransport, FakeClock, HeyGenV3Protocol> client(v3_test_options(), PlainTransport{});
  try {
    client.download_outputs("job1", completed_with_video("http://s/v.mp4"), dir.path.string());
    FAIL("no error");
  } catch (const TranslationError& e) {
    CHECK(std::string(e.what()).find("does not stream") != std::string::npos);
  }
}
