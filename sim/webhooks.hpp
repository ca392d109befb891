// Webhook pushes: when a job with a callback URL reaches its final state, the simulator POSTs that state there
// (signed with HMAC-SHA256, or unsigned as HeyGen sends per-job callbacks), and, in heygen_v3 mode, to every
// registered endpoint subscribed to the event (signed with that endpoint's secret), from a few sender threads of
// its own (never a request thread), with the faults real webhook senders show: pushes lost, duplicated, delayed
// (hence out of order), badly signed, replayed, forged, and retries with doubling backoff while the receiver is
// down.
#ifndef HEYGEN_SIM_WEBHOOKS_HPP
#define HEYGEN_SIM_WEBHOOKS_HPP

#include "jobs.hpp"
#include "options.hpp"
#include "stats.hpp"
#include "support.hpp"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace heygen::sim::detail {

/// The header every push carries: the Unix time, in seconds, it was signed at.
inline constexpr std::string_view webhook_timestamp_header = "X-HeyGen-Timestamp";

/// Lowercase hex HMAC-SHA256 of `data` under `key`.
inline std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  static constexpr unsigned char none = 0;  // OpenSSL wants a pointer even for an empty key or message
  const auto* key_bytes = key.empty() ? &none : reinterpret_cast<const unsigned char*>(key.data());
  const auto* data_bytes = data.empty() ? &none : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), data_bytes, data.size(), digest.data(), &length) ==
      nullptr)
    return "";
  return hex_of(digest.data(), length);
}

/// The length of `url`'s scheme and "://" when it is http:// (or, with OpenSSL, https://); 0 otherwise.
inline std::size_t callback_scheme(std::string_view url, bool& tls) {
  const auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; };
  const auto starts = [&](std::string_view prefix) {
    return url.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), url.begin(), [&](char p, char u) { return p == lower(u); });
  };
  tls = false;
  if (starts("http://")) return 7;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  tls = starts("https://");
  if (tls) return 8;
#endif
  return 0;
}

/// Splits `host[:port]` or `[v6]:port` into `out` (the port left as it is when none is given); false when
/// malformed.
inline bool callback_authority(std::string_view authority, CallbackTarget& out) {
  if (authority.find('@') != std::string_view::npos) return false;  // no user info
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return false;
    if (!after.empty()) port = after.substr(1);
  } else if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host.find_first_of("[]") != std::string_view::npos) return false;
  out.host = std::string(host);
  if (!port) return true;
  const auto number = to_uint(*port);
  if (!number || *number == 0 || *number > 65535) return false;
  out.port = static_cast<int>(*number);
  return true;
}

/// An http:// (or, with OpenSSL, https://) URL with a host, an optional port and no user info; nullopt otherwise.
inline std::optional<CallbackTarget> parse_callback_url(std::string_view url) {
  if (url.size() > 2048) return std::nullopt;
  if (std::any_of(url.begin(), url.end(), [](char ch) { return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7F; }))
    return std::nullopt;
  CallbackTarget out;
  const std::size_t scheme = callback_scheme(url, out.tls);
  if (scheme == 0) return std::nullopt;
  const std::string_view rest = url.substr(scheme);
  const std::size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  out.port = out.tls ? 443 : 80;
  if (!callback_authority(rest.substr(0, end), out)) return std::nullopt;
  std::string_view target = rest.substr(end);
  target = target.substr(0, std::min(target.find('#'), target.size()));
  // Built by appending: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "/" + std::string(target).
  out.path.clear();
  if (!target.starts_with('/')) out.path.push_back('/');
  out.path.append(target);
  return out;
}

/// The callback of a create: null when it named no callback_url (or one parse_callback_url refuses).
inline std::shared_ptr<const Callback> make_callback(const std::string& url, const std::string& id) {
  if (url.empty()) return nullptr;
  auto target = parse_callback_url(url);
  if (!target) return nullptr;
  return std::make_shared<const Callback>(Callback{url, id, std::move(*target)});
}

/// What a push's body says.
enum class PushBody {
  real,           ///< The job's final state.
  forged_no_id,   ///< Forged: the job's id with no callback_id.
  forged_id,      ///< Forged: the job's id with a callback_id that is not the create's.
  forged_outcome  ///< Forged: the create's callback_id with the outcome the job will not have.
};

/// Where one registered endpoint gets a job's event, and the secret that signs it.
struct EndpointTarget {
  /// The endpoint's URL, parsed.
  std::shared_ptr<const Callback> callback;
  /// Its signing secret at the time the event fired.
  std::string secret;
};

