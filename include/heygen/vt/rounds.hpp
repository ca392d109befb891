// Rounds: the take rules, and serving a take: per-job looks, many-status rounds.
#pragma once

#include "heygen/vt/schedule.hpp"
#include "heygen/vt/status_looks.hpp"
#include "heygen/vt/waits.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace heygen {

/// How often a job is looked at while its outcome is expected as a push (webhook): rarely, as a safety net.
struct SafetyPolling {
  Seconds interval{30.0};  ///< The shortest wait between looks.
  double age_ratio = 0.1;  ///< The wait grows with the job's age: at least this share of it.

  /// The wait before the next look at a job of `age`: a lost push is caught within this long of the job's end.
  [[nodiscard]] Seconds wait(Seconds age) const { return std::max(interval, age * age_ratio); }
};

/// A job a worker served and when it is due again (or, ended, goes back to be dropped).
using Due = std::pair<TimePoint, std::size_t>;

/// Told the id of each job a look found final, or a kept push ended, e.g. so a late push for it is known as a
/// duplicate.
using FinalHook = std::function<void(const std::string& job_id)>;

/// The rounds of looks: which take rule fits now, when a job is due, and the serving of what one worker took
/// (looks through StatusLooks, results settled into the waits). It starts no thread: a worker calls serve()
/// with the lock released; the rest runs under the lock.
template <Transport T, Clock C, Protocol P>
class Rounds {
 public:
  using Take = BulkSchedule::Take;  ///< How a worker takes jobs.

  /// Rounds looking through `looks` for the jobs in `shared`, served by `workers` workers; with `safety`, every
  /// job expects its outcome pushed and is looked at only as a safety net.
  Rounds(StatusLooks<T, C, P>& looks, PollerShared& shared, std::size_t workers, std::optional<SafetyPolling> safety,
         FinalHook on_final)
      : looks_(looks),
        shared_(shared),
        clock_(looks.sender().clock()),
        policy_(looks.rules().policy()),
        workers_(workers),
        safety_(safety),
        on_final_(std::move(on_final)) {}

  // ---- take rules (under the lock) ----

  /// Many-status looks when several jobs are watched and the server may have the endpoint; else one job a
  /// request, held by the server when each job can have a worker of its own.
  [[nodiscard]] Take take_mode() const {
    if (shared_.waits.jobs() > 1 && many_status_possible()) return Take::many_status;
    return per_job_polls_held() ? Take::one : Take::per_job;
  }

  /// The wait before a new job's first look: the rules', but no longer than the many-status interval while
  /// jobs share many-status rounds (a round is cheap, so jobs that end early are not left waiting).
  [[nodiscard]] Seconds first_wait() const {
    if (safety_) return safety_->wait(Seconds(0));
    const Seconds first = looks_.rules().first_wait();
    const bool rounds = shared_.waits.jobs() > 0 && many_status_possible() && policy_.many_status_interval > Seconds(0);
    return rounds ? std::min(first, policy_.many_status_interval) : first;
  }

  /// Most jobs one many-status request may name; 0: the server has no such request.
  [[nodiscard]] std::size_t many_status_limit() const { return looks_.protocol().many_status_limit(); }

  /// Queues `job` for its next look (joining a round, while jobs share many-status rounds), or sooner when a
  /// wait's deadline comes first. Returns when it is due.
  TimePoint queue(WatchedJob& job) {
    TimePoint look = job.next_look;
    if (job.hinted)  // at once, joining no round; a flood of hints gets one look per min_interval
      look = std::max(clock_.now(), job.hint_not_before);
    else if (take_mode() == Take::many_status)
      look = shared_.schedule.on_round(look, clock_.now());
    const TimePoint due = std::min(look, earliest_deadline(job));
    shared_.schedule.push(due, job.slot);
    return due;
  }

  /// Notes that a worker took `job` at `now`: a look a hint asked for is now under way, and the next hint is looked
  /// at no sooner than min_interval from now. Under the lock.
  void note_taken(WatchedJob& job, TimePoint now) {
    job.confirming = std::exchange(job.hinted, false);
    if (job.confirming) job.hint_not_before = now + detail::to_clock(policy_.min_interval);
  }

  // ---- serving (unlocked) ----

