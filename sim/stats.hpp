// The server-side truth the simulator records for measuring clients: per job, when it really finished and
// when an answer first reported it finished and when a webhook push delivered it, plus request, fault and push
// counters; and its JSON form (GET /stats).
#ifndef HEYGEN_SIM_STATS_HPP
#define HEYGEN_SIM_STATS_HPP

#include "support.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace heygen::sim {

/// How a job ends; decided once, at creation.
enum class JobOutcome { completed, error };

/// "completed" or "error".
inline std::string_view to_string(JobOutcome outcome) noexcept {
  return outcome == JobOutcome::error ? "error" : "completed";
}

/// Server-side truth about one job. Times are milliseconds since StatusSimulator::start().
struct JobStats {
  /// The job's id.
  std::string job_id;
  /// When it was created.
  double created_ms = 0;
  /// When it really left pending.
  double completes_ms = 0;
  /// How it ended.
  JobOutcome outcome = JobOutcome::completed;
  /// Status requests naming it (per-job GETs and batch inclusions, faulted ones too).
  std::uint64_t status_requests = 0;
  /// When an answer first reported it terminal, if one has.
  std::optional<double> first_terminal_seen_ms;
  /// first_terminal_seen_ms - completes_ms: how late the client learnt the outcome.
  std::optional<double> lag_ms;
  /// When a webhook push of its final status was first answered 2xx (replays not counted), if one was.
  std::optional<double> push_delivered_ms;
};

/// How many faults of each kind were injected.
struct FaultCounts {
  /// 500 answers.
  std::uint64_t fail_5xx = 0;
  /// 429 answers.
  std::uint64_t throttle = 0;
  /// 503 answers.
  std::uint64_t unavailable = 0;
  /// Connections closed unanswered.
  std::uint64_t drop = 0;
  /// Truncated bodies.
  std::uint64_t malformed = 0;
  /// Creates committed then closed unanswered.
  std::uint64_t drop_after_commit = 0;

  /// All kinds together.
  std::uint64_t total() const noexcept {
    return fail_5xx + throttle + unavailable + drop + malformed + drop_after_commit;
  }
};

/// What the webhook sender did. A push is one job's notification; a POST is one attempt to deliver it.
struct PushCounts {
  /// POSTs answered 2xx (first attempts, retries, duplicates and replays alike).
  std::uint64_t sent = 0;
  /// Pushes (or their duplicates) given up after the last retry.
  std::uint64_t failed = 0;
  /// Pushes never sent (the lost fault).
  std::uint64_t lost = 0;
  /// Pushes sent a second time (the duplicate fault).
  std::uint64_t duplicated = 0;
  /// Pushes signed with another secret (the bad-signature fault).
  std::uint64_t bad_signature = 0;
  /// Earlier deliveries POSTed again byte for byte (the replay fault).
  std::uint64_t replayed = 0;
  /// POSTs that were retries after a connection failure or a non-2xx answer.
  std::uint64_t retries = 0;
  /// Forged pushes sent (wrong or missing callback_id, or a false outcome), whether answered 2xx or not.
  std::uint64_t forged = 0;
};

/// What heygen_v3's object store did: presigned file GETs, upload PUTs, and the storage faults injected.
struct StorageCounts {
  /// Direct uploads handed out (POST /v3/assets/direct-uploads) and multipart uploads received (POST /v3/assets).
  std::uint64_t uploads_started = 0;
  /// Assets whose bytes are all in: a direct upload's first complete, or a multipart upload taken.
  std::uint64_t uploads_completed = 0;
  /// Upload PUT requests, answered or not.
  std::uint64_t upload_puts = 0;
  /// Body bytes read by upload PUTs, cut and refused ones too.
  std::uint64_t upload_bytes_received = 0;
  /// GET (and HEAD) requests for output files, refused ones too.
  std::uint64_t file_gets = 0;
  /// File GETs that asked for a byte range.
  std::uint64_t range_gets = 0;
  /// Output file bytes written to clients.
  std::uint64_t bytes_served = 0;
  /// Storage requests refused with 403 (expired or forged URL, size or Content-Type not as signed).
  std::uint64_t storage_403s = 0;
  /// Storage requests that carried an X-Api-Key or Authorization header (a client should never send its key).
  std::uint64_t storage_requests_with_api_key = 0;
  /// Bodies cut mid-way (GET or PUT).
  std::uint64_t cuts = 0;
  /// PUTs answered 500 or 503.
  std::uint64_t fail_5xx = 0;
  /// GETs that declared more bytes than they sent.
  std::uint64_t wrong_lengths = 0;
  /// GETs answered with an HTML error page.
  std::uint64_t html_errors = 0;
};

