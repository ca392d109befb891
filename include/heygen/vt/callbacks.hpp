// Callback ids: the callback_id each create sent, to match unsigned pushes.
#pragma once

#include "heygen/vt/webhook.hpp"

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace heygen {

/// What an unsigned push's callback_id says of it.
enum class CallbackMatch {
  matches,   ///< The callback_id the job's create sent: a genuine hint (the id is random and never guessable).
  differs,   ///< Another callback_id, or none: refused.
  unknown,   ///< No create of this client started the job (or it was forgotten past the bound): refused.
  finished,  ///< The job's outcome was handed over already: a redelivery, or polling came first.
};

/// The callback_id each job's create sent, so an unsigned push (HeyGen's per-job callback_url deliveries are not
/// signed) is taken only when it echoes the right one; and the jobs finished lately, so a late push is known as a
/// duplicate. Bounded both ways, the oldest forgotten first. Thread-safe.
class CallbackBook {
 public:
  /// Remembers at most `open_limit` jobs awaiting their outcome and `finished_limit` finished ones.
  CallbackBook(std::size_t open_limit, std::size_t finished_limit)
      : open_limit_(open_limit), finished_limit_(finished_limit) {}

  /// Notes that the create of `job_id` sent `callback_id`.
  void expect(const std::string& job_id, std::string callback_id) {
    if (callback_id.empty()) return;
    std::lock_guard lock(mutex_);
    while (open_.size() >= open_limit_ && !open_order_.empty()) {
      open_.erase(open_order_.front());  // nothing, when that job finished already
      open_order_.pop_front();
    }
    if (open_.insert_or_assign(job_id, std::move(callback_id)).second) open_order_.push_back(job_id);
    // finish() leaves its id in the order (finding it there would cost a scan a job): swept here, once the order
    // holds twice the bound, so each id is scanned a constant number of times.
    if (open_order_.size() > 2 * open_limit_ + 16)
      std::erase_if(open_order_, [&](const std::string& id) { return !open_.contains(id); });
  }

  /// What `callback_id`, echoed by a push for `job_id`, says of the push (compared in constant time).
  [[nodiscard]] CallbackMatch match(const std::string& job_id, std::string_view callback_id) const {
    std::lock_guard lock(mutex_);
    const auto found = open_.find(job_id);
    if (found == open_.end()) return finished_.contains(job_id) ? CallbackMatch::finished : CallbackMatch::unknown;
    return detail::constant_time_equal(found->second, callback_id) ? CallbackMatch::matches : CallbackMatch::differs;
  }

  /// Notes that `job_id`'s outcome was handed over: later pushes for it are duplicates.
  void finish(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    open_.erase(job_id);
    if (finished_limit_ == 0 || finished_.contains(job_id)) return;
    if (finished_order_.size() >= finished_limit_) {
      finished_.erase(finished_order_.front());
      finished_order_.pop_front();
    }
    finished_order_.push_back(job_id);
    finished_.emplace(job_id, true);
  }

  /// Jobs awaiting their outcome now.
  [[nodiscard]] std::size_t open() const {
    std::lock_guard lock(mutex_);
    return open_.size();
  }

 private:
  const std::size_t open_limit_;
  const std::size_t finished_limit_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::string> open_;  // job id → the callback_id its create sent
  std::deque<std::string> open_order_;                 // oldest first; may name finished jobs (see expect())
  std::unordered_map<std::string, bool> finished_;
  std::deque<std::string> finished_order_;
};

}  // namespace heygen
