// What the simulator can be told: job durations, injected faults, protocol switches, limits and TLS, each
// with its default, and the checks that refuse an unusable configuration before anything is bound.
#ifndef HEYGEN_SIM_OPTIONS_HPP
#define HEYGEN_SIM_OPTIONS_HPP

#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace heygen::sim {

/// How long a job stays pending; drawn once per job, at creation.
struct DurationDistribution {
  /// Shape of the distribution; selects the meaning of `a` and `b`.
  enum class Kind { fixed, uniform, lognormal };

  /// Which shape.
  Kind kind = Kind::fixed;
  /// Seconds for fixed, lower bound for uniform, median for lognormal.
  double a = 0.2;
  /// Upper bound for uniform, sigma of the underlying normal for lognormal; unused for fixed.
  double b = 0.0;

  /// Every job takes exactly `seconds`.
  static DurationDistribution fixed(double seconds) { return {Kind::fixed, seconds, 0.0}; }
  /// Uniform between `lo` and `hi` seconds.
  static DurationDistribution uniform(double lo, double hi) { return {Kind::uniform, lo, hi}; }
  /// Lognormal with the given median in seconds and sigma of the log.
  static DurationDistribution lognormal(double median, double sigma) { return {Kind::lognormal, median, sigma}; }
  /// HeyGen's translations as its guidance describes them: lognormal, median 8 minutes, sigma 0.5.
  static DurationDistribution heygen_like() { return lognormal(480, 0.5); }

  /// Why the parameters are unusable, or an empty string when they are fine.
  std::string validate() const;
  /// The `--duration` spelling, e.g. `uniform:1:3`.
  std::string to_string() const;
};

/// Failures injected into create and status answers; each rate is a probability per request.
struct FaultConfig {
  /// Answer 500 with a JSON error body.
  double fail_5xx_rate = 0;
  /// Answer 429 with Retry-After.
  double throttle_rate = 0;
  /// Answer 503 with Retry-After.
  double unavailable_rate = 0;
  /// Close the connection without writing a single byte of an answer.
  double drop_rate = 0;
  /// Answer 200 with a truncated, unparseable JSON body.
  double malformed_rate = 0;
  /// Create only: make the job (and bind its Idempotency-Key), then close the connection unanswered.
  double drop_after_commit_rate = 0;
  /// Whole seconds sent as Retry-After on 429 and 503 answers.
  int retry_after_s = 1;
  /// Delay added before answering every create or status request, in milliseconds.
  double latency_ms = 0;
  /// Extra delay per request, drawn uniformly from [0, latency_jitter_ms].
  double latency_jitter_ms = 0;
};

/// What a webhook signature covers.
enum class WebhookSigned {
  body,                ///< The raw body.
  timestamp_dot_body,  ///< `<timestamp>.<body>`, the timestamp being the X-HeyGen-Timestamp header's value.
};

/// The `--webhook-signed` spelling: "body" or "timestamp-dot-body".
inline std::string_view to_string(WebhookSigned what) noexcept {
  return what == WebhookSigned::timestamp_dot_body ? "timestamp-dot-body" : "body";
}

/// Whether a job's push to its own callback_url is signed.
enum class CallbackSigning {
  hmac,  ///< Signed (and timestamped) like a registered endpoint's push: what the simulator always did.
  none,  ///< Neither signature nor timestamp header: what HeyGen sends to a per-job callback_url.
};

/// The `--heygen-callback-signing` spelling: "signed" or "unsigned".
inline std::string_view to_string(CallbackSigning signing) noexcept {
  return signing == CallbackSigning::none ? "unsigned" : "signed";
}

