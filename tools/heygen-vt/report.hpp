// What heygen-vt prints: each result sorted into an outcome, the exit status they add up to, the table or
// JSON at the end, and the live progress line.
#ifndef HEYGEN_VT_TOOL_REPORT_HPP
#define HEYGEN_VT_TOOL_REPORT_HPP

#include "args.hpp"

#include <heygen/video_translation.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace heygen_vt {

/// How a result counts towards the exit status.
enum class Outcome { completed, failed, unavailable, unfinished, cancelled };

/// Sorts a result into what the user must do about it. A timeout without a single good answer means the
/// server could not be reached, not that the job is slow.
inline Outcome classify(const heygen::TranslationResult& result) {
  using heygen::FailureCause;
  switch (result.cause) {
    case FailureCause::none: return result.ok() ? Outcome::completed : Outcome::unfinished;
    case FailureCause::job_failed:
    case FailureCause::unknown_job:
    case FailureCause::unexpected_result:
    case FailureCause::unknown_outcome: return Outcome::failed;
    case FailureCause::transport:
    case FailureCause::http_status:
    case FailureCause::bad_response: return Outcome::unavailable;
    case FailureCause::cancelled: return Outcome::cancelled;
    case FailureCause::deadline: break;
  }
  const bool answered = result.http_status >= 200 && result.http_status <= 299;
  return result.requests > 0 && !answered ? Outcome::unavailable : Outcome::unfinished;
}

/// The outcome's name for the table and JSON; unfinished jobs say whether they are pending or timed out.
inline std::string outcome_name(const heygen::TranslationResult& result) {
  switch (classify(result)) {
    case Outcome::completed: return "completed";
    case Outcome::failed: return "failed";
    case Outcome::unavailable: return "unavailable";
    case Outcome::cancelled: return "cancelled";
    case Outcome::unfinished: break;
  }
  return std::string(heygen::to_string(result.status));
}

/// One job's id and result, in the order the user named them.
struct JobReport {
  std::string id;
  heygen::TranslationResult result;
};

/// The exit status for a set of jobs, by the precedence --help documents.
inline int exit_status(const std::vector<JobReport>& jobs, bool interrupted) {
  if (interrupted) return exit_interrupted;
  std::set<Outcome> seen;
  for (const auto& job : jobs) seen.insert(classify(job.result));
  if (seen.contains(Outcome::failed)) return exit_failed;
  if (seen.contains(Outcome::unavailable)) return exit_unavailable;
  if (seen.contains(Outcome::unfinished) || seen.contains(Outcome::cancelled)) return exit_unfinished;
  return exit_completed;
}

/// A JSON string literal (picojson does the escaping).
inline std::string json_string(const std::string& text) { return picojson::value(text).serialize(); }

/// What a job produced as a JSON object (absent values are null), or null when the server named nothing.
inline std::string json_outputs(const heygen::JobOutputs& outputs) {
  if (outputs.empty()) return "null";
  auto optional = [](const auto& value) { return value ? picojson::value(*value) : picojson::value(); };
  picojson::array captions;
  for (const auto& url : outputs.caption_urls) captions.emplace_back(url);
  picojson::object out;
  out["video_url"] = optional(outputs.video_url);
  out["audio_url"] = optional(outputs.audio_url);
  out["caption_urls"] = picojson::value(std::move(captions));
  out["output_language"] = optional(outputs.output_language);
  out["duration_seconds"] = optional(outputs.duration_seconds);
  return picojson::value(std::move(out)).serialize();
}

/// One job as a JSON object; absent values are null. `with_outputs` adds "outputs" (--api heygen-v3).
inline std::string json_job(const JobReport& job, bool with_outputs) {
  const auto& r = job.result;
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.3f", std::chrono::duration<double>(r.elapsed).count());
  const bool has_cause = r.cause != heygen::FailureCause::none;
  std::string out = "{\"id\":" + json_string(job.id);
  out += ",\"outcome\":" + json_string(outcome_name(r));
  out += ",\"status\":" + json_string(std::string(heygen::to_string(r.status)));
  out += ",\"cause\":" + (has_cause ? json_string(std::string(heygen::to_string(r.cause))) : std::string("null"));
  out += ",\"error_message\":" + (r.error_message ? json_string(*r.error_message) : std::string("null"));
  out += ",\"http_status\":" + std::to_string(r.http_status);
  out += ",\"requests\":" + std::to_string(r.requests);
  out += std::string(",\"elapsed\":") + elapsed;
  if (with_outputs) out += ",\"outputs\":" + json_outputs(r.outputs);
  return out + "}";
}