  /// Serves the `jobs` a worker took in `mode`: each pending job goes to `later` with its next due time, each
  /// ended one with now. Nothing thrown here (bad_alloc, say) escapes: the jobs end with the error instead.
  /// Returns how many per-job looks it made: once looking since `started` has taken longer than the take
  /// window (the server slowed down), the rest go back for other workers.
  std::size_t serve(const std::vector<WatchedJob*>& jobs, Take mode, std::vector<Due>& later,
                    TimePoint started) noexcept {
    std::size_t looked = 0;
    try {
      std::vector<WatchedJob*> live = still_watched(jobs, mode, later);
      if (mode == Take::many_status) {
        serve_round(live, later);
        return 0;
      }
      const auto window = detail::to_clock(policy_.min_interval);
      for (; looked < live.size(); ++looked) {
        if (looked > 0 && clock_.now() - started > window) break;
        serve_one(*live[looked], mode == Take::one, later);
      }
      for (std::size_t rest = looked; rest < live.size(); ++rest) later.push_back({clock_.now(), live[rest]->slot});
    } catch (const std::exception& e) {
      fail_all(jobs, later, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      fail_all(jobs, later, "unexpected exception");
    }
    return looked;
  }

  /// Ends `job` with a final result: every open wait gets it, and the job goes back to be dropped.
  void finish(WatchedJob& job, TranslationResult result, std::vector<Due>& later) noexcept {
    std::vector<Watch> ended;
    {
      std::lock_guard lock(shared_.mutex);
      ended = shared_.waits.end_all(job);
      job.settled = true;
      shared_.waits.unindex(job);
    }
    later.push_back({clock_.now(), job.slot});
    const bool from_server = result.ok() || result.cause == FailureCause::job_failed;
    if (from_server && on_final_) on_final_(job.call.job_id);
    deliver_all(looks_.sender().log(), job.call.job_id, ended, std::move(result));
  }

 private:
  /// Each job gets its own long poll, which the server may hold: only while every job can have a worker of its
  /// own and one worker stays free for jobs that arrive meanwhile. Under the lock.
  [[nodiscard]] bool per_job_polls_held() const {
    // A caller capped below its number of jobs could not have them all held: they would wait behind each other.
    return shared_.waits.jobs() < workers_ && !shared_.waits.caps_tight() && policy_.long_poll > Seconds(0) &&
           looks_.rules().profile().long_poll() != Support::no;
  }

  /// The server may have a many-status endpoint, and jobs will not hold long polls of their own instead.
  [[nodiscard]] bool many_status_possible() const {
    return looks_.protocol().many_status_limit() > 0 && looks_.rules().profile().batch() != Support::no &&
           !per_job_polls_held();
  }

  /// Claims a worker for a look the server may hold: at most all workers but one hold looks at once, so jobs
  /// that arrive meanwhile always find a worker. None while pushes are expected: a safety look only checks.
  bool claim_hold() {
    if (safety_) return false;
    if (held_.fetch_add(1) + 1 < workers_) return true;
    held_.fetch_sub(1);
    return false;
  }

  /// The taken jobs that still need a look now: waits past their deadline end `timeout` first; a job nobody
  /// waits for any more, or taken early only for a wait's deadline, goes back without a look.
  std::vector<WatchedJob*> still_watched(const std::vector<WatchedJob*>& jobs, Take mode, std::vector<Due>& later) {
    std::vector<WatchedJob*> live;
    live.reserve(jobs.size());
    std::vector<std::pair<WatchedJob*, std::vector<Watch>>> timed_out;
    {
      std::lock_guard lock(shared_.mutex);
      const TimePoint now = clock_.now();
      const TimePoint horizon = shared_.schedule.horizon(now, mode);
      for (WatchedJob* job : jobs) {
        std::vector<Watch> ended;
        shared_.waits.expire(*job, now, ended);
        if (!ended.empty()) timed_out.emplace_back(job, std::move(ended));
        // Taken for a wait's deadline, not for a look (a look a hint asked for is never early).
        const bool early = !job->confirming && job->next_look > horizon;
        if (job->watches.empty() || job->settled || early)
          later.push_back({job->next_look, job->slot});
        else
          live.push_back(job);
      }
    }
    for (auto& [job, ended] : timed_out) {
      const TranslationResult result = looks_.finish(
          job->call, failed(Failure{FailureCause::deadline, looks_.sender().deadline_message(job->call)}));
      deliver_all(looks_.sender().log(), job->call.job_id, ended, result);
    }
    return live;
  }

  /// Ends every job of the take with the error. `later` is emptied: the jobs are ended, and go back to be
  /// dropped, not requeued.
  void fail_all(const std::vector<WatchedJob*>& jobs, std::vector<Due>& later, const std::string& message) noexcept {
    later.clear();
    for (WatchedJob* job : jobs) finish(*job, failed(Failure{FailureCause::transport, message}), later);
  }

  /// One look at one job, exactly as a single wait would take it; a pending job goes to `later`.
  void serve_one(WatchedJob& job, bool may_hold, std::vector<Due>& later) {
    const bool hold_claimed = may_hold && claim_hold();
    const Seconds hold =
        hold_claimed ? looks_.rules().long_poll_budget(Seconds(soonest_deadline(job) - clock_.now())) : Seconds(0);
    const int before = job.call.requests;
    const TimePoint asked = hold_claimed ? clock_.now() : TimePoint{};  // a clock read per look is not free
    Look look = looks_.look(job.call, hold);
    if (hold_claimed) held_.fetch_sub(1);
    shared_.requests += static_cast<std::uint64_t>(job.call.requests - before);
    ++shared_.job_looks;
    if (job.confirming) {
      ++shared_.hint_looks;
      if (look.result.status != TranslationStatus::pending) ++shared_.hints_confirmed;
    }
    const bool held = hold_claimed && look.result.status == TranslationStatus::pending &&
                      looks_.rules().long_poll_held(hold, Seconds(clock_.now() - asked));
    settle_look(job, look, held, Take::per_job, later);
  }

  /// A many-status round: the jobs a hint asked about are looked at alone (that look also carries what a job
  /// produced, which a many-status answer may not), the rest share one request.
  void serve_round(const std::vector<WatchedJob*>& live, std::vector<Due>& later) {
    std::vector<WatchedJob*> shared;
    shared.reserve(live.size());
    for (WatchedJob* job : live)
      if (job->confirming)
        serve_one(*job, false, later);
      else
        shared.push_back(job);
    if (!shared.empty()) serve_many(shared, later);
  }

  /// The earliest deadline of the job's open waits (read under the lock: other threads add waits).
  TimePoint soonest_deadline(const WatchedJob& job) {
    std::lock_guard lock(shared_.mutex);
    return std::min(earliest_deadline(job), job.call.deadline);
  }

  /// One many-status look for the due jobs; falls back to per-job looks when the server has no such endpoint.
  void serve_many(const std::vector<WatchedJob*>& live, std::vector<Due>& later) {
    CallState call = looks_.sender().begin("batch", shared_.stop_source.get_token());
    std::vector<const std::string*> ids;
    ids.reserve(live.size());
    for (WatchedJob* job : live) {
      call.deadline = std::min(call.deadline, soonest_deadline(*job));
      ids.push_back(&job->call.job_id);
    }
    const bool hold_claimed = claim_hold();
    const Seconds hold =
        hold_claimed ? looks_.rules().long_poll_budget(Seconds(call.deadline - clock_.now())) : Seconds(0);
    const TimePoint asked = clock_.now();
    OrFailure<ManyLook> answer = looks_.look_many(ids, call, hold);
    if (hold_claimed) held_.fetch_sub(1);
    shared_.requests += static_cast<std::uint64_t>(call.requests);
    shared_.job_looks += live.size();
    for (WatchedJob* job : live) {
      job->call.requests += call.requests;
      if (call.last_http_status) job->call.last_http_status = call.last_http_status;
    }
    if (!answer) return many_failed(live, answer.failure(), later);
    if (answer->unusable) return fall_back(live, *answer->unusable, later);
    read_many(live, answer.value(), hold, Seconds(clock_.now() - asked), later);
  }

  /// A many-status request got no answer: the jobs whose waits ran out of time end, the rest look again soon
  /// (a wait ends by its own deadline, as a single wait's would, not by a failure of a request it shared).
  void many_failed(const std::vector<WatchedJob*>& live, const Failure& failure, std::vector<Due>& later) {
    for (WatchedJob* job : live) {
      if (failure.cause != FailureCause::deadline || clock_.now() >= soonest_deadline(*job))
        finish(*job, looks_.finish(job->call, failed(failure)), later);
      else
        later.push_back({clock_.now() + detail::to_clock(policy_.min_interval), job->slot});
    }
  }

  /// No many-status endpoint (404/405), or one we cannot read: remember, and look at these jobs one by one.
  void fall_back(const std::vector<WatchedJob*>& live, const Failure& failure, std::vector<Due>& later) {
    looks_.rules().profile().set_batch(Support::no);
    looks_.sender().log()(LogLevel::info,
                          [&] { return "server has no usable many-status endpoint (" + failure.message + ")"; });
    for (WatchedJob* job : live) later.push_back({clock_.now(), job->slot});
  }

  /// Settles each job of a many-status answer; a job the server left out is looked at again shortly.
  void read_many(const std::vector<WatchedJob*>& live, ManyLook& answer, Seconds hold, Seconds took,
                 std::vector<Due>& later) {
    looks_.rules().profile().set_batch(Support::yes);
    std::unordered_map<std::string_view, StatusAnswer*> by_id;
    bool any_final = false;
    for (auto& [id, status] : answer.answers) {
      by_id.emplace(id, &status);
      any_final = any_final || status.status != TranslationStatus::pending;
    }
    // A held answer that ended because some job finished says nothing new of the others: they go back to their
    // own schedule (asked again at once, each finish would cost a request for all of them). One that ran out its
    // hold with nothing finished is asked again by the next round.
    const bool held = hold > Seconds(0) && !any_final && looks_.rules().long_poll_held(hold, took);
    for (WatchedJob* job : live) {
      const auto found = by_id.find(job->call.job_id);
      if (found == by_id.end()) {
        later.push_back({clock_.now() + detail::to_clock(policy_.min_interval), job->slot});
        continue;
      }
      Look look{looks_.finish(job->call, StatusLooks<T, C, P>::from_answer(std::move(*found->second))),
                answer.retry_after};
      if (look.result.ok() && !many_status_has_outputs(looks_.protocol())) fetch_outputs(*job, look);
      settle_look(*job, look, held, Take::many_status, later);
    }
  }

  /// A job a many-status answer says completed, on a server whose many-status answers name no outputs (HeyGen's
  /// `/statuses`): one look of its own fetches what it produced. The job completed either way: a look that fails
  /// leaves the result completed, without outputs.
  void fetch_outputs(WatchedJob& job, Look& look) {
    const int before = job.call.requests;
    Look own = looks_.look(job.call, Seconds(0));
    shared_.requests += static_cast<std::uint64_t>(job.call.requests - before);
    if (own.result.ok()) look.result = std::move(own.result);
    look.result.requests = job.call.requests;
  }

  /// A final result ends the job; a pending one gets its next due time (never past its waits' deadlines).
  void settle_look(WatchedJob& job, Look& look, bool held, Take mode, std::vector<Due>& later) {
    auto wait = looks_.digest(job.call, job.poller, look, held);
    if (!wait || look.result.cause == FailureCause::cancelled) return finish(job, std::move(look.result), later);
    std::lock_guard lock(shared_.mutex);
    // Many-status rounds are cheap per job: the policy may ask for them more often than one job alone would look.
    // The bound holds for the last job of a round too, looked at alone, so the policy's lag bound is kept.
    if ((mode == Take::many_status || many_status_possible()) && policy_.many_status_interval > Seconds(0))
      *wait = std::min(*wait, policy_.many_status_interval);
    if (safety_) *wait = std::max(*wait, safety_->wait(looks_.sender().age(job.call)));
    // plan() touches only this job's slot, which no other thread reads while this worker holds the job.
    later.push_back({shared_.schedule.plan(job.slot, clock_.now(), *wait, job.call.deadline), job.slot});
  }

  static TranslationResult failed(Failure failure) { return StatusLooks<T, C, P>::failed(std::move(failure)); }

  StatusLooks<T, C, P>& looks_;
  PollerShared& shared_;
  C& clock_;
  const PollPolicy& policy_;
  const std::size_t workers_;
  const std::optional<SafetyPolling> safety_;
  const FinalHook on_final_;
  std::atomic<std::size_t> held_{0};  // looks in flight that the server may hold
};

}  // namespace heygen
