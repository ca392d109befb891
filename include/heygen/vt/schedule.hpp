// The poll schedule: due queue, take rule, coalescing. Pure: no threads.
#pragma once

#include "heygen/vt/clock.hpp"
#include "heygen/vt/detail.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace heygen {

/// Slots ordered by due time (ties by slot number): a binary min-heap that knows where each slot sits, so the
/// earliest is at hand and any slot moves or leaves in O(log n). A poller moves every job through it at every
/// look, so it allocates nothing per entry (a tree node each would).
class DueQueue {
 public:
  /// A queued slot and when it is due.
  using Entry = std::pair<TimePoint, std::size_t>;

  /// Queues `slot` at `when`, or moves it there when it is queued already.
  void push(TimePoint when, std::size_t slot) {
    if (slot >= place_.size()) place_.resize(slot + 1, npos);
    if (contains(slot)) {
      heap_[place_[slot]].first = when;
      restore(place_[slot]);
      return;
    }
    heap_.emplace_back(when, slot);
    sift_up(heap_.size() - 1);
  }

  /// Takes `slot` out (nothing happens when it is not queued).
  void erase(std::size_t slot) {
    if (!contains(slot)) return;
    const std::size_t at = place_[slot];
    place_[slot] = npos;
    const Entry last = heap_.back();
    heap_.pop_back();
    if (at == heap_.size()) return;  // it was the last entry
    put(at, last);
    restore(at);
  }

  /// True when `slot` is queued.
  [[nodiscard]] bool contains(std::size_t slot) const noexcept { return slot < place_.size() && place_[slot] != npos; }

  /// The earliest entry; the queue must not be empty.
  [[nodiscard]] const Entry& top() const { return heap_.front(); }

  /// True when nothing is queued.
  [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }

  /// Slots queued.
  [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// Moves the entry at `at` up or down to where its (changed) time belongs.
  void restore(std::size_t at) {
    if (at > 0 && heap_[at] < heap_[(at - 1) / 2])
      sift_up(at);
    else
      sift_down(at);
  }

  void sift_up(std::size_t at) {
    const Entry moving = heap_[at];
    while (at > 0 && moving < heap_[(at - 1) / 2]) {
      put(at, heap_[(at - 1) / 2]);
      at = (at - 1) / 2;
    }
    put(at, moving);
  }

  void sift_down(std::size_t at) {
    const Entry moving = heap_[at];
    for (std::size_t child = 2 * at + 1; child < heap_.size(); child = 2 * at + 1) {
      if (child + 1 < heap_.size() && heap_[child + 1] < heap_[child]) ++child;
      if (!(heap_[child] < moving)) break;
      put(at, heap_[child]);
      at = child;
    }
    put(at, moving);
  }

  void put(std::size_t at, const Entry& entry) {
    heap_[at] = entry;
    place_[entry.second] = at;
  }

  std::vector<Entry> heap_;
  std::vector<std::size_t> place_;  // slot → its index in heap_; npos when not queued
};

/// When each job is next due, and which jobs a worker takes at once. Jobs are numbered slots that may be
/// added, removed and reused at any time (a long-lived poller's jobs come and go). Every time is an argument,
/// so it runs on any clock (tests drive it with a fake one). Not thread-safe: the poller holds a lock.
class BulkSchedule {
 public:
  /// How a worker takes jobs: all due ones for one many-status request, several for one-by-one looks, or one
  /// at a time (each look may be held by the server for long).
  enum class Take { many_status, per_job, one };

  /// Most per-job looks one worker takes at once (a take also ends once its looks have taken min_interval):
  /// looks served back to back cost less CPU each than looks spread over many wake-ups (bench/poller).
  static constexpr std::size_t max_take = 256;

  /// Most queued jobs one take passes over because the caller would not admit them (a bulk call at its
  /// concurrency limit), so a take stays cheap however many such jobs wait.
  static constexpr std::size_t max_skipped = 64;

  /// A schedule for slots 0..jobs-1 (more are added on demand), with the policy's min_interval, coalescing tick
  /// and many-status interval.
  BulkSchedule(std::size_t jobs, Seconds min_interval, Seconds coalesce, Seconds many_status_interval = Seconds(0))
      : slots_(jobs),
        min_interval_(min_interval),
        coalesce_(coalesce),
        many_window_(std::max(min_interval * 2.0, many_status_interval)) {}

  /// Makes job `job` due at `when`; a job already queued moves there.
  void push(TimePoint when, std::size_t job) {
    if (job >= slots_.size()) slots_.resize(job + 1);
    due_.push(when, job);
  }

  /// Takes job `job` off the queue (nothing happens when it is not queued).
  void erase(std::size_t job) { due_.erase(job); }

  /// True when job `job` is queued.
  [[nodiscard]] bool queued(std::size_t job) const noexcept { return due_.contains(job); }

  /// The earliest due time; TimePoint::max() when nothing is queued.
  [[nodiscard]] TimePoint next_due() const { return due_.empty() ? TimePoint::max() : due_.top().first; }

  /// The job due first; the queue must not be empty.
  [[nodiscard]] std::size_t next_job() const { return due_.top().second; }

  /// True when nothing is queued.
  [[nodiscard]] bool empty() const noexcept { return due_.empty(); }

  /// Jobs queued.
  [[nodiscard]] std::size_t size() const noexcept { return due_.size(); }

