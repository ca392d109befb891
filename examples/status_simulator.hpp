// The "Video Translation Status Tracker" simulator: the reference implementation of the wire protocol in
// DESIGN.md. It speaks the seed server's core protocol plus every extension (each switchable off), injects
// faults on demand, and records server-side truth (when each job really finished, when a client first saw
// it finished) so clients can be measured. Header-only so the server program, the tests and the benchmarks
// all run the same code, in-process or as a separate process.
#ifndef HEYGEN_EXAMPLES_STATUS_SIMULATOR_HPP
#define HEYGEN_EXAMPLES_STATUS_SIMULATOR_HPP

#include <httplib.h>
#include <picojson.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <numbers>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace heygen::sim {

/// The monotonic clock behind every timing in the simulator.
using Clock = std::chrono::steady_clock;

/// How long a job stays pending; drawn once per job, at creation.
struct DurationDistribution {
  /// Shape of the distribution; selects the meaning of `a` and `b`.
  enum class Kind { fixed, uniform, lognormal };

  /// Which shape.
  Kind kind = Kind::fixed;
  /// Seconds for fixed, lower bound for uniform, median for lognormal.
  double a = 0.2;
  /// Upper bound for uniform, sigma of the underlying normal for lognormal; unused for fixed.
  double b = 0.0;

  /// Every job takes exactly `seconds`.
  static DurationDistribution fixed(double seconds) { return {Kind::fixed, seconds, 0.0}; }
  /// Uniform between `lo` and `hi` seconds.
  static DurationDistribution uniform(double lo, double hi) { return {Kind::uniform, lo, hi}; }
  /// Lognormal with the given median in seconds and sigma of the log.
  static DurationDistribution lognormal(double median, double sigma) { return {Kind::lognormal, median, sigma}; }

  /// Why the parameters are unusable, or an empty string when they are fine.
  std::string validate() const;
  /// The `--duration` spelling, e.g. `uniform:1:3`.
  std::string to_string() const;
};

/// Failures injected into create and status answers; each rate is a probability per request.
struct FaultConfig {
  /// Answer 500 with a JSON error body.
  double fail_5xx_rate = 0;
  /// Answer 429 with Retry-After.
  double throttle_rate = 0;
  /// Answer 503 with Retry-After.
  double unavailable_rate = 0;
  /// Close the connection without writing a single byte of an answer.
  double drop_rate = 0;
  /// Answer 200 with a truncated, unparseable JSON body.
  double malformed_rate = 0;
  /// Create only: make the job (and bind its Idempotency-Key), then close the connection unanswered.
  double drop_after_commit_rate = 0;
  /// Whole seconds sent as Retry-After on 429 and 503 answers.
  int retry_after_s = 1;
  /// Delay added before answering every create or status request, in milliseconds.
  double latency_ms = 0;
  /// Extra delay per request, drawn uniformly from [0, latency_jitter_ms].
  double latency_jitter_ms = 0;
};

/// Everything the simulator can be told; defaults are a full-featured, fault-free server on an ephemeral port.
struct SimulatorConfig {
  /// Address to bind.
  std::string host = "127.0.0.1";
  /// Port to bind; 0 picks a free one (read it back from StatusSimulator::port()).
  int port = 0;
  /// How long jobs stay pending.
  DurationDistribution duration = DurationDistribution::fixed(0.2);
  /// Probability that a job ends in error rather than completed.
  double error_probability = 0;
  /// Seed of the one random generator (durations, outcomes, estimate errors, faults).
  std::uint64_t seed = 1;
  /// Job ids are this prefix followed by a zero-padded sequence number.
  std::string id_prefix = "job-";
  /// Honour the Idempotency-Key header on create.
  bool idempotency = true;
  /// Add error_message, progress and eta_seconds to status answers.
  bool extra_fields = true;
  /// Send Retry-After on pending, 429 and 503 answers.
  bool retry_after_hints = true;
  /// Honour `?wait=S` on status requests.
  bool long_poll = true;
  /// Serve POST /status/batch.
  bool batch = true;
  /// Unknown ids get 404 with a JSON error; off, they get the seed's `200 {"result": "Job ID not found"}`.
  bool not_found_404 = true;
  /// Report each job as it was this many seconds ago (the seed server's stale cache); 0 is always fresh.
  double stale_seconds = 0;
  /// Relative error of eta_seconds: each job's estimate is off by a factor drawn from [1-e, 1+e].
  double eta_error = 0.2;
  /// Retry-After on pending answers in whole seconds; 0 derives it from the job's estimate (1 to 30 s).
  int pending_retry_after_s = 0;
  /// Longest long poll the server grants, in seconds; longer requests are cut to this.
  double max_wait_s = 60;
  /// Most ids one batch request may list.
  std::size_t max_batch_ids = 1000;
  /// Most jobs the server keeps; creates beyond it get 503 (memory stays bounded).
  std::size_t max_jobs = 1'000'000;
  /// Injected failures.
  FaultConfig faults;
  /// Most worker threads. Each open connection holds one worker (cpp-httplib's model) for as long as it is
  /// open, long polls included, so this is also the most connections served at once; the rest wait queued.
  std::size_t threads = 1024;
  /// Largest request body accepted; larger ones get 413 and are never buffered.
  std::size_t max_body_bytes = std::size_t{1} << 20;
  /// Requests served on one keep-alive connection before it is closed.
  std::size_t keep_alive_max_count = 10000;
  /// Seconds an idle keep-alive connection is kept open.
  int keep_alive_timeout_s = 15;
  /// Seconds a stalled read of a request may take.
  int read_timeout_s = 5;
  /// Seconds a stalled write of an answer may take.
  int write_timeout_s = 5;
  /// Listen backlog; the library's built-in 5 drops connection bursts, so it is raised after binding.
  int listen_backlog = 4096;
  /// PEM certificate (chain) file; with tls_key_file set too, the server speaks HTTPS only.
  std::string tls_cert_file{};
  /// PEM private key file of tls_cert_file.
  std::string tls_key_file{};

  /// True when the server speaks HTTPS.
  bool tls() const noexcept { return !tls_cert_file.empty(); }

  /// A server speaking exactly the seed's protocol: every extension off, unknown ids answered the seed's way.
  static SimulatorConfig core_only();
  /// Turns every extension off (as core_only()), keeping the other settings.
  SimulatorConfig& disable_extensions();
  /// Why the configuration is unusable, or an empty string when it is fine.
  std::string validate() const;
};

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
std::string to_json(const SimulatorStats& stats);

/// What parse_args found: a config to run, a request for --help, or an error to print.
struct ParsedArgs {
  /// The configuration the flags describe (defaults where no flag was given).
  SimulatorConfig config;
  /// --help was given.
  bool help = false;
  /// What is wrong with the flags; empty when parsing succeeded.
  std::string error;

  /// True when there is no error.
  bool ok() const noexcept { return error.empty(); }
};

/// Parses status_server's command line (argv[0] is the program and is skipped).
ParsedArgs parse_args(int argc, const char* const* argv);

/// The --help text.
std::string usage(std::string_view program = "status_server");

