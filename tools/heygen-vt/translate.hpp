// heygen-vt translate: local video files in, translated files out, with a live line and a table at the end.
#ifndef HEYGEN_VT_TOOL_TRANSLATE_HPP
#define HEYGEN_VT_TOOL_TRANSLATE_HPP

#include <unistd.h>
#include <heygen/video_translation.hpp>

#include <cstdio>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "args.hpp"
#include "report.hpp"

namespace heygen_vt {

/// One row of translate's report: a file and a language, the job, how it ended and what was written.
struct TranslateRow {
  std::string file;                 ///< The source file.
  heygen::TranslatedOutput output;  ///< The language, job, result, files written, or the error.
};

/// A live one-line view of translate on stderr (only on a terminal): the latest step of any file.
class TranslateLine {
 public:
  TranslateLine() : enabled_(isatty(STDERR_FILENO) != 0) {}

  /// Shows `step` of `file` (called from the files' threads at once).
  void show(const std::string& file, const heygen::TranslateProgress& step) {
    if (!enabled_) return;
    std::lock_guard lock(mutex_);
    using Phase = heygen::TranslateProgress::Phase;
    const int percent =
        step.total == 0 ? 0
                        : static_cast<int>(100.0 * static_cast<double>(step.done) / static_cast<double>(step.total));
    if (step.phase == Phase::uploading)
      std::fprintf(stderr, "\r%s: uploading %d%%\033[K", file.c_str(), percent);
    else if (step.phase == Phase::downloading)
      std::fprintf(stderr, "\r%s: %s: downloading %d%%\033[K", file.c_str(), std::string(step.language).c_str(),
                   percent);
    else if (step.result != nullptr)
      std::fprintf(stderr, "\r%s: %s: %s\033[K", file.c_str(), std::string(step.language).c_str(),
                   outcome_name(*step.result).c_str());
    else
      std::fprintf(stderr, "\r%s: translating\033[K", file.c_str());
    std::fflush(stderr);
  }

  /// Clears the line.
  void clear() {
    std::lock_guard lock(mutex_);
    if (enabled_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool enabled_;
  std::mutex mutex_;
};

/// The row for a file that failed before any job existed (it could not be read, uploaded or its jobs created).
inline TranslateRow failed_file(const std::string& file, const std::string& why, heygen::FailureCause cause) {
  TranslateRow row{file, {}};
  row.output.result.status = heygen::TranslationStatus::error;
  row.output.result.cause = cause;
  row.output.result.error_message = why;
  row.output.error = why;
  return row;
}

/// How a row counts towards the exit status: a completed job whose outputs could not be written is unavailable.
inline JobReport as_job(const TranslateRow& row) {
  JobReport job{row.output.job_id, row.output.result};
  if (job.result.ok() && !row.output.error.empty()) {
    job.result.status = heygen::TranslationStatus::error;
    job.result.cause = heygen::FailureCause::transport;
  }
  return job;
}

/// Prints the rows as a table: file, language, job, status, then each file written (or the error).
inline void print_translated(const std::vector<TranslateRow>& rows) {
  std::printf("%-24s %-18s %-28s %-11s %s\n", "file", "language", "job", "status", "written");
  for (const auto& row : rows) {
    const auto& out = row.output;
    const std::string status = out.error.empty() ? outcome_name(out.result) : "failed";
    const std::string first = out.files.empty() ? out.error : out.files.front().path;
    std::printf("%-24s %-18s %-28s %-11s %s\n", row.file.c_str(), out.language.c_str(), out.job_id.c_str(),
                status.c_str(), first.c_str());
    for (std::size_t i = 1; i < out.files.size(); ++i)
      std::printf("%-24s %-18s %-28s %-11s %s\n", "", "", "", "", out.files[i].path.c_str());
  }
}

/// Prints the rows as one JSON array of {file, language, id, status, error, files: [{path, bytes}]}.
inline void print_translated_json(const std::vector<TranslateRow>& rows) {
  picojson::array out;
  for (const auto& row : rows) {
    picojson::object entry;
    entry["file"] = picojson::value(row.file);
    entry["language"] = picojson::value(row.output.language);
    entry["id"] = picojson::value(row.output.job_id);
    entry["status"] = picojson::value(row.output.error.empty() ? outcome_name(row.output.result) : "failed");
    entry["error"] = row.output.error.empty() ? picojson::value() : picojson::value(row.output.error);
    picojson::array written;
    for (const auto& file : row.output.files) {
      picojson::object item;
      item["path"] = picojson::value(file.path);
      item["bytes"] = picojson::value(static_cast<double>(file.bytes));
      written.emplace_back(std::move(item));
    }
    entry["files"] = picojson::value(std::move(written));
    out.emplace_back(std::move(entry));
  }
  std::printf("%s\n", picojson::value(std::move(out)).serialize().c_str());
}

}  // namespace heygen_vt

#endif  // HEYGEN_VT_TOOL_TRANSLATE_HPP
