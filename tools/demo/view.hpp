// What the demo shows while and after it tracks the jobs: the live progress, and the lags the simulator measured.
#ifndef HEYGEN_VT_DEMO_VIEW_HPP
#define HEYGEN_VT_DEMO_VIEW_HPP

#include <heygen/video_translation.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "status_simulator.hpp"

namespace demo {

/// Shows progress on one rewritten line on a terminal, or a plain line per result otherwise.
class ProgressView {
 public:
  ProgressView() : terminal_(isatty(fileno(stdout)) != 0) {}

  void update(const std::string& job_id, const heygen::TranslationResult& result, heygen::BulkProgress progress) {
    ++counts_[result.status];
    if (terminal_) {
      std::printf("\r  tracking: %zu/%zu done  completed=%d failed=%d timeout=%d ", progress.done, progress.total,
                  counts_[heygen::TranslationStatus::completed], counts_[heygen::TranslationStatus::error],
                  counts_[heygen::TranslationStatus::timeout]);
      if (progress.done == progress.total) std::printf("\n");
    } else {
      std::printf("  [%zu/%zu] %s %s\n", progress.done, progress.total, job_id.c_str(),
                  std::string(heygen::to_string(result.status)).c_str());
    }
    std::fflush(stdout);
  }

 private:
  bool terminal_;
  std::map<heygen::TranslationStatus, int> counts_;
};

/// The server's view of each job's detection lag, when the server is our simulator.
inline std::map<std::string, double> server_lags(const heygen::sim::StatusSimulator* simulator) {
  std::map<std::string, double> lags;
  if (simulator == nullptr) return lags;
  for (const auto& job : simulator->stats().jobs)
    if (job.lag_ms) lags[job.job_id] = *job.lag_ms;
  return lags;
}

/// The p-quantile of `values` (nearest rank), 0 when there are none.
inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

}  // namespace demo

#endif  // HEYGEN_VT_DEMO_VIEW_HPP
