// Waits: who waits for which job and until when, kept pushes, handing results over.
#pragma once

#include "heygen/vt/job_poller.hpp"
#include "heygen/vt/log.hpp"
#include "heygen/vt/policies.hpp"
#include "heygen/vt/schedule.hpp"
#include "heygen/vt/sender.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace heygen {

/// The map bulk calls return: job id → result.
using ResultMap = std::map<std::string, TranslationResult>;

/// Where a watched job's result goes: called exactly once per watch, never under the poller's lock.
using WatchSink = std::function<void(const std::string& job_id, TranslationResult result)>;

/// A cap on the requests in flight for the jobs of one caller (a bulk call's concurrent_limit), shared by its
/// watches. Guarded by the poller's lock.
struct RequestCap {
  std::size_t limit = 0;      ///< Most workers serving this caller's jobs at once; 0: no cap.
  std::size_t in_flight = 0;  ///< Workers serving them now.
  std::size_t waits = 0;      ///< The caller's open waits.
};

/// Cancels a wait when its caller's stop token is triggered.
using StopListener = std::stop_callback<std::function<void()>>;

/// One caller's wait for a job.
struct Watch {
  std::uint64_t serial = 0;                 ///< Tells this wait from the job's others (for cancel).
  TimePoint deadline{};                     ///< When it ends `timeout`.
  WatchSink sink{};                         ///< Where its result goes.
  std::shared_ptr<RequestCap> cap{};        ///< Its caller's cap on requests in flight; may be empty.
  std::unique_ptr<StopListener> on_stop{};  ///< Ends it when its caller cancels; may be empty.
};

/// One job being watched, by one caller or several. Its waits, `busy` and `settled` are guarded by the poller's
/// lock; `call` and `poller` are touched outside it only by the worker holding the job.
struct WatchedJob {
  std::size_t slot = 0;          ///< Where the registry keeps it, and its key in the schedule.
  CallState call{};              ///< Its looks' state.
  JobPoller poller{};            ///< When to look again.
  std::vector<Watch> watches{};  ///< The waits still open.
  TimePoint deadline{};          ///< The latest of its waits' deadlines (copied into call when taken).
  TimePoint next_look{};         ///< When its next look is due.
  int requests = 0;              ///< Requests made for it, as of its last look (readable under the lock).
  bool busy = false;             ///< A worker holds it (it is off the queue).
  bool settled = false;          ///< Ended (by a look or a push); goes once no worker holds it.
  bool hinted = false;           ///< A push hinted that it ended: its next look is at once, and alone.
  bool confirming = false;       ///< The look its worker is serving was asked for by a hint (the worker's to read).
  TimePoint hint_not_before{};   ///< No look for a hint before this: one per min_interval, however many hints come.
};

/// The earliest deadline of `job`'s open waits.
inline TimePoint earliest_deadline(const WatchedJob& job) {
  TimePoint earliest = TimePoint::max();
  for (const Watch& watch : job.watches) earliest = std::min(earliest, watch.deadline);
  return earliest;
}

/// A result that says a wait was cancelled.
inline TranslationResult cancelled_result() {
  TranslationResult result;
  result.status = TranslationStatus::error;
  result.cause = FailureCause::cancelled;
  result.error_message = std::string(detail::cancelled_message);
  return result;
}

/// A result that says a wait for `job` was cancelled at `now`, with the requests made for it so far.
inline TranslationResult cancelled_result(const WatchedJob& job, TimePoint now) {
  TranslationResult result = cancelled_result();
  result.requests = job.requests;
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - job.call.start);
  return result;
}

/// Hands a result to a wait's sink; what it throws is logged, never propagated into a worker.
inline void deliver(const Logger& log, const std::string& job_id, const WatchSink& sink,
                    TranslationResult result) noexcept {
  if (!sink) return;
  try {
    sink(job_id, std::move(result));
  } catch (const std::exception& e) {
    log(LogLevel::error, [&] { return "job " + job_id + ": result callback threw: " + e.what(); });
  } catch (...) {
    log(LogLevel::error, [&] { return "job " + job_id + ": result callback threw"; });
  }
}