/// Every job as one JSON array, one object per line.
inline void print_json(const std::vector<JobReport>& jobs, bool with_outputs) {
  std::printf("[");
  for (std::size_t i = 0; i < jobs.size(); ++i)
    std::printf("%s\n %s", i == 0 ? "" : ",", json_job(jobs[i], with_outputs).c_str());
  std::printf("\n]\n");
}

/// What a job produced, one indented line per thing the server named (nothing when it named nothing).
inline void print_outputs(const heygen::JobOutputs& outputs) {
  if (outputs.output_language) std::printf("  language: %s\n", outputs.output_language->c_str());
  if (outputs.duration_seconds) std::printf("  duration: %.1f s\n", *outputs.duration_seconds);
  if (outputs.video_url) std::printf("  video: %s\n", outputs.video_url->c_str());
  if (outputs.audio_url) std::printf("  audio: %s\n", outputs.audio_url->c_str());
  for (const auto& url : outputs.caption_urls) std::printf("  captions: %s\n", url.c_str());
}

/// What a command cost as a whole, for the summary line.
struct Totals {
  int http_requests = 0;
  double seconds = 0;
};

/// The per-job table and a summary line; under a job's row, what it produced (when the server said). A job's
/// `requests` counts every request that named it, so a batch request counts once per job; the summary's
/// http_requests is what went over the wire. The id column is as wide as the longest id (at least 20).
inline void print_table(const std::vector<JobReport>& jobs, const Totals& totals) {
  int width = 20;
  for (const auto& job : jobs) width = std::max(width, static_cast<int>(job.id.size()));
  std::printf("%-*s %-11s %-18s %8s %8s  %s\n", width, "id", "outcome", "cause", "requests", "seconds", "message");
  std::map<Outcome, int> counts;
  for (const auto& [id, r] : jobs) {
    ++counts[classify(r)];
    std::printf("%-*s %-11s %-18s %8d %8.2f  %s\n", width, id.c_str(), outcome_name(r).c_str(),
                r.cause == heygen::FailureCause::none ? "-" : std::string(heygen::to_string(r.cause)).c_str(),
                r.requests, std::chrono::duration<double>(r.elapsed).count(), r.error_message.value_or("").c_str());
    print_outputs(r.outputs);
  }
  std::printf(
      "summary: jobs=%zu completed=%d failed=%d unavailable=%d unfinished=%d cancelled=%d http_requests=%d "
      "seconds=%.2f\n",
      jobs.size(), counts[Outcome::completed], counts[Outcome::failed], counts[Outcome::unavailable],
      counts[Outcome::unfinished], counts[Outcome::cancelled], totals.http_requests, totals.seconds);
}

/// A live one-line progress view on stderr, only when stderr is a terminal.
class ProgressLine {
 public:
  /// Shows the line (all pending) when `total` jobs are tracked on a terminal.
  explicit ProgressLine(std::size_t total) : enabled_(isatty(STDERR_FILENO) != 0), total_(total) { draw(0); }

  /// Counts one result as it arrives (the library serializes these calls).
  void update(const heygen::TranslationResult& result, heygen::BulkProgress progress) {
    if (!result.ok()) ++failed_;
    draw(progress.done);
  }

  /// Clears the line so what follows starts on a clean one.
  void clear() const {
    if (enabled_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  void draw(std::size_t done) const {
    if (!enabled_) return;
    std::fprintf(stderr, "\r%zu/%zu done, %zu failed, %zu pending\033[K", done, total_, failed_, total_ - done);
    std::fflush(stderr);
  }

  bool enabled_;
  std::size_t total_;
  std::size_t failed_ = 0;
};

}  // namespace heygen_vt

#endif  // HEYGEN_VT_TOOL_REPORT_HPP
