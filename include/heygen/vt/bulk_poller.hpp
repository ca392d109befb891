// The bulk poller: a fixed pool of workers serving the schedule.
#pragma once

#include "heygen/vt/job_poller.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/schedule.hpp"
#include "heygen/vt/status_looks.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace heygen {

/// The map bulk calls return: job id → result.
using ResultMap = std::map<std::string, TranslationResult>;

/// One bulk wait: jobs ordered by next-due time, served by a fixed pool of `limit` workers (the calling thread is
/// one of them; never a thread per job). Each job keeps its own deadline and polling state, as a single wait
/// would. When the server has a many-status endpoint, due jobs share one request, long-polled when it holds them.
template <Transport T, Clock C, Protocol P>
class BulkRun {
 public:
  /// A run over distinct `ids`, at most `limit` requests in flight; `on_result` gets each result as it is known.
  BulkRun(StatusLooks<T, C, P>& looks, const std::vector<std::string>& ids, std::size_t limit, std::stop_token stop,
          BulkCallback on_result)
      : looks_(looks),
        clock_(looks.sender().clock()),
        policy_(looks.rules().policy()),
        stop_(std::move(stop)),
        on_result_(std::move(on_result)),
        limit_(limit),
        schedule_(ids.size(), policy_.min_interval, policy_.coalesce, policy_.many_status_interval) {
    // A held per-job long poll occupies a worker: only worth it when every job has one.
    per_job_long_poll_ = ids.size() <= limit_;
    const Seconds first = first_wait(ids.size());
    jobs_.reserve(ids.size());
    for (const auto& id : ids) {
      Job job{looks.sender().begin(id, stop_), JobPoller(first), {}, false};
      schedule_.push(job.call.start + detail::to_clock(first), jobs_.size());
      jobs_.push_back(std::move(job));
    }
    remaining_ = jobs_.size();
  }

  /// Runs the workers until every job has a result or the caller cancels; the rest are marked cancelled.
  ResultMap execute() {
    const std::size_t workers = std::min(limit_, jobs_.size());
    {
      std::vector<std::jthread> helpers;
      helpers.reserve(workers > 0 ? workers - 1 : 0);
      for (std::size_t i = 1; i < workers; ++i) helpers.emplace_back([this] { work(); });
      if (workers > 0) work();
    }
    for (std::size_t i = 0; i < jobs_.size(); ++i)
      if (!jobs_[i].done) end_job(i, Failure{FailureCause::cancelled, detail::cancelled_message});
    ResultMap out;
    for (auto& job : jobs_) out.emplace(std::move(job.call.job_id), std::move(job.result));
    return out;
  }

 private:
  struct Job {
    CallState call;
    JobPoller poller;
    TranslationResult result;
    bool done = false;
  };
  using Due = std::pair<TimePoint, std::size_t>;

  /// One worker: take what is due, serve it, repeat. Only the worker that holds the timer sleeps until the
  /// next due time; the others wait to be notified, so idle workers do not all wake for one job.
  void work() {
    std::vector<std::size_t> taken;  // reused: a worker takes work thousands of times
    std::vector<Due> later;          // what the worker served and must look at again
    std::unique_lock lock(mutex_);
    while (remaining_ > 0 && !stop_.stop_requested()) {
      // Requeued here, under the lock the loop takes anyway, rather than locking once more per job.
      for (const Due& entry : later) schedule_.push(entry.first, entry.second);
      later.clear();
      const TimePoint when = schedule_.next_due();
      if (when == TimePoint::max() || (when > clock_.now() && when >= timer_until_)) {
        work_ready_.wait(lock, stop_, [&] { return remaining_ == 0 || changed_; });
        changed_ = false;
        continue;
      }
      if (when > clock_.now()) {
        if (!sleep_as_timer(lock, when)) break;
        continue;
      }
      schedule_.take(clock_.now(), take_mode(), looks_.protocol().many_status_limit(), taken);
      serve_unlocked(lock, taken, later);
    }
    changed_ = true;  // leaving (done or cancelled): let the others see it too
    work_ready_.notify_all();
  }

