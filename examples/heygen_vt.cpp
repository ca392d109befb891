// heygen-vt: create video-translation jobs and wait for them from the command line (see --help).
#include <heygen/video_translation.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

constexpr int exit_completed = 0;
constexpr int exit_failed = 1;
constexpr int exit_unfinished = 2;
constexpr int exit_usage = 64;         // EX_USAGE from sysexits.h
constexpr int exit_unavailable = 69;   // EX_UNAVAILABLE from sysexits.h
constexpr int exit_system = 71;        // EX_OSERR from sysexits.h
constexpr int exit_interrupted = 130;  // 128 + SIGINT, as shells report it

constexpr const char* default_url = "http://127.0.0.1:5000";
constexpr const char* auto_status_path = "auto";
constexpr const char* query_status_path = "/status";

constexpr const char* help_text = R"(usage: heygen-vt [OPTIONS] COMMAND [ARGS]

Creates video-translation jobs and tracks them on a status-tracker server.

commands:
  create              create --count jobs (default 1); prints one job id per line
  status ID...        look once at each job; pending jobs are reported as pending
  wait ID...          wait until every job completed, failed or timed out; prints a table per job

options:
  --url URL           server base URL (default $HEYGEN_API_URL, else http://127.0.0.1:5000)
  --timeout SECONDS   deadline of the whole call per job (default 300)
  --concurrency N     requests in flight for status/wait (default 8)
  --count N           jobs to create (default 1)
  --retries N         retries after a failed request (default 15)
  --status-path PATH  status endpoint: "auto" (default), "/status/{job_id}" (the seed's), or "/status"
                      (the original GET /status?job_id=; a path without {job_id} gets ?job_id=ID).
                      auto uses /status/{job_id}, and switches to /status?job_id= when the first job is
                      404 there but known to the original endpoint (one probe request each).
  --json              print one JSON array on stdout, an object per job: id, outcome, status, cause,
                      error_message, http_status, requests, elapsed (seconds); create prints [{"id": ...}].
                      outcome is what the exit status counts: completed, failed, unavailable, timeout,
                      pending or cancelled. A job's requests counts each request that named it (a batch
                      request names many jobs); the table's summary line has the real http_requests.
  --verbose           log retries and failures to stderr
  --help              this text

environment:
  HEYGEN_API_TOKEN    sent as "Authorization: Bearer ..." on every request; never printed
  HEYGEN_API_URL      default for --url

wait shows a live "3/20 done, 1 failed, 16 pending" line when stderr is a terminal. Ctrl-C (or SIGTERM)
stops at once and prints what is known; the other jobs are reported as cancelled. A second Ctrl-C a second
later exits without printing.

exit status (the first that applies):
  130  interrupted by Ctrl-C or SIGTERM
  1    a job failed, or the server does not know it (cause job_failed, unknown_job, unexpected_result)
  69   the server could not be used: unreachable, an HTTP error, an unreadable answer, or no answer at all
       before the deadline (create: no job id could be obtained)
  2    a job is still pending: timed out (wait) or pending (status)
  64   usage error (bad command, option or value)
  71   system error (no threads, pipes or memory left)
  0    every job completed (create: every job was created)
)";

/// A command line the program cannot run; printed with a pointer to --help, exit 64.
class UsageError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What the command line asks for.
struct Args {
  std::string command;
  std::vector<std::string> ids;
  std::string url;
  std::optional<double> timeout;
  std::size_t concurrency = HEYGEN_VT_DEFAULT_BULK_CONCURRENCY;
  int count = 1;
  int retries = 15;
  std::string status_path = auto_status_path;
  bool json = false;
  bool verbose = false;
  bool help = false;
};

/// A number as printf's %g writes it (no trailing zeros).
std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

/// A whole string as a finite number in [low, high], or a usage error naming the option.
double number_option(const std::string& name, const std::string& text, double low, double high) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value) || value < low || value > high)
    throw UsageError(name + " expects a number from " + format_number(low) + " to " + format_number(high) + ", got '" +
                     text + "'");
  return value;
}

/// A whole string as an integer in [low, high].
int integer_option(const std::string& name, const std::string& text, int low, int high) {
  const double value = number_option(name, text, low, high);
  if (value != std::floor(value)) throw UsageError(name + " expects a whole number, got '" + text + "'");
  return static_cast<int>(value);
}

/// Applies one option that takes a value; false when `name` is not one.
bool apply_valued_option(Args& args, const std::string& name, const std::string& value) {
  if (name == "--url")
    args.url = value;
  else if (name == "--timeout")
    args.timeout = number_option(name, value, 0.001, 1e7);
  else if (name == "--concurrency")
    args.concurrency = static_cast<std::size_t>(integer_option(name, value, 1, 10000));
  else if (name == "--count")
    args.count = integer_option(name, value, 1, 100000);
  else if (name == "--retries")
    args.retries = integer_option(name, value, 0, 1000);
  else if (name == "--status-path")
    args.status_path = value;
  else
    return false;
  return true;
}