namespace detail {

/// Longest span, in seconds, ever turned into a clock duration (keeps nanosecond arithmetic from overflowing).
inline constexpr double max_span_s = 1e8;
/// The error_message of jobs whose outcome is error.
inline constexpr std::string_view failure_message = "simulated translation failure";

/// Seconds as a clock duration, clamped to [0, max_span_s].
inline Clock::duration to_clock(double seconds) {
  const double s = std::isfinite(seconds) ? std::clamp(seconds, 0.0, max_span_s) : 0.0;
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

/// Milliseconds between two time points, as a double.
inline double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// A whole string parsed as a finite double.
inline std::optional<double> to_double(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

/// A whole string parsed as an unsigned 64-bit integer.
inline std::optional<std::uint64_t> to_uint(std::string_view text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

/// Random numbers with our own transforms, so a seed gives the same jobs with every standard library.
class Rng {
 public:
  /// Seeds the engine.
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box-Muller).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

/// One draw from the distribution, in seconds, clamped to [0, max_span_s].
inline double sample_seconds(const DurationDistribution& d, Rng& rng) {
  double s = d.a;
  if (d.kind == DurationDistribution::Kind::uniform) s = rng.uniform(d.a, d.b);
  if (d.kind == DurationDistribution::Kind::lognormal) s = d.a * std::exp(d.b * rng.normal());
  return std::isfinite(s) ? std::clamp(s, 0.0, max_span_s) : max_span_s;
}

/// Appends `s` as a JSON string literal (bytes >= 0x80 pass through unchanged).
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else {
      out += ch;
    }
  }
  out += '"';
}

/// Appends a number with at most `decimals` fraction digits and no trailing zeros; null if not finite.
inline void append_json_number(std::string& out, double value, int decimals) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  std::array<char, 64> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed, decimals);
  if (res.ec != std::errc{}) res = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  std::string_view text(buf.data(), static_cast<std::size_t>(res.ptr - buf.data()));
  if (text.find('.') != std::string_view::npos && text.find('e') == std::string_view::npos) {
    text = text.substr(0, text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.remove_suffix(1);
  }
  out += (text == "-0") ? std::string_view("0") : text;
}

/// Builds one JSON object by appending members in order.
class JsonObject {
 public:
  /// A string member.
  JsonObject& str(std::string_view key, std::string_view value) {
    append_json_string(name(key), value);
    return *this;
  }
  /// A number member with at most `decimals` fraction digits.
  JsonObject& num(std::string_view key, double value, int decimals = 3) {
    append_json_number(name(key), value, decimals);
    return *this;
  }
  /// An unsigned integer member.
  JsonObject& count(std::string_view key, std::uint64_t value) {
    name(key) += std::to_string(value);
    return *this;
  }
  /// A number member, or null when absent.
  JsonObject& maybe(std::string_view key, const std::optional<double>& value, int decimals = 3) {
    if (!value) name(key) += "null";
    if (value) append_json_number(name(key), *value, decimals);
    return *this;
  }
  /// A member whose value is already JSON text.
  JsonObject& raw(std::string_view key, std::string_view json) {
    name(key) += json;
    return *this;
  }
  /// The finished object; the builder is spent afterwards.
  std::string done() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  std::string& name(std::string_view key) {
    if (out_.size() > 1) out_ += ',';
    append_json_string(out_, key);
    out_ += ':';
    return out_;
  }
  std::string out_ = "{";
};

/// `{"error": message}`.
inline std::string error_json(std::string_view message) { return JsonObject{}.str("error", message).done(); }

/// Per-connection state shared between the connection loop and the handler running on the same thread.
struct ConnectionState {
  /// The handler wants the connection closed with nothing written.
  bool drop = false;
  /// Close after this answer: the rest of the input can't be trusted (an unread or refused body).
  bool close_after = false;
  /// This request tried to read past byte_cap.
  bool over_limit = false;
  /// A write failed or was refused; httplib 0.11 ignores that, so the connection loop must not.
  bool write_failed = false;
  /// Bytes of the current request handed to the HTTP parser so far.
  std::size_t request_bytes = 0;
  /// Most bytes the current request (line, headers, body) may take.
  std::size_t byte_cap = 0;

  /// Resets the per-request fields before a new request is read.
  void begin_request(std::size_t cap) noexcept {
    request_bytes = 0;
    byte_cap = cap;
    over_limit = false;
  }
};

/// The connection the calling worker thread is serving, if any. A handler runs on the thread that owns its
/// connection, which is how it reaches the socket that cpp-httplib keeps from it.
inline ConnectionState*& current_connection() noexcept {
  thread_local ConnectionState* state = nullptr;
  return state;
}

/// Makes `state` the calling thread's current connection for the scope's lifetime.
class ConnectionScope {
 public:
  /// Installs `state`.
  explicit ConnectionScope(ConnectionState& state) noexcept : outer_(std::exchange(current_connection(), &state)) {}
  ConnectionScope(const ConnectionScope&) = delete;
  ConnectionScope& operator=(const ConnectionScope&) = delete;
  /// Restores whatever was current before.
  ~ConnectionScope() { current_connection() = outer_; }

 private:
  ConnectionState* outer_;
};

/// Makes the current connection close with no answer; false when not called from a simulator handler.
inline bool drop_connection() noexcept {
  ConnectionState* state = current_connection();
  if (state != nullptr) state->drop = true;
  return state != nullptr;
}

/// Most bytes of a refused (too large) body read and thrown away so its sender still gets the 413.
inline constexpr std::uint64_t refused_body_drain_bytes = std::uint64_t{16} << 20;

/// Handles a declared body larger than `max_body` before httplib reads it: up to refused_body_drain_bytes it
/// is read and thrown away (clients write the whole body before reading, so cutting it short would turn the
/// 413 into a reset); beyond that it is never read. True when the request must be refused now, unread.
inline bool plan_oversized_body(const httplib::Request& req, std::size_t max_body) {
  ConnectionState* state = current_connection();
  const auto declared = to_uint(req.get_header_value("Content-Length"));
  if (state == nullptr || !declared || *declared <= max_body) return false;
  if (*declared > refused_body_drain_bytes) return true;
  state->byte_cap = state->request_bytes + static_cast<std::size_t>(*declared);
  return false;
}

/// Answers with `Connection: close`, then closes the current connection.
inline void close_after_response(httplib::Response& res) {
  if (ConnectionState* state = current_connection()) state->close_after = true;
  res.set_header("Connection", "close");
}

/// Outcome of waiting for a descriptor.
enum class Readiness { ready, timeout, stopped, failed };

/// Waits up to `timeout_ms` for `events` on `fd`, or for `stop_fd` to become readable (when >= 0).
inline Readiness wait_fd(int fd, short events, int stop_fd, int timeout_ms) {
  std::array<pollfd, 2> fds{{{fd, events, 0}, {stop_fd, POLLIN, 0}}};
  const nfds_t count = stop_fd >= 0 ? 2 : 1;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int left = timeout_ms;;) {
    const int n = ::poll(fds.data(), count, left);
    if (n > 0) return (count == 2 && fds[1].revents != 0) ? Readiness::stopped : Readiness::ready;
    if (n == 0) return Readiness::timeout;
    if (errno != EINTR) return Readiness::failed;
    left = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) return Readiness::timeout;
  }
}

/// Numeric address and port of a socket address.
inline void describe_address(const sockaddr_storage& addr, std::string& ip, int& port) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (addr.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(addr);
    ip = ::inet_ntop(AF_INET, &v4.sin_addr, buf.data(), buf.size()) ? buf.data() : "";
    port = ntohs(v4.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(addr);
    ip = ::inet_ntop(AF_INET6, &v6.sin6_addr, buf.data(), buf.size()) ? buf.data() : "";
    port = ntohs(v6.sin6_port);
  }
}

