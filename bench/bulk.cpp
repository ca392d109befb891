// bench/bulk: what tracking N jobs at once costs the client, for real over loopback against status_server in
// its own process. Modes: per-job (library, server without batch or long poll), batch (library, server with
// batch), batch+long-poll (library, server with everything), raw (no library: a fixed pool of threads polling
// each job once a second with cpp-httplib). Every run gets a fresh server; the N jobs are created first (timed
// on stderr, not measured), then only the tracking is measured: wall time, status requests the server saw,
// this process's CPU, peak RSS and peak threads (sampled every 50 ms; the sampler thread is not counted).
// Each run happens in a forked child, so its memory and threads are not left over from an earlier run.
#include <heygen/video_translation.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "server_process.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// What the command line asked for.
struct Options {
  bool csv = false;
  std::vector<std::size_t> sizes{10000, 100000};
  std::size_t concurrency = 64;
  std::vector<std::string> modes{"per-job", "batch", "batch+long-poll", "raw"};
  std::string server;
  std::string duration = "uniform:1:3";
};

/// One size × mode, measured over the tracking phase only.
struct Row {
  std::size_t jobs = 0;
  std::string mode;
  double wall_s = 0;
  std::uint64_t requests = 0;   // status HTTP requests, as the server counted them
  std::uint64_t job_polls = 0;  // per-job looks, as the server counted them (a batch of k ids is k)
  double cpu_s = 0;
  double peak_rss_mib = 0;
  long peak_threads = 0;
  std::size_t results = 0;
  double lag_mean_ms = 0;  // detection lag: what the polling cost buys
  double lag_p95_ms = 0;
};

/// The server's running totals that matter here.
struct Totals {
  std::uint64_t status_requests = 0;
  std::uint64_t job_status_looks = 0;
  double lag_mean_ms = 0;  // from a job's finish to the first answer that said so, over the server's life
  double lag_p95_ms = 0;
};

/// Reads the totals from GET /stats, keeping only the body's tail: with 100k jobs the body is ~15 MB of per-job
/// figures, and buffering it would inflate this process's memory. "totals" is the last member.
Totals read_totals(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(120, 0);
  std::string tail;
  const auto response = http.Get("/stats", [&](const char* data, std::size_t length) {
    tail.append(data, length);
    if (tail.size() > 65536) tail.erase(0, tail.size() - 16384);
    return true;
  });
  const auto at = tail.rfind("\"totals\":");
  if (!response || response->status != 200 || at == std::string::npos) throw std::runtime_error("GET /stats failed");
  picojson::value totals;
  std::string error;
  picojson::parse(totals, tail.begin() + static_cast<std::ptrdiff_t>(at + 9), tail.end(), &error);
  if (!error.empty() || !totals.is<picojson::object>()) throw std::runtime_error("bad totals in /stats");
  return {static_cast<std::uint64_t>(totals.get("status_requests").get<double>()),
          static_cast<std::uint64_t>(totals.get("job_status_looks").get<double>()),
          totals.get("lag_mean_ms").get<double>(), totals.get("lag_p95_ms").get<double>()};
}

/// This process's CPU use so far: user and system seconds, and context switches (where the CPU goes).
struct CpuUse {
  double user_s = 0;
  double system_s = 0;
  long voluntary_switches = 0;
  long involuntary_switches = 0;

  static CpuUse now() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return {seconds(usage.ru_utime), seconds(usage.ru_stime), usage.ru_nvcsw, usage.ru_nivcsw};
  }
  [[nodiscard]] double total_s() const { return user_s + system_s; }
  CpuUse operator-(const CpuUse& earlier) const {
    return {user_s - earlier.user_s, system_s - earlier.system_s, voluntary_switches - earlier.voluntary_switches,
            involuntary_switches - earlier.involuntary_switches};
  }
};

/// Samples VmRSS and Threads of this process every 50 ms on its own thread, which it leaves out of the count.
class Sampler {
 public:
  Sampler()
      : thread_([this](std::stop_token stop) {
          while (!stop.stop_requested()) {
            sample(1);
            std::this_thread::sleep_for(50ms);
          }
        }) {}
  /// Stops the sampler and takes one last sample; returns {peak RSS in MiB, peak threads}.
  std::pair<double, long> stop() {
    thread_.request_stop();
    thread_.join();
    sample(0);
    return {static_cast<double>(peak_rss_kib_) / 1024.0, peak_threads_};
  }

 private:
  void sample(long own_threads) {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0) peak_rss_kib_ = std::max(peak_rss_kib_, std::atol(line.c_str() + 6));
      if (line.rfind("Threads:", 0) == 0)
        peak_threads_ = std::max(peak_threads_, std::atol(line.c_str() + 8) - own_threads);
    }
  }

  long peak_rss_kib_ = 0;  // written by the sampler thread until join(), then read by the caller
  long peak_threads_ = 0;
  std::jthread thread_;  // last: starts sampling once the peaks exist
};

