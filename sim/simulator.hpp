// The StatusSimulator class: what it holds, its lifecycle (bind, serve, stop) and its statistics snapshot.
// Its other members are defined in store.hpp and routes.hpp; include status_simulator.hpp, which has them all.
#ifndef HEYGEN_SIM_SIMULATOR_HPP
#define HEYGEN_SIM_SIMULATOR_HPP

#include "endpoints.hpp"
#include "http.hpp"
#include "jobs.hpp"
#include "objects.hpp"
#include "options.hpp"
#include "stats.hpp"
#include "support.hpp"
#include "webhooks.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace heygen::sim {

/// The simulated status server. Thread-safe; start() once, stop() (or destroy) once done.
class StatusSimulator {
 public:
  /// Validates the configuration (std::invalid_argument when unusable); nothing is bound yet.
  explicit StatusSimulator(SimulatorConfig config);
  /// Stops the server.
  ~StatusSimulator() { stop(); }
  StatusSimulator(const StatusSimulator&) = delete;
  StatusSimulator& operator=(const StatusSimulator&) = delete;

  /// Binds, serves on a background thread, returns the bound port. Throws std::runtime_error when binding
  /// fails and std::logic_error when called twice.
  int start();
  /// Stops serving: every long poll answers at once, idle connections close, webhook pushes not yet sent are
  /// dropped (one in flight is aborted), threads are joined. Idempotent.
  void stop();
  /// The bound port (0 before start()).
  int port() const noexcept { return port_.load(); }
  /// The bound numeric address (empty before start()).
  std::string host() const;
  /// `HOST:PORT`, with an IPv6 address in brackets.
  std::string address() const;
  /// `http://HOST:PORT`.
  std::string base_url() const { return (config_.tls() ? "https://" : "http://") + address(); }
  /// The configuration in use.
  const SimulatorConfig& config() const noexcept { return config_; }
  /// A snapshot of the server-side truth.
  SimulatorStats stats() const;
  /// The same snapshot as JSON (what GET /stats serves).
  std::string stats_json() const { return to_json(stats()); }

 private:
  using Request = httplib::Request;
  using Response = httplib::Response;
  using HandlerResponse = httplib::Server::HandlerResponse;

  void configure_server();
  void install_routes();
  void await_listener();
  HandlerResponse pre_route(const Request& req, Response& res);
  HandlerResponse on_error(const Request& req, Response& res) const;
  void on_create(const Request& req, Response& res);
  void on_status_query(const Request& req, Response& res);
  void on_batch(const Request& req, Response& res);
  void on_stats(const Request& req, Response& res) const;

  void install_v3_routes();
  bool route_v3(const Request& req, Response& res);
  void on_v3_create(const Request& req, Response& res);
  void on_v3_job(const Request& req, Response& res, const std::string& id);
  void on_v3_statuses(const Request& req, Response& res);
  void on_v3_languages(const Request& req, Response& res);
  void on_file(const Request& req, Response& res, std::string_view rest);
  void stream_output(Response& res, const std::string& id, const std::string& name, std::uint64_t first,
                     std::uint64_t declared, std::uint64_t sent);
  bool storage_refused(const Request& req, Response& res, std::string_view bound = {});
  void send_storage_error(Response& res, int status, std::string_view code, std::string_view message,
                          const Request& req);
  bool storage_fault(double rate);
  bool pause_until(Clock::time_point when);
  std::uint64_t body_limit(const Request& req) const;
  std::uint64_t largest_body() const;
  void on_upload(const Request& req, Response& res, const httplib::ContentReader& reader);
  bool upload_refused(const Request& req, Response& res, const std::string& id);
  void install_asset_routes();
  void on_direct_upload(const Request& req, Response& res);
  void on_asset_complete(const Request& req, Response& res);
  void on_asset_statuses(const Request& req, Response& res);
  void on_asset_multipart(const Request& req, Response& res, const httplib::ContentReader& reader);
  std::string asset_url(const std::string& id) const;
  bool asset_usable(const std::string& id);
  std::string upload_url(const std::string& id, std::uint64_t size) const;
  void install_v3_webhook_routes();
  void on_v3_endpoint_create(const Request& req, Response& res);
  void on_v3_endpoint_list(const Request& req, Response& res);
  void on_v3_endpoint_update(const Request& req, Response& res);
  void on_v3_endpoint_delete(const Request& req, Response& res);
  void on_v3_endpoint_rotate(const Request& req, Response& res);
  bool v3_endpoint_refused(const Request& req, Response& res);
  std::vector<detail::EndpointTarget> push_endpoints(std::size_t index) const;
  void schedule_v3_pushes_locked(const detail::Job& job);
  bool v3_authorized(const Request& req) const;
  bool v3_refused(const Request& req, Response& res, detail::Fault fault) const;
  std::string v3_job_json_locked(std::size_t index, const detail::JobView& view) const;
  std::string v3_entry_json_locked(const std::string& id, const std::optional<detail::JobView>& view) const;
  std::string v3_file_url(const std::string& id, std::string_view name) const;
  std::string v3_push_body(const detail::Job& job, detail::PushBody what) const;
  detail::V3Created create_v3(const std::shared_ptr<const detail::V3Order>& order, const std::string& key);
  void send_error(Response& res, int status, std::string_view code, std::string_view message,
                  std::string_view param = {}) const;

