// The poller: one long-lived scheduler and worker pool per client, serving every wait.
#pragma once

#include "heygen/vt/job_poller.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/schedule.hpp"
#include "heygen/vt/status_looks.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
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
#include <thread>
#include <tuple>
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

/// How often a job is looked at while its outcome is expected as a push (webhook): rarely, as a safety net.
struct SafetyPolling {
  Seconds interval{30.0};  ///< The shortest wait between looks.
  double age_ratio = 0.1;  ///< The wait grows with the job's age: at least this share of it.

  /// The wait before the next look at a job of `age`: a lost push is caught within this long of the job's end.
  [[nodiscard]] Seconds wait(Seconds age) const { return std::max(interval, age * age_ratio); }
};

/// What a poller is doing, for monitoring and benchmarks.
struct PollerStats {
  std::size_t workers = 0;      ///< Worker threads running (0 until the first wait).
  std::size_t jobs = 0;         ///< Distinct jobs being watched.
  std::size_t watches = 0;      ///< Waits outstanding.
  std::uint64_t requests = 0;   ///< Status requests sent (a many-status request counts once).
  std::uint64_t job_looks = 0;  ///< Jobs looked at (a many-status request counts once per job it names).
};

/// One long-lived poller: jobs ordered by next-due time, served by a fixed pool of workers started at the first
/// wait. Every wait of a client goes through it: futures, callbacks and bulk calls. A job watched by several
/// callers is polled once; due jobs of all callers share many-status requests where the server has them. Each
/// wait keeps its own deadline and cancellation. Stopping ends every wait `cancelled` and joins the workers.
template <Transport T, Clock C, Protocol P>
class Poller {
 public:
  /// Told the id of each job a look found final, or a kept push ended, e.g. so a late push for it is known as a
  /// duplicate.
  using FinalHook = std::function<void(const std::string& job_id)>;

  /// A poller looking through `looks` with `workers` worker threads; `looks` must outlive it. With `safety`,
  /// every job expects its outcome pushed and is polled only as a safety net.
  Poller(StatusLooks<T, C, P>& looks, std::size_t workers, std::optional<SafetyPolling> safety = {},
         FinalHook on_final = {})
      : looks_(looks),
        clock_(looks.sender().clock()),
        policy_(looks.rules().policy()),
        workers_wanted_(std::max<std::size_t>(workers, 1)),
        safety_(safety),
        on_final_(std::move(on_final)),
        schedule_(0, policy_.min_interval, policy_.coalesce, policy_.many_status_interval) {}

  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  /// Stops (see stop()).
  ~Poller() { stop(); }

  /// Watches `job_id` until `deadline` or until `stop` is triggered. `sink` gets the result exactly once: on a
  /// worker, on the thread that triggers `stop`, or here at once when the poller has stopped. Callable from any
  /// thread, from inside a sink too.
  void watch(std::string job_id, TimePoint deadline, std::stop_token stop, WatchSink sink,
             std::shared_ptr<RequestCap> cap = {}) {
    std::vector<std::string> ids{std::move(job_id)};
    watch_all(ids, deadline, std::move(stop), sink, std::move(cap));
  }

  /// watch() for every id of `job_ids` (distinct), each wait getting its result through a copy of `sink`. All
  /// are added at once, so their first looks fall together (one many-status request, where the server has it).
  void watch_all(const std::vector<std::string>& job_ids, TimePoint deadline, std::stop_token stop,
                 const WatchSink& sink, std::shared_ptr<RequestCap> cap = {}) {
    if (job_ids.empty()) return;
    const std::uint64_t first_serial = serial_.fetch_add(job_ids.size()) + 1;
    // Made before the waits are added (unlocked: one runs cancel() at once when stop was requested already); a
    // stop in between finds no wait to cancel, so the check after add_all() catches it.
    std::vector<std::unique_ptr<StopListener>> listeners;
    if (stop.stop_possible())
      for (std::size_t i = 0; i < job_ids.size(); ++i) listeners.push_back(listen(job_ids[i], first_serial + i, stop));
    std::optional<Pushed> pushed;
    if (!stop.stop_requested()) pushed = add_all(job_ids, first_serial, deadline, sink, std::move(cap), listeners);
    if (!pushed) {
      listeners.clear();
      for (const auto& id : job_ids) deliver(id, sink, cancelled());
      return;
    }
    for (auto& [index, result] : *pushed) {
      if (!listeners.empty()) listeners[index].reset();
      if (on_final_) on_final_(job_ids[index]);
      deliver(job_ids[index], sink, std::move(result));
    }
  }

