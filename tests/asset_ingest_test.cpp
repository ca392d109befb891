// Asset ingest: HeyGenV3AssetProtocol's requests and readings, and uploads whose ingests the client watches as jobs
// on a poller of their own (fake transport, fake clock).
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include "fakes.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

using namespace heygen;
using namespace heygen::testing;
using V3Client = BasicVideoTranslationClient<FakeTransport, FakeClock, HeyGenV3Protocol>;

namespace {

/// A fresh folder holding `count` small videos, removed at the end.
struct Videos {
  std::filesystem::path dir;
  std::vector<std::string> paths;
  explicit Videos(int count) {
    std::string pattern = (std::filesystem::temp_directory_path() / "heygen-ingest-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    for (int i = 0; i < count; ++i) {
      paths.push_back((dir / ("talk" + std::to_string(i) + ".mp4")).string());
      std::ofstream(paths.back(), std::ios::binary) << "video " << i;
    }
  }
  Videos(const Videos&) = delete;
  Videos& operator=(const Videos&) = delete;
  ~Videos() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

ClientOptions v3_options() {
  ClientOptions options = test_options();
  options.api_key = "secret-key";
  return options;
}

UploadOptions no_checksum() {
  UploadOptions options;
  options.checksum = ChecksumEncoding::none;
  return options;
}

/// The asset ids a statuses request names.
std::vector<std::string> named_ids(const std::string& target) {
  std::vector<std::string> ids;
  std::string rest = target.substr(target.find('=') + 1);
  rest = rest.substr(0, rest.find('&'));
  for (std::size_t at = 0;;) {
    const auto comma = rest.find("%2C", at);
    ids.push_back(rest.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) return ids;
    at = comma + 3;
  }
}

/// A v3 server for uploads whose ingest answer `word_for(asset id, ids the request named)` gives.
struct IngestServer {
  std::mutex mutex;
  std::condition_variable changed;
  int opened = 0;
  int completed = 0;
  std::vector<std::vector<std::string>> status_requests;
  std::function<std::string(const std::string&, const std::vector<std::string>&)> word_for =
      [](const std::string&, const std::vector<std::string>&) { return std::string("completed"); };

  HttpResponse operator()(const HttpRequest& request) {
    if (request.method == "POST" && request.target == "/v3/assets/direct-uploads") {
      std::lock_guard lock(mutex);
      const std::string id = "asset" + std::to_string(++opened);
      return answer(200, R"({"data": {"asset_id": ")" + id + R"(", "upload_url": "http://store/u/)" + id + R"("}})");
    }
    if (request.method == "PUT") return answer(200, "");
    if (request.method == "POST" && request.target.find("/complete") != std::string::npos) {
      const std::string id = request.target.substr(11, request.target.find("/complete") - 11);
      {
        std::lock_guard lock(mutex);
        ++completed;
      }
      changed.notify_all();
      return answer(200, R"({"data": {"asset_id": ")" + id + R"(", "status": "processing"}})");
    }
    if (request.target.rfind("/v3/assets/statuses?asset_ids=", 0) == 0) return statuses(named_ids(request.target));
    return answer(404, R"({"error": {"code": "not_found"}})");
  }

  /// Blocks (for real, a minute at most) until `count` uploads were completed: a clock hook calls it so that
  /// virtual time cannot run out for the first ingest while other threads are still uploading.
  void await_completed(int count) {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, std::chrono::minutes(1), [&] { return completed >= count; });
  }

