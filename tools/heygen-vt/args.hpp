// heygen-vt's command line: its exit statuses, the --help text, the options and the checks on them.
#ifndef HEYGEN_VT_TOOL_ARGS_HPP
#define HEYGEN_VT_TOOL_ARGS_HPP

#include <heygen/video_translation.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace heygen_vt {

inline constexpr int exit_completed = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_unfinished = 2;
inline constexpr int exit_usage = 64;         // EX_USAGE from sysexits.h
inline constexpr int exit_unavailable = 69;   // EX_UNAVAILABLE from sysexits.h
inline constexpr int exit_system = 71;        // EX_OSERR from sysexits.h
inline constexpr int exit_interrupted = 130;  // 128 + SIGINT, as shells report it

inline constexpr const char* default_url = "http://127.0.0.1:5000";
inline constexpr const char* auto_status_path = "auto";
inline constexpr const char* query_status_path = "/status";

inline constexpr const char* api_tracker = "tracker";
inline constexpr const char* api_heygen_v3 = "heygen-v3";
inline constexpr const char* heygen_v3_default_url = "https://api.heygen.com";
inline constexpr const char* api_key_variable = "HEYGEN_API_KEY";

inline constexpr const char* help_text = R"(usage: heygen-vt [OPTIONS] COMMAND [ARGS]

Creates video-translation jobs and tracks them on a status-tracker server (the default, --api tracker) or
on HeyGen's v3 API (--api heygen-v3, below).

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
  --api API           tracker (default) or heygen-v3
  --help              this text

environment:
  HEYGEN_API_TOKEN    sent as "Authorization: Bearer ..." on every request; never printed
  HEYGEN_API_URL      default for --url
  HEYGEN_API_KEY      --api heygen-v3: HeyGen's API key, sent as "X-Api-Key"; required; never printed

HeyGen's v3 API (--api heygen-v3), e.g. heygen-vt --api heygen-v3 create --video-url URL --lang French --lang German:
  create              translate one video into each --lang; prints one translation id per language
  languages           the names --lang takes, one per line (--json: one JSON array)
  status ID...        look once at each translation
  wait ID...          wait for every translation (many ids share GET /v3/video-translations/statuses)
  status and wait also print what each completed translation produced: language, duration, video, audio
  and caption URLs (in --json: "outputs", null when the server named none). The URLs expire: ask again.
  --video-url URL     create: the source video's public URL
  --asset-id ID       create: or the id of a video uploaded to HeyGen
  --lang NAME         create: a target language, repeat for more (required; names from `languages`)
  --title TEXT        create: the translation's title
  --mode MODE         create: speed (HeyGen's default) or precision
  --captions          create: also make captions (their URLs come with the outputs)
  --url defaults to https://api.heygen.com (HEYGEN_API_URL is not used, nor HEYGEN_API_TOKEN); --timeout
  defaults to 3600. --count and --status-path are for the tracker only.

wait shows a live "3/20 done, 1 failed, 16 pending" line when stderr is a terminal. Ctrl-C (or SIGTERM)
stops at once and prints what is known; the other jobs are reported as cancelled. A second Ctrl-C a second
later exits without printing.

exit status (the first that applies):
  130  interrupted by Ctrl-C or SIGTERM
  1    a job failed, or the server does not know it (cause job_failed, unknown_job, unexpected_result)
  69   the server could not be used: unreachable, an HTTP error, an unreadable answer, or no answer at all
       before the deadline (create: no job id could be obtained; languages: no list). A wrong
       HEYGEN_API_KEY is an HTTP error: "HTTP 401 unauthorized: ..."
  2    a job is still pending: timed out (wait) or pending (status)
  64   usage error (bad command, option or value; --api heygen-v3 without HEYGEN_API_KEY)
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
  std::string api = api_tracker;
  // --api heygen-v3 create
  std::string video_url;
  std::string asset_id;
  std::vector<std::string> languages;
  std::optional<std::string> title;
  std::optional<std::string> mode;
  bool captions = false;
  std::set<std::string> given;  ///< Names of the options on the command line, for the checks per API.
};

/// A number as printf's %g writes it (no trailing zeros).
inline std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

/// A whole string as a finite number in [low, high], or a usage error naming the option.
inline double number_option(const std::string& name, const std::string& text, double low, double high) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value) || value < low || value > high)
    throw UsageError(name + " expects a number from " + format_number(low) + " to " + format_number(high) + ", got '" +
                     text + "'");
  return value;
}