/// Delivers jobs' final statuses to their callback URLs. Pushes wait in one queue ordered by send time; a few
/// sender threads (started with the first push) take them when due, so no request thread ever waits on a
/// receiver. stop() drops what is queued, aborts what is in flight and joins. Thread-safe.
class PushSender {
 public:
  /// Builds the body of job `job`'s push (called on a sender thread, holding no lock of the sender's).
  using BodyFn = std::function<std::string(std::size_t job, PushBody what)>;
  /// The registered endpoints that get job `job`'s event, when it fires (same threading as BodyFn).
  using EndpointsFn = std::function<std::vector<EndpointTarget>(std::size_t job)>;
  /// Told when job `job`'s push (not a replay) is first answered 2xx, before counts() shows it sent (same threading
  /// as BodyFn).
  using DeliveredFn = std::function<void(std::size_t job, Clock::time_point when)>;

  /// A sender with these settings; `time_scale` multiplies its delays and backoffs; nothing starts yet.
  PushSender(WebhookConfig config, double time_scale, std::uint64_t seed, BodyFn body, DeliveredFn delivered,
             EndpointsFn endpoints = nullptr)
      : config_(std::move(config)),
        time_scale_(time_scale),
        body_(std::move(body)),
        delivered_(std::move(delivered)),
        endpoints_(std::move(endpoints)),
        rng_(seed ^ 0x9E3779B97F4A7C15ULL) {}
  PushSender(const PushSender&) = delete;
  PushSender& operator=(const PushSender&) = delete;
  /// Stops.
  ~PushSender() { stop(); }

  /// Queues job `job`'s push for when it reaches its final state at `final_at`, its faults drawn now.
  void schedule(std::size_t job, std::shared_ptr<const Callback> callback, Clock::time_point final_at);
  /// Queues job `job`'s event for the registered endpoints at `final_at`; who gets it is asked then.
  void schedule_endpoints(std::size_t job, Clock::time_point final_at);
  /// Draws whether job `job` gets forged pushes at its callback and queues them for `mid_run`.
  void schedule_forged(std::size_t job, const std::shared_ptr<const Callback>& callback, Clock::time_point mid_run);
  /// Drops every queued push, aborts the ones in flight and joins the threads. Idempotent; nothing is queued
  /// after it.
  void stop();
  /// What was done so far.
  PushCounts counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }

 private:
  enum class Kind { original, duplicate, replay, fan_out, forged };

  /// One POST to make (or, for an original on its first attempt, a push to decide about).
  struct Push {
    std::size_t job = 0;
    std::shared_ptr<const Callback> callback;
    Kind kind = Kind::original;
    int attempt = 0;  // retries made before this one
    bool lost = false, duplicate = false, bad_signature = false, replay = false;
    bool sign = true;  // false: neither signature nor timestamp header
    std::string key;   // the HMAC key when signed
    PushBody what = PushBody::real;
    std::string body;          // built when first due
    httplib::Headers headers;  // replays only: exactly the delivered request's
  };

  /// A delivered original, kept for replays.
  struct Delivered {
    std::size_t job = 0;
    std::shared_ptr<const Callback> callback;
    std::string body;
    httplib::Headers headers;
  };

  static constexpr std::size_t kept_deliveries = 64;

  void queue_original_locked(Push push, Clock::time_point final_at);
  void fan_out(const Push& push);
  void start_threads_locked();
  void run();
  void process(Push push);
  void fork_duplicate_locked(const Push& push);
  void queue_replay_locked(std::size_t job);
  httplib::Headers sign(const Push& push) const;
  bool post(const Push& push, const httplib::Headers& headers);
  void settle(Push push, const httplib::Headers& headers, bool delivered);
  Clock::duration scaled(double seconds) const { return to_clock(seconds * time_scale_); }

  const WebhookConfig config_;
  const double time_scale_;
  const BodyFn body_;
  const DeliveredFn delivered_;
  const EndpointsFn endpoints_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable wake_;
  bool stopping_ = false;
  Rng rng_;
  std::multimap<Clock::time_point, Push> queue_;  // equal times keep their insertion order
  std::vector<std::thread> threads_;
  std::vector<httplib::ClientImpl*> in_flight_;
  std::size_t busy_ = 0;  // threads between taking a push and settling it
  std::deque<Delivered> deliveries_;
  PushCounts counts_;
};

inline void PushSender::schedule(std::size_t job, std::shared_ptr<const Callback> callback,
                                 Clock::time_point final_at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || !callback) return;
  Push push;
  push.job = job;
  push.callback = std::move(callback);
  push.sign = config_.callback_signing.value_or(CallbackSigning::hmac) == CallbackSigning::hmac;
  push.key = config_.secret;
  queue_original_locked(std::move(push), final_at);
}