/// Hands `result` to every wait in `ended`, then destroys them (destroying a wait's stop listener may wait for its
/// cancel running on another thread: never under the poller's lock).
inline void deliver_all(const Logger& log, const std::string& job_id, std::vector<Watch>& ended,
                        TranslationResult result) noexcept {
  if (ended.empty()) return;
  for (std::size_t i = 0; i + 1 < ended.size(); ++i) deliver(log, job_id, ended[i].sink, result);
  deliver(log, job_id, ended.back().sink, std::move(result));
  ended.clear();
}

/// What pushes said of jobs nobody waited for yet (a push may beat the create's answer to the caller), kept for a
/// wait that begins later; the oldest forgotten first past a bound.
template <class Value>
class KeptForWaits {
 public:
  /// Keeps at most `limit` values.
  explicit KeptForWaits(std::size_t limit) : limit_(limit) {}

  /// Keeps `value` for `job_id`; a second push for the same job keeps the first.
  void keep(std::string job_id, Value value) {
    if (limit_ == 0 || kept_.contains(job_id)) return;
    if (order_.size() >= limit_) {
      kept_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(job_id);
    kept_.emplace(std::move(job_id), std::move(value));
  }

  /// Takes the value kept for `job_id`, if there is one.
  std::optional<Value> take(const std::string& job_id) {
    if (kept_.empty()) return std::nullopt;  // the usual case: no lookup, no hashing
    const auto found = kept_.find(job_id);
    if (found == kept_.end()) return std::nullopt;
    Value value = std::move(found->second);
    kept_.erase(found);
    std::erase(order_, job_id);
    return value;
  }

  /// How many values are kept.
  [[nodiscard]] std::size_t size() const noexcept { return kept_.size(); }

 private:
  std::size_t limit_;
  std::unordered_map<std::string, Value> kept_;
  std::deque<std::string> order_;  // oldest first
};

/// Outcomes pushed (and verified) before anyone waited for their job.
using KeptPushes = KeptForWaits<TranslationResult>;

/// Jobs a push hinted had ended (unverified) before anyone waited for them: their first look is at once.
using KeptHints = KeptForWaits<bool>;

/// The jobs being watched and their waits, by slot (the schedule's key) and by id; the count of open waits and of
/// callers whose cap holds their jobs back. Not thread-safe: the poller calls it under its lock.
class WaitRegistry {
 public:
  /// The job watched under `job_id`, or null.
  WatchedJob* find(std::string_view job_id) {
    const auto found = by_id_.find(job_id);
    return found == by_id_.end() ? nullptr : slots_[found->second].get();
  }

  /// The job in `slot` (which must hold one).
  WatchedJob& at(std::size_t slot) { return *slots_[slot]; }

