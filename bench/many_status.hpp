// Shared by the benchmarks that drive the real client in virtual time (FakeTransport, a fake clock): a fake
// server's jobs, its answers to HeyGen's many-status endpoint, and a run of many jobs tracked together through it.
#pragma once

#include <heygen/video_translation.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../tests/fakes.hpp"
#include "polling_common.hpp"

namespace bench {

/// What the fake server knows about one job being tracked.
struct FakeJob {
  heygen::TimePoint done_at{};
  double duration_s = 0;
  double eta_factor = 1;  // this job's eta error, fixed at creation as a real estimate's would be
  bool reported = false;
  double lag_s = 0;
};

/// Answers HeyGen's `GET .../v3/video-translations/statuses?video_translation_ids=a,b,...` at once, from the jobs'
/// timelines (ids are "<index>"), and one job's own look (`GET .../v3/video-translations/<index>`): for its outputs
/// once a many-status answer reported it completed (a fetch), else a status request like the others (the poller
/// looks at a last job alone on its own). Counts each kind.
template <class AnyClock>
heygen::HttpResponse answer_statuses(const heygen::HttpRequest& request, std::vector<FakeJob>& jobs,
                                     const AnyClock& clock, long long& requests, long long& fetches) {
  using heygen::Seconds;
  const heygen::TimePoint now = clock.now();
  if (request.target.find("/statuses?") == std::string::npos) {
    const std::string id = request.target.substr(request.target.rfind('/') + 1);
    FakeJob& job = jobs.at(std::stoul(id));
    const bool fetch = job.reported;
    (fetch ? fetches : requests)++;
    const bool done = now >= job.done_at;
    if (done && !job.reported) {
      job.reported = true;
      job.lag_s = Seconds(now - job.done_at).count();
    }
    return heygen::testing::answer(
        200, done ? R"({"data": {"id": ")" + id + R"(", "status": "completed", "video_url": "https://v"}})"
                  : R"({"data": {"id": ")" + id + R"(", "status": "running"}})");
  }
  ++requests;
  const std::string_view list = std::string_view(request.target).substr(request.target.find('=') + 1);
  std::string body = R"({"data": [)";
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string id(list.substr(start, comma - start));
    FakeJob& job = jobs.at(std::stoul(id));
    const bool done = now >= job.done_at;
    if (done && !job.reported) {
      job.reported = true;
      job.lag_s = Seconds(now - job.done_at).count();
    }
    body += (start ? R"(, {"video_id": ")" : R"({"video_id": ")") + id + R"(", "status": ")" +
            (done ? "completed" : "processing") + R"("})";
    start = comma + 1;
  }
  body += R"(], "has_more": false, "next_token": null})";
  heygen::HttpResponse response;
  response.status = 200;
  response.body = std::move(body);
  return response;
}

/// What a many-status run measured.
struct ManyStatusRun {
  Figures figures;              // status requests (many-status ones) and each job's detection lag
  long long fetches = 0;        // a completed job's own look for its outputs, besides the status requests
  std::uint64_t job_looks = 0;  // jobs looked at: each many-status request counts once per id it names
  double mean_duration_s = 0;   // the measured batch's mean job duration
};

/// `jobs` jobs created at once and tracked together by one bulk call through HeyGen's v3 protocol (its many-status
/// endpoint, 100 ids a request, no long poll), after `warmup_batches` such batches the policy learns from.
/// `options` gives the policy and the rest (its `random` is replaced by the run's seeded one); a concurrent_limit
/// of 1 keeps one request in flight. `setup(client, clock, batch)` runs once the client is made: e.g. to
/// deliver pushes from a clock of the caller's (AnyClock needs a default constructor and now()).
template <class AnyClock = heygen::testing::FakeClock, class Setup>
ManyStatusRun run_many_status(const Workload& workload, heygen::ClientOptions options, int jobs, int warmup_batches,
                              std::uint64_t seed, Setup&& setup) {
  using heygen::Seconds;
  using heygen::TimePoint;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  AnyClock clock;
  heygen::testing::FakeTransport transport;
  std::vector<FakeJob> batch;
  long long requests = 0;
  long long fetches = 0;
  transport.otherwise(
      [&](const heygen::HttpRequest& request) { return answer_statuses(request, batch, clock, requests, fetches); });
  options.random = [&] { return unit(rng); };
  heygen::BasicVideoTranslationClient<heygen::testing::FakeTransport, AnyClock, heygen::HeyGenV3Protocol> client(
      options, transport, clock);
  setup(client, clock, batch);
  ManyStatusRun run;
  for (int round = 0; round <= warmup_batches; ++round) {
    batch.assign(static_cast<std::size_t>(jobs), FakeJob{});
    std::vector<std::string> ids;
    double total_s = 0;
    for (int i = 0; i < jobs; ++i) {
      FakeJob& job = batch[static_cast<std::size_t>(i)];
      job.duration_s = workload.draw(rng);
      total_s += job.duration_s;
      job.done_at = clock.now() + std::chrono::duration_cast<TimePoint::duration>(Seconds(job.duration_s));
      ids.push_back(std::to_string(i));
    }
    requests = fetches = 0;
    const std::uint64_t looks_before = client.poller_stats().job_looks;
    client.get_bulk_translation_statuses(ids, 1);
    run.job_looks = client.poller_stats().job_looks - looks_before;
    run.mean_duration_s = jobs ? total_s / jobs : 0.0;
    clock.advance(std::chrono::milliseconds(1));
  }
  run.figures.jobs = jobs;
  for (const FakeJob& job : batch) {
    run.figures.lags.push_back(job.lag_s);
    run.figures.duration_sum += job.duration_s;
  }
  run.figures.requests = requests;
  run.fetches = fetches;
  return run;
}

/// run_many_status() with nothing to set up.
template <class AnyClock = heygen::testing::FakeClock>
ManyStatusRun run_many_status(const Workload& workload, heygen::ClientOptions options, int jobs, int warmup_batches,
                              std::uint64_t seed) {
  return run_many_status<AnyClock>(workload, std::move(options), jobs, warmup_batches, seed,
                                   [](auto&, auto&, auto&) {});
}

/// Scales every time in a policy, so a run with jobs `scale` times shorter keeps the same shape.
inline void scale_policy(heygen::PollPolicy& policy, double scale) {
  for (heygen::Seconds* time : {&policy.initial_interval, &policy.cold_cap, &policy.min_interval, &policy.max_interval,
                                &policy.long_poll, &policy.coalesce, &policy.many_status_interval})
    *time = *time * scale;
}

}  // namespace bench