/// A socket stream that waits with poll(), buffers reads, caps the bytes one request may take, can be told
/// to write nothing (dropped connections), and gives up waiting as soon as the server stops.
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
using TlsSession = SSL;
using TlsContext = SSL_CTX;
/// Bytes the TLS session has decrypted but not yet handed out.
inline bool tls_pending(TlsSession* tls) { return SSL_pending(tls) > 0; }
/// One TLS read (blocking, bounded by the socket's receive timeout): 0 at a clean close, -1 on error.
inline ssize_t tls_read(TlsSession* tls, char* data, std::size_t size) {
  const int n = SSL_read(tls, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  if (n > 0) return n;
  return SSL_get_error(tls, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}
/// One TLS write: the bytes written, or -1.
inline ssize_t tls_write(TlsSession* tls, const char* data, std::size_t size) {
  const int n = SSL_write(tls, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  return n > 0 ? n : -1;
}
/// A server context for one certificate and key; throws when either cannot be loaded.
inline TlsContext* make_tls_context(const std::string& cert_file, const std::string& key_file) {
  TlsContext* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx != nullptr && SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) == 1 &&
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) == 1 &&
      SSL_CTX_check_private_key(ctx) == 1) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    return ctx;
  }
  SSL_CTX_free(ctx);
  throw std::runtime_error("status simulator: cannot load TLS certificate '" + cert_file + "' and key '" + key_file +
                           "'");
}
/// Accepts a TLS session on a connected socket (the handshake is bounded by the socket's timeouts).
inline TlsSession* accept_tls(TlsContext* ctx, int sock) {
  TlsSession* tls = SSL_new(ctx);
  if (tls != nullptr && SSL_set_fd(tls, sock) == 1 && SSL_accept(tls) == 1) return tls;
  SSL_free(tls);
  return nullptr;
}
/// Ends a session: a close_notify when the peer is still there, then the memory.
inline void end_tls(TlsSession* tls) {
  SSL_shutdown(tls);
  SSL_free(tls);
}
inline void free_tls_context(TlsContext* ctx) { SSL_CTX_free(ctx); }
#else
struct TlsSession {};
struct TlsContext {};
inline bool tls_pending(TlsSession*) { return false; }
inline ssize_t tls_read(TlsSession*, char*, std::size_t) { return -1; }
inline ssize_t tls_write(TlsSession*, const char*, std::size_t) { return -1; }
inline TlsContext* make_tls_context(const std::string&, const std::string&) {
  throw std::runtime_error("status simulator: TLS needs cpp-httplib built with OpenSSL");
}
inline TlsSession* accept_tls(TlsContext*, int) { return nullptr; }
inline void end_tls(TlsSession*) {}
inline void free_tls_context(TlsContext*) {}
#endif

class PollStream final : public httplib::Stream {
 public:
  /// Wraps a connected socket; `stop_fd` becomes readable when the server stops. With `tls`, bytes go
  /// through that (already accepted) TLS session instead of straight to the socket.
  PollStream(int sock, int stop_fd, int read_ms, int write_ms, ConnectionState& state, TlsSession* tls = nullptr)
      : sock_(sock), stop_fd_(stop_fd), read_ms_(read_ms), write_ms_(write_ms), state_(state), tls_(tls) {}

  using httplib::Stream::write;

  /// Buffered bytes are waiting, or the socket becomes readable before the read timeout.
  bool is_readable() const override { return wait_readable(read_ms_); }
  /// The socket becomes writable before the write timeout.
  bool is_writable() const override { return wait_fd(sock_, POLLOUT, -1, write_ms_) == Readiness::ready; }
  /// Bytes already buffered for the parser.
  std::size_t buffered() const noexcept { return len_ - pos_; }
  /// Waits for the next request's first byte; false on timeout, stop or error.
  bool wait_readable(int timeout_ms) const {
    return buffered() > 0 || (tls_ && tls_pending(tls_)) ||
           wait_fd(sock_, POLLIN, stop_fd_, timeout_ms) == Readiness::ready;
  }

  /// Reads up to `size` bytes: 0 at end of stream, -1 on error, timeout, stop or the request byte cap.
  ssize_t read(char* ptr, size_t size) override {
    if (buffered() == 0) {
      const ssize_t got = fill();
      if (got <= 0) return got;
    }
    const std::size_t n = std::min(size, buffered());
    if (state_.request_bytes + n > state_.byte_cap) {
      state_.over_limit = true;
      return -1;
    }
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    state_.request_bytes += n;
    return static_cast<ssize_t>(n);
  }

  /// Writes some of the bytes; -1 (nothing written) once the handler asked for a drop.
  ssize_t write(const char* ptr, size_t size) override {
    const ssize_t n = (state_.drop || state_.write_failed || !is_writable()) ? -1 : send_some(ptr, size);
    state_.write_failed = n < 0;
    return n;
  }

  /// The peer's numeric address and port.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) describe_address(addr, ip, port);
  }
  /// Our numeric address and port.
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) describe_address(addr, ip, port);
  }
  /// The connected socket.
  socket_t socket() const override { return sock_; }

 private:
#ifdef MSG_NOSIGNAL
  static constexpr int send_flags = MSG_NOSIGNAL;  // a vanished client must not raise SIGPIPE
#else
  static constexpr int send_flags = 0;
#endif

  ssize_t send_some(const char* ptr, size_t size) const {
    if (tls_) return tls_write(tls_, ptr, size);
    for (;;) {
      const ssize_t n = ::send(sock_, ptr, size, send_flags);
      if (n >= 0 || errno != EINTR) return n;
    }
  }

  ssize_t fill() {
    if (!(tls_ && tls_pending(tls_)) && wait_fd(sock_, POLLIN, stop_fd_, read_ms_) != Readiness::ready) return -1;
    if (tls_) {
      const ssize_t n = tls_read(tls_, buf_.data(), buf_.size());
      pos_ = 0;
      len_ = n > 0 ? static_cast<std::size_t>(n) : 0;
      return n;
    }
    for (;;) {
      const ssize_t n = ::recv(sock_, buf_.data(), buf_.size(), 0);
      if (n >= 0 || errno != EINTR) {
        pos_ = 0;
        len_ = n > 0 ? static_cast<std::size_t>(n) : 0;
        return n;
      }
    }
  }

  int sock_;
  int stop_fd_;
  int read_ms_;
  int write_ms_;
  ConnectionState& state_;
  TlsSession* tls_;
  std::array<char, 16384> buf_{};
  std::size_t pos_ = 0;
  std::size_t len_ = 0;
};

/// A worker pool that starts threads only when every existing one is busy, up to a maximum, so a generous
/// limit costs nothing until the load needs it. Tasks beyond the limit wait in the queue.
class ElasticThreadPool final : public httplib::TaskQueue {
 public:
  /// A pool of at most `max_threads` workers (at least one).
  explicit ElasticThreadPool(std::size_t max_threads) : max_(std::max<std::size_t>(1, max_threads)) {}
  ElasticThreadPool(const ElasticThreadPool&) = delete;
  ElasticThreadPool& operator=(const ElasticThreadPool&) = delete;
  ~ElasticThreadPool() override { shutdown(); }

  /// Queues a task, starting a worker if none is idle and the limit allows.
  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (shut_ || !worker_available()) {
      lock.unlock();
      fn();  // shut down, or not one thread could be started: each task owns a socket that must be closed
      return;
    }
    queue_.push_back(std::move(fn));
    lock.unlock();
    cv_.notify_one();
  }

  /// Runs what is queued, then joins every worker. Idempotent.
  void shutdown() override {
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shut_ = true;
      workers.swap(workers_);
    }
    cv_.notify_all();
    for (auto& worker : workers) worker.join();
  }

  /// Workers started so far.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_.size();
  }

 private:
  bool worker_available() {
    if (idle_ <= queue_.size() && workers_.size() < max_) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (const std::system_error&) {
        // Out of threads: the task waits for a worker that exists.
      }
    }
    return !workers_.empty();
  }

  void work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return shut_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const std::size_t max_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;
  std::size_t idle_ = 0;
  bool shut_ = false;
};

