// bench/poller: the client's long-lived poller, for real over loopback against status_server in its own process
// (tracker protocol; the server has every extension unless said otherwise: many-status POST /status/batch of up to
// 1,000 ids, long poll, hints). Each run gets a fresh server and happens in a forked child, so its memory and threads
// are its own. Scenarios:
//   100k-async  100,000 get_translation_status_async waits outstanding at once on one client; the jobs are
//               created first from 8 threads (timed on stderr, not measured), each lasting longer than that.
//   continuous  1,000 callers × 10 jobs arriving at 500 jobs/s overall, each created when it arrives and watched
//               with watch(id, callback); heygen-like durations scaled to seconds. A few arrival threads play the
//               callers' schedules (they, and the CPU of their creates, are left out of the figures).
//               continuous-nlp: the same on a server that holds no long poll (many-status rounds only).
//   per-job CPU the poller polling job by job (a server without many-status or long poll) against a raw
//               cpp-httplib request loop with as many threads as the poller has workers, looking at every job
//               once a second: CPU per request, the median of interleaved runs. The raw loop runs twice: in
//               bursts (each thread its whole share back to back), and spread evenly over the second (as spread
//               as the poller's looks, which follow each job's own schedule). Informational, no floor: CPU time
//               on a shared machine moves by a third from run to run.
//   --instructions  the same per-job comparison (poller against the bursting raw loop) counted in instructions
//               by callgrind, which is steady from run to run: the floor is on it. The client part runs as this
//               program again under `valgrind --tool=callgrind --instr-atstart=no`, the server in its own
//               process, uninstrumented; the client creates its jobs uninstrumented, and CALLGRIND_START/
//               STOP_INSTRUMENTATION count from the first watch (the raw loop's start) to the end of the waits.
//               300 jobs of U(1, 3) s, 3 interleaved runs each (~30 s); --quick: 100 jobs, one run each.
//               --callgrind-out DIR keeps the profiles (callgrind.{poller,raw}.N.out) for callgrind_annotate.
// Columns: peak threads of the process (the sampler thread and the arrival threads not counted), resident memory
// before the waits and at peak (VmHWM), the poller's requests per job-poll (a many-status request counts once,
// its jobs once each), CPU per status request over the waiting phase, the server's detection lag (a job's end to
// the first answer that said so; the result is delivered on the same worker right after), results delivered.
// --quick runs each scenario small (CI-sized); --cpu-only runs the per-job CPU comparison alone; --instructions
// runs the instruction count alone. The floors are printed, never asserted: the exit status is non-zero only when
// a run failed or a result was not delivered.
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "loopback.hpp"
#include "server_process.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define POLLER_HAS_CALLGRIND 1
#else  // Debian: package valgrind; without it --instructions says it cannot count
#define POLLER_HAS_CALLGRIND 0
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

namespace {

using Clock = std::chrono::steady_clock;

/// What the command line asked for, and the sizes it implies.
struct Options {
  bool quick = false;
  std::string server;
  // 100k-async
  std::size_t async_jobs = 100'000;
  std::string async_duration = "uniform:15:45";  // every job outlives the creation of all of them
  // continuous
  std::size_t callers = 1000;
  std::size_t jobs_per_caller = 10;
  double arrivals_per_s = 500;
  std::string continuous_duration = "heygen-like:0.01";  // median 4.8 s
  int arrival_threads = 4;
  // per-job CPU
  std::size_t cpu_jobs = 3000;
  std::string cpu_duration = "uniform:1:3";
  int cpu_rounds = 4;
  bool cpu_only = false;  // --cpu-only: the per-job CPU comparison alone (to measure it again on a quiet machine)
  // --instructions: the per-job scenario under callgrind, small (callgrind runs the client ~50x slower)
  bool instructions = false;
  std::size_t instr_jobs = 300;
  std::string instr_duration = "uniform:1:3";
  int instr_rounds = 3;
  std::string callgrind_dir;  // --callgrind-out DIR: keep the profiles there (for callgrind_annotate)

