// The poller: one long-lived scheduler and worker pool per client, serving every wait.
#pragma once

#include "heygen/vt/rounds.hpp"
#include "heygen/vt/status_looks.hpp"
#include "heygen/vt/waits.hpp"
#include "heygen/vt/workers.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace heygen {

/// What a poller is doing, for monitoring and benchmarks.
struct PollerStats {
  std::size_t workers = 0;            ///< Worker threads running (0 until the first wait).
  std::size_t jobs = 0;               ///< Distinct jobs being watched.
  std::size_t watches = 0;            ///< Waits outstanding.
  std::uint64_t requests = 0;         ///< Status requests sent (a many-status request counts once).
  std::uint64_t job_looks = 0;        ///< Jobs looked at (a many-status request counts once per job it names).
  std::uint64_t hint_looks = 0;       ///< Looks a hint asked for: pushes confirmed by a look (also in job_looks).
  std::uint64_t hints_confirmed = 0;  ///< Of those looks, the ones that found the job ended.
};

/// What became of a hint that a job ended.
enum class HintOutcome {
  looking,    ///< A look at the job is due at once (or after min_interval, when one just went out).
  coalesced,  ///< A look a hint asked for is due or under way already: this hint adds nothing.
  kept,       ///< Nobody waits for the job yet: its first look will be at once when a wait begins.
};

/// One long-lived poller: jobs ordered by next-due time, served by a fixed pool of workers started at the first
/// wait. Every wait of a client goes through it: futures, callbacks and bulk calls. A job watched by several
/// callers is polled once; due jobs of all callers share many-status requests where the server has them. Each
/// wait keeps its own deadline and cancellation. Stopping ends every wait `cancelled` and joins the workers.
/// Its rooms, each using only those after it: this facade (waits begun, cancelled, settled by a push, stopped),
/// the Workers (threads, timer, takes), the Rounds (serving a take) and the waits they share (PollerShared).
template <Transport T, Clock C, Protocol P>
class Poller {
 public:
  /// Told the id of each job a look found final, or a kept push ended.
  using FinalHook = heygen::FinalHook;

  /// A poller looking through `looks` with `workers` worker threads; `looks` must outlive it. With `safety`,
  /// every job expects its outcome pushed and is polled only as a safety net.
  Poller(StatusLooks<T, C, P>& looks, std::size_t workers, std::optional<SafetyPolling> safety = {},
         FinalHook on_final = {})
      : looks_(looks),
        clock_(looks.sender().clock()),
        on_final_(on_final),
        shared_(looks.rules().policy()),
        rounds_(looks, shared_, std::max<std::size_t>(workers, 1), safety, std::move(on_final)),
        workers_(rounds_, shared_, clock_, workers) {}

  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  /// Stops (see stop()).
  ~Poller() { stop(); }

  /// Watches `job_id` until `deadline` or until `stop` is triggered. `sink` gets the result exactly once: on a
  /// worker, on the thread that triggers `stop`, or here at once when the poller has stopped. Callable from any
  /// thread, from inside a sink too.
  void watch(std::string job_id, TimePoint deadline, std::stop_token stop, WatchSink sink,
             const std::shared_ptr<RequestCap>& cap = {}) {
    std::vector<std::string> ids;  // not {std::move(job_id)}: an initializer list would copy the id
    ids.push_back(std::move(job_id));
    watch_all(ids, deadline, std::move(stop), sink, cap);
  }

  /// watch() for every id of `job_ids` (distinct), each wait getting its result through a copy of `sink`. All
  /// are added at once, so their first looks fall together (one many-status request, where the server has it).
  void watch_all(const std::vector<std::string>& job_ids, TimePoint deadline, std::stop_token stop,
                 const WatchSink& sink, const std::shared_ptr<RequestCap>& cap = {}) {
    if (job_ids.empty()) return;
    const std::uint64_t first_serial = serial_.fetch_add(job_ids.size()) + 1;
    // Made before the waits are added (unlocked: one runs cancel() at once when stop was requested already); a
    // stop in between finds no wait to cancel, so the check after add_all() catches it.
    std::vector<std::unique_ptr<StopListener>> listeners;
    if (stop.stop_possible())
      for (std::size_t i = 0; i < job_ids.size(); ++i) listeners.push_back(listen(job_ids[i], first_serial + i, stop));
    std::optional<Pushed> pushed;
    if (!stop.stop_requested()) pushed = add_all(job_ids, first_serial, deadline, sink, cap, listeners);
    if (!pushed) {
      listeners.clear();
      for (const auto& id : job_ids) deliver(log(), id, sink, cancelled_result());
      return;
    }
    for (auto& [index, result] : *pushed) {
      if (!listeners.empty()) listeners[index].reset();
      if (on_final_) on_final_(job_ids[index]);
      deliver(log(), job_ids[index], sink, std::move(result));
    }
  }