  /// Ends every wait for `job_id` with `result` (an outcome the server pushed, verified by the caller): false
  /// when nobody waits for that job. A look in flight for it is ignored when it returns.
  bool settle(std::string_view job_id, TranslationResult result) {
    std::vector<Watch> ended;
    std::string id;
    {
      std::lock_guard lock(mutex_);
      const auto found = by_id_.find(job_id);
      // A job whose waits all ended (timed out, cancelled) stays indexed until its worker puts it back: nobody
      // waits for it either.
      if (found == by_id_.end() || slots_[found->second]->watches.empty()) {
        keep(std::string(job_id), std::move(result));
        return false;
      }
      Job& job = *slots_[found->second];
      result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - job.call.start);
      id = job.call.job_id;
      result.requests = job.requests;
      ended = take_watches(job);
      job.settled = true;
      unindex(job);
      if (!job.busy) drop(job);
      ++outside_deliveries_;
    }
    deliver_all(id, ended, std::move(result));
    delivered_outside();
    return true;
  }

  /// Ends every outstanding wait with cause `cancelled`, stops the workers and joins them; no sink runs after it
  /// returns. Later waits end `cancelled` at once. Must not be called from a sink (a worker cannot join itself).
  void stop() noexcept {
    std::vector<std::tuple<std::string, TranslationResult, Watch>> ended;
    std::vector<std::jthread> workers;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      for (auto& slot : slots_) {
        if (!slot) continue;
        for (auto& watch : take_watches(*slot))
          ended.push_back({slot->call.job_id, cancelled(*slot), std::move(watch)});
        if (!slot->busy) drop(*slot);
      }
      timer_wake_.request_stop();
      workers = std::move(workers_);
    }
    stop_source_.request_stop();
    work_ready_.notify_all();
    for (auto& [id, result, watch] : ended) deliver(id, watch.sink, std::move(result));
    ended.clear();  // a stop_callback's destructor waits for its cancel() running on another thread
    {
      std::unique_lock lock(mutex_);
      outside_delivered_.wait(lock, [&] { return outside_deliveries_ == 0; });
    }
    workers.clear();
  }

  /// What the poller is doing now.
  [[nodiscard]] PollerStats stats() const {
    std::lock_guard lock(mutex_);
    return {workers_.size(), by_id_.size(), watches_, requests_.load(), job_looks_.load()};
  }

 private:
  /// Cancels a wait when its caller's stop token is triggered.
  using StopListener = std::stop_callback<std::function<void()>>;

  /// One caller's wait for a job.
  struct Watch {
    std::uint64_t serial = 0;
    TimePoint deadline{};
    WatchSink sink{};
    std::shared_ptr<RequestCap> cap{};
    std::unique_ptr<StopListener> on_stop{};
  };

  /// One job being watched, by one caller or several.
  struct Job {
    std::size_t slot = 0;
    CallState call{};              // its looks' state; touched outside the lock only by the worker holding it
    JobPoller poller{};            // ditto
    std::vector<Watch> watches{};  // the waits still open
    TimePoint deadline{};          // the latest of its waits' deadlines (copied into call when taken)
    TimePoint next_look{};         // when its next look is due
    int requests = 0;              // requests made for it, as of its last look (readable under the lock)
    bool busy = false;             // a worker holds it (it is off the queue)
    bool settled = false;          // a push ended it while a worker held it
  };

  using Due = std::pair<TimePoint, std::size_t>;
  using Take = BulkSchedule::Take;

  // ---- adding and ending waits ----

  /// Results pushed before their wait began, by index into the ids being watched.
  using Pushed = std::vector<std::pair<std::size_t, TranslationResult>>;

  /// Adds a wait (serials from `first_serial` on) for each id and wakes a worker; nothing once stopping. An id
  /// whose outcome was pushed before anyone waited for it gets no wait: its result is returned, to deliver.
  std::optional<Pushed> add_all(const std::vector<std::string>& job_ids, std::uint64_t first_serial, TimePoint deadline,
                                const WatchSink& sink, std::shared_ptr<RequestCap> cap,
                                std::vector<std::unique_ptr<StopListener>>& listeners) {
    std::lock_guard lock(mutex_);
    if (stopping_) return std::nullopt;
    start_workers();
    Pushed pushed;
    std::vector<Job*> added;
    added.reserve(job_ids.size());
    for (std::size_t i = 0; i < job_ids.size(); ++i) {
      if (auto early = kept(job_ids[i])) {
        pushed.emplace_back(i, std::move(*early));
        continue;
      }
      Job& job = job_for(job_ids[i]);
      job.watches.push_back(
          Watch{first_serial + i, deadline, sink, cap, listeners.empty() ? nullptr : std::move(listeners[i])});
      job.deadline = std::max(job.deadline, deadline);
      note_started(cap.get());
      if (!job.busy) added.push_back(&job);
    }
    // Queued once all are in, so every one is placed by the same take rule (a lone job is looked at alone).
    TimePoint earliest = TimePoint::max();
    for (Job* job : added) earliest = std::min(earliest, queue(*job));
    wake_for(earliest);
    return pushed;
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

  /// Keeps a pushed outcome nobody waits for yet: its push may have beaten the create's answer to the caller.
  /// The oldest are forgotten past max_kept. Under the lock.
  void keep(std::string job_id, TranslationResult result) {
    if (kept_.contains(job_id)) return;
    if (kept_order_.size() >= max_kept) {
      kept_.erase(kept_order_.front());
      kept_order_.pop_front();
    }
    kept_order_.push_back(job_id);
    kept_.emplace(std::move(job_id), std::move(result));
  }

  /// Takes a kept pushed outcome for `job_id`, if there is one. Under the lock.
  std::optional<TranslationResult> kept(const std::string& job_id) {
    const auto found = kept_.find(job_id);
    if (found == kept_.end()) return std::nullopt;
    TranslationResult result = std::move(found->second);
    kept_.erase(found);
    std::erase(kept_order_, job_id);
    return result;
  }

  /// The job being watched under `job_id`, made (with its first look planned) when there is none.
  Job& job_for(const std::string& job_id) {
    if (const auto found = by_id_.find(job_id); found != by_id_.end()) return *slots_[found->second];
    std::size_t slot = slots_.size();
    if (free_.empty()) {
      slots_.emplace_back();
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    auto job = std::make_unique<Job>();
    job->slot = slot;
    job->call = looks_.sender().begin(job_id, stop_source_.get_token());
    job->deadline = job->call.start;
    const Seconds first = first_wait();
    job->poller = JobPoller(first);
    job->next_look = schedule_.plan(slot, job->call.start, first, TimePoint::max());
    by_id_.emplace(job->call.job_id, slot);
    slots_[slot] = std::move(job);
    return *slots_[slot];
  }

  /// The wait before a new job's first look: the rules', but no longer than the many-status interval while
  /// jobs share many-status rounds (a round is cheap, so jobs that end early are not left waiting).
  Seconds first_wait() const {
    if (safety_) return safety_->wait(Seconds(0));
    const Seconds first = looks_.rules().first_wait();
    const bool rounds = !by_id_.empty() && many_status_possible() && policy_.many_status_interval > Seconds(0);
    return rounds ? std::min(first, policy_.many_status_interval) : first;
  }

  /// Queues `job` for its next look (see on_round, while jobs share many-status rounds), or sooner when a
  /// wait's deadline comes first. Under the lock.
  TimePoint queue(Job& job) {
    TimePoint look = job.next_look;
    if (take_mode() == Take::many_status) look = schedule_.on_round(look, clock_.now());
    const TimePoint due = std::min(look, earliest_deadline(job));
    schedule_.push(due, job.slot);
    return due;
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
      std::lock_guard lock(mutex_);
      const auto found = by_id_.find(job_id);
      if (found == by_id_.end()) return;
      Job& job = *slots_[found->second];
      const auto at = std::find_if(job.watches.begin(), job.watches.end(),
                                   [&](const Watch& watch) { return watch.serial == serial; });
      if (at == job.watches.end()) return;
      ended = std::move(*at);
      job.watches.erase(at);
      note_ended(*ended);
      result = cancelled(job);
      if (job.watches.empty() && !job.busy) drop(job);
      ++outside_deliveries_;
    }
    deliver(job_id, ended->sink, std::move(result));
    delivered_outside();
  }

  /// A sink run outside the workers (by cancel() or settle()) has returned: stop() waits for these.
  void delivered_outside() {
    {
      std::lock_guard lock(mutex_);
      --outside_deliveries_;
    }
    outside_delivered_.notify_all();
  }

  /// Takes every open wait off `job`. Under the lock; the waits are delivered to and destroyed after unlocking.
  std::vector<Watch> take_watches(Job& job) {
    for (const Watch& watch : job.watches) note_ended(watch);
    return std::exchange(job.watches, {});
  }

  /// Counts a wait that ended. Under the lock.
  void note_ended(const Watch& watch) {
    --watches_;
    RequestCap* cap = watch.cap.get();
    if (cap && cap->limit > 0 && cap->waits-- == cap->limit + 1) --tight_caps_;
  }

  /// Counts a wait that started, and whether its caller's cap now holds its jobs back. Under the lock.
  void note_started(RequestCap* cap) {
    ++watches_;
    if (cap && cap->limit > 0 && ++cap->waits == cap->limit + 1) ++tight_caps_;
  }

  /// Forgets `job` (no wait is open, no worker holds it): nothing of it stays behind. Under the lock.
  void drop(Job& job) {
    schedule_.erase(job.slot);
    unindex(job);
    free_.push_back(job.slot);
    slots_[job.slot].reset();
  }

  /// Takes `job` out of the index by id, so a later wait for the same id starts a fresh job. Under the lock.
  void unindex(const Job& job) {
    const auto found = by_id_.find(job.call.job_id);
    if (found != by_id_.end() && found->second == job.slot) by_id_.erase(found);
  }

  /// Ends the waits on `job` whose deadline has passed; the caller delivers `timed_out`. Under the lock.
  void expire(Job& job, TimePoint now, std::vector<Watch>& timed_out) {
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

  /// The earliest deadline of `job`'s open waits. Under the lock.
  static TimePoint earliest_deadline(const Job& job) {
    TimePoint earliest = TimePoint::max();
    for (const Watch& watch : job.watches) earliest = std::min(earliest, watch.deadline);
    return earliest;
  }

  // ---- the workers ----

  /// Starts the pool at the first wait. Under the lock.
  void start_workers() {
    if (!workers_.empty()) return;
    workers_.reserve(workers_wanted_);
    for (std::size_t i = 0; i < workers_wanted_; ++i) workers_.emplace_back([this] { work(); });
  }

  /// What one worker took, to serve unlocked: the jobs, how, and the caps it counts against.
  struct Taken {
    std::vector<Job*> jobs;
    Take mode = Take::per_job;
    std::vector<std::shared_ptr<RequestCap>> caps;
  };

  /// One worker: take what is due, serve it, repeat. Only the worker that holds the timer sleeps until the
  /// next due time; the others wait to be notified, so idle workers do not all wake for one job.
  void work() {
    Taken taken;
    std::vector<std::size_t> slots;  // reused: a worker takes work thousands of times
    std::vector<Due> later;          // what the worker served and must look at again
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      // Requeued here, under the lock the loop takes anyway, rather than locking once more per job.
      put_back(taken, later);
      const TimePoint when = schedule_.next_due();
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
    work_ready_.wait(lock, [&] { return stopping_ || changed_; });
    changed_ = false;
  }

  /// Holds the timer: sleeps unlocked until `when`, or until a job due sooner arrives or the poller stops.
  void sleep_as_timer(std::unique_lock<std::mutex>& lock, TimePoint when) {
    std::stop_source wake;
    timer_wake_ = wake;
    timer_until_ = when;
    lock.unlock();
    {
      std::stop_callback forward(stop_source_.get_token(), [&wake] { wake.request_stop(); });
      clock_.sleep_until(when, wake.get_token());
    }
    lock.lock();
    if (timer_until_ == when) timer_until_ = TimePoint::max();
  }

  /// Takes due jobs by the current take rule, passing over those whose caller is at its cap. Under the lock.
  void take(TimePoint now, std::vector<std::size_t>& slots, Taken& taken) {
    taken.mode = take_mode();
    taken.jobs.clear();
    taken.caps.clear();
    schedule_.take(now, taken.mode, looks_.protocol().many_status_limit(), slots,
                   [&](std::size_t slot) { return admit(*slots_[slot], taken.caps); });
    for (std::size_t slot : slots) {
      Job& job = *slots_[slot];
      job.busy = true;
      job.call.deadline = job.deadline;  // the worker reads its own copy unlocked
      taken.jobs.push_back(&job);
    }
  }

  /// Whether a worker may take `job`: none of its callers is at its cap, counting each cap once per take (one
  /// worker has one request in flight at a time). Charges the caps it takes. Under the lock.
  static bool admit(const Job& job, std::vector<std::shared_ptr<RequestCap>>& charged) {
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
      Job& job = *slots_[slot];
      job.busy = false;
      job.next_look = when;
      job.requests = job.call.requests;
      if (job.watches.empty() || job.settled || stopping_)
        drop(job);
      else
        queue(job);
    }
    later.clear();
    taken.jobs.clear();
  }

  /// Serves what the worker took, with the lock released meanwhile. Going busy, it hands on what is left (more
  /// due work, or the timer nobody holds) to one idle worker.
  void serve_unlocked(std::unique_lock<std::mutex>& lock, Taken& taken, std::vector<Due>& later) {
    const bool hand_on =
        !schedule_.empty() && (schedule_.next_due() <= clock_.now() || timer_until_ == TimePoint::max());
    if (hand_on) changed_ = true;
    lock.unlock();
    // Notified after unlocking: a woken worker that preempted us would only block on the lock we hold.
    if (hand_on) work_ready_.notify_one();
    const TimePoint started = clock_.now();
    const std::size_t looked = serve(taken, later, started);
    const Seconds took(clock_.now() - started);
    lock.lock();
    if (taken.mode != Take::many_status) schedule_.note_look_time(took, looked);
  }

  // ---- how jobs are taken ----

  /// Each job gets its own long poll, which the server may hold: only while every job can have a worker of its
  /// own and one worker stays free for jobs that arrive meanwhile. Under the lock.
  bool per_job_polls_held() const {
    // A caller capped below its number of jobs could not have them all held: they would wait behind each other.
    return by_id_.size() < workers_wanted_ && tight_caps_ == 0 && policy_.long_poll > Seconds(0) &&
           looks_.rules().profile().long_poll() != Support::no;
  }

  /// The server may have a many-status endpoint, and jobs will not hold long polls of their own instead.
  bool many_status_possible() const {
    return looks_.protocol().many_status_limit() > 0 && looks_.rules().profile().batch() != Support::no &&
           !per_job_polls_held();
  }

  /// Many-status looks when several jobs are watched and the server may have the endpoint; else one job a
  /// request, held by the server when each job can have a worker of its own. Under the lock.
  Take take_mode() const {
    if (by_id_.size() > 1 && many_status_possible()) return Take::many_status;
    return per_job_polls_held() ? Take::one : Take::per_job;
  }

  /// Claims a worker for a look the server may hold: at most all workers but one hold looks at once, so jobs
  /// that arrive meanwhile always find a worker. None while pushes are expected: a safety look only checks.
  bool claim_hold() {
    if (safety_) return false;
    if (held_.fetch_add(1) + 1 < workers_wanted_) return true;
    held_.fetch_sub(1);
    return false;
  }

  // ---- serving ----

  /// Serves what a worker took; nothing thrown here (bad_alloc, say) may escape a worker thread, so the jobs
  /// it held end with the error instead. Returns how many per-job looks it made: once looking since `started`
  /// has taken longer than the take window (the server slowed down), the rest go back for other workers.
  std::size_t serve(Taken& taken, std::vector<Due>& later, TimePoint started) noexcept {
    std::size_t looked = 0;
    try {
      std::vector<Job*> live = still_watched(taken.jobs, taken.mode, later);
      if (taken.mode == Take::many_status) {
        if (!live.empty()) serve_many(live, later);
        return 0;
      }
      const auto window = detail::to_clock(policy_.min_interval);
      for (; looked < live.size(); ++looked) {
        if (looked > 0 && clock_.now() - started > window) break;
        serve_one(*live[looked], taken.mode == Take::one, later);
      }
      for (std::size_t rest = looked; rest < live.size(); ++rest) later.push_back({clock_.now(), live[rest]->slot});
    } catch (const std::exception& e) {
      fail_all(taken.jobs, later, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      fail_all(taken.jobs, later, "unexpected exception");
    }
    return looked;
  }

  /// The taken jobs that still need a look now: waits past their deadline end `timeout` first; a job nobody
  /// waits for any more, or taken early only for a wait's deadline, goes back without a look.
  std::vector<Job*> still_watched(const std::vector<Job*>& jobs, Take mode, std::vector<Due>& later) {
    std::vector<Job*> live;
    live.reserve(jobs.size());
    std::vector<std::pair<Job*, std::vector<Watch>>> timed_out;
    {
      std::lock_guard lock(mutex_);
      const TimePoint now = clock_.now();
      const TimePoint horizon = schedule_.horizon(now, mode);
      for (Job* job : jobs) {
        std::vector<Watch> ended;
        expire(*job, now, ended);
        if (!ended.empty()) timed_out.emplace_back(job, std::move(ended));
        const bool early = job->next_look > horizon;  // taken for a wait's deadline, not for a look
        if (job->watches.empty() || job->settled || early)
          later.push_back({job->next_look, job->slot});
        else
          live.push_back(job);
      }
    }
    for (auto& [job, ended] : timed_out) {
      const TranslationResult result =
          looks_.finish(job->call, failed(FailureCause::deadline, looks_.sender().deadline_message(job->call)));
      deliver_all(job->call.job_id, ended, result);
    }
    return live;
  }

  /// Ends every job of the take with the error. `later` is emptied: the jobs are ended, and go back to be
  /// dropped, not requeued.
  void fail_all(const std::vector<Job*>& jobs, std::vector<Due>& later, const std::string& message) noexcept {
    later.clear();
    for (Job* job : jobs) finish(*job, failed(FailureCause::transport, message), later);
  }

  /// One look at one job, exactly as a single wait would take it; a pending job goes to `later`.
  void serve_one(Job& job, bool may_hold, std::vector<Due>& later) {
    const bool hold_claimed = may_hold && claim_hold();
    const Seconds hold =
        hold_claimed ? looks_.rules().long_poll_budget(Seconds(soonest_deadline(job) - clock_.now())) : Seconds(0);
    const int before = job.call.requests;
    const TimePoint asked = hold_claimed ? clock_.now() : TimePoint{};  // a clock read per look is not free
    Look look = looks_.look(job.call, hold);
    if (hold_claimed) held_.fetch_sub(1);
    requests_ += static_cast<std::uint64_t>(job.call.requests - before);
    ++job_looks_;
    const bool held = hold_claimed && look.result.status == TranslationStatus::pending &&
                      looks_.rules().long_poll_held(hold, Seconds(clock_.now() - asked));
    settle_look(job, look, held, Take::per_job, later);
  }

  /// The earliest deadline of the job's open waits (read under the lock: other threads add waits).
  TimePoint soonest_deadline(const Job& job) {
    std::lock_guard lock(mutex_);
    return std::min(earliest_deadline(job), job.call.deadline);
  }

  /// One many-status look for the due jobs; falls back to per-job looks when the server has no such endpoint.
  void serve_many(const std::vector<Job*>& live, std::vector<Due>& later) {
    CallState call = looks_.sender().begin("batch", stop_source_.get_token());
    std::vector<const std::string*> ids;
    ids.reserve(live.size());
    for (Job* job : live) {
      call.deadline = std::min(call.deadline, soonest_deadline(*job));
      ids.push_back(&job->call.job_id);
    }
    const bool hold_claimed = claim_hold();
    const Seconds hold =
        hold_claimed ? looks_.rules().long_poll_budget(Seconds(call.deadline - clock_.now())) : Seconds(0);
    const TimePoint asked = clock_.now();
    OrFailure<ManyLook> answer = looks_.look_many(ids, call, hold);
    if (hold_claimed) held_.fetch_sub(1);
    requests_ += static_cast<std::uint64_t>(call.requests);
    job_looks_ += live.size();
    for (Job* job : live) {
      job->call.requests += call.requests;
      if (call.last_http_status) job->call.last_http_status = call.last_http_status;
    }
    if (!answer) return many_failed(live, answer.failure(), later);
    if (answer->unusable) return fall_back(live, *answer->unusable, later);
    read_many(live, answer.value(), hold, Seconds(clock_.now() - asked), later);
  }

  /// A many-status request got no answer: the jobs whose waits ran out of time end, the rest look again soon
  /// (a wait ends by its own deadline, as a single wait's would, not by a failure of a request it shared).
  void many_failed(const std::vector<Job*>& live, const Failure& failure, std::vector<Due>& later) {
    for (Job* job : live) {
      if (failure.cause != FailureCause::deadline || clock_.now() >= soonest_deadline(*job))
        finish(*job, looks_.finish(job->call, failed(failure)), later);
      else
        later.push_back({clock_.now() + detail::to_clock(policy_.min_interval), job->slot});
    }
  }

  /// No many-status endpoint (404/405), or one we cannot read: remember, and look at these jobs one by one.
  void fall_back(const std::vector<Job*>& live, const Failure& failure, std::vector<Due>& later) {
    looks_.rules().profile().set_batch(Support::no);
    looks_.sender().log()(LogLevel::info,
                          [&] { return "server has no usable many-status endpoint (" + failure.message + ")"; });
    for (Job* job : live) later.push_back({clock_.now(), job->slot});
  }

  /// Settles each job of a many-status answer; a job the server left out is looked at again shortly.
  void read_many(const std::vector<Job*>& live, ManyLook& answer, Seconds hold, Seconds took, std::vector<Due>& later) {
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
    for (Job* job : live) {
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
  void fetch_outputs(Job& job, Look& look) {
    const int before = job.call.requests;
    Look own = looks_.look(job.call, Seconds(0));
    requests_ += static_cast<std::uint64_t>(job.call.requests - before);
    if (own.result.ok()) look.result = std::move(own.result);
    look.result.requests = job.call.requests;
  }

  /// A final result ends the job; a pending one gets its next due time (never past its waits' deadlines).
  void settle_look(Job& job, Look& look, bool held, Take mode, std::vector<Due>& later) {
    auto wait = looks_.digest(job.call, job.poller, look, held);
    if (!wait || look.result.cause == FailureCause::cancelled) return finish(job, std::move(look.result), later);
    std::lock_guard lock(mutex_);
    // Many-status rounds are cheap per job: the policy may ask for them more often than one job alone would look.
    // The bound holds for the last job of a round too, looked at alone, so the policy's lag bound is kept.
    if ((mode == Take::many_status || many_status_possible()) && policy_.many_status_interval > Seconds(0))
      *wait = std::min(*wait, policy_.many_status_interval);
    if (safety_) *wait = std::max(*wait, safety_->wait(looks_.sender().age(job.call)));
    // plan() touches only this job's slot, which no other thread reads while this worker holds the job.
    later.push_back({schedule_.plan(job.slot, clock_.now(), *wait, job.call.deadline), job.slot});
  }

  /// Ends `job` with a final result: every open wait gets it, and the job goes back to be dropped.
  void finish(Job& job, TranslationResult result, std::vector<Due>& later) noexcept {
    std::vector<Watch> ended;
    {
      std::lock_guard lock(mutex_);
      ended = take_watches(job);
      job.settled = true;
      unindex(job);
    }
    later.push_back({clock_.now(), job.slot});
    const bool from_server = result.ok() || result.cause == FailureCause::job_failed;
    if (from_server && on_final_) on_final_(job.call.job_id);
    deliver_all(job.call.job_id, ended, std::move(result));
  }

  // ---- results ----

  /// A result that says a wait was cancelled.
  static TranslationResult cancelled() { return failed(FailureCause::cancelled, detail::cancelled_message); }

  /// A result that says a wait for `job` was cancelled, with the requests made for it so far. Under the lock.
  TranslationResult cancelled(const Job& job) const {
    TranslationResult result = cancelled();
    result.requests = job.requests;
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - job.call.start);
    return result;
  }

  static TranslationResult failed(FailureCause cause, std::string message) {
    return StatusLooks<T, C, P>::failed(cause, std::move(message));
  }
  static TranslationResult failed(Failure failure) { return StatusLooks<T, C, P>::failed(std::move(failure)); }

  /// Hands `result` to every wait in `ended` (unlocked), then destroys them.
  void deliver_all(const std::string& job_id, std::vector<Watch>& ended, TranslationResult result) noexcept {
    if (ended.empty()) return;
    for (std::size_t i = 0; i + 1 < ended.size(); ++i) deliver(job_id, ended[i].sink, result);
    deliver(job_id, ended.back().sink, std::move(result));
    ended.clear();
  }

  /// Hands a result to a wait's sink; what it throws is logged, never propagated into a worker.
  void deliver(const std::string& job_id, const WatchSink& sink, TranslationResult result) const noexcept {
    if (!sink) return;
    try {
      sink(job_id, std::move(result));
    } catch (const std::exception& e) {
      looks_.sender().log()(LogLevel::error, [&] { return "job " + job_id + ": result callback threw: " + e.what(); });
    } catch (...) {
      looks_.sender().log()(LogLevel::error, [&] { return "job " + job_id + ": result callback threw"; });
    }
  }

  StatusLooks<T, C, P>& looks_;
  C& clock_;
  const PollPolicy& policy_;
  const std::size_t workers_wanted_;
  std::atomic<std::uint64_t> serial_{0};
  std::atomic<std::size_t> held_{0};  // looks in flight that the server may hold
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> job_looks_{0};
  std::stop_source stop_source_;  // stops the workers' sleeps and requests at shutdown
  const std::optional<SafetyPolling> safety_;
  const FinalHook on_final_;
  static constexpr std::size_t max_kept = 10000;  // pushed outcomes kept for waits not begun yet

  mutable std::mutex mutex_;  // guards everything below, and each job's waits, busy and settled flags
  std::condition_variable work_ready_;
  std::condition_variable outside_delivered_;
  std::size_t outside_deliveries_ = 0;  // sinks running on threads that are not workers (cancel, settle)
  BulkSchedule schedule_;
  std::vector<std::unique_ptr<Job>> slots_;  // a job per slot; empty slots are reused
  std::vector<std::size_t> free_;
  std::unordered_map<std::string_view, std::size_t> by_id_;  // job id (viewing the job's own copy) → slot
  std::size_t watches_ = 0;
  std::unordered_map<std::string, TranslationResult> kept_;  // pushed before anyone waited: see keep()
  std::deque<std::string> kept_order_;
  std::size_t tight_caps_ = 0;                     // callers with more open waits than their cap lets be in flight
  TimePoint timer_until_ = TimePoint::max();       // when the worker holding the timer wakes; max: nobody holds it
  std::stop_source timer_wake_{std::nostopstate};  // wakes the timer's holder early
  bool changed_ = false;                           // the queue changed since a waiting worker last looked
  bool stopping_ = false;
  std::vector<std::jthread> workers_;
};

}  // namespace heygen