/// cpp-httplib's server with its own connection loop: the stock loop gives handlers no way to close a
/// connection unanswered, waits for keep-alive traffic in slices even after stop(), and buffers request
/// bodies without a bound when they are chunked. Overriding the (virtual) per-connection function, as
/// httplib's own SSLServer does, fixes all three while routing and parsing stay httplib's.
class SimHttpServer final : public httplib::Server {
 public:
  /// Creates the stop pipe.
  SimHttpServer() {
    if (::pipe(stop_pipe_.data()) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    for (const int fd : stop_pipe_) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  SimHttpServer(const SimHttpServer&) = delete;
  SimHttpServer& operator=(const SimHttpServer&) = delete;
  ~SimHttpServer() override {
    for (const int fd : stop_pipe_) ::close(fd);
    if (tls_context_ != nullptr) free_tls_context(tls_context_);
  }

  /// Serves HTTPS with this certificate and key from now on; throws when they cannot be loaded.
  void enable_tls(const std::string& cert_file, const std::string& key_file) {
    tls_context_ = make_tls_context(cert_file, key_file);
  }

  /// Most bytes one request (line, headers and body) may take before its connection is cut.
  void set_request_byte_cap(std::size_t cap) noexcept { byte_cap_ = cap; }
  /// Wakes every connection waiting for input so it closes; call before stop().
  void begin_shutdown() noexcept {
    shutting_down_ = true;
    const char byte = 1;
    if (::write(stop_pipe_[1], &byte, 1) < 0) {
      // The pipe only ever holds this one byte, so a failed write means it is already readable.
    }
  }
  /// Raises the listen backlog of the bound socket (listen() may be called again on a listening socket).
  bool widen_backlog(int backlog) const { return ::listen(svr_sock_, backlog) == 0; }
  /// The numeric address and port the server is bound to.
  std::pair<std::string, int> local_endpoint() const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    std::pair<std::string, int> out{"", 0};
    if (::getsockname(svr_sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      describe_address(addr, out.first, out.second);
    }
    return out;
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    ConnectionState state;
    const int on = 1;  // answers go out as two writes (head, body); Nagle would hold the second one
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    bool ok = false;
    try {
      ok = tls_context_ != nullptr ? serve_tls_connection(sock, state) : serve_connection(sock, state, nullptr);
    } catch (...) {
      // Handler exceptions are answered by httplib; anything else (out of memory while parsing) ends this
      // connection only, never the worker thread.
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  /// The TLS handshake, then the same loop over the session. A blocking session cannot be woken by the stop
  /// pipe, so the socket's own timeouts bound every read and write (and the handshake).
  bool serve_tls_connection(int sock, ConnectionState& state) {
    const timeval read_limit{read_timeout_sec_, static_cast<suseconds_t>(read_timeout_usec_)};
    const timeval write_limit{write_timeout_sec_, static_cast<suseconds_t>(write_timeout_usec_)};
    ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &read_limit, sizeof read_limit);
    ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &write_limit, sizeof write_limit);
    TlsSession* tls = accept_tls(tls_context_, sock);
    if (tls == nullptr) return false;
    const bool ok = serve_connection(sock, state, tls);
    end_tls(tls);
    return ok;
  }

  bool serve_connection(int sock, ConnectionState& state, TlsSession* tls) {
    PollStream strm(sock, stop_pipe_[0], to_ms(read_timeout_sec_, read_timeout_usec_),
                    to_ms(write_timeout_sec_, write_timeout_usec_), state, tls);
    const ConnectionScope scope(state);
    bool ok = true;
    for (std::size_t left = keep_alive_max_count_; left > 0 && ok; --left) {
      if (shutting_down_ || !strm.wait_readable(to_ms(keep_alive_timeout_sec_, 0))) break;
      state.begin_request(byte_cap_);
      bool client_closes = false;
      ok = process_request(strm, left == 1 || shutting_down_, client_closes, assume_empty_body);
      // process_request reports a failed write as success; a dropped or broken connection must end here.
      if (client_closes || state.close_after || state.drop || state.write_failed) break;
    }
    return ok;
  }

  static void assume_empty_body(httplib::Request& req) {
    // A request with neither header has no body (RFC 9112, 6.3); httplib 0.11 would read until the client
    // closes, so an empty POST from curl or a bare socket would hang for the read timeout and then get 400.
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      req.set_header("Content-Length", "0");
    }
  }

  static int to_ms(time_t sec, time_t usec) {
    const auto ms = static_cast<long long>(sec) * 1000 + static_cast<long long>(usec) / 1000;
    return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
  }

  std::array<int, 2> stop_pipe_{-1, -1};
  std::atomic<bool> shutting_down_{false};
  std::size_t byte_cap_ = std::size_t{1} << 20;
  TlsContext* tls_context_ = nullptr;
};

/// Status a job reports.
enum class JobState { pending, completed, error };

/// The wire name of a state.
inline std::string_view state_name(JobState state) noexcept {
  if (state == JobState::pending) return "pending";
  return state == JobState::error ? "error" : "completed";
}

/// One job as the server keeps it.
struct Job {
  /// Its id.
  std::string id;
  /// When it was created.
  Clock::time_point created;
  /// When it leaves pending.
  Clock::time_point completes;
  /// Whether it ends in error.
  bool fails = false;
  /// Factor applied to the true remaining time to make eta_seconds.
  double eta_factor = 1.0;
  /// Status requests naming it.
  std::uint64_t looks = 0;
  /// When an answer first reported it terminal.
  std::optional<Clock::time_point> first_terminal_seen;
};

/// A job's status as one answer reports it.
struct JobView {
  /// Reported state.
  JobState state = JobState::pending;
  /// Fraction of its duration elapsed, in [0, 1].
  double progress = 0;
  /// Estimated seconds until it leaves pending.
  double eta_s = 0;
};

/// Counters behind StatsTotals.
struct Counters {
  /// See StatsTotals.
  std::uint64_t create_requests = 0, idempotent_replays = 0, status_requests = 0, job_status_looks = 0,
                batch_requests = 0;
  /// Injected faults by kind.
  FaultCounts faults;
};

/// An injected fault, as decided for one request.
enum class Fault { none, fail_5xx, throttle, unavailable, drop, malformed, drop_after_commit };

/// The fault replaces the answer entirely (no job looked at, nothing created).
inline bool fault_preempts(Fault f) noexcept {
  return f == Fault::fail_5xx || f == Fault::throttle || f == Fault::unavailable || f == Fault::drop;
}

/// The counter of one kind of fault; null for `none`.
inline std::uint64_t* fault_counter(FaultCounts& counts, Fault f) noexcept {
  switch (f) {
    case Fault::fail_5xx: return &counts.fail_5xx;
    case Fault::throttle: return &counts.throttle;
    case Fault::unavailable: return &counts.unavailable;
    case Fault::drop: return &counts.drop;
    case Fault::malformed: return &counts.malformed;
    case Fault::drop_after_commit: return &counts.drop_after_commit;
    case Fault::none: break;
  }
  return nullptr;
}

/// Reason phrase used in the JSON body of errors httplib raises itself.
inline std::string_view error_phrase(int status) noexcept {
  switch (status) {
    case 400: return "bad request";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 413: return "payload too large";
    case 414: return "uri too long";
    case 416: return "range not satisfiable";
    default: return status >= 500 ? "internal server error" : "request refused";
  }
}

/// Why the batch body is unusable; status 0 means it is fine.
struct BatchParse {
  /// The ids listed, duplicates removed, first occurrence order kept.
  std::vector<std::string> ids;
  /// HTTP status of the refusal, 0 when parsing succeeded.
  int status = 0;
  /// JSON body of the refusal.
  std::string body;
};

/// Reads `{"job_ids": [...]}`, refusing bad JSON, wrong shapes and more than `max_ids` ids.
inline BatchParse parse_batch_body(const std::string& body, std::size_t max_ids) {
  BatchParse out;
  picojson::value doc;
  const std::string err = picojson::parse(doc, body);
  const picojson::value* list = nullptr;
  if (err.empty() && doc.is<picojson::object>() && doc.contains("job_ids")) list = &doc.get("job_ids");
  if (list == nullptr || !list->is<picojson::array>()) {
    out.status = 400;
    out.body = error_json(err.empty() ? "expected {\"job_ids\": [...]}" : "invalid JSON");
    return out;
  }
  const auto& items = list->get<picojson::array>();
  if (items.size() > max_ids) {
    out.status = 413;
    out.body = JsonObject{}.str("error", "too many job_ids").count("max_job_ids", max_ids).done();
    return out;
  }
  for (const auto& item : items) {
    if (!item.is<std::string>()) {
      out.status = 400;
      out.body = error_json("job_ids must be strings");
      return out;
    }
    const auto& id = item.get<std::string>();
    if (std::find(out.ids.begin(), out.ids.end(), id) == out.ids.end()) out.ids.push_back(id);
  }
  return out;
}

}  // namespace detail

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
  /// Stops serving: every long poll answers at once, idle connections close, threads are joined. Idempotent.
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

  void serve_status(const Request& req, Response& res, const std::string& id);
  void answer_batch(Response& res, const std::vector<std::string>& ids, detail::Fault fault);
  std::optional<double> wait_seconds(const Request& req) const;
  detail::Fault draw_fault(bool create);
  void apply_fault(Response& res, detail::Fault fault) const;
  void inject_latency();
  void hold(const std::vector<std::string>& ids, double wait_s);
  std::optional<std::string> create_or_replay(const std::string& key);
  std::string make_job_locked(Clock::time_point now);
  std::optional<detail::JobView> look_locked(const std::string& id, Clock::time_point now, bool delivered);
  detail::JobView view_of(const detail::Job& job, Clock::time_point now) const;
  std::string latest_job_id() const;
  std::string status_json(const detail::JobView& view) const;
  int pending_hint_s(const detail::JobView& view) const;
  void send_json(Response& res, int status, std::string body) const;
  void send_status(Response& res, const detail::JobView& view) const;
  static void garble(Response& res);
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
  detail::Counters counters_;
};