/// A whole string as an integer in [low, high].
inline int integer_option(const std::string& name, const std::string& text, int low, int high) {
  const double value = number_option(name, text, low, high);
  if (value != std::floor(value)) throw UsageError(name + " expects a whole number, got '" + text + "'");
  return static_cast<int>(value);
}

/// Applies one option that takes a value; false when `name` is not one.
inline bool apply_valued_option(Args& args, const std::string& name, const std::string& value) {
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
  else if (name == "--api")
    args.api = value;
  else if (name == "--video-url")
    args.video_url = value;
  else if (name == "--asset-id")
    args.asset_id = value;
  else if (name == "--lang")
    args.languages.push_back(value);
  else if (name == "--title")
    args.title = value;
  else if (name == "--mode")
    args.mode = value;
  else
    return false;
  args.given.insert(name);
  return true;
}

/// Applies one switch; false when `name` is not one.
inline bool apply_switch(Args& args, const std::string& name) {
  if (name == "--json")
    args.json = true;
  else if (name == "--verbose")
    args.verbose = true;
  else if (name == "--help" || name == "-h")
    args.help = true;
  else if (name == "--captions")
    args.captions = true;
  else
    return false;
  args.given.insert(name);
  return true;
}

/// Options may come before or after the command; `--name=value` and `--name value` both work; `--` ends them.
inline Args parse_args(int argc, char** argv) {
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

/// The options only `--api heygen-v3 create` takes.
inline constexpr const char* v3_create_options[] = {"--video-url", "--asset-id", "--lang",
                                                    "--title",     "--mode",     "--captions"};
/// The options only the tracker takes.
inline constexpr const char* tracker_options[] = {"--count", "--status-path"};

/// The first of `names` on the command line, if any.
template <class Names>
std::optional<std::string> first_given(const Args& args, const Names& names) {
  for (const char* name : names)
    if (args.given.contains(name)) return name;
  return std::nullopt;
}

/// Checks the ids of status and wait.
inline void validate_ids(const Args& args) {
  if (args.ids.empty()) throw UsageError(args.command + " needs at least one job id");
  if (std::any_of(args.ids.begin(), args.ids.end(), [](const std::string& id) { return id.empty(); }))
    throw UsageError("a job id is empty");
}

/// Checks a command for HeyGen's v3 API.
inline void validate_v3(const Args& args) {
  if (auto name = first_given(args, tracker_options)) throw UsageError(*name + " is not for --api heygen-v3");
  if (args.command == "create") {
    if (!args.ids.empty()) throw UsageError("create takes no arguments (use --video-url or --asset-id, and --lang)");
    if (args.video_url.empty() == args.asset_id.empty())
      throw UsageError("create needs one of --video-url URL and --asset-id ID");
    if (args.languages.empty()) throw UsageError("create needs at least one --lang NAME (see the languages command)");
    if (std::any_of(args.languages.begin(), args.languages.end(), [](const std::string& l) { return l.empty(); }))
      throw UsageError("a --lang is empty");
    if (args.mode && *args.mode != "speed" && *args.mode != "precision")
      throw UsageError("--mode expects speed or precision, got '" + *args.mode + "'");
    return;
  }
  if (auto name = first_given(args, v3_create_options)) throw UsageError(*name + " is only for create");
  if (args.command == "languages") {
    if (!args.ids.empty()) throw UsageError("languages takes no arguments");
  } else if (args.command == "status" || args.command == "wait") {
    validate_ids(args);
  } else {
    throw UsageError("unknown command '" + args.command + "'");
  }
}

/// Checks a command for the status-tracker server.
inline void validate_tracker(const Args& args) {
  if (auto name = first_given(args, v3_create_options)) throw UsageError(*name + " needs --api heygen-v3");
  if (args.command == "create") {
    if (!args.ids.empty()) throw UsageError("create takes no arguments (use --count N)");
  } else if (args.command == "status" || args.command == "wait") {
    validate_ids(args);
  } else if (args.command == "languages") {
    throw UsageError("languages needs --api heygen-v3");
  } else {
    throw UsageError("unknown command '" + args.command + "'");
  }
  if (args.status_path != auto_status_path && (args.status_path.empty() || args.status_path[0] != '/'))
    throw UsageError("--status-path must be \"auto\" or start with '/'");
}

/// Checks the command and its arguments (after parsing, so --help always wins).
inline void validate(const Args& args) {
  if (args.api == api_heygen_v3)
    validate_v3(args);
  else if (args.api == api_tracker)
    validate_tracker(args);
  else
    throw UsageError("--api expects tracker or heygen-v3, got '" + args.api + "'");
}

}  // namespace heygen_vt

#endif  // HEYGEN_VT_TOOL_ARGS_HPP