  /// Ends every wait for `job_id` with `result` (an outcome the server pushed, verified by the caller): false
  /// when nobody waits for that job. A look in flight for it is ignored when it returns.
  bool settle(std::string_view job_id, TranslationResult result) {
    std::vector<Watch> ended;
    std::string id;
    {
      std::lock_guard lock(shared_.mutex);
      WatchedJob* job = shared_.waits.find(job_id);
      // A job whose waits all ended (timed out, cancelled) stays indexed until its worker puts it back: nobody
      // waits for it either.
      if (job == nullptr || job->watches.empty()) {
        shared_.kept.keep(std::string(job_id), std::move(result));
        return false;
      }
      result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - job->call.start);
      id = job->call.job_id;
      result.requests = job->requests;
      ended = shared_.waits.end_all(*job);
      job->settled = true;
      shared_.waits.unindex(*job);
      if (!job->busy) shared_.drop(*job);
      ++outside_deliveries_;
    }
    deliver_all(log(), id, ended, std::move(result));
    delivered_outside();
    return true;
  }

  /// A push hinted that `job_id` ended, unverified: its waits end on what one look, made at once, says, never on the
  /// hint. Hints for one job coalesce: one look they asked for at a time, and at most one per min_interval, so a
  /// flood of forged hints costs one look per job per min_interval and ends nothing.
  HintOutcome hint(std::string_view job_id) {
    std::lock_guard lock(shared_.mutex);
    WatchedJob* job = shared_.waits.find(job_id);
    if (job == nullptr || job->watches.empty()) {
      shared_.kept_hints.keep(std::string(job_id), true);
      return HintOutcome::kept;
    }
    if (job->hinted) return HintOutcome::coalesced;
    job->hinted = true;
    if (!job->busy) workers_.wake_for(rounds_.queue(*job));  // a busy job is queued when its worker puts it back
    return HintOutcome::looking;
  }

  /// Ends every outstanding wait with cause `cancelled`, stops the workers and joins them; no sink runs after it
  /// returns. Later waits end `cancelled` at once. Must not be called from a sink (a worker cannot join itself).
  void stop() noexcept {
    std::vector<std::tuple<std::string, TranslationResult, Watch>> ended;
    std::vector<std::jthread> threads;
    {
      std::lock_guard lock(shared_.mutex);
      shared_.stopping = true;
      shared_.waits.for_each([&](WatchedJob& job) {
        for (auto& watch : shared_.waits.end_all(job))
          ended.emplace_back(job.call.job_id, cancelled_result(job, clock_.now()), std::move(watch));
        if (!job.busy) shared_.drop(job);
      });
      threads = workers_.release();
    }
    shared_.stop_source.request_stop();
    for (auto& [id, result, watch] : ended) deliver(log(), id, watch.sink, std::move(result));
    ended.clear();  // a stop_callback's destructor waits for its cancel() running on another thread
    {
      std::unique_lock lock(shared_.mutex);
      outside_delivered_.wait(lock, [&] { return outside_deliveries_ == 0; });
    }
    threads.clear();
  }

  /// What the poller is doing now.
  [[nodiscard]] PollerStats stats() const {
    std::lock_guard lock(shared_.mutex);
    return {workers_.running(),       shared_.waits.jobs(),      shared_.waits.watches(),       shared_.requests.load(),
            shared_.job_looks.load(), shared_.hint_looks.load(), shared_.hints_confirmed.load()};
  }

 private:
  /// Results pushed before their wait began, by index into the ids being watched.
  using Pushed = std::vector<std::pair<std::size_t, TranslationResult>>;

  /// Adds a wait (serials from `first_serial` on) for each id and wakes a worker; nothing once stopping. An id
  /// whose outcome was pushed before anyone waited for it gets no wait: its result is returned, to deliver.
  std::optional<Pushed> add_all(const std::vector<std::string>& job_ids, std::uint64_t first_serial, TimePoint deadline,
                                const WatchSink& sink, const std::shared_ptr<RequestCap>& cap,
                                std::vector<std::unique_ptr<StopListener>>& listeners) {
    std::lock_guard lock(shared_.mutex);
    if (shared_.stopping) return std::nullopt;
    workers_.start();
    Pushed pushed;
    std::vector<WatchedJob*> added;
    added.reserve(job_ids.size());
    for (std::size_t i = 0; i < job_ids.size(); ++i) {
      if (auto early = shared_.kept.take(job_ids[i])) {
        pushed.emplace_back(i, std::move(*early));
        continue;
      }
      WatchedJob& job = job_for(job_ids[i]);
      if (shared_.kept_hints.take(job_ids[i])) job.hinted = true;
      shared_.waits.add_watch(
          job, Watch{first_serial + i, deadline, sink, cap, listeners.empty() ? nullptr : std::move(listeners[i])});
      if (!job.busy) added.push_back(&job);
    }
    // Queued once all are in, so every one is placed by the same take rule (a lone job is looked at alone).
    TimePoint earliest = TimePoint::max();
    for (WatchedJob* job : added) earliest = std::min(earliest, rounds_.queue(*job));
    workers_.wake_for(earliest);
    return pushed;
  }

  /// The job being watched under `job_id`, made (with its first look planned) when there is none. Under the lock.
  WatchedJob& job_for(const std::string& job_id) {
    if (WatchedJob* found = shared_.waits.find(job_id)) return *found;
    const Seconds first = rounds_.first_wait();
    WatchedJob& job = shared_.waits.add_job(looks_.sender().begin(job_id, shared_.stop_source.get_token()));
    job.poller = JobPoller(first);
    job.next_look = shared_.schedule.plan(job.slot, job.call.start, first, TimePoint::max());
    return job;
  }

  /// Calls cancel() for the wait `serial` when `stop` is triggered.
  std::unique_ptr<StopListener> listen(const std::string& job_id, std::uint64_t serial, std::stop_token stop) {
    return std::make_unique<StopListener>(
        std::move(stop), std::function<void()>([this, job_id, serial] { cancel(std::string(job_id), serial); }));
  }

  /// Ends the wait `serial` for `job_id` as cancelled (its caller's stop was triggered). Takes the id by value:
  /// destroying the wait's stop_callback destroys the lambda that called this.
  void cancel(std::string job_id, std::uint64_t serial) {
    std::optional<Watch> ended;
    TranslationResult result;
    {
      std::lock_guard lock(shared_.mutex);
      WatchedJob* job = shared_.waits.find(job_id);
      if (job == nullptr) return;
      ended = shared_.waits.end_watch(*job, serial);
      if (!ended) return;
      result = cancelled_result(*job, clock_.now());
      if (job->watches.empty() && !job->busy) shared_.drop(*job);
      ++outside_deliveries_;
    }
    deliver(log(), job_id, ended->sink, std::move(result));
    delivered_outside();
  }

  /// A sink run outside the workers (by cancel() or settle()) has returned: stop() waits for these.
  void delivered_outside() {
    {
      std::lock_guard lock(shared_.mutex);
      --outside_deliveries_;
    }
    outside_delivered_.notify_all();
  }

  [[nodiscard]] const Logger& log() const noexcept { return looks_.sender().log(); }

  StatusLooks<T, C, P>& looks_;
  C& clock_;
  const FinalHook on_final_;
  std::atomic<std::uint64_t> serial_{0};
  PollerShared shared_;
  Rounds<T, C, P> rounds_;
  Workers<T, C, P> workers_;
  std::condition_variable outside_delivered_;
  std::size_t outside_deliveries_ = 0;  // sinks running on threads that are not workers (cancel, settle); locked
};

}  // namespace heygen
