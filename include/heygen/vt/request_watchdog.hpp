// RequestWatchdog: ends a bundled-transport request that outlives its timeout.
#pragma once

#include "heygen/vt/config.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

#ifdef HEYGEN_VT_WITH_HTTPLIB
#include <httplib.h>
#include <poll.h>
#endif

#ifdef HEYGEN_VT_WITH_HTTPLIB

namespace heygen::detail {

/// Ends requests that outlive their timeout. cpp-httplib's read timeout applies to each read, so a server
/// trickling a byte at a time could hold a request forever; one thread (started on first use) stops any
/// request still running at its deadline. A timer is a node on the requesting thread's stack, linked into an
/// intrusive list under a mutex: arming and disarming allocate nothing (this runs for every request). The list is
/// as long as the requests in flight, so the thread finds the earliest timer by a scan.
/// It cannot shorten a connect or a TLS handshake: httplib holds its socket lock through those, so a stop
/// waits for them (they have timeouts of their own).
class RequestWatchdog {
 public:
  /// A timer that is disarmed when this goes out of scope, however the request ended (an exception too).
  class Armed {
   public:
    Armed(RequestWatchdog& watchdog, std::chrono::steady_clock::time_point when, std::function<void()> action)
        : watchdog_(watchdog), when_(when), action_(std::move(action)) {
      watchdog_.arm(*this);
    }
    Armed(const Armed&) = delete;
    Armed& operator=(const Armed&) = delete;
    ~Armed() { watchdog_.disarm(*this); }

   private:
    friend class RequestWatchdog;
    RequestWatchdog& watchdog_;
    std::chrono::steady_clock::time_point when_;
    std::function<void()> action_;
    Armed* previous_ = nullptr;  // the list's links, guarded by the watchdog's mutex
    Armed* next_ = nullptr;
    bool linked_ = false;
  };

  RequestWatchdog() = default;
  RequestWatchdog(const RequestWatchdog&) = delete;
  RequestWatchdog& operator=(const RequestWatchdog&) = delete;
  ~RequestWatchdog() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
  }

 private:
  /// Runs the timer's action at its time unless disarmed first.
  void arm(Armed& timer) {
    std::lock_guard lock(mutex_);
    // The thread first: if it cannot start, no timer is left behind pointing at the caller's stack.
    if (!thread_.joinable()) thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
    timer.previous_ = last_;
    (last_ ? last_->next_ : first_) = &timer;
    last_ = &timer;
    timer.linked_ = true;
    // Requests share one timeout, so a new timer almost never comes first: no wake-up per request.
    if (timer.when_ < sleeping_until_) {
      sleeping_until_ = timer.when_;
      wake_.notify_one();
    }
  }

  /// Takes a timer off the list; under the lock.
  void unlink(Armed& timer) noexcept {
    (timer.previous_ ? timer.previous_->next_ : first_) = timer.next_;
    (timer.next_ ? timer.next_->previous_ : last_) = timer.previous_;
    timer.previous_ = timer.next_ = nullptr;
    timer.linked_ = false;
  }

  /// Cancels a timer. An action already running is waited for, so once this returns it is not running and
  /// never will: the connection it would stop can safely go back to the pool.
  void disarm(Armed& timer) noexcept {
    std::unique_lock lock(mutex_);
    if (timer.linked_) unlink(timer);
    finished_.wait(lock, [&] { return running_ != &timer; });
  }

  /// The timer due first (the first armed among equals), or nullptr; under the lock.
  [[nodiscard]] Armed* earliest() const noexcept {
    Armed* first = first_;
    for (Armed* timer = first_; timer != nullptr; timer = timer->next_)
      if (timer->when_ < first->when_) first = timer;
    return first;
  }

  /// Sleeps until the earliest timer (disarmed ones are noticed only then), runs what is due, repeats.
  /// Actions run without the lock: one that waits (a stop during a connect) holds up no other request. A timer
  /// whose action runs stays alive: its disarm waits for the action to end.
  void run(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
      Armed* due = earliest();
      if (due != nullptr && due->when_ <= std::chrono::steady_clock::now()) {
        unlink(*due);
        running_ = due;
        lock.unlock();
        due->action_();
        lock.lock();
        running_ = nullptr;
        finished_.notify_all();
        continue;
      }
      sleeping_until_ = due == nullptr ? std::chrono::steady_clock::time_point::max() : due->when_;
      const std::chrono::steady_clock::time_point until = sleeping_until_;
      const auto woken = [&] { return sleeping_until_ != until; };  // arm() moved the wake-up earlier
      if (until == std::chrono::steady_clock::time_point::max())
        wake_.wait(lock, stop, woken);
      else
        wake_.wait_until(lock, stop, until, woken);
      sleeping_until_ = std::chrono::steady_clock::time_point::min();
    }
  }

  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::condition_variable finished_;  // an action ended
  Armed* first_ = nullptr;            // the armed timers, in the order they were armed
  Armed* last_ = nullptr;
  const Armed* running_ = nullptr;  // the timer whose action runs now, outside the lock
  std::chrono::steady_clock::time_point sleeping_until_ =
      std::chrono::steady_clock::time_point::max();  // when the thread wakes by itself; min() while awake
  std::jthread thread_;                              // last: it uses the members above
};

}  // namespace heygen::detail

#endif  // HEYGEN_VT_WITH_HTTPLIB