  void make_quick() {
    quick = true;
    async_jobs = 5000;
    async_duration = "uniform:2:5";
    callers = 100;
    arrivals_per_s = 200;
    continuous_duration = "heygen-like:0.002";  // median 1 s
    cpu_jobs = 500;
    cpu_duration = "uniform:0.5:1.5";
    cpu_rounds = 2;
    instr_jobs = 100;
    instr_rounds = 1;
  }
};

/// One measured run. Trivially copyable: it comes back from the forked child through a pipe.
struct Row {
  char scenario[24]{};
  std::size_t jobs = 0;       // results expected
  std::size_t results = 0;    // results delivered
  std::size_t completed = 0;  // of them, completed
  double wall_s = 0;
  long peak_threads = 0;
  std::size_t pool = 0;  // the poller's workers
  double rss_before_mib = 0;
  double peak_rss_mib = 0;
  std::uint64_t requests = 0;   // status requests the poller sent (raw loop: the server's count)
  std::uint64_t job_looks = 0;  // jobs those requests named
  double cpu_s = 0;
  bench::CpuUse cpu{};  // the same, split, with context switches (per-job CPU runs)
  double lag_mean_ms = 0;
  double lag_p95_ms = 0;
  double lag_max_ms = 0;

  [[nodiscard]] double per_poll() const {
    return job_looks ? static_cast<double>(requests) / static_cast<double>(job_looks) : 0.0;
  }
  [[nodiscard]] double cpu_us_per_request() const {
    return requests ? cpu_s / static_cast<double>(requests) * 1e6 : 0.0;
  }
};

Row named(const char* scenario) {
  Row row;
  std::snprintf(row.scenario, sizeof row.scenario, "%s", scenario);
  return row;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// The client every scenario measures: the bundled transport, default poller (8 workers), a 10-minute deadline.
heygen::ClientOptions client_options(const std::string& base_url) {
  heygen::ClientOptions options;
  options.base_url = base_url;
  options.max_timeout = heygen::Seconds(600);
  return options;
}

/// Fills in what the end of a waiting phase knows: the poller's counts, CPU, peaks, and the server's lag.
void finish_row(Row& row, heygen::VideoTranslationClient& client, bench::Sampler& sampler, double cpu_s, int port) {
  const heygen::PollerStats stats = client.poller_stats();
  row.pool = stats.workers;
  row.requests = stats.requests;
  row.job_looks = stats.job_looks;
  row.cpu_s = cpu_s;
  row.peak_threads = sampler.stop().threads;
  row.peak_rss_mib = bench::status_mib("VmHWM");  // before anything else is read: /stats below is large
  const bench::Totals totals = bench::read_totals(port);
  row.lag_mean_ms = totals.lag_mean_ms;  // a fresh server per run: its lags are this run's
  row.lag_p95_ms = totals.lag_p95_ms;
  row.lag_max_ms = totals.lag_max_ms;
}

/// 100k-async: every job created first, then one get_translation_status_async per job, all outstanding at once.
Row run_async(const Options& options) {
  bench::ServerProcess server(options.server,
                              {"--duration", options.async_duration, "--seed", "7", "--max-jobs", "2000000"});
  Row row = named("100k-async");
  row.jobs = options.async_jobs;
  const auto created = Clock::now();
  const std::vector<std::string> ids = bench::create_jobs(server.base_url(), options.async_jobs);
  std::fprintf(stderr, "poller: 100k-async: %zu jobs created in %.1f s\n", ids.size(), seconds_since(created));
  row.rss_before_mib = bench::status_mib("VmRSS");
  heygen::VideoTranslationClient client(client_options(server.base_url()));
  bench::Sampler sampler;
  const bench::CpuUse cpu_before = bench::CpuUse::now();
  const auto start = Clock::now();
  std::vector<std::future<heygen::TranslationResult>> futures;
  futures.reserve(ids.size());
  for (const auto& id : ids) futures.push_back(client.get_translation_status_async(id));
  std::fprintf(stderr, "poller: 100k-async: %zu waits placed in %.2f s; %zu watched\n", futures.size(),
               seconds_since(start), client.poller_stats().watches);
  const auto give_up = start + std::chrono::seconds(options.quick ? 120 : 300);
  for (auto& future : futures) {
    if (future.wait_until(give_up) != std::future_status::ready) break;
    const heygen::TranslationResult result = future.get();
    ++row.results;
    if (result.ok()) ++row.completed;
  }
  row.wall_s = seconds_since(start);
  if (row.results < row.jobs) {
    const heygen::PollerStats stats = client.poller_stats();
    std::fprintf(stderr, "poller: 100k-async: HANG? %zu of %zu results after %.0f s; the poller watches %zu jobs\n",
                 row.results, row.jobs, row.wall_s, stats.watches);
  }
  finish_row(row, client, sampler, (bench::CpuUse::now() - cpu_before).total_s(), server.port());
  return row;
}

/// Counts the results of callback waits and wakes the main thread when the last one arrives.
class Tally {
 public:
  explicit Tally(std::size_t expected) : expected_(expected) {}
  void add(const heygen::TranslationResult& result) {
    std::lock_guard lock(mutex_);
    ++results_;
    if (result.ok()) ++completed_;
    if (results_ == expected_) all_in_.notify_all();
  }
  /// Waits until every result is in or `until`; returns {results, completed}.
  std::pair<std::size_t, std::size_t> wait(Clock::time_point until) {
    std::unique_lock lock(mutex_);
    all_in_.wait_until(lock, until, [&] { return results_ >= expected_; });
    return {results_, completed_};
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_in_;
  std::size_t expected_;
  std::size_t results_ = 0;
  std::size_t completed_ = 0;
};

/// continuous: callers' jobs arriving over time, each created when it arrives and watched with a callback; on a
/// server with every extension, or (`long_poll` false) one that holds no long poll.
Row run_continuous(const Options& options, bool long_poll) {
  std::vector<std::string> flags{"--duration", options.continuous_duration, "--seed", "7"};
  if (!long_poll) flags.push_back("--no-long-poll");
  bench::ServerProcess server(options.server, flags);
  Row row = named(long_poll ? "continuous" : "continuous-nlp");
  row.jobs = options.callers * options.jobs_per_caller;
  const double span_s = static_cast<double>(row.jobs) / options.arrivals_per_s;
  // Each caller's jobs arrive at uniform random times over the span (so 500 jobs/s overall, Poisson-like); the
  // arrival threads play the callers c ≡ t (mod threads), in time order.
  std::vector<std::vector<double>> schedules(static_cast<std::size_t>(options.arrival_threads));
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> at(0.0, span_s);
  for (std::size_t caller = 0; caller < options.callers; ++caller)
    for (std::size_t k = 0; k < options.jobs_per_caller; ++k) schedules[caller % schedules.size()].push_back(at(rng));
  for (auto& schedule : schedules) std::sort(schedule.begin(), schedule.end());

  row.rss_before_mib = bench::status_mib("VmRSS");
  heygen::VideoTranslationClient client(client_options(server.base_url()));
  Tally tally(row.jobs);
  bench::Sampler sampler;
  std::mutex create_mutex;
  double create_cpu_s = 0;  // the creates' CPU, left out: the poller's waits are measured
  std::atomic<std::size_t> create_failures{0};
  const bench::CpuUse cpu_before = bench::CpuUse::now();
  const auto start = Clock::now();
  {
    std::vector<std::jthread> arrivals;
    for (const auto& schedule : schedules)
      arrivals.emplace_back([&, &schedule = schedule] {
        sampler.exclude(gettid());
        double own = 0;
        for (const double when : schedule) {
          std::this_thread::sleep_until(
              start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(when)));
          const bench::CpuUse before = bench::CpuUse::now(RUSAGE_THREAD);
          std::string id;
          try {
            id = client.create_translation_job();
          } catch (const std::exception& e) {
            if (create_failures++ == 0) std::fprintf(stderr, "poller: continuous: create failed: %s\n", e.what());
          }
          own += (bench::CpuUse::now(RUSAGE_THREAD) - before).total_s();
          if (id.empty()) {
            tally.add(heygen::TranslationResult{});  // counted as delivered, not completed
            continue;
          }
          client.watch(id,
                       [&tally](const std::string&, const heygen::TranslationResult& result) { tally.add(result); });
        }
        std::lock_guard lock(create_mutex);
        create_cpu_s += own;
      });
  }
  std::fprintf(stderr, "poller: continuous: %zu jobs arrived in %.1f s (%zu creates failed)\n", row.jobs,
               seconds_since(start), create_failures.load());
  const auto [results, completed] = tally.wait(Clock::now() + std::chrono::seconds(options.quick ? 120 : 300));
  row.results = results - create_failures;
  row.completed = completed;
  row.jobs -= create_failures;
  row.wall_s = seconds_since(start);
  if (row.results < row.jobs)
    std::fprintf(stderr, "poller: continuous: HANG? %zu of %zu results after %.0f s; the poller watches %zu jobs\n",
                 row.results, row.jobs, row.wall_s, client.poller_stats().watches);
  finish_row(row, client, sampler, (bench::CpuUse::now() - cpu_before).total_s() - create_cpu_s, server.port());
  return row;
}

/// Who polls in a per-job CPU run.
enum class Poller { library, raw_burst, raw_spread };

/// per-job CPU, one run: the poller watching every job one request at a time, or the raw loop. Requests and
/// job-polls are the server's counts for all, so they are counted alike (the poller's first many-status
/// request, answered 404 by this server, is not counted there).
Row run_per_job(const Options& options, Poller who) {
  const bool raw = who != Poller::library;
  bench::ServerProcess server(options.server,
                              {"--duration", options.cpu_duration, "--seed", "7", "--no-batch", "--no-long-poll"});
  Row row = named(who == Poller::library ? "poller" : who == Poller::raw_burst ? "raw loop" : "raw spread");
  row.jobs = options.cpu_jobs;
  const std::vector<std::string> ids = bench::create_jobs(server.base_url(), options.cpu_jobs);
  const bench::Totals before = bench::read_totals(server.port());
  const std::size_t pool = heygen::ClientOptions{}.poller_threads;
  row.rss_before_mib = bench::status_mib("VmRSS");
  bench::Sampler sampler;
  const bench::CpuUse cpu_before = bench::CpuUse::now();
  const auto start = Clock::now();
  if (raw) {
    const auto pace = who == Poller::raw_burst ? bench::RawPace::burst : bench::RawPace::spread;
    row.results = row.completed = bench::track_raw(server.port(), ids, pool, pace);
    row.pool = pool;
  } else {
    heygen::VideoTranslationClient client(client_options(server.base_url()));
    Tally tally(ids.size());
    for (const auto& id : ids)
      client.watch(id, [&tally](const std::string&, const heygen::TranslationResult& result) { tally.add(result); });
    std::tie(row.results, row.completed) = tally.wait(start + std::chrono::seconds(300));
    row.pool = client.poller_stats().workers;
  }
  row.wall_s = seconds_since(start);
  row.cpu = bench::CpuUse::now() - cpu_before;
  row.cpu_s = row.cpu.total_s();
  row.peak_threads = sampler.stop().threads;
  row.peak_rss_mib = bench::status_mib("VmHWM");
  const bench::Totals after = bench::read_totals(server.port());
  row.requests = after.status_requests - before.status_requests;
  row.job_looks = after.job_status_looks - before.job_status_looks;
  row.lag_mean_ms = after.lag_mean_ms;
  row.lag_p95_ms = after.lag_p95_ms;
  row.lag_max_ms = after.lag_max_ms;
  return row;
}

void print_header() {
  std::printf("%-14s %7s %7s %7s %5s %8s %8s %9s %9s %8s %7s %8s %8s %8s %8s %13s\n", "scenario", "jobs", "wall s",
              "threads", "pool", "RSS0 MiB", "peak MiB", "requests", "job-polls", "req/poll", "cpu s", "us/req",
              "lag ms", "lag p95", "lag max", "results");
  std::fflush(stdout);
}

void print_row(const Row& r) {
  char results[32];
  std::snprintf(results, sizeof results, "%zu/%zu", r.results, r.jobs);
  std::printf("%-14s %7zu %7.1f %7ld %5zu %8.1f %8.1f %9llu %9llu %8.4f %7.2f %8.1f %8.0f %8.0f %8.0f %13s\n",
              r.scenario, r.jobs, r.wall_s, r.peak_threads, r.pool, r.rss_before_mib, r.peak_rss_mib,
              static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.job_looks), r.per_poll(),
              r.cpu_s, r.cpu_us_per_request(), r.lag_mean_ms, r.lag_p95_ms, r.lag_max_ms, results);
  std::fflush(stdout);
}

/// One floor line: `value` against `floor` (at most, or exactly when `exact`).
void floor_line(const std::string& what, double value, double floor, bool exact = false) {
  const bool ok = exact ? value == floor : value <= floor;
  std::printf("floor %-46s %10.3f %s %10.3f  %s\n", what.c_str(), value, exact ? "==" : "<=", floor,
              ok ? "ok" : "MISSED");
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

/// The scenarios with a table row each; false when a run failed or a result was not delivered.
bool run_scenarios(const Options& options, std::vector<Row>& rows) {
  bool all_delivered = true;
  print_header();
  for (const auto& [name, measure] : std::vector<std::pair<const char*, std::function<Row()>>>{
           {"poller: 100k-async", [&] { return run_async(options); }},
           {"poller: continuous", [&] { return run_continuous(options, true); }},
           {"poller: continuous-nlp", [&] { return run_continuous(options, false); }}}) {
    const std::optional<Row> row = bench::run_isolated<Row>(name, measure);
    if (!row) {
      std::printf("%s: the run failed (see stderr)\n", name);
      all_delivered = false;
      continue;
    }
    print_row(*row);
    rows.push_back(*row);
    all_delivered = all_delivered && row->results == row->jobs;
  }
  return all_delivered;
}

/// Per-job CPU: poller, raw-burst and raw-spread runs interleaved, a row each; sets `ratio` to the poller's median
/// CPU per request over the bursting raw loop's (0 when either has no run). False when a run failed or a result
/// was not delivered.
bool compare_per_job_cpu(const Options& options, double& ratio) {
  std::printf("\nper-job CPU: %zu jobs (%s), server without many-status or long poll, %d interleaved runs each\n",
              options.cpu_jobs, options.cpu_duration.c_str(), options.cpu_rounds);
  print_header();
  bool all_delivered = true;
  std::array<std::vector<double>, 3> us;  // CPU µs per request, by Poller
  for (int round = 0; round < options.cpu_rounds; ++round)
    for (const Poller who : {Poller::library, Poller::raw_burst, Poller::raw_spread}) {
      const std::optional<Row> row =
          bench::run_isolated<Row>("poller: per-job CPU", [&] { return run_per_job(options, who); });
      if (!row) {
        all_delivered = false;
        continue;
      }
      print_row(*row);
      std::fprintf(stderr,
                   "poller: per-job CPU, %s: user %.2f s, system %.2f s; context switches %ld voluntary, %ld "
                   "involuntary\n",
                   row->scenario, row->cpu.user_s, row->cpu.system_s, row->cpu.voluntary_switches,
                   row->cpu.involuntary_switches);
      us[static_cast<std::size_t>(who)].push_back(row->cpu_us_per_request());
      all_delivered = all_delivered && row->results == row->jobs;
    }
  const double poller = median(us[0]), burst = median(us[1]), spread = median(us[2]);
  ratio = poller > 0 && burst > 0 ? poller / burst : 0.0;
  std::printf(
      "cpu us/request, median: poller %.1f, raw loop %.1f, raw spread %.1f; poller ÷ raw %.2f, poller ÷ "
      "raw spread %.2f\n\n",
      poller, burst, spread, ratio, spread > 0 ? poller / spread : 0.0);
  return all_delivered;
}

/// The floors, from the rows and the per-job CPU ratio.
void print_floors(const std::vector<Row>& rows, double ratio) {
  for (const Row& row : rows) {
    const std::string name = row.scenario;
    const auto results = static_cast<double>(row.results);
    if (name == "100k-async") {
      floor_line(name + " threads <= pool + 2", static_cast<double>(row.peak_threads),
                 static_cast<double>(row.pool + 2));
      floor_line(name + " peak RSS MiB", row.peak_rss_mib, 256);
      floor_line(name + " results delivered", results, static_cast<double>(row.jobs), true);
    }
    if (name.starts_with("continuous")) {
      floor_line(name + " requests per job-poll", row.per_poll(), 0.05);
      floor_line(name + " results delivered", results, static_cast<double>(row.jobs), true);
    }
  }
  // No floor: CPU on a shared machine moves by a third between runs; the floor is on instructions (--instructions).
  if (ratio > 0) std::printf("informational: per-job CPU/request poller ÷ raw loop %.3f (no floor)\n", ratio);
}

// ---- --instructions: the per-job scenario counted in instructions (callgrind) ----

/// What one callgrind run counted: the client's instructions over the request phase and the server's requests.
struct Counted {
  std::string scenario;
  std::uint64_t requests = 0;      // the server's status requests (a fresh server per run)
  std::uint64_t instructions = 0;  // callgrind's Ir total: only the request phase is instrumented
  double wall_s = 0;               // of the whole child, valgrind's start-up included
  bool delivered = false;          // the child saw every result

  [[nodiscard]] double per_request() const {
    return requests ? static_cast<double>(instructions) / static_cast<double>(requests) : 0.0;
  }
};

/// This program's own path, to run it again under valgrind.
std::string self_path() {
  std::array<char, 4096> path{};
  const ssize_t length = readlink("/proc/self/exe", path.data(), path.size() - 1);
  return length > 0 ? std::string(path.data(), static_cast<std::size_t>(length)) : std::string();
}

/// The Ir total of a callgrind profile (its "totals:" line: its "summary:" says 0 when instrumentation began off);
/// 0 when there is none.
std::uint64_t callgrind_total(const std::string& path) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("totals:")) return std::strtoull(line.c_str() + 7, nullptr, 10);
  return 0;
}