// ---------------------------------------------------------------------------------------------------------
// Configuration

inline std::string DurationDistribution::validate() const {
  const bool finite = std::isfinite(a) && std::isfinite(b);
  const double limit = detail::max_span_s;
  switch (kind) {
    case Kind::fixed: return finite && a >= 0 && a <= limit ? "" : "fixed duration must be between 0 and 1e8 seconds";
    case Kind::uniform:
      return finite && a >= 0 && a <= b && b <= limit ? "" : "uniform needs 0 <= A <= B <= 1e8 seconds";
    case Kind::lognormal:
      return finite && a > 0 && a <= limit && b >= 0 && b <= 10 ? ""
                                                                : "lognormal needs MEDIAN > 0 and 0 <= SIGMA <= 10";
  }
  return "unknown distribution kind";
}

inline std::string DurationDistribution::to_string() const {
  std::string out;
  if (kind == Kind::fixed) out = "fixed:";
  if (kind == Kind::uniform) out = "uniform:";
  if (kind == Kind::lognormal) out = "lognormal:";
  detail::append_json_number(out, a, 6);
  if (kind == Kind::fixed) return out;
  out += ':';
  detail::append_json_number(out, b, 6);
  return out;
}

inline SimulatorConfig SimulatorConfig::core_only() { return SimulatorConfig{}.disable_extensions(); }

inline SimulatorConfig& SimulatorConfig::disable_extensions() {
  idempotency = extra_fields = retry_after_hints = long_poll = batch = false;
  not_found_404 = false;  // the seed answers an unknown id with 200 {"result": "Job ID not found"}
  return *this;
}

namespace detail {

/// Error text when `value` is not a probability.
inline std::string check_probability(std::string_view name, double value) {
  return value >= 0 && value <= 1 ? "" : std::string(name) + " must be between 0 and 1";
}

/// Error text when `value` is outside [lo, hi].
inline std::string check_range(std::string_view name, double value, double lo, double hi) {
  if (value >= lo && value <= hi) return "";
  std::string out = std::string(name) + " must be between ";
  append_json_number(out, lo, 3);
  out += " and ";
  append_json_number(out, hi, 3);
  return out;
}

/// The first non-empty message, or empty.
inline std::string first_error(std::initializer_list<std::string> errors) {
  for (const auto& e : errors) {
    if (!e.empty()) return e;
  }
  return "";
}

/// Problems with the fault settings.
inline std::string validate_faults(const FaultConfig& f) {
  const double answered = f.fail_5xx_rate + f.throttle_rate + f.unavailable_rate + f.drop_rate + f.malformed_rate;
  return first_error({
      check_probability("fail rate", f.fail_5xx_rate),
      check_probability("throttle rate", f.throttle_rate),
      check_probability("unavailable rate", f.unavailable_rate),
      check_probability("drop rate", f.drop_rate),
      check_probability("malformed rate", f.malformed_rate),
      check_probability("drop-after-commit rate", f.drop_after_commit_rate),
      answered + f.drop_after_commit_rate <= 1 + 1e-9 ? "" : "fault rates must add up to at most 1",
      check_range("retry-after", f.retry_after_s, 0, 86400),
      check_range("latency", f.latency_ms, 0, 600000),
      check_range("latency jitter", f.latency_jitter_ms, 0, 600000),
  });
}

/// Problems with the limits and timeouts.
inline std::string validate_limits(const SimulatorConfig& c) {
  return first_error({
      check_range("threads", static_cast<double>(c.threads), 1, 65536),
      check_range("max batch ids", static_cast<double>(c.max_batch_ids), 1, 1e7),
      check_range("max jobs", static_cast<double>(c.max_jobs), 1, 1e9),
      check_range("max body bytes", static_cast<double>(c.max_body_bytes), 1024, 1 << 30),
      check_range("keep-alive max count", static_cast<double>(c.keep_alive_max_count), 1, 1e9),
      check_range("keep-alive timeout", c.keep_alive_timeout_s, 1, 3600),
      check_range("read timeout", c.read_timeout_s, 1, 3600),
      check_range("write timeout", c.write_timeout_s, 1, 3600),
      check_range("listen backlog", c.listen_backlog, 1, 65535),
  });
}

}  // namespace detail

namespace detail {
/// TLS needs both files, and cpp-httplib built with OpenSSL.
inline std::string validate_tls(const SimulatorConfig& c) {
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) return "TLS needs both a certificate and a key file";
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (c.tls()) return "TLS needs cpp-httplib built with OpenSSL";
#endif
  return "";
}
}  // namespace detail

inline std::string SimulatorConfig::validate() const {
  return detail::first_error({
      host.empty() ? "host must not be empty" : "",
      detail::check_range("port", port, 0, 65535),
      duration.validate(),
      detail::check_probability("error rate", error_probability),
      id_prefix.size() <= 64 ? "" : "id prefix must be at most 64 bytes",
      detail::check_range("stale", stale_seconds, 0, 1e6),
      detail::check_range("eta error", eta_error, 0, 0.99),
      detail::check_range("pending retry-after", pending_retry_after_s, 0, 86400),
      detail::check_range("max wait", max_wait_s, 0.001, 3600),
      detail::validate_faults(faults),
      detail::validate_limits(*this),
      detail::validate_tls(*this),
  });
}

// ---------------------------------------------------------------------------------------------------------
// Statistics

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
                    .done();
  return detail::JsonObject{}.num("uptime_ms", stats.uptime_ms).raw("jobs", jobs).raw("totals", totals).done();
}

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

// ---------------------------------------------------------------------------------------------------------
// Lifecycle

