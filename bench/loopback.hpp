// Shared by the benchmarks that run for real over loopback against status_server in its own process (bulk,
// poller): the server's totals, this process's CPU, memory and threads, job creation, the raw cpp-httplib
// request loop they are compared with, and running one measurement in a forked child.
#pragma once

#include <heygen/video_translation.hpp>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace bench {

/// The server's running totals that matter here.
struct Totals {
  std::uint64_t status_requests = 0;
  std::uint64_t job_status_looks = 0;
  std::uint64_t jobs_seen_terminal = 0;
  double lag_mean_ms = 0;  // from a job's finish to the first answer that said so, over the server's life
  double lag_p95_ms = 0;
  double lag_max_ms = 0;
};

/// Reads the totals from GET /stats, keeping only the body's tail: with 100k jobs the body is ~15 MB of per-job
/// figures, and buffering it would inflate this process's memory. "totals" is the last member.
inline Totals read_totals(int port) {
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
  auto count = [&](const char* name) { return static_cast<std::uint64_t>(totals.get(name).get<double>()); };
  return {count("status_requests"),
          count("job_status_looks"),
          count("jobs_seen_terminal"),
          totals.get("lag_mean_ms").get<double>(),
          totals.get("lag_p95_ms").get<double>(),
          totals.get("lag_max_ms").get<double>()};
}

/// This process's CPU use so far: user and system seconds, and context switches (where the CPU goes).
struct CpuUse {
  double user_s = 0;
  double system_s = 0;
  long voluntary_switches = 0;
  long involuntary_switches = 0;

  /// The whole process's (RUSAGE_SELF), or the calling thread's (RUSAGE_THREAD).
  static CpuUse now(int who = RUSAGE_SELF) {
    rusage usage{};
    getrusage(who, &usage);
    auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return {seconds(usage.ru_utime), seconds(usage.ru_stime), usage.ru_nvcsw, usage.ru_nivcsw};
  }
  [[nodiscard]] double total_s() const { return user_s + system_s; }
  CpuUse operator-(const CpuUse& earlier) const {
    return {user_s - earlier.user_s, system_s - earlier.system_s, voluntary_switches - earlier.voluntary_switches,
            involuntary_switches - earlier.involuntary_switches};
  }
};

/// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), in MiB.
inline double status_mib(const char* field) {
  const std::string prefix = std::string(field) + ":";
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(prefix, 0) == 0) return static_cast<double>(std::atol(line.c_str() + prefix.size())) / 1024.0;
  return 0;
}

/// Samples this process's resident memory and threads (the entries of /proc/self/task) every 50 ms on its own
/// thread, which it leaves out of the count, as it does threads the benchmark names with exclude().
class Sampler {
 public:
  /// Peaks seen: resident MiB (VmRSS) and threads.
  struct Peaks {
    double rss_mib = 0;
    long threads = 0;
  };

  Sampler()
      : thread_([this](std::stop_token stop) {
          exclude(gettid());
          while (!stop.stop_requested()) {
            sample();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        }) {}
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;
  ~Sampler() { stop(); }

  /// Leaves the thread `tid` out of the count (a thread of the benchmark's own, not of the code measured).
  void exclude(pid_t tid) {
    std::lock_guard lock(mutex_);
    excluded_.push_back(tid);
  }

  /// Stops the sampler and takes one last sample; returns the peaks.
  Peaks stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
      sample();
    }
    std::lock_guard lock(mutex_);
    return peaks_;
  }

 private:
  void sample() {
    long threads = 0;
    std::lock_guard lock(mutex_);
    if (DIR* dir = opendir("/proc/self/task")) {
      while (const dirent* entry = readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        const auto tid = static_cast<pid_t>(std::atol(entry->d_name));
        if (std::find(excluded_.begin(), excluded_.end(), tid) == excluded_.end()) ++threads;
      }
      closedir(dir);
    }
    peaks_.threads = std::max(peaks_.threads, threads);
    peaks_.rss_mib = std::max(peaks_.rss_mib, status_mib("VmRSS"));
  }

  std::mutex mutex_;
  std::vector<pid_t> excluded_;
  Peaks peaks_;
  std::jthread thread_;  // last: starts sampling once the rest exists
};