  void serve_status(const Request& req, Response& res, const std::string& id);
  void answer_batch(Response& res, const std::vector<std::string>& ids, detail::Fault fault);
  std::optional<double> wait_seconds(const Request& req) const;
  detail::Fault draw_fault(bool create);
  void apply_fault(Response& res, detail::Fault fault) const;
  void inject_latency();
  void hold(const std::vector<std::string>& ids, double wait_s);
  std::optional<std::string> create_or_replay(const std::string& key, std::shared_ptr<const detail::Callback> callback);
  std::string make_job_locked(Clock::time_point now, std::shared_ptr<const detail::Callback> callback,
                              std::shared_ptr<const detail::V3Order> order = nullptr, std::size_t language = 0);
  std::string push_body(std::size_t index, detail::PushBody what) const;
  void note_push_delivered(std::size_t index, Clock::time_point when);
  std::optional<detail::JobView> look_locked(const std::string& id, Clock::time_point now, bool delivered);
  detail::JobView view_of(const detail::Job& job, Clock::time_point now) const;
  std::string latest_job_id() const;
  std::string status_json(const detail::JobView& view) const;
  void status_members(detail::JsonObject& out, const detail::JobView& view) const;
  int pending_hint_s(const detail::JobView& view) const;
  void send_json(Response& res, int status, std::string body) const;
  void send_status(Response& res, const detail::JobView& view) const;
  static void garble(Response& res);
  /// The push settings with callback_signing settled for the API.
  static WebhookConfig resolved_webhooks(const SimulatorConfig& config) {
    WebhookConfig webhooks = config.webhooks;
    webhooks.callback_signing = config.callback_signing_of();
    return webhooks;
  }
  void send_unknown_job(Response& res) const;
  void send_retry_after(Response& res, int seconds) const;
  JobStats job_stats(const detail::Job& job) const;
  StatsTotals totals_locked(std::vector<double> lags) const;

  const SimulatorConfig config_;
  const Clock::duration stale_;
  detail::SimHttpServer server_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  std::atomic<int> port_{0};
  std::string host_;
  std::string origin_;  // base_url(), fixed in start() before any handler runs (handlers must not lock below)
  mutable std::mutex lifecycle_mu_;
  bool started_ = false;
  bool stopped_ = false;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable wake_;
  bool stopping_ = false;
  Clock::time_point epoch_ = Clock::now();
  detail::Rng rng_;
  std::vector<detail::Job> jobs_;
  std::unordered_map<std::string, std::size_t> by_id_;
  std::unordered_map<std::string, std::size_t> by_key_;
  std::multiset<Clock::time_point> running_ends_;  // heygen_v3 with a concurrency limit: when running jobs end
  detail::Counters counters_;

  detail::StorageTally storage_;        // heygen_v3's object store counters; locks on its own
  detail::AssetRegistry assets_;        // heygen_v3's uploaded assets; locks on its own, after mu_
  detail::EndpointRegistry endpoints_;  // heygen_v3's registered webhook endpoints; locks on its own, after mu_
  detail::PushSender pushes_;           // last: its threads are joined (in stop()) while everything above still exists
};

// ---------------------------------------------------------------------------------------------------------
// Lifecycle

inline StatusSimulator::StatusSimulator(SimulatorConfig config)
    : config_(std::move(config)),
      stale_(detail::to_clock(config_.stale_seconds)),
      rng_(config_.seed),
      pushes_(
          resolved_webhooks(config_), config_.duration_scale, config_.seed,
          [this](std::size_t index, detail::PushBody what) { return push_body(index, what); },
          [this](std::size_t index, Clock::time_point when) { note_push_delivered(index, when); },
          [this](std::size_t index) { return push_endpoints(index); }) {
  if (auto problem = config_.validate(); !problem.empty()) throw std::invalid_argument(problem);
  configure_server();
  install_routes();
}

