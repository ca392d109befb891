// StatusSimulator's job store and fault draws: creating jobs (idempotently, queuing their webhook pushes), looking
// at them as of now (the stale cache included), holding long polls until an answer changes, and deciding which
// requests fail.
#ifndef HEYGEN_SIM_STORE_HPP
#define HEYGEN_SIM_STORE_HPP

#include "jobs.hpp"
#include "simulator.hpp"
#include "support.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace heygen::sim {

// ---------------------------------------------------------------------------------------------------------
// Jobs

inline std::optional<std::string> StatusSimulator::create_or_replay(const std::string& key,
                                                                    std::shared_ptr<const detail::Callback> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!key.empty()) {
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      ++counters_.idempotent_replays;
      return jobs_[it->second].id;
    }
  }
  if (jobs_.size() >= config_.max_jobs) return std::nullopt;
  std::string id = make_job_locked(Clock::now(), std::move(callback));
  if (!key.empty()) by_key_.emplace(key, jobs_.size() - 1);
  return id;
}

inline std::string StatusSimulator::make_job_locked(Clock::time_point now,
                                                    std::shared_ptr<const detail::Callback> callback,
                                                    std::shared_ptr<const detail::V3Order> order,
                                                    std::size_t language) {
  std::string seq = std::to_string(jobs_.size() + 1);
  if (seq.size() < 6) seq.insert(0, 6 - seq.size(), '0');
  detail::Job job;
  job.id = config_.id_prefix + seq;
  job.created = now;
  job.completes = now + detail::to_clock(detail::sample_seconds(config_.duration, rng_) * config_.duration_scale);
  job.order = std::move(order);
  job.language = language;
  job.fails = rng_.uniform() < config_.error_probability;
  job.eta_factor = rng_.uniform(1.0 - config_.eta_error, 1.0 + config_.eta_error);
  job.callback = std::move(callback);
  // The outcome and the moment the job reaches it are fixed now, so its push can be queued now.
  if (job.callback && config_.webhooks.enabled) pushes_.schedule(jobs_.size(), job.callback, job.completes);
  if (job.order && config_.webhooks.enabled) schedule_v3_pushes_locked(job);
  by_id_.emplace(job.id, jobs_.size());
  std::string id = job.id;
  jobs_.push_back(std::move(job));
  return id;
}

inline detail::V3Created StatusSimulator::create_v3(const std::shared_ptr<const detail::V3Order>& order,
                                                    const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  detail::V3Created out;
  if (!key.empty()) {
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      // The jobs of one create are consecutive: the first one's order says how many there are.
      ++counters_.idempotent_replays;
      const std::size_t first = it->second;
      const std::size_t count = jobs_[first].order ? jobs_[first].order->output_languages.size() : 1;
      for (std::size_t i = 0; i < count; ++i) out.ids.push_back(jobs_[first + i].id);
      return out;
    }
  }
  const std::size_t wanted = order->output_languages.size();
  const std::size_t limit = config_.max_concurrent_jobs;
  if (limit > 0 && wanted > limit) {
    out.too_many = true;
    return out;
  }
  if (jobs_.size() + wanted > config_.max_jobs) {
    out.full = true;
    return out;
  }
  const auto now = Clock::now();
  if (limit > 0) {
    running_ends_.erase(running_ends_.begin(), running_ends_.upper_bound(now));
    if (running_ends_.size() + wanted > limit) {
      // Room for `wanted` more once this many running jobs have ended; the last of them ends at `*room`.
      const auto room =
          std::next(running_ends_.begin(), static_cast<std::ptrdiff_t>(running_ends_.size() + wanted - limit - 1));
      const double seconds = std::chrono::duration<double>(*room - now).count();
      out.retry_after_s = static_cast<int>(std::clamp(std::ceil(seconds), 1.0, 86400.0));
      return out;
    }
  }
  if (!key.empty()) by_key_.emplace(key, jobs_.size());
  const auto callback = detail::make_callback(order->callback_url, order->callback_id);
  for (std::size_t i = 0; i < wanted; ++i) {
    out.ids.push_back(make_job_locked(now, callback, order, i));
    if (limit > 0) running_ends_.insert(jobs_.back().completes);
  }
  return out;
}

inline void StatusSimulator::schedule_v3_pushes_locked(const detail::Job& job) {
  // Only jobs made while an endpoint is registered tell the endpoints: the others cost nothing (a benchmark's
  // million jobs queue no event for endpoints nobody registered). Who gets the event is asked when it fires.
  if (endpoints_.any()) pushes_.schedule_endpoints(jobs_.size(), job.completes);
  if (job.callback)
    pushes_.schedule_forged(jobs_.size(), job.callback, job.created + (job.completes - job.created) / 2);
}