inline StatusSimulator::StatusSimulator(SimulatorConfig config)
    : config_(std::move(config)), stale_(detail::to_clock(config_.stale_seconds)), rng_(config_.seed) {
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
  server_.set_payload_max_length(config_.max_body_bytes);
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
  listener_.join();
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
// Routing

inline void StatusSimulator::install_routes() {
  // GET /status/{id} is matched by prefix rather than by an httplib regex: std::regex backtracks recursively
  // over the (client-controlled, up to 8 KiB) path and could exhaust a worker's stack.
  httplib::Server::HandlerWithResponse pre = [this](const Request& q, Response& r) { return pre_route(q, r); };
  server_.set_pre_routing_handler(std::move(pre));
  server_.Post("/create_job", [this](const Request& q, Response& r) { on_create(q, r); });
  server_.Get("/status", [this](const Request& q, Response& r) { on_status_query(q, r); });
  if (config_.batch) server_.Post("/status/batch", [this](const Request& q, Response& r) { on_batch(q, r); });
  server_.Get("/stats", [this](const Request& q, Response& r) { on_stats(q, r); });
  httplib::Server::HandlerWithResponse errors = [this](const Request& q, Response& r) { return on_error(q, r); };
  server_.set_error_handler(std::move(errors));
  server_.set_exception_handler([this](const Request&, Response& r, const std::exception_ptr&) {
    send_json(r, 500, detail::error_json("internal error"));
  });
}

inline httplib::Server::HandlerResponse StatusSimulator::pre_route(const Request& req, Response& res) {
  // Runs after the headers and before httplib reads any body.
  if (detail::plan_oversized_body(req, config_.max_body_bytes)) {
    detail::close_after_response(res);
    send_json(res, 413, detail::error_json(detail::error_phrase(413)));
    return HandlerResponse::Handled;
  }
  constexpr std::string_view prefix = "/status/";
  if (req.method != "GET" || req.path.compare(0, prefix.size(), prefix) != 0) return HandlerResponse::Unhandled;
  // httplib never reads a GET body; whatever follows in the stream can't be parsed as the next request.
  if (req.get_header_value("Content-Length") != "0" || req.has_header("Transfer-Encoding")) {
    detail::close_after_response(res);
  }
  serve_status(req, res, req.path.substr(prefix.size()));
  return HandlerResponse::Handled;
}

inline httplib::Server::HandlerResponse StatusSimulator::on_error(const Request&, Response& res) const {
  if (!res.body.empty()) return HandlerResponse::Unhandled;  // one of our own answers: keep it
  const detail::ConnectionState* conn = detail::current_connection();
  if (conn != nullptr && conn->over_limit) res.status = 413;
  // Errors raised by httplib itself (bad request line, refused body) leave unread input behind.
  if (res.status != 404) detail::close_after_response(res);
  res.set_content(detail::error_json(detail::error_phrase(res.status)), "application/json");
  return HandlerResponse::Handled;
}

inline void StatusSimulator::on_stats(const Request&, Response& res) const { send_json(res, 200, stats_json()); }

// ---------------------------------------------------------------------------------------------------------
// Create

inline void StatusSimulator::on_create(const Request& req, Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.create_requests;
  }
  inject_latency();
  const detail::Fault fault = draw_fault(true);
  if (detail::fault_preempts(fault)) return apply_fault(res, fault);
  const std::string key = config_.idempotency ? req.get_header_value("Idempotency-Key") : std::string();
  const auto id = create_or_replay(key);
  if (!id) return send_json(res, 503, detail::error_json("job limit reached"));
  send_json(res, 200, detail::JsonObject{}.str("job_id", *id).done());
  if (fault == detail::Fault::malformed) garble(res);
  if (fault == detail::Fault::drop_after_commit) detail::drop_connection();
}

inline std::optional<std::string> StatusSimulator::create_or_replay(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!key.empty()) {
    if (auto it = by_key_.find(key); it != by_key_.end()) {
      ++counters_.idempotent_replays;
      return jobs_[it->second].id;
    }
  }
  if (jobs_.size() >= config_.max_jobs) return std::nullopt;
  std::string id = make_job_locked(Clock::now());
  if (!key.empty()) by_key_.emplace(key, jobs_.size() - 1);
  return id;
}

inline std::string StatusSimulator::make_job_locked(Clock::time_point now) {
  std::string seq = std::to_string(jobs_.size() + 1);
  if (seq.size() < 6) seq.insert(0, 6 - seq.size(), '0');
  detail::Job job;
  job.id = config_.id_prefix + seq;
  job.created = now;
  job.completes = now + detail::to_clock(detail::sample_seconds(config_.duration, rng_));
  job.fails = rng_.uniform() < config_.error_probability;
  job.eta_factor = rng_.uniform(1.0 - config_.eta_error, 1.0 + config_.eta_error);
  by_id_.emplace(job.id, jobs_.size());
  jobs_.push_back(job);
  return job.id;
}

// ---------------------------------------------------------------------------------------------------------
// Status

inline void StatusSimulator::on_status_query(const Request& req, Response& res) {
  serve_status(req, res, req.has_param("job_id") ? req.get_param_value("job_id") : latest_job_id());
}

inline std::string StatusSimulator::latest_job_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.empty() ? std::string() : jobs_.back().id;
}

inline void StatusSimulator::serve_status(const Request& req, Response& res, const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.status_requests;
  }
  inject_latency();
  const auto wait = wait_seconds(req);
  if (!wait) return send_json(res, 400, detail::error_json("wait must be a non-negative number of seconds"));
  const detail::Fault fault = draw_fault(false);
  if (!detail::fault_preempts(fault)) hold({id}, *wait);
  std::unique_lock<std::mutex> lock(mu_);
  const auto view = look_locked(id, Clock::now(), fault == detail::Fault::none);
  lock.unlock();
  if (detail::fault_preempts(fault)) return apply_fault(res, fault);
  if (view) send_status(res, *view);
  if (!view) send_unknown_job(res);
  if (fault == detail::Fault::malformed) garble(res);
}

inline void StatusSimulator::on_batch(const Request& req, Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.status_requests;
    ++counters_.batch_requests;
  }
  inject_latency();
  const auto wait = wait_seconds(req);
  if (!wait) return send_json(res, 400, detail::error_json("wait must be a non-negative number of seconds"));
  auto parsed = detail::parse_batch_body(req.body, config_.max_batch_ids);
  if (parsed.status != 0) return send_json(res, parsed.status, std::move(parsed.body));
  const detail::Fault fault = draw_fault(false);
  if (!detail::fault_preempts(fault)) hold(parsed.ids, *wait);
  answer_batch(res, parsed.ids, fault);
}

inline void StatusSimulator::answer_batch(Response& res, const std::vector<std::string>& ids, detail::Fault fault) {
  const std::string unknown = detail::JsonObject{}.str("result", "error").str("error_message", "unknown job").done();
  detail::JsonObject results;
  bool any_terminal = false;
  int hint = 0;  // the soonest suggestion among pending jobs
  std::unique_lock<std::mutex> lock(mu_);
  const auto now = Clock::now();
  for (const auto& id : ids) {
    const auto view = look_locked(id, now, fault == detail::Fault::none);
    results.raw(id, view ? status_json(*view) : unknown);
    const bool pending = view && view->state == detail::JobState::pending;
    any_terminal = any_terminal || !pending;
    if (pending) hint = hint == 0 ? pending_hint_s(*view) : std::min(hint, pending_hint_s(*view));
  }
  lock.unlock();
  if (detail::fault_preempts(fault)) return apply_fault(res, fault);
  send_json(res, 200, detail::JsonObject{}.raw("results", results.done()).done());
  if (!any_terminal && hint > 0) send_retry_after(res, hint);
  if (fault == detail::Fault::malformed) garble(res);
}

inline std::optional<double> StatusSimulator::wait_seconds(const Request& req) const {
  if (!config_.long_poll || !req.has_param("wait")) return 0.0;
  const auto value = detail::to_double(req.get_param_value("wait"));
  if (!value || *value < 0) return std::nullopt;
  return std::min(*value, config_.max_wait_s);
}

inline void StatusSimulator::hold(const std::vector<std::string>& ids, double wait_s) {
  if (ids.empty() || wait_s <= 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  auto until = Clock::now() + detail::to_clock(wait_s);
  for (const auto& id : ids) {
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) return;  // an unknown id is already a terminal (error) answer
    // A job's outcome is fixed at creation, so the moment its answer changes is known: no polling needed,
    // the condition variable only has to wake early for stop().
    until = std::min(until, jobs_[it->second].completes + stale_);
  }
  wake_.wait_until(lock, until, [this] { return stopping_; });
}

inline std::optional<detail::JobView> StatusSimulator::look_locked(const std::string& id, Clock::time_point now,
                                                                   bool delivered) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  detail::Job& job = jobs_[it->second];
  ++job.looks;
  ++counters_.job_status_looks;
  const detail::JobView view = view_of(job, now);
  if (delivered && view.state != detail::JobState::pending && !job.first_terminal_seen) {
    job.first_terminal_seen = now;
  }
  return view;
}

inline detail::JobView StatusSimulator::view_of(const detail::Job& job, Clock::time_point now) const {
  // Stale cache: the job is reported as it was stale_seconds ago (a job younger than that reads as pending).
  const Clock::time_point seen = now - stale_;
  detail::JobView view;
  if (seen >= job.completes) {
    view.state = job.fails ? detail::JobState::error : detail::JobState::completed;
    view.progress = 1.0;
    return view;
  }
  const double total = std::chrono::duration<double>(job.completes - job.created).count();
  const double elapsed = std::chrono::duration<double>(seen - job.created).count();
  view.progress = total > 0 ? std::clamp(elapsed / total, 0.0, 1.0) : 0.0;
  view.eta_s = std::chrono::duration<double>(job.completes - std::max(seen, job.created)).count() * job.eta_factor;
  return view;
}

