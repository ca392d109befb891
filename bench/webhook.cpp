// bench/webhook: what pushes (webhooks) save over polling, and what is left when pushes go missing or are forged.
//
// Real runs, over loopback, against status_server speaking HeyGen's v3 API in its own process: --jobs jobs
// (default 1,000; --quick: 200 of half the length) of heygen-like durations (lognormal, median 8 min,
// sigma 0.5) scaled by --scale (default 5/480: a median of 5 s), created from 4 threads and each watched on one
// client. Every time of the client's policy (PollPolicy::long_jobs()) and of its safety net (30 s) is scaled by
// the same factor. Side by side:
//   polling     no webhook_url: polling alone;
//   webhooks    webhook_url is a WebhookReceiver's, every push delivered;
//   lost-10%    the simulator loses 10 % of the pushes: the safety net must catch each within
//               max(30 s, 10 % of the job's age), scaled;
//   hostile     the simulator signs 5 % of the pushes with another secret and replays 5 % of them, and this
//               benchmark POSTs forged, altered, replayed and oversized pushes to the receiver itself.
// Those four sign every push (as HeyGen signs pushes to a registered endpoint). HeyGen's per-job callback_url
// pushes are unsigned: each is a hint, confirmed by one look (WebhookOptions::trust = confirm, no secret):
//   confirm     every push unsigned and delivered;
//   confirm-bad every job also gets a forged push mid-job with its right callback_id and the outcome it will not
//               have, and this benchmark floods one pending job with 100 copies of such a hint.
// Status requests come from the simulator's /stats; lag is from a job's end (its completes_ms) to the moment the
// caller's callback got the result, on one clock (the simulator's epoch located through /stats' uptime_ms).
// Every result is checked against the simulator's truth (outcome, never before the job's end).
// Then a virtual-time scale model (the real client on FakeTransport and a fake clock): status requests per second
// for 1,000,000 heygen-like jobs in flight with webhooks and safety polling through HeyGen's /statuses endpoint.
// A benchmark: figures and floors are printed, not asserted.
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "many_status.hpp"
#include "polling_common.hpp"
#include "server_process.hpp"

namespace {

using namespace heygen;
using Steady = std::chrono::steady_clock;

/// The signing secret the simulator and the client share.
constexpr std::string_view push_secret = "bench-webhook-secret";
/// The API key the simulator expects (its default).
constexpr std::string_view api_key = "sim-key";
/// A header this benchmark puts on the pushes it sends itself, to count their verdicts apart (nothing signs it).
constexpr std::string_view bench_header = "X-Bench-Push";
/// Threads that create jobs.
constexpr int creator_threads = 4;

/// What the command line asked for.
struct Options {
  int jobs = 1000;
  double scale = 5.0 / 480.0;
  int virtual_jobs = 10000;
  std::string server;
};

/// The real runs.
enum class Mode { polling, webhooks, lost, hostile, confirm, confirm_hostile };

/// Whether a mode's pushes are unsigned hints, confirmed by a look.
bool confirms(Mode mode) { return mode == Mode::confirm || mode == Mode::confirm_hostile; }

/// Hints this benchmark POSTs for one pending job in confirm-bad.
constexpr int flood_hints = 100;

const char* label(Mode mode) {
  switch (mode) {
    case Mode::polling: return "polling";
    case Mode::webhooks: return "webhooks";
    case Mode::lost: return "lost-10%";
    case Mode::hostile: return "hostile";
    case Mode::confirm: return "confirm";
    case Mode::confirm_hostile: return "confirm-bad";
  }
  return "?";
}

/// status_server's flags for a mode: HeyGen's v3 API, scaled heygen-like durations, 5 % of jobs failing.
std::vector<std::string> server_flags(Mode mode, double scale) {
  char duration[64];
  std::snprintf(duration, sizeof duration, "heygen-like:%.9g", scale);
  std::vector<std::string> flags{
      "--api", "heygen-v3", "--duration",         duration,           "--error-rate",          "0.05", "--seed",
      "7",     "--api-key", std::string(api_key), "--webhook-secret", std::string(push_secret)};
  if (mode == Mode::lost) flags.insert(flags.end(), {"--webhook-lost", "0.1"});
  if (mode == Mode::hostile) flags.insert(flags.end(), {"--webhook-bad-signature", "0.05", "--webhook-replay", "0.05"});
  flags.insert(flags.end(), {"--heygen-callback-signing", confirms(mode) ? "unsigned" : "signed"});
  if (mode == Mode::confirm_hostile) flags.insert(flags.end(), {"--webhook-forged-outcome", "1"});
  return flags;
}

/// The client's options: long_jobs() (as heygen_v3_options sets it) with every time scaled, and for the push
/// modes a webhook_url, the shared secret (none when confirming) and the safety net scaled.
ClientOptions client_options(const std::string& base_url, const std::string& webhook_url, Mode mode, double scale) {
  ClientOptions options = heygen_v3_options(std::string(api_key), base_url);
  options.max_timeout = Seconds(600);
  options.connection_pool_size = 16;
  bench::scale_policy(options.polling, scale);
  options.webhook_url = webhook_url;
  if (confirms(mode)) {
    options.webhook.trust = PushTrust::confirm;
  } else {
    options.webhook.secret = std::string(push_secret);
  }
  options.webhook.safety_interval = options.webhook.safety_interval * scale;
  return options;
}

// ---- the receiver side: verdicts counted, genuine pushes kept for replays ----

/// Counts of each WebhookVerdict.
using VerdictCounts = std::array<std::atomic<long long>, 9>;
static_assert(static_cast<std::size_t>(WebhookVerdict::bad_callback) + 1 == std::tuple_size_v<VerdictCounts>);

/// Wraps client.webhook_handler(): counts each verdict, the simulator's pushes apart from this benchmark's, and
/// keeps the first genuine accepted pushes (headers and body) for replaying them later.
class PushDesk {
 public:
  /// The client's handler; set once, before the first create (so before any push can arrive).
  void attach(std::function<WebhookReply(const std::vector<HttpHeader>&, std::string_view)> inner) {
    inner_ = std::move(inner);
    ready_.store(true, std::memory_order_release);
  }

