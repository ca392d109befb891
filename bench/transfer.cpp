// bench/transfer: streamed file transfers (issue 24), the library beside the transport's own limit and curl.
//
// Real runs over loopback against status_server speaking HeyGen's v3 API in its own process: translated outputs of
// --size bytes (default 1 GiB) at presigned /files URLs, direct uploads PUT to presigned /uploads URLs (hashed as
// they arrive, never kept; assets ingest at once, --ingest-s 0, so the library's wait for the ingest is one look).
// Every transfer is made by a child process, this program again in a hidden mode (--mover) or curl, so that its
// CPU (user + sys) and peak memory (ru_maxrss) come from wait4 and are its own (ru_maxrss also counts the bench's
// own small peak: a child starts in its spawner's memory; the movers print their own VmHWM too); its wall time runs
// from the spawn to its exit. The files live in a mkdtemp folder, removed at the end; the source is written once per
// run.
//   throughput  each way: the library (download_outputs of the video alone; upload_asset with no checksum), a raw
//               cpp-httplib loop (a GET whose content receiver writes each piece to the file; a PUT whose content
//               provider reads the file 256 KiB at a time) and curl, interleaved, --runs runs (3): medians. Beside
//               them, no floor: the raw GET with an fsync before it ends (the library syncs a download before it
//               places it), and upload_asset with its default hex SHA-256 (the file read twice).
//               Floor: library >= 0.9x the raw loop, both ways.
//   paced       storage paced at 100 MiB/s (--storage-pace), half of --size (512 MiB) each way, one run each:
//               library >= 0.95x the pace; curl and the raw GET with an fsync beside it.
//   memory      the library's peak RSS moving --size and, with --big, 4 GiB each way: <= 32 MiB.
//   resume      a download cut at 50 % and resumed: moved again <= 52 % of the file (see resume_section()).
//   translate   translate_file of 10 files x 3 languages at once on one client (outputs of 50 MiB): every file on
//               disk, byte for byte what the simulator's content function makes.
// --only throughput|paced|memory|resume|translate runs one section (memory with only the 4 GiB rows of --big). The
// floors are printed, never asserted: the exit status is non-zero only when a transfer failed.
#include <heygen/video_translation.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "loopback.hpp"
#include "objects.hpp"
#include "server_process.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint64_t mib = std::uint64_t{1} << 20;
constexpr std::uint64_t gib = std::uint64_t{1} << 30;
constexpr const char* api_key = "bench-transfer-key";
constexpr const char* upload_type = "video/mp4";  // what upload_asset derives from the source's name, source.mp4
constexpr std::size_t put_chunk = std::size_t{256} << 10;  // the raw PUT's reads: as large as the library's

/// What the command line asked for.
struct Options {
  std::uint64_t size = gib;
  int runs = 3;
  bool big = false;  // --big: the memory section also moves 4 GiB each way
  std::string only;  // --only SECTION: that section alone (throughput, paced, memory, resume, translate)
  std::string server;
  std::string self;  // this program, run again as a mover
  std::string curl;  // empty: curl is missing, its rows are skipped
};

// ---- the movers: this program run again with --mover KIND ARGS... (one transfer, then exit) ----

/// ClientOptions for HeyGen's v3 API at `base` with `retries` retries, each after at most 0.1 s: the resume
/// section's cuts are retried at once rather than after the seed's half-second backoff.
heygen::ClientOptions client_options(const std::string& base, int retries) {
  heygen::ClientOptions options = heygen::heygen_v3_options(api_key, base);
  options.max_retries = retries;
  options.initial_backoff = heygen::Seconds(0.01);
  options.max_backoff = heygen::Seconds(0.1);
  return options;
}

/// lib-get BASE JOB URL DIR RETRIES: download_outputs of a result that names the video at URL alone; prints the
/// file's bytes, the bytes received and the GETs sent.
int library_get(const std::vector<std::string>& args) {
  heygen::HeyGenClient client(client_options(args.at(0), std::stoi(args.at(4))));
  heygen::TranslationResult result;
  result.status = heygen::TranslationStatus::completed;
  result.outputs.video_url = args.at(2);
  const heygen::Downloaded file = client.download_outputs(args.at(1), result, args.at(3)).at(0);
  std::printf("%llu %llu %d\n", static_cast<unsigned long long>(file.bytes),
              static_cast<unsigned long long>(file.received), file.requests);
  return 0;
}

/// lib-put BASE FILE hex|none: upload_asset of FILE with that checksum; prints the asset id.
int library_put(const std::vector<std::string>& args) {
  heygen::HeyGenClient client(client_options(args.at(0), 0));
  heygen::UploadOptions options;
  options.checksum = args.at(2) == "hex" ? heygen::ChecksumEncoding::hex : heygen::ChecksumEncoding::none;
  std::printf("%s\n", client.upload_asset(args.at(1), options).c_str());
  return 0;
}