inline std::string StatusSimulator::status_json(const detail::JobView& view) const {
  detail::JsonObject out;
  out.str("result", detail::state_name(view.state));
  if (!config_.extra_fields) return out.done();
  if (view.state == detail::JobState::error) out.str("error_message", detail::failure_message);
  return out.num("progress", view.progress, 4).num("eta_seconds", view.eta_s, 3).done();
}

inline int StatusSimulator::pending_hint_s(const detail::JobView& view) const {
  if (config_.pending_retry_after_s > 0) return config_.pending_retry_after_s;
  // Retry-After only has whole seconds; never 0, which would invite a busy loop.
  return static_cast<int>(std::clamp(std::ceil(view.eta_s), 1.0, 30.0));
}

inline void StatusSimulator::send_json(Response& res, int status, std::string body) const {
  res.status = status;
  res.body = std::move(body);
  res.set_header("Content-Type", "application/json");
}

inline void StatusSimulator::send_status(Response& res, const detail::JobView& view) const {
  send_json(res, 200, status_json(view));
  if (view.state == detail::JobState::pending) send_retry_after(res, pending_hint_s(view));
}

inline void StatusSimulator::garble(Response& res) {
  // A malformed answer looks like success to anything that only checks the status code.
  res.status = 200;
  res.body.resize(res.body.size() / 2);
}

inline void StatusSimulator::send_unknown_job(Response& res) const {
  if (!config_.not_found_404) return send_json(res, 200, detail::JsonObject{}.str("result", "Job ID not found").done());
  send_json(res, 404, detail::JsonObject{}.str("result", "error").str("error_message", "unknown job").done());
}

inline void StatusSimulator::send_retry_after(Response& res, int seconds) const {
  if (config_.retry_after_hints) res.set_header("Retry-After", std::to_string(seconds));
}

// ---------------------------------------------------------------------------------------------------------
// Faults

inline detail::Fault StatusSimulator::draw_fault(bool create) {
  using detail::Fault;
  const auto& f = config_.faults;
  const std::array<std::pair<double, Fault>, 6> table{{
      {f.fail_5xx_rate, Fault::fail_5xx},
      {f.throttle_rate, Fault::throttle},
      {f.unavailable_rate, Fault::unavailable},
      {f.drop_rate, Fault::drop},
      {f.malformed_rate, Fault::malformed},
      {create ? f.drop_after_commit_rate : 0.0, Fault::drop_after_commit},
  }};
  double total = 0;
  for (const auto& entry : table) total += entry.first;
  if (total <= 0) return Fault::none;  // no draw: request traffic must not shift the jobs' random sequence
  std::lock_guard<std::mutex> lock(mu_);
  double u = rng_.uniform();
  for (const auto& [rate, kind] : table) {
    if (u < rate) {
      if (auto* counter = detail::fault_counter(counters_.faults, kind)) ++*counter;
      return kind;
    }
    u -= rate;
  }
  return Fault::none;
}

inline void StatusSimulator::apply_fault(Response& res, detail::Fault fault) const {
  using detail::Fault;
  if (fault == Fault::fail_5xx) send_json(res, 500, detail::error_json("simulated internal error"));
  if (fault == Fault::throttle) send_json(res, 429, detail::error_json("simulated throttling"));
  if (fault == Fault::unavailable) send_json(res, 503, detail::error_json("simulated unavailability"));
  if (fault == Fault::throttle || fault == Fault::unavailable) send_retry_after(res, config_.faults.retry_after_s);
  if (fault == Fault::drop && !detail::drop_connection()) {
    send_json(res, 500, detail::error_json("simulated drop outside a connection"));
  }
}