  /// The receiver's handler: the client's verdict, counted.
  WebhookReply take(const std::vector<HttpHeader>& headers, std::string_view body) {
    if (!ready_.load(std::memory_order_acquire)) return {WebhookVerdict::unknown_job, 503, "not ready"};
    const bool ours = std::any_of(headers.begin(), headers.end(),
                                  [](const HttpHeader& h) { return detail::iequals(h.name, bench_header); });
    WebhookReply reply = inner_(headers, body);
    (ours ? bench_ : simulator_)[static_cast<std::size_t>(reply.verdict)]++;
    if (!ours && reply.verdict == WebhookVerdict::accepted) {
      std::lock_guard lock(mutex_);
      if (kept_.size() < 256) kept_.push_back({headers, std::string(body)});
    }
    if (!ours && reply.verdict == WebhookVerdict::confirming) {
      std::lock_guard lock(mutex_);
      if (hints_.size() < 256) hints_.emplace_back(body);
    }
    return reply;
  }

  /// The bodies of the simulator's hints (unsigned pushes with a right callback_id) taken so far.
  std::vector<std::string> hints() const {
    std::lock_guard lock(mutex_);
    return hints_;
  }

  /// A genuine push already accepted (so its job is settled), if any: the `pick`-th kept, modulo their number.
  std::optional<std::pair<std::vector<HttpHeader>, std::string>> kept(std::size_t pick) const {
    std::lock_guard lock(mutex_);
    if (kept_.empty()) return std::nullopt;
    return kept_[pick % kept_.size()];
  }

  const VerdictCounts& simulator() const { return simulator_; }
  const VerdictCounts& bench() const { return bench_; }

 private:
  std::function<WebhookReply(const std::vector<HttpHeader>&, std::string_view)> inner_;
  std::atomic<bool> ready_{false};
  VerdictCounts simulator_{};
  VerdictCounts bench_{};
  mutable std::mutex mutex_;
  std::vector<std::pair<std::vector<HttpHeader>, std::string>> kept_;
  std::vector<std::string> hints_;
};

long long count(const VerdictCounts& counts, WebhookVerdict verdict) {
  return counts[static_cast<std::size_t>(verdict)].load();
}

/// Verdicts that refuse a push.
long long rejected(const VerdictCounts& counts) {
  return count(counts, WebhookVerdict::bad_signature) + count(counts, WebhookVerdict::malformed) +
         count(counts, WebhookVerdict::too_large) + count(counts, WebhookVerdict::stale) +
         count(counts, WebhookVerdict::bad_callback);
}

// ---- the jobs ----

/// One job as the caller saw it.
struct Slot {
  std::string id;
  Steady::time_point watched{};  // just before watch()
  Steady::time_point got{};      // when the callback got the result
  TranslationResult result;
  std::atomic<bool> done{false};
};

/// The jobs of one run, their ids, and a wait for all their results.
class Jobs {
 public:
  explicit Jobs(int n) : slots_(static_cast<std::size_t>(n)) {}

  Slot& at(std::size_t i) { return slots_[i]; }
  const Slot& at(std::size_t i) const { return slots_[i]; }
  std::size_t size() const { return slots_.size(); }

  /// Creates job `i` and watches it; its callback records the result and the time.
  template <class Client>
  void create_and_watch(Client& client, std::size_t i) {
    Slot& slot = slots_[i];
    slot.id =
        client
            .create_translation_jobs(TranslationRequest::from_url("https://example.com/talk.mp4", {"Spanish (Spain)"}))
            .front();
    slot.watched = Steady::now();
    client.watch(slot.id, [this, &slot](const std::string&, const TranslationResult& result) {
      const auto now = Steady::now();
      slot.result = result;
      slot.got = now;
      slot.done.store(true, std::memory_order_release);
      std::lock_guard lock(mutex_);
      if (++finished_ == slots_.size()) all_done_.notify_all();
    });
  }