/// `url` split into its origin (scheme, host, port) and its target (path and query), as httplib::Client takes it.
std::pair<std::string, std::string> split_url(const std::string& url) {
  const auto scheme = url.find("://");
  const auto path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme == std::string::npos || path == std::string::npos) throw std::invalid_argument("bad URL " + url);
  return {url.substr(0, path), url.substr(path)};
}

/// Writes all `n` bytes to `fd`; false on an error.
bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t put = ::write(fd, data, n);
    if (put <= 0) return false;
    data += put;
    n -= static_cast<std::size_t>(put);
  }
  return true;
}

/// raw-get URL FILE [fsync]: one plain GET, each piece httplib hands over written to FILE as it comes.
int raw_get(const std::vector<std::string>& args) {
  const auto [origin, target] = split_url(args.at(0));
  const int fd = ::open(args.at(1).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return 1;
  httplib::Client http(origin);
  http.set_url_encode(false);  // the presigned query goes out as signed
  http.set_read_timeout(60, 0);
  bool written = true;
  const auto response =
      http.Get(target, [&](const char* data, std::size_t n) { return written = write_all(fd, data, n); });
  const bool synced = args.size() < 3 || ::fsync(fd) == 0;
  const bool closed = ::close(fd) == 0;
  return response && response->status == 200 && written && synced && closed ? 0 : 1;
}

/// raw-put URL FILE [NAME VALUE]...: one plain PUT of FILE with those headers, its body read from the file as
/// httplib asks for it.
int raw_put(const std::vector<std::string>& args) {
  const auto [origin, target] = split_url(args.at(0));
  const int fd = ::open(args.at(1).c_str(), O_RDONLY | O_CLOEXEC);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0) return 1;
  httplib::Headers headers;
  std::string type;
  for (std::size_t i = 2; i + 1 < args.size(); i += 2)
    if (args[i] == "Content-Type")
      type = args[i + 1];  // httplib sets it from its own argument; a second one would be sent too
    else
      headers.emplace(args[i], args[i + 1]);
  httplib::Client http(origin);
  http.set_url_encode(false);
  http.set_write_timeout(60, 0);
  http.set_read_timeout(60, 0);
  std::vector<char> chunk(put_chunk);
  const auto provide = [&](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
    const ssize_t got = ::pread(fd, chunk.data(), std::min(length, chunk.size()), static_cast<off_t>(offset));
    return got > 0 && sink.write(chunk.data(), static_cast<std::size_t>(got));
  };
  const auto response = http.Put(target, headers, static_cast<std::size_t>(info.st_size), provide, type);
  ::close(fd);
  return response && response->status == 200 ? 0 : 1;
}

/// The hidden mode: one transfer of KIND; exit status 0 when it succeeded. Its last line of output is its own
/// peak resident memory.
int mover_main(int argc, char** argv) {
  const std::string kind = argc > 2 ? argv[2] : "";
  const std::vector<std::string> args(argv + std::min(argc, 3), argv + argc);
  try {
    int status = 1;
    if (kind == "lib-get")
      status = library_get(args);
    else if (kind == "lib-put")
      status = library_put(args);
    else if (kind == "raw-get")
      status = raw_get(args);
    else if (kind == "raw-put")
      status = raw_put(args);
    else
      std::fprintf(stderr, "transfer --mover: unknown kind '%s'\n", kind.c_str());
    // Its own peak since exec: ru_maxrss, as its spawner reads it, also counts the spawner's peak (see Usage).
    std::printf("vmhwm %.2f\n", bench::status_mib("VmHWM"));
    return status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transfer --mover %s: %s\n", kind.c_str(), e.what());
  }
  return 1;
}

// ---- running a mover: a child process, its wall time and rusage ----

/// What one child process did: its wall time (spawn to exit), CPU, peak memory and stdout.
struct Usage {
  bool ok = false;  // exited 0
  double wall_s = 0;
  double user_s = 0;
  double sys_s = 0;
  double rss_mib = 0;      // ru_maxrss: a spawned child starts in its spawner's memory, so at least this bench's peak
  double own_rss_mib = 0;  // a mover's own VmHWM since its exec, as it printed it (0 for curl)
  std::string out;
};

