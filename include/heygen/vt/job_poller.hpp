// The job poller: one job's polling state machine, no I/O.
#pragma once

#include "heygen/vt/clock.hpp"
#include "heygen/vt/policies.hpp"
#include "heygen/vt/profile.hpp"
#include "heygen/vt/result.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <utility>

namespace heygen {

/// What every job of one client polls by: the policy, what was learnt about the server (updated as answers
/// arrive) and a source of U[0,1) draws. Shared by all jobs; thread-safe (the profile is).
class PollingRules {
 public:
  /// Rules from a policy, the server's profile and a random source (tests pin it).
  PollingRules(const PollPolicy& policy, ServerProfile& profile, std::function<double()> uniform)
      : policy_(policy), profile_(profile), uniform_(std::move(uniform)) {}

  /// Wait before the first look: none when the server will say more than the schedule knows (it holds long
  /// polls, or sends hints); else where jobs start finishing.
  [[nodiscard]] Seconds first_wait() const {
    if (policy_.long_poll > Seconds(0) && profile_.long_poll() == Support::yes) return Seconds(0);
    if (policy_.use_hints && profile_.hints() == Support::yes) return Seconds(0);
    return policy_.first_wait(learnt());
  }

  /// How long to ask the server to hold a look, given the time left before the deadline: the policy's long
  /// poll, unless the server ignores it or the deadline is too near to be worth it.
  [[nodiscard]] Seconds long_poll_budget(Seconds time_left) const {
    const Seconds wanted = policy_.long_poll;
    if (wanted <= Seconds(0) || profile_.long_poll() == Support::no) return Seconds(0);
    const Seconds left = time_left - Seconds(1);
    return left >= Seconds(1) ? std::min(wanted, left) : Seconds(0);
  }

  /// Whether a pending answer to a long poll of `asked` that took `took` was held; one that came back well
  /// before the hold tells us the server ignores `wait`. Remembered in the profile.
  bool long_poll_held(Seconds asked, Seconds took) const {
    if (asked <= Seconds(0)) return false;
    const bool held = took >= asked * 0.5;
    profile_.set_long_poll(held ? Support::yes : Support::no);
    return held;
  }

  /// Remembers whether the server sends hints (progress, eta, Retry-After) on pending answers.
  void note_hints(const TranslationResult& result, const std::optional<Seconds>& retry_after) const {
    const bool hinted = result.progress || result.eta_seconds || retry_after;
    if (hinted)
      profile_.set_hints(Support::yes);
    else if (profile_.hints() == Support::unknown && result.status == TranslationStatus::pending)
      profile_.set_hints(Support::no);
  }

  /// The policy.
  [[nodiscard]] const PollPolicy& policy() const noexcept { return policy_; }
  /// What was learnt about the server.
  [[nodiscard]] ServerProfile& profile() const noexcept { return profile_; }
  /// Earlier jobs' durations, when the policy learns.
  [[nodiscard]] const DurationModel* learnt() const { return policy_.learn ? &profile_.durations() : nullptr; }
  /// A U[0,1) draw.
  [[nodiscard]] double uniform() const { return uniform_(); }

 private:
  PollPolicy policy_;
  ServerProfile& profile_;
  std::function<double()> uniform_;
};

/// The polling state of one job: what its earlier looks saw. Given each answer, it says whether the job is
/// done or how long to wait before the next look. A single wait and the bulk poller run this same code.
class JobPoller {
 public:
  /// A job whose first look comes after `first_wait`.
  explicit JobPoller(Seconds first_wait = Seconds(0)) : first_wait_(first_wait) {}