  /// Fills `taken` with the earliest due job (the caller checked it is due) and, by the take rule, more:
  /// for a many-status request, every job due within two min_intervals (or the many-status interval, when
  /// longer: rounds then gather every pending job), up to `many_limit`; for per-job looks,
  /// the jobs due within one min_interval that are past their not-before time, as many as one worker can look
  /// at in that time (one wake-up serving many requests is what makes spread-out looks cheap).
  void take(TimePoint now, Take mode, std::size_t many_limit, std::vector<std::size_t>& taken) {
    take(now, mode, many_limit, taken, [](std::size_t) { return true; });
  }

  /// take(), passing over (leaving queued) the due jobs `admit` refuses.
  template <class Admit>
  void take(TimePoint now, Take mode, std::size_t many_limit, std::vector<std::size_t>& taken, Admit&& admit) {
    taken.clear();
    const bool many = mode == Take::many_status;
    const TimePoint ahead = horizon(now, mode);
    if (many) last_round_ = now;
    const std::size_t most = many ? many_limit : mode == Take::one ? 1 : looks_within(min_interval_);
    passed_.clear();  // jobs `admit` refused: off the queue while the take looks past them, then back
    while (!due_.empty() && taken.size() < most && passed_.size() <= max_skipped) {
      const auto [when, job] = due_.top();
      const bool first = taken.empty() && passed_.empty();  // the caller checked it is due
      if (!first && when > ahead) break;
      if (!first && !many && slots_[job].not_before > now) break;  // a per-job look taken too early
      due_.erase(job);
      if (admit(job))
        taken.push_back(job);
      else
        passed_.emplace_back(when, job);
    }
    for (const auto& [when, job] : passed_) due_.push(when, job);
  }

  /// The latest due time a take in `mode` at `now` reaches ahead to.
  [[nodiscard]] TimePoint horizon(TimePoint now, Take mode) const {
    return now + detail::to_clock(mode == Take::many_status ? many_window_ : min_interval_);
  }

  /// `due` for a job that shares many-status rounds. A job due now (a new one, say) joins a round at once unless
  /// one went out within the last round window, and else the next one: so jobs arriving one by one share a round
  /// a window instead of sending a request each, and wait at most one window for it. A later due time is kept:
  /// the round that comes for it takes every job due within a window of it.
  [[nodiscard]] TimePoint on_round(TimePoint due, TimePoint now) const {
    if (due > now || !last_round_) return due;
    const TimePoint next_round = *last_round_ + detail::to_clock(many_window_);
    return next_round > now ? next_round : due;
  }

  /// When job `job` is next due after a look at `now` that asks to wait `wait`: coalesced onto its tick when
  /// the wait is long, never past `deadline`. Sets the earliest time a worker may take it ahead of schedule: at
  /// most a fifth of its wait early (and at most min_interval), so the min_interval floor between looks holds.
  TimePoint plan(std::size_t job, TimePoint now, Seconds wait, TimePoint deadline) {
    if (job >= slots_.size()) slots_.resize(job + 1);
    const Seconds early = std::min(min_interval_, wait / 5.0);
    const TimePoint due =
        wait >= Seconds(deadline - now) ? deadline : std::min(coalesced(now + detail::to_clock(wait), wait), deadline);
    slots_[job].not_before = std::min(now + detail::to_clock(wait - early), due);
    return due;
  }

  /// Folds the time a worker took for `looks` per-job looks into the running estimate.
  void note_look_time(Seconds took, std::size_t looks) {
    if (looks == 0 || !(took >= Seconds(0))) return;
    const Seconds each = took / static_cast<double>(looks);
    look_time_ = look_time_ <= Seconds(0) ? each : look_time_ * 0.8 + each * 0.2;
  }

  /// How many per-job looks fit in `window`, judged by how long looks have been taking, so a slow server
  /// spreads them over more workers instead of queueing them behind one.
  [[nodiscard]] std::size_t looks_within(Seconds window) const {
    return detail::looks_within(window, look_time_, max_take);
  }

  /// `due` moved to the end of its coalescing tick when the wait is at least 20 ticks (lag grows by at most a
  /// tick, ≤ 5 % of the wait), so the looks of many jobs fall together and a few wake-ups serve them.
  [[nodiscard]] TimePoint coalesced(TimePoint due, Seconds wait) const {
    if (coalesce_ <= Seconds(0) || wait < coalesce_ * 20.0) return due;
    const auto step = std::max(detail::to_clock(coalesce_), TimePoint::duration(1));
    const auto since_epoch = due.time_since_epoch();
    if (since_epoch.count() < 0 || since_epoch > TimePoint::duration::max() - step) return due;  // custom clocks
    const auto past = since_epoch % step;
    return past == TimePoint::duration::zero() ? due : due + (step - past);
  }

 private:
  struct Slot {
    TimePoint not_before{};  // a worker taking jobs ahead of time takes it no earlier
  };

  DueQueue due_;
  std::vector<DueQueue::Entry> passed_;  // reused by take(): a poller takes work thousands of times a second
  std::vector<Slot> slots_;
  Seconds min_interval_;
  Seconds coalesce_;
  Seconds many_window_;                  // a many-status round takes the jobs due within this
  std::optional<TimePoint> last_round_;  // when the latest many-status round was taken
  Seconds look_time_{0};                 // recent wall time of one per-job look; zero until measured
};

}  // namespace heygen