inline void StatusSimulator::configure_server() {
  const std::size_t threads = config_.threads;
  server_.new_task_queue = [threads] { return new detail::ElasticThreadPool(threads); };
  server_.set_keep_alive_max_count(config_.keep_alive_max_count);
  server_.set_keep_alive_timeout(config_.keep_alive_timeout_s);
  server_.set_read_timeout(config_.read_timeout_s, 0);
  server_.set_write_timeout(config_.write_timeout_s, 0);
  // httplib's cap lets the largest body any route takes through; each request's own limit is enforced by
  // pre_route and the byte cap below (body_limit: an upload's is its own).
  server_.set_payload_max_length(static_cast<std::size_t>(largest_body()));
  // Room for a full body plus generous headers; anything longer is cut, chunked or not.
  server_.set_request_byte_cap(config_.max_body_bytes + (std::size_t{64} << 10));
  server_.set_tcp_nodelay(true);
  if (config_.tls()) {
    server_.enable_tls(config_.tls_cert_file, config_.tls_key_file);
    // OpenSSL writes with plain send(): a client vanishing mid-answer would raise SIGPIPE and end the process.
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
  }
  // httplib's default sets SO_REUSEPORT, which lets a second server bind a port already in use and silently
  // take half its connections. SO_REUSEADDR still allows a quick restart on a port left in TIME_WAIT.
  server_.set_socket_options([](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
}

inline int StatusSimulator::start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_ || stopped_) throw std::logic_error("StatusSimulator::start: already started or stopped");
  {
    std::lock_guard<std::mutex> guard(mu_);
    epoch_ = Clock::now();
  }
  const int bound = config_.port == 0 ? server_.bind_to_any_port(config_.host)
                                      : (server_.bind_to_port(config_.host, config_.port) ? config_.port : -1);
  if (bound <= 0) {
    throw std::runtime_error("status simulator: cannot bind " + config_.host + ":" + std::to_string(config_.port));
  }
  server_.widen_backlog(config_.listen_backlog);
  auto endpoint = server_.local_endpoint();
  host_ = endpoint.first.empty() ? config_.host : endpoint.first;
  port_ = bound;
  const std::string address = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  origin_ = (config_.tls() ? "https://" : "http://") + address + ":" + std::to_string(bound);
  started_ = true;
  listener_ = std::thread([this] {
    server_.listen_after_bind();
    listener_done_ = true;
  });
  await_listener();
  return bound;
}

inline void StatusSimulator::await_listener() {
  // httplib's stop() is a no-op until the accept loop runs, so a stop() right after start() would hang.
  while (!server_.is_running() && !listener_done_) std::this_thread::sleep_for(std::chrono::microseconds(200));
  if (!server_.is_running() && listener_done_) {
    listener_.join();
    stopped_ = true;
    throw std::runtime_error("status simulator: the server stopped as it started");
  }
}

inline void StatusSimulator::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  const bool running = started_ && !stopped_;
  stopped_ = true;
  if (!running) return;
  {
    std::lock_guard<std::mutex> guard(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  server_.begin_shutdown();
  server_.stop();
  listener_.join();  // every handler has returned: no job is made, so no push is queued, after this
  pushes_.stop();
}

inline std::string StatusSimulator::host() const {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  return host_;
}

inline std::string StatusSimulator::address() const {
  const std::string h = host();
  const std::string p = std::to_string(port());
  return h.find(':') != std::string::npos ? "[" + h + "]:" + p : h + ":" + p;
}

// ---------------------------------------------------------------------------------------------------------
// Statistics

inline SimulatorStats StatusSimulator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SimulatorStats out;
  out.uptime_ms = detail::ms_between(epoch_, Clock::now());
  out.jobs.reserve(jobs_.size());
  std::vector<double> lags;
  for (const auto& job : jobs_) {
    out.jobs.push_back(job_stats(job));
    if (out.jobs.back().lag_ms) lags.push_back(*out.jobs.back().lag_ms);
  }
  out.totals = totals_locked(std::move(lags));
  return out;
}

inline JobStats StatusSimulator::job_stats(const detail::Job& job) const {
  JobStats out;
  out.job_id = job.id;
  out.created_ms = detail::ms_between(epoch_, job.created);
  out.completes_ms = detail::ms_between(epoch_, job.completes);
  out.outcome = job.fails ? JobOutcome::error : JobOutcome::completed;
  out.status_requests = job.looks;
  if (job.first_terminal_seen) {
    out.first_terminal_seen_ms = detail::ms_between(epoch_, *job.first_terminal_seen);
    out.lag_ms = detail::ms_between(job.completes, *job.first_terminal_seen);
  }
  if (job.push_delivered) out.push_delivered_ms = detail::ms_between(epoch_, *job.push_delivered);
  return out;
}

inline StatsTotals StatusSimulator::totals_locked(std::vector<double> lags) const {
  StatsTotals t;
  t.jobs = jobs_.size();
  t.create_requests = counters_.create_requests;
  t.idempotent_replays = counters_.idempotent_replays;
  t.status_requests = counters_.status_requests;
  t.job_status_looks = counters_.job_status_looks;
  t.batch_requests = counters_.batch_requests;
  t.faults = counters_.faults;
  t.faults_injected = counters_.faults.total();
  t.pushes = pushes_.counts();
  t.storage = storage_.snapshot();
  t.jobs_seen_terminal = lags.size();
  if (lags.empty()) return t;
  std::sort(lags.begin(), lags.end());
  double sum = 0;
  for (const double lag : lags) sum += lag;
  t.lag_mean_ms = sum / static_cast<double>(lags.size());
  const auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(lags.size())));
  t.lag_p95_ms = lags[std::max<std::size_t>(rank, 1) - 1];
  t.lag_max_ms = lags.back();
  return t;
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_SIMULATOR_HPP
