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

#include "status_simulator.hpp"

namespace {

using namespace heygen;
using namespace std::chrono_literals;

/// A started heygen-v3 simulator whose jobs end at once, with outputs of `bytes` bytes.
struct FileStore {
  explicit FileStore(std::uint64_t bytes, sim::StorageConfig storage = {}) : server(config(bytes, storage)) {
    server.start();
  }
  static sim::SimulatorConfig config(std::uint64_t bytes, sim::StorageConfig storage) {
    sim::SimulatorConfig config;
    config.api = sim::Api::heygen_v3;
    config.duration = sim::DurationDistribution::fixed(0);
    config.storage = storage;
    config.storage.output_bytes = bytes;
    return config;
  }
  sim::StatusSimulator server;
};

/// A fresh folder, removed at the end.
struct Folder {
  std::filesystem::path path;
  Folder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "heygen-files-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  Folder(const Folder&) = delete;
  Folder& operator=(const Folder&) = delete;
  ~Folder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
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
  Folder dir;
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
  Folder dir;
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
  Folder dir;
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
  Folder dir;
  try {
    client.download_outputs(id, result, dir.path.string());
    FAIL("no error");
  } catch (const TranslationError& e) {
    CHECK(std::string(e.what()).find("HTML") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(dir.path / (id + ".video.mp4")));
}