/// The server for a mode: each extension off unless the mode uses it; workers for every connection we open.
std::vector<std::string> server_flags(const Options& options, std::size_t jobs, const std::string& mode) {
  std::vector<std::string> flags{"--duration", options.duration,
                                 "--seed",     "7",
                                 "--threads",  std::to_string(options.concurrency + 16),
                                 "--max-jobs", std::to_string(std::max<std::size_t>(jobs, 1'000'000))};
  if (mode == "per-job" || mode == "raw") flags.push_back("--no-batch");
  if (mode != "batch+long-poll") flags.push_back("--no-long-poll");
  return flags;
}

/// Creates `count` jobs with the library from 8 threads; the client (and its connections) is gone afterwards.
std::vector<std::string> create_jobs(const std::string& base_url, std::size_t count) {
  heygen::ClientOptions options;
  options.base_url = base_url;
  options.max_timeout = heygen::Seconds(600);
  heygen::VideoTranslationClient client(options);
  std::vector<std::string> ids(count);
  std::atomic<std::size_t> next{0};
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] {
        for (std::size_t k = next++; k < count; k = next++) ids[k] = client.create_translation_job();
      });
  }
  return ids;
}

/// Tracks every job with the library's bulk call; returns how many results it handed out.
std::size_t track_library(const std::string& base_url, const std::vector<std::string>& ids, std::size_t concurrency) {
  heygen::ClientOptions options;
  options.base_url = base_url;
  options.max_timeout = heygen::Seconds(600);
  options.connection_pool_size = concurrency;  // one idle keep-alive connection per worker, so none is reopened
  heygen::VideoTranslationClient client(options);
  std::size_t results = 0, failed = 0;  // the callback is serialized by the library
  client.get_bulk_translation_statuses(
      ids, concurrency, {}, [&](const std::string&, const heygen::TranslationResult& result, heygen::BulkProgress) {
        ++results;
        if (!result.ok()) ++failed;
      });
  if (failed > 0) std::fprintf(stderr, "bulk: %zu results were not completed\n", failed);
  return results;
}

/// One GET /status/{id}: true when the job has left pending. Simulator ids need no percent-encoding.
bool terminal(httplib::Client& http, const std::string& id) {
  const auto response = http.Get("/status/" + id);
  if (!response || response->status != 200) return false;
  picojson::value json;
  if (!picojson::parse(json, response->body).empty() || !json.is<picojson::object>()) return false;
  const picojson::value& result = json.get("result");
  return result.is<std::string>() && result.get<std::string>() != "pending";
}

/// The floor: `concurrency` threads, each with its own keep-alive connection, looking at each job of its share
/// once per one-second round until it leaves pending (or 600 s pass); returns how many did.
std::size_t track_raw(int port, const std::vector<std::string>& ids, std::size_t concurrency) {
  std::atomic<std::size_t> results{0};
  const auto give_up = Clock::now() + 600s;
  auto poll_share = [&](std::size_t first) {
    httplib::Client http("127.0.0.1", port);
    http.set_keep_alive(true);
    std::vector<const std::string*> pending;
    for (std::size_t i = first; i < ids.size(); i += concurrency) pending.push_back(&ids[i]);
    for (;;) {
      const auto round = Clock::now();
      std::erase_if(pending, [&](const std::string* id) { return terminal(http, *id) && (++results, true); });
      if (pending.empty() || Clock::now() >= give_up) return;
      std::this_thread::sleep_until(round + 1s);
    }
  };
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < std::min(concurrency, ids.size()); ++i) threads.emplace_back(poll_share, i);
  }
  return results;
}

/// One size × mode: a fresh server, the jobs created, then the tracking measured.
Row run(const Options& options, std::size_t jobs, const std::string& mode) {
  bench::ServerProcess server(options.server, server_flags(options, jobs, mode));
  const auto created = Clock::now();
  const std::vector<std::string> ids = create_jobs(server.base_url(), jobs);
  std::fprintf(stderr, "bulk: %zu jobs, %s: created in %.2f s\n", jobs, mode.c_str(),
               std::chrono::duration<double>(Clock::now() - created).count());
  const Totals before = read_totals(server.port());
  Row row{.jobs = jobs, .mode = mode};
  Sampler sampler;
  const CpuUse cpu_before = CpuUse::now();
  const auto start = Clock::now();
  row.results = mode == "raw" ? track_raw(server.port(), ids, options.concurrency)
                              : track_library(server.base_url(), ids, options.concurrency);
  row.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  const CpuUse cpu = CpuUse::now() - cpu_before;
  row.cpu_s = cpu.total_s();
  std::fprintf(stderr,
               "bulk: %zu jobs, %s: cpu user %.2f s, system %.2f s; context switches %ld voluntary, %ld involuntary\n",
               jobs, mode.c_str(), cpu.user_s, cpu.system_s, cpu.voluntary_switches, cpu.involuntary_switches);
  std::tie(row.peak_rss_mib, row.peak_threads) = sampler.stop();
  const Totals after = read_totals(server.port());
  row.requests = after.status_requests - before.status_requests;
  row.job_polls = after.job_status_looks - before.job_status_looks;
  row.lag_mean_ms = after.lag_mean_ms;  // a fresh server per run: its lags are this run's
  row.lag_p95_ms = after.lag_p95_ms;
  return row;
}