/// Applies one switch; false when `name` is not one.
bool apply_switch(Args& args, const std::string& name) {
  if (name == "--json")
    args.json = true;
  else if (name == "--verbose")
    args.verbose = true;
  else if (name == "--help" || name == "-h")
    args.help = true;
  else
    return false;
  return true;
}

/// Options may come before or after the command; `--name=value` and `--name value` both work; `--` ends them.
Args parse_args(int argc, char** argv) {
  Args args;
  std::vector<std::string> words;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      words.push_back(arg);
    } else if (arg == "--") {
      options_done = true;
    } else if (!apply_switch(args, arg)) {
      const auto eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      if (eq == std::string::npos && i + 1 >= argc) throw UsageError(name + " needs a value");
      const std::string value = eq == std::string::npos ? argv[++i] : arg.substr(eq + 1);
      if (!apply_valued_option(args, name, value)) throw UsageError("unknown option '" + name + "'");
    }
  }
  if (args.help) return args;
  if (words.empty()) throw UsageError("no command given");
  args.command = words.front();
  args.ids.assign(words.begin() + 1, words.end());
  return args;
}

/// Checks the command and its arguments (after parsing, so --help always wins).
void validate(const Args& args) {
  if (args.command == "create") {
    if (!args.ids.empty()) throw UsageError("create takes no arguments (use --count N)");
  } else if (args.command == "status" || args.command == "wait") {
    if (args.ids.empty()) throw UsageError(args.command + " needs at least one job id");
    if (std::any_of(args.ids.begin(), args.ids.end(), [](const std::string& id) { return id.empty(); }))
      throw UsageError("a job id is empty");
  } else {
    throw UsageError("unknown command '" + args.command + "'");
  }
  if (args.status_path != auto_status_path && (args.status_path.empty() || args.status_path[0] != '/'))
    throw UsageError("--status-path must be \"auto\" or start with '/'");
}

