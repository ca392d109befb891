// Jobs and faults as the simulator keeps them: the random draws that fix a job at creation, what a status
// answer reports, where its final status is pushed, the counters, and the kinds of injected fault.
#ifndef HEYGEN_SIM_JOBS_HPP
#define HEYGEN_SIM_JOBS_HPP

#include "options.hpp"
#include "stats.hpp"
#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace heygen::sim::detail {

/// The error_message of jobs whose outcome is error.
inline constexpr std::string_view failure_message = "simulated translation failure";

/// Random numbers with our own transforms, so a seed gives the same jobs with every standard library.
class Rng {
 public:
  /// Seeds the engine.
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box-Muller).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

/// One draw from the distribution, in seconds, clamped to [0, max_span_s].
inline double sample_seconds(const DurationDistribution& d, Rng& rng) {
  double s = d.a;
  if (d.kind == DurationDistribution::Kind::uniform) s = rng.uniform(d.a, d.b);
  if (d.kind == DurationDistribution::Kind::lognormal) s = d.a * std::exp(d.b * rng.normal());
  return std::isfinite(s) ? std::clamp(s, 0.0, max_span_s) : max_span_s;
}

/// Status a job reports.
enum class JobState { pending, completed, error };

/// The wire name of a state.
inline std::string_view state_name(JobState state) noexcept {
  if (state == JobState::pending) return "pending";
  return state == JobState::error ? "error" : "completed";
}

/// What one v3 create asked for, shared by the jobs it made (one per output language).
struct V3Order {
  /// The output languages, one job each, in the order given.
  std::vector<std::string> output_languages;
  /// Display title; empty when none was given.
  std::string title;
  /// Source language; empty when it was left to detection.
  std::string input_language;
  /// Webhook URL: the jobs' final statuses are pushed there (see webhooks.hpp).
  std::string callback_url;
  /// Echoed back on every job of the create.
  std::string callback_id;
  /// The source video's asset id when it was given as one (`video.type` asset_id); empty otherwise.
  std::string asset_id;
  /// Captions were asked for: completed jobs carry caption URLs.
  bool captions = false;
  /// When the create arrived, in Unix seconds (created_at).
  std::int64_t created_unix = 0;
};

/// Where a callback URL points: what a client needs to connect, and the request target.
struct CallbackTarget {
  /// https rather than http.
  bool tls = false;
  /// Host name or address (an IPv6 address without its brackets).
  std::string host;
  /// Port (80 or 443 when the URL names none).
  int port = 0;
  /// Path and query, at least "/".
  std::string path;
};

/// The webhook a create asked for, shared by the jobs it made.
struct Callback {
  /// The URL as given.
  std::string url;
  /// Echoed in every push; empty when none was given.
  std::string id;
  /// The URL, parsed.
  CallbackTarget target;
};

/// One job as the server keeps it.
struct Job {
  /// Its id.
  std::string id;
  /// When it was created.
  Clock::time_point created;
  /// When it leaves pending.
  Clock::time_point completes;
  /// Whether it ends in error.
  bool fails = false;
  /// Factor applied to the true remaining time to make eta_seconds.
  double eta_factor = 1.0;
  /// Status requests naming it.
  std::uint64_t looks = 0;
  /// When an answer first reported it terminal.
  std::optional<Clock::time_point> first_terminal_seen;
  /// heygen_v3: the create that made it (null in tracker mode).
  std::shared_ptr<const V3Order> order;
  /// heygen_v3: which of the order's output languages it translates into.
  std::size_t language = 0;
  /// Where its final status is pushed; null when the create named no callback_url.
  std::shared_ptr<const Callback> callback;
  /// When a push of its final status was first answered 2xx.
  std::optional<Clock::time_point> push_delivered;
};

/// A job's status as one answer reports it.
struct JobView {
  /// Reported state.
  JobState state = JobState::pending;
  /// Fraction of its duration elapsed, in [0, 1].
  double progress = 0;
  /// Estimated seconds until it leaves pending.
  double eta_s = 0;
};

/// What a v3 create came to: the ids it made (or replayed), or why it made none.
struct V3Created {
  /// The jobs' ids, one per output language; empty when refused.
  std::vector<std::string> ids;
  /// Over the concurrency limit: whole seconds until enough running jobs have ended (0: not refused so).
  int retry_after_s = 0;
  /// More languages than the concurrency limit allows at all.
  bool too_many = false;
  /// The store is full (max_jobs).
  bool full = false;
};

/// Counters behind StatsTotals.
struct Counters {
  /// See StatsTotals.
  std::uint64_t create_requests = 0, idempotent_replays = 0, status_requests = 0, job_status_looks = 0,
                batch_requests = 0;
  /// Injected faults by kind.
  FaultCounts faults;
};

/// An injected fault, as decided for one request.
enum class Fault { none, fail_5xx, throttle, unavailable, drop, malformed, drop_after_commit };

/// The fault replaces the answer entirely (no job looked at, nothing created).
inline bool fault_preempts(Fault f) noexcept {
  return f == Fault::fail_5xx || f == Fault::throttle || f == Fault::unavailable || f == Fault::drop;
}

/// The counter of one kind of fault; null for `none`.
inline std::uint64_t* fault_counter(FaultCounts& counts, Fault f) noexcept {
  switch (f) {
    case Fault::fail_5xx: return &counts.fail_5xx;
    case Fault::throttle: return &counts.throttle;
    case Fault::unavailable: return &counts.unavailable;
    case Fault::drop: return &counts.drop;
    case Fault::malformed: return &counts.malformed;
    case Fault::drop_after_commit: return &counts.drop_after_commit;
    case Fault::none: break;
  }
  return nullptr;
}

}  // namespace heygen::sim::detail

#endif  // HEYGEN_SIM_JOBS_HPP