/// Prints the header of the table or the CSV.
void print_header(bool csv) {
  if (csv)
    std::printf("jobs,mode,wall_s,requests,cpu_s,cpu_us_per_request,peak_rss_mib,peak_threads,results\n");
  else
    std::printf("%7s %-16s %8s %9s %9s %9s %8s %11s %9s %8s %8s %9s %8s\n", "jobs", "mode", "wall s", "requests",
                "job-polls", "req/poll", "cpu s", "cpu us/req", "peak MiB", "threads", "results", "lag ms", "lag p95");
  std::fflush(stdout);
}

/// Prints one row; with --csv, job-polls and lag (not CSV columns) go to stderr.
void print_row(bool csv, const Row& r) {
  const double per_request = r.requests ? r.cpu_s / static_cast<double>(r.requests) * 1e6 : 0.0;
  const double per_poll = r.job_polls ? static_cast<double>(r.requests) / static_cast<double>(r.job_polls) : 0.0;
  if (csv) {
    std::printf("%zu,%s,%.3f,%llu,%.3f,%.2f,%.1f,%ld,%zu\n", r.jobs, r.mode.c_str(), r.wall_s,
                static_cast<unsigned long long>(r.requests), r.cpu_s, per_request, r.peak_rss_mib, r.peak_threads,
                r.results);
    std::fprintf(
        stderr, "bulk: %zu jobs, %s: job-polls %llu, %.3f requests per job-poll; lag mean %.0f ms, p95 %.0f ms\n",
        r.jobs, r.mode.c_str(), static_cast<unsigned long long>(r.job_polls), per_poll, r.lag_mean_ms, r.lag_p95_ms);
  } else {
    std::printf("%7zu %-16s %8.2f %9llu %9llu %9.3f %8.2f %11.1f %9.1f %8ld %8zu %9.0f %8.0f\n", r.jobs, r.mode.c_str(),
                r.wall_s, static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.job_polls),
                per_poll, r.cpu_s, per_request, r.peak_rss_mib, r.peak_threads, r.results, r.lag_mean_ms, r.lag_p95_ms);
  }
  std::fflush(stdout);
}

/// Runs one size × mode in a forked child (this process has no other threads at that point), so each run's
/// peak RSS and threads are its own; returns true when the child succeeded.
bool run_isolated(const Options& options, std::size_t jobs, const std::string& mode) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = fork();
  if (child == 0) {
    try {
      print_row(options.csv, run(options, jobs, mode));
      std::fflush(stderr);
      _exit(0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bulk: %zu jobs, %s: %s\n", jobs, mode.c_str(), e.what());
      _exit(1);
    }
  }
  int status = 0;
  return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// Splits "a,b,c".
std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at <= text.size();) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    out.push_back(text.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE,
              SIG_IGN);  // raw mode's cpp-httplib writes without MSG_NOSIGNAL; a closed socket must not kill us
  Options options;
  options.server = bench::default_server_path(argv[0]);
  const std::vector<std::string> known{"per-job", "batch", "batch+long-poll", "raw"};
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    bool ok = true;
    if (flag == "--csv")
      options.csv = true;
    else if (flag == "--jobs" && has_value)
      options.sizes = {std::max<std::size_t>(1, std::strtoul(argv[++i], nullptr, 10))};
    else if (flag == "--concurrency" && has_value)
      options.concurrency = std::max<std::size_t>(1, std::strtoul(argv[++i], nullptr, 10));
    else if (flag == "--modes" && has_value)
      options.modes = split(argv[++i]);
    else if (flag == "--server" && has_value)
      options.server = argv[++i];
    else if (flag == "--duration" && has_value)
      options.duration = argv[++i];
    else
      ok = false;
    for (const auto& mode : options.modes) ok = ok && std::find(known.begin(), known.end(), mode) != known.end();
    if (!ok) {
      std::fprintf(stderr,
                   "usage: %s [--csv] [--jobs N] [--concurrency N] [--modes per-job,batch,batch+long-poll,raw]\n"
                   "          [--server PATH] [--duration SPEC (status_server's, default uniform:1:3)]\n",
                   argv[0]);
      return 2;
    }
  }
  print_header(options.csv);
  bool all_ok = true;
  for (const std::size_t jobs : options.sizes)
    for (const auto& mode : options.modes) all_ok = run_isolated(options, jobs, mode) && all_ok;
  return all_ok ? 0 : 1;
}
