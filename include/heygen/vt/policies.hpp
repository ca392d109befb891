// Policies: what is retried and how long to back off; when to look again.
#pragma once

#include "heygen/vt/http.hpp"
#include "heygen/vt/profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>

namespace heygen {

/// What is retried and how long to back off after a failed request.
struct RetryPolicy {
  int max_retries = 15;          ///< Retries after a failure: a request is tried at most 1 + max_retries times.
  Seconds initial_backoff{0.5};  ///< Backoff ceiling after the first failure; doubles with each one in a row.
  /// Cap on the backoff ceiling. A server's Retry-After is honoured in full (to the deadline).
  Seconds max_backoff{30.0};

  /// True for failures worth another try: no answer (except an oversized body, a certificate that fails
  /// verification or a proxy that refuses the credentials: asking again gets the same), 408, 429 and 5xx.
  [[nodiscard]] static bool retryable(const HttpResponse& response) noexcept {
    if (!response.received())
      return response.error != TransportError::body_too_large && response.error != TransportError::tls &&
             response.error != TransportError::proxy;
    const int status = response.status;
    return status == 408 || status == 429 || status >= 500;
  }

  /// Full-jitter backoff after `failures` in a row: U(0, min(max_backoff, initial × 2^(failures-1))).
  [[nodiscard]] Seconds backoff(int failures, double uniform01) const noexcept {
    const double exponent = std::min(std::max(failures - 1, 0), 60);
    const double ceiling =
        std::min(max_backoff.count(), initial_backoff.count() * std::ldexp(1.0, static_cast<int>(exponent)));
    return Seconds(std::clamp(uniform01, 0.0, 1.0) * ceiling);
  }
};

/// Everything known when deciding the wait before the next look at a pending job.
struct PollContext {
  int looks = 0;                                ///< Pending answers so far in this call.
  Seconds age{0};                               ///< Time since tracking began (the job's age if just created).
  std::optional<Seconds> retry_after{};         ///< Server's Retry-After on the last pending answer.
  std::optional<Seconds> eta{};                 ///< Server's eta_seconds on the last answer.
  std::optional<Seconds> progress_remaining{};  ///< Time left, extrapolated from the progress rate.
  bool progress_seen = false;                   ///< The last answer had progress (a later look can rate it).
  int overdue_looks = 0;                        ///< Looks that found the job pending after hints said it was done.
  const DurationModel* learnt = nullptr;        ///< Earlier jobs' durations, when learning.
};

/// When to look again at a pending job. Best information first: the server's own hints (progress rate,
/// eta_seconds, Retry-After), then what earlier jobs on this server took, then a cold schedule. Long polls
/// (`?wait=`) replace all of this on servers that hold them. Every wait between looks is clamped to
/// [min_interval, max_interval], and by the caller to the deadline; an absurd hint never breaks it.
struct PollPolicy {
  /// The one trade-off: acceptable detection lag as a fraction of the job's age; also the share of learnt
  /// jobs one look may cover. Lower is quicker and costs more requests. Presets: 0.04 / 0.08 / 0.16 (long_jobs: 0.05).
  double lag_ratio = 0.08;
  Seconds initial_interval{2.0};  ///< Cold schedule: wait before the second look.
  double multiplier = 2.0;        ///< Cold schedule: growth of the wait per look.
  Seconds cold_cap{8.0};          ///< Cold schedule: cap of the growing wait (lag_ratio × age may exceed it).
  Seconds min_interval{0.05};     ///< Floor on any wait between looks.
  Seconds max_interval{120.0};    ///< Cap on any wait between looks.
  double jitter = 0.1;            ///< Cold waits are scaled by U(1 - jitter, 1): spreads herds, never past the cap.
  bool use_hints = true;          ///< Use Retry-After, eta_seconds and progress from pending answers.
  bool learn = true;              ///< Learn job durations and poll where jobs finish.
  std::size_t warm_after = 20;    ///< Durations needed before what was learnt is trusted.
  Seconds long_poll{30.0};        ///< `?wait=` asked of the server; zero disables long polling.
  /// Bulk only: a look due after a wait of at least 20 ticks is moved to the end of its tick, so the looks of
  /// many jobs fall together and a few wake-ups serve them (lag grows by at most a tick, ≤ 5 % of the wait).
  Seconds coalesce{0.05};
  /// Bulk only, on a server with a many-status endpoint: the longest a job waits between looks (zero: as long as
  /// it would alone). One request serves many jobs, so frequent rounds cost little: detection lag ≤ this. A round
  /// takes every job due within this time, so the jobs of a bulk wait fall into step and share each request.
  Seconds many_status_interval{0};

