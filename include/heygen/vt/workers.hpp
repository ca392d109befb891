// Workers: the poller's threads, the timer, taking due jobs and putting them back.
#pragma once

#include "heygen/vt/rounds.hpp"
#include "heygen/vt/waits.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <utility>
#include <vector>

namespace heygen {

/// A fixed pool of worker threads, started at the first wait: each takes what is due, serves it through the
/// rounds, and puts it back. Only the worker that holds the timer sleeps until the next due time; the others wait
/// to be notified, so idle workers do not all wake for one job.
template <Transport T, Clock C, Protocol P>
class Workers {
 public:
  /// `count` workers (at least one) serving the jobs of `shared` through `rounds`.
  Workers(Rounds<T, C, P>& rounds, PollerShared& shared, C& clock, std::size_t count)
      : rounds_(rounds), shared_(shared), clock_(clock), count_(std::max<std::size_t>(count, 1)) {}

  /// Starts the pool, once. Under the lock.
  void start() {
    if (!threads_.empty()) return;
    threads_.reserve(count_);
    for (std::size_t i = 0; i < count_; ++i) threads_.emplace_back([this] { work(); });
  }

  /// Makes sure a worker will look at the queue by `earliest`, the soonest of the jobs just queued: the worker
  /// holding the timer is woken when it would sleep past it, an idle worker only when nobody holds the timer. A
  /// job due after the timer's wake-up wakes nobody (the timer's holder sees it then), so jobs watched one at a
  /// time do not each wake a worker for nothing. Under the lock.
  void wake_for(TimePoint earliest) {
    if (earliest == TimePoint::max()) return;  // nothing queued: every job is held by a worker, which requeues it
    if (timer_until_ != TimePoint::max()) {
      if (earliest < timer_until_) timer_wake_.request_stop();
      return;
    }
    changed_ = true;
    work_ready_.notify_one();
  }

  /// Wakes every worker to see that the poller is stopping (shared.stopping is set) and hands over the threads,
  /// to join once the lock is released. Under the lock.
  std::vector<std::jthread> release() {
    timer_wake_.request_stop();
    work_ready_.notify_all();
    return std::move(threads_);
  }

  /// Workers running (0 until the first wait). Under the lock.
  [[nodiscard]] std::size_t running() const noexcept { return threads_.size(); }

 private:
  using Take = BulkSchedule::Take;

  /// What one worker took, to serve unlocked: the jobs, how, and the caps it counts against.
  struct Taken {
    std::vector<WatchedJob*> jobs;
    Take mode = Take::per_job;
    std::vector<std::shared_ptr<RequestCap>> caps;
  };

  /// One worker: take what is due, serve it, repeat.
  void work() {
    Taken taken;
    std::vector<std::size_t> slots;  // reused: a worker takes work thousands of times
    std::vector<Due> later;          // what the worker served and must look at again
    std::unique_lock lock(shared_.mutex);
    while (!shared_.stopping) {
      // Requeued here, under the lock the loop takes anyway, rather than locking once more per job.
      put_back(taken, later);
      const TimePoint when = shared_.schedule.next_due();
      const TimePoint now = clock_.now();
      if (when == TimePoint::max() || (when > now && when >= timer_until_)) {
        idle(lock);
        continue;
      }
      if (when > now) {
        sleep_as_timer(lock, when);
        continue;
      }
      take(now, slots, taken);
      if (taken.jobs.empty()) {  // every due job belongs to a caller at its cap: one of its workers comes back
        idle(lock);
        continue;
      }
      serve_unlocked(lock, taken, later);
    }
    put_back(taken, later);
  }

  /// Waits until the queue changes (or the poller stops). Under the lock.
  void idle(std::unique_lock<std::mutex>& lock) {
    work_ready_.wait(lock, [&] { return shared_.stopping || changed_; });
    changed_ = false;
  }

  /// Holds the timer: sleeps unlocked until `when`, or until a job due sooner arrives or the poller stops.
  void sleep_as_timer(std::unique_lock<std::mutex>& lock, TimePoint when) {
    std::stop_source wake;
    timer_wake_ = wake;
    timer_until_ = when;
    lock.unlock();
    {
      std::stop_callback forward(shared_.stop_source.get_token(), [&wake] { wake.request_stop(); });
      clock_.sleep_until(when, wake.get_token());
    }
    lock.lock();
    if (timer_until_ == when) timer_until_ = TimePoint::max();
  }

