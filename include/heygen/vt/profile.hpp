// What was learnt about one server: DurationModel, ServerProfile.
#pragma once

#include "heygen/vt/clock.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <mutex>
#include <optional>
#include <vector>

namespace heygen {

/// A bounded, thread-safe memory of how long jobs on one server took, so polls go where jobs finish.
/// Keeps the newest `capacity` durations (older ones are forgotten, so it follows a server that changes).
class DurationModel {
 public:
  /// A model that remembers at most `capacity` durations (at least 1).
  explicit DurationModel(std::size_t capacity = 1024) : capacity_(std::max<std::size_t>(capacity, 1)) {}

  /// Remembers one job's duration; non-finite or negative values are ignored.
  void record(Seconds duration) {
    const double value = duration.count();
    if (!std::isfinite(value) || value < 0.0) return;
    std::lock_guard lock(mutex_);
    if (ring_.size() < capacity_) {
      ring_.push_back(value);
    } else {
      sorted_.erase(std::lower_bound(sorted_.begin(), sorted_.end(), ring_[next_]));
      ring_[next_] = value;
      next_ = (next_ + 1) % capacity_;
    }
    sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), value), value);
  }

  /// Durations remembered now.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return sorted_.size();
  }

  /// The duration within which a fraction q (0–1) of remembered jobs finished; nothing when empty.
  [[nodiscard]] std::optional<Seconds> quantile(double q) const {
    std::lock_guard lock(mutex_);
    if (sorted_.empty() || !(q >= 0.0)) return std::nullopt;
    return Seconds(sorted_[index_of(std::min(q, 1.0))]);
  }

  /// The age by which another `share` of all remembered jobs will have finished (half the rest, near the end), for a
  /// job still pending at `age`; nothing when fewer than `min_samples` are known or the job outlived them all.
  [[nodiscard]] std::optional<Seconds> next_finish_after(Seconds age, double share, std::size_t min_samples) const {
    std::lock_guard lock(mutex_);
    if (sorted_.size() < std::max<std::size_t>(min_samples, 1)) return std::nullopt;
    const auto finished = std::upper_bound(sorted_.begin(), sorted_.end(), age.count()) - sorted_.begin();
    if (static_cast<std::size_t>(finished) == sorted_.size()) return std::nullopt;
    const double done = static_cast<double>(finished) / static_cast<double>(sorted_.size());
    // In the last share, halve what is left instead of jumping to the longest job: tails learnt from coarse
    // looks are too long, and finer looks there are what makes them sharpen.
    const double target = done + std::min(share, (1.0 - done) / 2.0);
    return Seconds(sorted_[index_of(target)]);
  }

  /// The remembered durations, shortest first (to inspect what was learnt).
  [[nodiscard]] std::vector<Seconds> samples() const {
    std::lock_guard lock(mutex_);
    return {sorted_.begin(), sorted_.end()};
  }

 private:
  std::size_t index_of(double q) const {
    const double position = std::ceil(q * static_cast<double>(sorted_.size())) - 1.0;
    return static_cast<std::size_t>(std::clamp(position, 0.0, static_cast<double>(sorted_.size() - 1)));
  }

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::vector<double> ring_;    // arrival order, to forget the oldest
  std::size_t next_ = 0;        // oldest slot once the ring is full
  std::vector<double> sorted_;  // the same values, sorted, for quantiles
};

/// Whether a server offers a protocol extension, as learnt from its answers.
enum class Support { unknown, yes, no };

/// What the client has learnt about one server: job durations and which extensions it offers.
/// Thread-safe; share one between clients of the same server through ClientOptions::profile.
class ServerProfile {
 public:
  /// How long this server's jobs took.
  [[nodiscard]] DurationModel& durations() noexcept { return durations_; }
  /// How long this server's jobs took (read-only).
  [[nodiscard]] const DurationModel& durations() const noexcept { return durations_; }
  /// Whether the server holds `?wait=` long polls.
  [[nodiscard]] Support long_poll() const noexcept { return long_poll_.load(); }
  /// Records whether the server holds long polls.
  void set_long_poll(Support support) noexcept { long_poll_.store(support); }
  /// Whether the server sends eta_seconds / progress / Retry-After on pending answers.
  [[nodiscard]] Support hints() const noexcept { return hints_.load(); }
  /// Records whether the server sends hints.
  void set_hints(Support support) noexcept { hints_.store(support); }
  /// Whether the server has the batch status endpoint.
  [[nodiscard]] Support batch() const noexcept { return batch_.load(); }
  /// Records whether the server has the batch status endpoint.
  void set_batch(Support support) noexcept { batch_.store(support); }

 private:
  DurationModel durations_{};
  std::atomic<Support> long_poll_{Support::unknown};
  std::atomic<Support> hints_{Support::unknown};
  std::atomic<Support> batch_{Support::unknown};
};

}  // namespace heygen
