// Unit tests of the poller's waits: the registry of jobs and their waits, kept pushes, and delivery. No threads,
// no clock: every time is an argument.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace heygen;
using namespace std::chrono_literals;

namespace {

/// A call about `job_id` begun at virtual time zero.
CallState call_for(const std::string& job_id) {
  CallState call;
  call.job_id = job_id;
  return call;
}

/// A wait with `serial`, ending at `deadline` (seconds after zero), counted against `cap` when given.
Watch watch_until(std::uint64_t serial, int deadline, std::shared_ptr<RequestCap> cap = {}) {
  Watch watch;
  watch.serial = serial;
  watch.deadline = TimePoint{} + std::chrono::seconds(deadline);
  watch.cap = std::move(cap);
  return watch;
}

/// A result with `status`.
TranslationResult result_with(TranslationStatus status) {
  TranslationResult result;
  result.status = status;
  return result;
}

}  // namespace

TEST_CASE("waits: a job is found by id, counts its waits, and its deadline is the latest of theirs") {
  WaitRegistry waits;
  WatchedJob& job = waits.add_job(call_for("a"));
  CHECK(waits.find("a") == &job);
  CHECK(waits.find("b") == nullptr);
  waits.add_watch(job, watch_until(1, 50));
  waits.add_watch(job, watch_until(2, 20));
  CHECK(waits.jobs() == 1u);
  CHECK(waits.watches() == 2u);
  CHECK(job.deadline == TimePoint{} + 50s);
  CHECK(earliest_deadline(job) == TimePoint{} + 20s);
}

TEST_CASE("waits: a wait ends by its serial once; the others stay open") {
  WaitRegistry waits;
  WatchedJob& job = waits.add_job(call_for("a"));
  waits.add_watch(job, watch_until(1, 50));
  waits.add_watch(job, watch_until(2, 50));
  const auto ended = waits.end_watch(job, 1);
  REQUIRE(ended.has_value());
  CHECK(ended->serial == 1u);
  CHECK_FALSE(waits.end_watch(job, 1).has_value());
  CHECK(waits.watches() == 1u);
  CHECK(job.watches.size() == 1u);
  CHECK(waits.end_all(job).size() == 1u);
  CHECK(waits.watches() == 0u);
}

TEST_CASE("waits: expire takes exactly the waits whose deadline has come") {
  WaitRegistry waits;
  WatchedJob& job = waits.add_job(call_for("a"));
  waits.add_watch(job, watch_until(1, 10));
  waits.add_watch(job, watch_until(2, 30));
  waits.add_watch(job, watch_until(3, 20));
  std::vector<Watch> timed_out;
  waits.expire(job, TimePoint{} + 20s, timed_out);
  REQUIRE(timed_out.size() == 2u);
  CHECK(timed_out[0].serial == 1u);
  CHECK(timed_out[1].serial == 3u);
  REQUIRE(job.watches.size() == 1u);
  CHECK(job.watches[0].serial == 2u);
  CHECK(waits.watches() == 1u);
}

TEST_CASE("waits: a caller's cap is tight while it has more waits open than it may have in flight") {
  WaitRegistry waits;
  auto cap = std::make_shared<RequestCap>(RequestCap{2, 0, 0});
  WatchedJob& a = waits.add_job(call_for("a"));
  WatchedJob& b = waits.add_job(call_for("b"));
  WatchedJob& c = waits.add_job(call_for("c"));
  waits.add_watch(a, watch_until(1, 10, cap));
  waits.add_watch(b, watch_until(2, 10, cap));
  CHECK_FALSE(waits.caps_tight());
  waits.add_watch(c, watch_until(3, 10, cap));
  CHECK(waits.caps_tight());
  CHECK(cap->waits == 3u);
  std::vector<Watch> timed_out;
  waits.expire(c, TimePoint{} + 10s, timed_out);
  CHECK_FALSE(waits.caps_tight());
  CHECK(cap->waits == 2u);
}