/// Webhook pushes: a job created with a callback_url gets its final status POSTed there when it ends, signed,
/// from a few sender threads of the simulator's own, with the faults real webhook senders show. Times are in
/// the jobs' time: multiplied by SimulatorConfig::duration_scale, as durations are.
struct WebhookConfig {
  /// Push at all; off, callback_url and callback_id are only stored (and echoed).
  bool enabled = true;
  /// HMAC-SHA256 key of the signature; empty: pushes go unsigned (status_server also reads
  /// HEYGEN_WEBHOOK_SECRET).
  std::string secret = "sim-webhook-secret";
  /// Header carrying the signature (lowercase hex). The timestamp always goes in X-HeyGen-Timestamp.
  std::string signature_header = "X-HeyGen-Signature";
  /// What the signature covers.
  WebhookSigned signed_string = WebhookSigned::body;
  /// Pushes to a job's own callback_url: signed with `secret`, or unsigned as HeyGen sends them; unset, by the
  /// API (callback_signing_of()). Pushes to registered endpoints are always signed with theirs.
  std::optional<CallbackSigning> callback_signing;
  /// Probability that a job's push is never sent.
  double lost_rate = 0;
  /// Probability that a push is sent twice.
  double duplicate_rate = 0;
  /// Probability that a push carries the signature of another secret (so it does not verify).
  double bad_signature_rate = 0;
  /// Probability that, after its own push, an earlier job's delivered push is sent again, byte for byte.
  double replay_rate = 0;
  /// heygen_v3: probability that a job with a callback_url also gets, half-way through its run, a forged push
  /// naming it with a wrong or missing callback_id.
  double forged_callback_id_rate = 0;
  /// heygen_v3: probability that a job with a callback_url also gets, half-way through its run, a forged push
  /// with its right callback_id and the outcome it will not have (a false success or a false failure).
  double forged_outcome_rate = 0;
  /// Each push waits an extra U(0, max_delay_s) seconds after its job ends (so pushes also arrive out of order).
  double max_delay_s = 0;
  /// Attempts after the first when the receiver cannot be reached or answers other than 2xx.
  int retries = 3;
  /// Seconds before the first retry; doubles for each next one.
  double retry_backoff_s = 0.2;
  /// Seconds to connect, and for each read and write of one attempt (real seconds, not scaled).
  double timeout_s = 5;
  /// Sender threads, started with the first push; a receiver that stalls holds one of them.
  std::size_t senders = 2;
  /// PEM file of the certificates https callback URLs are verified against; empty: the system's.
  std::string ca_file{};
};

/// heygen_v3's object store: the translated files behind the presigned output URLs, presigned uploads, the
/// ingest of uploaded assets, and storage faults (drawn per request from the one seeded generator; all off).
struct StorageConfig {
  /// Size in bytes of every output file (video, audio and captions alike).
  std::uint64_t output_bytes = 65536;
  /// Seconds a presigned URL (output or upload) stays valid after it is handed out (HeyGen's results: 7 days).
  std::int64_t url_lifetime_s = std::int64_t{7} * 24 * 3600;
  /// Largest size a direct upload may declare (S3's limit for one PUT).
  std::uint64_t max_upload_bytes = std::uint64_t{5} << 30;
  /// Seconds an asset takes to ingest once uploaded: queued for the first half, processing for the second.
  double ingest_s = 0.2;
  /// Probability that an asset's ingest fails.
  double ingest_fail_rate = 0;
  /// Probability that a GET or PUT body is cut mid-way: the connection closes after about half of the bytes.
  double cut_rate = 0;
  /// Probability that a PUT is answered 500 or 503 with an XML error, its body unread.
  double fail_5xx_rate = 0;
  /// Bytes per second file bodies move at, both directions; 0 is as fast as the connection goes.
  double pace_bytes_per_s = 0;
  /// Probability that a GET declares a Content-Length larger than what it sends, then closes.
  double wrong_length_rate = 0;
  /// Probability that a GET is answered 200 with Content-Type text/html and an error page instead of the file.
  double html_error_rate = 0;
};

/// Which API the simulator speaks.
enum class Api {
  tracker,    ///< The status tracker's protocol (POST /create_job, GET /status/{id}, batch, long poll).
  heygen_v3,  ///< HeyGen's v3 video-translation API (/v3/video-translations...), with an API key.
};

/// The `--api` spelling: "tracker" or "heygen-v3".
inline std::string_view to_string(Api api) noexcept { return api == Api::heygen_v3 ? "heygen-v3" : "tracker"; }