/// Runs `argv` (argv[0] looked up in PATH) to its end, its stdout captured, its stderr the bench's (or dropped when
/// `quiet`: a failure the bench expects).
Usage run_child(const std::vector<std::string>& argv, bool quiet = false) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  if (quiet) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> copy = argv;
  std::vector<char*> pointers;
  for (auto& arg : copy) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  std::fflush(stdout);
  const auto started = Clock::now();
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, pointers[0], &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  Usage usage;
  char buffer[4096];
  for (ssize_t n = 0; rc == 0 && (n = ::read(out[0], buffer, sizeof buffer)) > 0;)
    usage.out.append(buffer, static_cast<std::size_t>(n));
  ::close(out[0]);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0]);
  int status = 0;
  rusage used{};
  ::wait4(pid, &status, 0, &used);
  usage.wall_s = std::chrono::duration<double>(Clock::now() - started).count();
  auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  usage.user_s = seconds(used.ru_utime);
  usage.sys_s = seconds(used.ru_stime);
  usage.rss_mib = static_cast<double>(used.ru_maxrss) / 1024.0;
  usage.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (const auto at = usage.out.rfind("vmhwm "); at != std::string::npos)
    usage.own_rss_mib = std::strtod(usage.out.c_str() + at + 6, nullptr);
  return usage;
}

/// The size of the file at `path`, or 0 when there is none.
std::uint64_t file_size(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<std::uint64_t>(size);
}

/// Removes the file at `path`, if any.
void remove_file(const std::string& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

/// `usage`, unless the run failed: then throws (a failed transfer is a broken bench, not a slow one).
Usage checked(Usage usage, const std::string& what) {
  if (!usage.ok) throw std::runtime_error(what + " failed");
  return usage;
}

// ---- the simulator side: folders, the source file, jobs, upload targets ----

/// A fresh folder from mkdtemp, removed with what it holds at the end.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "heygen-transfer-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  /// The folder's path joined with `name`.
  [[nodiscard]] std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Writes `size` random-looking bytes (SplitMix64, so nothing compresses or repeats) to `path` and syncs them, so
/// the disk's write-back of the source does not run during the measured transfers.
void write_source(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  std::vector<std::uint64_t> words(mib / 8);
  std::uint64_t state = 0x5eed;
  bool ok = true;
  for (std::uint64_t done = 0; ok && done < size;) {
    for (auto& word : words) {
      std::uint64_t z = state += 0x9e3779b97f4a7c15ULL;
      z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31U);
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(mib, size - done));
    ok = write_all(fd, reinterpret_cast<const char*>(words.data()), n);
    done += n;
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) throw std::runtime_error("cannot write " + path);
}

/// status_server's flags for HeyGen's v3 API with outputs of `size` bytes, plus `extra`.
std::vector<std::string> simulator_flags(std::uint64_t size, std::vector<std::string> extra = {}) {
  std::vector<std::string> flags{
      "--api",      "heygen-v3", "--api-key",          api_key,
      "--duration", "fixed:0",   "--output-bytes",     std::to_string(size),
      "--ingest-s", "0",         "--max-upload-bytes", std::to_string(std::max(size, 8 * gib))};
  flags.insert(flags.end(), extra.begin(), extra.end());
  return flags;
}

/// A completed job: its id and its video's presigned URL.
struct Job {
  std::string id;
  std::string video_url;
};

