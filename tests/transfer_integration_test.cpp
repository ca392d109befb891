// Downloads on the real transport against the simulator's object store (heygen-v3): every output byte for byte,
// through cuts, wrong lengths, expired links and HTML error pages.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "scratch.hpp"
#include "status_simulator.hpp"

namespace {

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

/// A started heygen-v3 simulator whose jobs end at once, with outputs of `bytes` bytes.
struct FileStore {
  explicit FileStore(std::uint64_t bytes, sim::StorageConfig storage = {}, double error_probability = 0)
      : server(config(bytes, storage, error_probability)) {
    server.start();
  }
  static sim::SimulatorConfig config(std::uint64_t bytes, sim::StorageConfig storage, double error_probability) {
    sim::SimulatorConfig config;
    config.error_probability = error_probability;
    config.api = sim::Api::heygen_v3;
    config.duration = sim::DurationDistribution::fixed(0);
    config.storage = storage;
    config.storage.output_bytes = bytes;
    return config;
  }
  sim::StatusSimulator server;
};

ClientOptions store_options(const sim::StatusSimulator& server) {
  ClientOptions options = heygen_v3_options("sim-key", server.base_url());
  options.max_retries = 8;
  options.initial_backoff = 5ms;
  options.max_backoff = 20ms;
  options.max_timeout = 20s;
  options.request_timeout = 5s;
  options.polling.long_poll = Seconds(0);
  return options;
}

/// One completed job with captions: its id and result.
std::pair<std::string, TranslationResult> completed_job(HeyGenClient& client) {
  TranslationRequest request = TranslationRequest::from_url("https://example.com/talk.mp4", {"German"});
  request.enable_caption = true;
  const std::string id = client.create_translation_jobs(request).at(0);
  TranslationResult result = client.get_translation_status(id);
  REQUIRE(result.ok());
  return {id, std::move(result)};
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The bytes the simulator serves for output `name` of job `id`.
std::string expected(const std::string& id, std::string_view name, std::uint64_t size) {
  std::string out(size, '\0');
  sim::output_content(id, name, 0, out.data(), out.size());
  return out;
}

/// Checks that each output of job `id` is on disk in `dir`, byte for byte what the simulator serves.
void check_outputs(const std::vector<Downloaded>& files, const std::string& id, std::uint64_t size) {
  REQUIRE(files.size() == 4);
  const std::vector<std::string_view> names{"video.mp4", "audio.mp3", "captions.srt", "captions.vtt"};
  for (std::size_t i = 0; i < files.size(); ++i) {
    CHECK(files[i].bytes == size);
    CHECK(read_all(files[i].path) == expected(id, names[i], size));
    CHECK_FALSE(std::filesystem::exists(files::PartialFile::temporary_name(files[i].path)));
  }
}

}  // namespace

TEST_CASE("integration files: every output of a job downloads byte for byte, storage never sees the key") {
  FileStore store(300'000);
  HeyGenClient client(store_options(store.server));
  const auto [id, result] = completed_job(client);
  TempDir dir;
  const auto files = client.download_outputs(id, result, dir.path.string());
  check_outputs(files, id, 300'000);
  CHECK(files[0].path == (dir.path / (id + ".video.mp4")).string());
  CHECK(files[2].path == (dir.path / (id + ".captions.srt")).string());
  CHECK(store.server.stats().totals.storage.storage_requests_with_api_key == 0);
}

TEST_CASE("integration files: cut bodies and short Content-Lengths resume with Range and still match") {
  sim::StorageConfig storage;
  SUBCASE("cut mid-way") { storage.cut_rate = 0.5; }
  SUBCASE("a Content-Length longer than the body") { storage.wrong_length_rate = 0.5; }
  FileStore store(400'000, storage);
  HeyGenClient client(store_options(store.server));
  const auto [id, result] = completed_job(client);
  TempDir dir;
  const auto files = client.download_outputs(id, result, dir.path.string());
  check_outputs(files, id, 400'000);
  std::uint64_t received = 0;
  for (const auto& file : files) received += file.received;
  CHECK(received == 4 * 400'000);  // every byte moved once: resumed, never fetched whole again
}

TEST_CASE("integration files: links that expired get one fresh look each, and the downloads go on") {
  sim::StorageConfig storage;
  storage.url_lifetime_s = 1;
  FileStore store(1'000, storage);
  HeyGenClient client(store_options(store.server));
  const auto [id, result] = completed_job(client);
  std::this_thread::sleep_for(2100ms);  // the links in `result` are past their expiry (whole seconds) now
  TempDir dir;
  const auto files = client.download_outputs(id, result, dir.path.string());
  check_outputs(files, id, 1'000);
  for (const auto& file : files) CHECK(file.requests == 3);  // the expired GET, the fresh look, the GET
  CHECK(store.server.stats().totals.storage.storage_403s >= 4);
}

TEST_CASE("integration files: storage answering an HTML page is refused and nothing is written") {
  sim::StorageConfig storage;
  storage.html_error_rate = 1;
  FileStore store(1'000, storage);
  HeyGenClient client(store_options(store.server));
  const auto [id, result] = completed_job(client);
  TempDir dir;
  try {
    client.download_outputs(id, result, dir.path.string());
    FAIL("no error");
  } catch (const TranslationError& e) {
    CHECK(std::string(e.what()).find("HTML") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir.path / (id + ".video.mp4")));
}

namespace {

/// A source video of `bytes` bytes at `path`.
void write_source(const std::filesystem::path& path, std::size_t bytes) {
  std::string body(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) body[i] = static_cast<char>((i * 131 + i / 977) & 0xFF);
  std::ofstream(path, std::ios::binary) << body;
}

}  // namespace

TEST_CASE("integration files: translate_file uploads, translates into two languages, writes every output") {
  FileStore store(200'000);
  HeyGenClient client(store_options(store.server));
  TempDir dir;
  write_source(dir.path / "talk.mp4", 1'000'000);
  TranslationRequest request;
  request.enable_caption = true;
  std::uint64_t uploaded = 0;
  int downloading = 0;
  int outcomes = 0;
  const auto translated =
      client.translate_file((dir.path / "talk.mp4").string(), {"German", "French (France)"},
                            (dir.path / "out").string(), request, [&](const TranslateProgress& step) {
                              if (step.phase == TranslateProgress::Phase::uploading) uploaded = step.done;
                              if (step.phase == TranslateProgress::Phase::downloading) ++downloading;
                              if (step.result != nullptr) ++outcomes;
                            });
  REQUIRE(translated.size() == 2);
  CHECK(translated[0].language == "German");
  CHECK(translated[1].language == "French (France)");
  for (const auto& entry : translated) {
    CHECK(entry.error.empty());
    CHECK(entry.result.ok());
    check_outputs(entry.files, entry.job_id, 200'000);
  }
  CHECK(translated[0].files[0].path == (dir.path / "out" / "talk.German.video.mp4").string());
  CHECK(translated[1].files[3].path == (dir.path / "out" / "talk.French__France_.captions.vtt").string());
  CHECK(uploaded == 1'000'000);
  CHECK(downloading > 0);
  CHECK(outcomes == 2);
  const auto storage = store.server.stats().totals.storage;
  CHECK(storage.uploads_completed == 1);
  CHECK(storage.upload_bytes_received == 1'000'000);
  CHECK(storage.storage_requests_with_api_key == 0);
  // The same again into the same folder: refused before anything is uploaded or created (paid for).
  CHECK_THROWS_AS(
      client.translate_file((dir.path / "talk.mp4").string(), {"French (France)"}, (dir.path / "out").string()),
      FileError);
  CHECK(store.server.stats().totals.storage.uploads_started == storage.uploads_started);
}

TEST_CASE("integration files: an upload through PUTs answered 5xx or cut still arrives whole, once") {
  sim::StorageConfig storage;
  SUBCASE("5xx") { storage.fail_5xx_rate = 0.5; }
  SUBCASE("cut") { storage.cut_rate = 0.5; }
  FileStore store(1'000, storage);
  HeyGenClient client(store_options(store.server));
  TempDir dir;
  write_source(dir.path / "talk.webm", 300'000);
  const std::string asset = client.upload_asset((dir.path / "talk.webm").string());
  CHECK_FALSE(asset.empty());
  const auto counts = store.server.stats().totals.storage;
  CHECK(counts.uploads_completed == 1);
  CHECK(counts.upload_puts >= 1);
}

TEST_CASE("integration files: a language whose job failed says so; the file's other languages are written") {
  FileStore store(1'000, {}, 0.5);
  HeyGenClient client(store_options(store.server));
  TempDir dir;
  write_source(dir.path / "talk.mp4", 10'000);
  const std::vector<std::string> languages{"German", "French (France)", "Spanish (Spain)", "Italian", "Dutch"};
  const auto translated =
      client.translate_file((dir.path / "talk.mp4").string(), languages, (dir.path / "out").string());
  REQUIRE(translated.size() == languages.size());
  for (const auto& entry : translated) {
    if (entry.result.ok()) {
      CHECK(entry.error.empty());
      CHECK(entry.files.size() == 2);  // video and audio: no captions were asked for
    } else {
      CHECK(entry.files.empty());
      CHECK_FALSE(entry.error.empty());
    }
  }
}