/// Turns SIGINT and SIGTERM into a stop request. The handler only write()s a byte to a pipe (async-signal-safe);
/// a watcher thread reads it and requests the stop, so no library code ever runs in signal context. A signal
/// a second or more after the first (a deliberate second Ctrl-C) exits at once; sooner ones are duplicates
/// (`timeout` and process-group kills deliver one signal twice) and only repeat the stop request.
class InterruptWatcher {
 public:
  /// Installs the handlers and starts the watcher thread.
  InterruptWatcher() {
    if (pipe2(pipe_, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    write_fd_ = pipe_[1];
    watcher_ = std::thread([this] { watch(); });
    struct sigaction action {};
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }

  /// Restores the previous handlers, then tells the watcher to end.
  ~InterruptWatcher() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    write_fd_ = -1;
    send(quit_byte);
    watcher_.join();
    close(pipe_[0]);
    close(pipe_[1]);
  }

  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  /// Triggered on the first SIGINT or SIGTERM.
  [[nodiscard]] std::stop_token token() const { return source_.get_token(); }
  /// True once a signal arrived.
  [[nodiscard]] bool interrupted() const { return source_.stop_requested(); }

 private:
  static constexpr char signal_byte = 1;
  static constexpr char quit_byte = 0;

  /// The signal handler: one write(), which is async-signal-safe; errno is kept for the interrupted code.
  static void on_signal(int) {
    const int saved_errno = errno;
    const int fd = write_fd_;
    if (fd >= 0) {
      // A failed write cannot be reported from here; a full pipe already holds a wake-up anyway.
      [[maybe_unused]] const auto written = write(fd, &signal_byte, 1);
    }
    errno = saved_errno;
  }

  /// Writes one byte to the watcher, retrying when a signal interrupts the write.
  void send(char byte) const {
    while (write(pipe_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }

  /// The watcher thread: requests the stop on a signal byte, exits on a deliberate second one, ends on the quit byte.
  void watch() {
    std::optional<std::chrono::steady_clock::time_point> first_signal;
    char byte = 0;
    for (;;) {
      const ssize_t got = read(pipe_[0], &byte, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got != 1 || byte == quit_byte) return;
      const auto now = std::chrono::steady_clock::now();
      if (first_signal && now - *first_signal >= std::chrono::seconds(1)) std::_Exit(exit_interrupted);
      if (!first_signal) first_signal = now;
      source_.request_stop();
    }
  }

  static inline volatile std::sig_atomic_t write_fd_ = -1;
  int pipe_[2] = {-1, -1};
  std::stop_source source_;
  std::thread watcher_;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

/// How a result counts towards the exit status.
enum class Outcome { completed, failed, unavailable, unfinished, cancelled };

/// Sorts a result into what the user must do about it. A timeout without a single good answer means the
/// server could not be reached, not that the job is slow.
Outcome classify(const heygen::TranslationResult& result) {
  using heygen::FailureCause;
  switch (result.cause) {
    case FailureCause::none: return result.ok() ? Outcome::completed : Outcome::unfinished;
    case FailureCause::job_failed:
    case FailureCause::unknown_job:
    case FailureCause::unexpected_result: return Outcome::failed;
    case FailureCause::transport:
    case FailureCause::http_status:
    case FailureCause::bad_response: return Outcome::unavailable;
    case FailureCause::cancelled: return Outcome::cancelled;
    case FailureCause::deadline: break;
  }
  const bool answered = result.http_status >= 200 && result.http_status <= 299;
  return result.requests > 0 && !answered ? Outcome::unavailable : Outcome::unfinished;
}

/// The outcome's name for the table and JSON; unfinished jobs say whether they are pending or timed out.
std::string outcome_name(const heygen::TranslationResult& result) {
  switch (classify(result)) {
    case Outcome::completed: return "completed";
    case Outcome::failed: return "failed";
    case Outcome::unavailable: return "unavailable";
    case Outcome::cancelled: return "cancelled";
    case Outcome::unfinished: break;
  }
  return std::string(heygen::to_string(result.status));
}

/// One job's id and result, in the order the user named them.
struct JobReport {
  std::string id;
  heygen::TranslationResult result;
};

/// The exit status for a set of jobs, by the precedence --help documents.
int exit_status(const std::vector<JobReport>& jobs, bool interrupted) {
  if (interrupted) return exit_interrupted;
  std::set<Outcome> seen;
  for (const auto& job : jobs) seen.insert(classify(job.result));
  if (seen.contains(Outcome::failed)) return exit_failed;
  if (seen.contains(Outcome::unavailable)) return exit_unavailable;
  if (seen.contains(Outcome::unfinished) || seen.contains(Outcome::cancelled)) return exit_unfinished;
  return exit_completed;
}

/// A JSON string literal (picojson does the escaping).
std::string json_string(const std::string& text) { return picojson::value(text).serialize(); }

/// One job as a JSON object; absent values are null.
std::string json_job(const JobReport& job) {
  const auto& r = job.result;
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.3f", std::chrono::duration<double>(r.elapsed).count());
  const bool has_cause = r.cause != heygen::FailureCause::none;
  std::string out = "{\"id\":" + json_string(job.id);
  out += ",\"outcome\":" + json_string(outcome_name(r));
  out += ",\"status\":" + json_string(std::string(heygen::to_string(r.status)));
  out += ",\"cause\":" + (has_cause ? json_string(std::string(heygen::to_string(r.cause))) : std::string("null"));
  out += ",\"error_message\":" + (r.error_message ? json_string(*r.error_message) : std::string("null"));
  out += ",\"http_status\":" + std::to_string(r.http_status);
  out += ",\"requests\":" + std::to_string(r.requests);
  return out + ",\"elapsed\":" + elapsed + "}";
}

/// Every job as one JSON array, one object per line.
void print_json(const std::vector<JobReport>& jobs) {
  std::printf("[");
  for (std::size_t i = 0; i < jobs.size(); ++i) std::printf("%s\n %s", i == 0 ? "" : ",", json_job(jobs[i]).c_str());
  std::printf("\n]\n");
}

/// What a command cost as a whole, for the summary line.
struct Totals {
  int http_requests = 0;
  double seconds = 0;
};

/// The per-job table and a summary line. A job's `requests` counts every request that named it, so a batch
/// request counts once per job; the summary's http_requests is what went over the wire.
void print_table(const std::vector<JobReport>& jobs, const Totals& totals) {
  std::printf("%-20s %-11s %-18s %8s %8s  %s\n", "id", "outcome", "cause", "requests", "seconds", "message");
  std::map<Outcome, int> counts;
  for (const auto& [id, r] : jobs) {
    ++counts[classify(r)];
    std::printf("%-20s %-11s %-18s %8d %8.2f  %s\n", id.c_str(), outcome_name(r).c_str(),
                r.cause == heygen::FailureCause::none ? "-" : std::string(heygen::to_string(r.cause)).c_str(),
                r.requests, std::chrono::duration<double>(r.elapsed).count(), r.error_message.value_or("").c_str());
  }
  std::printf(
      "summary: jobs=%zu completed=%d failed=%d unavailable=%d unfinished=%d cancelled=%d http_requests=%d "
      "seconds=%.2f\n",
      jobs.size(), counts[Outcome::completed], counts[Outcome::failed], counts[Outcome::unavailable],
      counts[Outcome::unfinished], counts[Outcome::cancelled], totals.http_requests, totals.seconds);
}

/// A live one-line progress view on stderr, only when stderr is a terminal.
class ProgressLine {
 public:
  /// Shows the line (all pending) when `total` jobs are tracked on a terminal.
  explicit ProgressLine(std::size_t total) : enabled_(isatty(STDERR_FILENO) != 0), total_(total) { draw(0); }

  /// Counts one result as it arrives (the library serializes these calls).
  void update(const heygen::TranslationResult& result, heygen::BulkProgress progress) {
    if (!result.ok()) ++failed_;
    draw(progress.done);
  }

  /// Clears the line so what follows starts on a clean one.
  void clear() const {
    if (enabled_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  void draw(std::size_t done) const {
    if (!enabled_) return;
    std::fprintf(stderr, "\r%zu/%zu done, %zu failed, %zu pending\033[K", done, total_, failed_, total_ - done);
    std::fflush(stderr);
  }

  bool enabled_;
  std::size_t total_;
  std::size_t failed_ = 0;
};

/// The bundled transport, counting the HTTP requests it sends (for the summary line).
class CountingTransport {
 public:
  /// Wraps a bundled transport built from the client's options.
  explicit CountingTransport(const heygen::ClientOptions& options) : inner_(options) {}
  /// Sends one request and counts it; called from many threads.
  heygen::HttpResponse send(const heygen::HttpRequest& request) {
    ++*sent_;
    return inner_.send(request);
  }
  /// Requests sent so far.
  [[nodiscard]] int sent() const { return sent_->load(); }

 private:
  heygen::HttplibTransport inner_;
  std::unique_ptr<std::atomic<int>> sent_ = std::make_unique<std::atomic<int>>(0);  // the client moves us
};

/// The client the commands run on.
using Client = heygen::BasicVideoTranslationClient<CountingTransport>;

/// Seconds since `start`, for the summary line.
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Client options from the command line and the environment; the token is never printed.
heygen::ClientOptions client_options(const Args& args) {
  heygen::ClientOptions options;
  const char* env_url = std::getenv("HEYGEN_API_URL");
  options.base_url = !args.url.empty() ? args.url : (env_url != nullptr && *env_url != '\0' ? env_url : default_url);
  if (const char* token = std::getenv("HEYGEN_API_TOKEN")) options.bearer_token = token;
  if (args.timeout) options.max_timeout = heygen::Seconds(*args.timeout);
  options.max_retries = args.retries;
  options.connection_pool_size = args.concurrency;
  if (args.status_path != auto_status_path) options.endpoints.status = args.status_path;
  if (args.verbose) options.log_sink = heygen::stderr_log_sink();
  return options;
}

/// True when the answer came from a readable status endpoint (whatever the job's state).
bool endpoint_answered(const heygen::TranslationResult& result) {
  using heygen::FailureCause;
  return result.cause == FailureCause::none || result.cause == FailureCause::job_failed ||
         result.cause == FailureCause::unexpected_result;
}

/// True when the original GET /status?job_id= knows `probe_id` although /status/{job_id} answered 404.
/// One request each, no retries (the real calls retry).
bool only_original_endpoint(const heygen::ClientOptions& options, const std::string& probe_id, std::stop_token stop) {
  heygen::ClientOptions probe = options;
  probe.max_retries = 0;
  probe.max_timeout = std::min(options.max_timeout, heygen::Seconds(10));
  probe.log_sink = {};
  if (heygen::VideoTranslationClient(probe).check_translation_status(probe_id, stop).cause !=
      heygen::FailureCause::unknown_job)
    return false;
  probe.endpoints.status = query_status_path;
  return endpoint_answered(heygen::VideoTranslationClient(probe).check_translation_status(probe_id, stop));
}

/// In auto mode: keeps /status/{job_id} unless only the original endpoint knows the first job. The time the
/// probe took comes off --timeout, so the deadline holds whatever the server does.
heygen::ClientOptions detect_status_path(heygen::ClientOptions options, const std::string& probe_id,
                                         std::stop_token stop) {
  const auto started = std::chrono::steady_clock::now();
  if (only_original_endpoint(options, probe_id, stop)) {
    std::fprintf(stderr, "heygen-vt: GET /status/{job_id} answered 404; using the original GET /status?job_id=\n");
    options.endpoints.status = query_status_path;
  }
  const heygen::Seconds spent = std::chrono::steady_clock::now() - started;
  options.max_timeout = std::max(options.max_timeout - spent, heygen::Seconds(0.001));
  return options;
}

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
    print_json(jobs);
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

int main(int argc, char** argv) {
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