/// Creates one job on the simulator at `base` and looks until it completed (jobs last 0 s: a look or two).
Job completed_job(const std::string& base) {
  heygen::HeyGenClient client(client_options(base, 3));
  const std::string id =
      client.create_translation_jobs(heygen::TranslationRequest::from_url("https://example.com/talk.mp4", {"German"}))
          .at(0);
  for (int look = 0; look < 100; ++look) {
    const heygen::TranslationResult result = client.check_translation_status(id);
    if (result.ok() && result.outputs.video_url) return {id, *result.outputs.video_url};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("job " + id + " did not complete");
}

/// GETs `target` of the simulator at `base` (or POSTs `post_body` to it) with the API key; the parsed JSON body.
picojson::value api_json(const std::string& base, const std::string& target, const std::string& post_body = {}) {
  httplib::Client http(base);
  const httplib::Headers headers{{"X-Api-Key", api_key}};
  const auto response =
      post_body.empty() ? http.Get(target, headers) : http.Post(target, headers, post_body, "application/json");
  picojson::value json;
  if (!response || response->status != 200 || !picojson::parse(json, response->body).empty())
    throw std::runtime_error(target + " failed");
  return json;
}

/// Opens a direct upload of `size` bytes (no checksum) for the raw loop and curl; its PUT URL and headers, as
/// alternating names and values.
std::pair<std::string, std::vector<std::string>> open_upload(const std::string& base, std::uint64_t size) {
  picojson::object body;
  body["filename"] = picojson::value("source.mp4");
  body["content_type"] = picojson::value(upload_type);
  body["size_bytes"] = picojson::value(static_cast<double>(size));
  const picojson::value data =
      api_json(base, "/v3/assets/direct-uploads", picojson::value(body).serialize()).get("data");
  std::vector<std::string> headers;
  if (data.get("upload_headers").is<picojson::object>())
    for (const auto& [name, value] : data.get("upload_headers").get<picojson::object>()) {
      headers.push_back(name);
      headers.push_back(value.to_str());
    }
  return {data.get("upload_url").to_str(), headers};
}

/// The storage counter `name` of the simulator at `base` (its /stats: totals.storage).
double storage_count(const std::string& base, const char* name) {
  return api_json(base, "/stats").get("totals").get("storage").get(name).get<double>();
}

// ---- the movers as the sections run them ----

/// One way of moving the file: its name and how to run it once (a child; the files it made removed after).
struct Mover {
  std::string name;
  std::function<Usage()> run;
};

/// The download movers of `job` into `dir`: the library, the raw loop, curl (when there is one), and the raw
/// loop with an fsync when `with_sync`. Each checks the file's size and removes it.
std::vector<Mover> download_movers(const Options& options, const TempFolder& dir, const std::string& base,
                                   const Job& job, std::uint64_t size, bool with_sync) {
  const std::string library_file = dir / (job.id + ".video.mp4");
  const std::string file = dir / "download.mp4";
  auto one = [size](std::vector<std::string> argv, std::string path, std::string what) {
    return [argv = std::move(argv), path = std::move(path), what = std::move(what), size] {
      Usage usage = run_child(argv);
      usage.ok = usage.ok && file_size(path) == size;
      remove_file(path);
      return checked(usage, what);
    };
  };
  std::vector<Mover> movers{
      {"library", one({options.self, "--mover", "lib-get", base, job.id, job.video_url, dir / "", "15"}, library_file,
                      "library download")},
      {"raw httplib", one({options.self, "--mover", "raw-get", job.video_url, file}, file, "raw download")}};
  if (!options.curl.empty())
    movers.push_back({"curl", one({options.curl, "-sS", "--fail", "-o", file, job.video_url}, file, "curl download")});
  if (with_sync)
    movers.push_back({"raw httplib + fsync", one({options.self, "--mover", "raw-get", job.video_url, file, "fsync"},
                                                 file, "raw download with fsync")});
  return movers;
}

/// The upload movers of `source`: the library (no checksum), the raw loop, curl (when there is one), and the
/// library with its hex SHA-256 when `with_checksum`. The raw loop and curl each get a direct upload opened first,
/// outside their time.
std::vector<Mover> upload_movers(const Options& options, const std::string& base, const std::string& source,
                                 bool with_checksum) {
  const std::uint64_t size = file_size(source);
  auto library = [&options, base, source](const char* checksum) {
    return [argv = std::vector<std::string>{options.self, "--mover", "lib-put", base, source, checksum}] {
      return checked(run_child(argv), "library upload");
    };
  };
  std::vector<Mover> movers{{"library", library("none")},
                            {"raw httplib", [&options, base, source, size] {
                               auto [url, headers] = open_upload(base, size);
                               std::vector<std::string> argv{options.self, "--mover", "raw-put", url, source};
                               argv.insert(argv.end(), headers.begin(), headers.end());
                               return checked(run_child(argv), "raw upload");
                             }}};
  if (!options.curl.empty())
    movers.push_back({"curl", [&options, base, source, size] {
                        auto [url, headers] = open_upload(base, size);
                        // No Expect: 100-continue (curl asks for it on large bodies): the same request as the others.
                        std::vector<std::string> argv{options.curl, "-sS",  "--fail", "-o",     "/dev/null",
                                                      "-T",         source, "-H",     "Expect:"};
                        for (std::size_t i = 0; i + 1 < headers.size(); i += 2)
                          argv.insert(argv.end(), {"-H", headers[i] + ": " + headers[i + 1]});
                        argv.push_back(url);
                        return checked(run_child(argv), "curl upload");
                      }});
  if (with_checksum) movers.push_back({"library, hex SHA-256", library("hex")});
  return movers;
}

// ---- figures and printing ----

/// The middle of `values` (the mean of the middle two for an even count).
double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t half = values.size() / 2;
  return values.size() % 2 == 1 ? values[half] : (values[half - 1] + values[half]) / 2;
}

/// One mover's runs, summed up.
struct Row {
  std::string way;
  std::string name;
  double gib_per_s = 0;  // median
  double cpu_per_gib = 0;
  double user_per_gib = 0;
  double sys_per_gib = 0;
  double rss_mib = 0;  // the largest
  double own_rss_mib = 0;
  int runs = 0;
};