  /// Quick detection, more requests: lag ≈ 4 % of the job's age, cold looks at most 4 s apart.
  static PollPolicy low_latency() { return with_ratio(0.04, Seconds(4.0)); }
  /// The default: lag ≈ 8 % of the job's age, cold looks at most 8 s apart.
  static PollPolicy balanced() { return with_ratio(0.08, Seconds(8.0)); }
  /// Fewer requests, later detection: lag ≈ 16 % of the job's age, cold looks at most 16 s apart.
  static PollPolicy low_cost() { return with_ratio(0.16, Seconds(16.0)); }
  /// Jobs of minutes (HeyGen's translations): looks at most 30 s apart, 4 s doubling cold, every 5 % of jobs warm.
  static PollPolicy long_jobs() {
    // Tuned with bench/polling's heygen-like workload (480 s × exp(N(0, 0.5))) against HeyGen's CLI (2 s doubling
    // to 30 s, × U(0.75, 1.25)): cold, as many requests as the CLI and a lower lag p95; warm, 13 requests a job
    // and a lag p95 under 30 s; 1,000 jobs through the many-status endpoint, well under a request a job.
    // One learnt look per 5 % of jobs: ~30 s apart where most jobs end. Cold: 4, 8, 16, then 30 s (the CLI's cap;
    // nothing that takes minutes ends in 2 s).
    PollPolicy policy = with_ratio(0.05, Seconds(30.0));
    policy.initial_interval = Seconds(4.0);
    // No wait past 30 s, whatever the job's age: the age rule would stretch the looks at late jobs (a third of
    // them run past 10 minutes) beyond 30 s, and their lag with it. The first look is not capped by it.
    policy.max_interval = Seconds(30.0);
    // A many-status look takes every job due within 2 × min_interval: 4 s gathers jobs created together, whose
    // jittered 30 s waits end within 3 s of each other, into one request. Never a look sooner than 2 s.
    policy.min_interval = Seconds(2.0);
    // Tracked together through a many-status endpoint, rounds every 8 s: 100 jobs share a request, so a job's
    // whole life costs well under one request, and lag stays under 8 s.
    policy.many_status_interval = Seconds(8.0);
    return policy;
  }

  /// Wait before the first look: none, unless what was learnt says no job finishes that early. It is no wait
  /// between looks, so max_interval does not cap it: jobs of minutes are first looked at where they start ending.
  [[nodiscard]] Seconds first_wait(const DurationModel* learnt) const {
    if (!learn || learnt == nullptr) return Seconds(0);
    const auto first = learnt->next_finish_after(Seconds(0), lag_ratio, warm_after);
    return first ? std::max(*first, min_interval) : Seconds(0);
  }

  /// Wait before the next look at a job that is still pending; `uniform01` is a U[0,1) draw for jitter.
  [[nodiscard]] Seconds next_wait(const PollContext& context, double uniform01) const {
    if (use_hints) {
      if (auto hinted = hinted_wait(context))
        return clamp_interval(std::max(*hinted, overdue_floor(context, uniform01)));
    }
    if (learn && context.learnt != nullptr)
      if (auto finish = context.learnt->next_finish_after(context.age, lag_ratio, warm_after)) {
        // Where finishes are sparse (a long tail) the next share is far away: the age rule bounds the lag.
        const Seconds bound = std::max(cold_cap, lag_ratio * context.age);
        return clamp_interval(std::min(*finish - context.age + settle(*finish - context.age), bound));
      }
    return cold_wait(context, uniform01);
  }

  /// The wait the server's hints suggest, if it sent any: the progress rate first, then eta, then Retry-After.
  [[nodiscard]] std::optional<Seconds> hinted_wait(const PollContext& context) const {
    if (context.progress_remaining) return *context.progress_remaining + settle(*context.progress_remaining);
    // With progress, a look halfway to the eta measures the progress rate, which beats the eta's own error.
    if (context.eta) return *context.eta * (context.progress_seen ? 0.5 : 0.8);
    return context.retry_after;
  }

  /// Hints that keep saying "done by now" (an eta stuck at 0) have proven wrong: back off from them
  /// exponentially, up to the cold schedule, rather than polling at the floor until the deadline.
  [[nodiscard]] Seconds overdue_floor(const PollContext& context, double uniform01) const {
    if (context.overdue_looks <= 0) return Seconds(0);
    const Seconds doubling = min_interval * std::ldexp(1.0, std::min(context.overdue_looks, 40));
    return std::min(doubling, cold_wait(context, uniform01));
  }

  /// The cold schedule: initial × multiplier^(looks-1) up to cold_cap, or lag_ratio × age when larger.
  [[nodiscard]] Seconds cold_wait(const PollContext& context, double uniform01) const {
    const double growth = std::pow(std::max(multiplier, 1.0), std::clamp(context.looks - 1, 0, 200));
    const double scheduled = std::min(initial_interval.count() * growth, cold_cap.count());
    const double base = std::max(scheduled, lag_ratio * context.age.count());
    const double spread = std::clamp(jitter, 0.0, 1.0);
    return clamp_interval(Seconds(base * (1.0 - spread * std::clamp(uniform01, 0.0, 1.0))));
  }

  /// Clamps any wait into [min_interval, max_interval]; NaN becomes the floor.
  [[nodiscard]] Seconds clamp_interval(Seconds wait) const noexcept {
    const double value = std::isnan(wait.count()) ? min_interval.count() : wait.count();
    return Seconds(std::clamp(value, min_interval.count(), std::max(min_interval.count(), max_interval.count())));
  }

 private:
  static PollPolicy with_ratio(double ratio, Seconds cap) {
    PollPolicy policy;
    policy.lag_ratio = ratio;
    policy.cold_cap = cap;
    return policy;
  }

  /// A little past a predicted finish, so the look lands after it rather than just before.
  static Seconds settle(Seconds until_finish) { return Seconds(0.02) + 0.01 * std::max(until_finish, Seconds(0)); }
};

}  // namespace heygen