/// Runs `argv` and waits for it; true when it exited 0.
bool run_program(std::vector<std::string> args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// One run: a fresh server (un-instrumented, its own process) and this program again under callgrind as the
/// client, which creates the jobs with instrumentation off and turns it on for the request phase only. Empty when
/// the run failed (it says why on stderr).
std::optional<Counted> count_instructions(const Options& options, Poller who, const std::string& profile) try {
  bench::ServerProcess server(options.server,
                              {"--duration", options.instr_duration, "--seed", "7", "--no-batch", "--no-long-poll"});
  Counted counted;
  counted.scenario = who == Poller::library ? "poller" : "raw loop";
  const auto start = Clock::now();
  counted.delivered =
      run_program({"valgrind", "--tool=callgrind", "--instr-atstart=no", "-q", "--callgrind-out-file=" + profile,
                   self_path(), "--instructions-child", who == Poller::library ? "poller" : "raw",
                   std::to_string(server.port()), std::to_string(options.instr_jobs)});
  counted.wall_s = seconds_since(start);
  counted.instructions = callgrind_total(profile);
  if (counted.instructions == 0) return std::nullopt;
  counted.requests = bench::read_totals(server.port()).status_requests;
  return counted;
} catch (const std::exception& e) {
  std::fprintf(stderr, "poller: instructions: %s\n", e.what());
  return std::nullopt;
}

/// The client side of one callgrind run (hidden: `--instructions-child poller|raw PORT JOBS`): as run_per_job,
/// with callgrind's instrumentation on from the first watch (or the raw loop's start) to the end of the waits.
/// Exits 0 when every result was delivered.
int instructions_child(const std::string& who, int port, std::size_t jobs) try {
  const std::string base_url = "http://127.0.0.1:" + std::to_string(port);
  const std::vector<std::string> ids = bench::create_jobs(base_url, jobs);
  std::size_t results = 0;
  if (who == "raw") {
    CALLGRIND_START_INSTRUMENTATION;
    results = bench::track_raw(port, ids, heygen::ClientOptions{}.poller_threads, bench::RawPace::burst);
    CALLGRIND_STOP_INSTRUMENTATION;
  } else {
    auto client = std::make_optional<heygen::VideoTranslationClient>(client_options(base_url));
    Tally tally(ids.size());
    CALLGRIND_START_INSTRUMENTATION;
    for (const auto& id : ids)
      client->watch(id, [&tally](const std::string&, const heygen::TranslationResult& result) { tally.add(result); });
    results = tally.wait(Clock::now() + std::chrono::seconds(600)).first;
    client.reset();  // its workers and connections end inside the count, as the raw loop's threads do
    CALLGRIND_STOP_INSTRUMENTATION;
  }
  return results == ids.size() ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "poller: instructions: %s\n", e.what());
  return 1;
}

