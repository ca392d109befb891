// bench/soak: does a long-lived client stay flat? Starts status_server in its own process, creates a set of
// jobs, then sends --requests status requests (default 1,000,000) through check_translation_status from
// --threads threads sharing one client, while sampling this process's RSS, open descriptors and threads 20
// times. Prints the table and a verdict: RSS growth from the 2nd sample to the last (the 1st still includes
// warm-up: connections, allocator arenas) and the spread of descriptors and threads over all samples.
// Jobs last 0.5-20 s and some fail, so answers move from pending to completed or error during the run.
// A benchmark: the verdict is printed, not asserted; the exit status is non-zero only when requests failed.
#include <heygen/video_translation.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server_process.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// How many samples a run takes, evenly spaced in requests.
constexpr std::size_t sample_count = 20;

/// What the command line asked for.
struct Options {
  std::size_t requests = 1'000'000;
  std::size_t threads = 4;
  std::size_t jobs = 1000;
  std::string server;
};

/// One look at this process after `requests` answers.
struct Sample {
  std::size_t requests = 0;
  double elapsed_s = 0;
  double rss_mib = 0;
  long fds = 0;
  long threads = 0;
};

/// Resident set size of this process in MiB (/proc/self/statm counts pages).
double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return static_cast<double>(resident_pages) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

/// Open file descriptors of this process, not counting the one that lists them.
long open_fds() {
  long count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
  return count - 1;
}

/// Threads of this process (/proc/self/status).
long thread_count() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::atol(line.c_str() + 8);
  return -1;
}

/// The status requests the server counted (GET /stats), to confirm every request reached it.
unsigned long long server_status_requests(int port) {
  httplib::Client http("127.0.0.1", port);
  const auto response = http.Get("/stats");
  picojson::value json;
  if (!response || response->status != 200 || !picojson::parse(json, response->body).empty())
    throw std::runtime_error("GET /stats failed");
  return static_cast<unsigned long long>(json.get("totals").get("status_requests").get<double>());
}

/// The server for a soak: jobs that finish during the run, some failing, a worker for every connection.
std::vector<std::string> server_flags(const Options& options) {
  return {"--duration",   "uniform:0.5:20",
          "--error-rate", "0.1",
          "--seed",       "11",
          "--threads",    std::to_string(options.threads + 16),
          "--max-jobs",   std::to_string(options.jobs + 100)};
}

/// Sends the requests from `options.threads` threads and samples every `requests / 20` answers.
class Soak {
 public:
  Soak(const Options& options, heygen::VideoTranslationClient& client, std::vector<std::string> ids)
      : options_(options),
        client_(client),
        ids_(std::move(ids)),
        step_(std::max<std::size_t>(1, options.requests / sample_count)) {}

  /// Runs to the end; returns the samples in order.
  std::vector<Sample> run() {
    start_ = Clock::now();
    {
      // Finished workers wait for the rest, so every sample counts the same threads (declared first: it must
      // outlive the threads that wait on it).
      std::latch all_done(static_cast<std::ptrdiff_t>(options_.threads));
      std::vector<std::jthread> threads;
      for (std::size_t i = 0; i < options_.threads; ++i)
        threads.emplace_back([this, &all_done] {
          work();
          all_done.arrive_and_wait();
        });
    }
    std::sort(samples_.begin(), samples_.end(),
              [](const Sample& a, const Sample& b) { return a.requests < b.requests; });
    return samples_;
  }

  /// Answers that were neither pending, completed nor a job's own failure (transport, HTTP, body errors).
  [[nodiscard]] std::size_t failures() const { return failures_; }
  /// Answers that said completed.
  [[nodiscard]] std::size_t completed() const { return completed_; }
  /// Answers that said pending.
  [[nodiscard]] std::size_t pending() const { return pending_; }
  /// Answers that said the job itself failed (the simulator's --error-rate).
  [[nodiscard]] std::size_t job_failed() const { return job_failed_; }

 private:
  /// One thread's loop: claims request numbers until all are sent; whoever ends a step takes the sample.
  void work() {
    for (std::size_t k = next_++; k < options_.requests; k = next_++) {
      count(client_.check_translation_status(ids_[k % ids_.size()]));
      if ((k + 1) % step_ == 0) take_sample(k + 1);
    }
  }

  /// Tallies one answer; the first real failure is shown, since one usually explains the rest.
  void count(const heygen::TranslationResult& result) {
    using heygen::TranslationStatus;
    if (result.status == TranslationStatus::completed)
      ++completed_;
    else if (result.status == TranslationStatus::pending)
      ++pending_;
    else if (result.cause == heygen::FailureCause::job_failed)
      ++job_failed_;
    else if (failures_++ == 0)
      std::fprintf(stderr, "soak: first failed request: %s\n", result.error_message.value_or("?").c_str());
  }