  /// Waits until every job has its result, or `limit` passes; true when all have.
  bool wait_all(std::chrono::seconds limit) {
    std::unique_lock lock(mutex_);
    return all_done_.wait_for(lock, limit, [&] { return finished_ == slots_.size(); });
  }

  /// Whether job `id` is ours and still pending (by the caller's knowledge).
  bool is_pending(const std::string& id) const {
    return std::any_of(slots_.begin(), slots_.end(),
                       [&](const Slot& slot) { return slot.id == id && !slot.done.load(std::memory_order_acquire); });
  }

  /// A job still pending (by the caller's knowledge), picked at random; none once all are done.
  std::optional<std::size_t> pending(std::mt19937_64& rng) const {
    const std::size_t start = std::uniform_int_distribution<std::size_t>(0, slots_.size() - 1)(rng);
    for (std::size_t k = 0; k < slots_.size(); ++k) {
      const std::size_t i = (start + k) % slots_.size();
      if (!slots_[i].done.load(std::memory_order_acquire)) return i;
    }
    return std::nullopt;
  }

 private:
  std::vector<Slot> slots_;
  mutable std::mutex mutex_;
  std::condition_variable all_done_;
  std::size_t finished_ = 0;
};

// ---- the simulator's truth ----

/// One job as the simulator saw it; times in ms since its start.
struct Truth {
  double created_ms = 0;
  double completes_ms = 0;
  bool failed = false;
  bool push_delivered = false;
  double status_requests = 0;  // the looks at this job alone
};

/// What /stats said.
struct ServerStats {
  double uptime_ms = 0;
  std::map<std::string, Truth> jobs;
  std::map<std::string, double> totals;
};

ServerStats fetch_stats(httplib::Client& http) {
  const auto response = http.Get("/stats");
  if (!response || response->status != 200) throw std::runtime_error("GET /stats failed");
  picojson::value json;
  const std::string error = picojson::parse(json, response->body);
  if (!error.empty()) throw std::runtime_error("bad /stats JSON: " + error);
  ServerStats out;
  out.uptime_ms = json.get("uptime_ms").get<double>();
  for (const auto& job : json.get("jobs").get<picojson::array>()) {
    Truth truth;
    truth.created_ms = job.get("created_ms").get<double>();
    truth.completes_ms = job.get("completes_ms").get<double>();
    truth.failed = job.get("outcome").to_str() == "error";
    truth.push_delivered = job.get("push_delivered_ms").is<double>();
    truth.status_requests = job.get("status_requests").get<double>();
    out.jobs[job.get("job_id").to_str()] = truth;
  }
  for (const auto& [name, value] : json.get("totals").get<picojson::object>())
    if (value.is<double>()) out.totals[name] = value.get<double>();
  return out;
}

/// How many status requests named job `id` so far, by the simulator's /stats.
double looks_at(httplib::Client& stats_http, const std::string& id) {
  return fetch_stats(stats_http).jobs.at(id).status_requests;
}

/// Where the simulator's time zero is on this process's steady clock: uptime_ms read by the quickest of a few
/// /stats requests (both processes read CLOCK_MONOTONIC), placed at that request's middle.
Steady::time_point simulator_epoch(httplib::Client& http, double& uncertainty_ms) {
  Steady::time_point best{};
  double best_rtt = 1e18;
  for (int i = 0; i < 7; ++i) {
    const auto before = Steady::now();
    const ServerStats stats = fetch_stats(http);
    const auto after = Steady::now();
    const double rtt = std::chrono::duration<double, std::milli>(after - before).count();
    if (rtt >= best_rtt) continue;
    best_rtt = rtt;
    best = before + (after - before) / 2 -
           std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double, std::milli>(stats.uptime_ms));
  }
  uncertainty_ms = best_rtt / 2;
  return best;
}

// ---- the pushes this benchmark forges ----

/// The four kinds of bad push: forged (another secret), altered (genuine signature, another job's id in the body),
/// replayed (a genuine push again, after its job settled), oversized (signed, but over the 64 KiB cap).
constexpr std::array<const char*, 4> attack_kinds{"forged", "altered", "replayed", "oversized"};

/// What the receiver answered to each kind: HTTP status → count.
using AttackAnswers = std::array<std::map<int, int>, 4>;

/// HeyGen's webhook event for `id`: success with `url`, or fail.
std::string push_body(const std::string& id, bool success, const std::string& url, const std::string& padding = "") {
  std::string body = std::string(R"({"event_type": ")") +
                     (success ? "video_translate.success" : "video_translate.fail") +
                     R"(", "event_data": {"video_translate_id": ")" + id + "\", ";
  body += success ? R"("url": ")" + url + "\"" : R"("message": "forged failure")";
  if (!padding.empty()) body += R"(, "padding": ")" + padding + "\"";
  return body + R"(, "callback_id": null}})";
}

