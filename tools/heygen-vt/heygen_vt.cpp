// heygen-vt: create video-translation jobs and wait for them from the command line (see --help).
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "args.hpp"
#include "client.hpp"
#include "interrupt.hpp"
#include "report.hpp"

namespace heygen_vt {
namespace {

/// The ids in the order given, each once.
std::vector<std::string> distinct(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& id : ids)
    if (seen.insert(id).second) out.push_back(id);
  return out;
}

/// Prints the reports as the user asked and returns the exit status.
int report(const std::vector<JobReport>& jobs, const Args& args, bool interrupted, const Totals& totals) {
  if (interrupted) std::fprintf(stderr, "heygen-vt: interrupted; unfinished jobs are reported as cancelled\n");
  if (args.json)
    print_json(jobs, false);
  else
    print_table(jobs, totals);
  return exit_status(jobs, interrupted);
}

/// `wait ID...`: one bulk call with a live progress line; a table (or JSON) at the end.
int run_wait(const Args& args, const heygen::ClientOptions& options, const InterruptWatcher& interrupt) {
  const auto started = std::chrono::steady_clock::now();
  const auto ids = distinct(args.ids);
  Client client(options, CountingTransport(options));
  ProgressLine progress(ids.size());
  const auto results = client.get_bulk_translation_statuses(
      ids, args.concurrency, interrupt.token(),
      [&progress](const std::string&, const heygen::TranslationResult& result, heygen::BulkProgress counts) {
        progress.update(result, counts);
      });
  progress.clear();
  std::vector<JobReport> jobs;
  jobs.reserve(ids.size());
  for (const auto& id : ids) jobs.push_back({id, results.at(id)});
  return report(jobs, args, interrupt.interrupted(), {client.transport().sent(), seconds_since(started)});
}

/// `status ID...`: one look at each job, `--concurrency` at a time.
int run_status(const Args& args, const heygen::ClientOptions& options, const InterruptWatcher& interrupt) {
  const auto started = std::chrono::steady_clock::now();
  const auto ids = distinct(args.ids);
  Client client(options, CountingTransport(options));
  std::vector<JobReport> jobs(ids.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < ids.size(); i = next++)
      jobs[i] = {ids[i], client.check_translation_status(ids[i], interrupt.token())};
  };
  {
    std::vector<std::jthread> workers(std::min(args.concurrency, ids.size()) - 1);
    for (auto& worker : workers) worker = std::jthread(work);
    work();
  }
  return report(jobs, args, interrupt.interrupted(), {client.transport().sent(), seconds_since(started)});
}

/// `create`: `--count` jobs, one id per line (or a JSON array) as each is created.
int run_create(const Args& args, const heygen::ClientOptions& options, const InterruptWatcher& interrupt) {
  heygen::VideoTranslationClient client(options);
  std::vector<std::string> ids;
  int status = exit_completed;
  try {
    for (int i = 0; i < args.count; ++i) {
      ids.push_back(client.create_translation_job(interrupt.token()));
      if (!args.json) std::printf("%s\n", ids.back().c_str());
      std::fflush(stdout);
    }
  } catch (const heygen::TranslationError& e) {
    std::fprintf(stderr, "heygen-vt: %s\n", e.what());
    status = e.cause() == heygen::FailureCause::cancelled ? exit_interrupted : exit_unavailable;
  }
  if (args.json) {
    std::printf("[");
    for (std::size_t i = 0; i < ids.size(); ++i)
      std::printf("%s{\"id\":%s}", i == 0 ? "" : ",", json_string(ids[i]).c_str());
    std::printf("]\n");
  }
  return interrupt.interrupted() ? exit_interrupted : status;
}

/// Runs the parsed command; throws UsageError or std::invalid_argument for unusable input.
int run(const Args& args) {
  validate(args);
  heygen::ClientOptions options = client_options(args);
  InterruptWatcher interrupt;
  if (args.command == "create") return run_create(args, options, interrupt);
  if (args.status_path == auto_status_path) options = detect_status_path(options, args.ids.front(), interrupt.token());
  if (args.command == "status") return run_status(args, options, interrupt);
  return run_wait(args, options, interrupt);
}

}  // namespace

}  // namespace heygen_vt

int main(int argc, char** argv) {
  using namespace heygen_vt;
  try {
    const Args args = parse_args(argc, argv);
    if (args.help) {
      std::fputs(help_text, stdout);
      return exit_completed;
    }
    return run(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "heygen-vt: %s\n(see heygen-vt --help)\n", e.what());
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "heygen-vt: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heygen-vt: %s\n", e.what());
    return exit_system;
  }
  return exit_usage;
}