/// The medians of `runs` of moving `bytes` each.
Row summarise(std::string way, std::string name, const std::vector<Usage>& runs, std::uint64_t bytes) {
  const double gibs = static_cast<double>(bytes) / static_cast<double>(gib);
  std::vector<double> rate, cpu, user, sys;
  Row row;
  row.way = std::move(way);
  row.name = std::move(name);
  for (const Usage& run : runs) {
    rate.push_back(gibs / run.wall_s);
    cpu.push_back((run.user_s + run.sys_s) / gibs);
    user.push_back(run.user_s / gibs);
    sys.push_back(run.sys_s / gibs);
    row.rss_mib = std::max(row.rss_mib, run.rss_mib);
    row.own_rss_mib = std::max(row.own_rss_mib, run.own_rss_mib);
  }
  row.gib_per_s = median(rate);
  row.cpu_per_gib = median(cpu);
  row.user_per_gib = median(user);
  row.sys_per_gib = median(sys);
  row.runs = static_cast<int>(runs.size());
  return row;
}

void print_header() {
  std::printf("%-9s %-21s %7s %10s %8s %8s %9s %5s\n", "way", "mover", "GiB/s", "CPU s/GiB", "user", "sys", "peak RSS",
              "runs");
  std::printf("%-9s %-21s %7s %10s %8s %8s %9s %5s\n", "", "", "median", "median", "s/GiB", "s/GiB", "MiB max", "");
}

void print_row(const Row& row) {
  std::printf("%-9s %-21s %7.3f %10.3f %8.3f %8.3f %9.1f %5d\n", row.way.c_str(), row.name.c_str(), row.gib_per_s,
              row.cpu_per_gib, row.user_per_gib, row.sys_per_gib, row.rss_mib, row.runs);
  std::fflush(stdout);
}

/// A floor's line: `value` against `bound`, at least (`at_least`) or at most.
void print_floor(const std::string& what, double value, bool at_least, double bound) {
  const bool ok = at_least ? value >= bound : value <= bound;
  std::printf("  floor %-44s %8.3f %s %7.3f  %s\n", what.c_str(), value, at_least ? ">=" : "<=", bound,
              ok ? "ok" : "MISSED");
}

/// Runs each mover `runs` times, interleaved: every mover once, then again, each round starting one mover later
/// so that none always follows the same one (a download's fsync or a file's removal can slow what comes next).
std::vector<std::vector<Usage>> interleave(const std::vector<Mover>& movers, int runs) {
  std::vector<std::vector<Usage>> usages(movers.size());
  for (std::size_t run = 0; run < static_cast<std::size_t>(runs); ++run)
    for (std::size_t k = 0; k < movers.size(); ++k) {
      const std::size_t i = (run + k) % movers.size();
      usages[i].push_back(movers[i].run());
    }
  return usages;
}

/// Runs each mover `runs` times, interleaved, and sums each up.
std::vector<Row> measure(const std::string& way, const std::vector<Mover>& movers, int runs, std::uint64_t bytes) {
  const std::vector<std::vector<Usage>> usages = interleave(movers, runs);
  std::vector<Row> rows;
  for (std::size_t i = 0; i < movers.size(); ++i) rows.push_back(summarise(way, movers[i].name, usages[i], bytes));
  return rows;
}

/// The row of `name` among `rows`.
const Row& find_row(const std::vector<Row>& rows, const std::string& way, const std::string& name) {
  for (const Row& row : rows)
    if (row.way == way && row.name == name) return row;
  throw std::logic_error("no row " + way + " " + name);
}

/// The size in GiB or MiB, for labels.
std::string size_label(std::uint64_t bytes) {
  char text[32];
  if (bytes % gib == 0)
    std::snprintf(text, sizeof text, "%llu GiB", static_cast<unsigned long long>(bytes / gib));
  else
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / static_cast<double>(mib));
  return text;
}

// ---- the sections ----

/// Throughput both ways at --size; the library's rows are kept for the memory section.
std::vector<Row> throughput_section(const Options& options, const TempFolder& dir, const std::string& source) {
  std::printf("\nthroughput: %s each way, %d interleaved runs, medians\n", size_label(options.size).c_str(),
              options.runs);
  bench::ServerProcess server(options.server, simulator_flags(options.size));
  const Job job = completed_job(server.base_url());
  std::vector<Mover> movers = download_movers(options, dir, server.base_url(), job, options.size, true);
  const std::size_t downloads = movers.size();
  for (Mover& mover : upload_movers(options, server.base_url(), source, true)) movers.push_back(std::move(mover));
  const std::vector<std::vector<Usage>> usages = interleave(movers, options.runs);  // both ways in one rotation
  std::vector<Row> rows;
  print_header();
  for (std::size_t i = 0; i < usages.size(); ++i) {
    rows.push_back(summarise(i < downloads ? "download" : "upload", movers[i].name, usages[i], options.size));
    print_row(rows.back());
  }
  if (options.curl.empty()) std::printf("  (curl rows skipped: no curl on PATH)\n");
  for (const char* way : {"download", "upload"}) {
    const double ratio = find_row(rows, way, "library").gib_per_s / find_row(rows, way, "raw httplib").gib_per_s;
    print_floor(std::string(way) + " library / raw httplib (GiB/s)", ratio, true, 0.9);
  }
  std::printf(
      "  (no floor: download library / raw httplib + fsync %.3f; the library syncs before it places a file)\n",
      find_row(rows, "download", "library").gib_per_s / find_row(rows, "download", "raw httplib + fsync").gib_per_s);
  return rows;
}