  /// Reads /proc outside the lock (the readings are this process's, whoever takes them).
  void take_sample(std::size_t requests) {
    Sample sample{.requests = requests,
                  .elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count(),
                  .rss_mib = rss_mib(),
                  .fds = open_fds(),
                  .threads = thread_count()};
    std::lock_guard lock(mutex_);
    samples_.push_back(sample);
  }

  const Options& options_;
  heygen::VideoTranslationClient& client_;
  const std::vector<std::string> ids_;
  const std::size_t step_;
  Clock::time_point start_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> failures_{0}, completed_{0}, pending_{0}, job_failed_{0};
  std::mutex mutex_;
  std::vector<Sample> samples_;
};

/// Creates the jobs the soak polls.
std::vector<std::string> create_jobs(heygen::VideoTranslationClient& client, std::size_t count) {
  std::vector<std::string> ids;
  ids.reserve(count);
  for (std::size_t i = 0; i < count; ++i) ids.push_back(client.create_translation_job());
  return ids;
}

/// Prints the samples, one row each; the request rate is over the interval since the previous sample.
void print_table(const std::vector<Sample>& samples) {
  std::printf("%10s %9s %9s %8s %5s %8s\n", "requests", "elapsed s", "req/s", "rss MiB", "fds", "threads");
  Sample previous{};
  for (const Sample& s : samples) {
    const double interval = s.elapsed_s - previous.elapsed_s;
    const double rate = interval > 0 ? static_cast<double>(s.requests - previous.requests) / interval : 0.0;
    std::printf("%10zu %9.2f %9.0f %8.2f %5ld %8ld\n", s.requests, s.elapsed_s, rate, s.rss_mib, s.fds, s.threads);
    previous = s;
  }
}

/// Prints the verdict: flat when RSS grew by at most 1 MiB (or 2 %) after warm-up and descriptors and
/// threads did not move.
void print_verdict(const std::vector<Sample>& samples) {
  if (samples.size() < 2) {
    std::printf("verdict: too few samples (use --requests of at least %zu)\n", sample_count * 2);
    return;
  }
  const double growth = samples.back().rss_mib - samples[1].rss_mib;
  const auto [fd_min, fd_max] = std::minmax_element(samples.begin(), samples.end(),
                                                    [](const Sample& a, const Sample& b) { return a.fds < b.fds; });
  const auto [th_min, th_max] = std::minmax_element(
      samples.begin(), samples.end(), [](const Sample& a, const Sample& b) { return a.threads < b.threads; });
  const bool rss_flat = growth <= std::max(1.0, 0.02 * samples[1].rss_mib);
  const bool fds_flat = fd_max->fds == fd_min->fds && th_max->threads == th_min->threads;
  std::printf(
      "verdict: %s: rss %+.2f MiB from sample 2 to %zu (%.2f -> %.2f MiB), fds max-min %ld, threads max-min %ld\n",
      rss_flat && fds_flat ? "flat" : "NOT flat", growth, samples.size(), samples[1].rss_mib, samples.back().rss_mib,
      fd_max->fds - fd_min->fds, th_max->threads - th_min->threads);
}

/// Parses the command line; prints usage and exits on anything unknown.
Options parse_options(int argc, char** argv) {
  Options options;
  options.server = bench::default_server_path(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--requests" && has_value)
      options.requests = std::strtoul(argv[++i], nullptr, 10);
    else if (flag == "--threads" && has_value)
      options.threads = std::max<std::size_t>(1, std::strtoul(argv[++i], nullptr, 10));
    else if (flag == "--jobs" && has_value)
      options.jobs = std::max<std::size_t>(1, std::strtoul(argv[++i], nullptr, 10));
    else if (flag == "--server" && has_value)
      options.server = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--requests N (1000000)] [--threads N (4)] [--jobs N (1000)] [--server PATH]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  try {
    bench::ServerProcess server(options.server, server_flags(options));
    heygen::ClientOptions client_options;
    client_options.base_url = server.base_url();
    client_options.connection_pool_size = options.threads;  // one idle keep-alive connection per thread
    heygen::VideoTranslationClient client(client_options);
    Soak soak(options, client, create_jobs(client, options.jobs));
    std::printf("soak: %zu status requests, %zu threads, %zu jobs\n", options.requests, options.threads, options.jobs);
    std::fflush(stdout);
    const auto started = Clock::now();
    const std::vector<Sample> samples = soak.run();
    const double total_s = std::chrono::duration<double>(Clock::now() - started).count();
    print_table(samples);
    print_verdict(samples);
    std::printf(
        "answers: %zu completed, %zu pending, %zu job failed, %zu failed requests; server counted %llu "
        "status requests; %.1f s, %.0f requests/s\n",
        soak.completed(), soak.pending(), soak.job_failed(), soak.failures(), server_status_requests(server.port()),
        total_s, static_cast<double>(options.requests) / total_s);
    return soak.failures() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return 1;
  }
}