  /// Holds the timer: sleeps unlocked until `when`; false when cancelled.
  bool sleep_as_timer(std::unique_lock<std::mutex>& lock, TimePoint when) {
    timer_until_ = when;
    lock.unlock();
    const bool awake = clock_.sleep_until(when, stop_);
    lock.lock();
    if (timer_until_ == when) timer_until_ = TimePoint::max();
    return awake;
  }

  /// Serves what the worker took, with the lock released meanwhile. Going busy, it hands on what is left (more
  /// due work, or the timer nobody holds) to one idle worker. Requeues never notify: the worker that requeued
  /// loops back and takes the earliest job itself.
  void serve_unlocked(std::unique_lock<std::mutex>& lock, const std::vector<std::size_t>& taken,
                      std::vector<Due>& later) {
    const bool hand_on =
        !schedule_.empty() && (schedule_.next_due() <= clock_.now() || timer_until_ == TimePoint::max());
    if (hand_on) changed_ = true;
    const bool per_job = !batching();
    lock.unlock();
    // Notified after unlocking: a woken worker that preempted us would only block on the lock we hold.
    if (hand_on) work_ready_.notify_one();
    const TimePoint started = clock_.now();
    const std::size_t looked = serve(taken, later, started);
    const Seconds took(clock_.now() - started);
    lock.lock();
    if (per_job) schedule_.note_look_time(took, looked);
  }

  /// The wait before every job's first look: the rules', but no longer than the many-status interval when `jobs`
  /// will share many-status rounds (a round is cheap, so jobs that end early are not left waiting).
  Seconds first_wait(std::size_t jobs) const {
    const Seconds first = looks_.rules().first_wait();
    const bool rounds = jobs > 1 && many_status_possible() && policy_.many_status_interval > Seconds(0);
    return rounds ? std::min(first, policy_.many_status_interval) : first;
  }

  /// The server may have a many-status endpoint, and jobs will not hold long polls of their own instead.
  bool many_status_possible() const {
    return looks_.protocol().many_status_limit() > 0 && looks_.rules().profile().batch() != Support::no &&
           !per_job_polls_held();
  }

  /// Many-status looks when the server may have the endpoint, unless every job can hold its own long poll
  /// (one request per job, answered the moment it finishes, beats rounds that end at every finish).
  bool batching() const { return jobs_.size() > 1 && many_status_possible(); }

  /// Each job gets its own long poll, which the server may hold (so a look can block until the job ends).
  bool per_job_polls_held() const {
    return per_job_long_poll_ && policy_.long_poll > Seconds(0) && looks_.rules().profile().long_poll() != Support::no;
  }

  BulkSchedule::Take take_mode() const {
    if (batching()) return BulkSchedule::Take::many_status;
    return per_job_polls_held() ? BulkSchedule::Take::one : BulkSchedule::Take::per_job;
  }