/// Storage paced at 100 MiB/s: the library and curl, one run each way, and the raw GET with an fsync (what the
/// library's own sync costs at that pace).
void paced_section(const Options& options, const TempFolder& dir) {
  constexpr double pace = 100.0 * static_cast<double>(mib);
  const std::uint64_t size = options.size / 2;
  std::printf("\npaced: storage at 100 MiB/s (--storage-pace %.0f), %s each way, one run each\n", pace,
              size_label(size).c_str());
  const std::string source = dir / "paced.mp4";
  write_source(source, size);
  bench::ServerProcess server(options.server, simulator_flags(size, {"--storage-pace", std::to_string(pace)}));
  const Job job = completed_job(server.base_url());
  std::vector<Row> rows;
  print_header();
  auto keep = [](const std::vector<Mover>& all) {
    std::vector<Mover> out;
    for (const Mover& mover : all)
      if (mover.name != "raw httplib") out.push_back(mover);
    return out;
  };
  for (const Row& row :
       measure("download", keep(download_movers(options, dir, server.base_url(), job, size, true)), 1, size))
    rows.push_back(row);
  for (const Row& row : measure("upload", keep(upload_movers(options, server.base_url(), source, false)), 1, size))
    rows.push_back(row);
  for (const Row& row : rows) print_row(row);
  remove_file(source);
  for (const char* way : {"download", "upload"})
    print_floor(std::string(way) + " library / pace",
                find_row(rows, way, "library").gib_per_s * static_cast<double>(gib) / pace, true, 0.95);
}

/// The library's peak RSS moving --size (from the throughput runs) and, with --big, 4 GiB each way.
void memory_section(const Options& options, const TempFolder& dir, const std::vector<Row>& throughput) {
  std::printf("\nmemory: the library's peak RSS (ru_maxrss of its process; this bench's own peak is %.1f MiB)\n",
              bench::status_mib("VmHWM"));
  std::vector<std::pair<std::string, Row>> peaks;
  for (const char* way : {"download", "upload"})
    if (!throughput.empty())
      peaks.emplace_back(std::string(way) + " " + size_label(options.size), find_row(throughput, way, "library"));
  if (options.big) {
    constexpr std::uint64_t size = 4 * gib;
    const std::string source = dir / "big.mp4";
    write_source(source, size);
    bench::ServerProcess server(options.server, simulator_flags(size));
    const Job job = completed_job(server.base_url());
    std::printf("  4 GiB each way (--big), one run each:\n");
    print_header();
    const Row down =
        measure("download", {download_movers(options, dir, server.base_url(), job, size, false)[0]}, 1, size).at(0);
    const Row up = measure("upload", {upload_movers(options, server.base_url(), source, false)[0]}, 1, size).at(0);
    remove_file(source);
    print_row(down);
    print_row(up);
    peaks.emplace_back("download 4 GiB", down);
    peaks.emplace_back("upload 4 GiB", up);
  } else {
    std::printf("  4 GiB each way: not run by default (about 40 s more, 8 GiB of disk): run with --big\n");
  }
  for (const auto& [what, row] : peaks) {
    print_floor("library peak RSS MiB, " + what, row.rss_mib, false, 32);
    std::printf("        (its own VmHWM since exec: %.1f MiB)\n", row.own_rss_mib);
  }
}

/// What the resume section measured.
struct Resumed {
  double first_share = 0;  // of the file, served by the cutting store
  double kept_share = 0;   // held by the temporary file after the cut
  double again_share = 0;  // served by the second store: moved again
  double received_share = 0;
  int requests = 0;
  double range_gets = 0;
  bool seam_matches = false;
};