/// Creates `count` jobs with the library from `threads` threads; the client (and its connections) is gone
/// afterwards.
inline std::vector<std::string> create_jobs(const std::string& base_url, std::size_t count, int threads = 8) {
  heygen::ClientOptions options;
  options.base_url = base_url;
  options.max_timeout = heygen::Seconds(600);
  heygen::VideoTranslationClient client(options);
  std::vector<std::string> ids(count);
  std::atomic<std::size_t> next{0};
  {
    std::vector<std::jthread> creators;
    for (int i = 0; i < threads; ++i)
      creators.emplace_back([&] {
        for (std::size_t k = next++; k < count; k = next++) ids[k] = client.create_translation_job();
      });
  }
  return ids;
}

/// One GET /status/{id}: true when the job has left pending. Simulator ids need no percent-encoding.
inline bool terminal(httplib::Client& http, const std::string& id) {
  const auto response = http.Get("/status/" + id);
  if (!response || response->status != 200) return false;
  picojson::value json;
  if (!picojson::parse(json, response->body).empty() || !json.is<picojson::object>()) return false;
  const picojson::value& result = json.get("result");
  return result.is<std::string>() && result.get<std::string>() != "pending";
}

/// How the raw loop paces its looks within a one-second round.
enum class RawPace {
  burst,   ///< each thread looks at its whole share back to back, then sleeps out the round
  spread,  ///< each thread spreads its share's looks evenly over the round, one wake-up a look
};

/// The floor: `concurrency` threads, each with its own keep-alive connection, looking at each job of its share
/// once per one-second round until it leaves pending (or 600 s pass); returns how many did.
inline std::size_t track_raw(int port, const std::vector<std::string>& ids, std::size_t concurrency,
                             RawPace pace = RawPace::burst) {
  using Clock = std::chrono::steady_clock;
  std::atomic<std::size_t> results{0};
  const auto give_up = Clock::now() + std::chrono::seconds(600);
  auto poll_share = [&](std::size_t first) {
    httplib::Client http("127.0.0.1", port);
    http.set_keep_alive(true);
    std::vector<const std::string*> pending;
    for (std::size_t i = first; i < ids.size(); i += concurrency) pending.push_back(&ids[i]);
    for (;;) {
      const auto round = Clock::now();
      const auto step = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) /
                        static_cast<Clock::rep>(std::max<std::size_t>(pending.size(), 1));
      Clock::time_point next = round;
      std::erase_if(pending, [&](const std::string* id) {
        if (pace == RawPace::spread) std::this_thread::sleep_until(std::exchange(next, next + step));
        return terminal(http, *id) && (++results, true);
      });
      if (pending.empty() || Clock::now() >= give_up) return;
      std::this_thread::sleep_until(round + std::chrono::seconds(1));
    }
  };
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 0; i < std::min(concurrency, ids.size()); ++i) threads.emplace_back(poll_share, i);
  }
  return results;
}

/// Runs `measure` in a forked child (call it while this process has no other threads), so that its peak memory
/// and threads are its own, and hands back what it returned: a trivially copyable value, through a pipe. Empty
/// when the child failed (it says why on stderr).
template <class Row>
std::optional<Row> run_isolated(const char* what, const std::function<Row()>& measure) {
  static_assert(std::is_trivially_copyable_v<Row>);
  std::fflush(stdout);
  std::fflush(stderr);
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return std::nullopt;
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    int code = 1;
    try {
      const Row row = measure();
      code = write(pipe_fds[1], &row, sizeof row) == static_cast<ssize_t>(sizeof row) ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", what, e.what());
    }
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(code);
  }
  close(pipe_fds[1]);
  Row row{};
  std::size_t got = 0;
  if (child > 0)
    while (got < sizeof row) {
      const ssize_t n = read(pipe_fds[0], reinterpret_cast<char*>(&row) + got, sizeof row - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
  close(pipe_fds[0]);
  int status = 0;
  const bool ok = child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok || got != sizeof row) return std::nullopt;
  return row;
}

}  // namespace bench
