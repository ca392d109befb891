// bench/bulk: what tracking N jobs at once costs the client, for real over loopback against status_server in
// its own process. Modes: per-job (library, server without batch or long poll), batch (library, server with
// batch), batch+long-poll (library, server with everything), raw (no library: a fixed pool of threads polling
// each job once a second with cpp-httplib). Every run gets a fresh server; the N jobs are created first (timed
// on stderr, not measured), then only the tracking is measured: wall time, status requests the server saw,
// this process's CPU, peak RSS and peak threads (sampled every 50 ms; the sampler thread is not counted).
// Each run happens in a forked child, so its memory and threads are not left over from an earlier run. The
// measuring, the job creation and the raw loop are shared with bench/poller (loopback.hpp).
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "loopback.hpp"
#include "server_process.hpp"

namespace {

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

/// One size × mode: a fresh server, the jobs created, then the tracking measured.
Row run(const Options& options, std::size_t jobs, const std::string& mode) {
  bench::ServerProcess server(options.server, server_flags(options, jobs, mode));
  const auto created = Clock::now();
  const std::vector<std::string> ids = bench::create_jobs(server.base_url(), jobs);
  std::fprintf(stderr, "bulk: %zu jobs, %s: created in %.2f s\n", jobs, mode.c_str(),
               std::chrono::duration<double>(Clock::now() - created).count());
  const bench::Totals before = bench::read_totals(server.port());
  Row row{.jobs = jobs, .mode = mode};
  bench::Sampler sampler;
  const bench::CpuUse cpu_before = bench::CpuUse::now();
  const auto start = Clock::now();
  row.results = mode == "raw" ? bench::track_raw(server.port(), ids, options.concurrency)
                              : track_library(server.base_url(), ids, options.concurrency);
  row.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  const bench::CpuUse cpu = bench::CpuUse::now() - cpu_before;
  row.cpu_s = cpu.total_s();
  std::fprintf(stderr,
               "bulk: %zu jobs, %s: cpu user %.2f s, system %.2f s; context switches %ld voluntary, %ld involuntary\n",
               jobs, mode.c_str(), cpu.user_s, cpu.system_s, cpu.voluntary_switches, cpu.involuntary_switches);
  const bench::Sampler::Peaks peaks = sampler.stop();
  row.peak_rss_mib = peaks.rss_mib;
  row.peak_threads = peaks.threads;
  const bench::Totals after = bench::read_totals(server.port());
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
  const std::string what = "bulk: " + std::to_string(jobs) + " jobs, " + mode;
  return bench::run_isolated<int>(what.c_str(),
                                  [&] {
                                    print_row(options.csv, run(options, jobs, mode));
                                    return 0;
                                  })
      .has_value();
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