/// Where the value of a push body's "video_translate_id" starts and ends (the quotes'), or npos.
std::pair<std::size_t, std::size_t> pushed_id_span(const std::string& body) {
  const auto key = body.find("\"video_translate_id\"");
  const auto open = key == std::string::npos ? key : body.find('"', body.find(':', key));
  const auto close = open == std::string::npos ? open : body.find('"', open + 1);
  return {open, close};
}

/// The bad push of `kind` aimed at pending job `id`: its headers and body; none while no genuine push is kept
/// (altered and replayed start from one).
std::optional<std::pair<httplib::Headers, std::string>> bad_push(std::size_t kind, const std::string& id,
                                                                 const PushDesk& desk, std::size_t round) {
  httplib::Headers headers{{std::string(bench_header), attack_kinds[kind]}};
  std::string body;
  if (kind == 0) {  // a well-formed HMAC under another secret; half of them a success with the forger's URL
    body = push_body(id, round % 2 == 0, "https://forged.invalid/video.mp4");
    headers.emplace("X-HeyGen-Signature", webhook_signature("not-the-secret", body));
  } else if (kind == 1 || kind == 2) {
    const auto genuine = desk.kept(round);
    if (!genuine) return std::nullopt;
    for (const auto& header : genuine->first)  // its signature and timestamp, as sent
      if (detail::iequals(header.name, "X-HeyGen-Signature") || detail::iequals(header.name, "X-HeyGen-Timestamp"))
        headers.emplace(header.name, header.value);
    body = genuine->second;
    if (kind == 1) {  // the genuine body with a pending job's id put in: its signature no longer holds
      const auto [open, close] = pushed_id_span(body);
      if (close == std::string::npos) return std::nullopt;
      body.replace(open + 1, close - open - 1, id);
    }
  } else {  // signed with the right secret, but over the 64 KiB cap
    body = push_body(id, true, "https://forged.invalid/video.mp4", std::string(std::size_t{70} * 1024, 'x'));
    headers.emplace("X-HeyGen-Signature", webhook_signature(push_secret, body));
  }
  if (kind != 1 && kind != 2) headers.emplace("X-HeyGen-Timestamp", std::to_string(std::time(nullptr)));
  return std::pair{std::move(headers), std::move(body)};
}

/// POSTs `budget` bad pushes of each kind to the receiver, one every `period`, while jobs are pending.
void attack(int port, const PushDesk& desk, const Jobs& jobs, int budget, std::chrono::milliseconds period,
            AttackAnswers& answers) {
  httplib::Client http("127.0.0.1", port);
  std::mt19937_64 rng(11);
  std::array<int, 4> sent{};
  for (std::size_t round = 0; *std::min_element(sent.begin(), sent.end()) < budget; ++round) {
    std::this_thread::sleep_for(period);
    const auto target = jobs.pending(rng);
    if (!target) return;
    for (std::size_t k = 0; k < attack_kinds.size(); ++k) {  // the next kind short of its budget that can go now
      const std::size_t kind = (round + k) % attack_kinds.size();
      if (sent[kind] >= budget) continue;
      auto push = bad_push(kind, jobs.at(*target).id, desk, round);
      if (!push) continue;
      const auto response = http.Post("/webhook", push->first, push->second, "application/json");
      answers[kind][response ? response->status : -1]++;
      ++sent[kind];
      break;
    }
  }
}

/// What the flood of hints did.
struct Flood {
  std::string job_id;          // its target; empty when no hint for a pending job came in time
  std::map<int, int> answers;  // HTTP status → count
  double seconds = 0;          // from the first POST to the last answer
  double looks = 0;            // the target's status requests from just before the flood to just after it settled
};

