// heygen-vt: create video-translation jobs and wait for them from the command line (see --help).
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "args.hpp"
#include "client.hpp"
#include "endpoints.hpp"
#include "interrupt.hpp"
#include "report.hpp"
#include "translate.hpp"
#include "webhook.hpp"

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

/// True when the reports carry what each job produced (--api heygen-v3).
bool with_outputs(const Args& args) { return args.api == api_heygen_v3; }

/// Prints the reports as the user asked and returns the exit status.
int report(const std::vector<JobReport>& jobs, const Args& args, bool interrupted, const Totals& totals) {
  if (interrupted) std::fprintf(stderr, "heygen-vt: interrupted; unfinished jobs are reported as cancelled\n");
  if (args.json)
    print_json(jobs, with_outputs(args));
  else
    print_table(jobs, totals);
  return exit_status(jobs, interrupted);
}

/// Calls `work(i)` for every i below `count`, `concurrency` at a time.
template <class Work>
void for_each_concurrently(std::size_t count, std::size_t concurrency, const Work& work) {
  if (count == 0) return;
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) work(i);
  };
  std::vector<std::jthread> workers(std::min(concurrency, count) - 1);
  for (auto& thread : workers) thread = std::jthread(worker);
  worker();
}

/// A many-status answer says only that a job completed, not what it produced: one look at each completed job
/// without outputs fetches them (HeyGen's GET /v3/video-translations/{id}). A look that fails leaves the job
/// completed, without outputs, and says so on stderr.
template <class C>
void fetch_outputs(C& client, std::vector<JobReport>& jobs, const Args& args, const InterruptWatcher& interrupt) {
  std::vector<JobReport*> missing;
  for (auto& job : jobs)
    if (job.result.ok() && job.result.outputs.empty()) missing.push_back(&job);
  for_each_concurrently(missing.size(), args.concurrency, [&](std::size_t i) {
    JobReport& job = *missing[i];
    heygen::TranslationResult look = client.check_translation_status(job.id, interrupt.token());
    job.result.requests += look.requests;
    if (look.ok())
      job.result.outputs = std::move(look.outputs);
    else if (!interrupt.interrupted())
      std::fprintf(stderr, "heygen-vt: %s completed, but its outputs could not be read: %s\n", job.id.c_str(),
                   look.error_message.value_or(std::string(heygen::to_string(look.status))).c_str());
  });
}

/// Waits for `ids` on `client`: one bulk call with a live progress line; a table (or JSON) at the end. With
/// `pushes`, a line on stderr says what became of the pushes taken meanwhile.
template <class C>
int wait_for(C& client, const std::vector<std::string>& given_ids, const Args& args, const InterruptWatcher& interrupt,
             std::chrono::steady_clock::time_point started, const PushListener* pushes) {
  const auto ids = distinct(given_ids);
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
  if (with_outputs(args)) fetch_outputs(client, jobs, args, interrupt);
  if (pushes != nullptr) pushes->print_summary(client.poller_stats().hints_confirmed);
  return report(jobs, args, interrupt.interrupted(), {client.transport().sent(), seconds_since(started)});
}

/// `wait ID...`, taking pushes with --webhook-listen.
template <class C>
int run_wait(const Args& args, heygen::ClientOptions options, const InterruptWatcher& interrupt) {
  const auto started = std::chrono::steady_clock::now();
  const auto pushes = listen_for_pushes(args, options);
  C client(options, CountingTransport(options));
  const auto attached = attach(pushes, client);
  return wait_for(client, args.ids, args, interrupt, started, pushes.get());
}

/// `status ID...`: one look at each job, `--concurrency` at a time.
template <class C>
int run_status(const Args& args, const heygen::ClientOptions& options, const InterruptWatcher& interrupt) {
  const auto started = std::chrono::steady_clock::now();
  const auto ids = distinct(args.ids);
  C client(options, CountingTransport(options));
  std::vector<JobReport> jobs(ids.size());
  for_each_concurrently(ids.size(), args.concurrency, [&](std::size_t i) {
    jobs[i] = {ids[i], client.check_translation_status(ids[i], interrupt.token())};
  });
  return report(jobs, args, interrupt.interrupted(), {client.transport().sent(), seconds_since(started)});
}

/// The exit status for a call that threw: 130 when cancelled, else 69 (the server could not be used).
int failed_call(const heygen::TranslationError& e) {
  std::fprintf(stderr, "heygen-vt: %s\n", e.what());
  return e.cause() == heygen::FailureCause::cancelled ? exit_interrupted : exit_unavailable;
}