/// The name of a profile kept in `dir`: callgrind.poller.N.out or callgrind.raw.N.out.
std::string profile_path(const std::string& dir, Poller who, int round) {
  return dir + "/callgrind." + (who == Poller::library ? "poller." : "raw.") + std::to_string(round + 1) + ".out";
}

/// The medians of instructions per request (by Poller: library, raw_burst), their ratio and the floor.
void print_instruction_floor(const std::array<std::vector<double>, 2>& per_request) {
  const double poller = median(per_request[0]), raw = median(per_request[1]);
  const double ratio = poller > 0 && raw > 0 ? poller / raw : 0.0;
  std::printf("instructions/request, median: poller %.0f, raw loop %.0f; poller ÷ raw %.3f\n", poller, raw, ratio);
  const char* what = "per-job instructions/request poller ÷ raw loop";
  if (ratio > 0)
    floor_line(what, ratio, 1.05);
  else
    std::printf("floor %-46s %10s    %10.3f  MISSED (no run to compare)\n", what, "-", 1.05);
}

/// --instructions: poller and raw loop runs interleaved under callgrind, a row each, then the medians and the
/// floor. The profiles go to a temporary folder, removed afterwards, unless --callgrind-out names one. False when
/// a run failed or a result was not delivered.
bool compare_instructions(const Options& options) {
  if (!POLLER_HAS_CALLGRIND) {
    std::printf("instructions: built without valgrind/callgrind.h (Debian: valgrind), cannot count\n");
    return false;
  }
  std::printf(
      "instructions (callgrind): %zu jobs (%s), server without many-status or long poll, %d interleaved runs "
      "each\n",
      options.instr_jobs, options.instr_duration.c_str(), options.instr_rounds);
  std::printf("%-10s %7s %9s %14s %10s %7s %9s\n", "scenario", "jobs", "requests", "instructions", "instr/req",
              "wall s", "results");
  const bool keep = !options.callgrind_dir.empty();
  std::string dir = (std::filesystem::temp_directory_path() / "poller-callgrind-XXXXXX").string();
  dir = keep ? options.callgrind_dir : mkdtemp(dir.data()) ? dir : std::string(".");
  bool all_delivered = true;
  std::array<std::vector<double>, 2> per_request;  // by Poller: library, raw_burst
  for (int round = 0; round < options.instr_rounds; ++round)
    for (const Poller who : {Poller::library, Poller::raw_burst}) {
      const std::optional<Counted> counted = count_instructions(options, who, profile_path(dir, who, round));
      if (!keep) std::remove(profile_path(dir, who, round).c_str());
      if (!counted) {
        std::printf("%-10s the run failed (is valgrind installed? see stderr)\n",
                    who == Poller::library ? "poller" : "raw loop");
        all_delivered = false;
        continue;
      }
      std::printf("%-10s %7zu %9llu %14llu %10.0f %7.1f %9s\n", counted->scenario.c_str(), options.instr_jobs,
                  static_cast<unsigned long long>(counted->requests),
                  static_cast<unsigned long long>(counted->instructions), counted->per_request(), counted->wall_s,
                  counted->delivered ? "all" : "MISSING");
      std::fflush(stdout);
      per_request[static_cast<std::size_t>(who)].push_back(counted->per_request());
      all_delivered = all_delivered && counted->delivered;
    }
  if (keep)
    std::printf("callgrind profiles: %s/callgrind.{poller,raw}.N.out (callgrind_annotate --inclusive=yes FILE)\n",
                dir.c_str());
  else
    rmdir(dir.c_str());
  print_instruction_floor(per_request);
  return all_delivered;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // the raw loop's cpp-httplib writes without MSG_NOSIGNAL
  if (argc == 5 && std::strcmp(argv[1], "--instructions-child") == 0)
    return instructions_child(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 10));
  Options options;
  options.server = bench::default_server_path(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--quick") {
      options.make_quick();
    } else if (flag == "--cpu-only") {
      options.cpu_only = true;
    } else if (flag == "--instructions") {
      options.instructions = true;
    } else if (flag == "--callgrind-out" && i + 1 < argc) {
      options.callgrind_dir = argv[++i];
    } else if (flag == "--server" && i + 1 < argc) {
      options.server = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--cpu-only | --instructions [--callgrind-out DIR]] [--server PATH]\n",
                   argv[0]);
      return 2;
    }
  }
  if (options.instructions) return compare_instructions(options) ? 0 : 1;
  std::vector<Row> rows;
  bool all_delivered = options.cpu_only || run_scenarios(options, rows);
  double ratio = 0;
  all_delivered = compare_per_job_cpu(options, ratio) && all_delivered;
  print_floors(rows, ratio);
  return all_delivered ? 0 : 1;
}
