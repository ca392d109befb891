// heygen-vt's command line: its exit statuses, the --help text, the options and the checks on them.
#ifndef HEYGEN_VT_TOOL_ARGS_HPP
#define HEYGEN_VT_TOOL_ARGS_HPP

#include <heygen/video_translation.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
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
inline constexpr const char* webhook_secret_variable = "HEYGEN_WEBHOOK_SECRET";

inline constexpr const char* help_text = R"(usage: heygen-vt [OPTIONS] COMMAND [ARGS]

Creates video-translation jobs and tracks them on a status-tracker server (the default, --api tracker) or
on HeyGen's v3 API (--api heygen-v3, below).

commands:
  create              create --count jobs (default 1); prints one job id per line (--wait: then waits)
  status ID...        look once at each job; pending jobs are reported as pending
  wait ID...          wait until every job completed, failed or timed out; prints a table per job
  resume              with --journal: pick up what an earlier run left (see below); prints what wait prints

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
  --journal FILE      create, wait, resume: write every job down in FILE (SQLite; made if missing), so a run
                      that dies loses nothing: a create's intent before it is sent, its ids, each outcome
                      before it is printed. `resume` then prints the outcomes a dead run never printed, waits
                      again for its jobs, and sends a create whose answer was lost again with its own
                      Idempotency-Key (never a second job); past the server's 24 h replay window that create
                      is reported failed, cause unknown_outcome, for you to decide. Outcomes come at least once.
  --help              this text