/// Prints created ids as one JSON array: `[{"id": ...}, ...]`.
void print_created(const std::vector<std::string>& ids) {
  std::printf("[");
  for (std::size_t i = 0; i < ids.size(); ++i)
    std::printf("%s{\"id\":%s}", i == 0 ? "" : ",", json_string(ids[i]).c_str());
  std::printf("]\n");
}

/// The create input of `--api heygen-v3 create`: one translation of the video into each --lang.
heygen::TranslationRequest v3_request(const Args& args) {
  heygen::TranslationRequest request;
  request.video_url = args.video_url;
  request.video_asset_id = args.asset_id;
  request.output_languages = args.languages;
  request.title = args.title;
  request.mode = args.mode;
  if (args.captions) request.enable_caption = true;
  return request;
}

/// Creates on `client` as `create` says (--count jobs, or one translation per --lang), printing each id as it
/// comes unless --json; returns 0, or the exit status of the create that failed.
template <class C>
int create_jobs(C& client, const Args& args, const InterruptWatcher& interrupt, std::vector<std::string>& ids) {
  try {
    if constexpr (std::is_same_v<C, V3Client>) {
      ids = client.create_translation_jobs(v3_request(args), interrupt.token());
      if (!args.json)
        for (const auto& id : ids) std::printf("%s\n", id.c_str());
    } else {
      for (int i = 0; i < args.count; ++i) {
        ids.push_back(client.create_translation_job(interrupt.token()));
        if (!args.json) std::printf("%s\n", ids.back().c_str());
        std::fflush(stdout);
      }
    }
  } catch (const heygen::TranslationError& e) {
    return failed_call(e);
  }
  std::fflush(stdout);
  return exit_completed;
}

/// `create`: one id per line (or a JSON array). With --wait, the same client then waits for the new jobs (a
/// push for one of them is taken from the start), printing what wait prints; with --webhook-listen, pushes are
/// taken the whole time.
template <class C>
int run_create(const Args& args, heygen::ClientOptions options, const InterruptWatcher& interrupt) {
  const auto started = std::chrono::steady_clock::now();
  const auto pushes = listen_for_pushes(args, options);
  C client(options, CountingTransport(options));
  const auto attached = attach(pushes, client);
  std::vector<std::string> ids;
  const int status = create_jobs(client, args, interrupt, ids);
  if (status != exit_completed || !args.wait || interrupt.interrupted()) {
    if (args.json) print_created(ids);
    return interrupt.interrupted() ? exit_interrupted : status;
  }
  if constexpr (std::is_same_v<C, Client>) {
    if (args.status_path == auto_status_path) {
      const heygen::ClientOptions detected = detect_status_path(options, ids.front(), interrupt.token());
      if (detected.endpoints.status != options.endpoints.status) {
        Client other(detected, CountingTransport(detected));
        const auto moved = attach(pushes, other);
        return wait_for(other, ids, args, interrupt, started, pushes.get());
      }
    }
  }
  return wait_for(client, ids, args, interrupt, started, pushes.get());
}

/// `--api heygen-v3 languages`: the names --lang takes, one per line (or a JSON array).
int run_languages(const Args& args, const heygen::ClientOptions& options, const InterruptWatcher& interrupt) {
  V3Client client(options, CountingTransport(options));
  std::vector<std::string> languages;
  try {
    languages = client.list_languages(interrupt.token());
  } catch (const heygen::TranslationError& e) {
    return interrupt.interrupted() ? exit_interrupted : failed_call(e);
  }
  if (args.json) {
    picojson::array names(languages.begin(), languages.end());
    std::printf("%s\n", picojson::value(std::move(names)).serialize().c_str());
  } else {
    for (const auto& language : languages) std::printf("%s\n", language.c_str());
  }
  return exit_completed;
}

/// Translates one file into every --lang on `client`: its rows, or one row saying why the file went nowhere.
std::vector<TranslateRow> translate_one(V3Client& client, const std::string& file, const Args& args,
                                        TranslateLine& line, const InterruptWatcher& interrupt) {
  heygen::TranslationRequest request = v3_request(args);
  std::vector<TranslateRow> rows;
  try {
    heygen::TranslateOptions options;
    options.progress = [&](const heygen::TranslateProgress& step) { line.show(file, step); };
    options.overwrite = args.force;
    const auto outputs = client.translate_file(file, args.languages, args.out_dir, request, options, interrupt.token());
    for (const auto& output : outputs) rows.push_back({file, output});
  } catch (const heygen::FileError& e) {
    rows.push_back(failed_file(file, e.what(), heygen::FailureCause::job_failed));
  } catch (const heygen::TranslationError& e) {
    rows.push_back(failed_file(file, e.what(), e.cause()));
  }
  return rows;
}