/// Everything the simulator can be told; defaults are a full-featured, fault-free server on an ephemeral port.
struct SimulatorConfig {
  /// Address to bind.
  std::string host = "127.0.0.1";
  /// Port to bind; 0 picks a free one (read it back from StatusSimulator::port()).
  int port = 0;
  /// The API spoken; the tracker's routes are served only in tracker mode, the v3 routes only in heygen_v3.
  Api api = Api::tracker;
  /// heygen_v3: the key every v3 request must carry (`X-Api-Key` or `Authorization: Bearer`); empty: none.
  std::string api_key = "sim-key";
  /// heygen_v3: most jobs running at once; a create beyond it gets 429 with Retry-After. 0 is no limit.
  std::size_t max_concurrent_jobs = 0;
  /// heygen_v3: entries per `/statuses` page (HeyGen answers up to 100 ids in one page).
  std::size_t statuses_page_size = 100;
  /// How long jobs stay pending.
  DurationDistribution duration = DurationDistribution::fixed(0.2);
  /// Factor applied to every drawn duration (e.g. heygen-like jobs of minutes made milliseconds for tests).
  double duration_scale = 1.0;
  /// Probability that a job ends in error rather than completed.
  double error_probability = 0;
  /// Seed of the one random generator (durations, outcomes, estimate errors, faults).
  std::uint64_t seed = 1;
  /// Job ids are this prefix followed by a zero-padded sequence number.
  std::string id_prefix = "job-";
  /// Honour the Idempotency-Key header on create.
  bool idempotency = true;
  /// Add error_message, progress and eta_seconds to status answers.
  bool extra_fields = true;
  /// Send Retry-After on pending, 429 and 503 answers.
  bool retry_after_hints = true;
  /// Honour `?wait=S` on status requests.
  bool long_poll = true;
  /// Serve POST /status/batch.
  bool batch = true;
  /// Unknown ids get 404 with a JSON error; off, they get the seed's `200 {"result": "Job ID not found"}`.
  bool not_found_404 = true;
  /// Report each job as it was this many seconds ago (the seed server's stale cache); 0 is always fresh.
  double stale_seconds = 0;
  /// Relative error of eta_seconds: each job's estimate is off by a factor drawn from [1-e, 1+e].
  double eta_error = 0.2;
  /// Retry-After on pending answers in whole seconds; 0 derives it from the job's estimate (1 to 30 s).
  int pending_retry_after_s = 0;
  /// Longest long poll the server grants, in seconds; longer requests are cut to this.
  double max_wait_s = 60;
  /// Most ids one batch request may list.
  std::size_t max_batch_ids = 1000;
  /// Most jobs the server keeps; creates beyond it get 503 (memory stays bounded).
  std::size_t max_jobs = 1'000'000;
  /// Injected failures.
  FaultConfig faults;
  /// Webhook pushes to the jobs' callback URLs, and their faults.
  WebhookConfig webhooks;
  /// heygen_v3: output files, uploads, asset ingest and storage faults.
  StorageConfig storage;
  /// Most worker threads. Each open connection holds one worker (cpp-httplib's model) for as long as it is
  /// open, long polls included, so this is also the most connections served at once; the rest wait queued.
  std::size_t threads = 1024;
  /// Largest request body accepted; larger ones get 413 and are never buffered.
  std::size_t max_body_bytes = std::size_t{1} << 20;
  /// Requests served on one keep-alive connection before it is closed.
  std::size_t keep_alive_max_count = 10000;
  /// Seconds an idle keep-alive connection is kept open.
  int keep_alive_timeout_s = 15;
  /// Seconds a stalled read of a request may take.
  int read_timeout_s = 5;
  /// Seconds a stalled write of an answer may take.
  int write_timeout_s = 5;
  /// Listen backlog; the library's built-in 5 drops connection bursts, so it is raised after binding.
  int listen_backlog = 4096;
  /// PEM certificate (chain) file; with tls_key_file set too, the server speaks HTTPS only.
  std::string tls_cert_file{};
  /// PEM private key file of tls_cert_file.
  std::string tls_key_file{};

  /// True when the server speaks HTTPS.
  bool tls() const noexcept { return !tls_cert_file.empty(); }

  /// How pushes to a job's callback_url go: as set, else as the API's real server sends them (the tracker
  /// signs them; HeyGen does not).
  CallbackSigning callback_signing_of() const noexcept {
    return webhooks.callback_signing.value_or(api == Api::heygen_v3 ? CallbackSigning::none : CallbackSigning::hmac);
  }