pushes (webhooks) instead of polling, with either --api:
  --wait              create: then wait for the new jobs as wait does, in the same run (so pushes reach it)
  --webhook-listen ADDR:PORT
                      wait, create --wait: take the server's pushes on an HTTP receiver at ADDR:PORT (an
                      IPv4 address, or [IPv6]:PORT; port 0 picks a free one). Creates ask the server to push
                      each job's outcome there; a verified push ends the job's wait at once, and polling
                      goes on only as a safety net (a lost push is noticed within max(30 s, 10% of the
                      job's age) of the job's end). The tracker needs HEYGEN_WEBHOOK_SECRET. HeyGen signs
                      only pushes to a registered endpoint (webhooks add): with its secret those settle at
                      once; an unsigned push (HeyGen's per-job callback, or any push without the secret)
                      is a hint: taken only with the callback_id its create sent, it makes the client look
                      at the job at once, and the wait ends on what that look says.
  --webhook-url URL   the URL the server reaches the receiver under when that is not ADDR:PORT (NAT, a
                      tunnel, a proxy; required with 0.0.0.0 or [::]); the receiver takes pushes on its
                      path (default /webhook). Without --webhook-listen: create only asks for pushes to URL.
  --webhook-header NAME
                      the header carrying the signature (default X-HeyGen-Signature)
  A refused push (answered 401: bad signature, stale or wrong callback_id; 400: unreadable; 413: too large)
  is reported on stderr; --verbose reports every push; a wait ends with a "pushes: accepted=N hinted=N
  confirmed=N ..." line on stderr (hinted: unsigned pushes taken; confirmed: looks they asked for that found
  the job ended).

environment:
  HEYGEN_API_TOKEN    sent as "Authorization: Bearer ..." on every request; never printed
  HEYGEN_API_URL      default for --url
  HEYGEN_API_KEY      --api heygen-v3: HeyGen's API key, sent as "X-Api-Key"; required; never printed
  HEYGEN_WEBHOOK_SECRET
                      --webhook-listen: the secret pushes are signed with (HMAC-SHA256 of the body);
                      required by the tracker; with --api heygen-v3, a registered endpoint's secret
                      (optional); never taken on the command line, never printed
  https_proxy, HTTPS_PROXY, http_proxy, all_proxy, ALL_PROXY, no_proxy, NO_PROXY
                      the HTTP proxy and the hosts that bypass it, read as curl reads them (user:password@
                      in the proxy URL for Basic authentication, never printed); --verbose names the route

HeyGen's v3 API (--api heygen-v3), e.g. heygen-vt --api heygen-v3 create --video-url URL --lang French --lang German:
  create              translate one video into each --lang; prints one translation id per language
  languages           the names --lang takes, one per line (--json: one JSON array)
  webhooks add URL [--event E]...
                      register a webhook endpoint at URL for the events E (default: all); prints its id and
                      its signing secret (shown by HeyGen only now: keep it; --json: one object)
  webhooks list       the registered endpoints, one row each (--json: one array; no secrets)
  webhooks rotate ID  give endpoint ID a new signing secret (the old one stops at once); prints it, once
  webhooks delete ID  delete endpoint ID
  status ID...        look once at each translation
  wait ID...          wait for every translation (many ids share GET /v3/video-translations/statuses)
  translate FILE... --lang NAME... --out DIR
                      the whole job for local files: upload each (streamed, its SHA-256 sent), translate it
                      into each --lang, wait, and download every output into DIR as
                      FILE.LANGUAGE.KIND.EXT (checked, resumed after a cut, never over an existing file
                      unless --force); a live line on a terminal, then a table (--json: one array)
  status and wait also print what each completed translation produced: language, duration, video, audio
  and caption URLs (in --json: "outputs", null when the server named none). The URLs expire: ask again.
  --video-url URL     create: the source video's public URL
  --asset-id ID       create: or the id of a video uploaded to HeyGen
  --lang NAME         create: a target language, repeat for more (required; names from `languages`)
  --title TEXT        create: the translation's title
  --mode MODE         create: speed (HeyGen's default) or precision
  --captions          create: also make captions (their URLs come with the outputs)
  --out DIR           translate: the folder outputs are written to (made if missing)
  --force             translate: replace files already in --out
  --event E           webhooks add: an event type to take, repeat for more (e.g. video_translate.success)
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
  64   usage error (bad command, option or value; --api heygen-v3 without HEYGEN_API_KEY;
       --webhook-listen without HEYGEN_WEBHOOK_SECRET on the tracker)
  71   system error (no threads, pipes or memory left; --webhook-listen cannot listen there; the --journal
       file cannot be used: corrupt, locked too long, another program's, a newer version's, a full disk)
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
  std::vector<std::string> events;  ///< webhooks add --event
  std::optional<std::string> title;
  std::optional<std::string> mode;
  bool captions = false;
  std::string out_dir;  ///< translate --out
  bool force = false;   ///< translate --force
  // pushes (webhooks)
  bool wait = false;            ///< create --wait
  std::string webhook_listen;   ///< --webhook-listen ADDR:PORT
  std::string webhook_url;      ///< --webhook-url URL
  std::string webhook_header;   ///< --webhook-header NAME
  std::string journal;          ///< --journal FILE
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
  else if (name == "--journal")
    args.journal = value;
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
  else if (name == "--out")
    args.out_dir = value;
  else if (name == "--event")
    args.events.push_back(value);
  else if (name == "--webhook-listen")
    args.webhook_listen = value;
  else if (name == "--webhook-url")
    args.webhook_url = value;
  else if (name == "--webhook-header")
    args.webhook_header = value;
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
  else if (name == "--wait")
    args.wait = true;
  else if (name == "--force")
    args.force = true;
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
      if (name == "--webhook-secret")  // before its value is read: the value is never echoed
        throw UsageError("there is no --webhook-secret: the secret is read from " +
                         std::string(webhook_secret_variable) + " only (a command line is visible to other users)");
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
/// The options only `--api heygen-v3 translate` takes.
inline constexpr const char* translate_options[] = {"--out", "--force"};
/// The options only `--api heygen-v3 webhooks add` takes.
inline constexpr const char* v3_webhooks_options[] = {"--event"};
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

/// The path of an http(s) URL without its query ("/webhook" when it has none), or nothing for what is not one.
inline std::optional<std::string> http_url_path(const std::string& url) {
  std::size_t start = 0;
  if (url.starts_with("http://"))
    start = 7;
  else if (url.starts_with("https://"))
    start = 8;
  else
    return std::nullopt;
  if (std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7F; }))
    return std::nullopt;
  const std::size_t slash = url.find_first_of("/?#", start);
  if (slash == start || url.size() == start) return std::nullopt;  // no host
  if (slash == std::string::npos || url[slash] != '/') return std::string("/webhook");
  return url.substr(slash, url.find_first_of("?#", slash) - slash);
}