/// `translate FILE... --lang NAME... --out DIR`: each file on its own thread (--concurrency at a time), all on one
/// client, so their waits share its poller; a live line, then a table or JSON; the exit status of wait.
int run_translate(const Args& args, heygen::ClientOptions options, const InterruptWatcher& interrupt) {
  const auto pushes = listen_for_pushes(args, options);
  V3Client client(options, CountingTransport(options));
  const auto attached = attach(pushes, client);
  TranslateLine line;
  std::vector<std::vector<TranslateRow>> per_file(args.ids.size());
  for_each_concurrently(args.ids.size(), args.concurrency, [&](std::size_t i) {
    per_file[i] = translate_one(client, args.ids[i], args, line, interrupt);
  });
  line.clear();
  std::vector<TranslateRow> rows;
  std::vector<JobReport> jobs;
  for (auto& file : per_file)
    for (auto& row : file) {
      jobs.push_back(as_job(row));
      rows.push_back(std::move(row));
    }
  if (args.json)
    print_translated_json(rows);
  else
    print_translated(rows);
  if (pushes != nullptr) pushes->print_summary(client.poller_stats().hints_confirmed);
  return exit_status(jobs, interrupt.interrupted());
}

/// The outcomes resume() hands over, in the order they come.
class Resumed {
 public:
  /// The callback resume() hands each outcome to.
  heygen::WatchCallback callback() {
    return [this](const std::string& id, const heygen::TranslationResult& result) {
      {
        std::lock_guard lock(mutex_);
        if (std::none_of(jobs_.begin(), jobs_.end(), [&](const JobReport& job) { return job.id == id; }))
          jobs_.push_back({id, result});
      }
      arrived_.notify_all();
    };
  }
  /// Waits until every id in `expected` has its outcome (a wait cut by Ctrl-C ends cancelled, so it comes too).
  std::vector<JobReport> wait_for(const std::set<std::string>& expected) {
    std::unique_lock lock(mutex_);
    arrived_.wait(lock, [&] {
      return std::all_of(expected.begin(), expected.end(), [&](const std::string& id) {
        return std::any_of(jobs_.begin(), jobs_.end(), [&](const JobReport& job) { return job.id == id; });
      });
    });
    return jobs_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<JobReport> jobs_;
};

/// `resume --journal FILE`: hands over what the journal holds (see ClientOptions::journal), waits for the jobs it
/// watches again, and prints them as wait does, with a line on stderr saying what was picked up.
template <class C>
int run_resume(const Args& args, const heygen::ClientOptions& options, const InterruptWatcher& interrupt) {
  const auto started = std::chrono::steady_clock::now();
  Resumed resumed;  // before the client: the client's end cancels its waits into it
  C client(options, CountingTransport(options));
  const heygen::ResumeReport picked = client.resume(resumed.callback(), {.stop = interrupt.token()});
  // Every id resume() took up gets its outcome; Ctrl-C cancels the waits, which hands over "cancelled".
  const std::vector<JobReport> jobs = resumed.wait_for({picked.ids.begin(), picked.ids.end()});
  std::fprintf(stderr,
               "heygen-vt: resumed: %zu outcomes handed over, %zu jobs watched again, %zu creates sent again, "
               "%zu past the replay window, %zu failed to send again\n",
               picked.handed_over, picked.watching, picked.resent, picked.unknown, picked.failed);
  return report(jobs, args, interrupt.interrupted(), {client.transport().sent(), seconds_since(started)});
}

/// Runs a command on HeyGen's v3 API.
int run_v3(const Args& args) {
  const heygen::ClientOptions options = with_journal(v3_client_options(args), args);
  InterruptWatcher interrupt;
  if (args.command == "resume") return run_resume<V3Client>(args, options, interrupt);
  if (args.command == "create") return run_create<V3Client>(args, options, interrupt);
  if (args.command == "languages") return run_languages(args, options, interrupt);
  if (args.command == "webhooks") return run_webhooks(args, options, interrupt);
  if (args.command == "status") return run_status<V3Client>(args, options, interrupt);
  if (args.command == "translate") return run_translate(args, options, interrupt);
  return run_wait<V3Client>(args, options, interrupt);
}

/// Runs the parsed command; throws UsageError or std::invalid_argument for unusable input.
int run(const Args& args) {
  validate(args);
  if (args.api == api_heygen_v3) return run_v3(args);
  heygen::ClientOptions options = with_journal(client_options(args), args);
  InterruptWatcher interrupt;
  if (args.command == "resume") return run_resume<Client>(args, options, interrupt);
  if (args.command == "create") return run_create<Client>(args, options, interrupt);
  if (args.status_path == auto_status_path) options = detect_status_path(options, args.ids.front(), interrupt.token());
  if (args.command == "status") return run_status<Client>(args, options, interrupt);
  return run_wait<Client>(args, options, interrupt);
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