  /// Takes due jobs by the current take rule, passing over those whose caller is at its cap. Under the lock.
  /// When the job due first was hinted, the take is of hinted jobs alone, each looked at on its own: a hint then
  /// neither sends the jobs due soon in a many-status round early nor splits their next round in two.
  void take(TimePoint now, std::vector<std::size_t>& slots, Taken& taken) {
    const bool hints = shared_.waits.at(shared_.schedule.next_job()).hinted;
    if (!hints || !take_admitted(now, Take::per_job, true, slots, taken))
      take_admitted(now, rounds_.take_mode(), false, slots, taken);
  }

  /// Takes due jobs in `mode` (only hinted ones when `hinted_only`), passing over those whose caller is at its cap;
  /// true when it took any. Under the lock.
  bool take_admitted(TimePoint now, Take mode, bool hinted_only, std::vector<std::size_t>& slots, Taken& taken) {
    taken.mode = mode;
    taken.jobs.clear();
    taken.caps.clear();
    shared_.schedule.take(now, mode, rounds_.many_status_limit(), slots, [&](std::size_t slot) {
      const WatchedJob& job = shared_.waits.at(slot);
      return (!hinted_only || job.hinted) && admit(job, taken.caps);
    });
    for (std::size_t slot : slots) {
      WatchedJob& job = shared_.waits.at(slot);
      job.busy = true;
      job.call.deadline = job.deadline;  // the worker reads its own copy unlocked
      rounds_.note_taken(job, now);
      taken.jobs.push_back(&job);
    }
    return !taken.jobs.empty();
  }

  /// Whether a worker may take `job`: none of its callers is at its cap, counting each cap once per take (one
  /// worker has one request in flight at a time). Charges the caps it takes. Under the lock.
  static bool admit(const WatchedJob& job, std::vector<std::shared_ptr<RequestCap>>& charged) {
    auto counted = [&](const RequestCap* cap) {
      return std::any_of(charged.begin(), charged.end(), [&](const auto& c) { return c.get() == cap; });
    };
    for (const Watch& watch : job.watches)
      if (watch.cap && watch.cap->limit > 0 && !counted(watch.cap.get()) && watch.cap->in_flight >= watch.cap->limit)
        return false;
    for (const Watch& watch : job.watches)
      if (watch.cap && !counted(watch.cap.get())) {
        ++watch.cap->in_flight;
        charged.push_back(watch.cap);
      }
    return true;
  }

  /// Puts back what a worker served: pending jobs are requeued (or dropped when nobody waits any more), and its
  /// caps are released. Under the lock.
  void put_back(Taken& taken, std::vector<Due>& later) {
    for (const auto& cap : taken.caps) --cap->in_flight;
    taken.caps.clear();
    for (const auto& [when, slot] : later) {
      WatchedJob& job = shared_.waits.at(slot);
      job.busy = false;
      job.confirming = false;
      job.next_look = when;
      job.requests = job.call.requests;
      if (job.watches.empty() || job.settled || shared_.stopping)
        shared_.drop(job);
      else
        rounds_.queue(job);
    }
    later.clear();
    taken.jobs.clear();
  }

  /// Serves what the worker took, with the lock released meanwhile. Going busy, it hands on what is left (more
  /// due work, or the timer nobody holds) to one idle worker.
  void serve_unlocked(std::unique_lock<std::mutex>& lock, Taken& taken, std::vector<Due>& later) {
    const BulkSchedule& schedule = shared_.schedule;
    const bool hand_on = !schedule.empty() && (schedule.next_due() <= clock_.now() || timer_until_ == TimePoint::max());
    if (hand_on) changed_ = true;
    lock.unlock();
    // Notified after unlocking: a woken worker that preempted us would only block on the lock we hold.
    if (hand_on) work_ready_.notify_one();
    const TimePoint started = clock_.now();
    const std::size_t looked = rounds_.serve(taken.jobs, taken.mode, later, started);
    const Seconds took(clock_.now() - started);
    lock.lock();
    if (taken.mode != Take::many_status) shared_.schedule.note_look_time(took, looked);
  }

  Rounds<T, C, P>& rounds_;
  PollerShared& shared_;
  C& clock_;
  const std::size_t count_;
  // Guarded by the shared lock:
  std::condition_variable work_ready_;
  TimePoint timer_until_ = TimePoint::max();       // when the worker holding the timer wakes; max: nobody holds it
  std::stop_source timer_wake_{std::nostopstate};  // wakes the timer's holder early
  bool changed_ = false;                           // the queue changed since a waiting worker last looked
  std::vector<std::jthread> threads_;
};

}  // namespace heygen