/// Waits for the simulator's first hint (a forged one, mid-job) for a job still pending, then POSTs that hint
/// `flood_hints` times, back to back: they must coalesce into a look at a time, at most one per min_interval. The
/// target's looks are counted from just before the flood until `settle` after it.
Flood flood(int port, const PushDesk& desk, const Jobs& jobs, httplib::Client& stats_http, Seconds settle) {
  Flood out;
  httplib::Client http("127.0.0.1", port);
  const auto give_up = Steady::now() + std::chrono::seconds(60);
  while (out.job_id.empty() && Steady::now() < give_up) {
    for (const std::string& body : desk.hints()) {
      const auto [open, close] = pushed_id_span(body);
      if (close == std::string::npos || !jobs.is_pending(body.substr(open + 1, close - open - 1))) continue;
      out.job_id = body.substr(open + 1, close - open - 1);
      const double before = looks_at(stats_http, out.job_id);
      const httplib::Headers headers{{std::string(bench_header), "flood"}};
      const auto started = Steady::now();
      for (int i = 0; i < flood_hints; ++i) {
        const auto response = http.Post("/webhook", headers, body, "application/json");
        out.answers[response ? response->status : -1]++;
      }
      out.seconds = std::chrono::duration<double>(Steady::now() - started).count();
      std::this_thread::sleep_for(std::chrono::duration<double>(settle.count()));
      out.looks = looks_at(stats_http, out.job_id) - before;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return out;
}

// ---- one real run ----

/// What one real run measured.
struct RealRun {
  Mode mode = Mode::polling;
  int jobs = 0;
  bool all_ended = false;
  double status_requests_per_job = 0;
  double looks_per_job = 0;
  bench::Figures lag;  // seconds
  long long accepted = 0, duplicate = 0, rejected = 0, unknown = 0;
  int matching = 0;        // results matching the simulator's truth
  int early = 0;           // results before the job's end
  int wrong_outcome = 0;   // completed vs failed not as the simulator says, or a forger's URL
  int undelivered = 0;     // jobs whose push was never delivered (lost, or refused every time)
  int caught = 0;          // of those, results in hand
  double worst_ratio = 0;  // catch time ÷ bound, worst
  double worst_catch_s = 0;
  double worst_bound_s = 0;  // the bound of the job with the worst ratio, and its age at its end
  double worst_age_s = 0;
  double catch_sum_s = 0;
  std::map<std::string, double> totals;  // the simulator's
  long long bench_accepted = 0, bench_duplicate = 0, bench_rejected = 0, bench_too_large = 0;
  long long sim_accepted = 0, sim_duplicate = 0, sim_rejected = 0;
  AttackAnswers answers;
  Flood flood;
  double min_interval_s = 0;  // the client's, scaled
  long long hinted = 0, confirmed = 0, bad_callback = 0;
  double clock_uncertainty_ms = 0;
};

/// Creates every job (from a few threads) and watches each; throws when a create fails.
void create_all(HeyGenClient& client, Jobs& jobs) {
  std::atomic<std::size_t> next{0};
  std::mutex create_mutex;
  std::string create_error;
  std::vector<std::thread> creators;
  for (int t = 0; t < creator_threads; ++t)
    creators.emplace_back([&] {
      try {
        for (std::size_t i = next++; i < jobs.size(); i = next++) jobs.create_and_watch(client, i);
      } catch (const std::exception& e) {
        std::lock_guard lock(create_mutex);
        if (create_error.empty()) create_error = e.what();
        next = jobs.size();
      }
    });
  for (auto& creator : creators) creator.join();
  if (!create_error.empty()) throw std::runtime_error("create failed: " + create_error);
}

RealRun run_real(const Options& options, Mode mode) {
  bench::ServerProcess process(options.server, server_flags(mode, options.scale));
  httplib::Client stats_http(process.base_url());
  RealRun run;
  run.mode = mode;
  run.jobs = options.jobs;
  const Steady::time_point epoch = simulator_epoch(stats_http, run.clock_uncertainty_ms);

  const bool pushes = mode != Mode::polling;
  PushDesk desk;
  WebhookReceiver receiver(
      [&desk](const std::vector<HttpHeader>& headers, std::string_view body) { return desk.take(headers, body); });
  const ClientOptions client_config =
      client_options(process.base_url(), pushes ? receiver.url() : "", mode, options.scale);
  run.min_interval_s = client_config.polling.min_interval.count();
  HeyGenClient client(client_config);
  struct StopFirst {  // the receiver stops before the client it hands pushes to goes, whatever happens
    WebhookReceiver& receiver;
    ~StopFirst() { receiver.stop(); }
  } stop_first{receiver};
  desk.attach(client.webhook_handler());

  Jobs jobs(options.jobs);
  create_all(client, jobs);
  std::thread attacker;
  if (mode == Mode::hostile) {
    const int budget = std::max(5, options.jobs / 20);
    attacker =
        std::thread([&] { attack(receiver.port(), desk, jobs, budget, std::chrono::milliseconds(40), run.answers); });
  }
  httplib::Client flood_stats(process.base_url());  // a connection of its own: the flood runs beside this thread
  if (mode == Mode::confirm_hostile)
    attacker = std::thread(
        [&] { run.flood = flood(receiver.port(), desk, jobs, flood_stats, client_config.polling.min_interval * 3); });
  run.all_ended = jobs.wait_all(std::chrono::seconds(300));
  if (attacker.joinable()) attacker.join();
  // The simulator marks a push delivered when the receiver's answer is back, which may be after the caller has its
  // result; replays go out after the push that drew them: let the last ones land before reading the truth.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const ServerStats stats = fetch_stats(stats_http);
  receiver.stop();  // no push reaches the client after this
  run.hinted = static_cast<long long>(client.poller_stats().hint_looks);
  run.confirmed = static_cast<long long>(client.poller_stats().hints_confirmed);
  client.shutdown();

  run.totals = stats.totals;
  run.status_requests_per_job = stats.totals.at("status_requests") / options.jobs;
  run.looks_per_job = stats.totals.at("job_status_looks") / options.jobs;
  run.lag.jobs = options.jobs;
  const double safety_s = 30.0 * options.scale;
  const double tolerance_ms = run.clock_uncertainty_ms + 1.0;
  auto sim_ms = [&](Steady::time_point t) { return std::chrono::duration<double, std::milli>(t - epoch).count(); };
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Slot& slot = jobs.at(i);
    const Truth& truth = stats.jobs.at(slot.id);
    const bool undelivered = pushes && !truth.push_delivered;
    run.undelivered += undelivered;
    if (!slot.done.load()) continue;
    const double lag_ms = sim_ms(slot.got) - truth.completes_ms;
    run.lag.lags.push_back(std::max(lag_ms, 0.0) / 1000.0);
    const TranslationResult& r = slot.result;
    const bool outcome_ok =
        truth.failed ? r.status == TranslationStatus::error && r.cause == FailureCause::job_failed
                     : r.ok() && r.outputs.video_url && r.outputs.video_url->find(slot.id) != std::string::npos;
    const bool early = lag_ms < -tolerance_ms;
    run.early += early;
    run.wrong_outcome += !outcome_ok;
    run.matching += outcome_ok && !early;
    if (undelivered) {
      ++run.caught;
      const double age_s = (truth.completes_ms - sim_ms(slot.watched)) / 1000.0;
      const double bound_s = std::max(safety_s, 0.1 * age_s);
      run.catch_sum_s += lag_ms / 1000.0;
      run.worst_catch_s = std::max(run.worst_catch_s, lag_ms / 1000.0);
      if (lag_ms / 1000.0 / bound_s > run.worst_ratio) {
        run.worst_ratio = lag_ms / 1000.0 / bound_s;
        run.worst_bound_s = bound_s;
        run.worst_age_s = age_s;
      }
    }
  }
  // A hint taken (202, to be confirmed by a look) counts as accepted: in the confirm modes no push settles a job.
  run.sim_accepted =
      count(desk.simulator(), WebhookVerdict::accepted) + count(desk.simulator(), WebhookVerdict::confirming);
  run.sim_duplicate = count(desk.simulator(), WebhookVerdict::duplicate);
  run.sim_rejected = rejected(desk.simulator());
  run.bench_accepted = count(desk.bench(), WebhookVerdict::accepted) + count(desk.bench(), WebhookVerdict::confirming);
  run.bench_duplicate = count(desk.bench(), WebhookVerdict::duplicate);
  run.bench_rejected = rejected(desk.bench());
  run.bench_too_large = count(desk.bench(), WebhookVerdict::too_large);
  long long answered_413 = 0;  // some may be refused by the receiver (its size cap) before the handler sees them
  for (const auto& answers : run.answers)
    if (const auto found = answers.find(413); found != answers.end()) answered_413 += found->second;
  run.bench_rejected += std::max(0LL, answered_413 - count(desk.bench(), WebhookVerdict::too_large));
  run.unknown = count(desk.simulator(), WebhookVerdict::unknown_job) + count(desk.bench(), WebhookVerdict::unknown_job);
  run.accepted = run.sim_accepted + run.bench_accepted;
  run.duplicate = run.sim_duplicate + run.bench_duplicate;
  run.rejected = run.sim_rejected + run.bench_rejected;
  run.bad_callback = count(desk.simulator(), WebhookVerdict::bad_callback);
  return run;
}

// ---- the scale model, in virtual time ----

/// A FakeClock that, before each sleep, delivers the pushes of the jobs that end by the time it wakes: each at its
/// job's end, in order (every push delivered, on time). Copies share the time and the hook.
class PushingClock {
 public:
  using Hook = std::function<void(TimePoint until)>;

  TimePoint now() const { return clock_.now(); }
  bool sleep_until(TimePoint until, std::stop_token stop) {
    if (!stop.stop_requested() && *hook_) (*hook_)(until);
    return clock_.sleep_until(until, stop);
  }
  void advance(std::chrono::milliseconds by) { clock_.advance(by); }
  /// Sets the hook; before the first sleep.
  void before_sleep(Hook hook) { *hook_ = std::move(hook); }
  /// Moves the time to `when` (never back), without the hook.
  void jump_to(TimePoint when) { clock_.sleep_until(when, {}); }

 private:
  testing::FakeClock clock_;
  std::shared_ptr<Hook> hook_ = std::make_shared<Hook>();
};

/// What the scale model measured.
struct ScaleModel {
  int jobs = 0;
  double looks_per_job = 0;
  double requests_per_job = 0;
  double mean_duration_s = 0;
  long long accepted = 0;
  long long fetches = 0;
  double requests_per_second() const { return 1e6 * requests_per_job / mean_duration_s; }
};

/// `jobs` heygen-like jobs (unscaled) tracked together with webhooks and the safety net, through HeyGen's
/// /statuses (100 ids a request), one poller worker; every push delivered at its job's end.
ScaleModel scale_model(int jobs) {
  ClientOptions options = heygen_v3_options(std::string(api_key), "http://127.0.0.1:1");
  options.max_timeout = Seconds(1e6);
  options.poller_threads = 1;  // one worker: the push hook and the looks run on it, in virtual-time order
  options.webhook_url = "http://127.0.0.1:2/webhook";
  options.webhook.secret = std::string(push_secret);
  long long accepted = 0;
  auto setup = [&accepted](auto& client, PushingClock& clock, std::vector<bench::FakeJob>& batch) {
    clock.before_sleep([&client, &clock, &batch, &accepted](TimePoint until) {
      std::vector<std::size_t> due;
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (!batch[i].reported && batch[i].done_at <= until) due.push_back(i);
      std::sort(due.begin(), due.end(),
                [&](std::size_t a, std::size_t b) { return batch[a].done_at < batch[b].done_at; });
      for (std::size_t i : due) batch[i].reported = true;  // delivered at its end: no lag
      for (std::size_t i : due) {
        clock.jump_to(batch[i].done_at);
        const std::string body = push_body(std::to_string(i), true, "https://v");
        const WebhookReply reply =
            client.handle_webhook({{"X-HeyGen-Signature", webhook_signature(push_secret, body)}}, body);
        accepted += reply.verdict == WebhookVerdict::accepted;
      }
    });
  };
  const bench::ManyStatusRun run =
      bench::run_many_status<PushingClock>(bench::heygen_like(), options, jobs, 0, 1, setup);
  ScaleModel model;
  model.jobs = jobs;
  model.looks_per_job = static_cast<double>(run.job_looks) / jobs;
  model.requests_per_job = run.figures.requests_per_job();
  model.mean_duration_s = run.mean_duration_s;
  model.accepted = accepted;
  model.fetches = run.fetches;
  return model;
}

// ---- printing ----

void print_header() {
  std::printf("%-11s %5s %8s %9s %9s %9s %9s %8s %9s %8s %9s\n", "mode", "jobs", "req/job", "looks/job", "lag mean",
              "lag p95", "lag max", "accepted", "duplicate", "rejected", "truth");
  std::printf("%-11s %5s %8s %9s %9s %9s %9s %8s %9s %8s %9s\n", "", "", "", "", "ms", "ms", "ms", "", "", "", "");
}

void print_row(RealRun& run) {
  char truth[32];
  std::snprintf(truth, sizeof truth, "%d/%d", run.matching, run.jobs);
  const bool pushes = run.mode != Mode::polling;
  auto pushes_col = [&](long long n) { return pushes ? std::to_string(n) : std::string("-"); };
  std::printf("%-11s %5d %8.3f %9.2f %9.1f %9.1f %9.1f %8s %9s %8s %9s\n", label(run.mode), run.jobs,
              run.status_requests_per_job, run.looks_per_job, run.lag.mean() * 1000, run.lag.percentile(0.95) * 1000,
              run.lag.percentile(1.0) * 1000, pushes_col(run.accepted).c_str(), pushes_col(run.duplicate).c_str(),
              pushes_col(run.rejected).c_str(), truth);
  std::fflush(stdout);
}

void print_floor(const char* what, double value, double floor) {
  std::printf("  floor %-36s %8.3f <= %6.3f  %s\n", what, value, floor, value <= floor ? "ok" : "MISSED");
}

/// The flood's figures: its target's looks against the median job's, bounded by coalescing.
void print_flood(const RealRun& run) {
  if (run.flood.job_id.empty()) {
    std::printf("  flood: NO HINT FOR A PENDING JOB CAME IN TIME\n");
    return;
  }
  std::printf("  flood: %d hints for %s in %.1f ms, answered", flood_hints, run.flood.job_id.c_str(),
              run.flood.seconds * 1000);
  for (const auto& [status, n] : run.flood.answers) std::printf(" HTTP %d x%d", status, n);
  // Coalescing allows one look at a time and one per min_interval: over the flood and the settling after it.
  const double window = run.flood.seconds + 3 * run.min_interval_s;
  const double bound = 1 + window / run.min_interval_s;
  std::printf("; %.0f looks at it from just before the flood to %.1f ms after (min_interval %.1f ms)\n",
              run.flood.looks, 3 * run.min_interval_s * 1000, run.min_interval_s * 1000);
  print_floor("flood looks (1 + window/min_interval)", run.flood.looks, bound);
  print_floor("confirm-bad wrong or early endings", run.wrong_outcome + run.early, 0);
}

/// The catches of the pushes never delivered, against their bound.
void print_undelivered(const RealRun& run, double scale) {
  std::printf("  %d pushes never delivered, %d caught by safety polling: catch mean %.3f s, max %.3f s\n",
              run.undelivered, run.caught, run.caught ? run.catch_sum_s / run.caught : 0.0, run.worst_catch_s);
  char over[64] = "within";
  if (run.worst_ratio > 1.0)
    std::snprintf(over, sizeof over, "PAST THE BOUND by %.1f ms", (run.worst_ratio - 1.0) * run.worst_bound_s * 1000);
  std::printf("  worst catch / bound max(%.3f s, 10%% of age) = %.3f, %s (bound %.3f s, age %.2f s at its end)\n",
              30.0 * scale, run.worst_ratio, over, run.worst_bound_s, run.worst_age_s);
}

/// The hostile run's verdicts, the simulator's pushes apart from this benchmark's, and each attack's answers.
void print_attacks(const RealRun& run) {
  std::printf("  from the simulator: %lld accepted, %lld duplicate, %lld rejected", run.sim_accepted, run.sim_duplicate,
              run.sim_rejected);
  std::printf("; from this bench: %lld accepted, %lld duplicate, %lld rejected\n", run.bench_accepted,
              run.bench_duplicate, run.bench_rejected);
  for (std::size_t kind = 0; kind < attack_kinds.size(); ++kind) {
    std::printf("  bench %-9s", attack_kinds[kind]);
    int sent = 0;
    for (const auto& [status, n] : run.answers[kind]) {
      std::printf(" HTTP %d x%d", status, n);
      sent += n;
    }
    const bool cap_first = kind == 3 && run.bench_too_large == 0;
    std::printf("  (%d sent%s)\n", sent, cap_first ? "; refused by the receiver's 64 KiB cap, before the handler" : "");
  }
}

/// The floors of the runs where every push is delivered, and what the hints cost.
void print_push_floors(RealRun& run) {
  if (run.mode == Mode::webhooks || run.mode == Mode::confirm) {
    const std::string name(label(run.mode));
    print_floor((name + " lag p95 ms").c_str(), run.lag.percentile(0.95) * 1000, 50);
    print_floor((name + " status requests/job").c_str(), run.status_requests_per_job, 1.2);
  }
  if (confirms(run.mode)) {
    std::printf("  hint looks %lld (%lld found the job ended), %lld pushes with a wrong callback_id refused%s\n",
                run.hinted, run.confirmed, run.bad_callback,
                run.mode == Mode::confirm_hostile ? "; each job also got one forged hint mid-job" : "");
  }
}

void print_details(RealRun& run, double scale) {
  const auto& t = run.totals;
  auto total = [&](const char* name) {
    const auto found = t.find(name);
    return found == t.end() ? 0LL : static_cast<long long>(found->second);
  };
  std::printf("%s:", label(run.mode));
  if (!run.all_ended) std::printf(" NOT EVERY JOB ENDED;");
  if (run.early || run.wrong_outcome)
    std::printf(" %d results before their job's end, %d with the wrong outcome or URL;", run.early, run.wrong_outcome);
  if (run.mode == Mode::polling)
    std::printf(" req/job counts one output fetch per completed job (/statuses names no outputs; a push does)");
  if (run.mode != Mode::polling)
    std::printf(" simulator POSTs %lld answered 2xx, %lld lost, %lld badly signed, %lld replayed, %lld retries",
                total("pushes_sent"), total("pushes_lost"), total("pushes_bad_signature"), total("pushes_replayed"),
                total("push_retries"));
  if (run.unknown) std::printf(", %lld unknown_job", run.unknown);
  std::printf("\n");
  print_push_floors(run);
  if (run.mode == Mode::confirm_hostile) print_flood(run);
  if (run.undelivered > 0) print_undelivered(run, scale);
  if (run.mode == Mode::hostile) print_attacks(run);
}

int run_all(const Options& options) {
  std::printf(
      "webhook: %d jobs, heygen-like x %.5f (median %.2f s), HeyGen v3 API; client long_jobs() and safety "
      "net %.3f s + 10%% of age, both scaled\n",
      options.jobs, options.scale, 480 * options.scale, 30 * options.scale);
  std::fflush(stdout);
  std::vector<RealRun> runs;
  print_header();
  for (Mode mode : {Mode::polling, Mode::webhooks, Mode::lost, Mode::hostile, Mode::confirm, Mode::confirm_hostile}) {
    runs.push_back(run_real(options, mode));
    print_row(runs.back());
  }
  for (auto& run : runs) print_details(run, options.scale);
  const auto started = Steady::now();
  const ScaleModel model = scale_model(options.virtual_jobs);
  const double took = std::chrono::duration<double>(Steady::now() - started).count();
  std::printf(
      "scale model: 1,000,000 heygen-like jobs in flight, webhooks + safety polling, /statuses with 100 ids: "
      "%.0f status requests/s\n",
      model.requests_per_second());
  std::printf(
      "  (virtual run of the real client, %d jobs unscaled, 1 worker, %lld/%d pushes accepted, %.1f s: %.2f "
      "looks/job, %.4f requests/job, mean duration %.0f s; 1e6 x requests/job / mean duration)\n",
      model.jobs, model.accepted, model.jobs, took, model.looks_per_job, model.requests_per_job, model.mean_duration_s);
  if (model.fetches)
    std::printf("  (and %lld output fetches: a look found a job done before its push)\n", model.fetches);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.server = bench::default_server_path(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--quick") {  // a smoke run: fewer jobs, half as long
      options.jobs = 200;
      options.scale = 2.5 / 480.0;
      options.virtual_jobs = 2000;
    } else if (flag == "--jobs" && has_value) {
      options.jobs = std::max(1, std::atoi(argv[++i]));
    } else if (flag == "--scale" && has_value) {
      options.scale = std::clamp(std::atof(argv[++i]), 1e-4, 1.0);
    } else if (flag == "--server" && has_value) {
      options.server = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--jobs N] [--scale F] [--server PATH]\n", argv[0]);
      return 2;
    }
  }
  try {
    return run_all(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "webhook: %s\n", e.what());
    return 1;
  }
}