/// Checks `webhooks add URL | list | rotate ID | delete ID`.
inline void validate_v3_webhooks(const Args& args) {
  if (auto name = first_given(args, v3_create_options)) throw UsageError(*name + " is only for create");
  const std::string what = args.ids.empty() ? "" : args.ids.front();
  const std::size_t wanted = what == "list" ? 1 : 2;
  if (what != "add" && what != "list" && what != "rotate" && what != "delete")
    throw UsageError("webhooks needs add URL, list, rotate ID or delete ID");
  if (args.ids.size() != wanted || (wanted == 2 && args.ids[1].empty()))
    throw UsageError("webhooks " + what + (wanted == 1 ? " takes no arguments" : " takes one argument"));
  if (what != "add" && !args.events.empty()) throw UsageError("--event is only for webhooks add");
  if (what == "add" && !http_url_path(args.ids[1]))
    throw UsageError("webhooks add expects an http:// or https:// URL, got '" + args.ids[1] + "'");
  if (std::any_of(args.events.begin(), args.events.end(), [](const std::string& e) { return e.empty(); }))
    throw UsageError("an --event is empty");
}

/// Checks --lang (at least one, none empty) and --mode, for create and translate.
inline void validate_languages(const Args& args) {
  if (args.languages.empty())
    throw UsageError(args.command + " needs at least one --lang NAME (see the languages command)");
  if (std::any_of(args.languages.begin(), args.languages.end(), [](const std::string& l) { return l.empty(); }))
    throw UsageError("a --lang is empty");
  if (args.mode && *args.mode != "speed" && *args.mode != "precision")
    throw UsageError("--mode expects speed or precision, got '" + *args.mode + "'");
}

/// Checks `translate FILE... --lang NAME... --out DIR`.
inline void validate_v3_translate(const Args& args) {
  if (args.ids.empty()) throw UsageError("translate needs at least one FILE");
  if (std::any_of(args.ids.begin(), args.ids.end(), [](const std::string& f) { return f.empty(); }))
    throw UsageError("a FILE is empty");
  if (!args.video_url.empty() || !args.asset_id.empty())
    throw UsageError("translate takes FILE arguments, not --video-url or --asset-id");
  if (args.out_dir.empty()) throw UsageError("translate needs --out DIR");
  validate_languages(args);
}

/// Checks a command for HeyGen's v3 API.
inline void validate_v3(const Args& args) {
  if (auto name = first_given(args, tracker_options)) throw UsageError(*name + " is not for --api heygen-v3");
  if (args.command == "webhooks") return validate_v3_webhooks(args);
  if (auto name = first_given(args, v3_webhooks_options)) throw UsageError(*name + " is only for webhooks add");
  if (args.command == "translate") return validate_v3_translate(args);
  if (auto name = first_given(args, translate_options)) throw UsageError(*name + " is only for translate");
  if (args.command == "create") {
    if (!args.ids.empty()) throw UsageError("create takes no arguments (use --video-url or --asset-id, and --lang)");
    if (args.video_url.empty() == args.asset_id.empty())
      throw UsageError("create needs one of --video-url URL and --asset-id ID");
    validate_languages(args);
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
  if (auto name = first_given(args, translate_options)) throw UsageError(*name + " needs --api heygen-v3");
  if (auto name = first_given(args, v3_webhooks_options)) throw UsageError(*name + " needs --api heygen-v3");
  if (args.command == "create") {
    if (!args.ids.empty()) throw UsageError("create takes no arguments (use --count N)");
  } else if (args.command == "status" || args.command == "wait") {
    validate_ids(args);
  } else if (args.command == "languages" || args.command == "webhooks" || args.command == "translate") {
    throw UsageError(args.command + " needs --api heygen-v3");
  } else {
    throw UsageError("unknown command '" + args.command + "'");
  }
  if (args.status_path != auto_status_path && (args.status_path.empty() || args.status_path[0] != '/'))
    throw UsageError("--status-path must be \"auto\" or start with '/'");
}

/// Where --webhook-listen binds: an IPv4 or IPv6 address (without brackets) and a port (0: any free one).
struct ListenAddress {
  std::string host;
  int port = 0;
};

/// Reads --webhook-listen's ADDR:PORT: a dotted IPv4 address, or an IPv6 address in brackets; a port 0-65535.
inline ListenAddress parse_listen_address(const std::string& text) {
  const auto bad = [&text] {
    return UsageError(
        "--webhook-listen expects ADDR:PORT with an IPv4 address or a bracketed IPv6 one (e.g. "
        "127.0.0.1:8080, [::1]:0), got '" +
        text + "'");
  };
  ListenAddress out;
  std::string port;
  const bool v6 = !text.empty() && text.front() == '[';
  const std::size_t colon = v6 ? text.find("]:") + 1 : text.rfind(':');
  if (colon == 0 || colon == std::string::npos) throw bad();
  out.host = v6 ? text.substr(1, colon - 2) : text.substr(0, colon);
  port = text.substr(colon + 1);
  unsigned char address[sizeof(in6_addr)];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, out.host.c_str(), address) != 1) throw bad();
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) throw bad();
  out.port = std::stoi(port);
  if (out.port > 65535) throw bad();
  return out;
}