TEST_CASE("waits: an unindexed job stays held in its slot while a new job of the same id is watched") {
  WaitRegistry waits;
  WatchedJob& old_job = waits.add_job(call_for("a"));
  const std::size_t old_slot = old_job.slot;
  waits.unindex(old_job);
  CHECK(waits.find("a") == nullptr);
  WatchedJob& fresh = waits.add_job(call_for("a"));
  CHECK(fresh.slot != old_slot);
  CHECK(waits.find("a") == &fresh);
  // Forgetting the old job must not take the new one out of the index.
  waits.forget(waits.at(old_slot));
  CHECK(waits.find("a") == &fresh);
  // The freed slot is reused.
  CHECK(waits.add_job(call_for("b")).slot == old_slot);
}

TEST_CASE("waits: for_each visits every held job, and a job forgotten during the visit is not visited again") {
  WaitRegistry waits;
  waits.add_job(call_for("a"));
  waits.add_job(call_for("b"));
  std::vector<std::string> seen;
  waits.for_each([&](WatchedJob& job) {
    seen.push_back(job.call.job_id);
    waits.forget(job);
  });
  CHECK(seen == std::vector<std::string>{"a", "b"});
  CHECK(waits.jobs() == 0u);
  seen.clear();
  waits.for_each([&](WatchedJob& job) { seen.push_back(job.call.job_id); });
  CHECK(seen.empty());
}

TEST_CASE("kept pushes: taken once, the first push of a job wins, and the oldest go past the bound") {
  KeptPushes kept(2);
  CHECK_FALSE(kept.take("a").has_value());
  kept.keep("a", result_with(TranslationStatus::completed));
  kept.keep("a", result_with(TranslationStatus::error));
  kept.keep("b", result_with(TranslationStatus::error));
  kept.keep("c", result_with(TranslationStatus::completed));
  CHECK(kept.size() == 2u);
  CHECK_FALSE(kept.take("a").has_value());  // the oldest, forgotten
  const auto b = kept.take("b");
  REQUIRE(b.has_value());
  CHECK(b->status == TranslationStatus::error);
  CHECK_FALSE(kept.take("b").has_value());
  CHECK(kept.size() == 1u);
}

TEST_CASE("kept pushes: a bound of zero keeps nothing") {
  KeptPushes kept(0);
  kept.keep("a", result_with(TranslationStatus::completed));
  CHECK(kept.size() == 0u);
  CHECK_FALSE(kept.take("a").has_value());
}

TEST_CASE("delivery: every wait gets the result once; a sink that throws is logged and the others still get it") {
  std::vector<std::string> lines;
  const Logger log([&](LogLevel, std::string_view line) { lines.emplace_back(line); }, LogLevel::error);
  std::vector<TranslationStatus> got;
  std::vector<Watch> ended(3);
  const WatchSink record = [&](const std::string&, const TranslationResult& r) { got.push_back(r.status); };
  ended[0].sink = record;
  ended[1].sink = [](const std::string&, const TranslationResult&) { throw std::runtime_error("boom"); };
  ended[2].sink = record;
  deliver_all(log, "job-1", ended, result_with(TranslationStatus::completed));
  CHECK(got == std::vector<TranslationStatus>{TranslationStatus::completed, TranslationStatus::completed});
  CHECK(ended.empty());
  REQUIRE(lines.size() == 1u);
  CHECK(lines[0] == "job job-1: result callback threw: boom");
}

TEST_CASE("delivery: a cancelled wait's result names the cause and what was spent on the job") {
  WaitRegistry waits;
  WatchedJob& job = waits.add_job(call_for("a"));
  job.requests = 3;
  const TranslationResult result = cancelled_result(job, TimePoint{} + 1500ms);
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::cancelled);
  CHECK(result.requests == 3);
  CHECK(result.elapsed == 1500ms);
}
