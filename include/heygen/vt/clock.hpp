// Time: the Clock concept, SteadyClock, Seconds and TimePoint.
#pragma once

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

namespace heygen {

/// The time type every clock speaks in.
using TimePoint = std::chrono::steady_clock::time_point;
/// Durations in seconds with a fraction, as the seed's float seconds.
using Seconds = std::chrono::duration<double>;

/// A monotonic clock with an interruptible sleep. sleep_until returns false when stopped early.
template <class C>
concept Clock = requires(C& clock, TimePoint until, std::stop_token stop) {
  { clock.now() } -> std::same_as<TimePoint>;
  { clock.sleep_until(until, stop) } -> std::same_as<bool>;
};

/// The real monotonic clock; sleeps wake at once when the stop_token is triggered.
class SteadyClock {
 public:
  /// Current monotonic time.
  [[nodiscard]] TimePoint now() const { return std::chrono::steady_clock::now(); }

  /// Sleeps until `until`; returns false if `stop` was triggered first.
  bool sleep_until(TimePoint until, std::stop_token stop) const {
    if (!stop.stop_possible()) {
      std::this_thread::sleep_until(until);
      return true;
    }
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    return !wake.wait_until(lock, stop, until, [] { return false; }) && !stop.stop_requested();
  }
};

}  // namespace heygen
