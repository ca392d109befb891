// Shared by the polling benchmarks: workloads, figures and the table they print.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace bench {

/// A distribution of job durations, in seconds.
struct Workload {
  std::string name;
  double (*draw_fn)(std::mt19937_64&);
  /// One duration.
  double draw(std::mt19937_64& rng) const { return draw_fn(rng); }
};

/// The three workloads: the seed's uniform 20–40 s, a heavy-tailed lognormal, and a fixed 5 s.
inline std::vector<Workload> workloads() {
  return {
      {"uniform-20-40", [](std::mt19937_64& rng) { return std::uniform_real_distribution<double>(20.0, 40.0)(rng); }},
      {"lognormal-60",
       [](std::mt19937_64& rng) { return 60.0 * std::exp(std::normal_distribution<double>(0.0, 1.0)(rng)); }},
      {"fixed-5", [](std::mt19937_64&) { return 5.0; }},
  };
}

/// HeyGen's real translations: lognormal around a median of 8 minutes, 480 s × exp(N(0, 0.5)).
inline Workload heygen_like() {
  return {"heygen-like",
          [](std::mt19937_64& rng) { return 480.0 * std::exp(std::normal_distribution<double>(0.0, 0.5)(rng)); }};
}

/// Requests and detection lags of one workload × strategy run.
struct Figures {
  int jobs = 0;
  long long requests = 0;
  long long fetches = 0;     // requests for a completed job's outputs, besides the status requests
  double duration_sum = 0;   // seconds, over the jobs
  std::vector<double> lags;  // seconds, one per job

  double requests_per_job() const { return jobs ? static_cast<double>(requests) / jobs : 0.0; }
  double fetches_per_job() const { return jobs ? static_cast<double>(fetches) / jobs : 0.0; }
  double mean_duration() const { return jobs ? duration_sum / jobs : 0.0; }
  double mean() const {
    double sum = 0;
    for (double lag : lags) sum += lag;
    return lags.empty() ? 0.0 : sum / static_cast<double>(lags.size());
  }
  double percentile(double p) {
    if (lags.empty()) return 0.0;
    std::sort(lags.begin(), lags.end());
    const auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(lags.size()))) - 1;
    return lags[std::min(index, lags.size() - 1)];
  }
};

/// Prints rows as an aligned table or as CSV with the fixed header.
class Table {
 public:
  explicit Table(bool csv) : csv_(csv) {
    if (csv_)
      std::printf("workload,strategy,jobs,requests_per_job,lag_mean_s,lag_p95_s,lag_max_s\n");
    else
      std::printf("%-18s %-10s %7s %13s %11s %10s %10s\n", "workload", "strategy", "jobs", "requests/job", "lag mean s",
                  "lag p95 s", "lag max s");
    std::fflush(stdout);
  }
  void row(const std::string& workload, const std::string& strategy, Figures figures) const {
    const double p95 = figures.percentile(0.95);
    const double max = figures.percentile(1.0);
    if (csv_)
      std::printf("%s,%s,%d,%.3f,%.4f,%.4f,%.4f\n", workload.c_str(), strategy.c_str(), figures.jobs,
                  figures.requests_per_job(), figures.mean(), p95, max);
    else
      std::printf("%-18s %-10s %7d %13.2f %11.3f %10.3f %10.3f\n", workload.c_str(), strategy.c_str(), figures.jobs,
                  figures.requests_per_job(), figures.mean(), p95, max);
    std::fflush(stdout);
  }

 private:
  bool csv_;
};

}  // namespace bench