/// True for an address that means "every interface" (0.0.0.0, ::), which no server can push to.
inline bool is_wildcard(const std::string& host) {
  unsigned char address[sizeof(in6_addr)] = {};
  const bool v6 = host.find(':') != std::string::npos;
  if (inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), address) != 1) return false;
  const std::size_t size = v6 ? sizeof(in6_addr) : sizeof(in_addr);
  return std::all_of(address, address + size, [](unsigned char byte) { return byte == 0; });
}

/// True for a header name (an HTTP token).
inline bool is_header_name(const std::string& name) {
  static constexpr std::string_view token_marks = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           token_marks.find(c) != std::string_view::npos;
  });
}

/// Checks --wait and the webhook options, which both APIs take.
inline void validate_webhooks(const Args& args) {
  const bool create = args.command == "create";
  const bool waits = args.command == "wait" || args.command == "translate" || (create && args.wait);
  if (args.wait && !create) throw UsageError("--wait is only for create");
  if (!args.webhook_url.empty() && !http_url_path(args.webhook_url))
    throw UsageError("--webhook-url expects an http:// or https:// URL, got '" + args.webhook_url + "'");
  if (!args.given.contains("--webhook-listen")) {
    if (args.given.contains("--webhook-header")) throw UsageError("--webhook-header needs --webhook-listen");
    if (args.given.contains("--webhook-url") && !(create && !args.wait))
      throw UsageError("--webhook-url needs --webhook-listen here (without it, only create asks for pushes)");
    return;
  }
  if (!waits) throw UsageError("--webhook-listen takes pushes while waiting: use it with wait or create --wait");
  const ListenAddress address = parse_listen_address(args.webhook_listen);
  if (is_wildcard(address.host) && args.webhook_url.empty())
    throw UsageError("--webhook-listen on " + address.host +
                     " needs --webhook-url: the URL the server reaches this receiver under");
  if (args.given.contains("--webhook-header") && !is_header_name(args.webhook_header))
    throw UsageError("--webhook-header expects a header name, got '" + args.webhook_header + "'");
}

/// Checks --journal and resume, which both APIs take.
inline void validate_journal(const Args& args) {
  if (args.command == "resume") {
    if (!args.given.contains("--journal")) throw UsageError("resume needs --journal FILE");
    if (!args.ids.empty()) throw UsageError("resume takes no arguments");
  }
  if (!args.given.contains("--journal")) return;
  if (args.command != "create" && args.command != "wait" && args.command != "resume")
    throw UsageError("--journal is for create, wait and resume");
  if (args.journal.empty()) throw UsageError("--journal expects a file name");
#ifndef HEYGEN_VT_WITH_SQLITE
  throw UsageError("--journal needs a heygen-vt built with SQLite");
#endif
}

/// Checks the command and its arguments (after parsing, so --help always wins).
inline void validate(const Args& args) {
  if (args.api != api_heygen_v3 && args.api != api_tracker)
    throw UsageError("--api expects tracker or heygen-v3, got '" + args.api + "'");
  validate_journal(args);
  if (args.command == "resume") {  // it takes only the options every command takes
    const auto refuse = [&args](const auto& names) {
      if (auto name = first_given(args, names)) throw UsageError(*name + " is not for resume");
    };
    refuse(v3_create_options);
    refuse(translate_options);
    refuse(v3_webhooks_options);
  } else if (args.api == api_heygen_v3) {
    validate_v3(args);
  } else {
    validate_tracker(args);
  }
  validate_webhooks(args);
}

}  // namespace heygen_vt

#endif  // HEYGEN_VT_TOOL_ARGS_HPP