/// Checks that the 128 KiB of `path` around byte `at` are the bytes `url` serves there.
bool seam_is_right(const std::string& path, const std::string& url, std::uint64_t at) {
  const std::uint64_t first = at > 65536 ? at - 65536 : 0;
  const auto [origin, target] = split_url(url);
  httplib::Client http(origin);
  http.set_url_encode(false);
  const auto response =
      http.Get(target, {{"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(first + 131071)}});
  if (!response || response->status != 206) return false;
  std::string held(response->body.size(), '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const ssize_t got = fd < 0 ? -1 : ::pread(fd, held.data(), held.size(), static_cast<off_t>(first));
  if (fd >= 0) ::close(fd);
  return got == static_cast<ssize_t>(held.size()) && held == response->body;
}

/// A download cut at 50 %, then resumed. The store cuts a GET with the probability --storage-cut-rate, drawn per
/// GET (sim/storage.hpp: the body stops after half the range asked for), so one store cannot cut the first GET
/// alone, and with rate 1 it cuts every resume too: a download would never finish. So the cut and the resume are
/// two calls on two stores: store A cuts every GET; the library downloads from it with no retry, so its one GET is
/// cut at 50 % and the call fails, keeping the temporary file (as it does after any failure a resume can mend).
/// Store B cuts nothing and serves the same job's same bytes (job ids are a sequence, the bytes made from id and
/// name); the library downloads into the same folder from B and goes on from the temporary file. What B served is
/// what was moved again: a restart would move 100 % of the file, a resume the 50 % that was missing.
Resumed resume_section(const Options& options, const TempFolder& dir) {
  bench::ServerProcess cutting(options.server, simulator_flags(options.size, {"--storage-cut-rate", "1"}));
  bench::ServerProcess whole(options.server, simulator_flags(options.size));
  const Job cut_job = completed_job(cutting.base_url());
  const Job job = completed_job(whole.base_url());
  if (cut_job.id != job.id) throw std::runtime_error("the two stores named the job differently");
  const std::string folder = dir / "resume";
  std::filesystem::create_directory(folder);
  const std::string path = folder + "/" + job.id + ".video.mp4";
  const auto size = static_cast<double>(options.size);
  Resumed out;
  if (run_child({options.self, "--mover", "lib-get", cutting.base_url(), job.id, cut_job.video_url, folder, "0"}, true)
          .ok)
    throw std::runtime_error("the cutting store's download did not fail");
  const std::uint64_t kept = file_size(heygen::files::PartialFile::temporary_name(path));
  out.first_share = storage_count(cutting.base_url(), "bytes_served") / size;
  out.kept_share = static_cast<double>(kept) / size;
  const Usage resumed =
      checked(run_child({options.self, "--mover", "lib-get", whole.base_url(), job.id, job.video_url, folder, "15"}),
              "the resumed download");
  unsigned long long bytes = 0, received = 0;
  std::sscanf(resumed.out.c_str(), "%llu %llu %d", &bytes, &received, &out.requests);
  out.again_share = storage_count(whole.base_url(), "bytes_served") / size;
  out.received_share = static_cast<double>(received) / size;
  out.range_gets = storage_count(whole.base_url(), "range_gets");
  out.seam_matches =
      bytes == options.size && file_size(path) == options.size && seam_is_right(path, job.video_url, kept);
  remove_file(path);
  return out;
}

/// Prints the resume section.
void print_resume(const Resumed& r, std::uint64_t size) {
  std::printf("\nresume: a %s download cut at 50 %% by one store, resumed from another serving the same bytes\n",
              size_label(size).c_str());
  std::printf("  first call: store served %.2f %% of the file before the cut, the temporary file kept %.2f %%\n",
              100 * r.first_share, 100 * r.kept_share);
  std::printf("  second call: %d GET(s), %.0f with Range; store served %.2f %%, the library counted %.2f %% received\n",
              r.requests, r.range_gets, 100 * r.again_share, 100 * r.received_share);
  std::printf("  the file: %s (its size, and 128 KiB around the seam against the store)\n",
              r.seam_matches ? "matches" : "DOES NOT MATCH");
  print_floor("moved again, % of the file", 100 * r.again_share, false, 52);
}

/// True when the file at `path` holds exactly output `name` of job `id` as the simulator makes it, `size` bytes.
bool matches_output(const std::string& path, const std::string& id, std::string_view name, std::uint64_t size) {
  if (file_size(path) != size) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string held(mib, '\0');
  std::string made(mib, '\0');
  bool same = true;
  for (std::uint64_t at = 0; same && at < size; at += mib) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(mib, size - at));
    heygen::sim::output_content(id, name, at, made.data(), n);
    same = ::pread(fd, held.data(), n, static_cast<off_t>(at)) == static_cast<ssize_t>(n) &&
           std::string_view(held.data(), n) == std::string_view(made.data(), n);
  }
  ::close(fd);
  return same;
}

/// translate_file of 10 files into 3 languages each, all at once on one client (a thread a file, their waits on its
/// one poller), outputs of 50 MiB: counts the files written and those that match the simulator byte for byte.
void translate_section(const Options& options, const TempFolder& dir) {
  constexpr int files = 10;
  const std::vector<std::string> languages{"German", "French (France)", "Spanish (Spain)"};
  const std::uint64_t output = 50 * mib;
  bench::ServerProcess server(options.server, simulator_flags(output, {"--duration", "fixed:0.5"}));
  const std::string folder = dir / "translated";
  std::vector<std::string> sources;
  for (int i = 0; i < files; ++i) {
    sources.push_back(dir / ("talk" + std::to_string(i) + ".mp4"));
    write_source(sources.back(), 4 * mib);
  }
  heygen::HeyGenClient client(client_options(server.base_url(), 15));
  std::vector<std::vector<heygen::TranslatedOutput>> done(files);
  std::vector<std::string> errors(files);
  const auto started = Clock::now();
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < files; ++i)
      threads.emplace_back([&, i] {
        try {
          done[i] = client.translate_file(sources[i], languages, folder);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  int written = 0, matching = 0;
  for (int i = 0; i < files; ++i) {
    if (!errors[i].empty()) std::printf("  %s: %s\n", sources[i].c_str(), errors[i].c_str());
    for (const auto& entry : done[i])
      for (const auto& file : entry.files) {
        ++written;
        const bool video = file.path.ends_with(".video.mp4");
        matching += matches_output(file.path, entry.job_id, video ? "video.mp4" : "audio.mp3", output) ? 1 : 0;
        remove_file(file.path);
      }
  }
  const int expected = files * static_cast<int>(languages.size()) * 2;  // video and audio, no captions asked for
  std::printf("\ntranslate: %d files x %zu languages at once on one client, outputs of %s (video and audio)\n", files,
              languages.size(), size_label(output).c_str());
  std::printf("  %d files written of %d, %d byte for byte the simulator's; %.1f s, %.2f GiB/s down\n", written,
              expected, matching, seconds,
              static_cast<double>(written) * static_cast<double>(output) / static_cast<double>(gib) / seconds);
  print_floor("translated files matching the simulator's", matching, true, expected);
}

int run_all(const Options& options) {
  std::printf(
      "transfer: status_server --api heygen-v3 in its own process on loopback; each transfer a child process\n");
  std::printf("  (wall time spawn to exit; CPU and peak RSS from its rusage); files in a mkdtemp folder\n");
  TempFolder dir;
  const auto wanted = [&options](const char* section) { return options.only.empty() || options.only == section; };
  std::vector<Row> throughput;
  if (wanted("throughput")) {
    const std::string source = dir / "source.mp4";
    write_source(source, options.size);
    throughput = throughput_section(options, dir, source);
    remove_file(source);
  }
  if (wanted("paced")) paced_section(options, dir);
  if (wanted("memory") || wanted("throughput")) memory_section(options, dir, throughput);
  if (wanted("resume")) print_resume(resume_section(options, dir), options.size);
  if (wanted("translate")) translate_section(options, dir);
  return 0;
}

/// The path of `program` on PATH, or empty.
std::string on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path == nullptr ? "/usr/bin:/bin" : path;
  for (std::size_t start = 0; start <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

/// True when `name` names a section.
bool is_section(std::string_view name) {
  return name == "throughput" || name == "paced" || name == "memory" || name == "resume" || name == "translate";
}

/// Reads a size: a number with an optional K, M or G (KiB, MiB, GiB); 1 MiB at least.
std::uint64_t parse_size(const std::string& text) {
  std::size_t used = 0;
  const double number = std::stod(text, &used);
  const std::string unit = text.substr(used);
  const double scale = unit.empty()  ? 1
                       : unit == "K" ? 1024.0
                       : unit == "M" ? static_cast<double>(mib)
                       : unit == "G" ? static_cast<double>(gib)
                                     : 0;
  // Below 1 MiB a transfer is over before the process has started: nothing here would measure it.
  if (scale == 0 || number * scale < static_cast<double>(mib)) throw std::invalid_argument("--size: 1M at least");
  return static_cast<std::uint64_t>(number * scale);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--mover") return mover_main(argc, argv);
  Options options;
  options.server = bench::default_server_path(argv[0]);
  options.curl = on_path("curl");
  try {
    options.self = std::filesystem::read_symlink("/proc/self/exe").string();
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      const bool has_value = i + 1 < argc;
      if (flag == "--size" && has_value) {
        options.size = parse_size(argv[++i]);
      } else if (flag == "--runs" && has_value) {
        options.runs = std::max(1, std::atoi(argv[++i]));
      } else if (flag == "--big") {
        options.big = true;
      } else if (flag == "--only" && has_value && is_section(argv[i + 1])) {
        options.only = argv[++i];
      } else if (flag == "--server" && has_value) {
        options.server = argv[++i];
      } else {
        std::fprintf(stderr, "usage: %s [--size BYTES[K|M|G]] [--runs N] [--big] [--only SECTION] [--server PATH]\n",
                     argv[0]);
        return 2;
      }
    }
    return run_all(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transfer: %s\n", e.what());
    return 1;
  }
}
