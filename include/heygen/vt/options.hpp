// Options: ClientOptions, Endpoints, and the progress types of bulk waits and submissions.
#pragma once

#include "heygen/vt/config.hpp"
#include "heygen/vt/journal.hpp"
#include "heygen/vt/log.hpp"
#include "heygen/vt/policies.hpp"
#include "heygen/vt/version.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace heygen {

/// How far a bulk call has got: results known so far, out of the distinct ids.
struct BulkProgress {
  std::size_t done = 0;   ///< Results known, this one included.
  std::size_t total = 0;  ///< Distinct job ids tracked.
};

/// Receives one job's result as soon as it is known, with the progress counts.
using BulkCallback =
    std::function<void(const std::string& job_id, const TranslationResult& result, BulkProgress progress)>;

/// A wait's own deadline and cancellation (`watch`, the `*_async` calls).
struct WatchOptions {
  std::stop_token stop{};  ///< Ends the wait `cancelled` when triggered.
  Seconds timeout{0};      ///< Ends the wait `timeout` after this long; 0: the client's max_timeout.
};

/// Receives a watched job's result, once, on one of the poller's workers (or on the thread that cancels).
using WatchCallback = std::function<void(const std::string& job_id, const TranslationResult& result)>;

/// How far a submission of many creates has got. Creates go one after another: while the account runs as many
/// jobs as it may, the server paces them (429 + Retry-After) and the rest stay queued instead of failing.
struct SubmitProgress {
  std::size_t created = 0;                    ///< Inputs created so far.
  std::size_t failed = 0;                     ///< Inputs that could not be created.
  std::size_t queued = 0;                     ///< Inputs not yet created (the one in flight included).
  std::size_t total = 0;                      ///< Inputs submitted.
  std::optional<Seconds> waiting_for_slot{};  ///< Set while the server paces the creates: the wait it asked for.
};

/// Receives a submission's progress after each create and whenever the server makes it wait.
using SubmitCallback = std::function<void(const SubmitProgress& progress)>;

/// What one submitted input came to: the ids of the jobs it started, or why none were.
struct Submitted {
  std::vector<std::string> job_ids{};  ///< One per job the create started (one per output language on HeyGen).
  std::optional<Failure> failure{};    ///< Why the create failed; empty on success.
};

/// URL paths of the server's endpoints, relative to the base URL.
struct Endpoints {
  std::string create_job = "/create_job";  ///< POST: create a job.
  /// GET: a job's status. `{job_id}` is replaced by the percent-encoded id; without it, `?job_id=` is appended.
  std::string status = "/status/{job_id}";
  /// POST: many jobs' status in one request (`{"job_ids": [...]}`); a 404 or 405 tells the client it is absent.
  std::string batch = "/status/batch";
};

/// Which pushes a client takes, and how it trusts them.
enum class PushTrust {
  signature,  ///< Only signed pushes, each settling its job at once (the exercise's server; HeyGen's endpoints).
  confirm,    ///< Every push is a hint: its callback_id must match the create's, and one look confirms it.
  either,     ///< A signed push settles at once, an unsigned one is a hint; a wrong signature is refused.
};

/// How pushes are checked. The defaults follow what is known of HeyGen's webhooks: the signature is the lowercase
/// hex HMAC-SHA256 of the raw body with the endpoint's secret, in a header whose exact name is not documented
/// (`X-HeyGen-Signature` and `Signature` have both been seen): a wrong guess is a change of `signature_header`.
struct WebhookOptions {
  std::string secret{};                                 ///< The endpoint's signing secret; required without `verify`.
  std::string signature_header = "X-HeyGen-Signature";  ///< Header with the hex signature (`sha256=` prefix allowed).
  /// What is signed: `{body}` is the raw body, `{timestamp}` the timestamp header's value (e.g. "{timestamp}.{body}").
  std::string signed_string = "{body}";
  std::string timestamp_header = "X-HeyGen-Timestamp";  ///< Header with the time of sending, in unix seconds.
  /// How far the timestamp may be from now, either way; 0 checks no timestamp. A replayed push is refused past it.
  Seconds timestamp_tolerance{0};
  std::size_t max_body_bytes = std::size_t{64} * 1024;  ///< Larger bodies are refused before anything is checked.
  std::size_t remember = 100000;  ///< Settled job ids remembered, so later pushes for them are duplicates.
  /// Which pushes are taken: empty means the protocol's default (HeyGen's API: either, since its per-job
  /// callback_url pushes are unsigned; the exercise's server: signature).
  std::optional<PushTrust> trust{};
  /// The caller's own check, used instead of the built-in HMAC (for a build without OpenSSL, or another scheme):
  /// true when `signature` (the signature header's value, as sent) signs `signed_string`. Called from many
  /// threads at once; compare in constant time (detail::constant_time_equal).
  std::function<bool(std::string_view signed_string, std::string_view signature)> verify{};
  /// Safety-net polling while pushes are expected (a webhook_url is set): a job is looked at again after
  /// max(safety_interval, safety_age_ratio × its age), so a lost push is caught within that long of the job's end.
  Seconds safety_interval{30.0};
  double safety_age_ratio = 0.1;  ///< See safety_interval.
};

