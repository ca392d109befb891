// Bulk collector: a bulk call's results in one map, each told to the caller as it comes.
#pragma once

#include "heygen/vt/log.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/result.hpp"
#include "heygen/vt/waits.hpp"

#include <cstddef>
#include <exception>
#include <future>
#include <mutex>
#include <string>
#include <utility>

namespace heygen {

/// Collects a bulk call's results into its map, passing each to the caller's callback (serialized); the last
/// result fulfils the future.
class BulkCollector {
 public:
  /// A collector for `total` results; `log` must outlive it. With none to wait for, the future is ready at once.
  BulkCollector(std::size_t total, BulkCallback on_result, const Logger& log)
      : total_(total), on_result_(std::move(on_result)), log_(log) {
    if (total_ == 0) promise_.set_value({});
  }

  /// The map of every result, once all are in (call once).
  std::future<ResultMap> future() { return promise_.get_future(); }

  /// Records one job's result and tells the caller's callback; the last one fulfils the future (true then). The
  /// callback runs outside the results' lock, one call at a time (a recursive lock: a callback that cancels the call
  /// re-enters here on its own thread, through the poller, to record the cancelled jobs). A second result for a
  /// job is dropped.
  bool add(const std::string& job_id, TranslationResult result) {
    std::lock_guard tell_lock(tell_mutex_);
    const TranslationResult told = result;
    std::size_t done = 0;
    {
      std::lock_guard lock(mutex_);
      if (!results_.emplace(job_id, std::move(result)).second) return false;
      done = results_.size();
    }
    tell(job_id, told, done);
    if (done < total_) return false;
    std::lock_guard lock(mutex_);
    promise_.set_value(std::move(results_));
    return true;
  }

 private:
  /// The caller's callback, its exceptions logged and swallowed (the poller's thread must go on).
  void tell(const std::string& job_id, const TranslationResult& result, std::size_t done) noexcept {
    if (!on_result_) return;
    try {
      on_result_(job_id, result, BulkProgress{done, total_});
    } catch (const std::exception& e) {
      log_(LogLevel::error, [&] { return "job " + job_id + ": result callback threw: " + e.what(); });
    } catch (...) {
      log_(LogLevel::error, [&] { return "job " + job_id + ": result callback threw"; });
    }
  }

  std::recursive_mutex tell_mutex_;  // serializes the callback
  std::mutex mutex_;                 // guards results_ and promise_
  std::size_t total_;
  BulkCallback on_result_;
  const Logger& log_;
  ResultMap results_;
  std::promise<ResultMap> promise_;
};

}  // namespace heygen