inline void StatusSimulator::note_push_delivered(std::size_t index, Clock::time_point when) {
  std::lock_guard<std::mutex> lock(mu_);
  if (index < jobs_.size() && !jobs_[index].push_delivered) jobs_[index].push_delivered = when;
}

inline std::string StatusSimulator::latest_job_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.empty() ? std::string() : jobs_.back().id;
}

inline void StatusSimulator::hold(const std::vector<std::string>& ids, double wait_s) {
  if (ids.empty() || wait_s <= 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  auto until = Clock::now() + detail::to_clock(wait_s);
  for (const auto& id : ids) {
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return;  // an unknown id is already a terminal (error) answer
    // A job's outcome is fixed at creation, so the moment its answer changes is known: no polling needed,
    // the condition variable only has to wake early for stop().
    until = std::min(until, jobs_[it->second].completes + stale_);
  }
  wake_.wait_until(lock, until, [this] { return stopping_; });
}

inline std::optional<detail::JobView> StatusSimulator::look_locked(const std::string& id, Clock::time_point now,
                                                                   bool delivered) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  detail::Job& job = jobs_[it->second];
  ++job.looks;
  ++counters_.job_status_looks;
  const detail::JobView view = view_of(job, now);
  if (delivered && view.state != detail::JobState::pending && !job.first_terminal_seen) {
    job.first_terminal_seen = now;
  }
  return view;
}

inline detail::JobView StatusSimulator::view_of(const detail::Job& job, Clock::time_point now) const {
  // Stale cache: the job is reported as it was stale_seconds ago (a job younger than that reads as pending).
  const Clock::time_point seen = now - stale_;
  detail::JobView view;
  if (seen >= job.completes) {
    view.state = job.fails ? detail::JobState::error : detail::JobState::completed;
    view.progress = 1.0;
    return view;
  }
  const double total = std::chrono::duration<double>(job.completes - job.created).count();
  const double elapsed = std::chrono::duration<double>(seen - job.created).count();
  view.progress = total > 0 ? std::clamp(elapsed / total, 0.0, 1.0) : 0.0;
  view.eta_s = std::chrono::duration<double>(job.completes - std::max(seen, job.created)).count() * job.eta_factor;
  return view;
}

// ---------------------------------------------------------------------------------------------------------
// Faults

inline detail::Fault StatusSimulator::draw_fault(bool create) {
  using detail::Fault;
  const auto& f = config_.faults;
  const std::array<std::pair<double, Fault>, 6> table{{
      {f.fail_5xx_rate, Fault::fail_5xx},
      {f.throttle_rate, Fault::throttle},
      {f.unavailable_rate, Fault::unavailable},
      {f.drop_rate, Fault::drop},
      {f.malformed_rate, Fault::malformed},
      {create ? f.drop_after_commit_rate : 0.0, Fault::drop_after_commit},
  }};
  double total = 0;
  for (const auto& entry : table) total += entry.first;
  if (total <= 0) return Fault::none;  // no draw: request traffic must not shift the jobs' random sequence
  std::lock_guard<std::mutex> lock(mu_);
  double u = rng_.uniform();
  for (const auto& [rate, kind] : table) {
    if (u < rate) {
      if (auto* counter = detail::fault_counter(counters_.faults, kind)) ++*counter;
      return kind;
    }
    u -= rate;
  }
  return Fault::none;
}

inline void StatusSimulator::apply_fault(Response& res, detail::Fault fault) const {
  using detail::Fault;
  if (fault == Fault::fail_5xx) send_error(res, 500, "internal_error", "simulated internal error");
  if (fault == Fault::throttle) send_error(res, 429, "rate_limit_exceeded", "simulated throttling");
  if (fault == Fault::unavailable) send_error(res, 503, "service_unavailable", "simulated unavailability");
  if (fault == Fault::throttle || fault == Fault::unavailable) send_retry_after(res, config_.faults.retry_after_s);
  if (fault == Fault::drop && !detail::drop_connection()) {
    send_error(res, 500, "internal_error", "simulated drop outside a connection");
  }
}

inline void StatusSimulator::inject_latency() {
  const auto& f = config_.faults;
  if (f.latency_ms <= 0 && f.latency_jitter_ms <= 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  const double ms = f.latency_ms + rng_.uniform(0.0, f.latency_jitter_ms);
  wake_.wait_until(lock, Clock::now() + detail::to_clock(ms / 1000.0), [this] { return stopping_; });
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_STORE_HPP