  HttpResponse statuses(const std::vector<std::string>& ids) {
    std::lock_guard lock(mutex);
    status_requests.push_back(ids);
    std::string data;
    for (const auto& id : ids) {
      const std::string word = word_for(id, ids);
      if (!data.empty()) data += ",";
      data.append(R"({"video_id": ")").append(id).append(R"(", "status": ")").append(word).append(R"(", "error": )");
      data.append(word == "failed" ? R"({"code": "ingest_failed", "message": "not a video"})" : "null").append("}");
    }
    return answer(200, R"({"data": [)" + data + R"(], "has_more": false, "next_token": null})");
  }
};

/// The TranslationError upload_asset throws, or nothing.
std::optional<TranslationError> upload_error(V3Client& client, const std::string& path, std::stop_token stop = {}) {
  try {
    client.upload_asset(path, no_checksum(), std::move(stop));
  } catch (const TranslationError& e) {
    return e;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("asset protocol: looks and shared looks are statuses requests; answers read as job statuses") {
  const HeyGenV3AssetProtocol protocol(ClientOptions{.base_url = "https://api.example.com/base"});
  static_assert(Protocol<HeyGenV3AssetProtocol>);
  HttpRequest out;
  protocol.status_request(out, "a/1", Seconds(0));
  CHECK(out.method == "GET");
  CHECK(out.target == "/base/v3/assets/statuses?asset_ids=a%2F1");
  const std::string a = "a", b = "b c";
  const std::string* const ids[] = {&a, &b};
  HttpRequest many;
  protocol.many_status_request(many, ids, "tok=1", Seconds(0));
  CHECK(many.target == "/base/v3/assets/statuses?asset_ids=a%2Cb%20c&token=tok%3D1");
  CHECK(protocol.many_status_limit() == 100);

  const auto read = [&](const std::string& entry) {
    return protocol.read_status(answer(200, R"({"data": [)" + entry + R"(], "has_more": false})"));
  };
  CHECK(read(R"({"video_id": "a", "status": "queued", "error": null})")->status == TranslationStatus::pending);
  CHECK(read(R"({"video_id": "a", "status": "processing", "error": null})")->status == TranslationStatus::pending);
  CHECK(read(R"({"video_id": "a", "status": "completed", "error": null})")->status == TranslationStatus::completed);
  const auto failed = read(R"({"video_id": "a", "status": "failed", "error": {"message": "bad codec"}})");
  CHECK(failed->cause == FailureCause::job_failed);
  CHECK(failed->error_message->find("bad codec") != std::string::npos);
  const auto unknown = read(R"({"video_id": "a", "status": "not_found", "error": null})");
  CHECK(unknown->cause == FailureCause::unknown_job);
  CHECK(unknown->error_message == "not_found: the server knows no such asset");
  CHECK(read(R"({"video_id": "a", "status": "melted", "error": null})")->cause == FailureCause::unexpected_result);
  CHECK(read("").failure().cause == FailureCause::bad_response);
  CHECK(protocol.read_status(answer(200, "<html>")).failure().cause == FailureCause::bad_response);

  HttpRequest open;
  protocol.create_request(open, {"talk.mp4", "video/mp4", 3, "abc"}, "key");
  CHECK(open.target == "/base/v3/assets/direct-uploads");
  CHECK(open.body.find(R"("size_bytes":3)") != std::string::npos);
  const auto created = protocol.read_created(answer(200, R"({"data": {"asset_id": "x", "upload_url": "http://u"}})"));
  CHECK(created.value() == std::vector<std::string>{"x"});
}

TEST_CASE("ingest: an upload waits on the ingest poller until the asset is ingested, looking again while it is not") {
  Videos videos(1);
  FakeTransport transport;
  IngestServer server;
  int looks = 0;
  server.word_for = [&](const std::string&, const std::vector<std::string>&) {
    return std::string(++looks < 3 ? "processing" : "completed");
  };
  transport.otherwise([&](const HttpRequest& request) { return server(request); });
  V3Client client(v3_options(), transport);
  CHECK(client.upload_asset(videos.paths[0], no_checksum()) == "asset1");
  CHECK(server.status_requests.size() == 3);
  const PollerStats stats = client.ingest_stats();
  CHECK(stats.requests == 3);
  CHECK(stats.jobs == 0);  // ended, so no longer watched
  CHECK(stats.workers >= 1);
  CHECK(client.poller_stats().workers == 0);  // the translations' poller never started
}

TEST_CASE("ingest: the ingests of uploads made at once share statuses requests") {
  Videos videos(3);
  FakeTransport transport;
  IngestServer server;
  std::atomic<bool> shared{false};
  // Processing until one request names several assets; from then on, every asset is ingested.
  server.word_for = [&](const std::string&, const std::vector<std::string>& ids) {
    if (ids.size() > 1) shared = true;
    return std::string(shared ? "completed" : "processing");
  };
  transport.otherwise([&](const HttpRequest& request) { return server(request); });
  ClientOptions options = v3_options();
  options.max_timeout = Seconds(3600);
  V3Client client(options, transport);
  // The fake clock jumps at once; without this gate a slow machine (valgrind) let the first ingest's hour of
  // virtual time pass before the other uploads had even opened, and no request could name several assets.
  client.clock().on_sleep([&] { server.await_completed(static_cast<int>(videos.paths.size())); });
  std::vector<std::future<std::string>> uploads;
  for (const auto& path : videos.paths)
    uploads.push_back(
        std::async(std::launch::async, [&client, path] { return client.upload_asset(path, no_checksum()); }));
  std::set<std::string> ids;
  for (auto& upload : uploads) ids.insert(upload.get());
  CHECK(ids == std::set<std::string>{"asset1", "asset2", "asset3"});
  CHECK(shared);
  const auto widest = std::max_element(server.status_requests.begin(), server.status_requests.end(),
                                       [](const auto& x, const auto& y) { return x.size() < y.size(); });
  CHECK(widest->size() >= 2);
}

TEST_CASE("ingest: a failed ingest, an unknown asset, a deadline and a cancel each end the upload with a clear error") {
  Videos videos(1);
  FakeTransport transport;
  IngestServer server;
  transport.otherwise([&](const HttpRequest& request) { return server(request); });
  ClientOptions options = v3_options();
  options.max_timeout = Seconds(60);
  V3Client client(options, transport);

  server.word_for = [](const std::string&, const std::vector<std::string>&) { return std::string("failed"); };
  auto error = upload_error(client, videos.paths[0]);
  REQUIRE(error);
  CHECK(error->cause() == FailureCause::job_failed);
  CHECK(std::string(error->what()).find("asset asset1 failed to ingest") != std::string::npos);
  CHECK(std::string(error->what()).find("not a video") != std::string::npos);

  server.word_for = [](const std::string&, const std::vector<std::string>&) { return std::string("not_found"); };
  error = upload_error(client, videos.paths[0]);
  REQUIRE(error);
  CHECK(error->cause() == FailureCause::unknown_job);
  CHECK(std::string(error->what()).find("asset asset2: not_found") != std::string::npos);

  server.word_for = [](const std::string&, const std::vector<std::string>&) { return std::string("processing"); };
  const auto started = client.clock().now();
  error = upload_error(client, videos.paths[0]);
  REQUIRE(error);
  CHECK(error->cause() == FailureCause::deadline);
  CHECK(client.clock().now() - started >= std::chrono::seconds(60));
  CHECK(client.clock().now() - started < std::chrono::seconds(70));

  std::stop_source stop;
  int looks = 0;
  server.word_for = [&](const std::string&, const std::vector<std::string>&) {
    if (++looks == 2) stop.request_stop();
    return std::string("processing");
  };
  error = upload_error(client, videos.paths[0], stop.get_token());
  REQUIRE(error);
  CHECK(error->cause() == FailureCause::cancelled);
  CHECK(client.ingest_stats().watches == 0);
}