inline void StatusSimulator::inject_latency() {
  const auto& f = config_.faults;
  if (f.latency_ms <= 0 && f.latency_jitter_ms <= 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  const double ms = f.latency_ms + rng_.uniform(0.0, f.latency_jitter_ms);
  wake_.wait_until(lock, Clock::now() + detail::to_clock(ms / 1000.0), [this] { return stopping_; });
}

// ---------------------------------------------------------------------------------------------------------
// Command line

namespace detail {

/// Applies one flag's value to a config; returns an error message or an empty string.
using FlagApply = std::string (*)(SimulatorConfig&, std::string_view);

/// One command-line flag.
struct FlagSpec {
  /// Name without the leading dashes.
  std::string_view name;
  /// Placeholder for its value in --help; empty for a switch.
  std::string_view metavar;
  /// One line of --help.
  std::string_view help;
  /// What it does.
  FlagApply apply;
};

/// Sets `out` to a number in [lo, hi] read from `text`.
inline std::string set_number(double& out, std::string_view text, double lo, double hi) {
  const auto value = to_double(text);
  if (value && *value >= lo && *value <= hi) {
    out = *value;
    return "";
  }
  std::string msg = "expected a number from ";
  append_json_number(msg, lo, 3);
  msg += " to ";
  append_json_number(msg, hi, 3);
  return msg + ", got '" + std::string(text) + "'";
}

/// Sets `out` to a whole number in [lo, hi] read from `text`.
template <class Int>
std::string set_integer(Int& out, std::string_view text, std::uint64_t lo, std::uint64_t hi) {
  const auto value = to_uint(text);
  if (value && *value >= lo && *value <= hi) {
    out = static_cast<Int>(*value);
    return "";
  }
  return "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" +
         std::string(text) + "'";
}

/// Sets `out` to a probability.
inline std::string set_probability(double& out, std::string_view text) { return set_number(out, text, 0, 1); }

/// Parses `fixed:S`, `uniform:A:B`, `lognormal:MEDIAN:SIGMA` or a bare number of seconds.
inline std::string parse_duration(std::string_view spec, DurationDistribution& out) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  std::vector<double> nums;
  for (std::size_t i = parts.size() == 1 ? 0 : 1; i < parts.size(); ++i) {
    const auto value = to_double(parts[i]);
    if (!value) return "'" + std::string(parts[i]) + "' is not a number";
    nums.push_back(*value);
  }
  DurationDistribution d;
  if (parts.size() == 1 || (parts[0] == "fixed" && nums.size() == 1))
    d = DurationDistribution::fixed(nums[0]);
  else if (parts[0] == "uniform" && nums.size() == 2)
    d = DurationDistribution::uniform(nums[0], nums[1]);
  else if (parts[0] == "lognormal" && nums.size() == 2)
    d = DurationDistribution::lognormal(nums[0], nums[1]);
  else
    return "expected fixed:S, uniform:A:B or lognormal:MEDIAN:SIGMA, got '" + std::string(spec) + "'";
  if (auto problem = d.validate(); !problem.empty()) return problem;
  out = d;
  return "";
}

/// Sets a switch; never fails.
inline std::string set_switch(bool& field, bool value) {
  field = value;
  return "";
}

/// Every flag status_server accepts, in --help order.
inline const std::vector<FlagSpec>& flag_specs() {
  using C = SimulatorConfig;
  using V = std::string_view;
  static const std::vector<FlagSpec> specs{
      {"host", "ADDR", "address to bind (default 127.0.0.1)",
       [](C& c, V v) {
         c.host = std::string(v);
         return std::string(v.empty() ? "expected an address" : "");
       }},
      {"port", "N", "port to bind; 0 picks a free one (default 0)",
       [](C& c, V v) { return set_integer(c.port, v, 0, 65535); }},
      {"tls-cert", "PEM", "serve HTTPS with this certificate (chain); needs --tls-key",
       [](C& c, V v) {
         c.tls_cert_file = std::string(v);
         return std::string(v.empty() ? "expected a file" : "");
       }},
      {"tls-key", "PEM", "private key of --tls-cert",
       [](C& c, V v) {
         c.tls_key_file = std::string(v);
         return std::string(v.empty() ? "expected a file" : "");
       }},
      {"duration", "SPEC", "job duration: fixed:S | uniform:A:B | lognormal:MEDIAN:SIGMA (default fixed:0.2)",
       [](C& c, V v) { return parse_duration(v, c.duration); }},
      {"error-rate", "P", "probability that a job ends in error (default 0)",
       [](C& c, V v) { return set_probability(c.error_probability, v); }},
      {"seed", "N", "random seed (default 1)", [](C& c, V v) { return set_integer(c.seed, v, 0, UINT64_MAX); }},
      {"stale", "S", "report each job as it was S seconds ago, like the seed's cache (default 0)",
       [](C& c, V v) { return set_number(c.stale_seconds, v, 0, 1e6); }},
      {"eta-error", "F", "relative error of eta_seconds: factor drawn from [1-F, 1+F] per job (default 0.2)",
       [](C& c, V v) { return set_number(c.eta_error, v, 0, 0.99); }},
      {"pending-retry-after", "S", "Retry-After on pending answers; 0 derives 1..30 s from the estimate (default 0)",
       [](C& c, V v) { return set_integer(c.pending_retry_after_s, v, 0, 86400); }},
      {"max-wait", "S", "longest long poll granted, in seconds (default 60)",
       [](C& c, V v) { return set_number(c.max_wait_s, v, 0.001, 3600); }},
      {"fail-rate", "P", "probability of a 500 answer (default 0)",
       [](C& c, V v) { return set_probability(c.faults.fail_5xx_rate, v); }},
      {"throttle-rate", "P", "probability of a 429 answer with Retry-After (default 0)",
       [](C& c, V v) { return set_probability(c.faults.throttle_rate, v); }},
      {"unavailable-rate", "P", "probability of a 503 answer with Retry-After (default 0)",
       [](C& c, V v) { return set_probability(c.faults.unavailable_rate, v); }},
      {"retry-after", "S", "whole seconds of Retry-After on 429/503 answers (default 1)",
       [](C& c, V v) { return set_integer(c.faults.retry_after_s, v, 0, 86400); }},
      {"latency-ms", "N", "delay added to every create/status answer, in ms (default 0)",
       [](C& c, V v) { return set_number(c.faults.latency_ms, v, 0, 600000); }},
      {"latency-jitter-ms", "N", "extra random delay per answer, uniform in [0, N] ms (default 0)",
       [](C& c, V v) { return set_number(c.faults.latency_jitter_ms, v, 0, 600000); }},
      {"drop-rate", "P", "probability of closing the connection without an answer (default 0)",
       [](C& c, V v) { return set_probability(c.faults.drop_rate, v); }},
      {"drop-after-commit-rate", "P", "create only: make the job, then close without an answer (default 0)",
       [](C& c, V v) { return set_probability(c.faults.drop_after_commit_rate, v); }},
      {"malformed-rate", "P", "probability of a 200 answer with a truncated JSON body (default 0)",
       [](C& c, V v) { return set_probability(c.faults.malformed_rate, v); }},
      {"no-idempotency", "", "ignore the Idempotency-Key header",
       [](C& c, V) { return set_switch(c.idempotency, false); }},
      {"no-extra-fields", "", "status answers carry only \"result\"",
       [](C& c, V) { return set_switch(c.extra_fields, false); }},
      {"no-hints", "", "never send Retry-After", [](C& c, V) { return set_switch(c.retry_after_hints, false); }},
      {"no-long-poll", "", "ignore ?wait=S", [](C& c, V) { return set_switch(c.long_poll, false); }},
      {"no-batch", "", "no POST /status/batch (it answers 404)", [](C& c, V) { return set_switch(c.batch, false); }},
      {"seed-quirks", "", R"(unknown ids get the seed's 200 {"result": "Job ID not found"})",
       [](C& c, V) { return set_switch(c.not_found_404, false); }},
      {"core-only", "", "exactly the seed's protocol: all six switches above",
       [](C& c, V) {
         c.disable_extensions();
         return std::string();
       }},
      {"threads", "N", "most worker threads = most connections served at once (default 1024)",
       [](C& c, V v) { return set_integer(c.threads, v, 1, 65536); }},
      {"max-batch", "N", "most ids in one batch request (default 1000)",
       [](C& c, V v) { return set_integer(c.max_batch_ids, v, 1, 10'000'000); }},
      {"max-jobs", "N", "most jobs kept; creates beyond get 503 (default 1000000)",
       [](C& c, V v) { return set_integer(c.max_jobs, v, 1, 1'000'000'000); }},
      {"max-body-bytes", "N", "largest request body accepted (default 1048576)",
       [](C& c, V v) { return set_integer(c.max_body_bytes, v, 1024, 1u << 30); }},
      {"id-prefix", "STR", "job ids are STR plus a sequence number (default job-)",
       [](C& c, V v) {
         c.id_prefix = std::string(v);
         return std::string();
       }},
  };
  return specs;
}

/// The spec of `--name`, or null.
inline const FlagSpec* find_flag(std::string_view name) {
  for (const auto& spec : flag_specs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

/// Applies argv[i] (and its value, advancing i when the value is the next argument); returns an error or "".
inline std::string apply_flag(SimulatorConfig& config, int argc, const char* const* argv, int& i) {
  const std::string_view arg = argv[i] != nullptr ? argv[i] : "";
  if (arg.substr(0, 2) != "--") return "unexpected argument '" + std::string(arg) + "'";
  const auto eq = arg.find('=');
  const bool inline_value = eq != std::string_view::npos;
  const std::string_view name = arg.substr(2, inline_value ? eq - 2 : std::string_view::npos);
  const FlagSpec* spec = find_flag(name);
  const std::string flag = "--" + std::string(name);
  if (spec == nullptr) return "unknown flag '" + flag + "'";
  if (spec->metavar.empty() && inline_value) return flag + " takes no value";
  std::string_view value;
  if (inline_value) value = arg.substr(eq + 1);
  if (!spec->metavar.empty() && !inline_value) {
    if (i + 1 >= argc || argv[i + 1] == nullptr) return flag + " needs a value";
    value = argv[++i];
  }
  std::string problem = spec->apply(config, value);
  return problem.empty() ? problem : flag + ": " + problem;
}

}  // namespace detail

inline ParsedArgs parse_args(int argc, const char* const* argv) {
  ParsedArgs out;
  for (int i = 1; i < argc && out.ok(); ++i) {
    const std::string_view arg = argv[i] != nullptr ? argv[i] : "";
    out.help = out.help || arg == "--help" || arg == "-h";
    if (out.help) return out;
    out.error = detail::apply_flag(out.config, argc, argv, i);
  }
  if (out.ok()) out.error = out.config.validate();
  return out;
}

inline std::string usage(std::string_view program) {
  std::string out = "Usage: " + std::string(program) + " [FLAGS]\n\n";
  out +=
      "Simulated video translation status server. Speaks the seed's protocol (POST /create_job, GET\n"
      "/status/{id}, GET /status[?job_id=ID]) plus Idempotency-Key, progress/eta fields, Retry-After,\n"
      "long poll (?wait=S), POST /status/batch; GET /stats has the server-side truth for measuring clients.\n"
      "Prints 'listening on HOST:PORT' once ready; stops on SIGINT or SIGTERM.\n\n"
      "Limits: each open connection holds one worker thread (long polls included), so --threads (default 1024)\n"
      "is the most connections served at once; more are accepted and wait in a queue. Keep-alive: up to\n"
      "10000 requests per connection, closed after 15 s idle; reads and writes time out after 5 s.\n"
      "The open-file limit is raised to its hard maximum at start.\n\nFlags:\n";
  for (const auto& spec : detail::flag_specs()) {
    // Appended piece by piece: g++ -O3 warns (-Wrestrict, a false positive) on "literal" + std::string here.
    std::string left("  --");
    left.append(spec.name);
    if (!spec.metavar.empty()) left.append(" ").append(spec.metavar);
    left.resize(std::max<std::size_t>(left.size() + 2, 32), ' ');
    out += left + std::string(spec.help) + "\n";
  }
  out += "  --help                        this text\n";
  return out;
}

}  // namespace heygen::sim

#endif  // HEYGEN_EXAMPLES_STATUS_SIMULATOR_HPP