  /// A server speaking exactly the seed's protocol: every extension off, unknown ids answered the seed's way.
  static SimulatorConfig core_only();
  /// Turns every extension off (as core_only()), keeping the other settings.
  SimulatorConfig& disable_extensions();
  /// Why the configuration is unusable, or an empty string when it is fine.
  std::string validate() const;
};

// ---------------------------------------------------------------------------------------------------------
// Validation

inline std::string DurationDistribution::validate() const {
  const bool finite = std::isfinite(a) && std::isfinite(b);
  const double limit = detail::max_span_s;
  switch (kind) {
    case Kind::fixed: return finite && a >= 0 && a <= limit ? "" : "fixed duration must be between 0 and 1e8 seconds";
    case Kind::uniform:
      return finite && a >= 0 && a <= b && b <= limit ? "" : "uniform needs 0 <= A <= B <= 1e8 seconds";
    case Kind::lognormal:
      return finite && a > 0 && a <= limit && b >= 0 && b <= 10 ? ""
                                                                : "lognormal needs MEDIAN > 0 and 0 <= SIGMA <= 10";
  }
  return "unknown distribution kind";
}

inline std::string DurationDistribution::to_string() const {
  std::string out;
  if (kind == Kind::fixed) out = "fixed:";
  if (kind == Kind::uniform) out = "uniform:";
  if (kind == Kind::lognormal) out = "lognormal:";
  detail::append_json_number(out, a, 6);
  if (kind == Kind::fixed) return out;
  out += ':';
  detail::append_json_number(out, b, 6);
  return out;
}

inline SimulatorConfig SimulatorConfig::core_only() { return SimulatorConfig{}.disable_extensions(); }

inline SimulatorConfig& SimulatorConfig::disable_extensions() {
  idempotency = extra_fields = retry_after_hints = long_poll = batch = false;
  not_found_404 = false;  // the seed answers an unknown id with 200 {"result": "Job ID not found"}
  return *this;
}

namespace detail {

/// Error text when `value` is not a probability.
inline std::string check_probability(std::string_view name, double value) {
  return value >= 0 && value <= 1 ? "" : std::string(name) + " must be between 0 and 1";
}

/// Error text when `value` is outside [lo, hi].
inline std::string check_range(std::string_view name, double value, double lo, double hi) {
  if (value >= lo && value <= hi) return "";
  std::string out = std::string(name) + " must be between ";
  append_json_number(out, lo, 3);
  out += " and ";
  append_json_number(out, hi, 3);
  return out;
}

/// The first non-empty message, or empty.
inline std::string first_error(std::initializer_list<std::string> errors) {
  for (const auto& e : errors) {
    if (!e.empty()) return e;
  }
  return "";
}

/// Problems with the fault settings.
inline std::string validate_faults(const FaultConfig& f) {
  const double answered = f.fail_5xx_rate + f.throttle_rate + f.unavailable_rate + f.drop_rate + f.malformed_rate;
  return first_error({
      check_probability("fail rate", f.fail_5xx_rate),
      check_probability("throttle rate", f.throttle_rate),
      check_probability("unavailable rate", f.unavailable_rate),
      check_probability("drop rate", f.drop_rate),
      check_probability("malformed rate", f.malformed_rate),
      check_probability("drop-after-commit rate", f.drop_after_commit_rate),
      answered + f.drop_after_commit_rate <= 1 + 1e-9 ? "" : "fault rates must add up to at most 1",
      check_range("retry-after", f.retry_after_s, 0, 86400),
      check_range("latency", f.latency_ms, 0, 600000),
      check_range("latency jitter", f.latency_jitter_ms, 0, 600000),
  });
}

/// True for a header name (an RFC 9110 token).
inline bool header_token(std::string_view name) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return !name.empty() && name.size() <= 256 && std::all_of(name.begin(), name.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           specials.find(c) != std::string_view::npos;
  });
}