  /// Serves what a worker took; nothing thrown here (bad_alloc, say) may escape a worker thread, so the jobs
  /// it held end with the error instead. Returns how many per-job looks it made: once looking since `started`
  /// has taken longer than the take window (the server slowed down), the rest go back for other workers.
  std::size_t serve(const std::vector<std::size_t>& taken, std::vector<Due>& later, TimePoint started) noexcept {
    std::size_t looked = 0;
    try {
      if (batching()) {
        serve_many(taken, later);
        return 0;
      }
      const auto window = detail::to_clock(policy_.min_interval);
      for (; looked < taken.size(); ++looked) {
        if (looked > 0 && clock_.now() - started > window) break;
        serve_one(taken[looked], later);
      }
      for (std::size_t rest = looked; rest < taken.size(); ++rest) later.push_back({clock_.now(), taken[rest]});
    } catch (const std::exception& e) {
      fail_all(taken, later, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      fail_all(taken, later, "unexpected exception");
    }
    return looked;
  }

  /// Ends every job of the take that has no result yet with the error. `later` holds only this take's requeues,
  /// and those jobs are ended now, so it is emptied: nothing ended goes back to the queue.
  void fail_all(const std::vector<std::size_t>& taken, std::vector<Due>& later, const std::string& message) noexcept {
    for (std::size_t i : taken)
      if (!jobs_[i].done) finish_job(i, StatusLooks<T, C, P>::failed(FailureCause::transport, message));
    later.clear();
  }

  /// One look at one job, exactly as a single wait would take it; a pending job goes to `later`.
  void serve_one(std::size_t i, std::vector<Due>& later) {
    Job& job = jobs_[i];
    if (clock_.now() >= job.call.deadline) return time_out(i);
    const Seconds hold =
        per_job_long_poll_ ? looks_.rules().long_poll_budget(Seconds(job.call.deadline - clock_.now())) : Seconds(0);
    const TimePoint asked = clock_.now();
    Look look = looks_.look(job.call, hold);
    const bool held = look.result.status == TranslationStatus::pending &&
                      looks_.rules().long_poll_held(hold, Seconds(clock_.now() - asked));
    if (auto next = settle(i, look, held)) later.push_back(*next);
  }

  /// One many-status look for the due jobs; falls back to per-job looks when the server has no such endpoint.
  void serve_many(const std::vector<std::size_t>& taken, std::vector<Due>& later) {
    std::vector<std::size_t> live;
    for (std::size_t i : taken)
      if (clock_.now() >= jobs_[i].call.deadline)
        time_out(i);
      else
        live.push_back(i);
    if (live.empty()) return;
    CallState call = looks_.sender().begin("batch", stop_);
    std::vector<const std::string*> ids;
    ids.reserve(live.size());
    for (std::size_t i : live) {
      call.deadline = std::min(call.deadline, jobs_[i].call.deadline);
      ids.push_back(&jobs_[i].call.job_id);
    }
    const Seconds hold = looks_.rules().long_poll_budget(Seconds(call.deadline - clock_.now()));
    const TimePoint asked = clock_.now();
    OrFailure<ManyLook> answer = looks_.look_many(ids, call, hold);
    for (std::size_t i : live) {
      jobs_[i].call.requests += call.requests;
      if (call.last_http_status) jobs_[i].call.last_http_status = call.last_http_status;
    }
    if (!answer) {
      for (std::size_t i : live) end_job(i, answer.failure());
      return;
    }
    if (answer->unusable) return fall_back(live, *answer->unusable, later);
    read_many(live, answer.value(), hold, Seconds(clock_.now() - asked), later);
  }

  /// No many-status endpoint (404/405), or one we cannot read: remember, and look at these jobs one by one.
  void fall_back(const std::vector<std::size_t>& live, const Failure& failure, std::vector<Due>& later) {
    looks_.rules().profile().set_batch(Support::no);
    looks_.sender().log()(LogLevel::info,
                          [&] { return "server has no usable many-status endpoint (" + failure.message + ")"; });
    for (std::size_t i : live) later.push_back({clock_.now(), i});
  }

  /// Settles each job of a many-status answer; a job the server left out is looked at again shortly.
  void read_many(const std::vector<std::size_t>& live, ManyLook& answer, Seconds hold, Seconds took,
                 std::vector<Due>& later) {
    looks_.rules().profile().set_batch(Support::yes);
    std::map<std::string_view, StatusAnswer*> by_id;
    bool any_final = false;
    for (auto& [id, status] : answer.answers) {
      by_id.emplace(id, &status);
      any_final = any_final || status.status != TranslationStatus::pending;
    }
    const bool held = hold > Seconds(0) && (any_final || looks_.rules().long_poll_held(hold, took));
    // A many-status long poll ends as soon as one job finishes; asking again at once for the rest would cost a
    // request per finish. A short pause gathers the next finishes into one answer (lag ≤ the pause).
    const Seconds gather = any_final ? policy_.min_interval * 2.0 : Seconds(0);
    for (std::size_t i : live) {
      const auto found = by_id.find(jobs_[i].call.job_id);
      if (found == by_id.end()) {
        later.push_back({clock_.now() + detail::to_clock(policy_.min_interval), i});
        continue;
      }
      Look look{looks_.finish(jobs_[i].call, StatusLooks<T, C, P>::from_answer(std::move(*found->second))),
                answer.retry_after};
      if (look.result.ok() && !many_status_has_outputs(looks_.protocol())) fetch_outputs(i, look);
      if (auto next = settle(i, look, held, gather)) later.push_back(*next);
    }
  }

  /// A job a many-status answer says completed, on a server whose many-status answers name no outputs (HeyGen's
  /// `/statuses`): one look of its own fetches what it produced. The job completed either way: a look that fails
  /// leaves the result completed, without outputs.
  void fetch_outputs(std::size_t i, Look& look) {
    Look own = looks_.look(jobs_[i].call, Seconds(0));
    if (own.result.ok()) look.result = std::move(own.result);
    look.result.requests = jobs_[i].call.requests;
  }

  /// A final result ends the job; a pending one gets its next due time (never past its deadline).
  std::optional<Due> settle(std::size_t i, Look& look, bool held, Seconds gather = Seconds(0)) {
    Job& job = jobs_[i];
    auto wait = looks_.digest(job.call, job.poller, look, held);
    if (!wait || look.result.cause == FailureCause::cancelled) {
      finish_job(i, std::move(look.result));
      return std::nullopt;
    }
    // Many-status rounds are cheap per job: the policy may ask for them more often than one job alone would look.
    if (batching() && policy_.many_status_interval > Seconds(0)) *wait = std::min(*wait, policy_.many_status_interval);
    *wait = std::max(*wait, gather);
    // Unlocked: plan() touches only this job's entry, and no other worker holds this job until it is requeued.
    return Due{schedule_.plan(i, clock_.now(), *wait, job.call.deadline), i};
  }

  void time_out(std::size_t i) {
    end_job(i, Failure{FailureCause::deadline, looks_.sender().deadline_message(jobs_[i].call)});
  }

  void end_job(std::size_t i, Failure failure) {
    finish_job(i, looks_.finish(jobs_[i].call, StatusLooks<T, C, P>::failed(std::move(failure))));
  }

  /// Records a job's result and hands it to the caller's callback (serialized, exceptions contained).
  void finish_job(std::size_t i, TranslationResult&& result) {
    std::size_t done = 0;
    {
      std::lock_guard lock(mutex_);
      if (jobs_[i].done) return;
      jobs_[i].result = std::move(result);
      jobs_[i].done = true;
      --remaining_;
      done = jobs_.size() - remaining_;
      if (remaining_ == 0) work_ready_.notify_all();
    }
    if (!on_result_) return;
    std::lock_guard lock(callback_mutex_);
    deliver(jobs_[i].call.job_id, jobs_[i].result, BulkProgress{done, jobs_.size()});
  }

  /// Hands a result to the caller's callback; what it throws is logged, never propagated into a worker.
  void deliver(const std::string& job_id, const TranslationResult& result, BulkProgress progress) const noexcept {
    try {
      on_result_(job_id, result, progress);
    } catch (const std::exception& e) {
      looks_.sender().log()(LogLevel::error, [&] { return "job " + job_id + ": result callback threw: " + e.what(); });
    } catch (...) {
      looks_.sender().log()(LogLevel::error, [&] { return "job " + job_id + ": result callback threw"; });
    }
  }

  StatusLooks<T, C, P>& looks_;
  C& clock_;
  const PollPolicy& policy_;
  std::stop_token stop_;
  BulkCallback on_result_;
  std::size_t limit_;
  std::vector<Job> jobs_;
  std::mutex mutex_;  // guards the schedule, remaining_ and each job's done/result
  std::condition_variable_any work_ready_;
  BulkSchedule schedule_;
  std::size_t remaining_ = 0;
  TimePoint timer_until_ = TimePoint::max();  // when the worker holding the timer wakes; max: nobody holds it
  bool changed_ = false;                      // the queue changed since a waiting worker last looked
  bool per_job_long_poll_ = false;
  std::mutex callback_mutex_;  // callbacks run one at a time
};

}  // namespace heygen