  /// Starts watching the job `call` is about, in a free slot; its first look is for the caller to plan.
  WatchedJob& add_job(CallState call) {
    std::size_t slot = slots_.size();
    if (free_.empty()) {
      slots_.emplace_back();
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    auto job = std::make_unique<WatchedJob>();
    job->slot = slot;
    job->call = std::move(call);
    job->deadline = job->call.start;
    by_id_.emplace(job->call.job_id, slot);
    slots_[slot] = std::move(job);
    return *slots_[slot];
  }

  /// Adds a wait to `job`, whose deadline becomes the latest of its waits'.
  void add_watch(WatchedJob& job, Watch watch) {
    job.deadline = std::max(job.deadline, watch.deadline);
    note_started(watch.cap.get());
    job.watches.push_back(std::move(watch));
  }

  /// Takes the wait `serial` off `job`, if it is still open.
  std::optional<Watch> end_watch(WatchedJob& job, std::uint64_t serial) {
    const auto at = std::find_if(job.watches.begin(), job.watches.end(),
                                 [&](const Watch& watch) { return watch.serial == serial; });
    if (at == job.watches.end()) return std::nullopt;
    Watch ended = std::move(*at);
    job.watches.erase(at);
    note_ended(ended);
    return ended;
  }

  /// Takes every open wait off `job`, to deliver to (and destroy) after unlocking.
  std::vector<Watch> end_all(WatchedJob& job) {
    for (const Watch& watch : job.watches) note_ended(watch);
    return std::exchange(job.watches, {});
  }

  /// Takes the waits on `job` whose deadline has passed by `now` into `timed_out`.
  void expire(WatchedJob& job, TimePoint now, std::vector<Watch>& timed_out) {
    for (auto at = job.watches.begin(); at != job.watches.end();) {
      if (at->deadline > now) {
        ++at;
        continue;
      }
      note_ended(*at);
      timed_out.push_back(std::move(*at));
      at = job.watches.erase(at);
    }
  }

  /// Takes `job` out of the index by id, so a later wait for the same id starts a fresh job.
  void unindex(const WatchedJob& job) {
    const auto found = by_id_.find(job.call.job_id);
    if (found != by_id_.end() && found->second == job.slot) by_id_.erase(found);
  }

  /// Forgets `job` (no wait is open, no worker holds it); its slot is reused.
  void forget(WatchedJob& job) {
    unindex(job);
    const std::size_t slot = job.slot;
    free_.push_back(slot);
    slots_[slot].reset();
  }

  /// Calls `visit(job)` for every job held.
  template <class Visit>
  void for_each(Visit&& visit) {
    for (auto& slot : slots_)
      if (slot) visit(*slot);
  }

  /// Distinct jobs being watched (a job whose waits all ended stays counted until its worker puts it back).
  [[nodiscard]] std::size_t jobs() const noexcept { return by_id_.size(); }
  /// Waits open.
  [[nodiscard]] std::size_t watches() const noexcept { return watches_; }
  /// Whether some caller has more open waits than its cap lets be in flight.
  [[nodiscard]] bool caps_tight() const noexcept { return tight_caps_ > 0; }

 private:
  void note_started(RequestCap* cap) {
    ++watches_;
    if (cap && cap->limit > 0 && ++cap->waits == cap->limit + 1) ++tight_caps_;
  }

  void note_ended(const Watch& watch) {
    --watches_;
    RequestCap* cap = watch.cap.get();
    if (cap && cap->limit > 0 && cap->waits-- == cap->limit + 1) --tight_caps_;
  }

  std::vector<std::unique_ptr<WatchedJob>> slots_;  // a job per slot; empty slots are reused
  std::vector<std::size_t> free_;
  std::unordered_map<std::string_view, std::size_t> by_id_;  // job id (viewing the job's own copy) → slot
  std::size_t watches_ = 0;
  std::size_t tight_caps_ = 0;
};

/// What the poller's parts share: one lock and what it guards (the waits, the schedule of their jobs' looks and
/// the pushes kept for waits not begun), and the counts of what was sent.
struct PollerShared {
  /// Shared state for a poller under `policy`.
  explicit PollerShared(const PollPolicy& policy)
      : schedule(0, policy.min_interval, policy.coalesce, policy.many_status_interval) {}

  /// Forgets `job` (no wait is open, no worker holds it): nothing of it stays behind. Under the lock.
  void drop(WatchedJob& job) {
    schedule.erase(job.slot);
    waits.forget(job);
  }

  static constexpr std::size_t max_kept = 10000;  ///< Pushed outcomes kept for waits not begun yet.

  mutable std::mutex mutex;                       ///< Guards every member below but the atomics.
  WaitRegistry waits;                             ///< The jobs watched and their waits.
  BulkSchedule schedule;                          ///< When each job is looked at next.
  KeptPushes kept{max_kept};                      ///< Outcomes pushed before anyone waited.
  KeptHints kept_hints{max_kept};                 ///< Jobs hinted ended before anyone waited.
  bool stopping = false;                          ///< The poller is stopping: no new waits, workers end.
  std::stop_source stop_source;                   ///< Stops the workers' sleeps and requests at shutdown.
  std::atomic<std::uint64_t> requests{0};         ///< Status requests sent (a many-status request counts once).
  std::atomic<std::uint64_t> job_looks{0};        ///< Jobs looked at (a many-status request: once per job).
  std::atomic<std::uint64_t> hint_looks{0};       ///< Looks a hint asked for (each also counts in job_looks).
  std::atomic<std::uint64_t> hints_confirmed{0};  ///< Looks a hint asked for that found the job ended.
};

}  // namespace heygen
