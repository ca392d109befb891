// status_server's command line: every flag, its --help line and how it sets the SimulatorConfig.
#ifndef HEYGEN_SIM_ARGS_HPP
#define HEYGEN_SIM_ARGS_HPP

#include "options.hpp"
#include "support.hpp"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace heygen::sim {

/// What parse_args found: a config to run, a request for --help, or an error to print.
struct ParsedArgs {
  /// The configuration the flags describe (defaults where no flag was given).
  SimulatorConfig config;
  /// --help was given.
  bool help = false;
  /// What is wrong with the flags; empty when parsing succeeded.
  std::string error;

  /// True when there is no error.
  bool ok() const noexcept { return error.empty(); }
};

/// Parses status_server's command line (argv[0] is the program and is skipped); HEYGEN_WEBHOOK_SECRET, when
/// set, is the default of --webhook-secret.
ParsedArgs parse_args(int argc, const char* const* argv);

/// The --help text.
std::string usage(std::string_view program = "status_server");

namespace detail {

/// Applies one flag's value to a config; returns an error message or an empty string.
using FlagApply = std::string (*)(SimulatorConfig&, std::string_view);

/// One command-line flag.
struct FlagSpec {
  /// Name without the leading dashes.
  std::string_view name;
  /// Placeholder for its value in --help; empty for a switch.
  std::string_view metavar;
  /// One line of --help.
  std::string_view help;
  /// What it does.
  FlagApply apply;
};

/// Sets `out` to a number in [lo, hi] read from `text`.
inline std::string set_number(double& out, std::string_view text, double lo, double hi) {
  const auto value = to_double(text);
  if (value && *value >= lo && *value <= hi) {
    out = *value;
    return "";
  }
  std::string msg = "expected a number from ";
  append_json_number(msg, lo, 3);
  msg += " to ";
  append_json_number(msg, hi, 3);
  return msg + ", got '" + std::string(text) + "'";
}

/// Sets `out` to a whole number in [lo, hi] read from `text`.
template <class Int>
std::string set_integer(Int& out, std::string_view text, std::uint64_t lo, std::uint64_t hi) {
  const auto value = to_uint(text);
  if (value && *value >= lo && *value <= hi) {
    out = static_cast<Int>(*value);
    return "";
  }
  return "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" +
         std::string(text) + "'";
}

/// Sets `out` to a probability.
inline std::string set_probability(double& out, std::string_view text) { return set_number(out, text, 0, 1); }

/// Parses `fixed:S`, `uniform:A:B`, `lognormal:MEDIAN:SIGMA` or a bare number of seconds.
inline std::string parse_duration(std::string_view spec, DurationDistribution& out) {
  if (spec == "heygen-like") {
    out = DurationDistribution::heygen_like();
    return "";
  }
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  std::vector<double> nums;
  for (std::size_t i = parts.size() == 1 ? 0 : 1; i < parts.size(); ++i) {
    const auto value = to_double(parts[i]);
    if (!value) return "'" + std::string(parts[i]) + "' is not a number";
    nums.push_back(*value);
  }
  DurationDistribution d;
  if (parts.size() == 1 || (parts[0] == "fixed" && nums.size() == 1))
    d = DurationDistribution::fixed(nums[0]);
  else if (parts[0] == "uniform" && nums.size() == 2)
    d = DurationDistribution::uniform(nums[0], nums[1]);
  else if (parts[0] == "lognormal" && nums.size() == 2)
    d = DurationDistribution::lognormal(nums[0], nums[1]);
  else
    return "expected fixed:S, uniform:A:B, lognormal:MEDIAN:SIGMA or heygen-like[:SCALE], got '" + std::string(spec) +
           "'";
  if (auto problem = d.validate(); !problem.empty()) return problem;
  out = d;
  return "";
}

/// `--duration`: a distribution, or `heygen-like:SCALE`, which also sets the duration scale.
inline std::string set_duration(SimulatorConfig& config, std::string_view spec) {
  constexpr std::string_view preset = "heygen-like:";
  if (spec.substr(0, preset.size()) != preset) return parse_duration(spec, config.duration);
  std::string problem = set_number(config.duration_scale, spec.substr(preset.size()), 1e-9, 1e6);
  if (problem.empty()) config.duration = DurationDistribution::heygen_like();
  return problem;
}

/// `--api tracker|heygen-v3`.
inline std::string set_api(SimulatorConfig& config, std::string_view name) {
  for (const Api api : {Api::tracker, Api::heygen_v3}) {
    if (name == to_string(api)) {
      config.api = api;
      return "";
    }
  }
  return "expected tracker or heygen-v3, got '" + std::string(name) + "'";
}

/// `--webhook-signed body|timestamp-dot-body`.
inline std::string set_webhook_signed(SimulatorConfig& config, std::string_view name) {
  for (const WebhookSigned what : {WebhookSigned::body, WebhookSigned::timestamp_dot_body}) {
    if (name == to_string(what)) {
      config.webhooks.signed_string = what;
      return "";
    }
  }
  return "expected body or timestamp-dot-body, got '" + std::string(name) + "'";
}

/// `--heygen-callback-signing signed|unsigned`.
inline std::string set_callback_signing(SimulatorConfig& config, std::string_view name) {
  for (const CallbackSigning signing : {CallbackSigning::hmac, CallbackSigning::none}) {
    if (name == to_string(signing)) {
      config.webhooks.callback_signing = signing;
      return "";
    }
  }
  return "expected signed or unsigned, got '" + std::string(name) + "'";
}

/// Sets a string; an empty one is refused unless `empty_ok`.
inline std::string set_text(std::string& field, std::string_view value, bool empty_ok = false) {
  field = std::string(value);
  return value.empty() && !empty_ok ? "expected a value" : "";
}

/// Sets a switch; never fails.
inline std::string set_switch(bool& field, bool value) {
  field = value;
  return "";
}

/// Every flag status_server accepts, in --help order.
inline const std::vector<FlagSpec>& flag_specs() {
  using C = SimulatorConfig;
  using V = std::string_view;
  static const std::vector<FlagSpec> specs{
      {"host", "ADDR", "address to bind (default 127.0.0.1)",
       [](C& c, V v) {
         c.host = std::string(v);
         return std::string(v.empty() ? "expected an address" : "");
       }},
      {"port", "N", "port to bind; 0 picks a free one (default 0)",
       [](C& c, V v) { return set_integer(c.port, v, 0, 65535); }},
      {"tls-cert", "PEM", "serve HTTPS with this certificate (chain); needs --tls-key",
       [](C& c, V v) {
         c.tls_cert_file = std::string(v);
         return std::string(v.empty() ? "expected a file" : "");
       }},
      {"tls-key", "PEM", "private key of --tls-cert",
       [](C& c, V v) {
         c.tls_key_file = std::string(v);
         return std::string(v.empty() ? "expected a file" : "");
       }},
      {"api", "NAME", "API spoken: tracker (default) or heygen-v3 (HeyGen's /v3/video-translations)",
       [](C& c, V v) { return set_api(c, v); }},
      {"api-key", "KEY", "heygen-v3: key requests must carry as X-Api-Key or Bearer; empty: none (default sim-key)",
       [](C& c, V v) {
         c.api_key = std::string(v);
         return std::string();
       }},
      {"max-concurrent", "N", "heygen-v3: most jobs running at once, more creates get 429; 0: no limit (default 0)",
       [](C& c, V v) { return set_integer(c.max_concurrent_jobs, v, 0, 1'000'000'000); }},
      {"statuses-page-size", "N", "heygen-v3: entries per /statuses page (default 100)",
       [](C& c, V v) { return set_integer(c.statuses_page_size, v, 1, 100); }},
      {"output-bytes", "N", "heygen-v3: size of every translated output file, in bytes (default 65536)",
       [](C& c, V v) { return set_integer(c.storage.output_bytes, v, 1, std::uint64_t{1} << 40); }},
      {"url-lifetime-s", "S", "heygen-v3: seconds a presigned output or upload URL stays valid (default 604800)",
       [](C& c, V v) { return set_integer(c.storage.url_lifetime_s, v, 0, 1'000'000'000); }},
      {"max-upload-bytes", "N", "heygen-v3: largest size a direct upload may declare (default 5368709120)",
       [](C& c, V v) { return set_integer(c.storage.max_upload_bytes, v, 1, std::uint64_t{1} << 40); }},
      {"ingest-s", "S", "heygen-v3: seconds an uploaded asset takes to ingest (default 0.2)",
       [](C& c, V v) { return set_number(c.storage.ingest_s, v, 0, 86400); }},
      {"ingest-fail-rate", "P", "heygen-v3: probability that an asset's ingest fails (default 0)",
       [](C& c, V v) { return set_probability(c.storage.ingest_fail_rate, v); }},
      {"storage-cut-rate", "P",
       "heygen-v3: probability that a file GET or upload PUT body is cut after about half its bytes (default 0)",
       [](C& c, V v) { return set_probability(c.storage.cut_rate, v); }},
      {"storage-5xx-rate", "P", "heygen-v3: probability that an upload PUT gets 500 or 503 (default 0)",
       [](C& c, V v) { return set_probability(c.storage.fail_5xx_rate, v); }},
      {"storage-pace", "BYTES_PER_S", "heygen-v3: pace file GETs and upload PUTs to this rate; 0: unpaced (default 0)",
       [](C& c, V v) { return set_number(c.storage.pace_bytes_per_s, v, 0, 1e12); }},
      {"storage-wrong-length-rate", "P",
       "heygen-v3: probability that a file GET declares more bytes than it sends, then closes (default 0)",
       [](C& c, V v) { return set_probability(c.storage.wrong_length_rate, v); }},
      {"storage-html-error-rate", "P",
       "heygen-v3: probability that a file GET gets 200 with an HTML error page instead of the file (default 0)",
       [](C& c, V v) { return set_probability(c.storage.html_error_rate, v); }},
      {"duration", "SPEC",
       "job duration: fixed:S | uniform:A:B | lognormal:MEDIAN:SIGMA | heygen-like[:SCALE] (default fixed:0.2)",
       [](C& c, V v) { return set_duration(c, v); }},
      {"duration-scale", "F",
       "multiply every duration by F (default 1); heygen-like is lognormal:480:0.5, heygen-like:F scales it",
       [](C& c, V v) { return set_number(c.duration_scale, v, 1e-9, 1e6); }},
      {"error-rate", "P", "probability that a job ends in error (default 0)",
       [](C& c, V v) { return set_probability(c.error_probability, v); }},
      {"seed", "N", "random seed (default 1)", [](C& c, V v) { return set_integer(c.seed, v, 0, UINT64_MAX); }},
      {"stale", "S", "report each job as it was S seconds ago, like the seed's cache (default 0)",
       [](C& c, V v) { return set_number(c.stale_seconds, v, 0, 1e6); }},
      {"eta-error", "F", "relative error of eta_seconds: factor drawn from [1-F, 1+F] per job (default 0.2)",
       [](C& c, V v) { return set_number(c.eta_error, v, 0, 0.99); }},
      {"pending-retry-after", "S", "Retry-After on pending answers; 0 derives 1..30 s from the estimate (default 0)",
       [](C& c, V v) { return set_integer(c.pending_retry_after_s, v, 0, 86400); }},
      {"max-wait", "S", "longest long poll granted, in seconds (default 60)",
       [](C& c, V v) { return set_number(c.max_wait_s, v, 0.001, 3600); }},
      {"fail-rate", "P", "probability of a 500 answer (default 0)",
       [](C& c, V v) { return set_probability(c.faults.fail_5xx_rate, v); }},
      {"throttle-rate", "P", "probability of a 429 answer with Retry-After (default 0)",
       [](C& c, V v) { return set_probability(c.faults.throttle_rate, v); }},
      {"unavailable-rate", "P", "probability of a 503 answer with Retry-After (default 0)",
       [](C& c, V v) { return set_probability(c.faults.unavailable_rate, v); }},
      {"retry-after", "S", "whole seconds of Retry-After on 429/503 answers (default 1)",
       [](C& c, V v) { return set_integer(c.faults.retry_after_s, v, 0, 86400); }},
      {"latency-ms", "N", "delay added to every create/status answer, in ms (default 0)",
       [](C& c, V v) { return set_number(c.faults.latency_ms, v, 0, 600000); }},
      {"latency-jitter-ms", "N", "extra random delay per answer, uniform in [0, N] ms (default 0)",
       [](C& c, V v) { return set_number(c.faults.latency_jitter_ms, v, 0, 600000); }},
      {"drop-rate", "P", "probability of closing the connection without an answer (default 0)",
       [](C& c, V v) { return set_probability(c.faults.drop_rate, v); }},
      {"drop-after-commit-rate", "P", "create only: make the job, then close without an answer (default 0)",
       [](C& c, V v) { return set_probability(c.faults.drop_after_commit_rate, v); }},
      {"malformed-rate", "P", "probability of a 200 answer with a truncated JSON body (default 0)",
       [](C& c, V v) { return set_probability(c.faults.malformed_rate, v); }},
      {"no-idempotency", "", "ignore the Idempotency-Key header",
       [](C& c, V) { return set_switch(c.idempotency, false); }},
      {"no-extra-fields", "", "status answers carry only \"result\"",
       [](C& c, V) { return set_switch(c.extra_fields, false); }},
      {"no-hints", "", "never send Retry-After", [](C& c, V) { return set_switch(c.retry_after_hints, false); }},
      {"no-long-poll", "", "ignore ?wait=S", [](C& c, V) { return set_switch(c.long_poll, false); }},
      {"no-batch", "", "no POST /status/batch (it answers 404)", [](C& c, V) { return set_switch(c.batch, false); }},
      {"seed-quirks", "", R"(unknown ids get the seed's 200 {"result": "Job ID not found"})",
       [](C& c, V) { return set_switch(c.not_found_404, false); }},
      {"core-only", "", "exactly the seed's protocol: all six switches above",
       [](C& c, V) {
         c.disable_extensions();
         return std::string();
       }},
      {"threads", "N", "most worker threads = most connections served at once (default 1024)",
       [](C& c, V v) { return set_integer(c.threads, v, 1, 65536); }},
      {"max-batch", "N", "most ids in one batch request (default 1000)",
       [](C& c, V v) { return set_integer(c.max_batch_ids, v, 1, 10'000'000); }},
      {"max-jobs", "N", "most jobs kept; creates beyond get 503 (default 1000000)",
       [](C& c, V v) { return set_integer(c.max_jobs, v, 1, 1'000'000'000); }},
      {"max-body-bytes", "N", "largest request body accepted (default 1048576)",
       [](C& c, V v) { return set_integer(c.max_body_bytes, v, 1024, 1u << 30); }},
      {"id-prefix", "STR", "job ids are STR plus a sequence number (default job-)",
       [](C& c, V v) {
         c.id_prefix = std::string(v);
         return std::string();
       }},
      {"no-webhooks", "", "never push to callback URLs (they are still stored and echoed)",
       [](C& c, V) { return set_switch(c.webhooks.enabled, false); }},
      {"webhook-secret", "S",
       "push signing key; empty: unsigned (default $HEYGEN_WEBHOOK_SECRET, else sim-webhook-secret)",
       [](C& c, V v) { return set_text(c.webhooks.secret, v, true); }},
      {"webhook-signature-header", "NAME", "header carrying the hex signature (default X-HeyGen-Signature)",
       [](C& c, V v) { return set_text(c.webhooks.signature_header, v); }},
      {"webhook-signed", "WHAT", "what is signed: body (default) or timestamp-dot-body (\"<timestamp>.<body>\")",
       [](C& c, V v) { return set_webhook_signed(c, v); }},
      {"heygen-callback-signing", "HOW",
       "pushes to a job's callback_url: signed or unsigned (no signature, no timestamp); default: as the real "
       "server sends them (tracker: signed; heygen-v3: unsigned)",
       [](C& c, V v) { return set_callback_signing(c, v); }},
      {"webhook-forged-callback-id", "P",
       "heygen-v3: probability of a forged push mid-job with a wrong or missing callback_id (default 0)",
       [](C& c, V v) { return set_probability(c.webhooks.forged_callback_id_rate, v); }},
      {"webhook-forged-outcome", "P",
       "heygen-v3: probability of a forged push mid-job with the right callback_id and a false outcome (default 0)",
       [](C& c, V v) { return set_probability(c.webhooks.forged_outcome_rate, v); }},
      {"webhook-lost", "P", "probability that a job's push is never sent (default 0)",
       [](C& c, V v) { return set_probability(c.webhooks.lost_rate, v); }},
      {"webhook-duplicate", "P", "probability that a push is sent twice (default 0)",
       [](C& c, V v) { return set_probability(c.webhooks.duplicate_rate, v); }},
      {"webhook-delay", "S",
       "each push waits an extra U(0, S) s, so pushes reorder; scaled by --duration-scale (default 0)",
       [](C& c, V v) { return set_number(c.webhooks.max_delay_s, v, 0, 86400); }},
      {"webhook-bad-signature", "P", "probability that a push is signed with another secret (default 0)",
       [](C& c, V v) { return set_probability(c.webhooks.bad_signature_rate, v); }},
      {"webhook-replay", "P", "probability that an earlier job's delivered push is resent after a push (default 0)",
       [](C& c, V v) { return set_probability(c.webhooks.replay_rate, v); }},
      {"webhook-retries", "N", "retries when the receiver is down or answers non-2xx, then give up (default 3)",
       [](C& c, V v) { return set_integer(c.webhooks.retries, v, 0, 20); }},
      {"webhook-backoff", "S", "seconds before the first retry, doubling; scaled by --duration-scale (default 0.2)",
       [](C& c, V v) { return set_number(c.webhooks.retry_backoff_s, v, 0, 3600); }},
      {"webhook-timeout", "S", "connect, read and write timeout of each push, real seconds (default 5)",
       [](C& c, V v) { return set_number(c.webhooks.timeout_s, v, 0.001, 3600); }},
      {"webhook-senders", "N", "push sender threads (default 2)",
       [](C& c, V v) { return set_integer(c.webhooks.senders, v, 1, 64); }},
      {"webhook-ca-file", "PEM", "certificates https callback URLs are verified against (default: the system's)",
       [](C& c, V v) { return set_text(c.webhooks.ca_file, v); }},
  };
  return specs;
}

/// The spec of `--name`, or null.
inline const FlagSpec* find_flag(std::string_view name) {
  for (const auto& spec : flag_specs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

/// Applies argv[i] (and its value, advancing i when the value is the next argument); returns an error or "".
inline std::string apply_flag(SimulatorConfig& config, int argc, const char* const* argv, int& i) {
  const std::string_view arg = argv[i] != nullptr ? argv[i] : "";
  if (arg.substr(0, 2) != "--") return "unexpected argument '" + std::string(arg) + "'";
  const auto eq = arg.find('=');
  const bool inline_value = eq != std::string_view::npos;
  const std::string_view name = arg.substr(2, inline_value ? eq - 2 : std::string_view::npos);
  const FlagSpec* spec = find_flag(name);
  const std::string flag = "--" + std::string(name);
  if (spec == nullptr) return "unknown flag '" + flag + "'";
  if (spec->metavar.empty() && inline_value) return flag + " takes no value";
  std::string_view value;
  if (inline_value) value = arg.substr(eq + 1);
  if (!spec->metavar.empty() && !inline_value) {
    if (i + 1 >= argc || argv[i + 1] == nullptr) return flag + " needs a value";
    value = argv[++i];
  }
  std::string problem = spec->apply(config, value);
  return problem.empty() ? problem : flag + ": " + problem;
}

}  // namespace detail

inline ParsedArgs parse_args(int argc, const char* const* argv) {
  ParsedArgs out;
  // Read once, before any flag (a --webhook-secret overrides it); nothing else changes the environment here.
  if (const char* secret = std::getenv("HEYGEN_WEBHOOK_SECRET")) out.config.webhooks.secret = secret;
  for (int i = 1; i < argc && out.ok(); ++i) {
    const std::string_view arg = argv[i] != nullptr ? argv[i] : "";
    out.help = out.help || arg == "--help" || arg == "-h";
    if (out.help) return out;
    out.error = detail::apply_flag(out.config, argc, argv, i);
  }
  if (out.ok()) out.error = out.config.validate();
  return out;
}

inline std::string usage(std::string_view program) {
  std::string out = "Usage: " + std::string(program) + " [FLAGS]\n\n";
  out +=
      "Simulated video translation status server. Speaks the seed's protocol (POST /create_job, GET\n"
      "/status/{id}, GET /status[?job_id=ID]) plus Idempotency-Key, progress/eta fields, Retry-After,\n"
      "long poll (?wait=S), POST /status/batch; GET /stats has the server-side truth for measuring clients.\n"
      "With --api heygen-v3 it speaks HeyGen's v3 API instead: POST /v3/video-translations (one job per\n"
      "output language), GET /v3/video-translations/{id}, .../statuses?video_translation_ids=a,b (paged),\n"
      ".../languages, with --api-key checked and --max-concurrent enforced by 429 + Retry-After.\n"
      "A job created with a callback_url (and optional callback_id) in its body has its final status POSTed\n"
      "there when it ends (v3: HeyGen's video_translate.success/fail event), signed: X-HeyGen-Timestamp and\n"
      "a hex HMAC-SHA256 in --webhook-signature-header (or unsigned, as HeyGen sends them, with\n"
      "--heygen-callback-signing unsigned); the --webhook-* flags inject faults, forgeries and retries.\n"
      "v3 also serves /v3/webhooks/endpoints (register, list, PATCH, DELETE, .../rotate-secret): each endpoint\n"
      "gets the video_translate.success/fail events it takes, signed with its own secret.\n"
      "v3 outputs are files: GET /files/{id}/{name} (presigned, Range, ETag; --output-bytes each); uploads go\n"
      "through POST /v3/assets/direct-uploads, a presigned PUT /uploads/{asset_id} (size, type, SHA-256 checked),\n"
      "POST /v3/assets/{id}/complete and GET /v3/assets/statuses, or multipart POST /v3/assets (up to 32 MiB);\n"
      "the --storage-* flags inject faults into the file GETs and PUTs, S3's XML errors come back.\n"
      "Prints 'listening on HOST:PORT' once ready; stops on SIGINT or SIGTERM.\n\n"
      "Limits: each open connection holds one worker thread (long polls included), so --threads (default 1024)\n"
      "is the most connections served at once; more are accepted and wait in a queue. Keep-alive: up to\n"
      "10000 requests per connection, closed after 15 s idle; reads and writes time out after 5 s.\n"
      "The open-file limit is raised to its hard maximum at start.\n\nFlags:\n";
  for (const auto& spec : detail::flag_specs()) {
    // Appended piece by piece: g++ -O3 warns (-Wrestrict, a false positive) on "literal" + std::string here.
    std::string left("  --");
    left.append(spec.name);
    if (!spec.metavar.empty()) left.append(" ").append(spec.metavar);
    left.resize(std::max<std::size_t>(left.size() + 2, 32), ' ');
    out += left + std::string(spec.help) + "\n";
  }
  out += "  --help                        this text\n";
  return out;
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_ARGS_HPP