inline void PushSender::schedule_endpoints(std::size_t job, Clock::time_point final_at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || !endpoints_) return;
  Push push;
  push.job = job;
  push.kind = Kind::fan_out;
  queue_.emplace(final_at, std::move(push));
  start_threads_locked();
  wake_.notify_one();
}

inline void PushSender::schedule_forged(std::size_t job, const std::shared_ptr<const Callback>& callback,
                                        Clock::time_point mid_run) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || !callback) return;
  // Drawn only when asked for, so configurations without forgeries keep their seeds' sequences of faults.
  std::vector<PushBody> forged;
  if (config_.forged_callback_id_rate > 0 && rng_.uniform() < config_.forged_callback_id_rate)
    forged.push_back(rng_.uniform() < 0.5 ? PushBody::forged_no_id : PushBody::forged_id);
  if (config_.forged_outcome_rate > 0 && rng_.uniform() < config_.forged_outcome_rate)
    forged.push_back(PushBody::forged_outcome);
  for (const PushBody what : forged) {
    Push push;
    push.job = job;
    push.callback = callback;
    push.kind = Kind::forged;
    push.sign = false;  // a forger has no secret
    push.what = what;
    queue_.emplace(mid_run, std::move(push));
  }
  if (forged.empty()) return;
  start_threads_locked();
  wake_.notify_one();
}

inline void PushSender::queue_original_locked(Push push, Clock::time_point final_at) {
  // Every push draws the same five numbers, so a seed gives the same faults for the same sequence of jobs.
  push.lost = rng_.uniform() < config_.lost_rate;
  push.duplicate = rng_.uniform() < config_.duplicate_rate;
  push.bad_signature = rng_.uniform() < config_.bad_signature_rate;
  push.replay = rng_.uniform() < config_.replay_rate;
  const double delay = rng_.uniform(0.0, config_.max_delay_s);
  queue_.emplace(final_at + scaled(delay), std::move(push));
  start_threads_locked();
  wake_.notify_one();
}

inline void PushSender::start_threads_locked() {
  if (!threads_.empty()) return;
  // cpp-httplib 0.11 writes without MSG_NOSIGNAL: a receiver closing mid-request must not end the process.
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
  for (std::size_t i = 0; i < config_.senders; ++i) {
    try {
      threads_.emplace_back([this] { run(); });
    } catch (const std::system_error&) {
      break;  // out of threads: the ones started share the queue
    }
  }
}

inline void PushSender::stop() {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return;
  stopping_ = true;
  queue_.clear();
  wake_.notify_all();
  // A request in flight is aborted by shutting its socket down; one about to start is caught on the next round.
  while (busy_ > 0) {
    for (auto* client : in_flight_) client->stop();
    wake_.wait_for(lock, std::chrono::milliseconds(5));
  }
  std::vector<std::thread> threads;
  threads.swap(threads_);
  lock.unlock();
  for (auto& thread : threads) thread.join();
}

inline void PushSender::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto due = queue_.begin()->first;
    if (Clock::now() < due) {
      wake_.wait_until(lock, due);
      continue;
    }
    Push push = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    ++busy_;
    lock.unlock();
    process(std::move(push));
    lock.lock();
    --busy_;
    if (stopping_) wake_.notify_all();
  }
}

inline void PushSender::fan_out(const Push& push) {
  std::vector<EndpointTarget> targets = endpoints_(push.job);
  // One event, one body: every endpoint gets the same bytes, as HeyGen sends one event to all of them.
  const std::string body = targets.empty() ? std::string{} : body_(push.job, PushBody::real);
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  for (auto& target : targets) {
    Push one;
    one.job = push.job;
    one.callback = std::move(target.callback);
    one.key = std::move(target.secret);
    one.body = body;
    queue_original_locked(std::move(one), now);
  }
}

inline void PushSender::process(Push push) {
  if (push.kind == Kind::fan_out) return fan_out(push);
  if (push.kind == Kind::forged) {
    push.body = body_(push.job, push.what);
    post(push, {});
    return;
  }
  if (push.kind == Kind::original && push.attempt == 0) {
    if (push.lost) {
      std::lock_guard<std::mutex> lock(mu_);
      ++counts_.lost;
      return;
    }
    if (push.body.empty()) push.body = body_(push.job, PushBody::real);
    std::lock_guard<std::mutex> lock(mu_);
    if (push.bad_signature && push.sign) ++counts_.bad_signature;
    if (push.duplicate) fork_duplicate_locked(push);
  }
  const httplib::Headers headers = push.kind == Kind::replay ? push.headers : sign(push);
  const bool delivered = post(push, headers);
  if (delivered && push.kind != Kind::replay) delivered_(push.job, Clock::now());
  settle(std::move(push), headers, delivered);
}