/// Problems with the webhook settings.
inline std::string validate_webhooks(const WebhookConfig& w) {
  return first_error({
      w.secret.size() <= 4096 ? "" : "webhook secret must be at most 4096 bytes",
      header_token(w.signature_header) ? "" : "webhook signature header must be a header name",
      check_probability("webhook lost rate", w.lost_rate),
      check_probability("webhook duplicate rate", w.duplicate_rate),
      check_probability("webhook bad-signature rate", w.bad_signature_rate),
      check_probability("webhook replay rate", w.replay_rate),
      check_probability("webhook forged callback_id rate", w.forged_callback_id_rate),
      check_probability("webhook forged outcome rate", w.forged_outcome_rate),
      check_range("webhook max delay", w.max_delay_s, 0, 86400),
      check_range("webhook retries", w.retries, 0, 20),
      check_range("webhook backoff", w.retry_backoff_s, 0, 3600),
      check_range("webhook timeout", w.timeout_s, 0.001, 3600),
      check_range("webhook senders", static_cast<double>(w.senders), 1, 64),
  });
}

/// Problems with the limits and timeouts.
inline std::string validate_limits(const SimulatorConfig& c) {
  return first_error({
      check_range("threads", static_cast<double>(c.threads), 1, 65536),
      check_range("max batch ids", static_cast<double>(c.max_batch_ids), 1, 1e7),
      check_range("max jobs", static_cast<double>(c.max_jobs), 1, 1e9),
      check_range("max body bytes", static_cast<double>(c.max_body_bytes), 1024, 1 << 30),
      check_range("keep-alive max count", static_cast<double>(c.keep_alive_max_count), 1, 1e9),
      check_range("keep-alive timeout", c.keep_alive_timeout_s, 1, 3600),
      check_range("read timeout", c.read_timeout_s, 1, 3600),
      check_range("write timeout", c.write_timeout_s, 1, 3600),
      check_range("listen backlog", c.listen_backlog, 1, 65535),
      check_range("max concurrent jobs", static_cast<double>(c.max_concurrent_jobs), 0, 1e9),
      check_range("statuses page size", static_cast<double>(c.statuses_page_size), 1, 100),
  });
}

/// Problems with the object store's settings.
inline std::string validate_storage(const StorageConfig& s) {
  return first_error({
      check_range("output bytes", static_cast<double>(s.output_bytes), 1, 0x1p40),
      check_range("url lifetime", static_cast<double>(s.url_lifetime_s), 0, 1e9),
      check_range("max upload bytes", static_cast<double>(s.max_upload_bytes), 1, 0x1p40),
      check_range("ingest", s.ingest_s, 0, 86400),
      check_probability("ingest fail rate", s.ingest_fail_rate),
      check_probability("storage cut rate", s.cut_rate),
      check_probability("storage 5xx rate", s.fail_5xx_rate),
      check_range("storage pace", s.pace_bytes_per_s, 0, 1e12),
      check_probability("storage wrong-length rate", s.wrong_length_rate),
      check_probability("storage html-error rate", s.html_error_rate),
  });
}

/// The API key must fit in one header line.
inline std::string validate_api_key(const SimulatorConfig& c) {
  if (c.api_key.size() > 1024) return "api key must be at most 1024 bytes";
  for (const char ch : c.api_key)
    if (static_cast<unsigned char>(ch) < 0x21 || ch == 0x7F) return "api key must be printable, without spaces";
  return "";
}
/// TLS needs both files, and cpp-httplib built with OpenSSL.
inline std::string validate_tls(const SimulatorConfig& c) {
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) return "TLS needs both a certificate and a key file";
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (c.tls()) return "TLS needs cpp-httplib built with OpenSSL";
#endif
  return "";
}

}  // namespace detail

inline std::string SimulatorConfig::validate() const {
  return detail::first_error({
      host.empty() ? "host must not be empty" : "",
      detail::check_range("port", port, 0, 65535),
      duration.validate(),
      duration_scale > 0 && duration_scale <= 1e6 ? "" : "duration scale must be above 0 and at most 1e6",
      detail::check_probability("error rate", error_probability),
      id_prefix.size() <= 64 ? "" : "id prefix must be at most 64 bytes",
      detail::check_range("stale", stale_seconds, 0, 1e6),
      detail::check_range("eta error", eta_error, 0, 0.99),
      detail::check_range("pending retry-after", pending_retry_after_s, 0, 86400),
      detail::check_range("max wait", max_wait_s, 0.001, 3600),
      detail::validate_faults(faults),
      detail::validate_webhooks(webhooks),
      detail::validate_storage(storage),
      detail::validate_limits(*this),
      detail::validate_api_key(*this),
      detail::validate_tls(*this),
  });
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_OPTIONS_HPP