/// Everything a client can be configured with; usable with designated initializers.
struct ClientOptions {
  std::string base_url{};        ///< e.g. "http://localhost:5000"; scheme and host required.
  int max_retries = 15;          ///< Retries after a failed request (seed default).
  Seconds initial_backoff{0.5};  ///< First retry backoff ceiling (seed default).
  Seconds max_timeout{300.0};    ///< Deadline of a whole call; a wait past it returns timeout (seed default).
  Seconds max_backoff{30.0};     ///< Cap on retry backoff.
  PollPolicy polling{};          ///< When to look again at a pending job (see PollPolicy presets).
  /// What was learnt about the server; share one between clients of a server. Empty: the client makes its own.
  std::shared_ptr<ServerProfile> profile{};
  Seconds request_timeout{30.0};  ///< Budget for one HTTP request (bounded by the deadline too).
  Seconds connect_timeout{5.0};   ///< Budget for opening a connection (bundled transport).
  std::size_t max_body_bytes = HEYGEN_VT_DEFAULT_MAX_BODY_BYTES;  ///< Cap on a response body (bundled transport).
  std::string bearer_token{};               ///< Sent as `Authorization: Bearer ...` when non-empty; never logged.
  std::string api_key{};                    ///< Sent as `X-Api-Key` when non-empty (HeyGen's API); never logged.
  std::vector<HttpHeader> extra_headers{};  ///< Added to every request.
  Endpoints endpoints{};                    ///< Paths of the server's endpoints.
  /// Where the server should push each job's outcome: creates carry it as `callback_url` (and a `callback_id`),
  /// and waits expect pushes, polling only as a safety net. Empty: no pushes asked for, polling alone.
  std::string webhook_url{};
  WebhookOptions webhook{};    ///< How pushes are verified (secret, header, signed string), and the safety net.
  bool verify_tls = true;      ///< Verify the server's certificate for https (turning it off is explicit).
  std::string ca_cert_file{};  ///< CA bundle for https; empty uses the system's.
  std::size_t connection_pool_size = 8;  ///< Idle keep-alive connections the bundled transport keeps for reuse.
  /// The HTTP proxy of every request the bundled transport sends, "http://[user:password@]host[:port]" (the user
  /// and password for Basic authentication, never logged); "" for none. Unset: from the environment, as curl reads
  /// it (https_proxy, HTTPS_PROXY, http_proxy, all_proxy, ALL_PROXY: see ProxyConfig).
  std::optional<std::string> proxy{};
  /// The hosts reached without the proxy, in curl's NO_PROXY syntax (no_proxy_matches()). Unset: no_proxy or
  /// NO_PROXY from the environment, which also applies to an explicit `proxy`, as it does to curl's --proxy.
  std::optional<std::string> no_proxy{};
  /// Where the proxy variables are read; empty: the process environment. Tests pin it.
  std::function<std::optional<std::string>(std::string_view name)> environment{};
  /// The caller's own product token(s), e.g. "my-app/2.1", sent in the User-Agent after the library's.
  std::string user_agent_suffix{};
  /// Worker threads of the client's poller (started at the first asynchronous or bulk wait), shared by all
  /// its waits; also the most status requests those waits have in flight at once.
  std::size_t poller_threads = HEYGEN_VT_DEFAULT_POLLER_THREADS;
  /// Where the client writes its jobs down so a restart loses nothing (a create's intent before it is sent, its ids,
  /// each outcome before it is handed over; see resume()). Empty: everything stays in memory, as without one.
  AnyJournal journal{};
  LogSink log_sink{};                   ///< Where log messages go; empty means silent.
  LogLevel log_level = LogLevel::info;  ///< Least severe level passed to the sink.
  /// Source of U[0,1) numbers for jitter; empty uses a thread-safe internal generator. Tests pin it.
  std::function<double()> random{};

  /// The retry policy these options describe.
  [[nodiscard]] RetryPolicy retry_policy() const noexcept { return {max_retries, initial_backoff, max_backoff}; }

  /// The User-Agent the bundled transport sends: "heygen-vt-cpp/VERSION", then user_agent_suffix. A transport of
  /// the caller's can send it too.
  [[nodiscard]] std::string user_agent() const {
    std::string agent = "heygen-vt-cpp/" HEYGEN_VT_VERSION;
    if (!user_agent_suffix.empty()) agent.append(" ").append(user_agent_suffix);
    return agent;
  }
};

}  // namespace heygen