  /// Digests one answer given at `age` (time since tracking began): learns from it, and returns the wait
  /// before the next look, or nothing when the result is final. `held`: the answer came from a long poll the
  /// server held, so the next look can go at once.
  std::optional<Seconds> after_answer(const PollingRules& rules, const TranslationResult& result,
                                      const std::optional<Seconds>& retry_after, bool held, Seconds age) {
    rules.note_hints(result, retry_after);
    if (result.status != TranslationStatus::pending) {
      learn_duration(rules, result, age);
      return std::nullopt;
    }
    note_pending(age, result.progress, held);
    ++looks_;
    return held ? Seconds(0) : next_wait(rules, age, result, retry_after);
  }

  /// Pending answers so far.
  [[nodiscard]] int looks() const noexcept { return looks_; }
  /// The wait before the first look.
  [[nodiscard]] Seconds first_wait() const noexcept { return first_wait_; }

 private:
  struct ProgressSample {
    Seconds age{0};
    double progress = 0;
  };

  void note_pending(Seconds age, std::optional<double> progress, bool held) {
    last_pending_ = age;
    looked_pending_ = true;
    last_held_ = held;
    if (predicting_ && age >= predicted_finish_) ++overdue_looks_;
    if (!progress) return;
    previous_ = latest_;
    latest_ = {age, *progress};
    ++progress_samples_;
  }

  /// Time left, extrapolated from the progress rate between the last two answers that carried progress.
  [[nodiscard]] std::optional<Seconds> progress_remaining() const {
    if (progress_samples_ < 2) return std::nullopt;
    const double rate = (latest_.progress - previous_.progress) / (latest_.age - previous_.age).count();
    if (!std::isfinite(rate) || rate <= 0.0) return std::nullopt;
    return Seconds((1.0 - latest_.progress) / rate);
  }

  Seconds next_wait(const PollingRules& rules, Seconds age, const TranslationResult& result,
                    const std::optional<Seconds>& retry_after) {
    PollContext context;
    context.looks = looks_;
    context.age = age;
    context.retry_after = retry_after;
    if (result.eta_seconds) context.eta = Seconds(*result.eta_seconds);
    context.progress_remaining = progress_remaining();
    context.progress_seen = result.progress.has_value();
    context.overdue_looks = overdue_looks_;
    context.learnt = rules.learnt();
    if (context.progress_remaining || context.eta) {
      predicted_finish_ = age + (context.progress_remaining ? *context.progress_remaining : *context.eta);
      predicting_ = true;
    }
    return rules.policy().next_wait(context, rules.uniform());
  }

  /// Remembers how long a finished job took. It finished between the last pending look and the answer that
  /// said it was done (exactly then after a held long poll); a point drawn uniformly in that interval, rather
  /// than its midpoint, keeps the learnt distribution smooth instead of clustered on past poll times.
  /// A job already done at an immediate first look teaches nothing: it may have finished long before. One done
  /// at a delayed first look finished before it: it is recorded a little earlier, so the model can move down
  /// when the server gets faster without smearing mass over ages where no job finishes.
  void learn_duration(const PollingRules& rules, const TranslationResult& result, Seconds answered_at) const {
    if (!rules.policy().learn || !result.job_finished()) return;
    if (!looked_pending_ && first_wait_ <= Seconds(0)) return;
    const Seconds before = looked_pending_ ? last_pending_ : answered_at * 0.8;
    rules.profile().durations().record(last_held_ ? answered_at : before + (answered_at - before) * rules.uniform());
  }

  int looks_ = 0;
  Seconds first_wait_{0};
  // Plain values with flags rather than optionals: g++ 12 misreads optional<duration> here as maybe-uninitialized.
  bool looked_pending_ = false;  // a look found the job pending
  Seconds last_pending_{0};      // age of the latest pending answer
  bool last_held_ = false;       // that answer came from a held long poll
  ProgressSample latest_{};      // the latest answer that carried progress
  ProgressSample previous_{};    // the one before it
  int progress_samples_ = 0;
  bool predicting_ = false;      // the server's hints predicted a finish
  Seconds predicted_finish_{0};  // age by which they said the job would be done
  int overdue_looks_ = 0;
};

}  // namespace heygen