inline void PushSender::fork_duplicate_locked(const Push& push) {
  Push copy = push;
  copy.kind = Kind::duplicate;
  queue_.emplace(Clock::now(), std::move(copy));
  ++counts_.duplicated;
  wake_.notify_one();
}

inline void PushSender::queue_replay_locked(std::size_t job) {
  std::vector<const Delivered*> earlier;
  for (const auto& delivered : deliveries_) {
    if (delivered.job != job) earlier.push_back(&delivered);
  }
  if (earlier.empty()) return;
  const auto pick = static_cast<std::size_t>(rng_.uniform() * static_cast<double>(earlier.size()));
  const Delivered& chosen = *earlier[std::min(pick, earlier.size() - 1)];
  Push replay;
  replay.job = chosen.job;
  replay.callback = chosen.callback;
  replay.kind = Kind::replay;
  replay.body = chosen.body;
  replay.headers = chosen.headers;
  queue_.emplace(Clock::now(), std::move(replay));
  wake_.notify_one();
}

inline httplib::Headers PushSender::sign(const Push& push) const {
  if (!push.sign) return {};
  const std::string timestamp = std::to_string(unix_now());
  httplib::Headers headers{{std::string(webhook_timestamp_header), timestamp}};
  if (push.key.empty() && !push.bad_signature) return headers;
  const std::string text =
      config_.signed_string == WebhookSigned::timestamp_dot_body ? timestamp + "." + push.body : push.body;
  // A bad signature is a real HMAC of the right text under another secret: well-formed, and wrong.
  const std::string key = push.bad_signature ? push.key + "#not-the-secret" : push.key;
  headers.emplace(config_.signature_header, hmac_sha256_hex(key, text));
  return headers;
}

inline bool PushSender::post(const Push& push, const httplib::Headers& headers) {
  const CallbackTarget& target = push.callback->target;
  std::unique_ptr<httplib::ClientImpl> client;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (target.tls) {
    auto tls = std::make_unique<httplib::SSLClient>(target.host, target.port);
    tls->enable_server_certificate_verification(true);
    if (!config_.ca_file.empty()) tls->set_ca_cert_path(config_.ca_file);
    client = std::move(tls);
  }
#endif
  if (!client) client = std::make_unique<httplib::ClientImpl>(target.host, target.port);
  const auto whole = static_cast<time_t>(config_.timeout_s);
  const auto micros = static_cast<time_t>((config_.timeout_s - static_cast<double>(whole)) * 1e6);
  client->set_connection_timeout(whole, micros);
  client->set_read_timeout(whole, micros);
  client->set_write_timeout(whole, micros);
  client->set_keep_alive(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    if (push.attempt > 0) ++counts_.retries;
    if (push.kind == Kind::replay) ++counts_.replayed;
    if (push.kind == Kind::forged) ++counts_.forged;
    in_flight_.push_back(client.get());
  }
  const auto result = client->Post(target.path, headers, push.body, "application/json");
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), client.get()));
  return result && result->status >= 200 && result->status < 300;
}

inline void PushSender::settle(Push push, const httplib::Headers& headers, bool delivered) {
  std::lock_guard<std::mutex> lock(mu_);
  // Counted only now, after delivered_ noted the job's delivery time: the simulator's stats() reads both under its
  // own lock, so a reader that sees the push sent also sees when it was delivered.
  if (delivered) ++counts_.sent;
  if (stopping_) return;
  const bool first_of_original = push.kind == Kind::original;
  if (delivered && first_of_original && config_.replay_rate > 0) {
    deliveries_.push_back({push.job, push.callback, push.body, headers});
    if (deliveries_.size() > kept_deliveries) deliveries_.pop_front();
  }
  // A replay goes out once, after the push that drew it was settled (delivered or given up).
  const bool settled = delivered || push.kind == Kind::replay || push.attempt >= config_.retries;
  if (settled && push.replay && first_of_original) queue_replay_locked(push.job);
  if (delivered || push.kind == Kind::replay) return;
  if (push.attempt >= config_.retries) {
    ++counts_.failed;
    return;
  }
  const double backoff = config_.retry_backoff_s * static_cast<double>(1u << std::min(push.attempt, 20));
  ++push.attempt;
  queue_.emplace(Clock::now() + scaled(backoff), std::move(push));
  wake_.notify_one();
}

}  // namespace heygen::sim::detail

#endif  // HEYGEN_SIM_WEBHOOKS_HPP