/// Totals over the simulator's lifetime.
struct StatsTotals {
  /// Jobs created.
  std::uint64_t jobs = 0;
  /// HTTP requests to POST /create_job.
  std::uint64_t create_requests = 0;
  /// Creates answered with an existing job because of their Idempotency-Key.
  std::uint64_t idempotent_replays = 0;
  /// HTTP requests on status paths (per-job, original form and batch).
  std::uint64_t status_requests = 0;
  /// Per-job status looks: per-job requests plus every id a batch named.
  std::uint64_t job_status_looks = 0;
  /// HTTP requests to POST /status/batch.
  std::uint64_t batch_requests = 0;
  /// Jobs some answer has reported terminal (the jobs the lag figures cover).
  std::uint64_t jobs_seen_terminal = 0;
  /// Mean lag over jobs_seen_terminal, 0 when there are none.
  double lag_mean_ms = 0;
  /// 95th percentile lag (nearest rank), 0 when there are none.
  double lag_p95_ms = 0;
  /// Largest lag, 0 when there are none.
  double lag_max_ms = 0;
  /// Faults injected, all kinds.
  std::uint64_t faults_injected = 0;
  /// Faults injected, by kind.
  FaultCounts faults;
  /// Webhook pushes.
  PushCounts pushes;
  /// heygen_v3's object store.
  StorageCounts storage;
};

/// A snapshot of the server-side truth, for measuring clients without parsing JSON.
struct SimulatorStats {
  /// Milliseconds since start().
  double uptime_ms = 0;
  /// Every job, in creation order.
  std::vector<JobStats> jobs;
  /// Figures over all jobs and requests.
  StatsTotals totals;
};

/// The JSON served by GET /stats.
inline std::string to_json(const SimulatorStats& stats) {
  std::string jobs = "[";
  for (const auto& job : stats.jobs) {
    if (jobs.size() > 1) jobs += ',';
    jobs += detail::JsonObject{}
                .str("job_id", job.job_id)
                .num("created_ms", job.created_ms)
                .num("completes_ms", job.completes_ms)
                .str("outcome", to_string(job.outcome))
                .count("status_requests", job.status_requests)
                .maybe("first_terminal_seen_ms", job.first_terminal_seen_ms)
                .maybe("lag_ms", job.lag_ms)
                .maybe("push_delivered_ms", job.push_delivered_ms)
                .done();
  }
  jobs += ']';
  const auto& t = stats.totals;
  const auto& f = t.faults;
  auto faults = detail::JsonObject{}
                    .count("fail_5xx", f.fail_5xx)
                    .count("throttle", f.throttle)
                    .count("unavailable", f.unavailable)
                    .count("drop", f.drop)
                    .count("malformed", f.malformed)
                    .count("drop_after_commit", f.drop_after_commit)
                    .done();
  const auto& s = t.storage;
  auto storage = detail::JsonObject{}
                     .count("uploads_started", s.uploads_started)
                     .count("uploads_completed", s.uploads_completed)
                     .count("upload_puts", s.upload_puts)
                     .count("upload_bytes_received", s.upload_bytes_received)
                     .count("file_gets", s.file_gets)
                     .count("range_gets", s.range_gets)
                     .count("bytes_served", s.bytes_served)
                     .count("storage_403s", s.storage_403s)
                     .count("storage_requests_with_api_key", s.storage_requests_with_api_key)
                     .count("cuts", s.cuts)
                     .count("fail_5xx", s.fail_5xx)
                     .count("wrong_lengths", s.wrong_lengths)
                     .count("html_errors", s.html_errors)
                     .done();
  auto totals = detail::JsonObject{}
                    .count("jobs", t.jobs)
                    .count("create_requests", t.create_requests)
                    .count("idempotent_replays", t.idempotent_replays)
                    .count("status_requests", t.status_requests)
                    .count("job_status_looks", t.job_status_looks)
                    .count("batch_requests", t.batch_requests)
                    .count("jobs_seen_terminal", t.jobs_seen_terminal)
                    .num("lag_mean_ms", t.lag_mean_ms)
                    .num("lag_p95_ms", t.lag_p95_ms)
                    .num("lag_max_ms", t.lag_max_ms)
                    .count("faults_injected", t.faults_injected)
                    .raw("faults", faults)
                    .count("pushes_sent", t.pushes.sent)
                    .count("pushes_failed", t.pushes.failed)
                    .count("pushes_lost", t.pushes.lost)
                    .count("pushes_duplicated", t.pushes.duplicated)
                    .count("pushes_bad_signature", t.pushes.bad_signature)
                    .count("pushes_replayed", t.pushes.replayed)
                    .count("push_retries", t.pushes.retries)
                    .count("pushes_forged", t.pushes.forged)
                    .raw("storage", storage)
                    .done();
  return detail::JsonObject{}.num("uptime_ms", stats.uptime_ms).raw("jobs", jobs).raw("totals", totals).done();
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_STATS_HPP
