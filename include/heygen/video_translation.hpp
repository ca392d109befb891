// HeyGen video-translation client for C++ - one header, generated: do not edit.
//
// Creates video-translation jobs and tells the caller, as early and as cheaply as possible, when each job
// completed or failed and where its result is. Written as parts in include/heygen/vt/ (edit those) and
// joined into this file by scripts/amalgamate.py. Read top to bottom:
//   1. version.hpp             Version macros, written in from the VERSION file by scripts/amalgamate.py.
//   2. config.hpp              Configuration macros: the transport, OpenSSL, SQLite, and defaults a build may override.
//   3. result.hpp              Results: TranslationStatus, FailureCause, TranslationResult, OrFailure.
//   4. clock.hpp               Time: the Clock concept, SteadyClock, Seconds and TimePoint.
//   5. detail.hpp              detail: text, percent-encoding, HTTP dates, Retry-After, random numbers.
//   6. http.hpp                HTTP value types and the Transport concept.
//   7. log.hpp                 Logging: LogLevel, LogSink and a stderr sink.
//   8. profile.hpp             What was learnt about one server: DurationModel, ServerProfile.
//   9. policies.hpp            Policies: what is retried and how long to back off; when to look again.
//  10. json.hpp                JSON reading with picojson: bounded nesting, typed member access.
//  11. journal.hpp             Journal: what a client writes down so a restart loses nothing; MemoryJournal.
//  12. journal_sqlite.hpp      SqliteJournal: the embedded durable Journal (WAL, synchronous=FULL, one writer).
//  13. options.hpp             Options: ClientOptions, Endpoints, and the progress types of bulk waits and submissions.
//  14. url.hpp                 BaseUrl: a base URL split into parts and checked.
//  15. proxy.hpp               Proxies: a request's HTTP proxy, from the options or the environment as curl reads it.
//  16. protocol.hpp            The Protocol concept: what a wire format builds and reads, in neutral values.
//  17. tracker_scan.hpp        Tracker scan: a status answer's members, read flat or through picojson.
//  18. tracker_protocol.hpp    TrackerProtocol: the exercise's server and our extensions.
//  19. heygen_v3_wire.hpp      HeyGen v3 wire: TranslationRequest, and HeyGen's JSON of creates, statuses and pushes.
//  20. heygen_v3_protocol.hpp  HeyGenV3Protocol: HeyGen's v3 API, and the options that fit it.
//  21. heygen_v3_assets.hpp    HeyGen v3 assets: a direct upload opened and completed; the ingest protocol.
//  22. webhook.hpp             Webhooks: WebhookVerifier checks a pushed status (size, HMAC, freshness) and reads it.
//  23. callbacks.hpp           Callback ids: the callback_id each create sent, to match unsigned pushes.
//  24. sender.hpp              The sender: one request with retries, Retry-After, deadline, cancellation.
//  25. files.hpp               Files: a file read in chunks that notices a change; a download beside its final name.
//  26. downloads.hpp           Downloads: one URL to one file, checked, resumed after a cut, placed only once complete.
//  27. uploads.hpp             Uploads: a file's type and checksum; its bytes PUT to a presigned URL, retried.
//  28. job_poller.hpp          The job poller: one job's polling state machine, no I/O.
//  29. status_looks.hpp        Status looks: one job or many at once, through protocol and sender.
//  30. schedule.hpp            The poll schedule: due queue, take rule, coalescing. Pure: no threads.
//  31. waits.hpp               Waits: who waits for which job and until when, kept pushes, handing results over.
//  32. rounds.hpp              Rounds: the take rules, and serving a take: per-job looks, many-status rounds.
//  33. workers.hpp             Workers: the poller's threads, the timer, taking due jobs and putting them back.
//  34. poller.hpp              The poller: one long-lived scheduler and worker pool per client, serving every wait.
//  35. asset_ingest.hpp        Asset ingest: an uploaded asset watched until processed, on its own protocol.
//  36. webhook_endpoints.hpp   Webhook endpoints: register, list, change and delete them, and rotate their secrets.
//  37. client_files.hpp        Files in, files out: a video uploaded as an asset; a finished job's outputs downloaded.
//  38. bulk_collector.hpp      Bulk collector: a bulk call's results in one map, each told to the caller as it comes.
//  39. client_core.hpp         Client core: the parts one client is made of, built from its checked options.
//  40. client_webhooks.hpp     Client webhooks: pushes taken as the client's trust says; creates that ask for pushes.
//  41. client_journal.hpp      Client journal: a create's intent, and outcomes written before they are handed over.
//  42. client.hpp              BasicVideoTranslationClient: the seed's API, a thin facade over the parts.
//  43. request_watchdog.hpp    RequestWatchdog: ends a bundled-transport request that outlives its timeout.
//  44. proxy_tunnel.hpp        TunnelClient: HTTPS through an HTTP proxy's CONNECT tunnel, opened by us.
//  45. transport_httplib.hpp   The bundled cpp-httplib transport and VideoTranslationClient.
//  46. webhook_receiver.hpp    Webhook receiver: a small cpp-httplib server taking pushes, for callers without one.
//
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <clocale>
#include <cmath>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <picojson.h>
#include <sys/stat.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------------------------------
// 1. Version macros, written in from the VERSION file by scripts/amalgamate.py.
// ---------------------------------------------------------------------------------------------------------------------

/// Major version of this header.
#define HEYGEN_VT_VERSION_MAJOR 0
/// Minor version of this header.
#define HEYGEN_VT_VERSION_MINOR 1
/// Patch version of this header.
#define HEYGEN_VT_VERSION_PATCH 0
/// The version as a string.
#define HEYGEN_VT_VERSION "0.1.0"

// ---------------------------------------------------------------------------------------------------------------------
// 2. Configuration macros: the transport, OpenSSL, SQLite, and defaults a build may override.
// ---------------------------------------------------------------------------------------------------------------------

/// Define HEYGEN_VT_NO_HTTPLIB to use the header with your own transport and no cpp-httplib at all.
#if !defined(HEYGEN_VT_NO_HTTPLIB) && !defined(HEYGEN_VT_WITH_HTTPLIB)
#if __has_include(<httplib.h>)
/// Set when the bundled cpp-httplib transport is compiled in.
#define HEYGEN_VT_WITH_HTTPLIB 1
#endif
#endif

/// Set when OpenSSL's libcrypto is there for the webhook's HMAC-SHA256: define it yourself (and link libcrypto), or
/// it follows from a cpp-httplib built with OpenSSL (its pkg-config flags define CPPHTTPLIB_OPENSSL_SUPPORT).
/// Without it a WebhookVerifier needs a verify function of the caller's, or it refuses every push.
#if !defined(HEYGEN_VT_WITH_OPENSSL) && defined(HEYGEN_VT_WITH_HTTPLIB) && defined(CPPHTTPLIB_OPENSSL_SUPPORT)
#define HEYGEN_VT_WITH_OPENSSL 1
#endif

// HEYGEN_VT_WITH_SQLITE: define it (and link libsqlite3) for SqliteJournal, the embedded journal; Meson, pkg-config
// and CMake do both when SQLite is there.

#ifndef HEYGEN_VT_DEFAULT_MAX_BODY_BYTES
/// Default cap on a response body, in bytes; a larger body ends the call with a clear error.
#define HEYGEN_VT_DEFAULT_MAX_BODY_BYTES (std::size_t{1024} * 1024)
#endif

#ifndef HEYGEN_VT_DEFAULT_BULK_CONCURRENCY
/// Requests in flight for bulk tracking when the caller sets no concurrent_limit.
#define HEYGEN_VT_DEFAULT_BULK_CONCURRENCY 8u
#endif

#ifndef HEYGEN_VT_DEFAULT_POLLER_THREADS
/// Worker threads of a client's poller when the options set none.
#define HEYGEN_VT_DEFAULT_POLLER_THREADS 8u
#endif

// ---------------------------------------------------------------------------------------------------------------------
// 3. Results: TranslationStatus, FailureCause, TranslationResult, OrFailure.
// ---------------------------------------------------------------------------------------------------------------------

namespace heygen {

/// Where a translation job stands, as far as the client knows.
enum class TranslationStatus {
  pending,    ///< The job is waiting or being processed.
  completed,  ///< The translation finished successfully.
  error,      ///< The job failed, or the client could not learn its outcome (see FailureCause).
  timeout,    ///< max_timeout passed before the job left pending.
};

/// Why a result is not `completed`: what the caller needs to decide what to do next.
enum class FailureCause {
  none,               ///< Nothing went wrong (completed, or still pending).
  job_failed,         ///< The server says the job itself failed (`"result": "error"`).
  unknown_job,        ///< The server does not know this job id (404).
  unexpected_result,  ///< The server answered a `result` string the protocol does not define.
  transport,          ///< No answer: refused, reset, timed out, TLS, or a body over the size cap.
  http_status,        ///< The server answered with an HTTP status that ends the call.
  bad_response,       ///< The server answered, but the body was empty or not the expected JSON.
  cancelled,          ///< The caller cancelled the wait through its stop_token.
  deadline,           ///< max_timeout passed (status is `timeout`).
  unknown_outcome,    ///< A journaled create whose answer was lost, past the server's replay window: maybe no job,
                      ///< maybe one; the caller decides (a new create could be a second paid job).
};

/// The lower-case name of a status: "pending", "completed", "error" or "timeout".
constexpr std::string_view to_string(TranslationStatus status) noexcept {
  switch (status) {
    case TranslationStatus::pending: return "pending";
    case TranslationStatus::completed: return "completed";
    case TranslationStatus::error: return "error";
    case TranslationStatus::timeout: return "timeout";
  }
  return "unknown";
}

/// The snake_case name of a failure cause, e.g. "unknown_job".
constexpr std::string_view to_string(FailureCause cause) noexcept {
  switch (cause) {
    case FailureCause::none: return "none";
    case FailureCause::job_failed: return "job_failed";
    case FailureCause::unknown_job: return "unknown_job";
    case FailureCause::unexpected_result: return "unexpected_result";
    case FailureCause::transport: return "transport";
    case FailureCause::http_status: return "http_status";
    case FailureCause::bad_response: return "bad_response";
    case FailureCause::cancelled: return "cancelled";
    case FailureCause::deadline: return "deadline";
    case FailureCause::unknown_outcome: return "unknown_outcome";
  }
  return "unknown";
}

/// What a finished job produced, as far as the server says; empty where it says nothing (the exercise's server
/// never does). Output URLs may be presigned and expire: a fresh status look returns fresh ones.
struct JobOutputs {
  std::optional<std::string> video_url{};        ///< The translated video.
  std::optional<std::string> audio_url{};        ///< The translated audio track.
  std::vector<std::string> caption_urls{};       ///< Caption files (SRT, VTT), when captions were asked for.
  std::optional<std::string> output_language{};  ///< The language this job translated into.
  std::optional<double> duration_seconds{};      ///< Length of the output, in seconds.

  /// True when the server said nothing about outputs.
  [[nodiscard]] bool empty() const noexcept {
    return !video_url && !audio_url && caption_urls.empty() && !output_language && !duration_seconds;
  }
};

/// The outcome of a status check or wait: the seed's (status, error_message) plus what a caller needs to act.
struct TranslationResult {
  TranslationStatus status = TranslationStatus::pending;  ///< Where the job stands.
  std::optional<std::string> error_message{};             ///< Set whenever status is error or timeout.
  FailureCause cause = FailureCause::none;                ///< Why it is not completed.
  int http_status = 0;                                    ///< Last HTTP status received; 0 if none arrived.
  std::optional<double> progress{};                       ///< Server's progress hint (0–1), if it sent one.
  std::optional<double> eta_seconds{};                    ///< Server's estimate of time left, if it sent one.
  int requests = 0;                                       ///< HTTP requests this call made.
  std::chrono::milliseconds elapsed{0};                   ///< Time this call took.
  JobOutputs outputs{};                                   ///< What the job produced, when the server says.

  /// True when the translation completed.
  [[nodiscard]] bool ok() const noexcept { return status == TranslationStatus::completed; }
  /// True when the job has an outcome (completed or failed on the server); false for tracking failures.
  [[nodiscard]] bool job_finished() const noexcept {
    return status == TranslationStatus::completed || cause == FailureCause::job_failed;
  }
};

/// Thrown by create_translation_job when no job id could be obtained; carries the cause.
class TranslationError : public std::runtime_error {
 public:
  /// Builds the error from a cause, a message, the last HTTP status and the requests made.
  TranslationError(FailureCause cause, const std::string& message, int http_status = 0, int requests = 0)
      : std::runtime_error(message), cause_(cause), http_status_(http_status), requests_(requests) {}
  /// Why the call failed.
  [[nodiscard]] FailureCause cause() const noexcept { return cause_; }
  /// Last HTTP status received; 0 if none arrived.
  [[nodiscard]] int http_status() const noexcept { return http_status_; }
  /// HTTP requests the call made.
  [[nodiscard]] int requests() const noexcept { return requests_; }

 private:
  FailureCause cause_;
  int http_status_;
  int requests_;
};

/// Why an operation gave no value: a cause and a message for people.
struct Failure {
  FailureCause cause = FailureCause::none;  ///< What went wrong.
  std::string message{};                    ///< What happened, for logs and error messages.
};

/// A value, or the Failure that prevented it: the one shape of "result or failure" inside the library, and what
/// a Protocol's readers return (`OrFailure<StatusAnswer>` reads "a status answer, or a failure").
template <class T>
class OrFailure {
 public:
  /// A success holding a copy of `value`.
  OrFailure(const T& value) : state_(std::in_place_index<0>, value) {}  // NOLINT(google-explicit-constructor)
  /// A success holding `value`, moved in once (a by-value parameter moved it twice: every answer comes this way).
  OrFailure(T&& value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  /// A failure.
  OrFailure(Failure failure)
      : state_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT(google-explicit-constructor)

  /// True when there is a value.
  [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
  /// True when there is a value.
  explicit operator bool() const noexcept { return ok(); }
  /// The value; only when ok().
  [[nodiscard]] T& value() & { return std::get<0>(state_); }
  /// The value; only when ok().
  [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
  /// The value, moved out; only when ok().
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(state_)); }
  /// The value's members; only when ok().
  T* operator->() { return &value(); }
  /// The value's members; only when ok().
  const T* operator->() const { return &value(); }
  /// The failure; only when !ok().
  [[nodiscard]] const Failure& failure() const& { return std::get<1>(state_); }
  /// The failure, moved out; only when !ok().
  [[nodiscard]] Failure&& failure() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Failure> state_;
};

// ---------------------------------------------------------------------------------------------------------------------
// 4. Time: the Clock concept, SteadyClock, Seconds and TimePoint.
// ---------------------------------------------------------------------------------------------------------------------

/// The time type every clock speaks in.
using TimePoint = std::chrono::steady_clock::time_point;
/// Durations in seconds with a fraction, as the seed's float seconds.
using Seconds = std::chrono::duration<double>;

/// A monotonic clock with an interruptible sleep. sleep_until returns false when stopped early.
template <class C>
concept Clock = requires(C& clock, TimePoint until, std::stop_token stop) {
  { clock.now() } -> std::same_as<TimePoint>;
  { clock.sleep_until(until, stop) } -> std::same_as<bool>;
};

/// The real monotonic clock; sleeps wake at once when the stop_token is triggered.
class SteadyClock {
 public:
  /// Current monotonic time.
  [[nodiscard]] TimePoint now() const { return std::chrono::steady_clock::now(); }

  /// Sleeps until `until`; returns false if `stop` was triggered first.
  bool sleep_until(TimePoint until, std::stop_token stop) const {
    if (!stop.stop_possible()) {
      std::this_thread::sleep_until(until);
      return true;
    }
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    return !wake.wait_until(lock, stop, until, [] { return false; }) && !stop.stop_requested();
  }
};

// ---------------------------------------------------------------------------------------------------------------------
// 5. detail: text, percent-encoding, HTTP dates, Retry-After, random numbers.
// ---------------------------------------------------------------------------------------------------------------------

namespace detail {

/// ASCII lower-case of a character, locale-independent.
constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

/// Case-insensitive ASCII comparison, as HTTP header names need.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

/// RFC 3986 unreserved: ASCII letters, digits and "-._~" (the locale plays no part).
constexpr bool is_unreserved(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/// is_unreserved for every byte, looked up rather than tested range by range.
inline constexpr auto unreserved_bytes = [] {
  std::array<bool, 256> table{};
  for (std::size_t byte = 0; byte < table.size(); ++byte) table[byte] = is_unreserved(static_cast<char>(byte));
  return table;
}();

/// Appends `text` to `out`, percent-encoding everything but unreserved characters, so any job id is one safe
/// path segment. Runs of unreserved characters (a whole id, usually) are appended at once: this runs for every
/// status look.
inline void append_percent_encoded(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  const auto plain = [](char c) { return unreserved_bytes[static_cast<unsigned char>(c)]; };
  for (std::size_t at = 0; at < text.size();) {
    std::size_t run = at;
    while (run < text.size() && plain(text[run])) ++run;
    out.append(text.data() + at, run - at);
    if (run == text.size()) return;
    const auto byte = static_cast<unsigned char>(text[run]);
    const char escape[3] = {'%', hex[byte >> 4], hex[byte & 0x0F]};
    out.append(escape, sizeof escape);
    at = run + 1;
  }
}

/// `text` percent-encoded as append_percent_encoded does.
inline std::string percent_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_percent_encoded(out, text);
  return out;
}

/// How many looks taking `look_time` each fit in `window`: at least 1, at most `most`; 1 while nothing is measured.
inline std::size_t looks_within(Seconds window, Seconds look_time, std::size_t most) {
  if (!(look_time > Seconds(0))) return 1;
  const double looks = std::floor(window / look_time);
  if (!(looks >= 1.0)) return 1;
  return looks >= static_cast<double>(most) ? std::max<std::size_t>(most, 1) : static_cast<std::size_t>(looks);
}

/// Parses an HTTP-date in IMF-fixdate form ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850 or asctime form.
inline std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text) {
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto month_index = [](std::string_view name) -> int {
    for (int i = 0; i < 12; ++i)
      if (iequals(name, months[i])) return i;
    return -1;
  };
  std::string copy(text.substr(0, 64));
  char weekday[16] = {}, month[4] = {}, zone[4] = {};
  int day = 0, year = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  const bool imf_fixdate = std::sscanf(copy.c_str(), "%15[A-Za-z], %2d %3s %4d %2d:%2d:%2d %3s%n", weekday, &day, month,
                                       &year, &hour, &minute, &second, zone, &consumed) == 8;
  const bool rfc850 = !imf_fixdate && std::sscanf(copy.c_str(), "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%n", weekday,
                                                  &day, month, &year, &hour, &minute, &second, zone, &consumed) == 8;
  const bool asctime = !imf_fixdate && !rfc850 &&
                       std::sscanf(copy.c_str(), "%15[A-Za-z] %3s %2d %2d:%2d:%2d %4d%n", weekday, month, &day, &hour,
                                   &minute, &second, &year, &consumed) == 7;
  if (rfc850 && year >= 0) year += year < 70 ? 2000 : 1900;  // a two-digit year (a sign stays invalid)
  const bool parsed = imf_fixdate || rfc850 || asctime;
  const int mon = month_index(month);
  const bool gmt_or_asctime = zone[0] == '\0' || iequals(zone, "GMT");
  while (consumed > 0 && static_cast<std::size_t>(consumed) < copy.size() &&
         copy[static_cast<std::size_t>(consumed)] == ' ')
    ++consumed;
  const bool whole = static_cast<std::size_t>(consumed) == copy.size() && text.size() <= 64;
  // %2d reads a sign too: "23:-8:60" must not pass as 22:53.
  const bool clock_ok = hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
  if (!parsed || !gmt_or_asctime || !whole || !clock_ok || mon < 0 || day < 1 || day > 31 || year < 1970 || year > 9999)
    return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(mon + 1)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second};
}

/// `value` without the spaces and tabs around it.
constexpr std::string_view trim_blanks(std::string_view value) noexcept {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

/// Reads Retry-After in its delta-seconds form (digits only, blanks around them allowed); nothing for anything
/// else (an HTTP-date included). Needs no clock, so a caller reads the clock only for a date.
inline std::optional<Seconds> parse_delta_seconds(std::string_view value) {
  value = trim_blanks(value);
  if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  if (value.size() > 9) return Seconds(1e9);  // absurd, but clamped by the caller's cap
  long seconds = 0;
  for (const char digit : value) seconds = seconds * 10 + (digit - '0');
  return Seconds(static_cast<double>(seconds));
}

/// Parses Retry-After: delta-seconds, or an HTTP-date taken relative to `now` (the server's Date when known).
/// Returns nothing for garbage; never a negative wait. Seconds as doubles: dates past 2262 do not overflow.
inline std::optional<Seconds> parse_retry_after(std::string_view value, std::chrono::sys_seconds now) {
  if (auto delta = parse_delta_seconds(value)) return delta;
  value = trim_blanks(value);
  if (value.empty()) return std::nullopt;
  const auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  return Seconds(std::max(0.0, static_cast<double>((*when - now).count())));
}

/// xoshiro256** (Blackman and Vigna): a small, fast generator for jitter, where std::mt19937_64 with
/// uniform_real_distribution costs several times as much per draw. Not for secrets.
class Xoshiro256 {
 public:
  /// Seeds the state from `seed` by splitmix64, as the authors advise (never all zero).
  explicit Xoshiro256(std::uint64_t seed) noexcept {
    for (auto& word : state_) {
      seed += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      word = z ^ (z >> 31);
    }
  }

  /// The next 64 random bits.
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// A U[0,1) draw: the top 53 bits as a double's mantissa.
  double uniform01() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4]{};
};

/// A U[0,1) draw from a per-thread generator seeded from std::random_device (no lock on the hot path).
inline double random_uniform01() {
  thread_local Xoshiro256 engine{(static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
  return engine.uniform01();
}

/// A random 128-bit identifier in hex, for Idempotency-Key.
inline std::string random_key() {
  static std::mutex mutex;
  static std::mt19937_64 engine{
      std::random_device{}() ^ static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::lock_guard lock(mutex);
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(engine()),
                static_cast<unsigned long long>(engine()));
  return text;
}

/// A seconds duration as a clock duration, clamped to [0, 100 years] so no conversion overflows.
inline std::chrono::steady_clock::duration to_clock(Seconds seconds) {
  const double value = std::isnan(seconds.count()) ? 0.0 : std::clamp(seconds.count(), 0.0, 100.0 * 365 * 86400);
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(Seconds(value));
}

/// Milliseconds in a seconds duration, rounded and never negative, for request budgets.
inline std::chrono::milliseconds to_millis(Seconds seconds) {
  const double ms = std::max(0.0, seconds.count() * 1000.0);
  return std::chrono::milliseconds(std::llround(std::min(ms, 1e12)));
}

/// What a result or exception says when the caller's stop_token ended the call.
inline constexpr const char* cancelled_message = "cancelled by the caller";

/// A short, single-line excerpt of a body for error messages (control characters replaced).
inline std::string excerpt(std::string_view body, std::size_t limit = 80) {
  std::string out(body.substr(0, limit));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  if (body.size() > limit) out += "...";
  return out;
}

/// True when text holds a character that would split an HTTP line.
constexpr bool has_line_break(std::string_view text) noexcept {
  return text.find_first_of("\r\n") != std::string_view::npos || text.find('\0') != std::string_view::npos;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------------------
// 6. HTTP value types and the Transport concept.
// ---------------------------------------------------------------------------------------------------------------------

/// One HTTP header line.
struct HttpHeader {
  std::string name{};   ///< Header name, as sent or received.
  std::string value{};  ///< Header value.
};

/// A request body read in chunks as it is sent (a file, say), so a body of any size moves through a fixed amount of
/// memory. Its size is known beforehand and goes out as Content-Length.
struct BodySource {
  std::uint64_t size = 0;  ///< Exactly how many bytes the body holds.
  /// Fills `buffer` with up to `capacity` bytes of the body from `offset`; returns how many (more than 0 while
  /// `offset < size`): 0 means it cannot, and the transfer stops (the source keeps its own reason).
  std::function<std::size_t(std::uint64_t offset, char* buffer, std::size_t capacity)> read{};
};

/// Where a successful (2xx) response body goes, chunk by chunk, as it arrives; any other answer's body (an error
/// page) is kept in HttpResponse::body, under the size cap, so it can be read.
struct BodySink {
  /// Told a 2xx answer's status and headers before its body (may be empty); false refuses the body, and the
  /// transfer stops (the sink keeps its own reason).
  std::function<bool(int status, const std::vector<HttpHeader>& headers)> begin{};
  /// Takes the next chunk; false stops the transfer (the sink keeps its own reason).
  std::function<bool(const char* data, std::size_t length)> write{};
};

/// A request the client asks a transport to send.
struct HttpRequest {
  std::string method{};                 ///< "GET", "POST", "PATCH" or "DELETE".
  std::string url{};                    ///< Full URL: scheme, host, port, path and query (see transport_reads_url).
  std::string target{};                 ///< Path and query only (what goes on the request line).
  std::vector<HttpHeader> headers{};    ///< Headers to add (the transport adds Host, Content-Length, auth).
  std::string body{};                   ///< Request body; empty for GET.
  std::chrono::milliseconds timeout{};  ///< Whole-request budget; the transport must give up after it.
  std::stop_token stop{};               ///< Triggered when the caller cancels; a transport may abandon the request.
  /// A streamed body instead of `body` (only for a transport that streams: see transport_streams). With a source
  /// or a sink, `url` is always set (it may name another host, such as object storage) and `timeout` bounds each
  /// silence rather than the whole transfer.
  const BodySource* source = nullptr;
  BodySink* sink = nullptr;  ///< Where a 2xx answer's body goes instead of HttpResponse::body (streaming only).
};

/// Why no HTTP response arrived.
enum class TransportError {
  none,            ///< A response arrived.
  refused,         ///< The connection could not be made (refused, unreachable, name not resolved).
  timeout,         ///< Connecting or reading took longer than allowed.
  reset,           ///< The connection broke before a whole response arrived.
  tls,             ///< The server's certificate failed verification, or the CA file could not be loaded (not retried).
  body_too_large,  ///< The body exceeded the size cap; the transport stopped reading.
  cancelled,       ///< The transport was asked to stop.
  proxy,           ///< The proxy refused the request: 407, its credentials missing or wrong (not retried).
  other,           ///< Anything else; see error_detail.
};

/// The lower-case name of a transport error, e.g. "refused".
constexpr std::string_view to_string(TransportError error) noexcept {
  switch (error) {
    case TransportError::none: return "none";
    case TransportError::refused: return "refused";
    case TransportError::timeout: return "timeout";
    case TransportError::reset: return "reset";
    case TransportError::tls: return "tls";
    case TransportError::body_too_large: return "body_too_large";
    case TransportError::cancelled: return "cancelled";
    case TransportError::proxy: return "proxy";
    case TransportError::other: return "other";
  }
  return "unknown";
}

/// What came back: a status, headers and body, or the reason nothing came back. Never an exception.
struct HttpResponse {
  int status = 0;                               ///< HTTP status; 0 when no response arrived.
  std::vector<HttpHeader> headers{};            ///< Response headers.
  std::string body{};                           ///< Response body.
  TransportError error = TransportError::none;  ///< Why no response arrived, if none did.
  std::string error_detail{};                   ///< Human-readable detail for `error`.

  /// True when an HTTP response arrived (whatever its status).
  [[nodiscard]] bool received() const noexcept { return error == TransportError::none && status > 0; }

  /// The first header named `name` (case-insensitive), if present.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept;

  /// A response that says no answer arrived, and why.
  static HttpResponse failure(TransportError error, std::string detail) {
    HttpResponse response;
    response.error = error;
    response.error_detail = std::move(detail);
    return response;
  }
};

/// Anything that can send an HttpRequest and return an HttpResponse, from many threads at once.
template <class T>
concept Transport = requires(T& transport, const HttpRequest& request) {
  { transport.send(request) } -> std::same_as<HttpResponse>;
};

/// Whether transport T reads HttpRequest::url. A transport that sends only the target on connections of its own
/// to the base URL's host declares `static constexpr bool reads_url = false;`, and the full URL, otherwise built
/// for every request, is left empty; any other transport gets it.
template <class T>
inline constexpr bool transport_reads_url = [] {
  if constexpr (requires {
                  { T::reads_url } -> std::convertible_to<bool>;
                })
    return static_cast<bool>(T::reads_url);
  else
    return true;
}();

/// Whether transport T streams: sends a BodySource and fills a BodySink (`static constexpr bool streams = true;`).
/// Uploads and downloads need one; any other transport still compiles, and a transfer through it fails with a
/// clear error.
template <class T>
inline constexpr bool transport_streams = [] {
  if constexpr (requires {
                  { T::streams } -> std::convertible_to<bool>;
                })
    return static_cast<bool>(T::streams);
  else
    return false;
}();

/// The value of the first of `headers` named `name` (case-insensitive), or nothing.
inline std::optional<std::string_view> header_value(const std::vector<HttpHeader>& headers,
                                                    std::string_view name) noexcept {
  for (const auto& h : headers)
    if (detail::iequals(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}

inline std::optional<std::string_view> HttpResponse::header(std::string_view name) const noexcept {
  return header_value(headers, name);
}

// ---------------------------------------------------------------------------------------------------------------------
// 7. Logging: LogLevel, LogSink and a stderr sink.
// ---------------------------------------------------------------------------------------------------------------------

/// Severity of a log message.
enum class LogLevel { trace, debug, info, warn, error, off };

/// The lower-case name of a log level.
constexpr std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "unknown";
}

/// Receives log messages; called from the thread that made the request. Must be thread-safe.
using LogSink = std::function<void(LogLevel, std::string_view)>;

/// A sink that writes one line per message to stderr: `[heygen] warn: ...`.
inline LogSink stderr_log_sink() {
  return [](LogLevel level, std::string_view message) {
    std::fprintf(stderr, "[heygen] %.*s: %.*s\n", static_cast<int>(to_string(level).size()), to_string(level).data(),
                 static_cast<int>(message.size()), message.data());
  };
}

/// A sink and a threshold: builds a message only when it will be written, and scrubs control characters so a job
/// id from a caller or a server cannot forge log lines.
class Logger {
 public:
  /// A logger writing messages at `level` or above to `sink`; an empty sink is silent.
  Logger(LogSink sink, LogLevel level) : sink_(std::move(sink)), level_(level) {}

  /// Writes `make_message()` at `level`, if that level is enabled.
  template <class MakeMessage>
  void operator()(LogLevel level, MakeMessage&& make_message) const {
    if (!sink_ || level < level_ || level_ == LogLevel::off) return;
    std::string message = std::forward<MakeMessage>(make_message)();
    for (char& c : message)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    sink_(level, message);
  }

 private:
  LogSink sink_;
  LogLevel level_;
};

// ---------------------------------------------------------------------------------------------------------------------
// 8. What was learnt about one server: DurationModel, ServerProfile.
// ---------------------------------------------------------------------------------------------------------------------

/// A bounded, thread-safe memory of how long jobs on one server took, so polls go where jobs finish.
/// Keeps the newest `capacity` durations (older ones are forgotten, so it follows a server that changes).
class DurationModel {
 public:
  /// A model that remembers at most `capacity` durations (at least 1).
  explicit DurationModel(std::size_t capacity = 1024) : capacity_(std::max<std::size_t>(capacity, 1)) {}

  /// Remembers one job's duration; non-finite or negative values are ignored.
  void record(Seconds duration) {
    const double value = duration.count();
    if (!std::isfinite(value) || value < 0.0) return;
    std::lock_guard lock(mutex_);
    if (ring_.size() < capacity_) {
      ring_.push_back(value);
    } else {
      sorted_.erase(std::lower_bound(sorted_.begin(), sorted_.end(), ring_[next_]));
      ring_[next_] = value;
      next_ = (next_ + 1) % capacity_;
    }
    sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), value), value);
  }

  /// Durations remembered now.
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return sorted_.size();
  }

  /// The duration within which a fraction q (0–1) of remembered jobs finished; nothing when empty.
  [[nodiscard]] std::optional<Seconds> quantile(double q) const {
    std::lock_guard lock(mutex_);
    if (sorted_.empty() || !(q >= 0.0)) return std::nullopt;
    return Seconds(sorted_[index_of(std::min(q, 1.0))]);
  }

  /// The age by which another `share` of all remembered jobs will have finished (half the rest, near the end), for a
  /// job still pending at `age`; nothing when fewer than `min_samples` are known or the job outlived them all.
  [[nodiscard]] std::optional<Seconds> next_finish_after(Seconds age, double share, std::size_t min_samples) const {
    std::lock_guard lock(mutex_);
    if (sorted_.size() < std::max<std::size_t>(min_samples, 1)) return std::nullopt;
    const auto finished = std::upper_bound(sorted_.begin(), sorted_.end(), age.count()) - sorted_.begin();
    if (static_cast<std::size_t>(finished) == sorted_.size()) return std::nullopt;
    const double done = static_cast<double>(finished) / static_cast<double>(sorted_.size());
    // In the last share, halve what is left instead of jumping to the longest job: tails learnt from coarse
    // looks are too long, and finer looks there are what makes them sharpen.
    const double target = done + std::min(share, (1.0 - done) / 2.0);
    return Seconds(sorted_[index_of(target)]);
  }

  /// The remembered durations, shortest first (to inspect what was learnt).
  [[nodiscard]] std::vector<Seconds> samples() const {
    std::lock_guard lock(mutex_);
    return {sorted_.begin(), sorted_.end()};
  }

 private:
  std::size_t index_of(double q) const {
    const double position = std::ceil(q * static_cast<double>(sorted_.size())) - 1.0;
    return static_cast<std::size_t>(std::clamp(position, 0.0, static_cast<double>(sorted_.size() - 1)));
  }

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::vector<double> ring_;    // arrival order, to forget the oldest
  std::size_t next_ = 0;        // oldest slot once the ring is full
  std::vector<double> sorted_;  // the same values, sorted, for quantiles
};

/// Whether a server offers a protocol extension, as learnt from its answers.
enum class Support { unknown, yes, no };

/// What the client has learnt about one server: job durations and which extensions it offers.
/// Thread-safe; share one between clients of the same server through ClientOptions::profile.
class ServerProfile {
 public:
  /// How long this server's jobs took.
  [[nodiscard]] DurationModel& durations() noexcept { return durations_; }
  /// How long this server's jobs took (read-only).
  [[nodiscard]] const DurationModel& durations() const noexcept { return durations_; }
  /// Whether the server holds `?wait=` long polls.
  [[nodiscard]] Support long_poll() const noexcept { return long_poll_.load(); }
  /// Records whether the server holds long polls.
  void set_long_poll(Support support) noexcept { long_poll_.store(support); }
  /// Whether the server sends eta_seconds / progress / Retry-After on pending answers.
  [[nodiscard]] Support hints() const noexcept { return hints_.load(); }
  /// Records whether the server sends hints.
  void set_hints(Support support) noexcept { hints_.store(support); }
  /// Whether the server has the batch status endpoint.
  [[nodiscard]] Support batch() const noexcept { return batch_.load(); }
  /// Records whether the server has the batch status endpoint.
  void set_batch(Support support) noexcept { batch_.store(support); }

 private:
  DurationModel durations_{};
  std::atomic<Support> long_poll_{Support::unknown};
  std::atomic<Support> hints_{Support::unknown};
  std::atomic<Support> batch_{Support::unknown};
};

// ---------------------------------------------------------------------------------------------------------------------
// 9. Policies: what is retried and how long to back off; when to look again.
// ---------------------------------------------------------------------------------------------------------------------

/// What is retried and how long to back off after a failed request.
struct RetryPolicy {
  int max_retries = 15;          ///< Retries after a failure: a request is tried at most 1 + max_retries times.
  Seconds initial_backoff{0.5};  ///< Backoff ceiling after the first failure; doubles with each one in a row.
  /// Cap on the backoff ceiling. A server's Retry-After is honoured in full (to the deadline).
  Seconds max_backoff{30.0};

  /// True for failures worth another try: no answer (except an oversized body, a certificate that fails
  /// verification or a proxy that refuses the credentials: asking again gets the same), 408, 429 and 5xx.
  [[nodiscard]] static bool retryable(const HttpResponse& response) noexcept {
    if (!response.received())
      return response.error != TransportError::body_too_large && response.error != TransportError::tls &&
             response.error != TransportError::proxy;
    const int status = response.status;
    return status == 408 || status == 429 || status >= 500;
  }

  /// Full-jitter backoff after `failures` in a row: U(0, min(max_backoff, initial × 2^(failures-1))).
  [[nodiscard]] Seconds backoff(int failures, double uniform01) const noexcept {
    const double exponent = std::min(std::max(failures - 1, 0), 60);
    const double ceiling =
        std::min(max_backoff.count(), initial_backoff.count() * std::ldexp(1.0, static_cast<int>(exponent)));
    return Seconds(std::clamp(uniform01, 0.0, 1.0) * ceiling);
  }
};

/// Everything known when deciding the wait before the next look at a pending job.
struct PollContext {
  int looks = 0;                                ///< Pending answers so far in this call.
  Seconds age{0};                               ///< Time since tracking began (the job's age if just created).
  std::optional<Seconds> retry_after{};         ///< Server's Retry-After on the last pending answer.
  std::optional<Seconds> eta{};                 ///< Server's eta_seconds on the last answer.
  std::optional<Seconds> progress_remaining{};  ///< Time left, extrapolated from the progress rate.
  bool progress_seen = false;                   ///< The last answer had progress (a later look can rate it).
  int overdue_looks = 0;                        ///< Looks that found the job pending after hints said it was done.
  const DurationModel* learnt = nullptr;        ///< Earlier jobs' durations, when learning.
};

/// When to look again at a pending job. Best information first: the server's own hints (progress rate,
/// eta_seconds, Retry-After), then what earlier jobs on this server took, then a cold schedule. Long polls
/// (`?wait=`) replace all of this on servers that hold them. Every wait between looks is clamped to
/// [min_interval, max_interval], and by the caller to the deadline; an absurd hint never breaks it.
struct PollPolicy {
  /// The one trade-off: acceptable detection lag as a fraction of the job's age; also the share of learnt
  /// jobs one look may cover. Lower is quicker and costs more requests. Presets: 0.04 / 0.08 / 0.16 (long_jobs: 0.05).
  double lag_ratio = 0.08;
  Seconds initial_interval{2.0};  ///< Cold schedule: wait before the second look.
  double multiplier = 2.0;        ///< Cold schedule: growth of the wait per look.
  Seconds cold_cap{8.0};          ///< Cold schedule: cap of the growing wait (lag_ratio × age may exceed it).
  Seconds min_interval{0.05};     ///< Floor on any wait between looks.
  Seconds max_interval{120.0};    ///< Cap on any wait between looks.
  double jitter = 0.1;            ///< Cold waits are scaled by U(1 - jitter, 1): spreads herds, never past the cap.
  bool use_hints = true;          ///< Use Retry-After, eta_seconds and progress from pending answers.
  bool learn = true;              ///< Learn job durations and poll where jobs finish.
  std::size_t warm_after = 20;    ///< Durations needed before what was learnt is trusted.
  Seconds long_poll{30.0};        ///< `?wait=` asked of the server; zero disables long polling.
  /// Bulk only: a look due after a wait of at least 20 ticks is moved to the end of its tick, so the looks of
  /// many jobs fall together and a few wake-ups serve them (lag grows by at most a tick, ≤ 5 % of the wait).
  Seconds coalesce{0.05};
  /// Bulk only, on a server with a many-status endpoint: the longest a job waits between looks (zero: as long as
  /// it would alone). One request serves many jobs, so frequent rounds cost little: detection lag ≤ this. A round
  /// takes every job due within this time, so the jobs of a bulk wait fall into step and share each request.
  Seconds many_status_interval{0};

  /// Quick detection, more requests: lag ≈ 4 % of the job's age, cold looks at most 4 s apart.
  static PollPolicy low_latency() { return with_ratio(0.04, Seconds(4.0)); }
  /// The default: lag ≈ 8 % of the job's age, cold looks at most 8 s apart.
  static PollPolicy balanced() { return with_ratio(0.08, Seconds(8.0)); }
  /// Fewer requests, later detection: lag ≈ 16 % of the job's age, cold looks at most 16 s apart.
  static PollPolicy low_cost() { return with_ratio(0.16, Seconds(16.0)); }
  /// Jobs of minutes (HeyGen's translations): looks at most 30 s apart, 4 s doubling cold, every 5 % of jobs warm.
  static PollPolicy long_jobs() {
    // Tuned with bench/polling's heygen-like workload (480 s × exp(N(0, 0.5))) against HeyGen's CLI (2 s doubling
    // to 30 s, × U(0.75, 1.25)): cold, as many requests as the CLI and a lower lag p95; warm, 13 requests a job
    // and a lag p95 under 30 s; 1,000 jobs through the many-status endpoint, well under a request a job.
    // One learnt look per 5 % of jobs: ~30 s apart where most jobs end. Cold: 4, 8, 16, then 30 s (the CLI's cap;
    // nothing that takes minutes ends in 2 s).
    PollPolicy policy = with_ratio(0.05, Seconds(30.0));
    policy.initial_interval = Seconds(4.0);
    // No wait past 30 s, whatever the job's age: the age rule would stretch the looks at late jobs (a third of
    // them run past 10 minutes) beyond 30 s, and their lag with it. The first look is not capped by it.
    policy.max_interval = Seconds(30.0);
    // A many-status look takes every job due within 2 × min_interval: 4 s gathers jobs created together, whose
    // jittered 30 s waits end within 3 s of each other, into one request. Never a look sooner than 2 s.
    policy.min_interval = Seconds(2.0);
    // Tracked together through a many-status endpoint, rounds every 8 s: 100 jobs share a request, so a job's
    // whole life costs well under one request, and lag stays under 8 s.
    policy.many_status_interval = Seconds(8.0);
    return policy;
  }

  /// Wait before the first look: none, unless what was learnt says no job finishes that early. It is no wait
  /// between looks, so max_interval does not cap it: jobs of minutes are first looked at where they start ending.
  [[nodiscard]] Seconds first_wait(const DurationModel* learnt) const {
    if (!learn || learnt == nullptr) return Seconds(0);
    const auto first = learnt->next_finish_after(Seconds(0), lag_ratio, warm_after);
    return first ? std::max(*first, min_interval) : Seconds(0);
  }

  /// Wait before the next look at a job that is still pending; `uniform01` is a U[0,1) draw for jitter.
  [[nodiscard]] Seconds next_wait(const PollContext& context, double uniform01) const {
    if (use_hints) {
      if (auto hinted = hinted_wait(context))
        return clamp_interval(std::max(*hinted, overdue_floor(context, uniform01)));
    }
    if (learn && context.learnt != nullptr)
      if (auto finish = context.learnt->next_finish_after(context.age, lag_ratio, warm_after)) {
        // Where finishes are sparse (a long tail) the next share is far away: the age rule bounds the lag.
        const Seconds bound = std::max(cold_cap, lag_ratio * context.age);
        return clamp_interval(std::min(*finish - context.age + settle(*finish - context.age), bound));
      }
    return cold_wait(context, uniform01);
  }

  /// The wait the server's hints suggest, if it sent any: the progress rate first, then eta, then Retry-After.
  [[nodiscard]] std::optional<Seconds> hinted_wait(const PollContext& context) const {
    if (context.progress_remaining) return *context.progress_remaining + settle(*context.progress_remaining);
    // With progress, a look halfway to the eta measures the progress rate, which beats the eta's own error.
    if (context.eta) return *context.eta * (context.progress_seen ? 0.5 : 0.8);
    return context.retry_after;
  }

  /// Hints that keep saying "done by now" (an eta stuck at 0) have proven wrong: back off from them
  /// exponentially, up to the cold schedule, rather than polling at the floor until the deadline.
  [[nodiscard]] Seconds overdue_floor(const PollContext& context, double uniform01) const {
    if (context.overdue_looks <= 0) return Seconds(0);
    const Seconds doubling = min_interval * std::ldexp(1.0, std::min(context.overdue_looks, 40));
    return std::min(doubling, cold_wait(context, uniform01));
  }

  /// The cold schedule: initial × multiplier^(looks-1) up to cold_cap, or lag_ratio × age when larger.
  [[nodiscard]] Seconds cold_wait(const PollContext& context, double uniform01) const {
    const double growth = std::pow(std::max(multiplier, 1.0), std::clamp(context.looks - 1, 0, 200));
    const double scheduled = std::min(initial_interval.count() * growth, cold_cap.count());
    const double base = std::max(scheduled, lag_ratio * context.age.count());
    const double spread = std::clamp(jitter, 0.0, 1.0);
    return clamp_interval(Seconds(base * (1.0 - spread * std::clamp(uniform01, 0.0, 1.0))));
  }

  /// Clamps any wait into [min_interval, max_interval]; NaN becomes the floor.
  [[nodiscard]] Seconds clamp_interval(Seconds wait) const noexcept {
    const double value = std::isnan(wait.count()) ? min_interval.count() : wait.count();
    return Seconds(std::clamp(value, min_interval.count(), std::max(min_interval.count(), max_interval.count())));
  }

 private:
  static PollPolicy with_ratio(double ratio, Seconds cap) {
    PollPolicy policy;
    policy.lag_ratio = ratio;
    policy.cold_cap = cap;
    return policy;
  }

  /// A little past a predicted finish, so the look lands after it rather than just before.
  static Seconds settle(Seconds until_finish) { return Seconds(0.02) + 0.01 * std::max(until_finish, Seconds(0)); }
};

}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 10. JSON reading with picojson: bounded nesting, typed member access.
// ---------------------------------------------------------------------------------------------------------------------

/// Reads JSON bodies; every function is total: bad input gives an error value, never a crash.
namespace heygen::json {

/// Runs `parse(begin, end, error)` (a picojson parse that returns where it stopped) over the whole body, or
/// returns an error message; `is_object()` then says whether the top-level value was an object.
template <class Parse, class IsObject>
std::optional<std::string> parse_whole(std::string_view body, Parse&& parse, IsObject&& is_object) {
  if (body.empty()) return std::string("empty body");
  std::string error;
  const char* begin = body.data();
  const char* end = begin + body.size();
  const char* stop = begin;
  try {
    stop = parse(begin, end, &error);
  } catch (const std::exception& e) {  // picojson throws on numbers beyond double range (1e999)
    return "malformed JSON (" + std::string(e.what()) + ")";
  }
  if (!error.empty()) return "malformed JSON (" + detail::excerpt(body) + ")";
  while (stop != end && (*stop == ' ' || *stop == '\n' || *stop == '\r' || *stop == '\t')) ++stop;
  if (stop != end) return "trailing data after JSON (" + detail::excerpt(body) + ")";
  if (!is_object()) return "JSON is not an object (" + detail::excerpt(body) + ")";
  return std::nullopt;
}

/// How deeply arrays and objects may nest in an answer. picojson bounds only arrays, so a body of a million
/// nested objects would recurse until the stack overflowed; every reader here bounds both.
inline constexpr std::size_t max_json_depth = picojson::DEFAULT_MAX_DEPTHS;

/// The text of a JSON number at the input's position (a digit or '-'), taken as picojson takes it: every
/// character that may belong to a number. Empty when there is none.
template <class Iter>
std::string number_text(picojson::input<Iter>& in) {
  std::string text;  // a short number stays in the string's own buffer
  for (int ch = in.getc();; ch = in.getc()) {
    if (!(('0' <= ch && ch <= '9') || ch == '+' || ch == '-' || ch == '.' || ch == 'e' || ch == 'E')) {
      in.ungetc();
      return text;
    }
    text.push_back(static_cast<char>(ch));
  }
}

/// What std::from_chars makes of a whole number text: its value as read_number gives it, or nothing when it is
/// malformed or (then `out_of_range` is set) beyond double range, where read_number needs strtod's answer.
inline std::optional<picojson::value> from_chars_number(std::string_view text, bool& out_of_range) {
  out_of_range = false;
  const char* first = text.data();
  const char* last = first + text.size();
#ifdef PICOJSON_USE_INT64
  std::int64_t integer = 0;
  if (const auto [end, error] = std::from_chars(first, last, integer); error == std::errc{} && end == last)
    return picojson::value(integer);
#endif
  double number = 0;
  const auto [end, error] = std::from_chars(first, last, number);
  if (end != last || (error != std::errc{} && error != std::errc::result_out_of_range)) return std::nullopt;
  out_of_range = error == std::errc::result_out_of_range;
  if (out_of_range) return std::nullopt;
  return picojson::value(number);  // throws for "inf" or "nan", which no JSON number's characters spell
}

/// A plain decimal's value, read without std::from_chars: `-?digits(.digits)?` of at most 15 digits in all, no
/// exponent, not a negative zero; nothing for anything else (from_chars_number reads those). Its digits make an
/// integer below 2^53 and its scale a power of ten below 10^23, both exact as doubles, so one division, rounded
/// once, gives the correctly rounded value from_chars gives (Clinger's fast path); for an integer that is the
/// integer itself, as picojson's int64 gives it too.
inline std::optional<double> plain_decimal(std::string_view text) noexcept {
  static constexpr double powers_of_ten[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                             1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  std::size_t at = 0;
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) ++at;
  const auto digit = [&](std::size_t i) { return i < text.size() && text[i] >= '0' && text[i] <= '9'; };
  if (!digit(at) || (text[at] == '0' && digit(at + 1))) return std::nullopt;  // no digit, or a leading zero
  std::uint64_t significand = 0;
  std::size_t digits = 0, fraction = 0;
  for (; digit(at); ++at, ++digits) significand = significand * 10 + static_cast<std::uint64_t>(text[at] - '0');
  if (at < text.size() && text[at] == '.') {
    if (!digit(++at)) return std::nullopt;
    for (; digit(at); ++at, ++digits, ++fraction)
      significand = significand * 10 + static_cast<std::uint64_t>(text[at] - '0');
  }
  if (at != text.size() || digits > 15 || (negative && significand == 0)) return std::nullopt;
  const double value = static_cast<double>(significand) / powers_of_ten[fraction];
  return negative ? -value : value;
}

/// The number `text` spells, as picojson reads it (an int64 for an integer when PICOJSON_USE_INT64), or nothing
/// when it is malformed. std::from_chars instead of picojson's strtod: a status look reads two numbers, and
/// picojson's string building, locale look-up and strtod were over a quarter of its parse. A number beyond double
/// range gets what picojson does: strtod's answer, so an underflow is 0 and an overflow throws (as set_number).
inline std::optional<picojson::value> read_number(const std::string& text) {
  bool out_of_range = false;
  if (auto number = from_chars_number(text, out_of_range); number || !out_of_range) return number;
  std::string localized = text;  // strtod reads the locale's decimal point, as picojson arranges
  if (const auto dot = localized.find('.'); dot != std::string::npos)
    localized.replace(dot, 1, std::localeconv()->decimal_point);
  char* stop = nullptr;
  const double number = std::strtod(localized.c_str(), &stop);
  if (stop != localized.c_str() + localized.size()) return std::nullopt;
  return picojson::value(number);  // throws beyond double range
}

/// picojson's default context (a parse into a picojson::value), with objects counted in the nesting bound too.
class ValueContext {
 public:
  explicit ValueContext(picojson::value* out, std::size_t depth_left = max_json_depth)
      : out_(out), depth_left_(depth_left) {}

  bool set_null() { return set(picojson::value()); }
  bool set_bool(bool flag) { return set(picojson::value(flag)); }
#ifdef PICOJSON_USE_INT64
  bool set_int64(std::int64_t number) { return set(picojson::value(number)); }
#endif
  bool set_number(double number) { return set(picojson::value(number)); }  // throws beyond double range
  template <class Iter>
  bool parse_string(picojson::input<Iter>& in) {
    *out_ = picojson::value(picojson::string_type, false);
    return picojson::_parse_string(out_->get<std::string>(), in);
  }
  bool parse_array_start() { return depth_left_ > 0 && set(picojson::value(picojson::array_type, false)); }
  template <class Iter>
  bool parse_array_item(picojson::input<Iter>& in, std::size_t) {
    auto& items = out_->get<picojson::array>();
    items.emplace_back();
    ValueContext item(&items.back(), depth_left_ - 1);
    return item.parse(in);
  }
  bool parse_array_stop(std::size_t) { return true; }
  bool parse_object_start() { return depth_left_ > 0 && set(picojson::value(picojson::object_type, false)); }
  template <class Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
    ValueContext member(&out_->get<picojson::object>()[key], depth_left_ - 1);  // a repeated key: the last wins
    return member.parse(in);
  }
  bool parse_object_stop() { return true; }

  /// Parses the value at the input's position, as picojson::_parse(*this, in) does, but reads a number with
  /// read_number.
  template <class Iter>
  bool parse(picojson::input<Iter>& in) {
    in.skip_ws();
    const int ch = in.getc();
    in.ungetc();
    if (!(('0' <= ch && ch <= '9') || ch == '-')) return picojson::_parse(*this, in);
    auto number = read_number(number_text(in));
    return number && set(std::move(*number));
  }

 private:
  bool set(picojson::value value) {
    *out_ = std::move(value);
    return true;
  }

  picojson::value* out_;
  std::size_t depth_left_;
};

/// A picojson parse context that checks JSON syntax and keeps nothing. It accepts exactly what ValueContext
/// accepts: the same nesting bound, and numbers beyond double range rejected (picojson's null context takes them).
class SkipContext {
 public:
  explicit SkipContext(std::size_t depth_left = max_json_depth) : depth_left_(depth_left) {}

  bool set_null() { return true; }
  bool set_bool(bool) { return true; }
#ifdef PICOJSON_USE_INT64
  bool set_int64(std::int64_t) { return true; }
#endif
  bool set_number(double number) {
    if (!std::isfinite(number)) picojson::value{number};  // throws what ValueContext throws
    return true;
  }
  template <class Iter>
  bool parse_string(picojson::input<Iter>& in) {
    picojson::null_parse_context::dummy_str ignored;
    return picojson::_parse_string(ignored, in);
  }
  bool parse_array_start() { return enter(); }
  template <class Iter>
  bool parse_array_item(picojson::input<Iter>& in, std::size_t) {
    return picojson::_parse(*this, in);
  }
  bool parse_array_stop(std::size_t) { return leave(); }
  bool parse_object_start() { return enter(); }
  template <class Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string&) {
    return picojson::_parse(*this, in);
  }
  bool parse_object_stop() { return leave(); }

 protected:
  /// Nesting left below the value being parsed.
  [[nodiscard]] std::size_t depth_left() const noexcept { return depth_left_; }

 private:
  bool enter() {
    if (depth_left_ == 0) return false;
    --depth_left_;
    return true;
  }
  bool leave() {
    ++depth_left_;
    return true;
  }

  std::size_t depth_left_;
};

/// Appends `text` as a JSON string exactly as picojson serializes one: `"`, `\\` and `/` escaped, the usual
/// short escapes, any other control byte (and DEL) as \u00XX. Runs of plain bytes are appended at once.
inline void append_quoted(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  const auto plain = [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7F && c != '"' && c != '\\' && c != '/';
  };
  out += '"';
  for (std::size_t at = 0; at < text.size();) {
    std::size_t run = at;
    while (run < text.size() && plain(text[run])) ++run;
    out.append(text.data() + at, run - at);
    if (run == text.size()) break;
    const char c = text[run];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '/': out += "\\/"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        const auto byte = static_cast<unsigned char>(c);
        const char escape[6] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 0x0F]};
        out.append(escape, sizeof escape);
      }
    }
    at = run + 1;
  }
  out += '"';
}

/// Parses a body as a JSON object, or returns an error message.
inline std::optional<std::string> parse_object(std::string_view body, picojson::value& out) {
  return parse_whole(
      body,
      [&](const char* begin, const char* end, std::string* error) {
        ValueContext context(&out);
        return picojson::_parse(context, begin, end, error);
      },
      [&] { return out.is<picojson::object>(); });
}

/// parse_object for readers that report through an out-parameter: false (and `error` set) when unusable.
inline bool parse_object_into(std::string_view body, picojson::value& out, std::string& error) {
  auto problem = parse_object(body, out);
  if (problem) error = std::move(*problem);
  return !problem;
}

/// A finite number in [low, high], or nothing (absurd hints are dropped, not trusted).
inline std::optional<double> number_value(const picojson::value& value, double low, double high) {
  if (!value.is<double>()) return std::nullopt;
  const double number = value.get<double>();
  if (!std::isfinite(number) || number < low || number > high) return std::nullopt;
  return number;
}

/// A string, or nothing.
inline std::optional<std::string> string_value(const picojson::value& value) {
  if (!value.is<std::string>()) return std::nullopt;
  return value.get<std::string>();
}

/// A string field, or nothing.
inline std::optional<std::string> string_field(const picojson::object& object, const char* name) {
  const auto it = object.find(name);
  return it == object.end() ? std::nullopt : string_value(it->second);
}

}  // namespace heygen::json

// ---------------------------------------------------------------------------------------------------------------------
// 11. Journal: what a client writes down so a restart loses nothing; MemoryJournal.
// ---------------------------------------------------------------------------------------------------------------------

namespace heygen {

/// A create written down before its request goes out (the intent), and the server's answer once it came.
struct CreateRecord {
  std::string key{};                              ///< The Idempotency-Key: minted once, before the first attempt.
  std::string kind{};                             ///< What the create makes: "translation", "asset", ...
  std::string input{};                            ///< The create's input as JSON, enough to send it again.
  std::int64_t intended_at_ms = 0;                ///< Unix time (ms) the intent was written: the replay window.
  std::optional<std::vector<std::string>> ids{};  ///< The server's job ids, once its answer was written.
  bool unknown_outcome = false;                   ///< Given up: no ids, and past the server's replay window.
};

/// One job a journal watches: by the create it came from, or by id alone. Keyed by (kind, id).
struct JobRecord {
  std::string kind{};                          ///< What the job is: "translation", "asset", ...
  std::string id{};                            ///< The server's job id.
  std::string key{};                           ///< The create it came from; empty when tracked by id alone.
  std::optional<TranslationResult> outcome{};  ///< Set once settled; the first settlement stands.
  bool handed_over = false;                    ///< The caller's callback or future got the outcome.
};

/// One job's outcome, as a poller round settles it.
struct Settlement {
  std::string kind{};           ///< The job's kind.
  std::string id{};             ///< The job's id.
  TranslationResult outcome{};  ///< What the job came to.
};

/// What a restart picks up from a journal.
struct JournalBacklog {
  std::vector<CreateRecord> unanswered{};  ///< Intents without ids and not given up: send again with their key.
  std::vector<JobRecord> watching{};       ///< Jobs without an outcome: watch again.
  std::vector<JobRecord> undelivered{};    ///< Outcomes settled but not handed over: hand over (at least once).
};

/// What a client's resume() picked up from its journal.
struct ResumeReport {
  std::size_t handed_over = 0;  ///< Outcomes written before, handed over now.
  std::size_t watching = 0;     ///< Jobs without an outcome, watched again.
  std::size_t resent = 0;       ///< Creates whose answer was lost, sent again with their key (their jobs watched).
  std::size_t unknown = 0;      ///< Creates past the replay window, handed over as unknown_outcome.
  std::size_t failed = 0;       ///< Creates sent again that failed: kept for the next resume unless refused.
  /// Every id `on_result` gets an outcome for, now or from the poller: job ids, and the keys of creates given up
  /// or failed (so a caller knows when resume()'s work is all handed over).
  std::vector<std::string> ids{};
};

/// A journal that cannot do what it was asked (a corrupt, locked, full, unwritable or newer file): the message names
/// the file, and nothing in it was overwritten.
class JournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where a client writes down its jobs, durably, so that another process can pick them up. Every write returns
/// once it is durable, or throws JournalError; outcomes are written before they are handed over.
/// - `intend(record)`: a new create's intent (no ids yet); a key already there is refused (a key is used once).
/// - `answered(key, ids)`: the create's job ids, and a watched job for each.
/// - `watch(kind, id)`: a job tracked by id alone (a second call changes nothing).
/// - `settle(settlements)`: the outcomes of one round, together; a job's first outcome stands.
/// - `hand_over(kind, id)`: the caller got the outcome.
/// - `give_up(key)`: the intent needs nothing more: past its replay window (its outcome is unknown), or refused.
/// - `backlog()`: what a restart must pick up.
template <class J>
concept Journal = requires(J& journal, const CreateRecord& record, std::string_view text,
                           std::span<const std::string> ids, std::span<const Settlement> settled) {
  journal.intend(record);
  journal.answered(text, ids);
  journal.watch(text, text);
  journal.settle(settled);
  journal.hand_over(text, text);
  journal.give_up(text);
  { journal.backlog() } -> std::same_as<JournalBacklog>;
};

// --- The replay rule -----------------------------------------------------------------------------------------------

/// How long HeyGen replays a create's answer for a repeated Idempotency-Key.
inline constexpr std::chrono::hours idempotency_replay_window{24};
/// Margin kept inside the replay window: an intent older than the window less this is never sent again.
inline constexpr std::chrono::minutes idempotency_replay_margin{30};

/// What a restart does with an intent that has no ids.
enum class ReplayVerdict {
  send_again,      ///< Inside the replay window: send the create again with the same key (the server replays it).
  unknown_outcome  ///< Past it: a new send could be a second paid job, so the caller decides.
};

/// The verdict for an intent written at `intended_at_ms` (Unix ms), at `now`. A clock that went backwards counts as
/// no time passed.
inline ReplayVerdict replay_verdict(std::int64_t intended_at_ms, std::chrono::system_clock::time_point now) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(idempotency_replay_window - idempotency_replay_margin);
  return now_ms - intended_at_ms < limit.count() ? ReplayVerdict::send_again : ReplayVerdict::unknown_outcome;
}

/// Unix time in milliseconds.
inline std::int64_t unix_ms(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

// --- Outcomes as JSON ----------------------------------------------------------------------------------------------

namespace journal_json {

/// `value` as a JSON value, null when absent.
template <class T>
picojson::value or_null(const std::optional<T>& value) {
  if (!value) return {};
  if constexpr (std::is_same_v<T, std::string>) {
    return picojson::value(*value);
  } else {
    return picojson::value(static_cast<double>(*value));
  }
}

/// A JSON array of strings.
inline picojson::value string_array(std::span<const std::string> items) {
  picojson::array out;
  for (const auto& item : items) out.emplace_back(item);
  return picojson::value(std::move(out));
}

/// The strings of a JSON array, or nothing when it is not one array of strings.
inline std::optional<std::vector<std::string>> read_string_array(const picojson::value& value) {
  if (!value.is<picojson::array>()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : value.get<picojson::array>()) {
    if (!item.is<std::string>()) return std::nullopt;
    out.push_back(item.get<std::string>());
  }
  return out;
}

/// The enum value whose to_string() is `name`, among `values`.
template <class E, std::size_t N>
std::optional<E> enum_named(std::string_view name, const E (&values)[N]) {
  for (const E value : values)
    if (to_string(value) == name) return value;
  return std::nullopt;
}

/// A number member, or nothing when it is absent or null.
inline std::optional<double> optional_number(const picojson::object& object, const char* name) {
  const auto found = object.find(name);
  if (found == object.end() || !found->second.is<double>()) return std::nullopt;
  return found->second.get<double>();
}

}  // namespace journal_json

/// An outcome as the JSON a journal stores.
inline std::string outcome_json(const TranslationResult& result) {
  using journal_json::or_null;
  picojson::object outputs;
  outputs["video_url"] = or_null(result.outputs.video_url);
  outputs["audio_url"] = or_null(result.outputs.audio_url);
  outputs["caption_urls"] = journal_json::string_array(result.outputs.caption_urls);
  outputs["output_language"] = or_null(result.outputs.output_language);
  outputs["duration_seconds"] = or_null(result.outputs.duration_seconds);
  picojson::object out;
  out["status"] = picojson::value(std::string(to_string(result.status)));
  out["cause"] = picojson::value(std::string(to_string(result.cause)));
  out["error_message"] = or_null(result.error_message);
  out["http_status"] = picojson::value(static_cast<double>(result.http_status));
  out["progress"] = or_null(result.progress);
  out["eta_seconds"] = or_null(result.eta_seconds);
  out["requests"] = picojson::value(static_cast<double>(result.requests));
  out["elapsed_ms"] = picojson::value(static_cast<double>(result.elapsed.count()));
  out["outputs"] = picojson::value(std::move(outputs));
  return picojson::value(std::move(out)).serialize();
}

/// The outcome `text` (from outcome_json) holds, or a bad_response Failure saying what is wrong with it.
inline OrFailure<TranslationResult> read_outcome_json(std::string_view text) {
  using journal_json::optional_number;
  const auto bad = [](const std::string& what) {
    return Failure{FailureCause::bad_response, "journal outcome: " + what};
  };
  picojson::value parsed;
  if (const auto error = json::parse_object(text, parsed)) return bad(*error);
  const auto& object = parsed.get<picojson::object>();
  static constexpr TranslationStatus statuses[] = {TranslationStatus::pending, TranslationStatus::completed,
                                                   TranslationStatus::error, TranslationStatus::timeout};
  static constexpr FailureCause causes[] = {FailureCause::none,         FailureCause::job_failed,
                                            FailureCause::unknown_job,  FailureCause::unexpected_result,
                                            FailureCause::transport,    FailureCause::http_status,
                                            FailureCause::bad_response, FailureCause::cancelled,
                                            FailureCause::deadline,     FailureCause::unknown_outcome};
  const auto status = journal_json::enum_named(json::string_field(object, "status").value_or(""), statuses);
  const auto cause = journal_json::enum_named(json::string_field(object, "cause").value_or(""), causes);
  if (!status || !cause) return bad("no known status and cause");
  TranslationResult result;
  result.status = *status;
  result.cause = *cause;
  result.error_message = json::string_field(object, "error_message");
  result.http_status = static_cast<int>(optional_number(object, "http_status").value_or(0));
  result.progress = optional_number(object, "progress");
  result.eta_seconds = optional_number(object, "eta_seconds");
  result.requests = static_cast<int>(optional_number(object, "requests").value_or(0));
  result.elapsed =
      std::chrono::milliseconds(static_cast<std::int64_t>(optional_number(object, "elapsed_ms").value_or(0)));
  const auto outputs = object.find("outputs");
  if (outputs != object.end() && outputs->second.is<picojson::object>()) {
    const auto& fields = outputs->second.get<picojson::object>();
    result.outputs.video_url = json::string_field(fields, "video_url");
    result.outputs.audio_url = json::string_field(fields, "audio_url");
    const auto captions = fields.find("caption_urls");
    if (captions != fields.end())
      result.outputs.caption_urls =
          journal_json::read_string_array(captions->second).value_or(std::vector<std::string>{});
    result.outputs.output_language = json::string_field(fields, "output_language");
    result.outputs.duration_seconds = optional_number(fields, "duration_seconds");
  }
  return result;
}

// --- Resume tokens -------------------------------------------------------------------------------------------------

/// The version of resume token this library writes and reads.
inline constexpr int resume_token_version = 1;
/// The type every resume token of this library names.
inline constexpr std::string_view resume_token_type = "heygen.video_translation";

/// A job handed from one process to another: enough to watch it again.
struct ResumeToken {
  std::string kind{};              ///< The job's kind ("translation", "asset", ...).
  std::string id{};                ///< The server's job id.
  std::string key{};               ///< The create it came from; empty when tracked by id alone.
  std::int64_t created_at_ms = 0;  ///< Unix time (ms) the token was made.
};

/// The token as a small JSON text:
/// `{"v":1,"type":"heygen.video_translation","kind":..,"id":..,"key":..,"created_at_ms":..}`.
inline std::string to_resume_token(const ResumeToken& token) {
  picojson::object out;
  out["v"] = picojson::value(static_cast<double>(resume_token_version));
  out["type"] = picojson::value(std::string(resume_token_type));
  out["kind"] = picojson::value(token.kind);
  out["id"] = picojson::value(token.id);
  out["key"] = picojson::value(token.key);
  out["created_at_ms"] = picojson::value(static_cast<double>(token.created_at_ms));
  return picojson::value(std::move(out)).serialize();
}

/// The token `text` holds, if it is one of this library's, of its version and of `kind`; otherwise a bad_response
/// Failure saying why it was refused (malformed, empty, another type, another version, another kind, no id).
inline OrFailure<ResumeToken> read_resume_token(std::string_view text, std::string_view kind) {
  const auto refused = [](const std::string& why) {
    return Failure{FailureCause::bad_response, "resume token refused: " + why};
  };
  if (text.empty()) return refused("it is empty");
  picojson::value parsed;
  if (const auto error = json::parse_object(text, parsed)) return refused("not a JSON object (" + *error + ")");
  const auto& object = parsed.get<picojson::object>();
  const auto type = json::string_field(object, "type");
  if (!type) return refused("it names no type");
  if (*type != resume_token_type)
    return refused("of type \"" + *type + "\", not \"" + std::string(resume_token_type) + "\"");
  const auto version = journal_json::optional_number(object, "v");
  if (!version || *version != resume_token_version)
    return refused("of version " + (version ? picojson::value(*version).serialize() : std::string("(none)")) +
                   ", not " + std::to_string(resume_token_version));
  ResumeToken token;
  token.kind = json::string_field(object, "kind").value_or("");
  if (token.kind != kind) return refused("for a job of kind \"" + token.kind + "\", not \"" + std::string(kind) + "\"");
  token.id = json::string_field(object, "id").value_or("");
  if (token.id.empty()) return refused("it names no job id");
  token.key = json::string_field(object, "key").value_or("");
  token.created_at_ms = static_cast<std::int64_t>(journal_json::optional_number(object, "created_at_ms").value_or(0));
  return token;
}

// --- MemoryJournal -------------------------------------------------------------------------------------------------

/// A Journal in this process's memory: what a restart of the process forgets, but not a restart of the client (for
/// tests, and as the model the durable journals follow). Copies share one journal; safe from any thread.
class MemoryJournal {
 public:
  MemoryJournal() : state_(std::make_shared<State>()) {}

  /// Writes a create's intent; throws JournalError when its key is there already.
  void intend(const CreateRecord& record) {
    std::lock_guard lock(state_->mutex);
    if (!state_->creates.emplace(record.key, record).second)
      throw JournalError("journal (memory): the key " + record.key + " was used already");
  }
  /// Writes a create's ids and watches each; throws JournalError for an unknown key.
  void answered(std::string_view key, std::span<const std::string> ids) {
    std::lock_guard lock(state_->mutex);
    const auto found = state_->creates.find(std::string(key));
    if (found == state_->creates.end()) throw JournalError("journal (memory): no intent with key " + std::string(key));
    found->second.ids = std::vector<std::string>(ids.begin(), ids.end());
    for (const auto& id : ids)
      state_->jobs.try_emplace({found->second.kind, id}, JobRecord{found->second.kind, id, std::string(key)});
  }
  /// Watches a job by id.
  void watch(std::string_view kind, std::string_view id) {
    std::lock_guard lock(state_->mutex);
    state_->jobs.try_emplace({std::string(kind), std::string(id)}, JobRecord{std::string(kind), std::string(id), ""});
  }
  /// Writes outcomes; a job's first outcome stands.
  void settle(std::span<const Settlement> settled) {
    std::lock_guard lock(state_->mutex);
    for (const auto& settlement : settled) {
      auto& job =
          state_->jobs.try_emplace({settlement.kind, settlement.id}, JobRecord{settlement.kind, settlement.id, ""})
              .first->second;
      if (!job.outcome) job.outcome = settlement.outcome;
    }
  }
  /// Marks an outcome handed over.
  void hand_over(std::string_view kind, std::string_view id) {
    std::lock_guard lock(state_->mutex);
    const auto found = state_->jobs.find({std::string(kind), std::string(id)});
    if (found != state_->jobs.end() && found->second.outcome) found->second.handed_over = true;
  }
  /// Marks an intent's outcome unknown.
  void give_up(std::string_view key) {
    std::lock_guard lock(state_->mutex);
    const auto found = state_->creates.find(std::string(key));
    if (found != state_->creates.end() && !found->second.ids) found->second.unknown_outcome = true;
  }
  /// What a restart picks up.
  [[nodiscard]] JournalBacklog backlog() const {
    std::lock_guard lock(state_->mutex);
    JournalBacklog out;
    for (const auto& [key, create] : state_->creates)
      if (!create.ids && !create.unknown_outcome) out.unanswered.push_back(create);
    for (const auto& [key, job] : state_->jobs) {
      if (!job.outcome)
        out.watching.push_back(job);
      else if (!job.handed_over)
        out.undelivered.push_back(job);
    }
    return out;
  }

 private:
  struct State {
    std::mutex mutex;
    std::map<std::string, CreateRecord> creates;
    std::map<std::pair<std::string, std::string>, JobRecord> jobs;
  };
  std::shared_ptr<State> state_;
};

static_assert(Journal<MemoryJournal>);

// --- AnyJournal ----------------------------------------------------------------------------------------------------

/// Any Journal behind one type: what ClientOptions::journal holds. Copies share the journal; empty means none.
class AnyJournal {
 public:
  /// No journal: the client keeps everything in memory.
  AnyJournal() = default;
  /// Shares `journal` (a SqliteJournal, a MemoryJournal, or one of the caller's).
  template <Journal J>
  explicit AnyJournal(std::shared_ptr<J> journal) : journal_(std::make_shared<Model<J>>(std::move(journal))) {}

  /// True when there is a journal.
  explicit operator bool() const noexcept { return journal_ != nullptr; }
  /// See Journal.
  void intend(const CreateRecord& record) const { journal_->intend(record); }
  /// See Journal.
  void answered(std::string_view key, std::span<const std::string> ids) const { journal_->answered(key, ids); }
  /// See Journal.
  void watch(std::string_view kind, std::string_view id) const { journal_->watch(kind, id); }
  /// See Journal.
  void settle(std::span<const Settlement> settled) const { journal_->settle(settled); }
  /// See Journal.
  void hand_over(std::string_view kind, std::string_view id) const { journal_->hand_over(kind, id); }
  /// See Journal.
  void give_up(std::string_view key) const { journal_->give_up(key); }
  /// See Journal.
  [[nodiscard]] JournalBacklog backlog() const { return journal_->backlog(); }

 private:
  /// The calls, whatever the journal's type.
  struct Interface {
    Interface() = default;
    Interface(const Interface&) = delete;
    Interface& operator=(const Interface&) = delete;
    virtual ~Interface() = default;
    virtual void intend(const CreateRecord& record) = 0;
    virtual void answered(std::string_view key, std::span<const std::string> ids) = 0;
    virtual void watch(std::string_view kind, std::string_view id) = 0;
    virtual void settle(std::span<const Settlement> settled) = 0;
    virtual void hand_over(std::string_view kind, std::string_view id) = 0;
    virtual void give_up(std::string_view key) = 0;
    virtual JournalBacklog backlog() = 0;
  };
  /// The calls of one journal type.
  template <class J>
  struct Model final : Interface {
    explicit Model(std::shared_ptr<J> held) : journal(std::move(held)) {}
    void intend(const CreateRecord& record) override { journal->intend(record); }
    void answered(std::string_view key, std::span<const std::string> ids) override { journal->answered(key, ids); }
    void watch(std::string_view kind, std::string_view id) override { journal->watch(kind, id); }
    void settle(std::span<const Settlement> settled) override { journal->settle(settled); }
    void hand_over(std::string_view kind, std::string_view id) override { journal->hand_over(kind, id); }
    void give_up(std::string_view key) override { journal->give_up(key); }
    JournalBacklog backlog() override { return journal->backlog(); }
    std::shared_ptr<J> journal;
  };
  std::shared_ptr<Interface> journal_;
};

static_assert(Journal<AnyJournal>);

}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 12. SqliteJournal: the embedded durable Journal (WAL, synchronous=FULL, one writer).
// ---------------------------------------------------------------------------------------------------------------------

#ifdef HEYGEN_VT_WITH_SQLITE
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// How a SqliteJournal opens its file.
struct SqliteJournalOptions {
  /// How long a write waits for another process's write to end before it fails with a JournalError ("locked").
  std::chrono::milliseconds busy_timeout{5000};
};

/// A Journal in one SQLite file. Every write is one `BEGIN IMMEDIATE` transaction, committed with
/// `synchronous=FULL` in WAL mode, so it is on disk when the call returns: a lost intent would mean a second paid job,
/// which is worth an fsync per write. Several processes on one machine may share the file (not over a network file
/// system: WAL needs shared memory). A file that is not a journal of this library, is corrupt, or was written by a
/// newer version is refused with a JournalError naming it, and left as it was. Safe from any thread (one connection,
/// one writer at a time).
class SqliteJournal {
 public:
  /// The schema version this library writes (PRAGMA user_version).
  static constexpr int schema_version = 1;
  /// This library's mark on its files (PRAGMA application_id, "HGVT").
  static constexpr std::int32_t application_id = 0x48475654;

  /// Opens (or creates) the journal at `path`; throws JournalError naming it when it cannot be used.
  explicit SqliteJournal(std::string path, SqliteJournalOptions options = {}) : path_(std::move(path)) {
    const int opened = sqlite3_open_v2(path_.c_str(), &db_,
                                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (opened != SQLITE_OK) {
      const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(opened);
      sqlite3_close(db_);
      db_ = nullptr;
      throw JournalError("journal " + path_ + ": cannot open: " + why);
    }
    try {
      sqlite3_extended_result_codes(db_, 1);
      sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));
      set_up();
    } catch (...) {
      sqlite3_close(db_);
      db_ = nullptr;
      throw;
    }
  }
  SqliteJournal(const SqliteJournal&) = delete;
  SqliteJournal& operator=(const SqliteJournal&) = delete;
  /// Closes the file (a clean close checkpoints the WAL).
  ~SqliteJournal() { sqlite3_close(db_); }

  /// The file this journal writes.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// Writes a create's intent; throws JournalError when its key is there already.
  void intend(const CreateRecord& record) {
    transaction("write an intent", [&] {
      Statement insert(*this, "INSERT INTO creates(key, kind, input, intended_at_ms) VALUES (?, ?, ?, ?)");
      insert.bind(1, record.key).bind(2, record.kind).bind(3, record.input).bind(4, record.intended_at_ms);
      if (insert.step() == SQLITE_CONSTRAINT_PRIMARYKEY)
        throw JournalError("journal " + path_ + ": the key " + record.key + " was used already");
    });
  }

  /// Writes a create's ids and watches each; throws JournalError for an unknown key.
  void answered(std::string_view key, std::span<const std::string> ids) {
    transaction("write a create's ids", [&] {
      Statement update(*this, "UPDATE creates SET ids = ? WHERE key = ? RETURNING kind");
      update.bind(1, journal_json::string_array(ids).serialize()).bind(2, key);
      if (update.step() != SQLITE_ROW)
        throw JournalError("journal " + path_ + ": no intent with key " + std::string(key));
      const std::string kind = update.text(0);
      update.finish();
      for (const auto& id : ids) add_job(kind, id, key);
    });
  }

  /// Watches a job by id.
  void watch(std::string_view kind, std::string_view id) {
    transaction("watch a job", [&] { add_job(kind, id, ""); });
  }

  /// Writes the outcomes of one round in one transaction; a job's first outcome stands.
  void settle(std::span<const Settlement> settled) {
    if (settled.empty()) return;
    transaction("write outcomes", [&] {
      Statement upsert(*this,
                       "INSERT INTO jobs(kind, id, key, outcome) VALUES (?, ?, '', ?) "
                       "ON CONFLICT(kind, id) DO UPDATE SET outcome = excluded.outcome WHERE outcome IS NULL");
      for (const auto& settlement : settled) {
        upsert.bind(1, settlement.kind).bind(2, settlement.id).bind(3, outcome_json(settlement.outcome));
        upsert.step();
        upsert.reset();
      }
    });
  }

  /// Marks an outcome handed over.
  void hand_over(std::string_view kind, std::string_view id) {
    transaction("mark an outcome handed over", [&] {
      Statement update(*this, "UPDATE jobs SET handed_over = 1 WHERE kind = ? AND id = ? AND outcome IS NOT NULL");
      update.bind(1, kind).bind(2, id).step();
    });
  }

  /// Marks an intent's outcome unknown.
  void give_up(std::string_view key) {
    transaction("give up an intent", [&] {
      Statement update(*this, "UPDATE creates SET unknown_outcome = 1 WHERE key = ? AND ids IS NULL");
      update.bind(1, key).step();
    });
  }

  /// What a restart picks up; throws JournalError when the file cannot be read (or holds rows it cannot read).
  [[nodiscard]] JournalBacklog backlog() {
    JournalBacklog out;
    transaction("read the backlog", [&] {
      Statement creates(*this,
                        "SELECT key, kind, input, intended_at_ms FROM creates WHERE ids IS NULL AND unknown_outcome = "
                        "0 ORDER BY intended_at_ms, key");
      while (creates.step() == SQLITE_ROW)
        out.unanswered.push_back(
            {creates.text(0), creates.text(1), creates.text(2), creates.integer(3), std::nullopt, false});
      Statement jobs(*this, "SELECT kind, id, key, outcome FROM jobs WHERE handed_over = 0 ORDER BY kind, id");
      while (jobs.step() == SQLITE_ROW) read_job(jobs, out);
    });
    return out;
  }

 private:
  /// One prepared statement, finalized when it goes out of scope. Every failure is a JournalError naming the file.
  class Statement {
   public:
    Statement(SqliteJournal& journal, const char* sql) : journal_(journal) {
      if (sqlite3_prepare_v2(journal_.db_, sql, -1, &statement_, nullptr) != SQLITE_OK) journal_.fail("prepare");
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() { sqlite3_finalize(statement_); }

    Statement& bind(int index, std::string_view text) {
      check(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
      return *this;
    }
    Statement& bind(int index, std::int64_t number) {
      check(sqlite3_bind_int64(statement_, index, number));
      return *this;
    }
    /// Runs one step: SQLITE_ROW, SQLITE_DONE or a primary-key conflict (the caller's to judge); anything else throws.
    int step() {
      const int code = sqlite3_step(statement_);
      if (code == SQLITE_ROW || code == SQLITE_DONE || code == SQLITE_CONSTRAINT_PRIMARYKEY) return code;
      journal_.fail("run a statement");
    }
    /// Makes the statement ready to run again with new values.
    void reset() {
      sqlite3_reset(statement_);
      sqlite3_clear_bindings(statement_);
    }
    /// Ends a statement whose remaining rows are not wanted.
    void finish() { sqlite3_reset(statement_); }
    [[nodiscard]] std::string text(int column) const {
      const auto* bytes = sqlite3_column_text(statement_, column);
      return bytes == nullptr ? std::string()
                              : std::string(reinterpret_cast<const char*>(bytes),
                                            static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
    }
    [[nodiscard]] std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
    [[nodiscard]] bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

   private:
    void check(int code) {
      if (code != SQLITE_OK) journal_.fail("bind a value");
    }
    SqliteJournal& journal_;
    sqlite3_stmt* statement_ = nullptr;
  };

  /// Throws a JournalError naming the file, what was being done and SQLite's reason.
  [[noreturn]] void fail(std::string_view doing) const {
    const int code = sqlite3_extended_errcode(db_);
    std::string why = sqlite3_errmsg(db_);
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
      why += " (another process held it longer than the busy timeout)";
    throw JournalError("journal " + path_ + ": cannot " + std::string(doing) + ": " + why);
  }

  /// Runs `sql` (no rows wanted); throws JournalError on failure.
  void execute(const char* sql, std::string_view doing) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
  }

  /// Runs `body` in one BEGIN IMMEDIATE transaction, rolled back when it throws.
  template <class Body>
  void transaction(std::string_view doing, Body&& body) {
    std::lock_guard lock(mutex_);
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
    try {
      body();
      if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  /// Reads one PRAGMA's integer value.
  std::int64_t pragma_integer(const char* sql) {
    Statement pragma(*this, sql);
    return pragma.step() == SQLITE_ROW ? pragma.integer(0) : 0;
  }

  /// Checks the file is a journal of a version this library reads, makes the tables of a new one, and sets WAL and
  /// FULL. A file it refuses is left untouched: nothing is written before the checks pass.
  void set_up() {
    const auto found_id = pragma_integer("PRAGMA application_id");  // the first read: a corrupt file fails here
    const auto found_version = pragma_integer("PRAGMA user_version");
    const bool empty = pragma_integer("SELECT count(*) FROM sqlite_schema") == 0;
    if (!empty && found_id != application_id)
      throw JournalError("journal " + path_ + ": not a journal of this library (a database of something else)");
    if (found_version > schema_version)
      throw JournalError("journal " + path_ + ": written by a newer version of this library (schema " +
                         std::to_string(found_version) + "; this one reads up to " + std::to_string(schema_version) +
                         ")");
    Statement wal(*this, "PRAGMA journal_mode=WAL");
    if (wal.step() != SQLITE_ROW || wal.text(0) != "wal")
      throw JournalError("journal " + path_ + ": cannot use write-ahead logging here (a network file system?)");
    wal.finish();
    execute("PRAGMA synchronous=FULL", "set synchronous=FULL");
    if (empty) create_tables();
  }

  /// The tables of a new journal, and its marks.
  void create_tables() {
    transaction("create its tables", [&] {
      execute(
          "CREATE TABLE IF NOT EXISTS creates(key TEXT PRIMARY KEY, kind TEXT NOT NULL, input TEXT NOT NULL, "
          "intended_at_ms INTEGER NOT NULL, ids TEXT, unknown_outcome INTEGER NOT NULL DEFAULT 0)",
          "create its tables");
      execute(
          "CREATE TABLE IF NOT EXISTS jobs(kind TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, outcome TEXT, "
          "handed_over INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(kind, id))",
          "create its tables");
      const std::string marks = "PRAGMA application_id=" + std::to_string(application_id) +
                                "; PRAGMA user_version=" + std::to_string(schema_version);
      execute(marks.c_str(), "mark it");
    });
  }

  /// Adds a watched job unless it is there already.
  void add_job(std::string_view kind, std::string_view id, std::string_view key) {
    Statement insert(*this, "INSERT INTO jobs(kind, id, key) VALUES (?, ?, ?) ON CONFLICT(kind, id) DO NOTHING");
    insert.bind(1, kind).bind(2, id).bind(3, key).step();
  }

  /// One row of jobs (not handed over) into the backlog: watching, or settled and not handed over.
  void read_job(const Statement& row, JournalBacklog& out) const {
    JobRecord job{row.text(0), row.text(1), row.text(2), std::nullopt, false};
    if (row.is_null(3)) {
      out.watching.push_back(std::move(job));
      return;
    }
    auto outcome = read_outcome_json(row.text(3));
    if (!outcome) throw JournalError("journal " + path_ + ": job " + job.id + ": " + outcome.failure().message);
    job.outcome = std::move(outcome).value();
    out.undelivered.push_back(std::move(job));
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
};

static_assert(Journal<SqliteJournal>);

}  // namespace heygen

#endif  // HEYGEN_VT_WITH_SQLITE

// ---------------------------------------------------------------------------------------------------------------------
// 13. Options: ClientOptions, Endpoints, and the progress types of bulk waits and submissions.
// ---------------------------------------------------------------------------------------------------------------------

namespace heygen {

/// How far a bulk call has got: results known so far, out of the distinct ids.
struct BulkProgress {
  std::size_t done = 0;   ///< Results known, this one included.
  std::size_t total = 0;  ///< Distinct job ids tracked.
};

/// Receives one job's result as soon as it is known, with the progress counts.
using BulkCallback =
    std::function<void(const std::string& job_id, const TranslationResult& result, BulkProgress progress)>;

/// A wait's own deadline and cancellation (`watch`, the `*_async` calls).
struct WatchOptions {
  std::stop_token stop{};  ///< Ends the wait `cancelled` when triggered.
  Seconds timeout{0};      ///< Ends the wait `timeout` after this long; 0: the client's max_timeout.
};

/// Receives a watched job's result, once, on one of the poller's workers (or on the thread that cancels).
using WatchCallback = std::function<void(const std::string& job_id, const TranslationResult& result)>;

/// How far a submission of many creates has got. Creates go one after another: while the account runs as many
/// jobs as it may, the server paces them (429 + Retry-After) and the rest stay queued instead of failing.
struct SubmitProgress {
  std::size_t created = 0;                    ///< Inputs created so far.
  std::size_t failed = 0;                     ///< Inputs that could not be created.
  std::size_t queued = 0;                     ///< Inputs not yet created (the one in flight included).
  std::size_t total = 0;                      ///< Inputs submitted.
  std::optional<Seconds> waiting_for_slot{};  ///< Set while the server paces the creates: the wait it asked for.
};

/// Receives a submission's progress after each create and whenever the server makes it wait.
using SubmitCallback = std::function<void(const SubmitProgress& progress)>;

/// What one submitted input came to: the ids of the jobs it started, or why none were.
struct Submitted {
  std::vector<std::string> job_ids{};  ///< One per job the create started (one per output language on HeyGen).
  std::optional<Failure> failure{};    ///< Why the create failed; empty on success.
};

/// URL paths of the server's endpoints, relative to the base URL.
struct Endpoints {
  std::string create_job = "/create_job";  ///< POST: create a job.
  /// GET: a job's status. `{job_id}` is replaced by the percent-encoded id; without it, `?job_id=` is appended.
  std::string status = "/status/{job_id}";
  /// POST: many jobs' status in one request (`{"job_ids": [...]}`); a 404 or 405 tells the client it is absent.
  std::string batch = "/status/batch";
};

/// Which pushes a client takes, and how it trusts them.
enum class PushTrust {
  signature,  ///< Only signed pushes, each settling its job at once (the exercise's server; HeyGen's endpoints).
  confirm,    ///< Every push is a hint: its callback_id must match the create's, and one look confirms it.
  either,     ///< A signed push settles at once, an unsigned one is a hint; a wrong signature is refused.
};

/// How pushes are checked. The defaults follow what is known of HeyGen's webhooks: the signature is the lowercase
/// hex HMAC-SHA256 of the raw body with the endpoint's secret, in a header whose exact name is not documented
/// (`X-HeyGen-Signature` and `Signature` have both been seen): a wrong guess is a change of `signature_header`.
struct WebhookOptions {
  std::string secret{};                                 ///< The endpoint's signing secret; required without `verify`.
  std::string signature_header = "X-HeyGen-Signature";  ///< Header with the hex signature (`sha256=` prefix allowed).
  /// What is signed: `{body}` is the raw body, `{timestamp}` the timestamp header's value (e.g. "{timestamp}.{body}").
  std::string signed_string = "{body}";
  std::string timestamp_header = "X-HeyGen-Timestamp";  ///< Header with the time of sending, in unix seconds.
  /// How far the timestamp may be from now, either way; 0 checks no timestamp. A replayed push is refused past it.
  Seconds timestamp_tolerance{0};
  std::size_t max_body_bytes = std::size_t{64} * 1024;  ///< Larger bodies are refused before anything is checked.
  std::size_t remember = 100000;  ///< Settled job ids remembered, so later pushes for them are duplicates.
  /// Which pushes are taken: empty means the protocol's default (HeyGen's API: either, since its per-job
  /// callback_url pushes are unsigned; the exercise's server: signature).
  std::optional<PushTrust> trust{};
  /// The caller's own check, used instead of the built-in HMAC (for a build without OpenSSL, or another scheme):
  /// true when `signature` (the signature header's value, as sent) signs `signed_string`. Called from many
  /// threads at once; compare in constant time (detail::constant_time_equal).
  std::function<bool(std::string_view signed_string, std::string_view signature)> verify{};
  /// Safety-net polling while pushes are expected (a webhook_url is set): a job is looked at again after
  /// max(safety_interval, safety_age_ratio × its age), so a lost push is caught within that long of the job's end.
  Seconds safety_interval{30.0};
  double safety_age_ratio = 0.1;  ///< See safety_interval.
};

/// Everything a client can be configured with; usable with designated initializers.
struct ClientOptions {
  std::string base_url{};        ///< e.g. "http://localhost:5000"; scheme and host required.
  int max_retries = 15;          ///< Retries after a failed request (seed default).
  Seconds initial_backoff{0.5};  ///< First retry backoff ceiling (seed default).
  Seconds max_timeout{300.0};    ///< Deadline of a whole call; a wait past it returns timeout (seed default).
  Seconds max_backoff{30.0};     ///< Cap on retry backoff.
  PollPolicy polling{};          ///< When to look again at a pending job (see PollPolicy presets).
  /// What was learnt about the server; share one between clients of a server. Empty: the client makes its own.
  std::shared_ptr<ServerProfile> profile{};
  Seconds request_timeout{30.0};  ///< Budget for one HTTP request (bounded by the deadline too).
  Seconds connect_timeout{5.0};   ///< Budget for opening a connection (bundled transport).
  std::size_t max_body_bytes = HEYGEN_VT_DEFAULT_MAX_BODY_BYTES;  ///< Cap on a response body (bundled transport).
  std::string bearer_token{};               ///< Sent as `Authorization: Bearer ...` when non-empty; never logged.
  std::string api_key{};                    ///< Sent as `X-Api-Key` when non-empty (HeyGen's API); never logged.
  std::vector<HttpHeader> extra_headers{};  ///< Added to every request.
  Endpoints endpoints{};                    ///< Paths of the server's endpoints.
  /// Where the server should push each job's outcome: creates carry it as `callback_url` (and a `callback_id`),
  /// and waits expect pushes, polling only as a safety net. Empty: no pushes asked for, polling alone.
  std::string webhook_url{};
  WebhookOptions webhook{};    ///< How pushes are verified (secret, header, signed string), and the safety net.
  bool verify_tls = true;      ///< Verify the server's certificate for https (turning it off is explicit).
  std::string ca_cert_file{};  ///< CA bundle for https; empty uses the system's.
  std::size_t connection_pool_size = 8;  ///< Idle keep-alive connections the bundled transport keeps for reuse.
  /// The HTTP proxy of every request the bundled transport sends, "http://[user:password@]host[:port]" (the user
  /// and password for Basic authentication, never logged); "" for none. Unset: from the environment, as curl reads
  /// it (https_proxy, HTTPS_PROXY, http_proxy, all_proxy, ALL_PROXY: see ProxyConfig).
  std::optional<std::string> proxy{};
  /// The hosts reached without the proxy, in curl's NO_PROXY syntax (no_proxy_matches()). Unset: no_proxy or
  /// NO_PROXY from the environment, which also applies to an explicit `proxy`, as it does to curl's --proxy.
  std::optional<std::string> no_proxy{};
  /// Where the proxy variables are read; empty: the process environment. Tests pin it.
  std::function<std::optional<std::string>(std::string_view name)> environment{};
  /// The caller's own product token(s), e.g. "my-app/2.1", sent in the User-Agent after the library's.
  std::string user_agent_suffix{};
  /// Worker threads of the client's poller (started at the first asynchronous or bulk wait), shared by all
  /// its waits; also the most status requests those waits have in flight at once.
  std::size_t poller_threads = HEYGEN_VT_DEFAULT_POLLER_THREADS;
  /// Where the client writes its jobs down so a restart loses nothing (a create's intent before it is sent, its ids,
  /// each outcome before it is handed over; see resume()). Empty: everything stays in memory, as without one.
  AnyJournal journal{};
  LogSink log_sink{};                   ///< Where log messages go; empty means silent.
  LogLevel log_level = LogLevel::info;  ///< Least severe level passed to the sink.
  /// Source of U[0,1) numbers for jitter; empty uses a thread-safe internal generator. Tests pin it.
  std::function<double()> random{};

  /// The retry policy these options describe.
  [[nodiscard]] RetryPolicy retry_policy() const noexcept { return {max_retries, initial_backoff, max_backoff}; }

  /// The User-Agent the bundled transport sends: "heygen-vt-cpp/VERSION", then user_agent_suffix. A transport of
  /// the caller's can send it too.
  [[nodiscard]] std::string user_agent() const {
    std::string agent = "heygen-vt-cpp/" HEYGEN_VT_VERSION;
    if (!user_agent_suffix.empty()) agent.append(" ").append(user_agent_suffix);
    return agent;
  }
};

// ---------------------------------------------------------------------------------------------------------------------
// 14. BaseUrl: a base URL split into parts and checked.
// ---------------------------------------------------------------------------------------------------------------------

/// A base URL split into parts and checked: scheme http or https, a host, an optional port and path prefix.
struct BaseUrl {
  std::string scheme{};  ///< "http" or "https".
  std::string host{};    ///< Host name or address (IPv6 keeps its brackets).
  int port = 0;          ///< Explicit port, or the scheme's default.
  std::string prefix{};  ///< Path prefix without a trailing slash, e.g. "/api".

  /// Parses and validates; throws std::invalid_argument naming what is wrong.
  static BaseUrl parse(std::string_view url) {
    if (url.empty()) throw std::invalid_argument("heygen: base_url is empty");
    // Any control byte, not only CR/LF: a tab or backspace in a host name is never intended.
    if (std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; }))
      throw std::invalid_argument("heygen: base_url contains whitespace or a control character");
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos)
      throw std::invalid_argument("heygen: base_url has no scheme (expected http:// or https://)");
    BaseUrl out;
    for (char c : url.substr(0, scheme_end)) out.scheme += detail::ascii_lower(c);
    if (out.scheme != "http" && out.scheme != "https")
      throw std::invalid_argument("heygen: base_url scheme must be http or https");
    std::string_view rest = url.substr(scheme_end + 3);
    const auto path_start = rest.find_first_of("/?#");
    if (path_start != std::string_view::npos && rest[path_start] != '/')
      throw std::invalid_argument("heygen: base_url must not have a query or fragment");
    std::string_view authority = rest.substr(0, path_start);
    if (authority.find('@') != std::string_view::npos)
      throw std::invalid_argument("heygen: base_url must not carry credentials; use bearer_token");
    if (path_start != std::string_view::npos) out.prefix = std::string(rest.substr(path_start));
    while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
    if (out.prefix.find_first_of("?#") != std::string::npos)
      throw std::invalid_argument("heygen: base_url must not have a query or fragment");
    out.port = out.scheme == "https" ? 443 : 80;
    const auto port_text = split_authority(authority, out.host);
    if (out.host.empty() || out.host == "[]") throw std::invalid_argument("heygen: base_url has no host");
    if (port_text) out.port = parse_port(*port_text);
    return out;
  }

  /// Splits "host[:port]" or "[v6]:port" into the host (brackets kept) and the port text, if any.
  static std::optional<std::string_view> split_authority(std::string_view authority, std::string& host) {
    if (authority.empty() || authority.front() != '[') {
      const auto colon = authority.find(':');
      host = std::string(authority.substr(0, colon));
      if (colon == std::string_view::npos) return std::nullopt;
      return authority.substr(colon + 1);
    }
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("heygen: base_url has an unclosed IPv6 bracket");
    host = std::string(authority.substr(0, close + 1));
    if (close + 1 == authority.size()) return std::nullopt;
    if (authority[close + 1] != ':') throw std::invalid_argument("heygen: base_url has junk after the IPv6 host");
    return authority.substr(close + 2);
  }

  /// "scheme://host:port", without the prefix.
  [[nodiscard]] std::string origin() const { return scheme + "://" + host + ":" + std::to_string(port); }

 private:
  static int parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      throw std::invalid_argument("heygen: base_url has an invalid port");
    const int port = std::stoi(std::string(text));
    if (port < 1 || port > 65535) throw std::invalid_argument("heygen: base_url port is out of range");
    return port;
  }
};

/// An absolute URL (a presigned storage URL, say) as the host to connect to and the target to send, kept
/// verbatim: a presigned URL's query is signed byte for byte.
struct AbsoluteUrl {
  BaseUrl origin{};      ///< Scheme, host and port (no prefix).
  std::string target{};  ///< Path and query, exactly as given ("/" when the URL has no path); no fragment.

  /// Splits and checks `url`; throws std::invalid_argument naming what is wrong.
  static AbsoluteUrl parse(std::string_view url) {
    const auto scheme_end = url.find("://");
    const auto authority_end =
        scheme_end == std::string_view::npos ? std::string_view::npos : url.find_first_of("/?#", scheme_end + 3);
    AbsoluteUrl out;
    out.origin = BaseUrl::parse(url.substr(0, authority_end));
    if (authority_end == std::string_view::npos) {
      out.target = "/";
      return out;
    }
    std::string_view rest = url.substr(authority_end);
    rest = rest.substr(0, rest.find('#'));
    if (rest.empty() || rest.front() != '/') out.target = "/";
    out.target += rest;
    return out;
  }
};

}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 15. Proxies: a request's HTTP proxy, from the options or the environment as curl reads it.
// ---------------------------------------------------------------------------------------------------------------------

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

namespace heygen {

/// A variable's value by name, or nothing when it is not set (set but empty is not the same: see ProxyConfig).
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment as an EnvironmentLookup (std::getenv).
inline EnvironmentLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

/// An HTTP proxy: where it listens and the credentials it wants (sent as Basic authentication).
struct ProxyUrl {
  std::string host{};      ///< Host name or address (IPv6 in brackets).
  int port = 1080;         ///< The URL's port; curl's default, 1080, when it names none.
  std::string user{};      ///< Percent-decoded user name; empty: no authentication.
  std::string password{};  ///< Percent-decoded password; never logged.
  std::string source{};    ///< Where it came from: a variable's name, or "ClientOptions::proxy".

  /// The host without IPv6 brackets, as a socket API wants it.
  [[nodiscard]] std::string bare_host() const {
    const bool bracketed = host.size() >= 2 && host.front() == '[';
    return bracketed ? host.substr(1, host.size() - 2) : host;
  }

  /// "http://host:port", with the user named and the password hidden ("http://alice:***@host:port"): for logs.
  [[nodiscard]] std::string redacted() const {
    std::string text = "http://";
    if (!user.empty()) text.append(user).append(password.empty() ? "@" : ":***@");
    return text.append(host).append(":").append(std::to_string(port));
  }

  /// Parses "[http://][user[:password]@]host[:port][/]" as curl does (no scheme means http, no port 1080). Throws
  /// std::invalid_argument naming `source` and what is wrong, never repeating the value (it may hold a password).
  static ProxyUrl parse(std::string_view text, std::string_view source) {
    const auto refuse = [source](std::string_view what) {
      std::string message = "heygen: ";
      message.append(source).append(": ").append(what).append(" (expected http://[user:password@]host[:port])");
      throw std::invalid_argument(message);
    };
    if (std::any_of(text.begin(), text.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; }))
      refuse("a proxy URL holds no whitespace or control character");
    ProxyUrl out;
    out.source = std::string(source);
    if (const auto scheme_end = text.find("://"); scheme_end != std::string_view::npos) {
      if (!detail::iequals(text.substr(0, scheme_end), "http"))
        refuse("only http:// proxies are supported (not https:// or socks)");
      text.remove_prefix(scheme_end + 3);
    }
    if (!text.empty() && text.back() == '/') text.remove_suffix(1);
    if (text.find_first_of("/?#") != std::string_view::npos) refuse("a proxy URL has no path, query or fragment");
    if (const auto at = text.rfind('@'); at != std::string_view::npos) {
      const std::string_view userinfo = text.substr(0, at);
      const auto colon = userinfo.find(':');
      if (!percent_decode(userinfo.substr(0, colon), out.user) ||
          (colon != std::string_view::npos && !percent_decode(userinfo.substr(colon + 1), out.password)))
        refuse("the user or password has a bad percent-escape");
      if (out.user.empty()) refuse("a password needs a user name");
      text.remove_prefix(at + 1);
    }
    const std::optional<std::string_view> port = split_host(text, out.host);
    if (out.host.empty()) refuse("it names no host");
    if (port && !parse_port(*port, out.port)) refuse("its port is not a number from 1 to 65535");
    return out;
  }

 private:
  /// Splits "host[:port]" or "[v6][:port]" into the host (brackets kept) and the port's text, if any; the host is
  /// left empty when the brackets do not close or something follows them other than a port.
  static std::optional<std::string_view> split_host(std::string_view authority, std::string& host) {
    if (authority.empty() || authority.front() != '[') {
      const auto colon = authority.find(':');
      host = std::string(authority.substr(0, colon));
      if (colon == std::string_view::npos) return std::nullopt;
      return authority.substr(colon + 1);
    }
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close < 2 || (close + 1 < authority.size() && authority[close + 1] != ':'))
      return std::nullopt;  // host stays empty: refused
    host = std::string(authority.substr(0, close + 1));
    if (close + 1 == authority.size()) return std::nullopt;
    return authority.substr(close + 2);
  }

  static bool parse_port(std::string_view text, int& port) {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    port = std::stoi(std::string(text));
    return port >= 1 && port <= 65535;
  }

  /// Appends `text` percent-decoded to `out`; false on a bad escape.
  static bool percent_decode(std::string_view text, std::string& out) {
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      c = detail::ascii_lower(c);
      return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '%') {
        out += text[i];
        continue;
      }
      if (i + 2 >= text.size()) return false;
      const int high = hex(text[i + 1]);
      const int low = hex(text[i + 2]);
      if (high < 0 || low < 0) return false;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    }
    return true;
  }
};

namespace detail {

/// AF_INET or AF_INET6 when `text` is an IPv4 or IPv6 address (without brackets), its 4 or 16 bytes in `bytes`;
/// else 0.
inline int parse_ip(std::string_view text, std::array<unsigned char, 16>& bytes) {
  if (text.empty() || text.size() >= 64) return 0;
  const std::string copy(text);
  if (inet_pton(AF_INET, copy.c_str(), bytes.data()) == 1) return AF_INET;
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) == 1) return AF_INET6;
  return 0;
}

/// A decimal number from 0 to `most`, or -1.
inline int small_number(std::string_view text, int most) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  const int value = std::stoi(std::string(text));
  return value <= most ? value : -1;
}

/// A NO_PROXY entry as its pattern and its port (0: any port; -1: a port that is not one, so the entry matches
/// nothing): "name:port", "1.2.3.4:port", "[v6]:port". An IPv6 address without brackets has no port.
inline std::pair<std::string_view, int> split_no_proxy_entry(std::string_view entry) {
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return {std::string_view{}, 0};
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {std::string_view{}, 0};
    return {entry.substr(1, close - 1), rest.empty() ? 0 : small_number(rest.substr(1), 65535)};
  }
  const auto colon = entry.find(':');
  if (colon == std::string_view::npos || entry.find(':', colon + 1) != std::string_view::npos) return {entry, 0};
  const int port = small_number(entry.substr(colon + 1), 65535);
  return {entry.substr(0, colon), port == 0 ? -1 : port};
}

/// True when the address `host` is the address `pattern`, or lies in its CIDR block ("10.0.0.0/8", "fd00::/8").
inline bool ip_in_block(std::string_view host, std::string_view pattern) {
  const auto slash = pattern.find('/');
  std::array<unsigned char, 16> address{};
  std::array<unsigned char, 16> network{};
  const int family = parse_ip(host, address);
  if (family == 0 || parse_ip(pattern.substr(0, slash), network) != family) return false;
  const int all = family == AF_INET ? 32 : 128;
  const int bits = slash == std::string_view::npos ? all : small_number(pattern.substr(slash + 1), all);
  if (bits < 0) return false;
  const auto whole = static_cast<std::size_t>(bits / 8);
  if (!std::equal(address.begin(), address.begin() + static_cast<std::ptrdiff_t>(whole), network.begin())) return false;
  if (bits % 8 == 0) return true;
  const auto mask = static_cast<unsigned char>(0xFFU << (8 - bits % 8));
  return (address[whole] & mask) == (network[whole] & mask);
}

/// True when the name `host` is `pattern` or a name under it ("www.example.com" under "example.com" or
/// ".example.com" or "*.example.com"), without regard to case or a trailing dot.
inline bool name_under(std::string_view host, std::string_view pattern) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
  if (pattern.substr(0, 2) == "*.") pattern.remove_prefix(1);
  if (!pattern.empty() && pattern.front() == '.') pattern.remove_prefix(1);
  if (pattern.empty() || pattern.size() > host.size()) return false;
  if (pattern.size() == host.size()) return iequals(host, pattern);
  return host[host.size() - pattern.size() - 1] == '.' && iequals(host.substr(host.size() - pattern.size()), pattern);
}

}  // namespace detail

/// True when `list`, in the syntax of curl's NO_PROXY, says that `host` (a name, an IPv4 address, or an IPv6 one in
/// brackets) on `port` is reached directly. curl's rules: a list of entries separated by commas (blanks around them
/// ignored); "*" alone matches every host; a name matches itself and every name under it ("example.com" and
/// ".example.com" both match "example.com" and "www.example.com", not "notexample.com"), without regard to case or
/// a trailing dot; an IP address matches only an address entry, exactly or within a CIDR block ("192.168.0.0/16",
/// "fd00::/8"; IPv6 entries with or without brackets). From Go, as the issue asks: an entry may end in ":port" and
/// then matches that port alone, and "*.example.com" reads as ".example.com". Names are never resolved.
inline bool no_proxy_matches(std::string_view list, std::string_view host, int port) {
  if (detail::trim_blanks(list) == "*") return true;
  const bool bracketed = host.size() >= 2 && host.front() == '[';
  const std::string_view bare = bracketed ? host.substr(1, host.size() - 2) : host;
  std::array<unsigned char, 16> ignored{};
  const bool numeric = detail::parse_ip(bare, ignored) != 0;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view entry = detail::trim_blanks(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    const auto [pattern, entry_port] = detail::split_no_proxy_entry(entry);
    if (pattern.empty() || (entry_port != 0 && entry_port != port)) continue;
    if (numeric ? detail::ip_in_block(bare, pattern) : detail::name_under(bare, pattern)) return true;
  }
  return false;
}

/// Which proxy each request goes through: decided once per client, from its options or from the environment.
///
/// The environment is read as curl reads it: for an http:// target `http_proxy` (lower case only: `HTTP_PROXY` can
/// be set by a CGI request's `Proxy:` header), for an https:// one `https_proxy` then `HTTPS_PROXY`; when the
/// scheme's variable is not set, `all_proxy` then `ALL_PROXY`; the hosts that go direct in `no_proxy`, then
/// `NO_PROXY`. The first variable that is set is used, and a variable set to "" means no proxy (or no exception).
struct ProxyConfig {
  std::optional<ProxyUrl> http{};   ///< The proxy for http:// targets; empty: none.
  std::optional<ProxyUrl> https{};  ///< The proxy for https:// targets (a CONNECT tunnel); empty: none.
  std::string no_proxy{};           ///< Targets reached directly, in NO_PROXY's syntax (no_proxy_matches()).
  std::string no_proxy_source{};    ///< Where no_proxy came from (a variable, ClientOptions::no_proxy), if anywhere.

  /// The proxy for a request to `scheme://host:port`, or nullptr when it goes directly.
  [[nodiscard]] const ProxyUrl* for_target(std::string_view scheme, std::string_view host, int port) const {
    const std::optional<ProxyUrl>& proxy = scheme == "https" ? https : http;
    if (!proxy || no_proxy_matches(no_proxy, host, port)) return nullptr;
    return &*proxy;
  }

  /// The proxies of the environment `env`; throws std::invalid_argument naming a variable that is malformed.
  static ProxyConfig from_environment(const EnvironmentLookup& env) {
    ProxyConfig config;
    config.http = from_variables(env, {"http_proxy"});
    config.https = from_variables(env, {"https_proxy", "HTTPS_PROXY"});
    if (auto found = first_set(env, {"no_proxy", "NO_PROXY"}))
      config.use_no_proxy(std::move(found->value), std::move(found->name));
    return config;
  }

  /// The proxies `options` ask for: ClientOptions::proxy ("" for none) and no_proxy where set, the environment
  /// (ClientOptions::environment, or the process's) for the rest. Throws std::invalid_argument naming what is
  /// malformed.
  static ProxyConfig from_options(const ClientOptions& options) {
    const EnvironmentLookup env = options.environment ? options.environment : process_environment();
    if (!options.proxy) {
      ProxyConfig config = from_environment(env);
      if (options.no_proxy) config.use_no_proxy(*options.no_proxy, "ClientOptions::no_proxy");
      return config;
    }
    ProxyConfig config;
    if (!options.proxy->empty()) config.http = config.https = ProxyUrl::parse(*options.proxy, "ClientOptions::proxy");
    if (options.no_proxy)
      config.use_no_proxy(*options.no_proxy, "ClientOptions::no_proxy");
    else if (auto found = first_set(env, {"no_proxy", "NO_PROXY"}))
      config.use_no_proxy(std::move(found->value), std::move(found->name));
    return config;
  }

 private:
  struct Found {
    std::string name;
    std::string value;
  };

  void use_no_proxy(std::string list, std::string source) {
    no_proxy = std::move(list);
    no_proxy_source = std::move(source);
  }

  /// The first of `names` that is set in `env` (even to ""), with its value.
  static std::optional<Found> first_set(const EnvironmentLookup& env, std::initializer_list<std::string_view> names) {
    for (const std::string_view name : names)
      if (std::optional<std::string> value = env(name)) return Found{std::string(name), std::move(*value)};
    return std::nullopt;
  }

  /// The proxy of the first of `own` that is set, else of all_proxy or ALL_PROXY; none when that one is "".
  static std::optional<ProxyUrl> from_variables(const EnvironmentLookup& env,
                                                std::initializer_list<std::string_view> own) {
    std::optional<Found> found = first_set(env, own);
    if (!found) found = first_set(env, {"all_proxy", "ALL_PROXY"});
    if (!found || found->value.empty()) return std::nullopt;
    return ProxyUrl::parse(found->value, found->name);
  }
};

// ---------------------------------------------------------------------------------------------------------------------
// 16. The Protocol concept: what a wire format builds and reads, in neutral values.
// ---------------------------------------------------------------------------------------------------------------------

/// One job's status as a protocol read it from the server's answer, whatever the wire format.
struct StatusAnswer {
  TranslationStatus status = TranslationStatus::pending;  ///< pending, completed or error.
  FailureCause cause = FailureCause::none;                ///< job_failed, unknown_job or unexpected_result when failed.
  std::optional<std::string> error_message{};             ///< The server's message, or the unknown status word.
  std::optional<double> progress{};                       ///< Progress hint (0–1), if sane.
  std::optional<double> eta_seconds{};                    ///< Time-left hint, if sane.
  JobOutputs outputs{};                                   ///< What the job produced, when the server says.
};

/// One page of a many-status answer: each id the server answered for, and where the next page starts.
struct ManyStatusAnswer {
  std::vector<std::pair<std::string, StatusAnswer>> answers{};  ///< Job id → its status; ids left out are absent.
  std::string next_page{};                                      ///< Token of the next page; empty on the last.
};

/// A job's final status as a push notification (webhook) delivered it, read by a protocol's `read_push`.
struct PushedStatus {
  std::string job_id{};       ///< The job the push is about (the id its create answered).
  std::string callback_id{};  ///< The `callback_id` the create sent, echoed back; empty when the push has none.
  std::string event_type{};   ///< The server's name for the event (HeyGen: "video_translate.success"); may be empty.
  StatusAnswer answer{};      ///< The job's final status: completed or error, never pending.
};

/// How a client speaks to one kind of server. A protocol builds requests (method, target below the base URL,
/// its own headers and body: the client adds the URL, Accept, authentication and the timeout) and reads final
/// answers (after retries) into neutral values, mapping the server's error answers to failure causes. The
/// client, the pollers and the tests know no field name of any wire format. Implementations must be usable
/// from many threads at once (const members, no mutable state).
///
/// - `create_input`: what a create takes (TrackerProtocol: nothing; a real API: the video and languages).
/// - `create_request` / `read_created`: one create, which may start several jobs (one id each).
/// - `status_request` / `read_status`: one job; `hold` > 0 asks the server to hold the answer (long poll).
/// - `many_status_limit`: ids one many-status request may name; 0 when the protocol has no such endpoint.
/// - `many_status_request` / `read_many_status`: several jobs, a page at a time (`page` empty for the first).
///   A read that fails tells the client the server has no usable endpoint: it falls back to one look per job.
/// - `retryable`: whether a response (or no response) is worth another try.
/// - `describe`: a response in words, with the server's own error message where the body carries one.
/// - optional `static constexpr bool many_status_outputs`: false when many-status answers say a job completed
///   but not what it produced; the bulk poller then fetches each completed job's outputs with one look of its own.
/// - optional `bool paces(response)`: the answer is the server pacing the client (an account's concurrency
///   limit), to be waited out as its Retry-After says without using up retries.
/// - optional `OrFailure<PushedStatus> read_push(body)`: a push notification's body (a webhook the server POSTs
///   when a job ends), read into the job's final status; a body that is not one is a bad_response failure. A
///   protocol that has it is a PushProtocol.
template <class P>
concept Protocol = requires(const P& protocol, HttpRequest& out, const typename P::create_input& input,
                            std::string_view text, std::span<const std::string* const> ids, Seconds hold,
                            const HttpResponse& response) {
  { protocol.create_request(out, input, text) } -> std::same_as<void>;
  { protocol.read_created(response) } -> std::same_as<OrFailure<std::vector<std::string>>>;
  { protocol.status_request(out, text, hold) } -> std::same_as<void>;
  { protocol.read_status(response) } -> std::same_as<OrFailure<StatusAnswer>>;
  { protocol.many_status_limit() } -> std::convertible_to<std::size_t>;
  { protocol.many_status_request(out, ids, text, hold) } -> std::same_as<void>;
  { protocol.read_many_status(response) } -> std::same_as<OrFailure<ManyStatusAnswer>>;
  { protocol.retryable(response) } -> std::same_as<bool>;
  { protocol.describe(response) } -> std::same_as<std::string>;
};

/// A Protocol whose server can push a job's final status (a webhook): `read_push` reads the pushed body. It only
/// reads: checking the sender (signature, freshness) is WebhookVerifier's.
template <class P>
concept PushProtocol = Protocol<P> && requires(const P& protocol, std::string_view body) {
  { protocol.read_push(body) } -> std::same_as<OrFailure<PushedStatus>>;
};

/// Whether a protocol's many-status answers carry what each completed job produced (true unless it says not).
template <class P>
constexpr bool many_status_has_outputs(const P&) {
  if constexpr (requires { P::many_status_outputs; })
    return P::many_status_outputs;
  else
    return true;
}

/// Appends `?name=value` or `&name=value` to a request target, as its query needs. Both go in as given: a
/// value that may hold reserved characters (a page token) must be percent-encoded first.
inline void append_query(std::string& target, std::string_view name, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += name;
  target += '=';
  target += value;
}

}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 17. Tracker scan: a status answer's members, read flat or through picojson.
// ---------------------------------------------------------------------------------------------------------------------

namespace heygen::tracker {
/// The members of a status object that a reader looks at (null when absent); the rest are not kept. A pushed
/// status is the same object with the job's id and callback id added, so one parse serves both.
struct StatusFields {
  picojson::value result;
  picojson::value error_message;
  picojson::value progress;
  picojson::value eta_seconds;
  picojson::value job_id;       // a push only
  picojson::value callback_id;  // a push only

  /// Where the member `key` goes, or nullptr for a member no reader needs.
  picojson::value* slot(std::string_view key) noexcept {
    if (key == "result") return &result;
    if (key == "error_message") return &error_message;
    if (key == "progress") return &progress;
    if (key == "eta_seconds") return &eta_seconds;
    if (key == "job_id") return &job_id;
    if (key == "callback_id") return &callback_id;
    return nullptr;
  }

  /// The same members taken from an object already parsed (a batch answer's entries).
  static StatusFields of(const picojson::object& object) {
    StatusFields fields;
    for (const auto& [key, value] : object)
      if (picojson::value* slot = fields.slot(key)) *slot = value;
    return fields;
  }
};

/// One member's value as FlatStatusScan found it, pointing into the body: what a status look reads, without a
/// picojson value built (and a string allocated) for it.
struct FlatValue {
  /// What the member held; absent when the body had no such member.
  enum class Kind { absent, null, boolean, number, string };
  Kind kind = Kind::absent;  ///< What the member held.
  std::string_view text{};   ///< A string's bytes (the scan takes strings without escapes only).
  double number = 0;         ///< A number, as picojson's get<double>() gives it.
  bool boolean = false;      ///< A true or false.
};

/// The members of a status answer a look reads, as FlatValues into the body (a push's members are not needed).
struct StatusView {
  FlatValue result;         ///< "result": the job's status word.
  FlatValue error_message;  ///< "error_message": why a failed job failed.
  FlatValue progress;       ///< "progress": 0–1, a hint.
  FlatValue eta_seconds;    ///< "eta_seconds": time left, a hint.

  /// Where the member `key` goes, or nullptr for a member a look does not read. The names differ in length, so
  /// one comparison decides.
  FlatValue* slot(std::string_view key) noexcept {
    switch (key.size()) {
      case 6: return named(key, "result") ? &result : nullptr;
      case 8: return named(key, "progress") ? &progress : nullptr;
      case 11: return named(key, "eta_seconds") ? &eta_seconds : nullptr;
      case 13: return named(key, "error_message") ? &error_message : nullptr;
      default: return nullptr;
    }
  }

 private:
  /// `key` (of the name's length) is `name`: a compare of known length, which compiles to a few loads.
  template <std::size_t N>
  static bool named(std::string_view key, const char (&name)[N]) noexcept {
    return std::memcmp(key.data(), name, N - 1) == 0;
  }
};

/// A picojson parse context for one status answer: the members StatusFields keeps are parsed as values, the
/// rest only checked, so a look builds no map. Any other top-level value is skipped and noted as not an object.
class StatusFieldsContext : public json::SkipContext {
 public:
  explicit StatusFieldsContext(StatusFields& fields) : fields_(fields) {}

  /// The top-level value was an object.
  [[nodiscard]] bool is_object() const noexcept { return is_object_; }

  // Only the top level comes here: values nested in a top-level array are json::SkipContext's.
  bool parse_object_start() { return is_object_ = true; }
  template <class Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
    if (picojson::value* slot = fields_.slot(key)) {
      json::ValueContext keep(slot, depth_left() - 1);  // a repeated member replaces the earlier one, as in a map
      return keep.parse(in);
    }
    json::SkipContext skip(depth_left() - 1);
    return picojson::_parse(skip, in);
  }
  bool parse_object_stop() { return true; }

 private:
  StatusFields& fields_;
  bool is_object_ = false;
};

/// Reads the status bodies servers almost always send, a flat object of string, number, true, false and null
/// members without escapes, straight into StatusFields: no picojson input, no key strings built a character at a
/// time. Anything else (nesting, an escape, a control byte, a number from_chars refuses or beyond double range,
/// malformed JSON) it refuses, for the full parse to read or reject. So what it accepts reads exactly as the full
/// parse reads it (numbers through json::from_chars_number, as json::read_number reads them).
class FlatStatusScan {
 public:
  explicit FlatStatusScan(std::string_view body) noexcept : at_(body.data()), end_(body.data() + body.size()) {}

  /// Fills `fields` (StatusFields or StatusView) from a flat object filling the whole body; false when it is not
  /// one (then `fields` may be partly filled).
  template <class Fields>
  bool read(Fields& fields) {
    if (!take('{')) return false;
    if (!take('}')) {
      do {
        std::string_view key;
        if (!take('"') || !plain_string(key) || !take(':') || !member(fields.slot(key))) return false;
      } while (take(','));
      if (!take('}')) return false;
    }
    skip_ws();
    return at_ == end_;
  }

 private:
  void skip_ws() noexcept {
    while (at_ != end_ && (*at_ == ' ' || *at_ == '\n' || *at_ == '\r' || *at_ == '\t')) ++at_;
  }

  /// Takes `expected` after any whitespace.
  bool take(char expected) noexcept {
    skip_ws();
    if (at_ == end_ || *at_ != expected) return false;
    ++at_;
    return true;
  }

  /// The rest of a string whose opening quote was taken: its bytes up to the closing quote; false for an escape or
  /// a control byte (the full parse decodes or refuses those).
  bool plain_string(std::string_view& text) noexcept {
    const char* start = at_;
    for (; at_ != end_; ++at_) {
      const auto byte = static_cast<unsigned char>(*at_);
      if (byte == '"') {
        text = std::string_view(start, static_cast<std::size_t>(at_ - start));
        ++at_;
        return true;
      }
      if (byte < 0x20 || byte == '\\') return false;
    }
    return false;
  }

  /// One member's value, kept in `slot` (a member no reader needs has none: it is only checked).
  template <class Slot>
  bool member(Slot* slot) {
    skip_ws();
    if (at_ == end_) return false;
    if (*at_ == '"') {
      ++at_;
      std::string_view text;
      if (!plain_string(text)) return false;
      if (slot) keep_string(*slot, text);
      return true;
    }
    if (*at_ == '-' || (*at_ >= '0' && *at_ <= '9')) {
      const std::string_view text = number_text();
      if constexpr (!std::is_same_v<Slot, picojson::value>) {  // a double is all a StatusView keeps
        if (const auto plain = json::plain_decimal(text)) {
          if (slot) *slot = FlatValue{FlatValue::Kind::number, {}, *plain, false};
          return true;
        }
      }
      bool out_of_range = false;
      auto number = json::from_chars_number(text, out_of_range);
      if (!number) return false;
      if (slot) keep_number(*slot, std::move(*number));
      return true;
    }
    picojson::value value;
    if (!literal(value)) return false;
    if (slot) keep_literal(*slot, value);
    return true;
  }

  static void keep_string(picojson::value& slot, std::string_view text) { slot = picojson::value(std::string(text)); }
  static void keep_string(FlatValue& slot, std::string_view text) noexcept {
    slot = FlatValue{FlatValue::Kind::string, text, 0, false};
  }
  static void keep_number(picojson::value& slot, picojson::value&& number) noexcept { slot = std::move(number); }
  static void keep_number(FlatValue& slot, const picojson::value& number) {
    slot = FlatValue{FlatValue::Kind::number, {}, number.get<double>(), false};
  }
  static void keep_literal(picojson::value& slot, const picojson::value& value) { slot = value; }
  static void keep_literal(FlatValue& slot, const picojson::value& value) {
    slot = value.is<bool>() ? FlatValue{FlatValue::Kind::boolean, {}, 0, value.get<bool>()}
                            : FlatValue{FlatValue::Kind::null, {}, 0, false};
  }

  /// A number's text: every character that may belong to one, as picojson takes it.
  std::string_view number_text() noexcept {
    const char* start = at_;
    while (at_ != end_ &&
           ((*at_ >= '0' && *at_ <= '9') || *at_ == '+' || *at_ == '-' || *at_ == '.' || *at_ == 'e' || *at_ == 'E'))
      ++at_;
    return {start, static_cast<std::size_t>(at_ - start)};
  }

  /// true, false or null.
  bool literal(picojson::value& value) noexcept {
    for (const auto& [word, meaning] : {std::pair<std::string_view, int>{"true", 1}, {"false", 0}, {"null", -1}}) {
      if (static_cast<std::size_t>(end_ - at_) < word.size() || std::string_view(at_, word.size()) != word) continue;
      at_ += word.size();
      value = meaning < 0 ? picojson::value() : picojson::value(meaning == 1);
      return true;
    }
    return false;
  }

  const char* at_;
  const char* end_;
};

/// parse_status_fields by picojson alone (declared here: parse_status_fields falls back to it).
inline std::optional<std::string> parse_status_fields_fully(std::string_view body, StatusFields& fields);

/// Parses a body as a JSON object, keeping only the members a status reader needs; or returns an error message
/// (the same one json::parse_object would). A flat body is read by FlatStatusScan, the rest by picojson.
inline std::optional<std::string> parse_status_fields(std::string_view body, StatusFields& fields) {
  if (FlatStatusScan(body).read(fields)) return std::nullopt;
  fields = StatusFields{};  // what the scan filled before it gave up
  return parse_status_fields_fully(body, fields);
}

/// parse_status_fields by picojson alone, for a body the flat scan refused (`fields` empty).
inline std::optional<std::string> parse_status_fields_fully(std::string_view body, StatusFields& fields) {
  StatusFieldsContext context(fields);
  return json::parse_whole(
      body,
      [&](const char* begin, const char* end, std::string* error) {
        return picojson::_parse(context, begin, end, error);
      },
      [&] { return context.is_object(); });
}

/// A member's string, or nothing: one accessor for both kinds of fields.
inline std::optional<std::string_view> string_of(const picojson::value& value) {
  if (!value.is<std::string>()) return std::nullopt;
  return std::string_view(value.get<std::string>());
}
/// A member's string, or nothing.
inline std::optional<std::string_view> string_of(const FlatValue& value) noexcept {
  if (value.kind != FlatValue::Kind::string) return std::nullopt;
  return value.text;
}

/// A member's finite number in [low, high], or nothing, as json::number_value.
inline std::optional<double> number_of(const picojson::value& value, double low, double high) {
  return json::number_value(value, low, high);
}
/// A member's finite number in [low, high], or nothing, as json::number_value.
inline std::optional<double> number_of(const FlatValue& value, double low, double high) noexcept {
  if (value.kind != FlatValue::Kind::number) return std::nullopt;
  if (!std::isfinite(value.number) || value.number < low || value.number > high) return std::nullopt;
  return value.number;
}

}  // namespace heygen::tracker

// ---------------------------------------------------------------------------------------------------------------------
// 18. TrackerProtocol: the exercise's server and our extensions.
// ---------------------------------------------------------------------------------------------------------------------

/// The exercise's wire format: `POST /create_job` → `{"job_id"}`, `GET /status/{id}` → `{"result"}`, and our
/// extensions (`POST /status/batch`, `?wait=`, hints). Every reader is total: bad input gives an error value.
namespace heygen::tracker {

/// Reads one job's status members `{"result": ..., "error_message"?, "progress"?, "eta_seconds"?}` from
/// StatusFields or a StatusView.
template <class Fields>
std::optional<StatusAnswer> read_status_members(const Fields& fields, std::string& error) {
  const auto result = string_of(fields.result);
  if (!result) {
    error = "no \"result\" string in the answer";
    return std::nullopt;
  }
  StatusAnswer answer;
  answer.progress = number_of(fields.progress, 0.0, 1.0);
  answer.eta_seconds = number_of(fields.eta_seconds, 0.0, 10.0 * 365 * 24 * 3600);
  if (*result == "pending") return answer;
  if (*result == "completed") {
    answer.status = TranslationStatus::completed;
    return answer;
  }
  answer.status = TranslationStatus::error;
  if (*result == "error") {
    answer.cause = FailureCause::job_failed;
    const auto message = string_of(fields.error_message);
    answer.error_message = message ? std::string(*message) : std::string("the job failed");
  } else {
    answer.cause = FailureCause::unexpected_result;
    answer.error_message = "server answered result \"" + detail::excerpt(*result) + "\"";
  }
  return answer;
}

/// Reads one job's status members from StatusFields.
inline std::optional<StatusAnswer> read_status_fields(const StatusFields& fields, std::string& error) {
  return read_status_members(fields, error);
}

/// Reads one job's status object already parsed (an entry of a batch answer).
inline std::optional<StatusAnswer> read_status_object(const picojson::object& object, std::string& error) {
  return read_status_fields(StatusFields::of(object), error);
}

/// Reads a status body; on failure `error` says why. Runs for every look, so it keeps only the members it reads.
inline std::optional<StatusAnswer> read_status(std::string_view body, std::string& error) {
  // A flat body (what servers send) is read in place: no picojson value, no string copied out of the body.
  StatusView view;
  if (FlatStatusScan(body).read(view)) return read_status_members(view, error);
  StatusFields fields;
  if (auto problem = parse_status_fields_fully(body, fields)) {
    error = std::move(*problem);
    return std::nullopt;
  }
  return read_status_fields(fields, error);
}

/// A job id member: a non-empty string, or a number as its decimal text (servers that count their jobs).
inline std::optional<std::string> job_id_of(const picojson::value& value) {
  if (value.is<std::string>() && !value.get<std::string>().empty()) return value.get<std::string>();
  if (value.is<double>() && std::isfinite(value.get<double>())) return value.to_str();
  return std::nullopt;
}

/// Reads a create body `{"job_id": "..."}`; a numeric id is accepted as its decimal text.
inline std::optional<std::string> read_job_id(std::string_view body, std::string& error) {
  picojson::value document;
  if (!json::parse_object_into(body, document, error)) return std::nullopt;
  const auto& object = document.get<picojson::object>();
  const auto it = object.find("job_id");
  if (it != object.end())
    if (auto id = job_id_of(it->second)) return id;
  error = "no \"job_id\" in the answer (" + detail::excerpt(body) + ")";
  return std::nullopt;
}

/// Reads a pushed status (our extension): the job's final status answer plus `"job_id"` and, when the create sent
/// one, `"callback_id"`, read by the same code as a look. A push says a job ended: "pending" is malformed.
inline OrFailure<PushedStatus> read_push(std::string_view body) {
  StatusFields fields;
  if (auto problem = parse_status_fields(body, fields)) return Failure{FailureCause::bad_response, std::move(*problem)};
  std::string error;
  auto answer = read_status_fields(fields, error);
  if (!answer) return Failure{FailureCause::bad_response, std::move(error)};
  if (answer->status == TranslationStatus::pending)
    return Failure{FailureCause::bad_response, "a pushed status must be final, not \"pending\""};
  auto job_id = job_id_of(fields.job_id);
  if (!job_id) return Failure{FailureCause::bad_response, "no \"job_id\" in the pushed status"};
  PushedStatus push;
  push.job_id = std::move(*job_id);
  push.callback_id = json::string_value(fields.callback_id).value_or("");
  push.answer = std::move(*answer);
  return push;
}

/// The body of a create: `{}`, or the callback members that are set (`{"callback_url": ..., "callback_id": ...}`).
inline std::string create_body(const std::optional<std::string>& callback_url,
                               const std::optional<std::string>& callback_id) {
  if (!callback_url && !callback_id) return "{}";  // exactly what the exercise's server has always been sent
  picojson::object body;
  if (callback_url) body["callback_url"] = picojson::value(*callback_url);
  if (callback_id) body["callback_id"] = picojson::value(*callback_id);
  return picojson::value(std::move(body)).serialize();
}

/// The error message a 4xx/5xx body carries (`error_message`, `error` or `message`), if any.
inline std::optional<std::string> error_message_of(std::string_view body) {
  picojson::value document;
  if (json::parse_object(body, document)) return std::nullopt;
  const auto& object = document.get<picojson::object>();
  for (const char* name : {"error_message", "error", "message"})
    if (auto text = json::string_field(object, name)) return detail::excerpt(*text, 200);
  return std::nullopt;
}

/// Most ids one batch request names (the protocol's limit).
inline constexpr std::size_t max_batch_ids = 1000;

/// The body of a batch status request: `{"job_ids": [...]}`, written as picojson serializes it (byte for byte)
/// without building a picojson array of copies first: a bulk wait sends up to 1,000 ids a request.
inline std::string batch_body(std::span<const std::string* const> job_ids) {
  std::string body = R"({"job_ids":[)";
  std::size_t size = body.size() + 2;
  for (const std::string* id : job_ids) size += id->size() + 3;
  body.reserve(size);
  for (std::size_t i = 0; i < job_ids.size(); ++i) {
    if (i > 0) body += ',';
    json::append_quoted(body, *job_ids[i]);
  }
  body += "]}";
  return body;
}

/// Reads a batch answer `{"results": {"<id>": {"result": ...}, ...}}`; entries it cannot read are left out
/// (those jobs are simply looked at again).
inline std::optional<std::map<std::string, StatusAnswer>> read_batch(std::string_view body, std::string& error) {
  picojson::value document;
  if (!json::parse_object_into(body, document, error)) return std::nullopt;
  const auto& object = document.get<picojson::object>();
  const auto results = object.find("results");
  if (results == object.end() || !results->second.is<picojson::object>()) {
    error = "no \"results\" object in the batch answer";
    return std::nullopt;
  }
  std::map<std::string, StatusAnswer> answers;
  for (const auto& [id, entry] : results->second.get<picojson::object>()) {
    std::string ignored;
    if (!entry.is<picojson::object>()) continue;
    auto answer = read_status_object(entry.get<picojson::object>(), ignored);
    if (!answer) continue;
    // The batch form has no per-id HTTP status: the protocol marks an unknown id with this message.
    if (answer->cause == FailureCause::job_failed && answer->error_message == "unknown job")
      answer->cause = FailureCause::unknown_job;
    answers.emplace(id, std::move(*answer));
  }
  return answers;
}

/// Appends the status target for a job to `target`: the endpoint template with the id percent-encoded into it.
/// Appended into the caller's buffer: a request kept from look to look builds it without allocating.
inline void append_status_target(std::string& target, const std::string& prefix, const std::string& status_template,
                                 std::string_view job_id) {
  static constexpr std::string_view placeholder = "{job_id}";
  const auto at = status_template.find(placeholder);
  target.reserve(target.size() + prefix.size() + status_template.size() + job_id.size() * 3 + 8);
  target += prefix;
  if (at == std::string::npos) {
    target += status_template;
    target += status_template.find('?') == std::string::npos ? "?job_id=" : "&job_id=";
    detail::append_percent_encoded(target, job_id);
    return;
  }
  target.append(status_template, 0, at);
  detail::append_percent_encoded(target, job_id);
  target.append(status_template, at + placeholder.size());
}

/// The status target for a job: the endpoint template with the id percent-encoded into it.
inline std::string status_target(const std::string& prefix, const std::string& status_template,
                                 std::string_view job_id) {
  std::string target;
  append_status_target(target, prefix, status_template, job_id);
  return target;
}

/// Plain decimal seconds, truncated to milliseconds so a deadline-bounded hold never rounds up: "1500", "0.25".
inline std::string format_seconds(Seconds seconds) {
  const long long millis = detail::to_millis(Seconds(std::floor(seconds.count() * 1000.0) / 1000.0)).count();
  std::string text = std::to_string(millis / 1000);
  if (millis % 1000 != 0) {
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%03lld", millis % 1000);
    text += fraction;
    while (text.back() == '0') text.pop_back();
  }
  return text;
}

/// The error message a non-2xx answer carries, after its status: "HTTP 503: overloaded".
inline std::string describe_status(const HttpResponse& response) {
  std::string text = "HTTP " + std::to_string(response.status);
  if (auto message = error_message_of(response.body)) text += ": " + *message;
  return text;
}

}  // namespace heygen::tracker

namespace heygen {

/// The Protocol of the exercise's status-tracker server (paths from ClientOptions::endpoints) and of our
/// extensions, each used when the server offers it: Idempotency-Key, hints, `?wait=` long polls, the batch
/// endpoint and 404 for an unknown id.
class TrackerProtocol {
 public:
  /// What a create takes: nothing for the exercise's server, which makes a job from an empty body; a server with
  /// our push extension also takes where to POST the job's final status.
  struct create_input {
    std::optional<std::string> callback_url{};  ///< URL the server POSTs the final status to (a webhook).
    std::optional<std::string> callback_id{};   ///< Echoed back in the push, to tell the caller's jobs apart.
  };

  /// Takes the endpoint paths from the options; throws std::invalid_argument for a path that is not one.
  explicit TrackerProtocol(const ClientOptions& options)
      : prefix_(BaseUrl::parse(options.base_url).prefix), endpoints_(checked(options.endpoints)) {}

  /// `POST {create_job}` with the Idempotency-Key and an empty JSON object, or the input's callback members.
  void create_request(HttpRequest& out, const create_input& input, std::string_view idempotency_key) const {
    out.method = "POST";
    out.target = prefix_ + endpoints_.create_job;
    out.headers.push_back({"Idempotency-Key", std::string(idempotency_key)});
    out.headers.push_back({"Content-Type", "application/json"});
    out.body = tracker::create_body(input.callback_url, input.callback_id);
  }

  /// `{"job_id": "..."}` → one id; any non-2xx answer is an http_status failure.
  [[nodiscard]] OrFailure<std::vector<std::string>> read_created(const HttpResponse& response) const {
    if (!success(response)) return Failure{FailureCause::http_status, tracker::describe_status(response)};
    std::string error;
    auto job_id = tracker::read_job_id(response.body, error);
    if (!job_id) return Failure{FailureCause::bad_response, std::move(error)};
    return std::vector<std::string>{std::move(*job_id)};
  }

  /// `GET {status}` with the id percent-encoded into it (or as `?job_id=`), and `?wait=` for a long poll.
  void status_request(HttpRequest& out, std::string_view job_id, Seconds hold) const {
    out.method = "GET";
    out.target.clear();
    tracker::append_status_target(out.target, prefix_, endpoints_.status, job_id);
    if (hold > Seconds(0)) append_query(out.target, "wait", tracker::format_seconds(hold));
  }

  /// A status body; 404 is an unknown job, any other non-2xx answer an http_status failure.
  [[nodiscard]] OrFailure<StatusAnswer> read_status(const HttpResponse& response) const {
    if (response.status == 404)
      return Failure{FailureCause::unknown_job,
                     tracker::error_message_of(response.body).value_or("unknown job") + " (HTTP 404)"};
    if (!success(response)) return Failure{FailureCause::http_status, tracker::describe_status(response)};
    std::string error;
    auto answer = tracker::read_status(response.body, error);
    if (!answer) return Failure{FailureCause::bad_response, std::move(error)};
    return std::move(*answer);
  }

  /// Ids one batch request names.
  [[nodiscard]] std::size_t many_status_limit() const noexcept { return tracker::max_batch_ids; }

  /// `POST {batch}` with `{"job_ids": [...]}` (the batch endpoint has one page), `?wait=` for a long poll.
  void many_status_request(HttpRequest& out, std::span<const std::string* const> job_ids, std::string_view,
                           Seconds hold) const {
    out.method = "POST";
    out.target = prefix_ + endpoints_.batch;
    if (hold > Seconds(0)) append_query(out.target, "wait", tracker::format_seconds(hold));
    out.headers.push_back({"Content-Type", "application/json"});
    out.body = tracker::batch_body(job_ids);
  }

  /// `{"results": {...}}`; a 404 or 405 (no batch endpoint) or a body it cannot read is a failure.
  [[nodiscard]] OrFailure<ManyStatusAnswer> read_many_status(const HttpResponse& response) const {
    if (!success(response)) return Failure{FailureCause::http_status, tracker::describe_status(response)};
    std::string error;
    auto answers = tracker::read_batch(response.body, error);
    if (!answers) return Failure{FailureCause::bad_response, std::move(error)};
    ManyStatusAnswer page;
    page.answers.reserve(answers->size());
    for (auto& [id, answer] : *answers) page.answers.emplace_back(id, std::move(answer));
    return page;
  }

  /// No answer (but an oversized body or a failed certificate), 408, 429 and 5xx.
  [[nodiscard]] bool retryable(const HttpResponse& response) const noexcept { return RetryPolicy::retryable(response); }

  /// "HTTP 503: <the body's error message>".
  [[nodiscard]] std::string describe(const HttpResponse& response) const { return tracker::describe_status(response); }

  /// A pushed status `{"job_id", "result": "completed" | "error" | ..., "error_message"?, "callback_id"?}` (our
  /// simulator's extension: the final status answer and its id); "pending" or a body without an id is malformed.
  [[nodiscard]] OrFailure<PushedStatus> read_push(std::string_view body) const { return tracker::read_push(body); }

 private:
  static bool success(const HttpResponse& response) noexcept {
    return response.status >= 200 && response.status <= 299;
  }

  static Endpoints checked(Endpoints endpoints) {
    for (const auto* path : {&endpoints.create_job, &endpoints.status, &endpoints.batch})
      if (path->empty() || path->front() != '/' || detail::has_line_break(*path) ||
          path->find(' ') != std::string::npos)
        throw std::invalid_argument("heygen: endpoint paths must start with '/' and hold no whitespace or line breaks");
    return endpoints;
  }

  std::string prefix_;
  Endpoints endpoints_;
};

// ---------------------------------------------------------------------------------------------------------------------
// 19. HeyGen v3 wire: TranslationRequest, and HeyGen's JSON of creates, statuses and pushes.
// ---------------------------------------------------------------------------------------------------------------------

/// One translation to create on HeyGen: a source video (a URL or an uploaded asset's id) and the languages to
/// translate it into (names from the languages list, e.g. "Spanish (Spain)"), one job each. Typed fields for what
/// most callers set; any other documented field goes in `extra_fields` as JSON text, without a new release.
struct TranslationRequest {
  std::string video_url{};                      ///< Public HTTPS URL of the source video (or set video_asset_id).
  std::string video_asset_id{};                 ///< HeyGen asset id of the source video (or set video_url).
  std::vector<std::string> output_languages{};  ///< Target languages; one job is created per language.
  std::optional<std::string> title{};           ///< Display title.
  std::optional<std::string> input_language{};  ///< Source language; auto-detected when absent.
  std::optional<std::string> mode{};            ///< "speed" (HeyGen's default) or "precision".
  std::optional<bool> translate_audio_only{};   ///< Translate the audio only, keep the video.
  std::optional<int> speaker_num{};             ///< Number of speakers, for better separation.
  std::optional<bool> enable_caption{};         ///< Also make captions (their URLs come with the result).
  std::optional<std::string> callback_url{};    ///< Webhook URL HeyGen notifies when the job ends.
  std::optional<std::string> callback_id{};     ///< Echoed back in the webhook.
  std::map<std::string, std::string>
      extra_fields{};  ///< Other body fields: name → JSON text, e.g. {"start_time", "12.5"}.

  /// A request for `video_url` into `languages`.
  static TranslationRequest from_url(std::string video_url, std::vector<std::string> languages) {
    TranslationRequest request;
    request.video_url = std::move(video_url);
    request.output_languages = std::move(languages);
    return request;
  }
};

/// One of HeyGen's registered webhook endpoints: a URL that gets the events it subscribes to, signed with the
/// endpoint's secret (HMAC-SHA256 of the raw body; give it to WebhookOptions to verify them).
struct WebhookEndpoint {
  std::string endpoint_id{};            ///< Its id, for update, rotate and delete.
  std::string url{};                    ///< Where the events are POSTed.
  std::string status{};                 ///< "enabled" or "disabled" (HeyGen disables one that keeps failing).
  std::vector<std::string> events{};    ///< The event types it takes; empty: all of them.
  std::string created_at{};             ///< When it was registered (ISO 8601, as HeyGen gives it).
  std::optional<std::string> secret{};  ///< Its signing secret: only in the answers of create and rotate.
};

/// A page of HeyGen's webhook endpoints.
struct WebhookEndpointPage {
  std::vector<WebhookEndpoint> endpoints{};  ///< This page's endpoints (without secrets).
  std::string next_page{};                   ///< The token of the next page; empty on the last.
};

/// HeyGen's v3 wire format: bodies under `data`, errors as `{"error": {"code", "message"}}`. Every reader is
/// total: bad input gives an error value, never a crash.
namespace v3 {

/// Most ids one `/statuses` request may name.
inline constexpr std::size_t max_status_ids = 100;
/// The query parameter that carries a `next_token` (UNCERTAIN in HeyGen's published schema; `token` as on its
/// other paged endpoints).
inline constexpr std::string_view page_parameter = "token";

/// A JSON value of a request, checked: an object member's name and its JSON text.
inline picojson::value parse_extra_field(const std::string& name, const std::string& text) {
  picojson::value value;
  std::string error;
  const char* begin = text.data();
  json::ValueContext context(&value);
  const char* stop = begin;
  try {
    stop = picojson::_parse(context, begin, begin + text.size(), &error);
  } catch (const std::exception& e) {
    error = e.what();
  }
  while (stop != begin + text.size() && (*stop == ' ' || *stop == '\n' || *stop == '\t' || *stop == '\r')) ++stop;
  if (!error.empty() || stop != begin + text.size())
    throw std::invalid_argument("heygen: extra_fields[\"" + detail::excerpt(name) + "\"] is not one JSON value");
  return value;
}

/// The source: `{"type": "url", "url": ...}` or `{"type": "asset_id", "asset_id": ...}`.
inline picojson::value video_source(const TranslationRequest& request) {
  if (request.video_url.empty() == request.video_asset_id.empty())
    throw std::invalid_argument("heygen: a translation needs exactly one of video_url and video_asset_id");
  picojson::object video;
  const bool by_url = !request.video_url.empty();
  video["type"] = picojson::value(by_url ? "url" : "asset_id");
  video[by_url ? "url" : "asset_id"] = picojson::value(by_url ? request.video_url : request.video_asset_id);
  return picojson::value(std::move(video));
}

/// Sets `body[name]` from an optional field, when it is set.
template <class T>
void put(picojson::object& body, const char* name, const std::optional<T>& field) {
  if (!field) return;
  if constexpr (std::is_same_v<T, int>)
    body[name] = picojson::value(static_cast<double>(*field));
  else
    body[name] = picojson::value(*field);
}

/// The create body; throws std::invalid_argument for a request HeyGen would refuse for its shape.
inline std::string create_body(const TranslationRequest& request) {
  if (request.output_languages.empty())
    throw std::invalid_argument("heygen: a translation needs at least one output language");
  picojson::object body;
  body["video"] = video_source(request);
  picojson::array languages;
  for (const auto& language : request.output_languages) {
    if (language.empty()) throw std::invalid_argument("heygen: an output language is empty");
    languages.emplace_back(language);
  }
  body["output_languages"] = picojson::value(std::move(languages));
  put(body, "title", request.title);
  put(body, "input_language", request.input_language);
  put(body, "mode", request.mode);
  put(body, "translate_audio_only", request.translate_audio_only);
  put(body, "speaker_num", request.speaker_num);
  put(body, "enable_caption", request.enable_caption);
  put(body, "callback_url", request.callback_url);
  put(body, "callback_id", request.callback_id);
  static constexpr std::string_view typed[] = {"video",        "output_languages",     "title",       "input_language",
                                               "mode",         "translate_audio_only", "speaker_num", "enable_caption",
                                               "callback_url", "callback_id"};
  for (const auto& [name, text] : request.extra_fields) {
    if (std::find(std::begin(typed), std::end(typed), name) != std::end(typed))
      throw std::invalid_argument("heygen: extra_fields[\"" + detail::excerpt(name) + "\"] repeats a typed field");
    body[name] = parse_extra_field(name, text);
  }
  return picojson::value(std::move(body)).serialize();
}

/// `{"error": {"code", "message"}}` in words: "HTTP 401 unauthorized: Invalid API key".
inline std::string describe(const HttpResponse& response) {
  std::string text = "HTTP " + std::to_string(response.status);
  picojson::value document;
  if (json::parse_object(response.body, document)) return text;
  const auto& error = document.get("error");
  if (!error.is<picojson::object>()) return text;
  if (auto code = json::string_field(error.get<picojson::object>(), "code")) text += " " + detail::excerpt(*code, 60);
  if (auto message = json::string_field(error.get<picojson::object>(), "message"))
    text += ": " + detail::excerpt(*message, 200);
  return text;
}

/// The error code of an error answer, if it has one.
inline std::optional<std::string> error_code(const HttpResponse& response) {
  picojson::value document;
  if (json::parse_object(response.body, document)) return std::nullopt;
  const auto& error = document.get("error");
  if (!error.is<picojson::object>()) return std::nullopt;
  return json::string_field(error.get<picojson::object>(), "code");
}

/// The JSON object of a 2xx answer, or the Failure a non-2xx answer or an unreadable body stands for.
inline OrFailure<picojson::object> object_of(const HttpResponse& response) {
  if (response.status < 200 || response.status > 299) return Failure{FailureCause::http_status, describe(response)};
  picojson::value document;
  if (auto problem = json::parse_object(response.body, document)) return Failure{FailureCause::bad_response, *problem};
  return std::move(document.get<picojson::object>());
}

/// The `data` member of a 2xx answer, or the Failure a non-2xx answer or an unreadable body stands for.
inline OrFailure<picojson::value> data_of(const HttpResponse& response) {
  auto object = object_of(response);
  if (!object) return std::move(object).failure();
  const auto data = object->find("data");
  if (data == object->end()) return Failure{FailureCause::bad_response, "no \"data\" in the answer"};
  return std::move(data->second);
}

/// A failed job's message: `failure_message`, else the `error` object's message or code.
inline std::string failure_message(const picojson::object& entry) {
  if (auto message = json::string_field(entry, "failure_message")) return detail::excerpt(*message, 200);
  const auto error = entry.find("error");
  if (error != entry.end() && error->second.is<picojson::object>()) {
    const auto& details = error->second.get<picojson::object>();
    for (const char* name : {"message", "code"})
      if (auto text = json::string_field(details, name)) return detail::excerpt(*text, 200);
  }
  if (error != entry.end() && error->second.is<std::string>())
    return detail::excerpt(error->second.get<std::string>(), 200);
  return "the translation failed";
}

/// What a completed job produced: the fields the server gave (null or absent ones stay empty).
inline JobOutputs outputs_of(const picojson::object& entry) {
  JobOutputs outputs;
  outputs.video_url = json::string_field(entry, "video_url");
  outputs.audio_url = json::string_field(entry, "audio_url");
  for (const char* name : {"srt_caption_url", "vtt_caption_url"})
    if (auto url = json::string_field(entry, name)) outputs.caption_urls.push_back(std::move(*url));
  outputs.output_language = json::string_field(entry, "output_language");
  const auto duration = entry.find("duration");
  if (duration != entry.end()) outputs.duration_seconds = json::number_value(duration->second, 0.0, 1e7);
  return outputs;
}

/// A job's status word and the rest of its entry as a StatusAnswer; any word HeyGen does not document is a
/// definite, named failure, never pending forever.
inline StatusAnswer answer_for(std::string_view word, const picojson::object& entry) {
  StatusAnswer answer;
  if (word == "pending" || word == "running" || word == "queued" || word == "processing") return answer;
  if (word == "completed") {
    answer.status = TranslationStatus::completed;
    answer.outputs = outputs_of(entry);
    return answer;
  }
  answer.status = TranslationStatus::error;
  if (word == "failed") {
    answer.cause = FailureCause::job_failed;
    answer.error_message = failure_message(entry);
  } else if (word == "not_found") {
    answer.cause = FailureCause::unknown_job;
    answer.error_message = "not_found: the server knows no such translation";
  } else {
    answer.cause = FailureCause::unexpected_result;
    answer.error_message = "server answered status \"" + detail::excerpt(word) + "\"";
  }
  return answer;
}

/// Reads one job's `data` object.
inline OrFailure<StatusAnswer> read_job(const picojson::value& data) {
  if (!data.is<picojson::object>()) return Failure{FailureCause::bad_response, "\"data\" is not an object"};
  const auto& entry = data.get<picojson::object>();
  const auto word = json::string_field(entry, "status");
  if (!word) return Failure{FailureCause::bad_response, "no \"status\" string in the answer"};
  return answer_for(*word, entry);
}

/// Reads a `/statuses` page; entries without an id or a status word are left out (looked at again).
inline OrFailure<ManyStatusAnswer> read_statuses(const picojson::value& data, const picojson::object& document) {
  if (!data.is<picojson::array>()) return Failure{FailureCause::bad_response, "\"data\" is not an array"};
  ManyStatusAnswer page;
  for (const auto& item : data.get<picojson::array>()) {
    if (!item.is<picojson::object>()) continue;
    const auto& entry = item.get<picojson::object>();
    auto id = json::string_field(entry, "video_id");
    const auto word = json::string_field(entry, "status");
    if (!id || !word) continue;
    page.answers.emplace_back(std::move(*id), answer_for(*word, entry));
  }
  const auto more = document.find("has_more");
  const bool has_more = more != document.end() && more->second.is<bool>() && more->second.get<bool>();
  if (has_more) page.next_page = json::string_field(document, "next_token").value_or("");
  return page;
}

/// A statuses answer, `{"data": [...], "has_more", "next_token"}`, read a page at a time.
inline OrFailure<ManyStatusAnswer> read_statuses(const HttpResponse& response) {
  auto object = object_of(response);
  if (!object) return std::move(object).failure();
  const auto data = object->find("data");
  if (data == object->end()) return Failure{FailureCause::bad_response, "no \"data\" in the answer"};
  return read_statuses(data->second, object.value());
}

/// Appends `ids` to a statuses request's target, each percent-encoded, joined by `separator`, then the page token
/// after the first page.
inline void append_ids(std::string& target, std::span<const std::string* const> ids, std::string_view separator,
                       std::string_view page) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) target += separator;
    detail::append_percent_encoded(target, *ids[i]);
  }
  if (!page.empty()) append_query(target, page_parameter, detail::percent_encode(page));
}

/// The webhook events of a translation HeyGen sends, and what each says of the job.
inline std::optional<TranslationStatus> event_status(std::string_view event_type) {
  if (event_type == "video_translate.success") return TranslationStatus::completed;
  if (event_type == "video_translate.fail" || event_type == "video_translate.preflight.validation_failed" ||
      event_type == "video_translate.preflight.download_failed")
    return TranslationStatus::error;
  return std::nullopt;  // another event (another product's, or a new one): not a final status to act on
}

/// The final status an event's `event_data` gives: the translated video at `url` (or the job's usual output
/// fields), or the failure's `message`.
inline StatusAnswer pushed_answer(TranslationStatus status, std::string_view event_type, const picojson::object& data) {
  StatusAnswer answer;
  answer.status = status;
  if (status == TranslationStatus::completed) {
    answer.outputs = outputs_of(data);
    if (!answer.outputs.video_url) answer.outputs.video_url = json::string_field(data, "url");
    return answer;
  }
  answer.cause = FailureCause::job_failed;
  if (auto message = json::string_field(data, "message"))
    answer.error_message = detail::excerpt(*message, 200);
  else if (data.contains("failure_message") || data.contains("error"))
    answer.error_message = failure_message(data);
  else
    answer.error_message = std::string(event_type);  // "video_translate.preflight.download_failed" says why
  return answer;
}

/// Reads a webhook body `{"event_type": "video_translate.success", "event_data": {"video_translate_id", "url",
/// "callback_id", "output_language"}}` (or `.fail` with `"message"`, or a `.preflight.*` failure). Any other
/// event type, or a body without the id, is a bad_response failure.
inline OrFailure<PushedStatus> read_push(std::string_view body) {
  picojson::value document;
  if (auto problem = json::parse_object(body, document)) return Failure{FailureCause::bad_response, *problem};
  const auto& object = document.get<picojson::object>();
  auto event_type = json::string_field(object, "event_type");
  if (!event_type) return Failure{FailureCause::bad_response, "no \"event_type\" string in the push"};
  const auto status = event_status(*event_type);
  if (!status)
    return Failure{FailureCause::bad_response, "unknown event type \"" + detail::excerpt(*event_type) + "\""};
  const auto data = object.find("event_data");
  if (data == object.end() || !data->second.is<picojson::object>())
    return Failure{FailureCause::bad_response, "no \"event_data\" object in the push"};
  const auto& fields = data->second.get<picojson::object>();
  auto job_id = json::string_field(fields, "video_translate_id");
  if (!job_id || job_id->empty())
    return Failure{FailureCause::bad_response, "no \"video_translate_id\" in the push's event_data"};
  PushedStatus push;
  push.job_id = std::move(*job_id);
  push.callback_id = json::string_field(fields, "callback_id").value_or("");
  push.answer = pushed_answer(*status, *event_type, fields);
  push.event_type = std::move(*event_type);
  return push;
}

/// The webhook endpoints' path.
inline constexpr std::string_view endpoints_path = "/v3/webhooks/endpoints";
/// Endpoints asked for per list page (HeyGen's most).
inline constexpr int endpoints_page_size = 100;

/// `events` as HeyGen takes it: the names, or null for all events.
inline picojson::value events_json(const std::vector<std::string>& events) {
  if (events.empty()) return {};
  picojson::array names;
  for (const auto& name : events) names.emplace_back(name);
  return picojson::value(std::move(names));
}

/// Reads an endpoint object; null or absent `events` is all events, a null `secret` none.
inline OrFailure<WebhookEndpoint> read_endpoint(const picojson::value& value) {
  if (!value.is<picojson::object>()) return Failure{FailureCause::bad_response, "an endpoint is not an object"};
  const auto& object = value.get<picojson::object>();
  WebhookEndpoint out;
  auto id = json::string_field(object, "endpoint_id");
  if (!id || id->empty()) return Failure{FailureCause::bad_response, "no \"endpoint_id\" in the endpoint"};
  out.endpoint_id = std::move(*id);
  out.url = json::string_field(object, "url").value_or("");
  out.status = json::string_field(object, "status").value_or("");
  out.created_at = json::string_field(object, "created_at").value_or("");
  out.secret = json::string_field(object, "secret");
  const auto events = object.find("events");
  if (events != object.end() && events->second.is<picojson::array>()) {
    for (const auto& name : events->second.get<picojson::array>())
      if (name.is<std::string>()) out.events.push_back(name.get<std::string>());
  }
  return out;
}

}  // namespace v3

// ---------------------------------------------------------------------------------------------------------------------
// 20. HeyGenV3Protocol: HeyGen's v3 API, and the options that fit it.
// ---------------------------------------------------------------------------------------------------------------------

/// The Protocol of HeyGen's v3 video-translation API: `POST /v3/video-translations` (one id per output
/// language), `GET /v3/video-translations/{id}`, `GET /v3/video-translations/statuses` (up to 100 ids a request,
/// paged), the languages list and the error envelope. Authenticate with ClientOptions::api_key (X-Api-Key) or
/// bearer_token. HeyGen holds no long polls: a hold is never asked.
class HeyGenV3Protocol {
 public:
  /// A create takes a TranslationRequest.
  using create_input = TranslationRequest;

  /// Reads the base URL's path prefix from the options.
  explicit HeyGenV3Protocol(const ClientOptions& options) : prefix_(BaseUrl::parse(options.base_url).prefix) {}

  /// The base URL's path prefix ("" for HeyGen's own host): every target starts with it.
  [[nodiscard]] const std::string& prefix() const noexcept { return prefix_; }

  /// `POST /v3/video-translations` with the request's JSON and the Idempotency-Key; throws std::invalid_argument
  /// for a request without exactly one video source or without languages, or with an extra field that is not
  /// JSON.
  void create_request(HttpRequest& out, const TranslationRequest& input, std::string_view idempotency_key) const {
    out.body = v3::create_body(input);
    out.method = "POST";
    out.target = prefix_ + "/v3/video-translations";
    out.headers.push_back({"Idempotency-Key", std::string(idempotency_key)});
    out.headers.push_back({"Content-Type", "application/json"});
  }

  /// `{"data": {"video_translation_ids": [...]}}` → the ids, one per language.
  [[nodiscard]] OrFailure<std::vector<std::string>> read_created(const HttpResponse& response) const {
    auto data = v3::data_of(response);
    if (!data) return std::move(data).failure();
    const auto& ids = data->get("video_translation_ids");
    if (!ids.is<picojson::array>()) return Failure{FailureCause::bad_response, "no \"video_translation_ids\" array"};
    std::vector<std::string> out;
    for (const auto& id : ids.get<picojson::array>()) {
      if (!id.is<std::string>() || id.get<std::string>().empty())
        return Failure{FailureCause::bad_response, "a video translation id is not a non-empty string"};
      out.push_back(id.get<std::string>());
    }
    return out;
  }

  /// `GET /v3/video-translations/{id}`.
  void status_request(HttpRequest& out, std::string_view job_id, Seconds) const {
    out.method = "GET";
    out.target = prefix_ + "/v3/video-translations/";
    detail::append_percent_encoded(out.target, job_id);
  }

  /// One job's `data`; 404 is an unknown job.
  [[nodiscard]] OrFailure<StatusAnswer> read_status(const HttpResponse& response) const {
    if (response.status == 404) return Failure{FailureCause::unknown_job, v3::describe(response)};
    auto data = v3::data_of(response);
    if (!data) return std::move(data).failure();
    return v3::read_job(data.value());
  }

  /// `/statuses` says a job completed but not where its video is: the bulk poller fetches it with one look.
  static constexpr bool many_status_outputs = false;

  /// Ids one `/statuses` request names.
  [[nodiscard]] std::size_t many_status_limit() const noexcept { return v3::max_status_ids; }

  /// `GET /v3/video-translations/statuses?video_translation_ids=a,b,c` (each id percent-encoded), and the page
  /// token after the first page.
  void many_status_request(HttpRequest& out, std::span<const std::string* const> job_ids, std::string_view page,
                           Seconds) const {
    out.method = "GET";
    out.target = prefix_ + "/v3/video-translations/statuses?video_translation_ids=";
    v3::append_ids(out.target, job_ids, ",", page);
  }

  /// `{"data": [{video_id, status, error}, ...], "has_more", "next_token"}`.
  [[nodiscard]] OrFailure<ManyStatusAnswer> read_many_status(const HttpResponse& response) const {
    return v3::read_statuses(response);
  }

  /// No answer (but an oversized body or a failed certificate), 408, 429, 5xx, and 409 `request_in_progress`
  /// (the same Idempotency-Key still in flight). 400, 401, 402 and 403 end the call at once.
  [[nodiscard]] bool retryable(const HttpResponse& response) const {
    if (response.received() && response.status == 409) return v3::error_code(response) == "request_in_progress";
    return RetryPolicy::retryable(response);
  }

  /// A 429 (too many jobs running on the account, or a rate limit) is HeyGen pacing the client: waited out as its
  /// Retry-After says, within the call's deadline, without using up retries.
  [[nodiscard]] bool paces(const HttpResponse& response) const noexcept {
    return response.received() && response.status == 429;
  }

  /// "HTTP 402 insufficient_credit: <message>".
  [[nodiscard]] std::string describe(const HttpResponse& response) const { return v3::describe(response); }

  /// A webhook body: `video_translate.success` (completed, `url` as the video) or `video_translate.fail` and the
  /// `.preflight.*` failures (job_failed with the `message`); any other event type is a bad_response failure.
  /// Send `callback_url` (and `callback_id`) in the TranslationRequest for HeyGen to push; the signature is
  /// WebhookVerifier's to check.
  [[nodiscard]] OrFailure<PushedStatus> read_push(std::string_view body) const { return v3::read_push(body); }

  /// Pushes taken unless the options say otherwise: per-job callback_url deliveries come unsigned (hints, confirmed
  /// by a look) and registered endpoints' signed (settled at once), so both.
  static constexpr PushTrust default_push_trust = PushTrust::either;

  /// `GET /v3/video-translations/languages`.
  void languages_request(HttpRequest& out) const {
    out.method = "GET";
    out.target = prefix_ + "/v3/video-translations/languages";
  }

  /// `POST /v3/webhooks/endpoints {url, events}` (no events: null, all of them), with an Idempotency-Key.
  void webhook_endpoint_create_request(HttpRequest& out, std::string_view url, const std::vector<std::string>& events,
                                       std::string_view idempotency_key) const {
    picojson::object body;
    body["url"] = picojson::value(std::string(url));
    body["events"] = v3::events_json(events);
    json_request(out, "POST", prefix_ + std::string(v3::endpoints_path), picojson::value(std::move(body)).serialize());
    out.headers.push_back({"Idempotency-Key", std::string(idempotency_key)});
  }

  /// `GET /v3/webhooks/endpoints?limit=100`, and the page token after the first page.
  void webhook_endpoints_request(HttpRequest& out, std::string_view page) const {
    out.method = "GET";
    out.target = prefix_ + std::string(v3::endpoints_path) + "?limit=" + std::to_string(v3::endpoints_page_size);
    if (!page.empty()) append_query(out.target, v3::page_parameter, detail::percent_encode(page));
  }

  /// `PATCH /v3/webhooks/endpoints/{id}` with what changes: the url, the events (empty: all), or both.
  void webhook_endpoint_update_request(HttpRequest& out, std::string_view endpoint_id,
                                       const std::optional<std::string>& url,
                                       const std::optional<std::vector<std::string>>& events) const {
    picojson::object body;
    if (url) body["url"] = picojson::value(*url);
    if (events) body["events"] = v3::events_json(*events);
    json_request(out, "PATCH", endpoint_target(endpoint_id), picojson::value(std::move(body)).serialize());
  }

  /// `POST /v3/webhooks/endpoints/{id}/rotate-secret`.
  void webhook_secret_rotate_request(HttpRequest& out, std::string_view endpoint_id) const {
    out.method = "POST";
    out.target = endpoint_target(endpoint_id) + "/rotate-secret";
  }

  /// `DELETE /v3/webhooks/endpoints/{id}`.
  void webhook_endpoint_delete_request(HttpRequest& out, std::string_view endpoint_id) const {
    out.method = "DELETE";
    out.target = endpoint_target(endpoint_id);
  }

  /// `{"data": {endpoint_id, url, status, events, created_at, secret?}}` → the endpoint.
  [[nodiscard]] OrFailure<WebhookEndpoint> read_webhook_endpoint(const HttpResponse& response) const {
    auto data = v3::data_of(response);
    if (!data) return std::move(data).failure();
    return v3::read_endpoint(data.value());
  }

  /// `{"data": [endpoint, ...], "has_more", "next_token"}` → one page.
  [[nodiscard]] OrFailure<WebhookEndpointPage> read_webhook_endpoints(const HttpResponse& response) const {
    auto object = v3::object_of(response);
    if (!object) return std::move(object).failure();
    const auto data = object->find("data");
    if (data == object->end() || !data->second.is<picojson::array>())
      return Failure{FailureCause::bad_response, "no \"data\" array in the answer"};
    WebhookEndpointPage page;
    for (const auto& item : data->second.get<picojson::array>()) {
      auto endpoint = v3::read_endpoint(item);
      if (!endpoint) return std::move(endpoint).failure();
      page.endpoints.push_back(std::move(endpoint).value());
    }
    const auto more = object->find("has_more");
    if (more != object->end() && more->second.is<bool>() && more->second.get<bool>())
      page.next_page = json::string_field(object.value(), "next_token").value_or("");
    return page;
  }

  /// `{"data": {"endpoint_id", "secret"}}` → the new secret.
  [[nodiscard]] OrFailure<std::string> read_rotated_secret(const HttpResponse& response) const {
    auto data = v3::data_of(response);
    if (!data) return std::move(data).failure();
    std::optional<std::string> secret;
    if (data->is<picojson::object>()) secret = json::string_field(data->get<picojson::object>(), "secret");
    if (!secret || secret->empty()) return Failure{FailureCause::bad_response, "no \"secret\" in the answer"};
    return std::move(*secret);
  }

  /// Any 2xx answer to a delete → the id deleted.
  [[nodiscard]] OrFailure<std::string> read_deleted(const HttpResponse& response, std::string_view endpoint_id) const {
    if (response.status < 200 || response.status > 299) return Failure{FailureCause::http_status, describe(response)};
    return std::string(endpoint_id);
  }

  /// `{"data": {"languages": [...]}}` → the language names.
  [[nodiscard]] OrFailure<std::vector<std::string>> read_languages(const HttpResponse& response) const {
    auto data = v3::data_of(response);
    if (!data) return std::move(data).failure();
    const auto& languages = data->get("languages");
    if (!languages.is<picojson::array>()) return Failure{FailureCause::bad_response, "no \"languages\" array"};
    std::vector<std::string> out;
    for (const auto& language : languages.get<picojson::array>())
      if (language.is<std::string>()) out.push_back(language.get<std::string>());
    return out;
  }

 private:
  /// Fills in a request with a JSON body.
  static void json_request(HttpRequest& out, std::string method, std::string target, std::string body) {
    out.method = std::move(method);
    out.target = std::move(target);
    out.body = std::move(body);
    out.headers.push_back({"Content-Type", "application/json"});
  }
  /// `/v3/webhooks/endpoints/{id}`, the id percent-encoded.
  [[nodiscard]] std::string endpoint_target(std::string_view endpoint_id) const {
    std::string target = prefix_ + std::string(v3::endpoints_path) + "/";
    detail::append_percent_encoded(target, endpoint_id);
    return target;
  }

  std::string prefix_;
};

/// Options for HeyGen's API with `api_key`: its base URL, and a deadline and polling that fit jobs of minutes
/// (most translations take 5–15 minutes; HeyGen calls a job stuck after an hour): PollPolicy::long_jobs(), no
/// long polls.
inline ClientOptions heygen_v3_options(std::string api_key, std::string base_url = "https://api.heygen.com") {
  ClientOptions options;
  options.base_url = std::move(base_url);
  options.api_key = std::move(api_key);
  options.max_timeout = Seconds(3600);
  options.polling = PollPolicy::long_jobs();
  options.polling.long_poll = Seconds(0);  // HeyGen answers at once: asking it to hold a look only costs a probe
  return options;
}

// ---------------------------------------------------------------------------------------------------------------------
// 21. HeyGen v3 assets: a direct upload opened and completed; the ingest protocol.
// ---------------------------------------------------------------------------------------------------------------------

/// A direct upload HeyGen opened: the asset it will be and where its bytes go.
struct DirectUpload {
  std::string asset_id{};               ///< The asset the bytes become.
  std::string upload_url{};             ///< The presigned PUT URL.
  std::vector<HttpHeader> headers{};    ///< Headers the PUT must carry verbatim (upload_headers).
  std::int64_t expires_in_seconds = 0;  ///< How long the URL lasts.
};

namespace v3::assets {

/// `POST /v3/assets/direct-uploads {filename, content_type, size_bytes, checksum_sha256?}`.
inline void direct_upload_request(HttpRequest& out, std::string_view prefix, std::string_view filename,
                                  std::string_view content_type, std::uint64_t size, std::string_view checksum) {
  picojson::object body;
  body["filename"] = picojson::value(std::string(filename));
  body["content_type"] = picojson::value(std::string(content_type));
  body["size_bytes"] = picojson::value(static_cast<double>(size));
  if (!checksum.empty()) body["checksum_sha256"] = picojson::value(std::string(checksum));
  out.method = "POST";
  out.target = std::string(prefix) + "/v3/assets/direct-uploads";
  out.body = picojson::value(std::move(body)).serialize();
  out.headers.push_back({"Content-Type", "application/json"});
}

/// `data: {asset_id, upload_url, upload_headers, expires_in_seconds, ...}` → the upload.
inline OrFailure<DirectUpload> read_direct_upload(const HttpResponse& response) {
  auto data = data_of(response);
  if (!data) return std::move(data).failure();
  if (!data->is<picojson::object>()) return Failure{FailureCause::bad_response, "\"data\" is not an object"};
  const auto& fields = data->get<picojson::object>();
  DirectUpload upload;
  upload.asset_id = json::string_field(fields, "asset_id").value_or("");
  upload.upload_url = json::string_field(fields, "upload_url").value_or("");
  if (upload.asset_id.empty() || upload.upload_url.empty())
    return Failure{FailureCause::bad_response, "a direct upload without asset_id or upload_url"};
  const auto headers = fields.find("upload_headers");
  if (headers != fields.end() && headers->second.is<picojson::object>())
    for (const auto& [name, value] : headers->second.get<picojson::object>()) {
      if (!value.is<std::string>()) return Failure{FailureCause::bad_response, "an upload header that is not a string"};
      upload.headers.push_back({name, value.get<std::string>()});
    }
  const auto expires = fields.find("expires_in_seconds");
  if (expires != fields.end())
    upload.expires_in_seconds = static_cast<std::int64_t>(json::number_value(expires->second, 0, 1e9).value_or(0));
  return upload;
}

/// `POST /v3/assets/{asset_id}/complete {checksum_sha256?}`.
inline void complete_request(HttpRequest& out, std::string_view prefix, std::string_view asset_id,
                             std::string_view checksum) {
  picojson::object body;
  if (!checksum.empty()) body["checksum_sha256"] = picojson::value(std::string(checksum));
  out.method = "POST";
  out.target = std::string(prefix) + "/v3/assets/" + detail::percent_encode(asset_id) + "/complete";
  out.body = picojson::value(std::move(body)).serialize();
  out.headers.push_back({"Content-Type", "application/json"});
}

/// The completed asset's id, which must be the one asked for.
inline OrFailure<std::string> read_completed(const HttpResponse& response, std::string_view asset_id) {
  auto data = data_of(response);
  if (!data) return std::move(data).failure();
  if (!data->is<picojson::object>()) return Failure{FailureCause::bad_response, "\"data\" is not an object"};
  auto id = json::string_field(data->get<picojson::object>(), "asset_id");
  if (!id || *id != asset_id) return Failure{FailureCause::bad_response, "the completed asset is another one"};
  return std::move(*id);
}

}  // namespace v3::assets

/// What creating an asset takes: the file HeyGen is told of when a direct upload is opened.
struct AssetUploadInput {
  std::string filename{};      ///< The file's base name.
  std::string content_type{};  ///< Its MIME type.
  std::uint64_t size = 0;      ///< Its size in bytes.
  std::string checksum{};      ///< Its SHA-256 as the upload sends it; empty: none.
};

/// The Protocol of an asset's ingest, HeyGen's second kind of job: "create" opens a direct upload (one asset id),
/// a look is `GET /v3/assets/statuses?asset_ids=ID`, and many looks share one such request (up to 100 ids, paged),
/// so the client's poller watches ingests as it watches translations. Words as for translations: `queued` and
/// `processing` pending, `completed`, `failed` (job_failed, with HeyGen's message), `not_found` (unknown_job).
class HeyGenV3AssetProtocol {
 public:
  /// A create opens a direct upload for this file.
  using create_input = AssetUploadInput;

  /// Reads the base URL's path prefix from the options.
  explicit HeyGenV3AssetProtocol(const ClientOptions& options) : prefix_(BaseUrl::parse(options.base_url).prefix) {}

  /// `POST /v3/assets/direct-uploads`. HeyGen documents no Idempotency-Key here: a retried open may leave an
  /// unused asset behind, which costs nothing.
  void create_request(HttpRequest& out, const AssetUploadInput& input, std::string_view) const {
    v3::assets::direct_upload_request(out, prefix_, input.filename, input.content_type, input.size, input.checksum);
  }

  /// The opened upload's asset id.
  [[nodiscard]] OrFailure<std::vector<std::string>> read_created(const HttpResponse& response) const {
    auto upload = v3::assets::read_direct_upload(response);
    if (!upload) return std::move(upload).failure();
    return std::vector<std::string>{std::move(upload->asset_id)};
  }

  /// One asset's look: the statuses request naming it alone (HeyGen has no single-asset status).
  void status_request(HttpRequest& out, std::string_view asset_id, Seconds) const {
    const std::string id(asset_id);
    const std::string* const ids[] = {&id};
    many_status_request(out, ids, {}, Seconds(0));
  }

  /// The entry for the asset asked about.
  [[nodiscard]] OrFailure<StatusAnswer> read_status(const HttpResponse& response) const {
    auto page = read_many_status(response);
    if (!page) return std::move(page).failure();
    // HeyGen names an unknown asset `not_found`; an answer that leaves it out says nothing of it.
    if (page->answers.empty()) return Failure{FailureCause::bad_response, "the answer names no asset"};
    return std::move(page->answers.front().second);
  }

  /// Ids one statuses request names.
  [[nodiscard]] std::size_t many_status_limit() const noexcept { return v3::max_status_ids; }

  /// `GET /v3/assets/statuses?asset_ids=a%2Cb` (each id percent-encoded), and the page token after the first page.
  void many_status_request(HttpRequest& out, std::span<const std::string* const> asset_ids, std::string_view page,
                           Seconds) const {
    out.method = "GET";
    out.target = prefix_ + "/v3/assets/statuses?asset_ids=";
    v3::append_ids(out.target, asset_ids, "%2C", page);
  }

  /// `{"data": [{video_id (the asset id), status, error}, ...], "has_more", "next_token"}`, as for translations.
  [[nodiscard]] OrFailure<ManyStatusAnswer> read_many_status(const HttpResponse& response) const {
    auto page = v3::read_statuses(response);
    if (page)
      for (auto& [id, answer] : page->answers)
        if (answer.cause == FailureCause::unknown_job)
          answer.error_message = "not_found: the server knows no such asset";
    return page;
  }

  /// As for translations: no answer, 408, 429 and 5xx.
  [[nodiscard]] bool retryable(const HttpResponse& response) const { return RetryPolicy::retryable(response); }

  /// A 429 is HeyGen pacing the client, waited out as its Retry-After says.
  [[nodiscard]] bool paces(const HttpResponse& response) const noexcept {
    return response.received() && response.status == 429;
  }

  /// "HTTP 404 not_found: <message>".
  [[nodiscard]] std::string describe(const HttpResponse& response) const { return v3::describe(response); }

 private:
  std::string prefix_;
};

}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 22. Webhooks: WebhookVerifier checks a pushed status (size, HMAC, freshness) and reads it.
// ---------------------------------------------------------------------------------------------------------------------

#ifdef HEYGEN_VT_WITH_OPENSSL
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

namespace heygen {

/// What a webhook entry point made of one request. http_status() gives the answer to send back.
enum class WebhookVerdict {
  accepted,       ///< Signed, fresh and readable: a final status for the client to complete a wait with.
  duplicate,      ///< Signed and readable, for a job already settled (a redelivery, or polling came first).
  bad_signature,  ///< No signature, a wrong one, or no means to check one: never accepted unchecked.
  unknown_job,    ///< Signed and readable, but no wait of this process was waiting for the job.
  malformed,      ///< Signed, but the body is not a final status the protocol reads.
  too_large,      ///< The body is over WebhookOptions::max_body_bytes; nothing else was looked at.
  stale,          ///< The timestamp is missing, unreadable or outside WebhookOptions::timestamp_tolerance.
  confirming,     ///< Unsigned, with the callback_id the job's create sent: a hint; one look at the job confirms it.
  bad_callback,   ///< Unsigned, and its callback_id is not the one the job's create sent (or the job is not ours).
};

/// The snake_case name of a verdict, e.g. "bad_signature".
constexpr std::string_view to_string(WebhookVerdict verdict) noexcept {
  switch (verdict) {
    case WebhookVerdict::accepted: return "accepted";
    case WebhookVerdict::duplicate: return "duplicate";
    case WebhookVerdict::bad_signature: return "bad_signature";
    case WebhookVerdict::unknown_job: return "unknown_job";
    case WebhookVerdict::malformed: return "malformed";
    case WebhookVerdict::too_large: return "too_large";
    case WebhookVerdict::stale: return "stale";
    case WebhookVerdict::confirming: return "confirming";
    case WebhookVerdict::bad_callback: return "bad_callback";
  }
  return "unknown";
}

/// The HTTP status to answer a push with. A sender retries any non-2xx answer (and may disable an endpoint that
/// keeps failing), so every push that was genuine and read gets 200: a duplicate (retrying it changes nothing) and
/// an unknown job too (usually one this process stopped waiting for: timed out, cancelled, or before a restart;
/// redelivering it cannot help, and a 404 would count against the endpoint the other jobs need). What cannot be
/// trusted gets 401 (bad_signature, stale, bad_callback); what cannot be read 400 (malformed) or 413 (too_large). A
/// hint taken for a look gets 202: accepted for processing, its outcome not yet known.
constexpr int http_status(WebhookVerdict verdict) noexcept {
  switch (verdict) {
    case WebhookVerdict::accepted:
    case WebhookVerdict::duplicate:
    case WebhookVerdict::unknown_job: return 200;
    case WebhookVerdict::confirming: return 202;
    case WebhookVerdict::bad_signature:
    case WebhookVerdict::bad_callback:
    case WebhookVerdict::stale: return 401;
    case WebhookVerdict::malformed: return 400;
    case WebhookVerdict::too_large: return 413;
  }
  return 500;
}

namespace detail {

/// Whether two byte strings are equal, in time that depends on their lengths only (never on where they differ),
/// so a forger cannot learn a signature a byte at a time from how fast a wrong one is refused.
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    difference =
        static_cast<unsigned char>(difference | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  return difference == 0;
}

/// The value of a hex digit (either case), or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// A SHA-256 digest's bytes from a signature header value: 64 hex digits, after an optional `sha256=` and around
/// blanks; nothing for anything else.
inline std::optional<std::string> signature_digest(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.size() > 7 && iequals(value.substr(0, 7), "sha256=")) value.remove_prefix(7);
  if (value.size() != 64) return std::nullopt;
  std::string digest(32, '\0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int high = hex_value(value[2 * i]);
    const int low = hex_value(value[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    digest[i] = static_cast<char>((high << 4) | low);
  }
  return digest;
}

/// The first header named `name` (case-insensitive), if present.
inline std::optional<std::string_view> header_value(const std::vector<HttpHeader>& headers, std::string_view name) {
  for (const auto& header : headers)
    if (iequals(header.name, name)) return std::string_view(header.value);
  return std::nullopt;
}

/// Unix seconds from a timestamp header: 1 to 12 decimal digits around blanks; nothing for anything else.
inline std::optional<double> unix_seconds(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 12) return std::nullopt;
  double seconds = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  return seconds;
}

/// The signed string: `format` with each `{body}` and `{timestamp}` replaced by the body and the timestamp.
inline std::string expand_signed_string(std::string_view format, std::string_view body, std::string_view timestamp) {
  static constexpr std::string_view body_field = "{body}";
  static constexpr std::string_view timestamp_field = "{timestamp}";
  std::string out;
  out.reserve(format.size() + body.size() + timestamp.size());
  for (std::size_t i = 0; i < format.size();) {
    if (format.substr(i, body_field.size()) == body_field) {
      out += body;
      i += body_field.size();
    } else if (format.substr(i, timestamp_field.size()) == timestamp_field) {
      out += timestamp;
      i += timestamp_field.size();
    } else {
      out += format[i++];
    }
  }
  return out;
}

}  // namespace detail

#ifdef HEYGEN_VT_WITH_OPENSSL
namespace detail {

/// The HMAC-SHA256 of `text` with `key`, 32 bytes, through OpenSSL's one-shot HMAC(); nothing if libcrypto fails
/// (a FIPS provider refusing a short key, say), which a caller must treat as "not verified".
inline std::optional<std::string> hmac_sha256(std::string_view key, std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (key.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return std::nullopt;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
           text.size(), digest.data(), &length) == nullptr ||
      length != 32)
    return std::nullopt;
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

}  // namespace detail

/// The signature of `signed_string` with `secret`: its HMAC-SHA256 in lowercase hex, as a sender puts it in the
/// signature header (for tests and for servers that push). Only with OpenSSL (HEYGEN_VT_WITH_OPENSSL); throws
/// std::runtime_error if libcrypto fails.
inline std::string webhook_signature(std::string_view secret, std::string_view signed_string) {
  const auto digest = detail::hmac_sha256(secret, signed_string);
  if (!digest) throw std::runtime_error("heygen: HMAC-SHA256 failed in libcrypto");
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * digest->size());
  for (const char c : *digest) {
    const auto byte = static_cast<unsigned char>(c);
    text += hex[byte >> 4];
    text += hex[byte & 0x0F];
  }
  return text;
}
#endif

/// What a webhook entry point answers: the verdict, the HTTP status to send back, and why a push was refused.
struct WebhookReply {
  WebhookVerdict verdict = WebhookVerdict::malformed;  ///< What was made of the request.
  int http_status = 400;                               ///< The status to answer the sender with.
  std::string reason{};                                ///< Why it was not accepted, for logs; empty if it was.
};

/// Checks push notifications (webhooks) and reads them, for any HTTP server: give it the request's headers and raw
/// body, answer with http_status(verdict). In order: the size, the signature, the timestamp, the body (through the
/// protocol's read_push), then whether the job was already settled. It never accepts a push it could not check.
/// Thread-safe: one verifier serves every request of a server at once.
///
/// Completing the wait is the client's: after an `accepted` check it hands the push to the wait for that job, then
/// calls note_outcome() with whether a wait took it, which remembers the job and gives the final verdict:
///
///     auto checked = verifier.check(headers, body, std::chrono::system_clock::now());
///     if (checked.verdict == WebhookVerdict::accepted)
///       checked.verdict = verifier.note_outcome(checked.push->job_id, poller.settle(*checked.push));
///     reply(http_status(checked.verdict));
///
/// A job settled by polling should be noted too (note_settled), so a late push for it is a duplicate rather than
/// an unknown job. The memory is bounded (`remember` ids, the oldest forgotten first).
class WebhookVerifier {
 public:
  /// Reads a push body into a final status (a protocol's read_push).
  using PushReader = std::function<OrFailure<PushedStatus>(std::string_view body)>;

  /// What a check found: the verdict, the push when it was read, and why it was refused.
  struct Verified {
    WebhookVerdict verdict = WebhookVerdict::malformed;  ///< What to make of the request.
    std::optional<PushedStatus> push{};                  ///< The push read (accepted or duplicate), else empty.
    std::string reason{};                                ///< Why it was not accepted, for logs; empty if it was.
  };

  /// A verifier reading bodies with `reader`. Throws std::invalid_argument for options that could not check a
  /// push: no secret and no verify function, an empty header name, a signed string without `{body}`, a negative
  /// tolerance, a zero size cap, or no reader.
  WebhookVerifier(WebhookOptions options, PushReader reader)
      : options_(checked(std::move(options))), reader_(std::move(reader)) {
    if (!reader_) throw std::invalid_argument("heygen: a webhook verifier needs a push reader");
  }

  /// A verifier reading bodies with `protocol`'s read_push (the client's protocol, or one made for this).
  template <PushProtocol P>
  WebhookVerifier(WebhookOptions options, P protocol)
      : WebhookVerifier(std::move(options),
                        [protocol = std::move(protocol)](std::string_view body) { return protocol.read_push(body); }) {}

  WebhookVerifier(const WebhookVerifier&) = delete;             ///< Not copied: its memory is one server's.
  WebhookVerifier& operator=(const WebhookVerifier&) = delete;  ///< Not copied: its memory is one server's.

  /// Checks one request, as received at `now`: the size, the signature, the timestamp, then reads the body. A
  /// push for a job noted as settled is a duplicate; `accepted` means only that it is genuine and new: the client
  /// decides with note_outcome() whether a wait took it.
  [[nodiscard]] Verified check(const std::vector<HttpHeader>& headers, std::string_view body,
                               std::chrono::system_clock::time_point now) const {
    if (body.size() > options_.max_body_bytes)
      return refused(WebhookVerdict::too_large, "body of " + std::to_string(body.size()) + " bytes, over the cap of " +
                                                    std::to_string(options_.max_body_bytes));
    if (auto problem = signature_problem(headers, body)) return refused(WebhookVerdict::bad_signature, *problem);
    if (auto problem = staleness(headers, now)) return refused(WebhookVerdict::stale, *problem);
    auto push = reader_(body);
    if (!push) return refused(WebhookVerdict::malformed, push.failure().message);
    Verified verified;
    verified.verdict = seen(push->job_id) ? WebhookVerdict::duplicate : WebhookVerdict::accepted;
    if (verified.verdict == WebhookVerdict::duplicate) verified.reason = "the job was already settled";
    verified.push = std::move(push).value();
    return verified;
  }

  /// check() as received now, on the system clock.
  [[nodiscard]] Verified check(const std::vector<HttpHeader>& headers, std::string_view body) const {
    return check(headers, body, std::chrono::system_clock::now());
  }

  /// After the client offered an accepted push to the waits: `settled` says whether a wait took it. Remembers a
  /// settled job and returns the verdict to answer with: accepted; duplicate when another push or a poll settled
  /// the job first; unknown_job when no wait was waiting for it.
  WebhookVerdict note_outcome(std::string_view job_id, bool settled) {
    if (settled) {
      note_settled(job_id);
      return WebhookVerdict::accepted;
    }
    return seen(job_id) ? WebhookVerdict::duplicate : WebhookVerdict::unknown_job;
  }

  /// Remembers that `job_id` has its final result (by a push or by polling): later pushes for it are duplicates.
  /// The oldest id is forgotten once `remember` ids are held.
  void note_settled(std::string_view job_id) {
    std::lock_guard lock(mutex_);
    if (options_.remember == 0 || ids_.contains(job_id)) return;
    if (order_.size() >= options_.remember) {
      ids_.erase(order_.front());
      order_.pop_front();
    }
    order_.emplace_back(job_id);
    ids_.insert(order_.back());  // a deque never moves its elements on push_back or pop_front: the view stays valid
  }

  /// Whether `job_id` is among the settled ids remembered.
  [[nodiscard]] bool seen(std::string_view job_id) const {
    std::lock_guard lock(mutex_);
    return ids_.contains(job_id);
  }

  /// How many settled ids are remembered now (at most `remember`).
  [[nodiscard]] std::size_t remembered() const {
    std::lock_guard lock(mutex_);
    return order_.size();
  }

  /// Whether this verifier can check a signature at all: a verify function, or the built-in HMAC (OpenSSL).
  /// When false, every push is refused as bad_signature.
  [[nodiscard]] bool can_verify() const noexcept {
#ifdef HEYGEN_VT_WITH_OPENSSL
    return true;
#else
    return static_cast<bool>(options_.verify);
#endif
  }

  /// The options in force.
  [[nodiscard]] const WebhookOptions& options() const noexcept { return options_; }

 private:
  static WebhookOptions checked(WebhookOptions options) {
    auto refuse = [](const char* why) { throw std::invalid_argument(std::string("heygen: webhook options: ") + why); };
    if (options.secret.empty() && !options.verify) refuse("a secret (or a verify function) is required");
    if (options.signature_header.empty()) refuse("signature_header is empty");
    if (options.signed_string.find("{body}") == std::string::npos) refuse("signed_string must contain {body}");
    const bool needs_timestamp =
        options.signed_string.find("{timestamp}") != std::string::npos || options.timestamp_tolerance > Seconds(0);
    if (needs_timestamp && options.timestamp_header.empty()) refuse("timestamp_header is empty");
    if (!(options.timestamp_tolerance >= Seconds(0))) refuse("timestamp_tolerance must be 0 or more");
    if (options.max_body_bytes == 0) refuse("max_body_bytes must be more than 0");
    return options;
  }

  static Verified refused(WebhookVerdict verdict, std::string reason) {
    Verified verified;
    verified.verdict = verdict;
    verified.reason = std::move(reason);
    return verified;
  }

  /// Why the signature does not hold, or nothing when it does.
  [[nodiscard]] std::optional<std::string> signature_problem(const std::vector<HttpHeader>& headers,
                                                             std::string_view body) const {
    const auto signature = detail::header_value(headers, options_.signature_header);
    if (!signature) return "no " + options_.signature_header + " header";
    const auto timestamp = detail::header_value(headers, options_.timestamp_header);
    if (!timestamp && options_.signed_string.find("{timestamp}") != std::string::npos)
      return "no " + options_.timestamp_header + " header, which the signed string includes";
    const std::string text = detail::expand_signed_string(options_.signed_string, body, timestamp.value_or(""));
    if (options_.verify) {
      if (options_.verify(text, *signature)) return std::nullopt;
      return "the verify function refused the signature";
    }
    return hmac_problem(text, *signature);
  }

  /// Why `signature` is not the HMAC of `text`, or nothing when it is.
  [[nodiscard]] std::optional<std::string> hmac_problem(const std::string& text, std::string_view signature) const {
#ifdef HEYGEN_VT_WITH_OPENSSL
    const auto sent = detail::signature_digest(signature);
    if (!sent) return "the signature is not 64 hex digits (" + detail::excerpt(signature) + ")";
    const auto expected = detail::hmac_sha256(options_.secret, text);
    if (!expected) return std::string("libcrypto could not compute the HMAC-SHA256");
    if (detail::constant_time_equal(*sent, *expected)) return std::nullopt;
    return std::string("the signature does not match");
#else
    (void)text;
    (void)signature;
    return std::string(
        "this build cannot check an HMAC (no OpenSSL: define HEYGEN_VT_WITH_OPENSSL and link libcrypto, or set "
        "WebhookOptions::verify); every push is refused");
#endif
  }

  /// Why the timestamp is not fresh, or nothing when it is (or when freshness is not checked).
  [[nodiscard]] std::optional<std::string> staleness(const std::vector<HttpHeader>& headers,
                                                     std::chrono::system_clock::time_point now) const {
    if (!(options_.timestamp_tolerance > Seconds(0))) return std::nullopt;
    const auto value = detail::header_value(headers, options_.timestamp_header);
    if (!value) return "no " + options_.timestamp_header + " header";
    const auto sent = detail::unix_seconds(*value);
    if (!sent) return "unreadable " + options_.timestamp_header + " (" + detail::excerpt(*value) + ")";
    const double age = std::chrono::duration<double>(now.time_since_epoch()).count() - *sent;
    if (std::abs(age) <= options_.timestamp_tolerance.count()) return std::nullopt;
    const std::string when = age > 0 ? " s old" : " s ahead";  // old: a replay or a late redelivery; ahead: a clock off
    return "timestamp " + std::to_string(std::llabs(static_cast<long long>(age))) + when + ", past the tolerance of " +
           std::to_string(static_cast<long long>(options_.timestamp_tolerance.count())) + " s";
  }

  WebhookOptions options_;
  PushReader reader_;
  mutable std::mutex mutex_;
  std::deque<std::string> order_;             // settled ids, oldest first
  std::unordered_set<std::string_view> ids_;  // views of order_'s strings, for lookups
};

// ---------------------------------------------------------------------------------------------------------------------
// 23. Callback ids: the callback_id each create sent, to match unsigned pushes.
// ---------------------------------------------------------------------------------------------------------------------

/// What an unsigned push's callback_id says of it.
enum class CallbackMatch {
  matches,   ///< The callback_id the job's create sent: a genuine hint (the id is random and never guessable).
  differs,   ///< Another callback_id, or none: refused.
  unknown,   ///< No create of this client started the job (or it was forgotten past the bound): refused.
  finished,  ///< The job's outcome was handed over already: a redelivery, or polling came first.
};

/// The callback_id each job's create sent, so an unsigned push (HeyGen's per-job callback_url deliveries are not
/// signed) is taken only when it echoes the right one; and the jobs finished lately, so a late push is known as a
/// duplicate. Bounded both ways, the oldest forgotten first. Thread-safe.
class CallbackBook {
 public:
  /// Remembers at most `open_limit` jobs awaiting their outcome and `finished_limit` finished ones.
  CallbackBook(std::size_t open_limit, std::size_t finished_limit)
      : open_limit_(open_limit), finished_limit_(finished_limit) {}

  /// Notes that the create of `job_id` sent `callback_id`.
  void expect(const std::string& job_id, std::string callback_id) {
    if (callback_id.empty()) return;
    std::lock_guard lock(mutex_);
    while (open_.size() >= open_limit_ && !open_order_.empty()) {
      open_.erase(open_order_.front());  // nothing, when that job finished already
      open_order_.pop_front();
    }
    if (open_.insert_or_assign(job_id, std::move(callback_id)).second) open_order_.push_back(job_id);
    // finish() leaves its id in the order (finding it there would cost a scan a job): swept here, once the order
    // holds twice the bound, so each id is scanned a constant number of times.
    if (open_order_.size() > 2 * open_limit_ + 16)
      std::erase_if(open_order_, [&](const std::string& id) { return !open_.contains(id); });
  }

  /// What `callback_id`, echoed by a push for `job_id`, says of the push (compared in constant time).
  [[nodiscard]] CallbackMatch match(const std::string& job_id, std::string_view callback_id) const {
    std::lock_guard lock(mutex_);
    const auto found = open_.find(job_id);
    if (found == open_.end()) return finished_.contains(job_id) ? CallbackMatch::finished : CallbackMatch::unknown;
    return detail::constant_time_equal(found->second, callback_id) ? CallbackMatch::matches : CallbackMatch::differs;
  }

  /// Notes that `job_id`'s outcome was handed over: later pushes for it are duplicates.
  void finish(const std::string& job_id) {
    std::lock_guard lock(mutex_);
    open_.erase(job_id);
    if (finished_limit_ == 0 || finished_.contains(job_id)) return;
    if (finished_order_.size() >= finished_limit_) {
      finished_.erase(finished_order_.front());
      finished_order_.pop_front();
    }
    finished_order_.push_back(job_id);
    finished_.emplace(job_id, true);
  }

  /// Jobs awaiting their outcome now.
  [[nodiscard]] std::size_t open() const {
    std::lock_guard lock(mutex_);
    return open_.size();
  }

 private:
  const std::size_t open_limit_;
  const std::size_t finished_limit_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::string> open_;  // job id → the callback_id its create sent
  std::deque<std::string> open_order_;                 // oldest first; may name finished jobs (see expect())
  std::unordered_map<std::string, bool> finished_;
  std::deque<std::string> finished_order_;
};

// ---------------------------------------------------------------------------------------------------------------------
// 24. The sender: one request with retries, Retry-After, deadline, cancellation.
// ---------------------------------------------------------------------------------------------------------------------

/// The state of one call (a create, a check, a wait, one job of a bulk wait): its deadline, its stop token and
/// what its requests came to. It lives with the call, so concurrent calls never share it.
struct CallState {
  std::string job_id{};        ///< The job the call is about; empty for a create.
  TimePoint start{};           ///< When the call began.
  TimePoint deadline{};        ///< When it gives up (start + max_timeout).
  std::stop_token stop{};      ///< The caller's cancellation.
  int requests = 0;            ///< HTTP requests made so far.
  int last_http_status = 0;    ///< The last HTTP status received; 0 if none arrived.
  std::string last_failure{};  ///< The latest retried failure, so a deadline can say what kept failing.
  /// Told each time the server paces the call (a wait it asked for that is no failure); may be empty.
  std::function<void(Seconds wait)> on_paced{};
};

/// Whether `protocol` says `response` is the server pacing the client (e.g. an account's concurrency limit:
/// 429 with Retry-After): such answers are waited out as told, within the deadline, without using up retries.
template <class Protocol>
bool paces(const Protocol& protocol, const HttpResponse& response) {
  if constexpr (requires {
                  { protocol.paces(response) } -> std::same_as<bool>;
                })
    return protocol.paces(response);
  else
    return false;
}

/// How a sleep ended.
enum class Wake { on_time, cancelled, deadline };

/// Sends requests through a transport until a final answer, retrying what the protocol calls retryable with
/// full-jitter backoff or the server's Retry-After, within the call's deadline and until the caller cancels.
/// Owns the transport and the clock; thread-safe when they are.
template <Transport T, Clock C>
class Sender {
 public:
  /// A sender for the server in `options` (validated by the caller) over `transport`, timed by `clock`.
  Sender(const ClientOptions& options, T transport, C clock)
      : retry_(options.retry_policy()),
        max_timeout_(options.max_timeout),
        request_timeout_(options.request_timeout),
        origin_(BaseUrl::parse(options.base_url).origin()),
        headers_(fixed_headers(options)),
        random_(options.random),
        log_(options.log_sink, options.log_level),
        transport_(std::move(transport)),
        clock_(std::move(clock)) {}

  /// A new call about `job_id` (empty for a create), starting now.
  [[nodiscard]] CallState begin(std::string_view job_id, std::stop_token stop) const {
    CallState call;
    call.job_id = std::string(job_id);
    call.start = clock_.now();
    call.deadline = call.start + detail::to_clock(max_timeout_);
    call.stop = std::move(stop);
    return call;
  }

  /// A request carrying the headers every request has (the caller's extras, Accept, the token), for a protocol
  /// to fill in.
  [[nodiscard]] HttpRequest blank_request() const {
    HttpRequest request;
    request.headers = headers_;
    return request;
  }

  /// Makes `request` what blank_request() returns, reusing its buffers: a request kept to build one look after
  /// another allocates nothing once it has held the first.
  void blank(HttpRequest& request) const {
    request.method.clear();
    request.url.clear();
    request.target.clear();
    if (!same_headers(request.headers, headers_)) request.headers = headers_;  // as they were, most often
    request.body.clear();
    request.timeout = {};
    request.stop = {};
    request.source = nullptr;
    request.sink = nullptr;
  }

  /// Sends `request` (a protocol filled in its method and target) until a final answer: a response the
  /// protocol does not retry, or the Failure that ended the call (retries spent, deadline, cancellation).
  /// `server_hold` is how long the server was asked to hold the answer, added to the request's budget.
  template <class Protocol>
  OrFailure<HttpResponse> send(HttpRequest request, CallState& call, const Protocol& protocol,
                               Seconds server_hold = Seconds(0)) {
    return send_in_place(request, call, protocol, server_hold);
  }

  /// send() on the caller's own request, which it fills in (URL, timeout, stop token) rather than taking a copy:
  /// the status looks build one request per look and need it no more afterwards.
  template <class Protocol>
  OrFailure<HttpResponse> send_in_place(HttpRequest& request, CallState& call, const Protocol& protocol,
                                        Seconds server_hold = Seconds(0)) {
    if constexpr (transport_reads_url<T>) request.url = origin_ + request.target;
    for (int failures = 0;;) {
      if (call.stop.stop_requested()) return Failure{FailureCause::cancelled, detail::cancelled_message};
      const auto remaining = call.deadline - clock_.now();
      if (remaining <= TimePoint::duration::zero()) return Failure{FailureCause::deadline, deadline_message(call)};
      request.timeout = detail::to_millis(std::min(Seconds(remaining), request_timeout_ + server_hold));
      request.stop = call.stop;
      HttpResponse response = send_guarded(request);
      ++call.requests;
      if (response.received()) call.last_http_status = response.status;
      if (!protocol.retryable(response)) return final_answer(std::move(response), call, protocol);
      if (auto paced = pace(response, call, protocol)) {
        if (auto ended = pause(call, *paced)) return std::move(*ended);
        continue;
      }
      ++failures;
      call.last_failure = describe(response, protocol);
      if (failures > retry_.max_retries) return spent(response, call, failures);
      const Seconds wait = retry_wait(failures, response);
      log_(LogLevel::warn, [&] {
        return (call.job_id.empty() ? std::string("create") : "job " + call.job_id) + ": attempt " +
               std::to_string(failures) + " failed (" + call.last_failure + "); retrying in " +
               std::to_string(detail::to_millis(wait).count()) + " ms";
      });
      if (auto ended = pause(call, wait)) return std::move(*ended);
    }
  }

  /// Sleeps `wait`, but never past the call's deadline; the Failure that ended the call, if the sleep did.
  std::optional<Failure> pause(const CallState& call, Seconds wait) {
    switch (sleep_for(call, wait)) {
      case Wake::on_time: return std::nullopt;
      case Wake::cancelled: return Failure{FailureCause::cancelled, detail::cancelled_message};
      case Wake::deadline: break;
    }
    return Failure{FailureCause::deadline, deadline_message(call)};
  }

  /// Full-jitter backoff, or the server's Retry-After when it sent one.
  Seconds retry_wait(int failures, const HttpResponse& response) const {
    if (auto after = retry_after_of(response)) return *after;
    return retry_.backoff(failures, uniform());
  }

  /// Sends `request` once, as it is (no headers added: a transfer to storage carries no API key), on a
  /// transport that streams; any other transport answers with a clear error.
  HttpResponse transfer(const HttpRequest& request) noexcept {
    if constexpr (transport_streams<T>)
      return send_guarded(request);
    else
      return HttpResponse::failure(TransportError::other,
                                   "this transport does not stream bodies (uploads and downloads need one that does)");
  }

  /// The retry policy: how many times a failed request is sent again.
  [[nodiscard]] const RetryPolicy& retry_policy() const noexcept { return retry_; }

  /// The response's Retry-After as a wait, taking an HTTP-date relative to the server's Date header.
  [[nodiscard]] std::optional<Seconds> retry_after_of(const HttpResponse& response) const {
    const auto value = response.header("Retry-After");
    if (!value) return std::nullopt;
    // Delta-seconds, what servers send almost always, needs no clock: read the clock only for a date.
    if (auto delta = detail::parse_delta_seconds(*value)) return delta;
    auto now = std::chrono::floor<std::chrono::seconds>(system_now());
    if (auto date = response.header("Date"))
      if (auto server_now = detail::parse_http_date(*date)) now = *server_now;
    return detail::parse_retry_after(*value, now);
  }

  /// What a call that ran out of time says, with the failure that kept it from an answer.
  [[nodiscard]] std::string deadline_message(const CallState& call) const {
    std::string text =
        "no outcome within max_timeout (" + std::to_string(detail::to_millis(max_timeout_).count()) + " ms)";
    if (!call.last_failure.empty()) text += "; last failure: " + call.last_failure;
    return text;
  }

  /// A U[0,1) draw: the options' source, else a per-thread generator.
  [[nodiscard]] double uniform() const { return random_ ? random_() : detail::random_uniform01(); }

  /// The time since the call began.
  [[nodiscard]] Seconds age(const CallState& call) const { return Seconds(clock_.now() - call.start); }

  /// The log this sender writes to.
  [[nodiscard]] const Logger& log() const noexcept { return log_; }
  /// The transport.
  [[nodiscard]] T& transport() noexcept { return transport_; }
  /// The clock.
  [[nodiscard]] C& clock() noexcept { return clock_; }
  /// The clock (read-only).
  [[nodiscard]] const C& clock() const noexcept { return clock_; }

  /// Wall-clock now: the clock's own when it has one (a fake clock pins it), else the system's.
  [[nodiscard]] std::chrono::system_clock::time_point system_now() const {
    if constexpr (requires {
                    { clock_.system_now() } -> std::same_as<std::chrono::system_clock::time_point>;
                  })
      return clock_.system_now();
    else
      return std::chrono::system_clock::now();
  }

 private:
  /// True when `a` and `b` hold the same headers in the same order.
  static bool same_headers(const std::vector<HttpHeader>& a, const std::vector<HttpHeader>& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const HttpHeader& x, const HttpHeader& y) { return x.name == y.name && x.value == y.value; });
  }

  /// The headers every request carries: the caller's extras, Accept and the credentials.
  static std::vector<HttpHeader> fixed_headers(const ClientOptions& options) {
    std::vector<HttpHeader> headers = options.extra_headers;
    headers.push_back({"Accept", "application/json"});
    if (!options.bearer_token.empty()) headers.push_back({"Authorization", "Bearer " + options.bearer_token});
    if (!options.api_key.empty()) headers.push_back({"X-Api-Key", options.api_key});
    return headers;
  }

  /// A response the protocol does not retry: an answer (any status), or no answer that asking again won't fix.
  template <class Protocol>
  static OrFailure<HttpResponse> final_answer(HttpResponse&& response, CallState& call, const Protocol& protocol) {
    call.last_failure.clear();  // only a failure still unresolved explains a deadline
    if (response.received()) return std::move(response);
    return Failure{FailureCause::transport, describe(response, protocol)};
  }

  /// The wait a pacing answer asks for (logged and told to the call), or nothing when it is not one.
  template <class Protocol>
  std::optional<Seconds> pace(const HttpResponse& response, CallState& call, const Protocol& protocol) {
    if (!paces(protocol, response)) return std::nullopt;
    const auto wait = retry_after_of(response);
    if (!wait || *wait <= Seconds(0)) return std::nullopt;  // no wait asked: an ordinary failure, counted
    call.last_failure = describe(response, protocol);
    log_(LogLevel::info, [&] {
      return (call.job_id.empty() ? std::string("create") : "job " + call.job_id) + ": server asks to wait " +
             std::to_string(detail::to_millis(*wait).count()) + " ms (" + call.last_failure + ")";
    });
    if (call.on_paced) call.on_paced(*wait);
    return wait;
  }

  /// The failure after the last retry.
  static Failure spent(const HttpResponse& response, const CallState& call, int failures) {
    const FailureCause cause = response.received() ? FailureCause::http_status : FailureCause::transport;
    return {cause,
            call.last_failure + " after " + std::to_string(failures) + (failures == 1 ? " attempt" : " attempts")};
  }

  /// A response in words: the protocol's description of an answer, or why none arrived.
  template <class Protocol>
  static std::string describe(const HttpResponse& response, const Protocol& protocol) {
    if (response.received()) return protocol.describe(response);
    std::string text = "no response (" + std::string(to_string(response.error));
    if (!response.error_detail.empty()) text += ": " + response.error_detail;
    return text + ")";
  }

  /// The transport's answer; a transport that throws (a custom one may) counts as "no response".
  HttpResponse send_guarded(const HttpRequest& request) noexcept {
    try {
      return transport_.send(request);
    } catch (const std::exception& e) {
      return HttpResponse::failure(TransportError::other, std::string("transport threw: ") + e.what());
    } catch (...) {
      return HttpResponse::failure(TransportError::other, "transport threw");
    }
  }

  /// Sleeps `wait`, but never past the call's deadline.
  Wake sleep_for(const CallState& call, Seconds wait) {
    if (wait <= Seconds(0)) {
      if (call.stop.stop_requested()) return Wake::cancelled;
      return clock_.now() >= call.deadline ? Wake::deadline : Wake::on_time;
    }
    const TimePoint now = clock_.now();
    if (wait >= Seconds(call.deadline - now))
      return clock_.sleep_until(call.deadline, call.stop) ? Wake::deadline : Wake::cancelled;
    const TimePoint wake = now + detail::to_clock(wait);
    if (wake >= call.deadline) return clock_.sleep_until(call.deadline, call.stop) ? Wake::deadline : Wake::cancelled;
    return clock_.sleep_until(wake, call.stop) ? Wake::on_time : Wake::cancelled;
  }

  RetryPolicy retry_;
  Seconds max_timeout_;
  Seconds request_timeout_;
  std::string origin_;               // "scheme://host:port": every request's URL starts with it
  std::vector<HttpHeader> headers_;  // built once, copied into every request
  std::function<double()> random_;
  Logger log_;
  T transport_;
  C clock_;
};

/// One request built by `build`, sent through `sender` with its retries and deadline, its answer read by `read`:
/// the value read, or TranslationError naming `what`. For calls outside the poller (webhook endpoints, uploads).
template <class S, class P, class Build, class Read>
auto checked_call(S& sender, const P& protocol, std::string_view what, std::stop_token stop, Build build, Read read) {
  CallState call = sender.begin({}, std::move(stop));
  HttpRequest request = sender.blank_request();
  build(request);
  OrFailure<HttpResponse> response = sender.send(std::move(request), call, protocol);
  const auto fail = [&](const Failure& failure) {
    return TranslationError{failure.cause, std::string(what) + ": " + failure.message, call.last_http_status,
                            call.requests};
  };
  if (!response) throw fail(response.failure());
  auto value = read(response.value());
  if (!value) throw fail(value.failure());
  return std::move(value).value();
}

// ---------------------------------------------------------------------------------------------------------------------
// 25. Files: a file read in chunks that notices a change; a download beside its final name.
// ---------------------------------------------------------------------------------------------------------------------

/// A file could not be read, written or placed; the message names the file and says why.
class FileError : public std::runtime_error {
 public:
  /// `what` happened to `path`; `error_number` is the errno behind it (0 if none).
  FileError(std::string path, std::string_view what, int error_number = 0)
      : std::runtime_error(describe(path, what, error_number)), path_(std::move(path)), errno_(error_number) {}
  /// The file the error is about.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// The errno behind the error, or 0.
  [[nodiscard]] int error_number() const noexcept { return errno_; }

 private:
  static std::string describe(const std::string& path, std::string_view what, int error_number) {
    std::string text = "heygen: ";
    text += path;
    text += ": ";
    text += what;
    if (error_number != 0) {
      text += " (";
      text += std::strerror(error_number);  // NOLINT(concurrency-mt-unsafe): messages for one errno are constant
      text += ")";
    }
    return text;
  }

  std::string path_;
  int errno_;
};

namespace files {

/// A file descriptor closed when it goes out of scope.
class Descriptor {
 public:
  /// Owns `fd` (-1: none).
  explicit Descriptor(int fd = -1) noexcept : fd_(fd) {}
  Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { close(); }

  /// The descriptor, or -1.
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// Closes it now; the errno of a failed close (a write that never reached the disk), else 0.
  int close() noexcept {
    if (fd_ < 0) return 0;
    const int result = ::close(std::exchange(fd_, -1));
    return result == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

/// A file to send, opened once, its size and modification time pinned: a change while it is sent is caught, not
/// sent half-old.
class SourceFile {
 public:
  /// Opens `path` for reading; throws FileError when it does not exist, is not a regular file, cannot be read, or
  /// is empty.
  static SourceFile open(const std::string& path) {
    Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));  // NOLINT(cppcoreguidelines-pro-type-vararg)
    if (fd.get() < 0) throw FileError(path, "cannot open the file", errno);
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) throw FileError(path, "cannot read the file's size", errno);
    if (S_ISDIR(info.st_mode)) throw FileError(path, "is a directory, not a file");
    if (!S_ISREG(info.st_mode)) throw FileError(path, "is not a regular file");
    if (info.st_size == 0) throw FileError(path, "is empty");
    return {path, std::move(fd), info};
  }

  /// The path it was opened by.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// Its size when opened.
  [[nodiscard]] std::uint64_t size() const noexcept { return static_cast<std::uint64_t>(opened_.st_size); }

  /// Up to `capacity` bytes from `offset` into `out`; 0 when it cannot (a read error, or the file is shorter than
  /// it was: it changed), with the reason in error().
  std::size_t read(std::uint64_t offset, char* out, std::size_t capacity) {
    const ssize_t got = ::pread(fd_.get(), out, capacity, static_cast<off_t>(offset));
    if (got > 0) return static_cast<std::size_t>(got);
    error_ = got == 0 ? std::string("the file got shorter while it was read") : std::strerror(errno);  // NOLINT
    return 0;
  }

  /// Throws FileError when the file's size or modification time is no longer what it was when opened.
  void check_unchanged() const {
    struct stat now {};
    if (::stat(path_.c_str(), &now) != 0) throw FileError(path_, "disappeared while it was sent", errno);
    if (now.st_size != opened_.st_size || now.st_mtim.tv_sec != opened_.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != opened_.st_mtim.tv_nsec || now.st_ino != opened_.st_ino)
      throw FileError(path_, "changed while it was sent (size or modification time): not sent half-old");
  }

  /// Why the last read() returned 0.
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  SourceFile(std::string path, Descriptor fd, const struct stat& info)
      : path_(std::move(path)), fd_(std::move(fd)), opened_(info) {}

  std::string path_;
  Descriptor fd_;
  struct stat opened_ {};
  std::string error_{};
};

/// A download under way: a temporary file beside the final name (same folder, so placing it is a rename), appended
/// to through a buffer, placed under the final name only once complete. Kept after a failure that can resume.
class PartialFile {
 public:
  /// The temporary name for `final_path`: ".NAME.part" in the same folder, hidden.
  static std::string temporary_name(const std::string& final_path) {
    const auto slash = final_path.rfind('/');
    const std::size_t name_at = slash == std::string::npos ? 0 : slash + 1;
    return final_path.substr(0, name_at) + "." + final_path.substr(name_at) + ".part";
  }

  /// Opens the temporary file for `final_path`, keeping what an earlier try wrote (its size is where a resume
  /// starts); throws FileError when the folder cannot be written.
  static PartialFile open(const std::string& final_path) {
    std::string temporary = temporary_name(final_path);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg)
    Descriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw FileError(temporary, "cannot create the download's temporary file", errno);
    const off_t end = ::lseek(fd.get(), 0, SEEK_END);
    if (end < 0) throw FileError(temporary, "cannot read the temporary file's size", errno);
    return {final_path, std::move(temporary), std::move(fd), static_cast<std::uint64_t>(end)};
  }

  /// The final name.
  [[nodiscard]] const std::string& final_path() const noexcept { return final_path_; }
  /// The temporary name.
  [[nodiscard]] const std::string& temporary_path() const noexcept { return temporary_; }
  /// Bytes held so far (written and buffered).
  [[nodiscard]] std::uint64_t size() const noexcept { return written_ + buffer_.size(); }

  /// Throws away what it holds, to start again from byte 0.
  void restart() {
    buffer_.clear();
    if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) != 0)
      throw FileError(temporary_, "cannot empty the temporary file", errno);
    written_ = 0;
    writeback_from_ = 0;
  }

  /// Appends `length` bytes; false when writing failed (a full disk, say), with the errno in error_number().
  bool append(const char* data, std::size_t length) {
    if (buffer_.capacity() == 0) buffer_.reserve(buffer_bytes);
    if (buffer_.size() + length > buffer_bytes && !drain()) return false;
    if (length >= buffer_bytes) return write_all(data, length);
    buffer_.insert(buffer_.end(), data, data + length);
    return true;
  }

  /// Writes out what is buffered; false on a write error.
  bool drain() {
    if (buffer_.empty()) return true;
    const bool ok = write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
    return ok;
  }

  /// The errno of the last failed write.
  [[nodiscard]] int error_number() const noexcept { return errno_; }

  /// Writes out, syncs and closes the file, then puts it under its final name: never over another file unless
  /// `overwrite`. Throws FileError: when the disk refuses the last bytes or the sync (full, say), the temporary file
  /// is removed, as when it refuses them mid-way; when only the placing fails, it stays, complete, for another try.
  void place(bool overwrite) {
    if (!drain()) {
      discard();
      throw FileError(temporary_, "cannot write the download", errno_);
    }
    if (::fsync(fd_.get()) != 0) {
      const int failed = errno;
      discard();
      throw FileError(temporary_, "cannot sync the download to disk", failed);
    }
    if (const int failed = fd_.close(); failed != 0) throw FileError(temporary_, "cannot close the download", failed);
    if (overwrite) {
      if (std::rename(temporary_.c_str(), final_path_.c_str()) != 0)
        throw FileError(final_path_, "cannot rename the download into place", errno);
      return;
    }
    // link() fails when the final name exists, so no other file is replaced, even one that appeared meanwhile.
    if (::link(temporary_.c_str(), final_path_.c_str()) != 0)
      throw FileError(final_path_, errno == EEXIST ? "already exists (not overwritten)" : "cannot place the download",
                      errno == EEXIST ? 0 : errno);
    ::unlink(temporary_.c_str());
  }

  /// Removes the temporary file (after a failure a resume cannot mend, such as a full disk).
  void discard() noexcept {
    fd_.close();
    ::unlink(temporary_.c_str());
  }

 private:
  static constexpr std::size_t buffer_bytes = std::size_t{1} << 20;  // few, large writes: the disk's best pace
  static constexpr std::uint64_t writeback_bytes = std::uint64_t{32} << 20;

  PartialFile(std::string final_path, std::string temporary, Descriptor fd, std::uint64_t written)
      : final_path_(std::move(final_path)), temporary_(std::move(temporary)), fd_(std::move(fd)), written_(written) {}

  /// Starts the disk writing what is written so far, every `writeback_bytes`, without waiting for it: the sync
  /// before placing the file then has little left to do (a whole GiB synced at the end stalls for seconds).
  void start_writeback() noexcept {
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
    if (written_ - writeback_from_ < writeback_bytes) return;
    ::sync_file_range(fd_.get(), static_cast<off_t>(writeback_from_), static_cast<off_t>(written_ - writeback_from_),
                      SYNC_FILE_RANGE_WRITE);
    writeback_from_ = written_;
#endif
  }

  bool write_all(const char* data, std::size_t length) {
    while (length > 0) {
      const ssize_t put = ::write(fd_.get(), data, length);
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) {
        errno_ = put < 0 ? errno : EIO;
        return false;
      }
      data += put;
      length -= static_cast<std::size_t>(put);
      written_ += static_cast<std::uint64_t>(put);
    }
    start_writeback();
    return true;
  }

  std::string final_path_;
  std::string temporary_;
  Descriptor fd_;
  std::uint64_t written_;
  std::uint64_t writeback_from_ = 0;  // bytes before this were handed to the disk's writeback
  std::vector<char> buffer_{};
  int errno_ = 0;
};

/// True when something exists at `path`.
inline bool exists(const std::string& path) noexcept {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace files

// ---------------------------------------------------------------------------------------------------------------------
// 26. Downloads: one URL to one file, checked, resumed after a cut, placed only once complete.
// ---------------------------------------------------------------------------------------------------------------------

/// How a download (or upload) is getting on: bytes done of the total (0 while the total is unknown).
using TransferProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// How downloads behave.
struct DownloadOptions {
  bool overwrite = false;                         ///< Replace a file already under the final name.
  std::chrono::milliseconds idle_timeout{60000};  ///< The longest silence from storage before a try is cut off.
  TransferProgress progress{};                    ///< Told as bytes arrive; may be empty.
  std::string name{};                             ///< Files are named NAME.KIND.EXT; empty: the job id.
};

/// A download that finished: where it is, its size, and what it took.
struct Downloaded {
  std::string path{};          ///< The final name it was placed under.
  std::uint64_t bytes = 0;     ///< Its size.
  std::uint64_t received = 0;  ///< Bytes that came over the network for it (more than `bytes` after a restart).
  int requests = 0;            ///< GETs sent (and fresh looks asked for).
  bool resumed = false;        ///< Some try went on from a byte other than 0.
};

namespace downloads {

/// A `Content-Range: bytes A-B/TOTAL` header, read.
struct ContentRange {
  std::uint64_t first = 0;  ///< A.
  std::uint64_t last = 0;   ///< B.
  std::uint64_t total = 0;  ///< TOTAL.
};

/// A decimal number of 1 to 19 digits and nothing else (a header's value, strictly read); else nothing.
inline std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

/// Reads `bytes A-B/TOTAL`; nothing when the text is anything else (`*` for the total included).
inline std::optional<ContentRange> parse_content_range(std::string_view text) {
  constexpr std::string_view unit = "bytes ";
  if (text.substr(0, unit.size()) != unit) return std::nullopt;
  text.remove_prefix(unit.size());
  const auto dash = text.find('-');
  const auto slash = text.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) return std::nullopt;
  const auto first = parse_decimal(text.substr(0, dash));
  const auto last = parse_decimal(text.substr(dash + 1, slash - dash - 1));
  const auto total = parse_decimal(text.substr(slash + 1));
  if (!first || !last || !total || *first > *last || *last >= *total) return std::nullopt;
  return ContentRange{*first, *last, *total};
}

/// One try's view of the answer: it checks the head before any byte is written and writes the body to the file.
class Receiver {
 public:
  /// Receives into `file`, from the byte the file holds, telling `progress` as it goes.
  Receiver(files::PartialFile& file, const TransferProgress& progress) : file_(file), progress_(progress) {}

  /// The sink to hand the transport.
  BodySink sink() {
    BodySink sink;
    sink.begin = [this](int status, const std::vector<HttpHeader>& headers) { return begin(status, headers); };
    sink.write = [this](const char* data, std::size_t length) { return write(data, length); };
    return sink;
  }

  /// Why the answer was refused (empty when it was not).
  [[nodiscard]] const std::string& refusal() const noexcept { return refusal_; }
  /// True when writing to disk failed (the errno is the file's).
  [[nodiscard]] bool disk_failed() const noexcept { return disk_failed_; }
  /// The file's full size, once an answer said it.
  [[nodiscard]] std::optional<std::uint64_t> total() const noexcept { return total_; }
  /// Bytes this try received.
  [[nodiscard]] std::uint64_t received() const noexcept { return received_; }

 private:
  /// A 206 must go on from the byte the file holds; a 200 is the whole file, so the file starts again. A page of
  /// HTML is storage's error, not the file.
  bool begin(int status, const std::vector<HttpHeader>& headers) {
    if (auto type = header_value(headers, "Content-Type"); type && type->substr(0, 9) == "text/html")
      return refuse("storage answered an HTML page, not the file");
    const auto length = header_value(headers, "Content-Length");
    if (status == 206) {
      const auto range = header_value(headers, "Content-Range");
      const auto parsed = range ? parse_content_range(*range) : std::nullopt;
      if (!parsed || parsed->first != file_.size() || parsed->last + 1 != parsed->total)
        return refuse("storage answered a range other than the one asked for");
      total_ = parsed->total;
      return true;
    }
    if (status != 200) return refuse("storage answered " + std::to_string(status) + " instead of the file");
    file_.restart();
    if (length) total_ = parse_decimal(*length);
    return true;
  }

  bool write(const char* data, std::size_t length) {
    if (!file_.append(data, length)) return !(disk_failed_ = true);
    received_ += length;
    if (progress_) progress_(file_.size(), total_.value_or(0));
    return true;
  }

  bool refuse(std::string why) {
    refusal_ = std::move(why);
    return false;
  }

  files::PartialFile& file_;
  const TransferProgress& progress_;
  std::optional<std::uint64_t> total_{};
  std::uint64_t received_ = 0;
  std::string refusal_{};
  bool disk_failed_ = false;
};

/// Whether a transfer that got no answer for this reason is worth trying again: a cut, a timeout or a refused
/// connection may pass; a certificate, a cancellation or a transport that cannot stream will not.
constexpr bool worth_again(TransportError error) noexcept {
  return error == TransportError::reset || error == TransportError::timeout || error == TransportError::refused;
}

/// True when storage says the link is no good any more (HeyGen's CLI reads 403 and 404 so).
inline bool expired(const HttpResponse& response) noexcept {
  return response.received() && (response.status == 403 || response.status == 404);
}

/// True when a try that did not complete is worth another: a cut, a 2xx that stopped short, a 416 (the file
/// starts again), a 429 or a 5xx; never a refused answer.
inline bool worth_retry(const HttpResponse& response, const Receiver& receiver) noexcept {
  if (!receiver.refusal().empty()) return false;
  if (!response.received()) return worth_again(response.error);
  return response.status / 100 == 2 || response.status == 416 || response.status == 429 || response.status >= 500;
}

/// The error a download ends with, saying why its last try failed. An empty temporary file is removed: there is
/// nothing in it to resume.
inline TranslationError failed(files::PartialFile& file, const HttpResponse& response, const Receiver& receiver,
                               int requests) {
  if (file.size() == 0) file.discard();
  file.drain();  // what came is kept for a resume (a write error here shows again on the next try)
  std::string why = "download of " + file.final_path() + ": ";
  if (!receiver.refusal().empty())
    why += receiver.refusal();
  else if (expired(response))
    why += "the link expired or is unavailable (HTTP " + std::to_string(response.status) + ")";
  else if (response.received())
    why += "storage answered HTTP " + std::to_string(response.status);
  else
    why += "no response (" + response.error_detail + ")";
  const bool by_status = response.received() && response.status / 100 != 2;
  return {by_status ? FailureCause::http_status : FailureCause::transport, why, response.status, requests};
}

/// Throws what ends a download at once: the disk failing (its temporary file removed: a resume cannot mend a full
/// disk), or the caller cancelling.
inline void throw_if_ended(const Receiver& receiver, files::PartialFile& file, const std::stop_token& stop) {
  if (receiver.disk_failed()) {
    file.discard();
    throw FileError(file.temporary_path(), "cannot write the download", file.error_number());
  }
  if (stop.stop_requested()) {
    file.drain();  // what came is kept for a resume
    throw TranslationError(FailureCause::cancelled, detail::cancelled_message);
  }
}

/// True when the try brought the whole file: a 2xx taken, and as many bytes as storage said.
inline bool completes(const HttpResponse& response, const Receiver& receiver, const files::PartialFile& file) {
  return response.received() && response.status / 100 == 2 && receiver.refusal().empty() &&
         (!receiver.total() || file.size() == *receiver.total());
}

/// True when storage answered 416 to a range from the byte the file holds because the file already holds every
/// byte (`Content-Range: bytes */TOTAL`, TOTAL its size): a body cut just after its last byte.
inline bool holds_all(const HttpResponse& response, const files::PartialFile& file) {
  if (!response.received() || response.status != 416 || file.size() == 0) return false;
  const auto range = response.header("Content-Range");
  if (!range || range->substr(0, 8) != "bytes */") return false;
  const auto total = parse_decimal(range->substr(8));
  return total && *total == file.size();
}

/// One GET of `url` from the byte `file` holds, its body into `receiver`.
template <class S>
HttpResponse get_once(S& sender, const std::string& url, std::uint64_t from, Receiver& receiver,
                      const DownloadOptions& options, const std::stop_token& stop) {
  BodySink sink = receiver.sink();
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  if (from > 0) request.headers.push_back({"Range", "bytes=" + std::to_string(from) + "-"});
  request.timeout = options.idle_timeout;
  request.stop = stop;
  request.sink = &sink;
  return sender.transfer(request);
}

/// Fetches `url` into `final_path`, resuming after a cut (Range from the byte reached; a 200 starts again), asking
/// `fresh_url` once for a new URL when storage answers 403 or 404 (again only after bytes moved since), and placing
/// the file only when its size is what storage said. Retries a cut, a 5xx or a 429 with the sender's backoff, up to
/// its max_retries in a row. Throws TranslationError for what the network did, FileError for what the disk did (a
/// full disk removes the temporary file).
template <class S>
Downloaded fetch(S& sender, std::string url, const std::string& final_path, const DownloadOptions& options,
                 const std::function<std::optional<std::string>()>& fresh_url, const std::stop_token& stop) {
  if (!options.overwrite && files::exists(final_path)) throw FileError(final_path, "already exists (not overwritten)");
  files::PartialFile file = files::PartialFile::open(final_path);
  Downloaded out{final_path};
  CallState call = sender.begin({}, stop);
  call.deadline = TimePoint::max();  // a big file takes what it takes: each try has its idle timeout instead
  bool may_refresh = true;
  for (int failures = 0;;) {
    out.resumed = out.resumed || file.size() > 0;
    Receiver receiver(file, options.progress);
    const HttpResponse response = get_once(sender, url, file.size(), receiver, options, stop);
    ++out.requests;
    out.received += receiver.received();
    throw_if_ended(receiver, file, stop);
    if (receiver.received() > 0) {  // progress: the next trouble is a new one
      may_refresh = true;
      failures = 0;
    }
    if (completes(response, receiver, file) || holds_all(response, file)) {
      file.place(options.overwrite);
      out.bytes = file.size();
      return out;
    }
    if (expired(response) && std::exchange(may_refresh, false) && fresh_url) {
      ++out.requests;
      if (auto next = fresh_url()) {
        url = std::move(*next);
        continue;
      }
    }
    if (response.received() && response.status == 416) file.restart();
    if (!worth_retry(response, receiver) || ++failures > sender.retry_policy().max_retries)
      throw failed(file, response, receiver, out.requests);
    if (auto ended = sender.pause(call, sender.retry_wait(failures, response)))
      throw TranslationError(ended->cause, ended->message, response.status, out.requests);
  }
}

}  // namespace downloads
}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 27. Uploads: a file's type and checksum; its bytes PUT to a presigned URL, retried.
// ---------------------------------------------------------------------------------------------------------------------

// With HEYGEN_VT_WITH_OPENSSL, webhook.hpp has brought in <openssl/evp.h>.

namespace heygen {

/// How a file's SHA-256 goes in the upload's body fields (the schemas say hex; HeyGen's examples show base64).
enum class ChecksumEncoding {
  hex,     ///< 64 lower-case hex digits (the default, as the schemas say).
  base64,  ///< Base64 of the 32 bytes.
  none,    ///< No checksum sent (and none computed).
};

/// How uploads behave.
struct UploadOptions {
  ChecksumEncoding checksum = ChecksumEncoding::hex;  ///< The checksum field's encoding (hex needs OpenSSL).
  std::string content_type{};                         ///< The file's type; empty: from its extension.
  std::chrono::milliseconds idle_timeout{60000};      ///< The longest silence from storage before a try is cut off.
  TransferProgress progress{};                        ///< Told as bytes go out; may be empty.
};

/// Where a file's bytes go: a presigned URL and the headers it must carry verbatim.
struct UploadTarget {
  std::string url{};                  ///< The presigned PUT URL.
  std::vector<HttpHeader> headers{};  ///< Every header the PUT must carry, exactly as given.
};

namespace uploads {

/// The content type HeyGen takes for a file, from its extension (case-insensitive); empty when it takes none.
inline std::string_view content_type_of(std::string_view path) {
  const auto dot = path.rfind('.');
  const auto slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  std::string extension;
  for (char c : path.substr(dot + 1)) extension += detail::ascii_lower(c);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> known{{
      {"mp4", "video/mp4"},
      {"webm", "video/webm"},
      {"mov", "video/quicktime"},
      {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"pdf", "application/pdf"},
      {"srt", "application/x-subrip"},
  }};
  for (const auto& [name, type] : known)
    if (name == extension) return type;
  return {};
}

/// Lower-case hex of `bytes`.
inline std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4U];
    out += digits[c & 15U];
  }
  return out;
}

/// Standard base64 of `bytes`, padded.
inline std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int held = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8U) | c;
    held += 8;
    while (held >= 6) {
      held -= 6;
      out += alphabet[(bits >> static_cast<unsigned>(held)) & 63U];
    }
  }
  if (held > 0) out += alphabet[(bits << static_cast<unsigned>(6 - held)) & 63U];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

#ifdef HEYGEN_VT_WITH_OPENSSL
/// The SHA-256 of the whole file, 32 bytes, read once in large chunks; throws FileError.
inline std::string sha256_of(files::SourceFile& file) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
    throw FileError(file.path(), "cannot start a SHA-256 (libcrypto failed)");
  std::vector<char> chunk(std::size_t{1} << 20);
  for (std::uint64_t offset = 0; offset < file.size();) {
    const std::size_t got = file.read(offset, chunk.data(), chunk.size());
    if (got == 0) throw FileError(file.path(), "cannot read the file: " + file.error());
    EVP_DigestUpdate(context.get(), chunk.data(), got);
    offset += got;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest.data(), &length) != 1 || length != 32)
    throw FileError(file.path(), "cannot finish a SHA-256 (libcrypto failed)");
  return {reinterpret_cast<const char*>(digest.data()), length};  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}
#endif

/// The checksum field for `file` in `encoding` (empty for none); throws std::invalid_argument when the build has no
/// OpenSSL to compute one.
inline std::string checksum_of([[maybe_unused]] files::SourceFile& file, ChecksumEncoding encoding) {
  if (encoding == ChecksumEncoding::none) return {};
#ifdef HEYGEN_VT_WITH_OPENSSL
  const std::string digest = sha256_of(file);
  return encoding == ChecksumEncoding::hex ? hex(digest) : base64(digest);
#else
  throw std::invalid_argument(
      "heygen: an upload's SHA-256 needs OpenSSL (define HEYGEN_VT_WITH_OPENSSL and link libcrypto, or set "
      "UploadOptions::checksum to none)");
#endif
}

/// One PUT of the whole file to `where`, streamed from disk.
template <class S>
HttpResponse put_once(S& sender, files::SourceFile& file, const UploadTarget& where, const UploadOptions& options,
                      const std::stop_token& stop) {
  BodySource source;
  source.size = file.size();
  source.read = [&](std::uint64_t offset, char* buffer, std::size_t capacity) {
    const std::size_t got = file.read(offset, buffer, capacity);
    if (got > 0 && options.progress) options.progress(offset + got, file.size());
    return got;
  };
  HttpRequest request;
  request.method = "PUT";
  request.url = where.url;
  request.headers = where.headers;
  request.timeout = options.idle_timeout;
  request.stop = stop;
  request.source = &source;
  return sender.transfer(request);
}

/// The error an upload ends with, saying why its last try failed.
inline TranslationError put_failed(const files::SourceFile& file, const HttpResponse& response, int requests) {
  std::string why = "upload of " + file.path() + ": ";
  if (response.received())
    why += "storage answered HTTP " + std::to_string(response.status) + ": " + detail::excerpt(response.body, 200);
  else
    why += "no response (" + response.error_detail + ")";
  return {response.received() ? FailureCause::http_status : FailureCause::transport, why, response.status, requests};
}

/// PUTs `file` to the target `target(false)` gives, streamed from disk. A cut, a timeout, a 429 or a 5xx sends it
/// again from the start after the sender's backoff (up to max_retries in a row); a 403 (the URL expired) asks
/// `target(true)` for a fresh one, once. The file must not change meanwhile. Returns the requests sent; throws
/// TranslationError or FileError.
template <class S>
int put(S& sender, files::SourceFile& file, const std::function<UploadTarget(bool fresh)>& target,
        const UploadOptions& options, const std::stop_token& stop) {
  UploadTarget where = target(false);
  CallState call = sender.begin({}, stop);
  call.deadline = TimePoint::max();  // each try has its idle timeout instead
  bool refreshed = false;
  for (int failures = 0, requests = 1;; ++requests) {
    file.check_unchanged();
    const HttpResponse response = put_once(sender, file, where, options, stop);
    if (stop.stop_requested()) throw TranslationError(FailureCause::cancelled, detail::cancelled_message);
    file.check_unchanged();
    if (response.received() && response.status / 100 == 2) return requests;
    if (!response.received() && !file.error().empty())
      throw FileError(file.path(), "cannot read the file: " + file.error());
    if (response.received() && response.status == 403 && !std::exchange(refreshed, true)) {
      where = target(true);
      continue;
    }
    const bool retryable =
        response.received() ? response.status == 429 || response.status >= 500 : downloads::worth_again(response.error);
    if (!retryable || ++failures > sender.retry_policy().max_retries) throw put_failed(file, response, requests);
    if (auto ended = sender.pause(call, sender.retry_wait(failures, response)))
      throw TranslationError(ended->cause, ended->message, response.status, requests);
  }
}

}  // namespace uploads

// ---------------------------------------------------------------------------------------------------------------------
// 28. The job poller: one job's polling state machine, no I/O.
// ---------------------------------------------------------------------------------------------------------------------

/// What every job of one client polls by: the policy, what was learnt about the server (updated as answers
/// arrive) and a source of U[0,1) draws. Shared by all jobs; thread-safe (the profile is).
class PollingRules {
 public:
  /// Rules from a policy, the server's profile and a random source (tests pin it).
  PollingRules(const PollPolicy& policy, ServerProfile& profile, std::function<double()> uniform)
      : policy_(policy), profile_(profile), uniform_(std::move(uniform)) {}

  /// Wait before the first look: none when the server will say more than the schedule knows (it holds long
  /// polls, or sends hints); else where jobs start finishing.
  [[nodiscard]] Seconds first_wait() const {
    if (policy_.long_poll > Seconds(0) && profile_.long_poll() == Support::yes) return Seconds(0);
    if (policy_.use_hints && profile_.hints() == Support::yes) return Seconds(0);
    return policy_.first_wait(learnt());
  }

  /// How long to ask the server to hold a look, given the time left before the deadline: the policy's long
  /// poll, unless the server ignores it or the deadline is too near to be worth it.
  [[nodiscard]] Seconds long_poll_budget(Seconds time_left) const {
    const Seconds wanted = policy_.long_poll;
    if (wanted <= Seconds(0) || profile_.long_poll() == Support::no) return Seconds(0);
    const Seconds left = time_left - Seconds(1);
    return left >= Seconds(1) ? std::min(wanted, left) : Seconds(0);
  }

  /// Whether a pending answer to a long poll of `asked` that took `took` was held; one that came back well
  /// before the hold tells us the server ignores `wait`. Remembered in the profile.
  bool long_poll_held(Seconds asked, Seconds took) const {
    if (asked <= Seconds(0)) return false;
    const bool held = took >= asked * 0.5;
    profile_.set_long_poll(held ? Support::yes : Support::no);
    return held;
  }

  /// Remembers whether the server sends hints (progress, eta, Retry-After) on pending answers.
  void note_hints(const TranslationResult& result, const std::optional<Seconds>& retry_after) const {
    const bool hinted = result.progress || result.eta_seconds || retry_after;
    if (hinted)
      profile_.set_hints(Support::yes);
    else if (profile_.hints() == Support::unknown && result.status == TranslationStatus::pending)
      profile_.set_hints(Support::no);
  }

  /// The policy.
  [[nodiscard]] const PollPolicy& policy() const noexcept { return policy_; }
  /// What was learnt about the server.
  [[nodiscard]] ServerProfile& profile() const noexcept { return profile_; }
  /// Earlier jobs' durations, when the policy learns.
  [[nodiscard]] const DurationModel* learnt() const { return policy_.learn ? &profile_.durations() : nullptr; }
  /// A U[0,1) draw.
  [[nodiscard]] double uniform() const { return uniform_(); }

 private:
  PollPolicy policy_;
  ServerProfile& profile_;
  std::function<double()> uniform_;
};

/// The polling state of one job: what its earlier looks saw. Given each answer, it says whether the job is
/// done or how long to wait before the next look. A single wait and the bulk poller run this same code.
class JobPoller {
 public:
  /// A job whose first look comes after `first_wait`.
  explicit JobPoller(Seconds first_wait = Seconds(0)) : first_wait_(first_wait) {}

  /// Digests one answer given at `age` (time since tracking began): learns from it, and returns the wait
  /// before the next look, or nothing when the result is final. `held`: the answer came from a long poll the
  /// server held, so the next look can go at once.
  std::optional<Seconds> after_answer(const PollingRules& rules, const TranslationResult& result,
                                      const std::optional<Seconds>& retry_after, bool held, Seconds age) {
    rules.note_hints(result, retry_after);
    if (result.status != TranslationStatus::pending) {
      learn_duration(rules, result, age);
      return std::nullopt;
    }
    note_pending(age, result.progress, held);
    ++looks_;
    return held ? Seconds(0) : next_wait(rules, age, result, retry_after);
  }

  /// Pending answers so far.
  [[nodiscard]] int looks() const noexcept { return looks_; }
  /// The wait before the first look.
  [[nodiscard]] Seconds first_wait() const noexcept { return first_wait_; }

 private:
  struct ProgressSample {
    Seconds age{0};
    double progress = 0;
  };

  void note_pending(Seconds age, std::optional<double> progress, bool held) {
    last_pending_ = age;
    looked_pending_ = true;
    last_held_ = held;
    if (predicting_ && age >= predicted_finish_) ++overdue_looks_;
    if (!progress) return;
    previous_ = latest_;
    latest_ = {age, *progress};
    ++progress_samples_;
  }

  /// Time left, extrapolated from the progress rate between the last two answers that carried progress.
  [[nodiscard]] std::optional<Seconds> progress_remaining() const {
    if (progress_samples_ < 2) return std::nullopt;
    const double rate = (latest_.progress - previous_.progress) / (latest_.age - previous_.age).count();
    if (!std::isfinite(rate) || rate <= 0.0) return std::nullopt;
    return Seconds((1.0 - latest_.progress) / rate);
  }

  Seconds next_wait(const PollingRules& rules, Seconds age, const TranslationResult& result,
                    const std::optional<Seconds>& retry_after) {
    PollContext context;
    context.looks = looks_;
    context.age = age;
    context.retry_after = retry_after;
    if (result.eta_seconds) context.eta = Seconds(*result.eta_seconds);
    context.progress_remaining = progress_remaining();
    context.progress_seen = result.progress.has_value();
    context.overdue_looks = overdue_looks_;
    context.learnt = rules.learnt();
    if (context.progress_remaining || context.eta) {
      predicted_finish_ = age + (context.progress_remaining ? *context.progress_remaining : *context.eta);
      predicting_ = true;
    }
    return rules.policy().next_wait(context, rules.uniform());
  }

  /// Remembers how long a finished job took. It finished between the last pending look and the answer that
  /// said it was done (exactly then after a held long poll); a point drawn uniformly in that interval, rather
  /// than its midpoint, keeps the learnt distribution smooth instead of clustered on past poll times.
  /// A job already done at an immediate first look teaches nothing: it may have finished long before. One done
  /// at a delayed first look finished before it: it is recorded a little earlier, so the model can move down
  /// when the server gets faster without smearing mass over ages where no job finishes.
  void learn_duration(const PollingRules& rules, const TranslationResult& result, Seconds answered_at) const {
    if (!rules.policy().learn || !result.job_finished()) return;
    if (!looked_pending_ && first_wait_ <= Seconds(0)) return;
    const Seconds before = looked_pending_ ? last_pending_ : answered_at * 0.8;
    rules.profile().durations().record(last_held_ ? answered_at : before + (answered_at - before) * rules.uniform());
  }

  int looks_ = 0;
  Seconds first_wait_{0};
  // Plain values with flags rather than optionals: g++ 12 misreads optional<duration> here as maybe-uninitialized.
  bool looked_pending_ = false;  // a look found the job pending
  Seconds last_pending_{0};      // age of the latest pending answer
  bool last_held_ = false;       // that answer came from a held long poll
  ProgressSample latest_{};      // the latest answer that carried progress
  ProgressSample previous_{};    // the one before it
  int progress_samples_ = 0;
  bool predicting_ = false;      // the server's hints predicted a finish
  Seconds predicted_finish_{0};  // age by which they said the job would be done
  int overdue_looks_ = 0;
};

// ---------------------------------------------------------------------------------------------------------------------
// 29. Status looks: one job or many at once, through protocol and sender.
// ---------------------------------------------------------------------------------------------------------------------

/// A status answer turned into a result, with the server's Retry-After when the job is still pending.
struct Look {
  TranslationResult result{};            ///< What the look found (or why it found nothing).
  std::optional<Seconds> retry_after{};  ///< Retry-After on a pending answer.
};

/// A many-status look: each id's answer (ids the server left out are absent) and the Retry-After it sent; or,
/// when the server answered with something that is no many-status answer (it has no such endpoint), why.
struct ManyLook {
  std::vector<std::pair<std::string, StatusAnswer>> answers{};  ///< Job id → its status.
  std::optional<Seconds> retry_after{};                         ///< Retry-After on the answer.
  std::optional<Failure> unusable{};                            ///< The answer was not a usable many-status answer.
};

/// Makes status looks for a client: builds each request with the protocol, sends it with the sender's retries
/// and reads the answer. The single wait and the bulk poller both look through this, so they look alike.
template <Transport T, Clock C, Protocol P>
class StatusLooks {
 public:
  /// Looks through `sender`, speaking `protocol`, polling by `rules`; all must outlive this.
  StatusLooks(Sender<T, C>& sender, const P& protocol, const PollingRules& rules)
      : sender_(sender), protocol_(protocol), rules_(rules) {}

  /// One status look with retries; `hold` > 0 asks the server to hold it (long poll). Pending means "look again".
  /// The result is built in the Look returned, not moved from one object to the next: this runs for every look.
  Look look(CallState& call, Seconds hold) {
    Look out;
    if (call.job_id.empty()) {
      out.result = failed(FailureCause::unknown_job, "empty job id");
      stamp(call, out.result);
      return out;
    }
    // One request per thread, rebuilt look after look: its target and headers keep their buffers. A look made
    // while one is under way on the same thread (a transport waiting on a client of its own) builds its own.
    thread_local HttpRequest kept;
    thread_local bool kept_in_use = false;
    std::optional<HttpRequest> own;
    HttpRequest& request = kept_in_use ? own.emplace() : kept;
    const bool took_kept = !kept_in_use;
    kept_in_use = true;
    struct Release {
      bool took;
      HttpRequest& request;
      ~Release() {
        if (!took) return;
        request.stop = {};  // the call's stop state is not kept alive by the thread
        kept_in_use = false;
      }
    } release{took_kept, request};
    sender_.blank(request);
    protocol_.status_request(request, call.job_id, hold);
    OrFailure<HttpResponse> response = sender_.send_in_place(request, call, protocol_, hold);
    if (!response) {
      out.result = failed(std::move(response).failure());
      stamp(call, out.result);
      return out;
    }
    OrFailure<StatusAnswer> answer = protocol_.read_status(response.value());
    if (!answer) {
      out.result = failed(std::move(answer).failure());
      stamp(call, out.result);
      return out;
    }
    take_answer(out.result, std::move(answer).value());
    stamp(call, out.result);
    if (out.result.status == TranslationStatus::pending) out.retry_after = sender_.retry_after_of(response.value());
    return out;
  }

  /// One many-status look for `ids` (at most the protocol's limit), following its pages; the Failure when a
  /// request got no final answer. An answer the protocol cannot read is `unusable` (no such endpoint, say).
  OrFailure<ManyLook> look_many(std::span<const std::string* const> ids, CallState& call, Seconds hold) {
    ManyLook out;
    std::string page;
    // A server that keeps handing out pages is stopped after one page per id: it cannot keep a look forever.
    for (std::size_t pages = 0; pages < std::max<std::size_t>(ids.size(), 1); ++pages) {
      HttpRequest request = sender_.blank_request();
      protocol_.many_status_request(request, ids, page, hold);
      OrFailure<HttpResponse> response = sender_.send(std::move(request), call, protocol_, hold);
      if (!response) return std::move(response).failure();
      OrFailure<ManyStatusAnswer> answer = protocol_.read_many_status(response.value());
      if (!answer) {
        out.unusable = std::move(answer).failure();
        return out;
      }
      out.retry_after = sender_.retry_after_of(response.value());
      if (out.answers.empty())
        out.answers = std::move(answer->answers);
      else
        for (auto& entry : answer->answers) out.answers.push_back(std::move(entry));
      if (answer->next_page.empty() || answer->next_page == page) break;
      page = std::move(answer->next_page);
    }
    return out;
  }

  /// Digests a look's result for one job: the wait before its next look, or nothing when it is final. Logs
  /// the decision at debug level.
  std::optional<Seconds> digest(const CallState& call, JobPoller& poller, const Look& look, bool held) {
    const auto wait = poller.after_answer(rules_, look.result, look.retry_after, held, sender_.age(call));
    if (wait)
      sender_.log()(LogLevel::debug, [&] {
        return "job " + call.job_id + ": pending after look " + std::to_string(poller.looks()) + "; next look in " +
               std::to_string(detail::to_millis(*wait).count()) + " ms";
      });
    return wait;
  }

  /// A result stamped with the call's requests, last HTTP status and time taken; a failure is logged.
  TranslationResult finish(const CallState& call, TranslationResult result) const {
    stamp(call, result);
    return result;
  }

  /// finish() on a result in place.
  void stamp(const CallState& call, TranslationResult& result) const {
    result.requests = call.requests;
    result.http_status = call.last_http_status;
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(sender_.clock().now() - call.start);
    if (result.status != TranslationStatus::pending && result.status != TranslationStatus::completed)
      sender_.log()(result.cause == FailureCause::job_failed ? LogLevel::info : LogLevel::warn, [&] {
        return "job " + call.job_id + ": " + std::string(to_string(result.status)) + " (" +
               std::string(to_string(result.cause)) + "): " + result.error_message.value_or("");
      });
  }

  /// A result that says the call failed: timeout for a deadline, error for anything else.
  static TranslationResult failed(Failure failure) {
    TranslationResult result;
    result.status = failure.cause == FailureCause::deadline ? TranslationStatus::timeout : TranslationStatus::error;
    result.cause = failure.cause;
    result.error_message = std::move(failure.message);
    return result;
  }

  /// failed() from a cause and a message.
  static TranslationResult failed(FailureCause cause, std::string message) {
    return failed(Failure{cause, std::move(message)});
  }

  /// A protocol's answer as a result.
  static TranslationResult from_answer(StatusAnswer answer) {
    TranslationResult result;
    take_answer(result, std::move(answer));
    return result;
  }

  /// from_answer() into a result in place.
  static void take_answer(TranslationResult& result, StatusAnswer&& answer) {
    result.status = answer.status;
    result.cause = answer.cause;
    result.error_message = std::move(answer.error_message);
    result.progress = answer.progress;
    result.eta_seconds = answer.eta_seconds;
    result.outputs = std::move(answer.outputs);
  }

  /// The sender looks go through.
  [[nodiscard]] Sender<T, C>& sender() const noexcept { return sender_; }
  /// The polling rules.
  [[nodiscard]] const PollingRules& rules() const noexcept { return rules_; }
  /// The protocol.
  [[nodiscard]] const P& protocol() const noexcept { return protocol_; }

 private:
  Sender<T, C>& sender_;
  const P& protocol_;
  const PollingRules& rules_;
};

// ---------------------------------------------------------------------------------------------------------------------
// 30. The poll schedule: due queue, take rule, coalescing. Pure: no threads.
// ---------------------------------------------------------------------------------------------------------------------

/// Slots ordered by due time (ties by slot number): a binary min-heap that knows where each slot sits, so the
/// earliest is at hand and any slot moves or leaves in O(log n). A poller moves every job through it at every
/// look, so it allocates nothing per entry (a tree node each would).
class DueQueue {
 public:
  /// A queued slot and when it is due.
  using Entry = std::pair<TimePoint, std::size_t>;

  /// Queues `slot` at `when`, or moves it there when it is queued already.
  void push(TimePoint when, std::size_t slot) {
    if (slot >= place_.size()) place_.resize(slot + 1, npos);
    if (contains(slot)) {
      heap_[place_[slot]].first = when;
      restore(place_[slot]);
      return;
    }
    heap_.emplace_back(when, slot);
    sift_up(heap_.size() - 1);
  }

  /// Takes `slot` out (nothing happens when it is not queued).
  void erase(std::size_t slot) {
    if (!contains(slot)) return;
    const std::size_t at = place_[slot];
    place_[slot] = npos;
    const Entry last = heap_.back();
    heap_.pop_back();
    if (at == heap_.size()) return;  // it was the last entry
    put(at, last);
    restore(at);
  }

  /// True when `slot` is queued.
  [[nodiscard]] bool contains(std::size_t slot) const noexcept { return slot < place_.size() && place_[slot] != npos; }

  /// The earliest entry; the queue must not be empty.
  [[nodiscard]] const Entry& top() const { return heap_.front(); }

  /// True when nothing is queued.
  [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }

  /// Slots queued.
  [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// Moves the entry at `at` up or down to where its (changed) time belongs.
  void restore(std::size_t at) {
    if (at > 0 && heap_[at] < heap_[(at - 1) / 2])
      sift_up(at);
    else
      sift_down(at);
  }

  void sift_up(std::size_t at) {
    const Entry moving = heap_[at];
    while (at > 0 && moving < heap_[(at - 1) / 2]) {
      put(at, heap_[(at - 1) / 2]);
      at = (at - 1) / 2;
    }
    put(at, moving);
  }

  void sift_down(std::size_t at) {
    const Entry moving = heap_[at];
    for (std::size_t child = 2 * at + 1; child < heap_.size(); child = 2 * at + 1) {
      if (child + 1 < heap_.size() && heap_[child + 1] < heap_[child]) ++child;
      if (!(heap_[child] < moving)) break;
      put(at, heap_[child]);
      at = child;
    }
    put(at, moving);
  }

  void put(std::size_t at, const Entry& entry) {
    heap_[at] = entry;
    place_[entry.second] = at;
  }

  std::vector<Entry> heap_;
  std::vector<std::size_t> place_;  // slot → its index in heap_; npos when not queued
};

/// When each job is next due, and which jobs a worker takes at once. Jobs are numbered slots that may be
/// added, removed and reused at any time (a long-lived poller's jobs come and go). Every time is an argument,
/// so it runs on any clock (tests drive it with a fake one). Not thread-safe: the poller holds a lock.
class BulkSchedule {
 public:
  /// How a worker takes jobs: all due ones for one many-status request, several for one-by-one looks, or one
  /// at a time (each look may be held by the server for long).
  enum class Take { many_status, per_job, one };

  /// Most per-job looks one worker takes at once (a take also ends once its looks have taken min_interval):
  /// looks served back to back cost less CPU each than looks spread over many wake-ups (bench/poller).
  static constexpr std::size_t max_take = 256;

  /// Most queued jobs one take passes over because the caller would not admit them (a bulk call at its
  /// concurrency limit), so a take stays cheap however many such jobs wait.
  static constexpr std::size_t max_skipped = 64;

  /// A schedule for slots 0..jobs-1 (more are added on demand), with the policy's min_interval, coalescing tick
  /// and many-status interval.
  BulkSchedule(std::size_t jobs, Seconds min_interval, Seconds coalesce, Seconds many_status_interval = Seconds(0))
      : slots_(jobs),
        min_interval_(min_interval),
        coalesce_(coalesce),
        many_window_(std::max(min_interval * 2.0, many_status_interval)) {}

  /// Makes job `job` due at `when`; a job already queued moves there.
  void push(TimePoint when, std::size_t job) {
    if (job >= slots_.size()) slots_.resize(job + 1);
    due_.push(when, job);
  }

  /// Takes job `job` off the queue (nothing happens when it is not queued).
  void erase(std::size_t job) { due_.erase(job); }

  /// True when job `job` is queued.
  [[nodiscard]] bool queued(std::size_t job) const noexcept { return due_.contains(job); }

  /// The earliest due time; TimePoint::max() when nothing is queued.
  [[nodiscard]] TimePoint next_due() const { return due_.empty() ? TimePoint::max() : due_.top().first; }

  /// The job due first; the queue must not be empty.
  [[nodiscard]] std::size_t next_job() const { return due_.top().second; }

  /// True when nothing is queued.
  [[nodiscard]] bool empty() const noexcept { return due_.empty(); }

  /// Jobs queued.
  [[nodiscard]] std::size_t size() const noexcept { return due_.size(); }

  /// Fills `taken` with the earliest due job (the caller checked it is due) and, by the take rule, more:
  /// for a many-status request, every job due within two min_intervals (or the many-status interval, when
  /// longer: rounds then gather every pending job), up to `many_limit`; for per-job looks,
  /// the jobs due within one min_interval that are past their not-before time, as many as one worker can look
  /// at in that time (one wake-up serving many requests is what makes spread-out looks cheap).
  void take(TimePoint now, Take mode, std::size_t many_limit, std::vector<std::size_t>& taken) {
    take(now, mode, many_limit, taken, [](std::size_t) { return true; });
  }

  /// take(), passing over (leaving queued) the due jobs `admit` refuses.
  template <class Admit>
  void take(TimePoint now, Take mode, std::size_t many_limit, std::vector<std::size_t>& taken, Admit&& admit) {
    taken.clear();
    const bool many = mode == Take::many_status;
    const TimePoint ahead = horizon(now, mode);
    if (many) last_round_ = now;
    const std::size_t most = many ? many_limit : mode == Take::one ? 1 : looks_within(min_interval_);
    passed_.clear();  // jobs `admit` refused: off the queue while the take looks past them, then back
    while (!due_.empty() && taken.size() < most && passed_.size() <= max_skipped) {
      const auto [when, job] = due_.top();
      const bool first = taken.empty() && passed_.empty();  // the caller checked it is due
      if (!first && when > ahead) break;
      if (!first && !many && slots_[job].not_before > now) break;  // a per-job look taken too early
      due_.erase(job);
      if (admit(job))
        taken.push_back(job);
      else
        passed_.emplace_back(when, job);
    }
    for (const auto& [when, job] : passed_) due_.push(when, job);
  }

  /// The latest due time a take in `mode` at `now` reaches ahead to.
  [[nodiscard]] TimePoint horizon(TimePoint now, Take mode) const {
    return now + detail::to_clock(mode == Take::many_status ? many_window_ : min_interval_);
  }

  /// `due` for a job that shares many-status rounds. A job due now (a new one, say) joins a round at once unless
  /// one went out within the last round window, and else the next one: so jobs arriving one by one share a round
  /// a window instead of sending a request each, and wait at most one window for it. A later due time is kept:
  /// the round that comes for it takes every job due within a window of it.
  [[nodiscard]] TimePoint on_round(TimePoint due, TimePoint now) const {
    if (due > now || !last_round_) return due;
    const TimePoint next_round = *last_round_ + detail::to_clock(many_window_);
    return next_round > now ? next_round : due;
  }

  /// When job `job` is next due after a look at `now` that asks to wait `wait`: coalesced onto its tick when
  /// the wait is long, never past `deadline`. Sets the earliest time a worker may take it ahead of schedule: at
  /// most a fifth of its wait early (and at most min_interval), so the min_interval floor between looks holds.
  TimePoint plan(std::size_t job, TimePoint now, Seconds wait, TimePoint deadline) {
    if (job >= slots_.size()) slots_.resize(job + 1);
    const Seconds early = std::min(min_interval_, wait / 5.0);
    const TimePoint due =
        wait >= Seconds(deadline - now) ? deadline : std::min(coalesced(now + detail::to_clock(wait), wait), deadline);
    slots_[job].not_before = std::min(now + detail::to_clock(wait - early), due);
    return due;
  }

  /// Folds the time a worker took for `looks` per-job looks into the running estimate.
  void note_look_time(Seconds took, std::size_t looks) {
    if (looks == 0 || !(took >= Seconds(0))) return;
    const Seconds each = took / static_cast<double>(looks);
    look_time_ = look_time_ <= Seconds(0) ? each : look_time_ * 0.8 + each * 0.2;
  }

  /// How many per-job looks fit in `window`, judged by how long looks have been taking, so a slow server
  /// spreads them over more workers instead of queueing them behind one.
  [[nodiscard]] std::size_t looks_within(Seconds window) const {
    return detail::looks_within(window, look_time_, max_take);
  }

  /// `due` moved to the end of its coalescing tick when the wait is at least 20 ticks (lag grows by at most a
  /// tick, ≤ 5 % of the wait), so the looks of many jobs fall together and a few wake-ups serve them.
  [[nodiscard]] TimePoint coalesced(TimePoint due, Seconds wait) const {
    if (coalesce_ <= Seconds(0) || wait < coalesce_ * 20.0) return due;
    const auto step = std::max(detail::to_clock(coalesce_), TimePoint::duration(1));
    const auto since_epoch = due.time_since_epoch();
    if (since_epoch.count() < 0 || since_epoch > TimePoint::duration::max() - step) return due;  // custom clocks
    const auto past = since_epoch % step;
    return past == TimePoint::duration::zero() ? due : due + (step - past);
  }

 private:
  struct Slot {
    TimePoint not_before{};  // a worker taking jobs ahead of time takes it no earlier
  };

  DueQueue due_;
  std::vector<DueQueue::Entry> passed_;  // reused by take(): a poller takes work thousands of times a second
  std::vector<Slot> slots_;
  Seconds min_interval_;
  Seconds coalesce_;
  Seconds many_window_;                  // a many-status round takes the jobs due within this
  std::optional<TimePoint> last_round_;  // when the latest many-status round was taken
  Seconds look_time_{0};                 // recent wall time of one per-job look; zero until measured
};

// ---------------------------------------------------------------------------------------------------------------------
// 31. Waits: who waits for which job and until when, kept pushes, handing results over.
// ---------------------------------------------------------------------------------------------------------------------

/// The map bulk calls return: job id → result.
using ResultMap = std::map<std::string, TranslationResult>;

/// Where a watched job's result goes: called exactly once per watch, never under the poller's lock.
using WatchSink = std::function<void(const std::string& job_id, TranslationResult result)>;

/// A cap on the requests in flight for the jobs of one caller (a bulk call's concurrent_limit), shared by its
/// watches. Guarded by the poller's lock.
struct RequestCap {
  std::size_t limit = 0;      ///< Most workers serving this caller's jobs at once; 0: no cap.
  std::size_t in_flight = 0;  ///< Workers serving them now.
  std::size_t waits = 0;      ///< The caller's open waits.
};

/// Cancels a wait when its caller's stop token is triggered.
using StopListener = std::stop_callback<std::function<void()>>;

/// One caller's wait for a job.
struct Watch {
  std::uint64_t serial = 0;                 ///< Tells this wait from the job's others (for cancel).
  TimePoint deadline{};                     ///< When it ends `timeout`.
  WatchSink sink{};                         ///< Where its result goes.
  std::shared_ptr<RequestCap> cap{};        ///< Its caller's cap on requests in flight; may be empty.
  std::unique_ptr<StopListener> on_stop{};  ///< Ends it when its caller cancels; may be empty.
};

/// One job being watched, by one caller or several. Its waits, `busy` and `settled` are guarded by the poller's
/// lock; `call` and `poller` are touched outside it only by the worker holding the job.
struct WatchedJob {
  std::size_t slot = 0;          ///< Where the registry keeps it, and its key in the schedule.
  CallState call{};              ///< Its looks' state.
  JobPoller poller{};            ///< When to look again.
  std::vector<Watch> watches{};  ///< The waits still open.
  TimePoint deadline{};          ///< The latest of its waits' deadlines (copied into call when taken).
  TimePoint next_look{};         ///< When its next look is due.
  int requests = 0;              ///< Requests made for it, as of its last look (readable under the lock).
  bool busy = false;             ///< A worker holds it (it is off the queue).
  bool settled = false;          ///< Ended (by a look or a push); goes once no worker holds it.
  bool hinted = false;           ///< A push hinted that it ended: its next look is at once, and alone.
  bool confirming = false;       ///< The look its worker is serving was asked for by a hint (the worker's to read).
  TimePoint hint_not_before{};   ///< No look for a hint before this: one per min_interval, however many hints come.
};

/// The earliest deadline of `job`'s open waits.
inline TimePoint earliest_deadline(const WatchedJob& job) {
  TimePoint earliest = TimePoint::max();
  for (const Watch& watch : job.watches) earliest = std::min(earliest, watch.deadline);
  return earliest;
}

/// A result that says a wait was cancelled.
inline TranslationResult cancelled_result() {
  TranslationResult result;
  result.status = TranslationStatus::error;
  result.cause = FailureCause::cancelled;
  result.error_message = std::string(detail::cancelled_message);
  return result;
}

/// A result that says a wait for `job` was cancelled at `now`, with the requests made for it so far.
inline TranslationResult cancelled_result(const WatchedJob& job, TimePoint now) {
  TranslationResult result = cancelled_result();
  result.requests = job.requests;
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - job.call.start);
  return result;
}

/// Hands a result to a wait's sink; what it throws is logged, never propagated into a worker.
inline void deliver(const Logger& log, const std::string& job_id, const WatchSink& sink,
                    TranslationResult result) noexcept {
  if (!sink) return;
  try {
    sink(job_id, std::move(result));
  } catch (const std::exception& e) {
    log(LogLevel::error, [&] { return "job " + job_id + ": result callback threw: " + e.what(); });
  } catch (...) {
    log(LogLevel::error, [&] { return "job " + job_id + ": result callback threw"; });
  }
}

/// Hands `result` to every wait in `ended`, then destroys them (destroying a wait's stop listener may wait for its
/// cancel running on another thread: never under the poller's lock).
inline void deliver_all(const Logger& log, const std::string& job_id, std::vector<Watch>& ended,
                        TranslationResult result) noexcept {
  if (ended.empty()) return;
  for (std::size_t i = 0; i + 1 < ended.size(); ++i) deliver(log, job_id, ended[i].sink, result);
  deliver(log, job_id, ended.back().sink, std::move(result));
  ended.clear();
}

/// What pushes said of jobs nobody waited for yet (a push may beat the create's answer to the caller), kept for a
/// wait that begins later; the oldest forgotten first past a bound.
template <class Value>
class KeptForWaits {
 public:
  /// Keeps at most `limit` values.
  explicit KeptForWaits(std::size_t limit) : limit_(limit) {}

  /// Keeps `value` for `job_id`; a second push for the same job keeps the first.
  void keep(std::string job_id, Value value) {
    if (limit_ == 0 || kept_.contains(job_id)) return;
    if (order_.size() >= limit_) {
      kept_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(job_id);
    kept_.emplace(std::move(job_id), std::move(value));
  }

  /// Takes the value kept for `job_id`, if there is one.
  std::optional<Value> take(const std::string& job_id) {
    if (kept_.empty()) return std::nullopt;  // the usual case: no lookup, no hashing
    const auto found = kept_.find(job_id);
    if (found == kept_.end()) return std::nullopt;
    Value value = std::move(found->second);
    kept_.erase(found);
    std::erase(order_, job_id);
    return value;
  }

  /// How many values are kept.
  [[nodiscard]] std::size_t size() const noexcept { return kept_.size(); }

 private:
  std::size_t limit_;
  std::unordered_map<std::string, Value> kept_;
  std::deque<std::string> order_;  // oldest first
};

/// Outcomes pushed (and verified) before anyone waited for their job.
using KeptPushes = KeptForWaits<TranslationResult>;

/// Jobs a push hinted had ended (unverified) before anyone waited for them: their first look is at once.
using KeptHints = KeptForWaits<bool>;

/// The jobs being watched and their waits, by slot (the schedule's key) and by id; the count of open waits and of
/// callers whose cap holds their jobs back. Not thread-safe: the poller calls it under its lock.
class WaitRegistry {
 public:
  /// The job watched under `job_id`, or null.
  WatchedJob* find(std::string_view job_id) {
    const auto found = by_id_.find(job_id);
    return found == by_id_.end() ? nullptr : slots_[found->second].get();
  }

  /// The job in `slot` (which must hold one).
  WatchedJob& at(std::size_t slot) { return *slots_[slot]; }

  /// Starts watching the job `call` is about, in a free slot; its first look is for the caller to plan.
  WatchedJob& add_job(CallState call) {
    std::size_t slot = slots_.size();
    if (free_.empty()) {
      slots_.emplace_back();
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    auto job = std::make_unique<WatchedJob>();
    job->slot = slot;
    job->call = std::move(call);
    job->deadline = job->call.start;
    by_id_.emplace(job->call.job_id, slot);
    slots_[slot] = std::move(job);
    return *slots_[slot];
  }

  /// Adds a wait to `job`, whose deadline becomes the latest of its waits'.
  void add_watch(WatchedJob& job, Watch watch) {
    job.deadline = std::max(job.deadline, watch.deadline);
    note_started(watch.cap.get());
    job.watches.push_back(std::move(watch));
  }

  /// Takes the wait `serial` off `job`, if it is still open.
  std::optional<Watch> end_watch(WatchedJob& job, std::uint64_t serial) {
    const auto at = std::find_if(job.watches.begin(), job.watches.end(),
                                 [&](const Watch& watch) { return watch.serial == serial; });
    if (at == job.watches.end()) return std::nullopt;
    Watch ended = std::move(*at);
    job.watches.erase(at);
    note_ended(ended);
    return ended;
  }

  /// Takes every open wait off `job`, to deliver to (and destroy) after unlocking.
  std::vector<Watch> end_all(WatchedJob& job) {
    for (const Watch& watch : job.watches) note_ended(watch);
    return std::exchange(job.watches, {});
  }

  /// Takes the waits on `job` whose deadline has passed by `now` into `timed_out`.
  void expire(WatchedJob& job, TimePoint now, std::vector<Watch>& timed_out) {
    for (auto at = job.watches.begin(); at != job.watches.end();) {
      if (at->deadline > now) {
        ++at;
        continue;
      }
      note_ended(*at);
      timed_out.push_back(std::move(*at));
      at = job.watches.erase(at);
    }
  }

  /// Takes `job` out of the index by id, so a later wait for the same id starts a fresh job.
  void unindex(const WatchedJob& job) {
    const auto found = by_id_.find(job.call.job_id);
    if (found != by_id_.end() && found->second == job.slot) by_id_.erase(found);
  }

  /// Forgets `job` (no wait is open, no worker holds it); its slot is reused.
  void forget(WatchedJob& job) {
    unindex(job);
    const std::size_t slot = job.slot;
    free_.push_back(slot);
    slots_[slot].reset();
  }

  /// Calls `visit(job)` for every job held.
  template <class Visit>
  void for_each(Visit&& visit) {
    for (auto& slot : slots_)
      if (slot) visit(*slot);
  }

  /// Distinct jobs being watched (a job whose waits all ended stays counted until its worker puts it back).
  [[nodiscard]] std::size_t jobs() const noexcept { return by_id_.size(); }
  /// Waits open.
  [[nodiscard]] std::size_t watches() const noexcept { return watches_; }
  /// Whether some caller has more open waits than its cap lets be in flight.
  [[nodiscard]] bool caps_tight() const noexcept { return tight_caps_ > 0; }

 private:
  void note_started(RequestCap* cap) {
    ++watches_;
    if (cap && cap->limit > 0 && ++cap->waits == cap->limit + 1) ++tight_caps_;
  }

  void note_ended(const Watch& watch) {
    --watches_;
    RequestCap* cap = watch.cap.get();
    if (cap && cap->limit > 0 && cap->waits-- == cap->limit + 1) --tight_caps_;
  }

  std::vector<std::unique_ptr<WatchedJob>> slots_;  // a job per slot; empty slots are reused
  std::vector<std::size_t> free_;
  std::unordered_map<std::string_view, std::size_t> by_id_;  // job id (viewing the job's own copy) → slot
  std::size_t watches_ = 0;
  std::size_t tight_caps_ = 0;
};

/// What the poller's parts share: one lock and what it guards (the waits, the schedule of their jobs' looks and
/// the pushes kept for waits not begun), and the counts of what was sent.
struct PollerShared {
  /// Shared state for a poller under `policy`.
  explicit PollerShared(const PollPolicy& policy)
      : schedule(0, policy.min_interval, policy.coalesce, policy.many_status_interval) {}

  /// Forgets `job` (no wait is open, no worker holds it): nothing of it stays behind. Under the lock.
  void drop(WatchedJob& job) {
    schedule.erase(job.slot);
    waits.forget(job);
  }

  static constexpr std::size_t max_kept = 10000;  ///< Pushed outcomes kept for waits not begun yet.

  mutable std::mutex mutex;                       ///< Guards every member below but the atomics.
  WaitRegistry waits;                             ///< The jobs watched and their waits.
  BulkSchedule schedule;                          ///< When each job is looked at next.
  KeptPushes kept{max_kept};                      ///< Outcomes pushed before anyone waited.
  KeptHints kept_hints{max_kept};                 ///< Jobs hinted ended before anyone waited.
  bool stopping = false;                          ///< The poller is stopping: no new waits, workers end.
  std::stop_source stop_source;                   ///< Stops the workers' sleeps and requests at shutdown.
  std::atomic<std::uint64_t> requests{0};         ///< Status requests sent (a many-status request counts once).
  std::atomic<std::uint64_t> job_looks{0};        ///< Jobs looked at (a many-status request: once per job).
  std::atomic<std::uint64_t> hint_looks{0};       ///< Looks a hint asked for (each also counts in job_looks).
  std::atomic<std::uint64_t> hints_confirmed{0};  ///< Looks a hint asked for that found the job ended.
};

// ---------------------------------------------------------------------------------------------------------------------
// 32. Rounds: the take rules, and serving a take: per-job looks, many-status rounds.
// ---------------------------------------------------------------------------------------------------------------------

/// How often a job is looked at while its outcome is expected as a push (webhook): rarely, as a safety net.
struct SafetyPolling {
  Seconds interval{30.0};  ///< The shortest wait between looks.
  double age_ratio = 0.1;  ///< The wait grows with the job's age: at least this share of it.

  /// The wait before the next look at a job of `age`: a lost push is caught within this long of the job's end.
  [[nodiscard]] Seconds wait(Seconds age) const { return std::max(interval, age * age_ratio); }
};

/// A job a worker served and when it is due again (or, ended, goes back to be dropped).
using Due = std::pair<TimePoint, std::size_t>;

/// Told the id of each job a look found final, or a kept push ended, e.g. so a late push for it is known as a
/// duplicate.
using FinalHook = std::function<void(const std::string& job_id)>;

/// The rounds of looks: which take rule fits now, when a job is due, and the serving of what one worker took
/// (looks through StatusLooks, results settled into the waits). It starts no thread: a worker calls serve()
/// with the lock released; the rest runs under the lock.
template <Transport T, Clock C, Protocol P>
class Rounds {
 public:
  using Take = BulkSchedule::Take;  ///< How a worker takes jobs.

  /// Rounds looking through `looks` for the jobs in `shared`, served by `workers` workers; with `safety`, every
  /// job expects its outcome pushed and is looked at only as a safety net.
  Rounds(StatusLooks<T, C, P>& looks, PollerShared& shared, std::size_t workers, std::optional<SafetyPolling> safety,
         FinalHook on_final)
      : looks_(looks),
        shared_(shared),
        clock_(looks.sender().clock()),
        policy_(looks.rules().policy()),
        workers_(workers),
        safety_(safety),
        on_final_(std::move(on_final)) {}

  // ---- take rules (under the lock) ----

  /// Many-status looks when several jobs are watched and the server may have the endpoint; else one job a
  /// request, held by the server when each job can have a worker of its own.
  [[nodiscard]] Take take_mode() const {
    if (shared_.waits.jobs() > 1 && many_status_possible()) return Take::many_status;
    return per_job_polls_held() ? Take::one : Take::per_job;
  }

  /// The wait before a new job's first look: the rules', but no longer than the many-status interval while
  /// jobs share many-status rounds (a round is cheap, so jobs that end early are not left waiting).
  [[nodiscard]] Seconds first_wait() const {
    if (safety_) return safety_->wait(Seconds(0));
    const Seconds first = looks_.rules().first_wait();
    const bool rounds = shared_.waits.jobs() > 0 && many_status_possible() && policy_.many_status_interval > Seconds(0);
    return rounds ? std::min(first, policy_.many_status_interval) : first;
  }

  /// Most jobs one many-status request may name; 0: the server has no such request.
  [[nodiscard]] std::size_t many_status_limit() const { return looks_.protocol().many_status_limit(); }

  /// Queues `job` for its next look (joining a round, while jobs share many-status rounds), or sooner when a
  /// wait's deadline comes first. Returns when it is due.
  TimePoint queue(WatchedJob& job) {
    TimePoint look = job.next_look;
    if (job.hinted)  // at once, joining no round; a flood of hints gets one look per min_interval
      look = std::max(clock_.now(), job.hint_not_before);
    else if (take_mode() == Take::many_status)
      look = shared_.schedule.on_round(look, clock_.now());
    const TimePoint due = std::min(look, earliest_deadline(job));
    shared_.schedule.push(due, job.slot);
    return due;
  }

  /// Notes that a worker took `job` at `now`: a look a hint asked for is now under way, and the next hint is looked
  /// at no sooner than min_interval from now. Under the lock.
  void note_taken(WatchedJob& job, TimePoint now) {
    job.confirming = std::exchange(job.hinted, false);
    if (job.confirming) job.hint_not_before = now + detail::to_clock(policy_.min_interval);
  }

  // ---- serving (unlocked) ----

  /// Serves the `jobs` a worker took in `mode`: each pending job goes to `later` with its next due time, each
  /// ended one with now. Nothing thrown here (bad_alloc, say) escapes: the jobs end with the error instead.
  /// Returns how many per-job looks it made: once looking since `started` has taken longer than the take
  /// window (the server slowed down), the rest go back for other workers.
  std::size_t serve(const std::vector<WatchedJob*>& jobs, Take mode, std::vector<Due>& later,
                    TimePoint started) noexcept {
    std::size_t looked = 0;
    try {
      std::vector<WatchedJob*> live = still_watched(jobs, mode, later);
      if (mode == Take::many_status) {
        serve_round(live, later);
        return 0;
      }
      const auto window = detail::to_clock(policy_.min_interval);
      for (; looked < live.size(); ++looked) {
        if (looked > 0 && clock_.now() - started > window) break;
        serve_one(*live[looked], mode == Take::one, later);
      }
      for (std::size_t rest = looked; rest < live.size(); ++rest) later.push_back({clock_.now(), live[rest]->slot});
    } catch (const std::exception& e) {
      fail_all(jobs, later, std::string("unexpected exception: ") + e.what());
    } catch (...) {
      fail_all(jobs, later, "unexpected exception");
    }
    return looked;
  }

  /// Ends `job` with a final result: every open wait gets it, and the job goes back to be dropped.
  void finish(WatchedJob& job, TranslationResult result, std::vector<Due>& later) noexcept {
    std::vector<Watch> ended;
    {
      std::lock_guard lock(shared_.mutex);
      ended = shared_.waits.end_all(job);
      job.settled = true;
      shared_.waits.unindex(job);
    }
    later.push_back({clock_.now(), job.slot});
    const bool from_server = result.ok() || result.cause == FailureCause::job_failed;
    if (from_server && on_final_) on_final_(job.call.job_id);
    deliver_all(looks_.sender().log(), job.call.job_id, ended, std::move(result));
  }

 private:
  /// Each job gets its own long poll, which the server may hold: only while every job can have a worker of its
  /// own and one worker stays free for jobs that arrive meanwhile. Under the lock.
  [[nodiscard]] bool per_job_polls_held() const {
    // A caller capped below its number of jobs could not have them all held: they would wait behind each other.
    return shared_.waits.jobs() < workers_ && !shared_.waits.caps_tight() && policy_.long_poll > Seconds(0) &&
           looks_.rules().profile().long_poll() != Support::no;
  }

  /// The server may have a many-status endpoint, and jobs will not hold long polls of their own instead.
  [[nodiscard]] bool many_status_possible() const {
    return looks_.protocol().many_status_limit() > 0 && looks_.rules().profile().batch() != Support::no &&
           !per_job_polls_held();
  }

  /// Claims a worker for a look the server may hold: at most all workers but one hold looks at once, so jobs
  /// that arrive meanwhile always find a worker. None while pushes are expected: a safety look only checks.
  bool claim_hold() {
    if (safety_) return false;
    if (held_.fetch_add(1) + 1 < workers_) return true;
    held_.fetch_sub(1);
    return false;
  }

  /// The taken jobs that still need a look now: waits past their deadline end `timeout` first; a job nobody
  /// waits for any more, or taken early only for a wait's deadline, goes back without a look.
  std::vector<WatchedJob*> still_watched(const std::vector<WatchedJob*>& jobs, Take mode, std::vector<Due>& later) {
    std::vector<WatchedJob*> live;
    live.reserve(jobs.size());
    std::vector<std::pair<WatchedJob*, std::vector<Watch>>> timed_out;
    {
      std::lock_guard lock(shared_.mutex);
      const TimePoint now = clock_.now();
      const TimePoint horizon = shared_.schedule.horizon(now, mode);
      for (WatchedJob* job : jobs) {
        std::vector<Watch> ended;
        shared_.waits.expire(*job, now, ended);
        if (!ended.empty()) timed_out.emplace_back(job, std::move(ended));
        // Taken for a wait's deadline, not for a look (a look a hint asked for is never early).
        const bool early = !job->confirming && job->next_look > horizon;
        if (job->watches.empty() || job->settled || early)
          later.push_back({job->next_look, job->slot});
        else
          live.push_back(job);
      }
    }
    for (auto& [job, ended] : timed_out) {
      const TranslationResult result = looks_.finish(
          job->call, failed(Failure{FailureCause::deadline, looks_.sender().deadline_message(job->call)}));
      deliver_all(looks_.sender().log(), job->call.job_id, ended, result);
    }
    return live;
  }

  /// Ends every job of the take with the error. `later` is emptied: the jobs are ended, and go back to be
  /// dropped, not requeued.
  void fail_all(const std::vector<WatchedJob*>& jobs, std::vector<Due>& later, const std::string& message) noexcept {
    later.clear();
    for (WatchedJob* job : jobs) finish(*job, failed(Failure{FailureCause::transport, message}), later);
  }

  /// One look at one job, exactly as a single wait would take it; a pending job goes to `later`.
  void serve_one(WatchedJob& job, bool may_hold, std::vector<Due>& later) {
    const bool hold_claimed = may_hold && claim_hold();
    const Seconds hold =
        hold_claimed ? looks_.rules().long_poll_budget(Seconds(soonest_deadline(job) - clock_.now())) : Seconds(0);
    const int before = job.call.requests;
    const TimePoint asked = hold_claimed ? clock_.now() : TimePoint{};  // a clock read per look is not free
    Look look = looks_.look(job.call, hold);
    if (hold_claimed) held_.fetch_sub(1);
    shared_.requests += static_cast<std::uint64_t>(job.call.requests - before);
    ++shared_.job_looks;
    if (job.confirming) {
      ++shared_.hint_looks;
      if (look.result.status != TranslationStatus::pending) ++shared_.hints_confirmed;
    }
    const bool held = hold_claimed && look.result.status == TranslationStatus::pending &&
                      looks_.rules().long_poll_held(hold, Seconds(clock_.now() - asked));
    settle_look(job, look, held, Take::per_job, later);
  }

  /// A many-status round: the jobs a hint asked about are looked at alone (that look also carries what a job
  /// produced, which a many-status answer may not), the rest share one request.
  void serve_round(const std::vector<WatchedJob*>& live, std::vector<Due>& later) {
    std::vector<WatchedJob*> shared;
    shared.reserve(live.size());
    for (WatchedJob* job : live)
      if (job->confirming)
        serve_one(*job, false, later);
      else
        shared.push_back(job);
    if (!shared.empty()) serve_many(shared, later);
  }

  /// The earliest deadline of the job's open waits (read under the lock: other threads add waits).
  TimePoint soonest_deadline(const WatchedJob& job) {
    std::lock_guard lock(shared_.mutex);
    return std::min(earliest_deadline(job), job.call.deadline);
  }

  /// One many-status look for the due jobs; falls back to per-job looks when the server has no such endpoint.
  void serve_many(const std::vector<WatchedJob*>& live, std::vector<Due>& later) {
    CallState call = looks_.sender().begin("batch", shared_.stop_source.get_token());
    std::vector<const std::string*> ids;
    ids.reserve(live.size());
    for (WatchedJob* job : live) {
      call.deadline = std::min(call.deadline, soonest_deadline(*job));
      ids.push_back(&job->call.job_id);
    }
    const bool hold_claimed = claim_hold();
    const Seconds hold =
        hold_claimed ? looks_.rules().long_poll_budget(Seconds(call.deadline - clock_.now())) : Seconds(0);
    const TimePoint asked = clock_.now();
    OrFailure<ManyLook> answer = looks_.look_many(ids, call, hold);
    if (hold_claimed) held_.fetch_sub(1);
    shared_.requests += static_cast<std::uint64_t>(call.requests);
    shared_.job_looks += live.size();
    for (WatchedJob* job : live) {
      job->call.requests += call.requests;
      if (call.last_http_status) job->call.last_http_status = call.last_http_status;
    }
    if (!answer) return many_failed(live, answer.failure(), later);
    if (answer->unusable) return fall_back(live, *answer->unusable, later);
    read_many(live, answer.value(), hold, Seconds(clock_.now() - asked), later);
  }

  /// A many-status request got no answer: the jobs whose waits ran out of time end, the rest look again soon
  /// (a wait ends by its own deadline, as a single wait's would, not by a failure of a request it shared).
  void many_failed(const std::vector<WatchedJob*>& live, const Failure& failure, std::vector<Due>& later) {
    for (WatchedJob* job : live) {
      if (failure.cause != FailureCause::deadline || clock_.now() >= soonest_deadline(*job))
        finish(*job, looks_.finish(job->call, failed(failure)), later);
      else
        later.push_back({clock_.now() + detail::to_clock(policy_.min_interval), job->slot});
    }
  }

  /// No many-status endpoint (404/405), or one we cannot read: remember, and look at these jobs one by one.
  void fall_back(const std::vector<WatchedJob*>& live, const Failure& failure, std::vector<Due>& later) {
    looks_.rules().profile().set_batch(Support::no);
    looks_.sender().log()(LogLevel::info,
                          [&] { return "server has no usable many-status endpoint (" + failure.message + ")"; });
    for (WatchedJob* job : live) later.push_back({clock_.now(), job->slot});
  }

  /// Settles each job of a many-status answer; a job the server left out is looked at again shortly.
  void read_many(const std::vector<WatchedJob*>& live, ManyLook& answer, Seconds hold, Seconds took,
                 std::vector<Due>& later) {
    looks_.rules().profile().set_batch(Support::yes);
    std::unordered_map<std::string_view, StatusAnswer*> by_id;
    bool any_final = false;
    for (auto& [id, status] : answer.answers) {
      by_id.emplace(id, &status);
      any_final = any_final || status.status != TranslationStatus::pending;
    }
    // A held answer that ended because some job finished says nothing new of the others: they go back to their
    // own schedule (asked again at once, each finish would cost a request for all of them). One that ran out its
    // hold with nothing finished is asked again by the next round.
    const bool held = hold > Seconds(0) && !any_final && looks_.rules().long_poll_held(hold, took);
    for (WatchedJob* job : live) {
      const auto found = by_id.find(job->call.job_id);
      if (found == by_id.end()) {
        later.push_back({clock_.now() + detail::to_clock(policy_.min_interval), job->slot});
        continue;
      }
      Look look{looks_.finish(job->call, StatusLooks<T, C, P>::from_answer(std::move(*found->second))),
                answer.retry_after};
      if (look.result.ok() && !many_status_has_outputs(looks_.protocol())) fetch_outputs(*job, look);
      settle_look(*job, look, held, Take::many_status, later);
    }
  }

  /// A job a many-status answer says completed, on a server whose many-status answers name no outputs (HeyGen's
  /// `/statuses`): one look of its own fetches what it produced. The job completed either way: a look that fails
  /// leaves the result completed, without outputs.
  void fetch_outputs(WatchedJob& job, Look& look) {
    const int before = job.call.requests;
    Look own = looks_.look(job.call, Seconds(0));
    shared_.requests += static_cast<std::uint64_t>(job.call.requests - before);
    if (own.result.ok()) look.result = std::move(own.result);
    look.result.requests = job.call.requests;
  }

  /// A final result ends the job; a pending one gets its next due time (never past its waits' deadlines).
  void settle_look(WatchedJob& job, Look& look, bool held, Take mode, std::vector<Due>& later) {
    auto wait = looks_.digest(job.call, job.poller, look, held);
    if (!wait || look.result.cause == FailureCause::cancelled) return finish(job, std::move(look.result), later);
    std::lock_guard lock(shared_.mutex);
    // Many-status rounds are cheap per job: the policy may ask for them more often than one job alone would look.
    // The bound holds for the last job of a round too, looked at alone, so the policy's lag bound is kept.
    if ((mode == Take::many_status || many_status_possible()) && policy_.many_status_interval > Seconds(0))
      *wait = std::min(*wait, policy_.many_status_interval);
    if (safety_) *wait = std::max(*wait, safety_->wait(looks_.sender().age(job.call)));
    // plan() touches only this job's slot, which no other thread reads while this worker holds the job.
    later.push_back({shared_.schedule.plan(job.slot, clock_.now(), *wait, job.call.deadline), job.slot});
  }

  static TranslationResult failed(Failure failure) { return StatusLooks<T, C, P>::failed(std::move(failure)); }

  StatusLooks<T, C, P>& looks_;
  PollerShared& shared_;
  C& clock_;
  const PollPolicy& policy_;
  const std::size_t workers_;
  const std::optional<SafetyPolling> safety_;
  const FinalHook on_final_;
  std::atomic<std::size_t> held_{0};  // looks in flight that the server may hold
};

// ---------------------------------------------------------------------------------------------------------------------
// 33. Workers: the poller's threads, the timer, taking due jobs and putting them back.
// ---------------------------------------------------------------------------------------------------------------------

/// A fixed pool of worker threads, started at the first wait: each takes what is due, serves it through the
/// rounds, and puts it back. Only the worker that holds the timer sleeps until the next due time; the others wait
/// to be notified, so idle workers do not all wake for one job.
template <Transport T, Clock C, Protocol P>
class Workers {
 public:
  /// `count` workers (at least one) serving the jobs of `shared` through `rounds`.
  Workers(Rounds<T, C, P>& rounds, PollerShared& shared, C& clock, std::size_t count)
      : rounds_(rounds), shared_(shared), clock_(clock), count_(std::max<std::size_t>(count, 1)) {}

  /// Starts the pool, once. Under the lock.
  void start() {
    if (!threads_.empty()) return;
    threads_.reserve(count_);
    for (std::size_t i = 0; i < count_; ++i) threads_.emplace_back([this] { work(); });
  }

  /// Makes sure a worker will look at the queue by `earliest`, the soonest of the jobs just queued: the worker
  /// holding the timer is woken when it would sleep past it, an idle worker only when nobody holds the timer. A
  /// job due after the timer's wake-up wakes nobody (the timer's holder sees it then), so jobs watched one at a
  /// time do not each wake a worker for nothing. Under the lock.
  void wake_for(TimePoint earliest) {
    if (earliest == TimePoint::max()) return;  // nothing queued: every job is held by a worker, which requeues it
    if (timer_until_ != TimePoint::max()) {
      if (earliest < timer_until_) timer_wake_.request_stop();
      return;
    }
    changed_ = true;
    work_ready_.notify_one();
  }

  /// Wakes every worker to see that the poller is stopping (shared.stopping is set) and hands over the threads,
  /// to join once the lock is released. Under the lock.
  std::vector<std::jthread> release() {
    timer_wake_.request_stop();
    work_ready_.notify_all();
    return std::move(threads_);
  }

  /// Workers running (0 until the first wait). Under the lock.
  [[nodiscard]] std::size_t running() const noexcept { return threads_.size(); }

 private:
  using Take = BulkSchedule::Take;

  /// What one worker took, to serve unlocked: the jobs, how, and the caps it counts against.
  struct Taken {
    std::vector<WatchedJob*> jobs;
    Take mode = Take::per_job;
    std::vector<std::shared_ptr<RequestCap>> caps;
  };

  /// One worker: take what is due, serve it, repeat.
  void work() {
    Taken taken;
    std::vector<std::size_t> slots;  // reused: a worker takes work thousands of times
    std::vector<Due> later;          // what the worker served and must look at again
    std::unique_lock lock(shared_.mutex);
    while (!shared_.stopping) {
      // Requeued here, under the lock the loop takes anyway, rather than locking once more per job.
      put_back(taken, later);
      const TimePoint when = shared_.schedule.next_due();
      const TimePoint now = clock_.now();
      if (when == TimePoint::max() || (when > now && when >= timer_until_)) {
        idle(lock);
        continue;
      }
      if (when > now) {
        sleep_as_timer(lock, when);
        continue;
      }
      take(now, slots, taken);
      if (taken.jobs.empty()) {  // every due job belongs to a caller at its cap: one of its workers comes back
        idle(lock);
        continue;
      }
      serve_unlocked(lock, taken, later);
    }
    put_back(taken, later);
  }

  /// Waits until the queue changes (or the poller stops). Under the lock.
  void idle(std::unique_lock<std::mutex>& lock) {
    work_ready_.wait(lock, [&] { return shared_.stopping || changed_; });
    changed_ = false;
  }

  /// Holds the timer: sleeps unlocked until `when`, or until a job due sooner arrives or the poller stops.
  void sleep_as_timer(std::unique_lock<std::mutex>& lock, TimePoint when) {
    std::stop_source wake;
    timer_wake_ = wake;
    timer_until_ = when;
    lock.unlock();
    {
      std::stop_callback forward(shared_.stop_source.get_token(), [&wake] { wake.request_stop(); });
      clock_.sleep_until(when, wake.get_token());
    }
    lock.lock();
    if (timer_until_ == when) timer_until_ = TimePoint::max();
  }

  /// Takes due jobs by the current take rule, passing over those whose caller is at its cap. Under the lock.
  /// When the job due first was hinted, the take is of hinted jobs alone, each looked at on its own: a hint then
  /// neither sends the jobs due soon in a many-status round early nor splits their next round in two.
  void take(TimePoint now, std::vector<std::size_t>& slots, Taken& taken) {
    const bool hints = shared_.waits.at(shared_.schedule.next_job()).hinted;
    if (!hints || !take_admitted(now, Take::per_job, true, slots, taken))
      take_admitted(now, rounds_.take_mode(), false, slots, taken);
  }

  /// Takes due jobs in `mode` (only hinted ones when `hinted_only`), passing over those whose caller is at its cap;
  /// true when it took any. Under the lock.
  bool take_admitted(TimePoint now, Take mode, bool hinted_only, std::vector<std::size_t>& slots, Taken& taken) {
    taken.mode = mode;
    taken.jobs.clear();
    taken.caps.clear();
    shared_.schedule.take(now, mode, rounds_.many_status_limit(), slots, [&](std::size_t slot) {
      const WatchedJob& job = shared_.waits.at(slot);
      return (!hinted_only || job.hinted) && admit(job, taken.caps);
    });
    for (std::size_t slot : slots) {
      WatchedJob& job = shared_.waits.at(slot);
      job.busy = true;
      job.call.deadline = job.deadline;  // the worker reads its own copy unlocked
      rounds_.note_taken(job, now);
      taken.jobs.push_back(&job);
    }
    return !taken.jobs.empty();
  }

  /// Whether a worker may take `job`: none of its callers is at its cap, counting each cap once per take (one
  /// worker has one request in flight at a time). Charges the caps it takes. Under the lock.
  static bool admit(const WatchedJob& job, std::vector<std::shared_ptr<RequestCap>>& charged) {
    auto counted = [&](const RequestCap* cap) {
      return std::any_of(charged.begin(), charged.end(), [&](const auto& c) { return c.get() == cap; });
    };
    for (const Watch& watch : job.watches)
      if (watch.cap && watch.cap->limit > 0 && !counted(watch.cap.get()) && watch.cap->in_flight >= watch.cap->limit)
        return false;
    for (const Watch& watch : job.watches)
      if (watch.cap && !counted(watch.cap.get())) {
        ++watch.cap->in_flight;
        charged.push_back(watch.cap);
      }
    return true;
  }

  /// Puts back what a worker served: pending jobs are requeued (or dropped when nobody waits any more), and its
  /// caps are released. Under the lock.
  void put_back(Taken& taken, std::vector<Due>& later) {
    for (const auto& cap : taken.caps) --cap->in_flight;
    taken.caps.clear();
    for (const auto& [when, slot] : later) {
      WatchedJob& job = shared_.waits.at(slot);
      job.busy = false;
      job.confirming = false;
      job.next_look = when;
      job.requests = job.call.requests;
      if (job.watches.empty() || job.settled || shared_.stopping)
        shared_.drop(job);
      else
        rounds_.queue(job);
    }
    later.clear();
    taken.jobs.clear();
  }

  /// Serves what the worker took, with the lock released meanwhile. Going busy, it hands on what is left (more
  /// due work, or the timer nobody holds) to one idle worker.
  void serve_unlocked(std::unique_lock<std::mutex>& lock, Taken& taken, std::vector<Due>& later) {
    const BulkSchedule& schedule = shared_.schedule;
    const bool hand_on = !schedule.empty() && (schedule.next_due() <= clock_.now() || timer_until_ == TimePoint::max());
    if (hand_on) changed_ = true;
    lock.unlock();
    // Notified after unlocking: a woken worker that preempted us would only block on the lock we hold.
    if (hand_on) work_ready_.notify_one();
    const TimePoint started = clock_.now();
    const std::size_t looked = rounds_.serve(taken.jobs, taken.mode, later, started);
    const Seconds took(clock_.now() - started);
    lock.lock();
    if (taken.mode != Take::many_status) shared_.schedule.note_look_time(took, looked);
  }

  Rounds<T, C, P>& rounds_;
  PollerShared& shared_;
  C& clock_;
  const std::size_t count_;
  // Guarded by the shared lock:
  std::condition_variable work_ready_;
  TimePoint timer_until_ = TimePoint::max();       // when the worker holding the timer wakes; max: nobody holds it
  std::stop_source timer_wake_{std::nostopstate};  // wakes the timer's holder early
  bool changed_ = false;                           // the queue changed since a waiting worker last looked
  std::vector<std::jthread> threads_;
};

// ---------------------------------------------------------------------------------------------------------------------
// 34. The poller: one long-lived scheduler and worker pool per client, serving every wait.
// ---------------------------------------------------------------------------------------------------------------------

/// What a poller is doing, for monitoring and benchmarks.
struct PollerStats {
  std::size_t workers = 0;            ///< Worker threads running (0 until the first wait).
  std::size_t jobs = 0;               ///< Distinct jobs being watched.
  std::size_t watches = 0;            ///< Waits outstanding.
  std::uint64_t requests = 0;         ///< Status requests sent (a many-status request counts once).
  std::uint64_t job_looks = 0;        ///< Jobs looked at (a many-status request counts once per job it names).
  std::uint64_t hint_looks = 0;       ///< Looks a hint asked for: pushes confirmed by a look (also in job_looks).
  std::uint64_t hints_confirmed = 0;  ///< Of those looks, the ones that found the job ended.
};

/// What became of a hint that a job ended.
enum class HintOutcome {
  looking,    ///< A look at the job is due at once (or after min_interval, when one just went out).
  coalesced,  ///< A look a hint asked for is due or under way already: this hint adds nothing.
  kept,       ///< Nobody waits for the job yet: its first look will be at once when a wait begins.
};

/// One long-lived poller: jobs ordered by next-due time, served by a fixed pool of workers started at the first
/// wait. Every wait of a client goes through it: futures, callbacks and bulk calls. A job watched by several
/// callers is polled once; due jobs of all callers share many-status requests where the server has them. Each
/// wait keeps its own deadline and cancellation. Stopping ends every wait `cancelled` and joins the workers.
/// Its rooms, each using only those after it: this facade (waits begun, cancelled, settled by a push, stopped),
/// the Workers (threads, timer, takes), the Rounds (serving a take) and the waits they share (PollerShared).
template <Transport T, Clock C, Protocol P>
class Poller {
 public:
  /// Told the id of each job a look found final, or a kept push ended.
  using FinalHook = heygen::FinalHook;

  /// A poller looking through `looks` with `workers` worker threads; `looks` must outlive it. With `safety`,
  /// every job expects its outcome pushed and is polled only as a safety net.
  Poller(StatusLooks<T, C, P>& looks, std::size_t workers, std::optional<SafetyPolling> safety = {},
         FinalHook on_final = {})
      : looks_(looks),
        clock_(looks.sender().clock()),
        on_final_(on_final),
        shared_(looks.rules().policy()),
        rounds_(looks, shared_, std::max<std::size_t>(workers, 1), safety, std::move(on_final)),
        workers_(rounds_, shared_, clock_, workers) {}

  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  /// Stops (see stop()).
  ~Poller() { stop(); }

  /// Watches `job_id` until `deadline` or until `stop` is triggered. `sink` gets the result exactly once: on a
  /// worker, on the thread that triggers `stop`, or here at once when the poller has stopped. Callable from any
  /// thread, from inside a sink too.
  void watch(std::string job_id, TimePoint deadline, std::stop_token stop, WatchSink sink,
             const std::shared_ptr<RequestCap>& cap = {}) {
    std::vector<std::string> ids;  // not {std::move(job_id)}: an initializer list would copy the id
    ids.push_back(std::move(job_id));
    watch_all(ids, deadline, std::move(stop), sink, cap);
  }

  /// watch() for every id of `job_ids` (distinct), each wait getting its result through a copy of `sink`. All
  /// are added at once, so their first looks fall together (one many-status request, where the server has it).
  void watch_all(const std::vector<std::string>& job_ids, TimePoint deadline, std::stop_token stop,
                 const WatchSink& sink, const std::shared_ptr<RequestCap>& cap = {}) {
    if (job_ids.empty()) return;
    const std::uint64_t first_serial = serial_.fetch_add(job_ids.size()) + 1;
    // Made before the waits are added (unlocked: one runs cancel() at once when stop was requested already); a
    // stop in between finds no wait to cancel, so the check after add_all() catches it.
    std::vector<std::unique_ptr<StopListener>> listeners;
    if (stop.stop_possible())
      for (std::size_t i = 0; i < job_ids.size(); ++i) listeners.push_back(listen(job_ids[i], first_serial + i, stop));
    std::optional<Pushed> pushed;
    if (!stop.stop_requested()) pushed = add_all(job_ids, first_serial, deadline, sink, cap, listeners);
    if (!pushed) {
      listeners.clear();
      for (const auto& id : job_ids) deliver(log(), id, sink, cancelled_result());
      return;
    }
    for (auto& [index, result] : *pushed) {
      if (!listeners.empty()) listeners[index].reset();
      if (on_final_) on_final_(job_ids[index]);
      deliver(log(), job_ids[index], sink, std::move(result));
    }
  }

  /// Ends every wait for `job_id` with `result` (an outcome the server pushed, verified by the caller): false
  /// when nobody waits for that job. A look in flight for it is ignored when it returns.
  bool settle(std::string_view job_id, TranslationResult result) {
    std::vector<Watch> ended;
    std::string id;
    {
      std::lock_guard lock(shared_.mutex);
      WatchedJob* job = shared_.waits.find(job_id);
      // A job whose waits all ended (timed out, cancelled) stays indexed until its worker puts it back: nobody
      // waits for it either.
      if (job == nullptr || job->watches.empty()) {
        shared_.kept.keep(std::string(job_id), std::move(result));
        return false;
      }
      result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - job->call.start);
      id = job->call.job_id;
      result.requests = job->requests;
      ended = shared_.waits.end_all(*job);
      job->settled = true;
      shared_.waits.unindex(*job);
      if (!job->busy) shared_.drop(*job);
      ++outside_deliveries_;
    }
    deliver_all(log(), id, ended, std::move(result));
    delivered_outside();
    return true;
  }

  /// A push hinted that `job_id` ended, unverified: its waits end on what one look, made at once, says, never on the
  /// hint. Hints for one job coalesce: one look they asked for at a time, and at most one per min_interval, so a
  /// flood of forged hints costs one look per job per min_interval and ends nothing.
  HintOutcome hint(std::string_view job_id) {
    std::lock_guard lock(shared_.mutex);
    WatchedJob* job = shared_.waits.find(job_id);
    if (job == nullptr || job->watches.empty()) {
      shared_.kept_hints.keep(std::string(job_id), true);
      return HintOutcome::kept;
    }
    if (job->hinted) return HintOutcome::coalesced;
    job->hinted = true;
    if (!job->busy) workers_.wake_for(rounds_.queue(*job));  // a busy job is queued when its worker puts it back
    return HintOutcome::looking;
  }

  /// Ends every outstanding wait with cause `cancelled`, stops the workers and joins them; no sink runs after it
  /// returns. Later waits end `cancelled` at once. Must not be called from a sink (a worker cannot join itself).
  void stop() noexcept {
    std::vector<std::tuple<std::string, TranslationResult, Watch>> ended;
    std::vector<std::jthread> threads;
    {
      std::lock_guard lock(shared_.mutex);
      shared_.stopping = true;
      shared_.waits.for_each([&](WatchedJob& job) {
        for (auto& watch : shared_.waits.end_all(job))
          ended.emplace_back(job.call.job_id, cancelled_result(job, clock_.now()), std::move(watch));
        if (!job.busy) shared_.drop(job);
      });
      threads = workers_.release();
    }
    shared_.stop_source.request_stop();
    for (auto& [id, result, watch] : ended) deliver(log(), id, watch.sink, std::move(result));
    ended.clear();  // a stop_callback's destructor waits for its cancel() running on another thread
    {
      std::unique_lock lock(shared_.mutex);
      outside_delivered_.wait(lock, [&] { return outside_deliveries_ == 0; });
    }
    threads.clear();
  }

  /// What the poller is doing now.
  [[nodiscard]] PollerStats stats() const {
    std::lock_guard lock(shared_.mutex);
    return {workers_.running(),       shared_.waits.jobs(),      shared_.waits.watches(),       shared_.requests.load(),
            shared_.job_looks.load(), shared_.hint_looks.load(), shared_.hints_confirmed.load()};
  }

 private:
  /// Results pushed before their wait began, by index into the ids being watched.
  using Pushed = std::vector<std::pair<std::size_t, TranslationResult>>;

  /// Adds a wait (serials from `first_serial` on) for each id and wakes a worker; nothing once stopping. An id
  /// whose outcome was pushed before anyone waited for it gets no wait: its result is returned, to deliver.
  std::optional<Pushed> add_all(const std::vector<std::string>& job_ids, std::uint64_t first_serial, TimePoint deadline,
                                const WatchSink& sink, const std::shared_ptr<RequestCap>& cap,
                                std::vector<std::unique_ptr<StopListener>>& listeners) {
    std::lock_guard lock(shared_.mutex);
    if (shared_.stopping) return std::nullopt;
    workers_.start();
    Pushed pushed;
    std::vector<WatchedJob*> added;
    added.reserve(job_ids.size());
    for (std::size_t i = 0; i < job_ids.size(); ++i) {
      if (auto early = shared_.kept.take(job_ids[i])) {
        pushed.emplace_back(i, std::move(*early));
        continue;
      }
      WatchedJob& job = job_for(job_ids[i]);
      if (shared_.kept_hints.take(job_ids[i])) job.hinted = true;
      shared_.waits.add_watch(
          job, Watch{first_serial + i, deadline, sink, cap, listeners.empty() ? nullptr : std::move(listeners[i])});
      if (!job.busy) added.push_back(&job);
    }
    // Queued once all are in, so every one is placed by the same take rule (a lone job is looked at alone).
    TimePoint earliest = TimePoint::max();
    for (WatchedJob* job : added) earliest = std::min(earliest, rounds_.queue(*job));
    workers_.wake_for(earliest);
    return pushed;
  }

  /// The job being watched under `job_id`, made (with its first look planned) when there is none. Under the lock.
  WatchedJob& job_for(const std::string& job_id) {
    if (WatchedJob* found = shared_.waits.find(job_id)) return *found;
    const Seconds first = rounds_.first_wait();
    WatchedJob& job = shared_.waits.add_job(looks_.sender().begin(job_id, shared_.stop_source.get_token()));
    job.poller = JobPoller(first);
    job.next_look = shared_.schedule.plan(job.slot, job.call.start, first, TimePoint::max());
    return job;
  }

  /// Calls cancel() for the wait `serial` when `stop` is triggered.
  std::unique_ptr<StopListener> listen(const std::string& job_id, std::uint64_t serial, std::stop_token stop) {
    return std::make_unique<StopListener>(
        std::move(stop), std::function<void()>([this, job_id, serial] { cancel(std::string(job_id), serial); }));
  }

  /// Ends the wait `serial` for `job_id` as cancelled (its caller's stop was triggered). Takes the id by value:
  /// destroying the wait's stop_callback destroys the lambda that called this.
  void cancel(std::string job_id, std::uint64_t serial) {
    std::optional<Watch> ended;
    TranslationResult result;
    {
      std::lock_guard lock(shared_.mutex);
      WatchedJob* job = shared_.waits.find(job_id);
      if (job == nullptr) return;
      ended = shared_.waits.end_watch(*job, serial);
      if (!ended) return;
      result = cancelled_result(*job, clock_.now());
      if (job->watches.empty() && !job->busy) shared_.drop(*job);
      ++outside_deliveries_;
    }
    deliver(log(), job_id, ended->sink, std::move(result));
    delivered_outside();
  }

  /// A sink run outside the workers (by cancel() or settle()) has returned: stop() waits for these.
  void delivered_outside() {
    {
      std::lock_guard lock(shared_.mutex);
      --outside_deliveries_;
    }
    outside_delivered_.notify_all();
  }

  [[nodiscard]] const Logger& log() const noexcept { return looks_.sender().log(); }

  StatusLooks<T, C, P>& looks_;
  C& clock_;
  const FinalHook on_final_;
  std::atomic<std::uint64_t> serial_{0};
  PollerShared shared_;
  Rounds<T, C, P> rounds_;
  Workers<T, C, P> workers_;
  std::condition_variable outside_delivered_;
  std::size_t outside_deliveries_ = 0;  // sinks running on threads that are not workers (cancel, settle); locked
};

// ---------------------------------------------------------------------------------------------------------------------
// 35. Asset ingest: an uploaded asset watched until processed, on its own protocol.
// ---------------------------------------------------------------------------------------------------------------------

/// How an ingest is polled: small files ingest within seconds, so looks start after 0.25 s and grow to 5 s apart;
/// HeyGen holds no long polls, and ingests in flight together share one statuses request every 0.5 s.
inline PollPolicy ingest_policy() {
  PollPolicy policy;
  policy.initial_interval = Seconds(0.25);
  policy.cold_cap = Seconds(5.0);
  policy.max_interval = Seconds(5.0);
  policy.long_poll = Seconds(0);
  policy.many_status_interval = Seconds(0.5);
  return policy;
}

/// Watches uploaded assets until they are ingested: the poller every wait of the client runs on, speaking
/// HeyGenV3AssetProtocol, so ingests are jobs like any other (deadlines, cancellation, retries) and the ingests of
/// many uploads at once share `/v3/assets/statuses` requests (up to 100 ids). It has its own profile and rules:
/// an ingest takes seconds and a translation minutes, and what is learnt of one must not steer the other. Its
/// workers start with the first ingest watched.
template <Transport T, Clock C>
class AssetIngest {
 public:
  /// Workers for ingests: a few, since ingests in flight together share each request.
  static constexpr std::size_t max_workers = 2;

  /// Watches through `sender`, which must outlive this, with the base URL of `options`.
  AssetIngest(Sender<T, C>& sender, const ClientOptions& options)
      : protocol_(options),
        rules_(ingest_policy(), profile_, [&sender] { return sender.uniform(); }),
        looks_(sender, protocol_, rules_),
        poller_(looks_, std::min(max_workers, options.poller_threads)) {}

  AssetIngest(const AssetIngest&) = delete;
  AssetIngest& operator=(const AssetIngest&) = delete;

  /// Blocks until `asset_id` is ingested. Throws TranslationError when its ingest failed (job_failed), HeyGen knows
  /// no such asset (unknown_job), `deadline` passed, `stop` was triggered or the looks failed.
  void wait(const std::string& asset_id, TimePoint deadline, std::stop_token stop) {
    std::promise<TranslationResult> ended;
    std::future<TranslationResult> result = ended.get_future();
    poller_.watch(asset_id, deadline, std::move(stop),
                  [&ended](const std::string&, TranslationResult outcome) { ended.set_value(std::move(outcome)); });
    const TranslationResult outcome = result.get();
    if (outcome.ok()) return;
    std::string message = "asset ";
    message.append(asset_id).append(outcome.cause == FailureCause::job_failed ? " failed to ingest: " : ": ");
    message.append(outcome.error_message.value_or(std::string(to_string(outcome.cause))));
    throw TranslationError(outcome.cause, message, outcome.http_status, outcome.requests);
  }

  /// Ends every ingest being watched `cancelled` and joins the workers.
  void stop() noexcept { poller_.stop(); }

  /// What the ingest poller is doing: workers, assets watched, requests sent.
  [[nodiscard]] PollerStats stats() const { return poller_.stats(); }

 private:
  HeyGenV3AssetProtocol protocol_;
  ServerProfile profile_;
  PollingRules rules_;
  StatusLooks<T, C, HeyGenV3AssetProtocol> looks_;
  Poller<T, C, HeyGenV3AssetProtocol> poller_;  // last: stopped and joined before the parts it uses go
};

// ---------------------------------------------------------------------------------------------------------------------
// 36. Webhook endpoints: register, list, change and delete them, and rotate their secrets.
// ---------------------------------------------------------------------------------------------------------------------

/// A protocol that manages registered webhook endpoints (HeyGenV3Protocol does): the client's
/// create_webhook_endpoint, list_webhook_endpoints, update_webhook_endpoint, rotate_webhook_secret and
/// delete_webhook_endpoint exist only for such a protocol.
template <class P>
concept WebhookEndpointsProtocol = requires(const P& protocol, HttpRequest& out, const HttpResponse& response,
                                            const std::vector<std::string>& events,
                                            const std::optional<std::string>& url,
                                            const std::optional<std::vector<std::string>>& new_events) {
  protocol.webhook_endpoint_create_request(out, std::string_view(), events, std::string_view());
  protocol.webhook_endpoints_request(out, std::string_view());
  protocol.webhook_endpoint_update_request(out, std::string_view(), url, new_events);
  protocol.webhook_secret_rotate_request(out, std::string_view());
  protocol.webhook_endpoint_delete_request(out, std::string_view());
  { protocol.read_webhook_endpoint(response) } -> std::same_as<OrFailure<WebhookEndpoint>>;
  { protocol.read_webhook_endpoints(response) } -> std::same_as<OrFailure<WebhookEndpointPage>>;
  { protocol.read_rotated_secret(response) } -> std::same_as<OrFailure<std::string>>;
  { protocol.read_deleted(response, std::string_view()) } -> std::same_as<OrFailure<std::string>>;
};

/// The client's webhook endpoint calls, as free functions over its sender and protocol (the client's members
/// are one line each). Each is one call with the client's retries and deadline, and throws TranslationError
/// when it fails. Nothing here logs a secret: the sender logs failures, never an answer's body.
namespace webhook_endpoints {

/// Registers `url` for `events` (empty: all). One Idempotency-Key for every retry, for servers that honour it
/// (whether HeyGen does on this endpoint is not documented). The answer holds the secret.
template <class S, WebhookEndpointsProtocol P>
WebhookEndpoint create(S& sender, const P& protocol, std::string_view url, const std::vector<std::string>& events,
                       std::stop_token stop) {
  const std::string key = detail::random_key();
  return checked_call(
      sender, protocol, "create_webhook_endpoint", std::move(stop),
      [&](HttpRequest& out) { protocol.webhook_endpoint_create_request(out, url, events, key); },
      [&](const HttpResponse& response) { return protocol.read_webhook_endpoint(response); });
}

/// Every registered endpoint, page after page (without secrets). A page token seen before ends the list with a
/// bad_response failure rather than a loop.
template <class S, WebhookEndpointsProtocol P>
std::vector<WebhookEndpoint> list(S& sender, const P& protocol, std::stop_token stop) {
  std::vector<WebhookEndpoint> out;
  std::unordered_set<std::string> seen;
  for (std::string page;;) {
    WebhookEndpointPage got = checked_call(
        sender, protocol, "list_webhook_endpoints", stop,
        [&](HttpRequest& request) { protocol.webhook_endpoints_request(request, page); },
        [&](const HttpResponse& response) -> OrFailure<WebhookEndpointPage> {
          auto read = protocol.read_webhook_endpoints(response);
          if (read && !read->next_page.empty() && !seen.insert(read->next_page).second)
            return Failure{FailureCause::bad_response, "the server gave a page token twice"};
          return read;
        });
    for (auto& endpoint : got.endpoints) out.push_back(std::move(endpoint));
    if (got.next_page.empty()) return out;
    page = std::move(got.next_page);
  }
}

/// Changes an endpoint's url and/or events (nullopt: unchanged; an empty list: all events); the endpoint after.
template <class S, WebhookEndpointsProtocol P>
WebhookEndpoint update(S& sender, const P& protocol, std::string_view endpoint_id,
                       const std::optional<std::string>& url, const std::optional<std::vector<std::string>>& events,
                       std::stop_token stop) {
  return checked_call(
      sender, protocol, "update_webhook_endpoint", std::move(stop),
      [&](HttpRequest& out) { protocol.webhook_endpoint_update_request(out, endpoint_id, url, events); },
      [&](const HttpResponse& response) { return protocol.read_webhook_endpoint(response); });
}

/// Gives an endpoint a new secret (the old one stops signing at once); the new secret.
template <class S, WebhookEndpointsProtocol P>
std::string rotate(S& sender, const P& protocol, std::string_view endpoint_id, std::stop_token stop) {
  return checked_call(
      sender, protocol, "rotate_webhook_secret", std::move(stop),
      [&](HttpRequest& out) { protocol.webhook_secret_rotate_request(out, endpoint_id); },
      [&](const HttpResponse& response) { return protocol.read_rotated_secret(response); });
}

/// Deletes an endpoint.
template <class S, WebhookEndpointsProtocol P>
void remove(S& sender, const P& protocol, std::string_view endpoint_id, std::stop_token stop) {
  checked_call(
      sender, protocol, "delete_webhook_endpoint", std::move(stop),
      [&](HttpRequest& out) { protocol.webhook_endpoint_delete_request(out, endpoint_id); },
      [&](const HttpResponse& response) { return protocol.read_deleted(response, endpoint_id); });
}

}  // namespace webhook_endpoints

}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 37. Files in, files out: a video uploaded as an asset; a finished job's outputs downloaded.
// ---------------------------------------------------------------------------------------------------------------------

/// The client's upload_asset and download_outputs, as free functions over its sender and protocol.
namespace heygen::client_files {

/// The base name of `path`.
inline std::string base_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

/// `text` with anything but letters, digits, '.', '-' and '_' made '_', and no leading dot: a server's id never
/// names a folder or a hidden file.
inline std::string safe_name(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool plain =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    out += plain ? c : '_';
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

/// The extension of a URL's last path segment (lower-case letters and digits, up to 5), else `fallback`.
inline std::string extension_of(std::string_view url, std::string_view fallback) {
  std::string_view path = url.substr(0, url.find_first_of("?#"));
  path = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return std::string(fallback);
  const std::string_view extension = path.substr(dot + 1);
  const bool plain = !extension.empty() && extension.size() <= 5 &&
                     std::all_of(extension.begin(), extension.end(),
                                 [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
  return std::string(plain ? extension : fallback);
}

/// One output of a job: its kind ("video", "audio", "captions") and URL.
struct Output {
  std::string kind;  ///< What it is, and part of its file name.
  std::string url;   ///< Where it is now.
};

/// Each output a result names, in a fixed order: video, audio, then each caption file.
inline std::vector<Output> outputs_of(const JobOutputs& outputs) {
  std::vector<Output> out;
  if (outputs.video_url) out.push_back({"video", *outputs.video_url});
  if (outputs.audio_url) out.push_back({"audio", *outputs.audio_url});
  for (const auto& url : outputs.caption_urls) out.push_back({"captions", url});
  return out;
}

/// The file an output goes to in `dir`: `JOB.KIND.EXT`, as safe names.
inline std::string output_path(const std::string& dir, std::string_view job_id, const Output& output) {
  const std::string fallback = output.kind == "video" ? "mp4" : output.kind == "audio" ? "mp3" : "txt";
  std::string path = dir.empty() ? std::string(".") : dir;
  if (path.back() != '/') path += '/';
  return path + safe_name(std::string(job_id) + "." + output.kind + "." + extension_of(output.url, fallback));
}

/// Where translate_file stands, told as it goes.
struct TranslateProgress {
  /// What it is doing.
  enum class Phase {
    uploading,    ///< The source file is going up: `done` of `total` bytes.
    translating,  ///< A language's job has an outcome (`result`), or the jobs were created (`result` null).
    downloading,  ///< A language's outputs are coming down: `done` of `total` bytes of the current file.
  };
  Phase phase = Phase::uploading;             ///< What it is doing.
  std::string_view language{};                ///< The language concerned (empty while uploading).
  std::uint64_t done = 0;                     ///< Bytes moved so far (uploading, downloading).
  std::uint64_t total = 0;                    ///< Bytes in all (0 while unknown).
  const TranslationResult* result = nullptr;  ///< A job's outcome (translating).
};

/// How translate_file goes about it: who is told its progress, and whether outputs may replace existing files.
struct TranslateOptions {
  std::function<void(const TranslateProgress&)> progress{};  ///< Told each step; may be empty.
  bool overwrite = false;                                    ///< Replace files already in the output folder.

  TranslateOptions() = default;
  /// Options with just a progress callback, so a lambda can stand where the options go.
  template <class F>
    requires std::constructible_from<std::function<void(const TranslateProgress&)>, F> TranslateOptions(F on_progress)
        : progress(std::move(on_progress)) {}  // NOLINT(google-explicit-constructor)
};

/// One language of a translated file: its job, the outcome, the files written, or why there are none.
struct TranslatedOutput {
  std::string language{};           ///< The language, as asked for.
  std::string job_id{};             ///< The translation's job id.
  TranslationResult result{};       ///< How the job ended.
  std::vector<Downloaded> files{};  ///< The outputs on disk (empty when the job failed or a download did).
  std::string error{};              ///< Why there are no files, when there are none.
};

/// The stem translate_file names a language's files by: the source's name without its extension, then the language.
inline std::string translated_name(std::string_view source_path, std::string_view language) {
  std::string stem = base_name(source_path);
  if (const auto dot = stem.rfind('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
  return safe_name(stem + "." + std::string(language));
}

/// True when folder `dir` holds a file named NAME.something (a temporary ".part" file aside): an earlier run wrote
/// outputs under this name. A folder that cannot be read holds none.
inline bool holds_outputs(const std::string& dir, const std::string& name) {
  DIR* folder = ::opendir(dir.empty() ? "." : dir.c_str());
  if (folder == nullptr) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(folder)) {  // NOLINT(concurrency-mt-unsafe): one stream per call
    const std::string_view file = entry->d_name;
    if (file.size() > name.size() + 1 && file.substr(0, name.size()) == name && file[name.size()] == '.') {
      found = true;
      break;
    }
  }
  ::closedir(folder);
  return found;
}

/// Throws FileError, before anything is uploaded or paid for, when `dir` already holds outputs of `path`
/// translated into one of `languages`.
inline void refuse_translated(const std::string& dir, const std::string& path,
                              const std::vector<std::string>& languages) {
  for (const auto& language : languages) {
    const std::string name = translated_name(path, language);
    if (!holds_outputs(dir, name)) continue;
    std::string held = dir;
    held.append("/").append(name).append(".*");
    std::string why = "already holds this file's translation into ";
    why.append(language).append(" (not overwritten; or overwrite)");
    throw FileError(held, why);
  }
}

/// Makes `dir` if it is missing (one level); throws FileError when it cannot, or when it is not a folder.
inline void ensure_folder(const std::string& dir) {
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) throw FileError(dir, "is not a folder");
    return;
  }
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw FileError(dir, "cannot create the folder", errno);
}

/// Downloads every output `result` names into `dir`. `fresh_look` looks at the job once more when a URL expired;
/// the output of the same kind and place in its answer carries on from the byte reached.
template <class S>
std::vector<Downloaded> download_outputs(S& sender, std::string_view job_id, const TranslationResult& result,
                                         const std::string& dir, const DownloadOptions& options,
                                         const std::function<TranslationResult()>& fresh_look, std::stop_token stop) {
  if (!result.ok()) throw std::invalid_argument("heygen: download_outputs needs a completed translation");
  const std::vector<Output> outputs = outputs_of(result.outputs);
  if (outputs.empty()) throw std::invalid_argument("heygen: the translation names no output to download");
  ensure_folder(dir.empty() ? std::string(".") : dir);
  std::vector<Downloaded> out;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto fresh_url = [&, i]() -> std::optional<std::string> {
      const TranslationResult again = fresh_look();
      const std::vector<Output> now = outputs_of(again.outputs);
      if (i < now.size() && now[i].kind == outputs[i].kind) return now[i].url;
      return std::nullopt;
    };
    const std::string_view name = options.name.empty() ? job_id : std::string_view(options.name);
    out.push_back(
        downloads::fetch(sender, outputs[i].url, output_path(dir, name, outputs[i]), options, fresh_url, stop));
  }
  return out;
}

/// Uploads the file at `path` as a HeyGen asset (a direct upload: open, PUT streamed from disk, complete); the asset
/// id, whose ingest has begun (the client's AssetIngest watches it). Throws FileError for the file (missing, a
/// folder, empty, of a type HeyGen does not take, changed while sent) and TranslationError for the rest.
template <class S>
std::string upload_asset(S& sender, const HeyGenV3Protocol& protocol, const std::string& path,
                         const UploadOptions& options, std::stop_token stop) {
  files::SourceFile file = files::SourceFile::open(path);
  const std::string type =
      options.content_type.empty() ? std::string(uploads::content_type_of(path)) : options.content_type;
  if (type.empty())
    throw FileError(path, "is of a type HeyGen does not take (mp4, webm, mov, mp3, wav, png, jpeg, pdf, srt)");
  const std::string checksum = uploads::checksum_of(file, options.checksum);
  std::string asset_id;
  const auto open_upload = [&](bool) {
    DirectUpload upload = checked_call(
        sender, protocol, "direct upload", stop,
        [&](HttpRequest& out) {
          v3::assets::direct_upload_request(out, protocol.prefix(), base_name(path), type, file.size(), checksum);
        },
        [&](const HttpResponse& response) { return v3::assets::read_direct_upload(response); });
    asset_id = upload.asset_id;
    return UploadTarget{std::move(upload.upload_url), std::move(upload.headers)};
  };
  uploads::put(sender, file, open_upload, options, stop);
  checked_call(
      sender, protocol, "complete upload", stop,
      [&](HttpRequest& out) { v3::assets::complete_request(out, protocol.prefix(), asset_id, checksum); },
      [&](const HttpResponse& response) { return v3::assets::read_completed(response, asset_id); });
  return asset_id;
}

}  // namespace heygen::client_files

namespace heygen {
/// Where translate_file stands (see client_files::TranslateProgress).
using client_files::TranslateProgress;
/// One language of a translated file (see client_files::TranslatedOutput).
using client_files::TranslatedOutput;
/// How translate_file goes about it (see client_files::TranslateOptions).
using client_files::TranslateOptions;

// ---------------------------------------------------------------------------------------------------------------------
// 38. Bulk collector: a bulk call's results in one map, each told to the caller as it comes.
// ---------------------------------------------------------------------------------------------------------------------

/// Collects a bulk call's results into its map, passing each to the caller's callback (serialized); the last
/// result fulfils the future.
class BulkCollector {
 public:
  /// A collector for `total` results; `log` must outlive it. With none to wait for, the future is ready at once.
  BulkCollector(std::size_t total, BulkCallback on_result, const Logger& log)
      : total_(total), on_result_(std::move(on_result)), log_(log) {
    if (total_ == 0) promise_.set_value({});
  }

  /// The map of every result, once all are in (call once).
  std::future<ResultMap> future() { return promise_.get_future(); }

  /// Records one job's result and tells the caller's callback; the last one fulfils the future (true then). The
  /// callback runs outside the results' lock, one call at a time (a recursive lock: a callback that cancels the call
  /// re-enters here on its own thread, through the poller, to record the cancelled jobs). A second result for a
  /// job is dropped.
  bool add(const std::string& job_id, TranslationResult result) {
    std::lock_guard tell_lock(tell_mutex_);
    const TranslationResult told = result;
    std::size_t done = 0;
    {
      std::lock_guard lock(mutex_);
      if (!results_.emplace(job_id, std::move(result)).second) return false;
      done = results_.size();
    }
    tell(job_id, told, done);
    if (done < total_) return false;
    std::lock_guard lock(mutex_);
    promise_.set_value(std::move(results_));
    return true;
  }

 private:
  /// The caller's callback, its exceptions logged and swallowed (the poller's thread must go on).
  void tell(const std::string& job_id, const TranslationResult& result, std::size_t done) noexcept {
    if (!on_result_) return;
    try {
      on_result_(job_id, result, BulkProgress{done, total_});
    } catch (const std::exception& e) {
      log_(LogLevel::error, [&] { return "job " + job_id + ": result callback threw: " + e.what(); });
    } catch (...) {
      log_(LogLevel::error, [&] { return "job " + job_id + ": result callback threw"; });
    }
  }

  std::recursive_mutex tell_mutex_;  // serializes the callback
  std::mutex mutex_;                 // guards results_ and promise_
  std::size_t total_;
  BulkCallback on_result_;
  const Logger& log_;
  ResultMap results_;
  std::promise<ResultMap> promise_;
};

// ---------------------------------------------------------------------------------------------------------------------
// 39. Client core: the parts one client is made of, built from its checked options.
// ---------------------------------------------------------------------------------------------------------------------

/// `options` when every field is usable; else throws std::invalid_argument naming the first that is not.
inline ClientOptions checked_options(ClientOptions options) {
  BaseUrl::parse(options.base_url);
  auto require = [](bool good, const char* what) {
    if (!good) throw std::invalid_argument(std::string("heygen: ") + what);
  };
  auto non_negative = [](Seconds s) { return std::isfinite(s.count()) && s.count() >= 0.0; };
  require(options.max_retries >= 0, "max_retries must not be negative");
  require(non_negative(options.initial_backoff), "initial_backoff must be finite and not negative");
  require(non_negative(options.max_backoff), "max_backoff must be finite and not negative");
  require(non_negative(options.max_timeout) && options.max_timeout.count() > 0, "max_timeout must be positive");
  require(non_negative(options.request_timeout) && options.request_timeout.count() > 0,
          "request_timeout must be positive");
  require(non_negative(options.connect_timeout) && options.connect_timeout.count() > 0,
          "connect_timeout must be positive");
  const PollPolicy& poll = options.polling;
  require(non_negative(poll.initial_interval) && non_negative(poll.max_interval) && non_negative(poll.min_interval) &&
              non_negative(poll.cold_cap) && non_negative(poll.long_poll) && non_negative(poll.coalesce) &&
              non_negative(poll.many_status_interval),
          "polling intervals must be finite and not negative");
  require(std::isfinite(poll.lag_ratio) && poll.lag_ratio > 0.0 && poll.lag_ratio <= 1.0,
          "polling.lag_ratio must be in (0, 1]");
  require(std::isfinite(poll.multiplier) && poll.multiplier >= 1.0, "polling.multiplier must be at least 1");
  require(std::isfinite(poll.jitter) && poll.jitter >= 0.0 && poll.jitter <= 1.0, "polling.jitter must be in [0, 1]");
  require(options.max_body_bytes > 0, "max_body_bytes must be positive");
  require(options.connection_pool_size > 0, "connection_pool_size must be positive");
  require(options.poller_threads > 0, "poller_threads must be positive");
  const WebhookOptions& hook = options.webhook;
  require(non_negative(hook.safety_interval) && hook.safety_interval.count() > 0,
          "webhook.safety_interval must be positive");
  require(std::isfinite(hook.safety_age_ratio) && hook.safety_age_ratio >= 0.0 && hook.safety_age_ratio <= 1.0,
          "webhook.safety_age_ratio must be in [0, 1]");
  require(non_negative(hook.timestamp_tolerance), "webhook.timestamp_tolerance must be finite and not negative");
  require(hook.max_body_bytes > 0, "webhook.max_body_bytes must be positive");
  require(!detail::has_line_break(options.bearer_token), "bearer_token must not contain line breaks");
  require(!detail::has_line_break(options.api_key), "api_key must not contain line breaks");
  require(std::none_of(options.user_agent_suffix.begin(), options.user_agent_suffix.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }),
          "user_agent_suffix must hold no control character");
  for (const auto& header : options.extra_headers)
    require(!header.name.empty() && !detail::has_line_break(header.name) && !detail::has_line_break(header.value) &&
                header.name.find(':') == std::string::npos,
            "extra_headers must have a name and hold no line breaks");
  return options;
}

/// The parts of one client, wired together: the client keeps one on the heap, because the parts refer to one
/// another and a client stays movable. Built from options already checked (checked_options()).
template <Transport T, Clock C, Protocol P>
struct ClientCore {
  ClientOptions options;                      ///< As checked.
  std::shared_ptr<ServerProfile> profile;     ///< What is learnt of the server (the options' own, or a new one).
  P protocol;                                 ///< The wire format.
  Sender<T, C> sender;                        ///< Requests with retries, deadlines and logging.
  PollingRules rules;                         ///< When to look again.
  StatusLooks<T, C, P> looks;                 ///< One status look and what it comes to.
  std::unique_ptr<WebhookVerifier> verifier;  ///< When pushes can be verified (a secret or a verify function).
  CallbackBook callbacks;                     ///< The callback_id each create sent, for unsigned pushes.
  Poller<T, C, P> poller;                     ///< After the parts it uses: stopped and joined before they go.
  std::unique_ptr<AssetIngest<T, C>> ingest;  ///< HeyGen's asset ingests, watched as jobs; none for other servers.

  /// Jobs awaiting a push whose callback_id is remembered, at most.
  static constexpr std::size_t max_open_callbacks = 1'000'000;

  /// The parts for `checked`, on a transport `make_transport` makes from the options, and the protocol given
  /// (none: one made from the options).
  template <class MakeTransport>
  ClientCore(ClientOptions checked, MakeTransport&& make_transport, C clock, std::optional<P> given_protocol)
      : options(std::move(checked)),
        profile(options.profile ? options.profile : std::make_shared<ServerProfile>()),
        protocol(pick_protocol(given_protocol, options)),
        sender(options, make_transport(options), std::move(clock)),
        rules(options.polling, *profile, [this] { return sender.uniform(); }),
        looks(sender, protocol, rules),
        verifier(make_verifier(options, protocol)),
        callbacks(max_open_callbacks, options.webhook.remember),
        poller(looks, options.poller_threads, safety_of(options),
               [this](const std::string& job_id) {
                 if (verifier) verifier->note_settled(job_id);
                 callbacks.finish(job_id);
               }),
        ingest(make_ingest(sender, options)) {}

  /// When a wait started now with `timeout` ends (0: the options' max_timeout); throws std::invalid_argument for
  /// a negative or infinite one.
  TimePoint deadline_of(Seconds timeout) {
    if (timeout == Seconds(0)) timeout = options.max_timeout;
    if (!std::isfinite(timeout.count()) || timeout.count() < 0.0)
      throw std::invalid_argument("heygen: a wait's timeout must be finite and not negative");
    return sender.clock().now() + detail::to_clock(timeout);
  }

  /// The protocol the caller gave, else one made from the options.
  static P pick_protocol(std::optional<P>& given, const ClientOptions& options) {
    if constexpr (std::constructible_from<P, const ClientOptions&>)
      if (!given) return P(options);
    if (!given) throw std::invalid_argument("heygen: this protocol cannot be made from ClientOptions; pass one");
    return std::move(*given);
  }

  /// A verifier for pushes when the options can check them and the protocol reads them; else none.
  static std::unique_ptr<WebhookVerifier> make_verifier(const ClientOptions& options, const P& protocol) {
    if constexpr (PushProtocol<P>) {
      if (!options.webhook.secret.empty() || options.webhook.verify)
        return std::make_unique<WebhookVerifier>(options.webhook, protocol);
    }
    return nullptr;
  }

  /// The watcher of uploaded assets' ingests, for a HeyGen client (its workers start with the first upload).
  static std::unique_ptr<AssetIngest<T, C>> make_ingest(Sender<T, C>& sender, const ClientOptions& options) {
    if constexpr (std::same_as<P, HeyGenV3Protocol>)
      return std::make_unique<AssetIngest<T, C>>(sender, options);
    else
      return nullptr;
  }

  /// Safety-net polling when creates ask for pushes.
  static std::optional<SafetyPolling> safety_of(const ClientOptions& options) {
    if (options.webhook_url.empty()) return std::nullopt;
    return SafetyPolling{options.webhook.safety_interval, options.webhook.safety_age_ratio};
  }
};

// ---------------------------------------------------------------------------------------------------------------------
// 40. Client webhooks: pushes taken as the client's trust says; creates that ask for pushes.
// ---------------------------------------------------------------------------------------------------------------------

/// Takes pushes for one client's core: a signed push is verified and settles its job's waits at once; an unsigned
/// one is a hint, taken only with the callback_id its job's create sent, and one look at the job confirms it.
/// A view over the core: cheap to make for each push.
template <Transport T, Clock C, Protocol P>
class PushIntake {
 public:
  /// Takes pushes for `core`, which must outlive it.
  explicit PushIntake(ClientCore<T, C, P>& core) noexcept : core_(core) {}

  /// Which pushes are taken: the options' `webhook.trust`, else the protocol's default, else signature.
  [[nodiscard]] PushTrust trust() const noexcept {
    if (core_.options.webhook.trust) return *core_.options.webhook.trust;
    if constexpr (requires { P::default_push_trust; })
      return P::default_push_trust;
    else
      return PushTrust::signature;
  }

  /// One push (headers and raw body) taken by trust(); refusals are logged at info.
  WebhookReply take(const std::vector<HttpHeader>& headers, std::string_view body) {
    const PushTrust how = trust();
    const bool signed_push = detail::header_value(headers, core_.options.webhook.signature_header).has_value();
    WebhookReply out = how == PushTrust::signature || (how == PushTrust::either && signed_push)
                           ? take_signed(headers, body)
                           : take_hint(body);
    if (out.verdict != WebhookVerdict::accepted && out.verdict != WebhookVerdict::confirming)
      core_.sender.log()(LogLevel::info, [&] {
        return "push " + std::string(to_string(out.verdict)) + (out.reason.empty() ? "" : ": " + out.reason);
      });
    return out;
  }

 private:
  /// A signed push: verified, read, and settling its job's waits at once.
  WebhookReply take_signed(const std::vector<HttpHeader>& headers, std::string_view body) {
    if (!core_.verifier) return reply(WebhookVerdict::bad_signature, "no webhook secret or verify function is set");
    auto checked = core_.verifier->check(headers, body);
    if (checked.verdict == WebhookVerdict::accepted) {
      PushedStatus& push = *checked.push;
      const bool settled = core_.poller.settle(push.job_id, StatusLooks<T, C, P>::from_answer(std::move(push.answer)));
      checked.verdict = core_.verifier->note_outcome(push.job_id, settled);
      if (settled) core_.callbacks.finish(push.job_id);
      if (checked.verdict == WebhookVerdict::unknown_job)  // it may have beaten the create's answer to the caller
        checked.reason = "no wait for this job now: kept for one that begins later";
    }
    return reply(checked.verdict, std::move(checked.reason));
  }

  /// An unsigned push: a hint, taken only with the callback_id its job's create sent; one look confirms it.
  WebhookReply take_hint(std::string_view body) {
    if constexpr (PushProtocol<P>) {
      const std::size_t cap = core_.options.webhook.max_body_bytes;
      if (body.size() > cap)
        return reply(WebhookVerdict::too_large,
                     "body of " + std::to_string(body.size()) + " bytes, over the cap of " + std::to_string(cap));
      OrFailure<PushedStatus> push = core_.protocol.read_push(body);
      if (!push) return reply(WebhookVerdict::malformed, push.failure().message);
      switch (core_.callbacks.match(push->job_id, push->callback_id)) {
        case CallbackMatch::finished: return reply(WebhookVerdict::duplicate, "the job was already settled");
        case CallbackMatch::unknown:
          return reply(WebhookVerdict::bad_callback, "no create of this client is waiting for this job's push");
        case CallbackMatch::differs:
          return reply(WebhookVerdict::bad_callback, "the callback_id is not the one the job's create sent");
        case CallbackMatch::matches: break;
      }
      const HintOutcome outcome = core_.poller.hint(push->job_id);
      return reply(WebhookVerdict::confirming,
                   outcome == HintOutcome::coalesced ? "a look at the job is under way" : "");
    } else {
      (void)body;
      return reply(WebhookVerdict::bad_signature, "this protocol reads no pushes");
    }
  }

  /// A webhook reply for `verdict`.
  static WebhookReply reply(WebhookVerdict verdict, std::string reason) {
    return {verdict, http_status(verdict), std::move(reason)};
  }

  ClientCore<T, C, P>& core_;
};

/// `input` asking for a push to `webhook_url` (with `callback_id` for matching, unless it names its own), unless
/// `webhook_url` is empty, the input names a callback of its own, or the protocol's inputs have none.
template <class Input>
Input with_callback(const Input& input, const std::string& webhook_url, const std::string& callback_id) {
  Input out = input;
  if constexpr (requires {
                  out.callback_url = std::string();
                  out.callback_id = std::string();
                }) {
    const auto is_set = [](const auto& field) {
      if constexpr (requires { field.has_value(); })
        return field.has_value();
      else
        return !field.empty();
    };
    if (!webhook_url.empty() && !is_set(out.callback_url)) {
      out.callback_url = webhook_url;
      if (!is_set(out.callback_id)) out.callback_id = callback_id;  // the caller's own id is echoed back as given
    }
  }
  return out;
}

/// The callback_id `input` sends (echoed by its pushes), or empty when it sends none.
template <class Input>
std::string callback_id_of(const Input& input) {
  if constexpr (requires { std::string(input.callback_id.value_or("")); })
    return input.callback_id.value_or("");
  else if constexpr (requires { std::string(input.callback_id); })
    return input.callback_id;
  else
    return {};
}

}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 41. Client journal: a create's intent, and outcomes written before they are handed over.
// ---------------------------------------------------------------------------------------------------------------------

namespace heygen::client_journal {

/// The kind a journal gives translations.
inline constexpr std::string_view translation_kind = "translation";

/// A create's request as a journal's input: method, URL, target, the headers the protocol added (its
/// Idempotency-Key among them; never the credentials, which the first `credential_headers` hold) and body. Sent
/// again as it is, it is the same create.
inline std::string request_record(const HttpRequest& request, std::size_t credential_headers) {
  picojson::array headers;
  for (std::size_t i = credential_headers; i < request.headers.size(); ++i) {
    picojson::array pair{picojson::value(request.headers[i].name), picojson::value(request.headers[i].value)};
    headers.emplace_back(std::move(pair));
  }
  picojson::object out;
  out["method"] = picojson::value(request.method);
  out["url"] = picojson::value(request.url);
  out["target"] = picojson::value(request.target);
  out["headers"] = picojson::value(std::move(headers));
  out["body"] = picojson::value(request.body);
  return picojson::value(std::move(out)).serialize();
}

/// Makes `request` (a blank one, with the credentials) the create `input` (from request_record) recorded; false
/// when `input` is not such a record.
inline bool restore_request(std::string_view input, HttpRequest& request) {
  picojson::value parsed;
  if (json::parse_object(input, parsed)) return false;
  const auto& object = parsed.get<picojson::object>();
  const auto method = json::string_field(object, "method");
  const auto target = json::string_field(object, "target");
  const auto body = json::string_field(object, "body");
  const auto headers = object.find("headers");
  if (!method || !target || !body || headers == object.end() || !headers->second.is<picojson::array>()) return false;
  for (const auto& pair : headers->second.get<picojson::array>()) {
    if (!pair.is<picojson::array>()) return false;
    const auto& items = pair.get<picojson::array>();
    if (items.size() != 2 || !items[0].is<std::string>() || !items[1].is<std::string>()) return false;
    request.headers.push_back({items[0].get<std::string>(), items[1].get<std::string>()});
  }
  request.method = *method;
  request.url = json::string_field(object, "url").value_or("");
  request.target = *target;
  request.body = *body;
  return true;
}

/// What the exception being handled says (call only inside a catch block).
inline std::string failure_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "the journal threw";
  }
}

/// True when `result` is the job's outcome as the server gave it (completed, failed, or unknown to it): what a
/// journal settles. A deadline, a cancel or a network failure ends a wait, not the job: it stays watched.
inline bool settles(const TranslationResult& result) {
  return result.job_finished() || result.cause == FailureCause::unknown_job;
}

/// Writes `result` of job `id` before it is handed over, when it settles the job. A journal that fails is logged
/// (the outcome is still handed over, and the job stays watched in the journal: a restart looks at it again).
inline void settle(const AnyJournal& journal, const Logger& log, const std::string& id,
                   const TranslationResult& result) {
  if (!journal || !settles(result)) return;
  try {
    const Settlement settlement{std::string(translation_kind), id, result};
    journal.settle({&settlement, 1});
  } catch (...) {  // a journal of the caller's may throw anything: the outcome must still reach the caller
    log(LogLevel::error, [why = failure_text()] { return why + " (the outcome is handed over all the same)"; });
  }
}

/// Marks job `id`'s outcome handed over, after the caller got it; a journal that fails is logged (the outcome comes
/// back at a restart: at least once).
inline void mark_handed_over(const AnyJournal& journal, const Logger& log, const std::string& id) {
  if (!journal) return;
  try {
    journal.hand_over(translation_kind, id);
  } catch (...) {
    log(LogLevel::error, [why = failure_text()] { return why + " (the outcome may be handed over again)"; });
  }
}

/// mark_handed_over() for an outcome that was settled (a wait that merely ended has nothing to mark).
inline void hand_over(const AnyJournal& journal, const Logger& log, const std::string& id,
                      const TranslationResult& result) {
  if (journal && settles(result)) mark_handed_over(journal, log, id);
}

/// `deliver` wrapped so that each outcome is written before it and marked handed over after it.
template <class Deliver>
auto journaled(AnyJournal journal, const Logger& log, Deliver deliver) {
  return [journal = std::move(journal), &log, deliver = std::move(deliver)](const std::string& id,
                                                                            TranslationResult result) mutable {
    settle(journal, log, id, result);
    deliver(id, result);
    hand_over(journal, log, id, result);
  };
}

/// The jobs of one bulk wait whose outcomes were settled: marked handed over together once the wait's map is
/// complete (the future has them), from whichever worker completes it.
class SettledJobs {
 public:
  /// Notes a job whose outcome was settled in `journal` (none: nothing to note).
  void add(const AnyJournal& journal, const std::string& id, const TranslationResult& result) {
    if (!journal || !settles(result)) return;
    std::lock_guard lock(mutex_);
    ids_.push_back(id);
  }
  /// Marks every noted job handed over.
  void hand_over(const AnyJournal& journal, const Logger& log) {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mutex_);
      ids.swap(ids_);
    }
    for (const auto& id : ids) mark_handed_over(journal, log, id);
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> ids_;
};

/// Watches `ids` in the journal (a wait started on them); a journal that fails is logged.
inline void watch(const AnyJournal& journal, const Logger& log, const std::vector<std::string>& ids) {
  if (!journal) return;
  try {
    for (const auto& id : ids) journal.watch(translation_kind, id);
  } catch (...) {
    log(LogLevel::error,
        [why = failure_text()] { return why + " (the wait goes on, but a restart will not know it)"; });
  }
}

/// The result handed over for an intent given up: the create may or may not have made a job.
inline TranslationResult unknown_outcome(const CreateRecord& intent) {
  TranslationResult result;
  result.status = TranslationStatus::error;
  result.cause = FailureCause::unknown_outcome;
  result.error_message = "create " + intent.key +
                         ": its answer was never written and the server's replay window has passed; it may or may "
                         "not have started a job (creating again could pay for a second one)";
  return result;
}

}  // namespace heygen::client_journal

// ---------------------------------------------------------------------------------------------------------------------
// 42. BasicVideoTranslationClient: the seed's API, a thin facade over the parts.
// ---------------------------------------------------------------------------------------------------------------------

namespace heygen {

/// Creates jobs and tracks them. Safe to call from many threads at once: every call keeps its own state
/// (deadline, attempt counts) on its own stack, never on the client. The transport must be thread-safe.
template <Transport T, Clock C = SteadyClock, Protocol P = TrackerProtocol>
class BasicVideoTranslationClient {
 public:
  /// The transport type requests go through.
  using transport_type = T;
  /// The clock type waits are measured with.
  using clock_type = C;
  /// The protocol spoken with the server.
  using protocol_type = P;
  /// The map bulk calls return: job id → result.
  using ResultMap = heygen::ResultMap;

  /// Builds a client whose transport is made from the options (the bundled transport's way).
  explicit BasicVideoTranslationClient(
      ClientOptions options) requires std::constructible_from<T, const ClientOptions&> && std::default_initializable<C>
      : core_(make_core(checked_options(std::move(options)), [](const ClientOptions& o) { return T(o); }, C{}, {})) {}

  /// Builds a client from the base URL alone, with the seed's defaults. A template, so that a braced list of
  /// designated initializers (`{.base_url = ..., .max_retries = 3}`) can only mean ClientOptions.
  template <class Url>
    requires std::convertible_to<const Url&, std::string_view> && std::constructible_from<T, const ClientOptions&> &&
        std::default_initializable<C>
  explicit BasicVideoTranslationClient(const Url& base_url)
      : BasicVideoTranslationClient(ClientOptions{.base_url = std::string(std::string_view(base_url))}) {}

  /// Builds a client on a transport (and clock) the caller brings.
  BasicVideoTranslationClient(ClientOptions options, T transport, C clock = C{})
      : core_(make_core(checked_options(std::move(options)), given(transport), std::move(clock), {})) {}

  /// Builds a client on a transport, a clock and a protocol the caller brings.
  BasicVideoTranslationClient(ClientOptions options, T transport, C clock, P protocol)
      : core_(make_core(checked_options(std::move(options)), given(transport), std::move(clock), std::move(protocol))) {
  }

  /// Creates a job and returns its id. Retries transient failures with one Idempotency-Key, so a retry after
  /// a lost answer never makes a second job. Throws TranslationError once retries or time run out.
  std::string create_translation_job(
      std::stop_token stop = {}) requires std::default_initializable<typename P::create_input> {
    return create_translation_jobs(typename P::create_input{}, std::move(stop)).front();
  }

  /// Creates what `input` describes and returns the id of every job it started (one per output language on
  /// servers that translate into several at once). Same retries and errors as create_translation_job; a server
  /// that paces creates (HeyGen's 429 while the account runs its most jobs) is waited out within max_timeout.
  std::vector<std::string> create_translation_jobs(const typename P::create_input& input, std::stop_token stop = {}) {
    CallState call = core_->sender.begin({}, std::move(stop));
    OrFailure<std::vector<std::string>> ids = create(input, call);
    if (!ids) {
      Failure failure = std::move(ids).failure();
      if (core_->options.journal && !refused(failure, call))
        failure.message +=
            " (the journal keeps its intent: resume() sends it again with its key, and gets the job "
            "it may have made)";
      throw call_error("create_translation_job", call, failure);
    }
    return std::move(ids).value();
  }

  /// Creates every input, one after another, each with its own max_timeout; returns what each came to, in
  /// order. When the account may run no more jobs, the rest wait their turn (`on_progress` says so) instead of
  /// failing. Throws std::invalid_argument, before sending anything, for an input the protocol refuses.
  std::vector<Submitted> submit_translations(const std::vector<typename P::create_input>& inputs,
                                             const SubmitCallback& on_progress = {}, std::stop_token stop = {}) {
    for (const auto& input : inputs) {  // every input checked first: a bad one must not strand the rest
      HttpRequest probe;
      core_->protocol.create_request(probe, input, "check");
    }
    std::vector<Submitted> out(inputs.size());
    SubmitProgress progress{0, 0, inputs.size(), inputs.size(), std::nullopt};
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      CallState call = core_->sender.begin({}, stop);
      call.on_paced = [&](Seconds wait) {
        progress.waiting_for_slot = wait;
        if (on_progress) on_progress(progress);
      };
      OrFailure<std::vector<std::string>> ids = create(inputs[i], call);
      progress.waiting_for_slot.reset();
      --progress.queued;
      if (ids) {
        ++progress.created;
        out[i].job_ids = std::move(ids).value();
      } else {
        ++progress.failed;
        out[i].failure = std::move(ids).failure();
      }
      if (on_progress) on_progress(progress);
    }
    return out;
  }

  /// The languages the server translates into (names to use in output_languages), for protocols that list them.
  /// Throws TranslationError when the list cannot be had.
  std::vector<std::string> list_languages(std::stop_token stop = {}) requires
      requires(const P& protocol, HttpRequest& out, const HttpResponse& response) {
    protocol.languages_request(out);
    { protocol.read_languages(response) } -> std::same_as<OrFailure<std::vector<std::string>>>;
  }
  {
    CallState call = core_->sender.begin({}, std::move(stop));
    HttpRequest request = core_->sender.blank_request();
    core_->protocol.languages_request(request);
    OrFailure<HttpResponse> response = core_->sender.send(std::move(request), call, core_->protocol);
    if (!response) throw call_error("list_languages", call, response.failure());
    OrFailure<std::vector<std::string>> languages = core_->protocol.read_languages(response.value());
    if (!languages) throw call_error("list_languages", call, languages.failure());
    return std::move(languages).value();
  }

  /// Registers a webhook endpoint at `url` for `events` (empty: all); the answer carries its signing secret, shown
  /// only here and by rotate_webhook_secret. Throws TranslationError on failure.
  WebhookEndpoint create_webhook_endpoint(std::string_view url, const std::vector<std::string>& events = {},
                                          std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    return webhook_endpoints::create(core_->sender, core_->protocol, url, events, std::move(stop));
  }

  /// Every registered webhook endpoint, without secrets. Throws TranslationError on failure.
  std::vector<WebhookEndpoint> list_webhook_endpoints(std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    return webhook_endpoints::list(core_->sender, core_->protocol, std::move(stop));
  }

  /// Changes a webhook endpoint's url and/or events (nullopt: unchanged; an empty list: all events); the endpoint
  /// after. Throws TranslationError on failure (an unknown id: http_status 404).
  WebhookEndpoint update_webhook_endpoint(std::string_view endpoint_id, const std::optional<std::string>& url,
                                          const std::optional<std::vector<std::string>>& events = std::nullopt,
                                          std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    return webhook_endpoints::update(core_->sender, core_->protocol, endpoint_id, url, events, std::move(stop));
  }

  /// Gives a webhook endpoint a new signing secret, returned (the old one stops at once). Throws TranslationError.
  std::string rotate_webhook_secret(std::string_view endpoint_id,
                                    std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    return webhook_endpoints::rotate(core_->sender, core_->protocol, endpoint_id, std::move(stop));
  }

  /// Deletes a webhook endpoint. Throws TranslationError on failure (an unknown id: http_status 404).
  void delete_webhook_endpoint(std::string_view endpoint_id,
                               std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    webhook_endpoints::remove(core_->sender, core_->protocol, endpoint_id, std::move(stop));
  }

  /// Uploads the file at `path` as a HeyGen asset (a direct upload streamed from disk, its SHA-256 sent) and waits
  /// until HeyGen has ingested it (watched as a job: the ingests of many uploads share each statuses request, and
  /// the wait ends by max_timeout or `stop`); the asset id, for TranslationRequest::video_asset_id. Throws FileError
  /// for the file and TranslationError for the rest. Needs a transport that streams (the bundled one does).
  std::string upload_asset(const std::string& path, const UploadOptions& options = {},
                           std::stop_token stop = {}) requires std::same_as<P, HeyGenV3Protocol> {
    std::string asset_id = client_files::upload_asset(core_->sender, core_->protocol, path, options, stop);
    core_->ingest->wait(asset_id, core_->deadline_of(Seconds(0)), std::move(stop));
    return asset_id;
  }

  /// The whole job for one local file: uploads it, creates a translation into each language, waits for them (by
  /// push where the client takes pushes, else by polling, on the client's one poller, so many files at once share
  /// its many-status requests), and downloads each language's outputs into `out_dir` as STEM.LANGUAGE.KIND.EXT.
  /// `request` gives the other fields (title, captions...); `options` the progress callback and overwrite. A language
  /// whose job failed, or whose download failed, says why in its entry and the others go on; throws FileError or
  /// TranslationError when the upload or the create fails.
  std::vector<TranslatedOutput> translate_file(const std::string& path, const std::vector<std::string>& languages,
                                               const std::string& out_dir, TranslationRequest request = {},
                                               const TranslateOptions& options = {},
                                               std::stop_token stop = {}) requires std::same_as<P, HeyGenV3Protocol> {
    const auto tell = [&](TranslateProgress step) {
      if (options.progress) options.progress(step);
    };
    if (!options.overwrite) client_files::refuse_translated(out_dir, path, languages);
    UploadOptions upload;
    upload.progress = [&](std::uint64_t done, std::uint64_t total) { tell({.done = done, .total = total}); };
    request.video_asset_id = upload_asset(path, upload, stop);
    request.video_url.clear();
    request.output_languages = languages;
    const std::vector<std::string> ids = create_translation_jobs(request, stop);
    tell({.phase = TranslateProgress::Phase::translating});
    std::vector<TranslatedOutput> out(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      out[i].language = i < languages.size() ? languages[i] : "";
      out[i].job_id = ids[i];
    }
    const ResultMap results = get_bulk_translation_statuses(
        ids, std::nullopt, stop, [&](const std::string& id, const TranslationResult& result, BulkProgress) {
          const auto entry = std::find(ids.begin(), ids.end(), id) - ids.begin();
          tell({.phase = TranslateProgress::Phase::translating, .language = out[entry].language, .result = &result});
        });
    for (auto& entry : out)
      fetch_translated(entry, results.at(entry.job_id), path, out_dir, options.overwrite, tell, stop);
    return out;
  }

  /// Downloads every output of completed job `job_id` (video, audio, captions) into `dir` as `JOB.KIND.EXT`: each
  /// to a temporary file first, resumed after a cut, its size checked, placed only once complete, never over an
  /// existing file unless options.overwrite. An expired URL gets one fresh look at the job. The files written;
  /// throws FileError or TranslationError.
  std::vector<Downloaded> download_outputs(const std::string& job_id, const TranslationResult& result,
                                           const std::string& dir, const DownloadOptions& options = {},
                                           std::stop_token stop = {}) {
    return client_files::download_outputs(
        core_->sender, job_id, result, dir, options, [&] { return check_translation_status(job_id, stop); }, stop);
  }

  /// Waits until the job completes or fails, polling as the PollPolicy says; timeout once max_timeout passes.
  /// Never throws for anything the server or network does: the result names the cause.
  TranslationResult get_translation_status(std::string_view job_id, std::stop_token stop = {}) {
    client_journal::watch(core_->options.journal, core_->sender.log(), {std::string(job_id)});
    CallState call = core_->sender.begin(job_id, std::move(stop));
    JobPoller poller(core_->rules.first_wait());
    std::optional<Seconds> wait = poller.first_wait();
    while (true) {
      if (auto ended = core_->sender.pause(call, *wait))
        return core_->looks.finish(call, core_->looks.failed(std::move(*ended)));
      const Seconds hold = core_->rules.long_poll_budget(Seconds(call.deadline - core_->sender.clock().now()));
      const TimePoint asked = core_->sender.clock().now();
      Look look = core_->looks.look(call, hold);
      const bool held = look.result.status == TranslationStatus::pending &&
                        core_->rules.long_poll_held(hold, Seconds(core_->sender.clock().now() - asked));
      wait = core_->looks.digest(call, poller, look, held);
      if (!wait) {
        // Handed over by the return itself: written, then marked, just before it.
        client_journal::settle(core_->options.journal, core_->sender.log(), std::string(job_id), look.result);
        client_journal::hand_over(core_->options.journal, core_->sender.log(), std::string(job_id), look.result);
        return std::move(look.result);
      }
    }
  }

  /// One status check (with retries for transient failures): returns pending as it is, for callers who poll.
  TranslationResult check_translation_status(std::string_view job_id, std::stop_token stop = {}) {
    CallState call = core_->sender.begin(job_id, std::move(stop));
    Look look = core_->looks.look(call, Seconds(0));
    core_->rules.note_hints(look.result, look.retry_after);
    return std::move(look.result);
  }

  /// Waits for every job on the client's poller, with at most `concurrent_limit` requests in flight for them
  /// (empty: as many as the poller has workers). Duplicate ids are tracked once; the map has one entry per
  /// distinct id. `on_result`, when given, gets each result the moment it is known (calls are serialized; an
  /// exception it throws is logged and ignored).
  ResultMap get_bulk_translation_statuses(const std::vector<std::string>& job_ids,
                                          std::optional<std::size_t> concurrent_limit = std::nullopt,
                                          std::stop_token stop = {}, BulkCallback on_result = {}) {
    return get_bulk_translation_statuses_async(job_ids, concurrent_limit, std::move(stop), std::move(on_result)).get();
  }

  /// Watches a job on the client's poller: the future gets its result (completed, failed, timeout after the
  /// wait's timeout, or cancelled by its stop token or the client's shutdown). No thread of its own: any number
  /// of waits share the poller's workers, and a job watched twice is polled once.
  std::future<TranslationResult> watch(std::string job_id, WatchOptions options = {}) {
    auto promise = std::make_shared<std::promise<TranslationResult>>();
    std::future<TranslationResult> result = promise->get_future();
    watch(
        std::move(job_id), [promise](const std::string&, const TranslationResult& r) { promise->set_value(r); },
        std::move(options));
    return result;
  }

  /// Watches a job on the client's poller: `on_result` gets its result once, on a worker of the poller (or on
  /// the thread that cancels the wait). It may watch more jobs; an exception it throws is logged and ignored.
  void watch(std::string job_id, WatchCallback on_result, WatchOptions options = {}) {
    client_journal::watch(core_->options.journal, core_->sender.log(), {job_id});
    core_->poller.watch(
        std::move(job_id), deadline_of(options), std::move(options.stop),
        client_journal::journaled(core_->options.journal, core_->sender.log(),
                                  [callback = std::move(on_result)](const std::string& id, const TranslationResult& r) {
                                    if (callback) callback(id, r);
                                  }));
  }

  /// Picks up what the journal (ClientOptions::journal) holds from an earlier run, of this process or another:
  /// - hands `on_result` every outcome written but not handed over;
  /// - watches again every job without an outcome (its outcome comes to `on_result`, on the poller);
  /// - sends again, with its own Idempotency-Key, every create whose answer was lost, while the server still
  ///   replays that key (HeyGen: 24 h; a 409 while the first is in flight is waited out), and watches its jobs; a
  ///   create past that window comes to `on_result` under its key as `unknown_outcome`, never created again, and one
  ///   sent again that fails comes with its failure and stays for the next resume (unless the server refused it
  ///   outright: a create refused with a 4xx made no job, so its intent is closed, then and at the first create).
  /// `ResumeReport::ids` names every id `on_result` gets an outcome for, so a caller knows when all have come.
  /// At least once: an outcome handed over just before a crash comes again, so `on_result` must be idempotent, keyed
  /// by job id. An exception it throws is logged, and that outcome stays not handed over. Throws JournalError when
  /// the journal cannot be read, std::logic_error when there is none.
  ResumeReport resume(const WatchCallback& on_result, WatchOptions options = {}) {
    const AnyJournal& journal = core_->options.journal;
    if (!journal) throw std::logic_error("heygen: resume() needs ClientOptions::journal");
    const JournalBacklog backlog = journal.backlog();
    ResumeReport report;
    for (const auto& job : backlog.undelivered) {
      if (job.kind != client_journal::translation_kind) continue;
      report.ids.push_back(job.id);
      ++report.handed_over;
      if (hand_to(on_result, job.id, *job.outcome))
        client_journal::mark_handed_over(journal, core_->sender.log(), job.id);
    }
    for (const auto& job : backlog.watching) {
      if (job.kind != client_journal::translation_kind) continue;
      report.ids.push_back(job.id);
      ++report.watching;
      watch(job.id, on_result, options);
    }
    for (const auto& intent : backlog.unanswered)
      if (intent.kind == client_journal::translation_kind) resume_create(intent, on_result, options, report);
    return report;
  }

  /// create_translation_job on another thread. The client must outlive the future.
  std::future<std::string> create_translation_job_async(std::stop_token stop = {}) {
    return std::async(std::launch::async, [this, stop] { return create_translation_job(stop); });
  }

  /// Waits for the job on the client's poller (see watch()); the seed's name for it.
  std::future<TranslationResult> get_translation_status_async(std::string job_id, std::stop_token stop = {}) {
    return watch(std::move(job_id), WatchOptions{.stop = std::move(stop)});
  }

  /// get_bulk_translation_statuses on the client's poller: no thread of its own. Throws std::invalid_argument
  /// for a concurrent_limit of 0.
  std::future<ResultMap> get_bulk_translation_statuses_async(std::vector<std::string> job_ids,
                                                             std::optional<std::size_t> concurrent_limit = std::nullopt,
                                                             std::stop_token stop = {}, BulkCallback on_result = {}) {
    if (concurrent_limit && *concurrent_limit == 0)
      throw std::invalid_argument("heygen: concurrent_limit must be at least 1");
    std::sort(job_ids.begin(), job_ids.end());
    job_ids.erase(std::unique(job_ids.begin(), job_ids.end()), job_ids.end());
    auto collect = std::make_shared<BulkCollector>(job_ids.size(), std::move(on_result), core_->sender.log());
    std::future<ResultMap> out = collect->future();
    auto cap = std::make_shared<RequestCap>(RequestCap{concurrent_limit.value_or(0), 0});
    client_journal::watch(core_->options.journal, core_->sender.log(), job_ids);
    // Each outcome is settled as it comes; they are handed over when the map is complete (the future has them).
    auto settled = std::make_shared<client_journal::SettledJobs>();
    core_->poller.watch_all(
        job_ids, deadline_of({}), std::move(stop),
        [collect, settled, journal = core_->options.journal, &log = core_->sender.log()](const std::string& job_id,
                                                                                         TranslationResult r) {
          client_journal::settle(journal, log, job_id, r);
          settled->add(journal, job_id, r);
          if (collect->add(job_id, std::move(r))) settled->hand_over(journal, log);
        },
        cap);
    return out;
  }

  /// Takes in one push (webhook) as an HTTP server received it. Answer the sender with the reply's http_status.
  /// Callable from any thread. By `webhook.trust` (default: the protocol's): a signed push is verified (size,
  /// signature, timestamp), read, and completes the waits for its job at once (it needs `webhook.secret` or
  /// `webhook.verify`); an unsigned one is a hint, taken only with the callback_id its job's create sent, and the
  /// waits end on what one look at the job says, never on the push's body.
  WebhookReply handle_webhook(const std::vector<HttpHeader>& headers, std::string_view body) {
    return PushIntake<T, C, P>(*core_).take(headers, body);
  }

  /// Which pushes handle_webhook() takes: the options' `webhook.trust`, else the protocol's default.
  [[nodiscard]] PushTrust push_trust() const noexcept { return PushIntake<T, C, P>(*core_).trust(); }

  /// handle_webhook() as a function, to hand to an HTTP server (e.g. WebhookReceiver). The client must outlive it.
  std::function<WebhookReply(const std::vector<HttpHeader>&, std::string_view)> webhook_handler() {
    return
        [this](const std::vector<HttpHeader>& headers, std::string_view body) { return handle_webhook(headers, body); };
  }

  /// Ends every outstanding wait `cancelled` and stops the poller's workers; later waits end `cancelled` at once.
  /// The destructor does this too. Must not be called from a result callback.
  void shutdown() noexcept {
    core_->poller.stop();
    if (core_->ingest) core_->ingest->stop();
  }

  /// What the client's poller is doing: workers, jobs and waits, requests sent.
  [[nodiscard]] PollerStats poller_stats() const { return core_->poller.stats(); }

  /// What the poller of uploaded assets' ingests is doing: workers, assets watched, requests sent.
  [[nodiscard]] PollerStats ingest_stats() const requires std::same_as<P, HeyGenV3Protocol> {
    return core_->ingest->stats();
  }

  /// The options this client was built with (validated).
  [[nodiscard]] const ClientOptions& options() const noexcept { return core_->options; }
  /// What this client has learnt about the server (shared with other clients given the same profile).
  [[nodiscard]] ServerProfile& profile() noexcept { return *core_->profile; }
  /// The transport, e.g. to read a counting transport's figures.
  [[nodiscard]] T& transport() noexcept { return core_->sender.transport(); }
  /// The clock.
  [[nodiscard]] C& clock() noexcept { return core_->sender.clock(); }
  /// The protocol.
  [[nodiscard]] const P& protocol() const noexcept { return core_->protocol; }

 private:
  /// Fills in a translate_file entry: its outcome, then its outputs downloaded (one more look first when the wait's
  /// answer named none), or why there are none.
  template <class Tell>
  void fetch_translated(TranslatedOutput& entry, const TranslationResult& result, const std::string& path,
                        const std::string& out_dir, bool overwrite, const Tell& tell, const std::stop_token& stop) {
    entry.result = result;
    if (!result.ok()) {
      entry.error = result.error_message.value_or(std::string(to_string(result.status)));
      return;
    }
    if (entry.result.outputs.empty()) entry.result = check_translation_status(entry.job_id, stop);
    DownloadOptions options;
    options.name = client_files::translated_name(path, entry.language);
    options.overwrite = overwrite;
    options.progress = [&](std::uint64_t done, std::uint64_t total) {
      tell({.phase = TranslateProgress::Phase::downloading, .language = entry.language, .done = done, .total = total});
    };
    try {
      entry.files = download_outputs(entry.job_id, entry.result, out_dir, options, stop);
    } catch (const std::exception& e) {  // FileError, TranslationError or invalid_argument: this language alone
      entry.error = e.what();
    }
  }

  /// The parts, on the heap: they refer to one another, and a client stays movable.
  using Core = ClientCore<T, C, P>;

  template <class MakeTransport>
  static std::unique_ptr<Core> make_core(ClientOptions options, MakeTransport&& make_transport, C clock,
                                         std::optional<P> protocol) {
    return std::make_unique<Core>(std::move(options), std::forward<MakeTransport>(make_transport), std::move(clock),
                                  std::move(protocol));
  }

  /// One create on `call`: the ids it started, or why none.
  OrFailure<std::vector<std::string>> create(const typename P::create_input& input, CallState& call) {
    HttpRequest request = core_->sender.blank_request();
    const std::string key = detail::random_key();
    const typename P::create_input sent = with_callback(input, core_->options.webhook_url, key);
    const std::size_t credentials = request.headers.size();
    core_->protocol.create_request(request, sent, key);
    if (const auto& journal = core_->options.journal)  // durable before anything is sent: throws JournalError
      journal.intend({key, std::string(client_journal::translation_kind),
                      client_journal::request_record(request, credentials), unix_ms(core_->sender.system_now()),
                      std::nullopt, false});
    OrFailure<std::vector<std::string>> ids = send_create(std::move(request), key, call);
    if (!ids) {
      close_refused(key, ids.failure(), call);
      return ids;
    }
    for (const auto& id : ids.value()) core_->callbacks.expect(id, callback_id_of(sent));
    core_->sender.log()(LogLevel::info, [&] {
      return "created job " + ids->front() +
             (ids->size() > 1 ? " and " + std::to_string(ids->size() - 1) + " more" : "") + " (" +
             std::to_string(call.requests) + " requests)";
    });
    return ids;
  }

  /// resume() for one create whose answer was lost: sent again inside the replay window, else given up.
  void resume_create(const CreateRecord& intent, const WatchCallback& on_result, const WatchOptions& options,
                     ResumeReport& report) {
    if (replay_verdict(intent.intended_at_ms, core_->sender.system_now()) == ReplayVerdict::unknown_outcome) {
      report.ids.push_back(intent.key);
      ++report.unknown;
      // Handed over first: a crash between the two hands it over again rather than never.
      if (hand_to(on_result, intent.key, client_journal::unknown_outcome(intent)))
        core_->options.journal.give_up(intent.key);
      return;
    }
    CallState call = core_->sender.begin({}, options.stop);
    HttpRequest request = core_->sender.blank_request();
    OrFailure<std::vector<std::string>> ids =
        client_journal::restore_request(intent.input, request)
            ? send_create(std::move(request), intent.key, call)
            : Failure{FailureCause::bad_response, "the journal's record of it cannot be read"};
    if (!ids) {
      TranslationResult failed;
      failed.status = TranslationStatus::error;
      failed.cause = ids.failure().cause;
      failed.error_message = "create " + intent.key + " sent again: " + ids.failure().message;
      failed.http_status = call.last_http_status;
      failed.requests = call.requests;
      report.ids.push_back(intent.key);
      ++report.failed;
      if (hand_to(on_result, intent.key, failed) && refused(ids.failure(), call))
        core_->options.journal.give_up(intent.key);  // it made no job: nothing to resume
      return;
    }
    for (const auto& id : ids.value()) {
      report.ids.push_back(id);
      watch(id, on_result, options);
    }
    ++report.resent;
  }

  /// Calls `on_result` (when there is one) with `result`; false, the exception logged, when it throws.
  bool hand_to(const WatchCallback& on_result, const std::string& id, const TranslationResult& result) {
    if (!on_result) return true;
    try {
      on_result(id, result);
      return true;
    } catch (const std::exception& e) {
      core_->sender.log()(LogLevel::error, [&] { return "resume: the callback for " + id + " threw: " + e.what(); });
      return false;
    }
  }

  /// True when the server refused a create outright (a 4xx but 408 and 409): it made no job, so its intent needs
  /// nothing more. Anything else (no answer, a timeout, a 5xx, a 409 still in flight) may have made one.
  static bool refused(const Failure& failure, const CallState& call) {
    const int status = call.last_http_status;
    return failure.cause == FailureCause::http_status && status >= 400 && status < 500 && status != 408 &&
           status != 409;
  }

  /// With a journal, closes the intent of a create the server refused, so that no resume sends it again; an intent
  /// whose create may have made a job stays for resume(). A journal that fails here is logged.
  void close_refused(const std::string& key, const Failure& failure, const CallState& call) {
    const AnyJournal& journal = core_->options.journal;
    if (!journal || !refused(failure, call)) return;
    try {
      journal.give_up(key);
    } catch (...) {
      core_->sender.log()(LogLevel::error, [why = client_journal::failure_text()] {
        return why + " (a resume will send the refused create again, and be refused again)";
      });
    }
  }

  /// Sends a create (new, or an intent sent again) and reads its ids; with a journal, writes them down.
  OrFailure<std::vector<std::string>> send_create(HttpRequest request, const std::string& key, CallState& call) {
    OrFailure<HttpResponse> response = core_->sender.send(std::move(request), call, core_->protocol);
    if (!response) return std::move(response).failure();
    OrFailure<std::vector<std::string>> ids = core_->protocol.read_created(response.value());
    if (!ids) return ids;
    if (ids->empty()) return Failure{FailureCause::bad_response, "the answer named no job"};
    if (const auto& journal = core_->options.journal) {
      try {
        journal.answered(key, ids.value());
      } catch (const JournalError& e) {  // the intent stays: a restart sends it again with its key, and gets these ids
        core_->sender.log()(LogLevel::error, [&] { return std::string(e.what()) + " (the create stands)"; });
      }
    }
    return ids;
  }

  /// When a wait started now with `options` ends: its timeout, else max_timeout.
  TimePoint deadline_of(const WatchOptions& options) const { return core_->deadline_of(options.timeout); }

  /// A transport maker that hands over the one the caller gave.
  static auto given(T& transport) {
    return [&transport](const ClientOptions&) { return std::move(transport); };
  }

  /// The exception a call that has no result to return throws: `what` names the call.
  static TranslationError call_error(std::string_view what, const CallState& call, const Failure& failure) {
    return {failure.cause, std::string(what) + ": " + failure.message, call.last_http_status, call.requests};
  }

  std::unique_ptr<Core> core_;
};

}  // namespace heygen

// ---------------------------------------------------------------------------------------------------------------------
// 43. RequestWatchdog: ends a bundled-transport request that outlives its timeout.
// ---------------------------------------------------------------------------------------------------------------------

#ifdef HEYGEN_VT_WITH_HTTPLIB
#include <httplib.h>
#include <poll.h>
#endif

#ifdef HEYGEN_VT_WITH_HTTPLIB

namespace heygen::detail {

/// Ends requests that outlive their timeout. cpp-httplib's read timeout applies to each read, so a server
/// trickling a byte at a time could hold a request forever; one thread (started on first use) stops any
/// request still running at its deadline. A timer is a node on the requesting thread's stack, linked into an
/// intrusive list under a mutex: arming and disarming allocate nothing (this runs for every request). The list is
/// as long as the requests in flight, so the thread finds the earliest timer by a scan.
/// It cannot shorten a connect or a TLS handshake: httplib holds its socket lock through those, so a stop
/// waits for them (they have timeouts of their own).
class RequestWatchdog {
 public:
  /// A timer that is disarmed when this goes out of scope, however the request ended (an exception too).
  class Armed {
   public:
    Armed(RequestWatchdog& watchdog, std::chrono::steady_clock::time_point when, std::function<void()> action)
        : watchdog_(watchdog), when_(when), action_(std::move(action)) {
      watchdog_.arm(*this);
    }
    Armed(const Armed&) = delete;
    Armed& operator=(const Armed&) = delete;
    ~Armed() { watchdog_.disarm(*this); }

   private:
    friend class RequestWatchdog;
    RequestWatchdog& watchdog_;
    std::chrono::steady_clock::time_point when_;
    std::function<void()> action_;
    Armed* previous_ = nullptr;  // the list's links, guarded by the watchdog's mutex
    Armed* next_ = nullptr;
    bool linked_ = false;
  };

  RequestWatchdog() = default;
  RequestWatchdog(const RequestWatchdog&) = delete;
  RequestWatchdog& operator=(const RequestWatchdog&) = delete;
  ~RequestWatchdog() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
  }

 private:
  /// Runs the timer's action at its time unless disarmed first.
  void arm(Armed& timer) {
    std::lock_guard lock(mutex_);
    // The thread first: if it cannot start, no timer is left behind pointing at the caller's stack.
    if (!thread_.joinable()) thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
    timer.previous_ = last_;
    (last_ ? last_->next_ : first_) = &timer;
    last_ = &timer;
    timer.linked_ = true;
    // Requests share one timeout, so a new timer almost never comes first: no wake-up per request.
    if (timer.when_ < sleeping_until_) {
      sleeping_until_ = timer.when_;
      wake_.notify_one();
    }
  }

  /// Takes a timer off the list; under the lock.
  void unlink(Armed& timer) noexcept {
    (timer.previous_ ? timer.previous_->next_ : first_) = timer.next_;
    (timer.next_ ? timer.next_->previous_ : last_) = timer.previous_;
    timer.previous_ = timer.next_ = nullptr;
    timer.linked_ = false;
  }

  /// Cancels a timer. An action already running is waited for, so once this returns it is not running and
  /// never will: the connection it would stop can safely go back to the pool.
  void disarm(Armed& timer) noexcept {
    std::unique_lock lock(mutex_);
    if (timer.linked_) unlink(timer);
    finished_.wait(lock, [&] { return running_ != &timer; });
  }

  /// The timer due first (the first armed among equals), or nullptr; under the lock.
  [[nodiscard]] Armed* earliest() const noexcept {
    Armed* first = first_;
    for (Armed* timer = first_; timer != nullptr; timer = timer->next_)
      if (timer->when_ < first->when_) first = timer;
    return first;
  }

  /// Sleeps until the earliest timer (disarmed ones are noticed only then), runs what is due, repeats.
  /// Actions run without the lock: one that waits (a stop during a connect) holds up no other request. A timer
  /// whose action runs stays alive: its disarm waits for the action to end.
  void run(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
      Armed* due = earliest();
      if (due != nullptr && due->when_ <= std::chrono::steady_clock::now()) {
        unlink(*due);
        running_ = due;
        lock.unlock();
        due->action_();
        lock.lock();
        running_ = nullptr;
        finished_.notify_all();
        continue;
      }
      sleeping_until_ = due == nullptr ? std::chrono::steady_clock::time_point::max() : due->when_;
      const std::chrono::steady_clock::time_point until = sleeping_until_;
      const auto woken = [&] { return sleeping_until_ != until; };  // arm() moved the wake-up earlier
      if (until == std::chrono::steady_clock::time_point::max())
        wake_.wait(lock, stop, woken);
      else
        wake_.wait_until(lock, stop, until, woken);
      sleeping_until_ = std::chrono::steady_clock::time_point::min();
    }
  }

  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::condition_variable finished_;  // an action ended
  Armed* first_ = nullptr;            // the armed timers, in the order they were armed
  Armed* last_ = nullptr;
  const Armed* running_ = nullptr;  // the timer whose action runs now, outside the lock
  std::chrono::steady_clock::time_point sleeping_until_ =
      std::chrono::steady_clock::time_point::max();  // when the thread wakes by itself; min() while awake
  std::jthread thread_;                              // last: it uses the members above
};

}  // namespace heygen::detail

#endif  // HEYGEN_VT_WITH_HTTPLIB

// ---------------------------------------------------------------------------------------------------------------------
// 44. TunnelClient: HTTPS through an HTTP proxy's CONNECT tunnel, opened by us.
// ---------------------------------------------------------------------------------------------------------------------

#ifdef HEYGEN_VT_WITH_HTTPLIB

namespace heygen::detail {

/// Sends all of `bytes` on the blocking socket `sock` by `deadline`.
inline bool send_all(socket_t sock, std::string_view bytes, std::chrono::steady_clock::time_point deadline) {
  while (!bytes.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd ready{sock, POLLOUT, 0};
    if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) return false;
#ifdef MSG_NOSIGNAL
    const auto sent = ::send(sock, bytes.data(), bytes.size(), MSG_NOSIGNAL);
#else
    const auto sent = ::send(sock, bytes.data(), bytes.size(), 0);
#endif
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

/// Reads one byte from the blocking socket `sock` by `deadline`.
inline bool receive_byte(socket_t sock, char& byte, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd ready{sock, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) return false;
    const auto got = ::recv(sock, &byte, 1, 0);
    if (got == 1) return true;
    if (got == 0 || errno != EINTR) return false;
  }
}

#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
/// An HTTPS client that reaches its server through an HTTP proxy's CONNECT tunnel, opened here rather than by
/// httplib 0.11: its own tunnel sends the proxy's credentials on every request inside the tunnel too (so to the
/// server), and on any refusal but 407 goes on to a TLS handshake over the proxy's error page, which can hang past
/// every timeout. httplib connects the socket to the proxy (with its timeouts and socket options); the CONNECT is
/// written and its answer read here; the TLS handshake and the server's certificate check are httplib's, exactly
/// as without a proxy.
class TunnelClient final : public httplib::SSLClient {
 public:
  /// A client of `host` (without brackets) on `port` through `proxy`, whose CONNECT carries `user_agent`.
  TunnelClient(const std::string& host, int port, ProxyUrl proxy, const std::string& user_agent)
      : httplib::SSLClient(host, port), proxy_(std::move(proxy)) {
    std::string target = host.find(':') == std::string::npos ? host : "[" + host + "]";
    target.append(":").append(std::to_string(port));
    head_.append("CONNECT ").append(target).append(" HTTP/1.1\r\nHost: ").append(target);
    head_.append("\r\nUser-Agent: ").append(user_agent);
    if (!proxy_.user.empty()) {
      std::string credentials = proxy_.user;
      credentials.append(":").append(proxy_.password);
      head_.append("\r\nProxy-Authorization: Basic ").append(uploads::base64(credentials));
    }
    head_.append("\r\n\r\n");
  }

  /// The status with which the proxy refused the last CONNECT (407, 403, 502...), or 0.
  [[nodiscard]] int refused_with() const noexcept { return refused_; }

 private:
  /// Called by httplib, under its socket lock, for every socket it opens.
  bool create_and_connect_socket(Socket& socket, httplib::Error& error) override {
    refused_ = 0;
    if (!is_valid()) return false;
    // httplib connects to its proxy when one is set; cleared again at once, so it opens no tunnel of its own.
    proxy_host_ = proxy_.bare_host();
    proxy_port_ = proxy_.port;
    // NOLINTNEXTLINE(bugprone-parent-virtual-call): SSLClient's own is private, and adds only is_valid(), above.
    const bool connected = ClientImpl::create_and_connect_socket(socket, error);
    proxy_host_.clear();
    proxy_port_ = -1;
    if (!connected) return false;
    if (open_tunnel(socket.sock, error)) return true;
    close_socket(socket);
    return false;
  }

  /// Writes the CONNECT and reads the proxy's answer, within the read timeout; true when it answered 2xx.
  bool open_tunnel(socket_t sock, httplib::Error& error) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(read_timeout_sec_) +
                          std::chrono::microseconds(read_timeout_usec_);
    if (!send_all(sock, head_, deadline)) {
      error = httplib::Error::Write;
      return false;
    }
    // Byte by byte: what follows the answer's head is the server's TLS, for httplib to read.
    std::string answer;
    while (answer.size() < 4 || answer.compare(answer.size() - 4, 4, "\r\n\r\n") != 0) {
      char byte = 0;
      if (answer.size() > max_answer || !receive_byte(sock, byte, deadline)) {
        error = httplib::Error::Read;
        return false;
      }
      answer += byte;
    }
    // "HTTP/1.1 200 Connection established": the status is the number after the first space.
    const auto space = answer.find(' ');
    const int status = space == std::string::npos ? 0 : std::atoi(answer.c_str() + space + 1);
    if (status >= 200 && status < 300) return true;
    refused_ = status > 0 ? status : 502;  // an answer that is not HTTP: the proxy is broken
    error = httplib::Error::Connection;
    return false;
  }

  static constexpr std::size_t max_answer = std::size_t{16} * 1024;  // a CONNECT answer's head is a few lines

  ProxyUrl proxy_;
  std::string head_;  // the CONNECT request, whole
  int refused_ = 0;
};
#endif

}  // namespace heygen::detail

#endif  // HEYGEN_VT_WITH_HTTPLIB

// ---------------------------------------------------------------------------------------------------------------------
// 45. The bundled cpp-httplib transport and VideoTranslationClient.
// ---------------------------------------------------------------------------------------------------------------------

#ifdef HEYGEN_VT_WITH_HTTPLIB
#include <signal.h>

#include <csignal>
#endif

namespace heygen {

#ifdef HEYGEN_VT_WITH_HTTPLIB

namespace detail {}  // namespace detail

/// The bundled transport on cpp-httplib: a pool of keep-alive connections (one httplib::Client serves one
/// request at a time), connect and read timeouts, a body-size cap, HTTPS with verification on by default, the
/// proxy of the options or the environment (ProxyConfig) and the options' User-Agent on every request.
class HttplibTransport {
 public:
  /// It sends HttpRequest::target on its own connections to the base URL's host: the full URL goes unread.
  static constexpr bool reads_url = false;
  /// It streams request and response bodies (HttpRequest::source and sink), to any host.
  static constexpr bool streams = true;

  /// Builds the pool for options.base_url; throws std::invalid_argument for https without TLS support, or naming
  /// a malformed proxy (an environment variable, or ClientOptions::proxy). Logs the proxy it uses, at info.
  explicit HttplibTransport(const ClientOptions& options) : pool_(std::make_unique<Pool>(options)) {
    ignore_sigpipe_once();
  }

  /// Sends one request on a pooled connection. Never throws for network trouble.
  ///
  /// A server may close a keep-alive connection after answering without saying so (no `Connection: close`);
  /// cpp-httplib reconnects when it sees the close before sending, but when the close arrives just after, the
  /// request meets a reset. A request that fails that way (on a reused socket, before any status line arrived,
  /// neither cancelled nor timed out) is sent once more at once on a fresh connection, within the same timeout,
  /// as curl and Go's net/http do: the caller sees one request. Safe for a create too: it carries an
  /// Idempotency-Key.
  HttpResponse send(const HttpRequest& request) {
    if (request.source != nullptr || request.sink != nullptr) return send_streamed(request);
    const auto started = std::chrono::steady_clock::now();
    const auto timeout = std::max(request.timeout, std::chrono::milliseconds(1));
    auto connection = pool_->acquire();
    HttpResponse response;  // filled in where it is returned: no copy or move of the answer on its way out
    if (exchange(*connection, request, started, timeout, response) && !request.stop.stop_requested()) {
      pool_->release(std::move(connection), false);
      connection = pool_->open();
      response = HttpResponse{};
      exchange(*connection, request, started, timeout, response);
    }
    pool_->release(std::move(connection), response.received());
    return response;
  }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  /// One keep-alive connection. cpp-httplib opens a new socket by itself when the last one was closed (by
  /// either side); `sockets` counts the sockets it opened, so a request can tell whether it went on a reused one.
  /// Its request and response objects are kept from one exchange to the next: building and destroying them (a
  /// score of members each) cost more per request than reusing them, and their strings keep their buffers.
  struct Pooled {
    std::unique_ptr<httplib::ClientImpl> client;
    std::uint64_t sockets = 0;  // touched only by the thread holding the connection, inside its send()
    httplib::Request out;       // as the members above: filled in afresh by each exchange
    httplib::Response in;
  };
  using Connection = std::unique_ptr<Pooled>;

  using Watchdog = detail::RequestWatchdog;

  /// cpp-httplib 0.11 writes without MSG_NOSIGNAL: a server closing mid-request would kill the process with
  /// SIGPIPE. Ignore it, unless the program installed its own handler (or defined HEYGEN_VT_KEEP_SIGPIPE).
  static void ignore_sigpipe_once() {
#if defined(SIGPIPE) && !defined(HEYGEN_VT_KEEP_SIGPIPE)
    static const bool done = [] {
      struct sigaction current {};
      if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) std::signal(SIGPIPE, SIG_IGN);
      return true;
    }();
    (void)done;
#endif
  }

  /// Idle keep-alive connections waiting to be reused. A request never waits for one: when all are busy a
  /// new one is opened (callers bound concurrency), and at most `capacity` idle ones are kept.
  class Pool {
   public:
    explicit Pool(const ClientOptions& options)
        : base_(BaseUrl::parse(options.base_url)),
          capacity_(options.connection_pool_size),
          connect_timeout_(detail::to_millis(options.connect_timeout)),
          max_body_bytes_(options.max_body_bytes),
          verify_tls_(options.verify_tls),
          ca_cert_file_(options.ca_cert_file),
          proxies_(ProxyConfig::from_options(options)),
          user_agent_(options.user_agent()) {
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
      if (base_.scheme == "https") throw std::invalid_argument("heygen: https needs cpp-httplib built with OpenSSL");
#endif
      base_proxy_ = proxy_for(base_);
      const Logger log(options.log_sink, options.log_level);
      log(LogLevel::info, [this] { return route_of(base_); });
    }

    /// The proxy a request to `origin` goes through, or nullptr when it goes directly.
    [[nodiscard]] const ProxyUrl* proxy_for(const BaseUrl& origin) const {
      return proxies_.for_target(origin.scheme, origin.host, origin.port);
    }

    /// How requests to `origin` go, in words for the log: the proxy (its password hidden) or directly, and why.
    [[nodiscard]] std::string route_of(const BaseUrl& origin) const {
      std::string text = "requests to ";
      text.append(origin.origin());
      if (const ProxyUrl* proxy = proxy_for(origin))
        return text.append(" go through the proxy ")
            .append(proxy->redacted())
            .append(" (from ")
            .append(proxy->source)
            .append(")");
      text.append(" go directly");
      const bool excepted = (origin.scheme == "https" ? proxies_.https : proxies_.http).has_value();
      if (excepted) text.append(" (").append(proxies_.no_proxy_source).append(" names the host)");
      return text;
    }

    /// An idle connection, or a new one.
    Connection acquire() {
      {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
          Connection connection = std::move(idle_.back());
          idle_.pop_back();
          return connection;
        }
      }
      return open();
    }

    /// Keeps a healthy connection for reuse while fewer than `capacity` are idle; closes the rest.
    void release(Connection connection, bool healthy) {
      std::lock_guard lock(mutex_);
      if (healthy && idle_.size() < capacity_) idle_.push_back(std::move(connection));
    }

    [[nodiscard]] std::size_t max_body_bytes() const noexcept { return max_body_bytes_; }
    /// The timer that ends requests overrunning their timeout.
    [[nodiscard]] Watchdog& watchdog() noexcept { return watchdog_; }

    /// The most a connect may take.
    [[nodiscard]] std::chrono::milliseconds connect_timeout() const noexcept { return connect_timeout_; }

    /// A client for `origin`, with this pool's TLS settings and connect timeout. Built from host and port, not
    /// from a URL string: httplib's URL pattern takes only digits and colons inside brackets, so "[2001:db8::1]"
    /// would silently become a host. Throws std::invalid_argument for https without TLS support.
    [[nodiscard]] std::unique_ptr<httplib::ClientImpl> client_for(const BaseUrl& origin) const {
      const bool bracketed = origin.host.size() >= 2 && origin.host.front() == '[';
      const std::string host = bracketed ? origin.host.substr(1, origin.host.size() - 2) : origin.host;
      const ProxyUrl* proxy = proxy_for(origin);
      std::unique_ptr<httplib::ClientImpl> client;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
      if (origin.scheme == "https") {
        std::unique_ptr<httplib::SSLClient> tls;
        if (proxy != nullptr)
          tls = std::make_unique<detail::TunnelClient>(host, origin.port, *proxy, user_agent_);
        else
          tls = std::make_unique<httplib::SSLClient>(host, origin.port);
        tls->enable_server_certificate_verification(verify_tls_);
        if (!ca_cert_file_.empty()) tls->set_ca_cert_path(ca_cert_file_);
        client = std::move(tls);
      }
#else
      if (origin.scheme == "https") throw std::invalid_argument("heygen: https needs cpp-httplib built with OpenSSL");
#endif
      httplib::Headers own{{"User-Agent", user_agent_}};  // httplib adds them to any request without them
      if (!client) {
        client = std::make_unique<httplib::ClientImpl>(host, origin.port);
        if (proxy != nullptr) client->set_proxy(proxy->bare_host(), proxy->port);
        // Ours rather than httplib's set_proxy_basic_auth, which sends nothing when the password is empty.
        if (proxy != nullptr && !proxy->user.empty())
          own.emplace("Proxy-Authorization", "Basic " + uploads::base64(proxy->user + ":" + proxy->password));
      }
      client->set_default_headers(std::move(own));
      client->set_keep_alive(true);
      client->set_follow_location(false);
      client->set_tcp_nodelay(true);
      client->set_connection_timeout(connect_timeout_);
      return client;
    }

    /// The proxy of the base URL's host, or nullptr.
    [[nodiscard]] const ProxyUrl* base_proxy() const noexcept { return base_proxy_; }

    /// A new connection to the base URL's host, never an idle one.
    Connection open() const {
      auto client = client_for(base_);
      auto connection = std::make_unique<Pooled>();
      // Called for every socket the client opens, on the thread sending through it; `Pooled` never moves.
      client->set_socket_options([counted = connection.get()](socket_t) { ++counted->sockets; });
      connection->client = std::move(client);
      return connection;
    }

   private:
    BaseUrl base_;
    std::size_t capacity_;
    std::chrono::milliseconds connect_timeout_;
    std::size_t max_body_bytes_;
    bool verify_tls_;
    std::string ca_cert_file_;
    ProxyConfig proxies_;
    const ProxyUrl* base_proxy_ = nullptr;  // into proxies_
    std::string user_agent_;
    std::mutex mutex_;
    std::vector<Connection> idle_;
    Watchdog watchdog_;
  };

  /// A response body that refuses to grow past `cap` bytes.
  struct CappedBody {
    std::string text;
    std::size_t cap;
    bool too_large;

    /// Appends a chunk; false (which stops the read) when it would pass the cap.
    bool append(const char* data, std::size_t length) {
      if (text.size() + length > cap) return !(too_large = true);
      text.append(data, length);
      return true;
    }
  };

  /// Makes `kept` (the headers of the connection's last request, with what httplib added to them: Host,
  /// User-Agent...) hold exactly `headers`, as a new request's would. A header of the last request that this one
  /// has too keeps its node, and only what httplib added is dropped: requests mostly carry the same headers, and
  /// the nodes cost an allocation each. httplib adds its own again, as it does to any request.
  static void set_headers(httplib::Headers& kept, const std::vector<HttpHeader>& headers) {
    std::uint64_t matched = 0;  // bit i: headers[i] has its node
    if (headers.size() <= 64) {
      for (auto node = kept.begin(); node != kept.end();) {
        std::size_t i = 0;
        while (i < headers.size() &&
               ((matched >> i & 1U) != 0 || node->first != headers[i].name || node->second != headers[i].value))
          ++i;
        if (i == headers.size()) {
          node = kept.erase(node);
          continue;
        }
        matched |= std::uint64_t{1} << i;
        ++node;
      }
    } else {
      kept.clear();
    }
    for (std::size_t i = 0; i < headers.size(); ++i)
      if (i >= 64 || (matched >> i & 1U) == 0) kept.emplace(headers[i].name, headers[i].value);
  }

  // httplib's own read timeout normally ends a silent server first; the watchdog is for trickling ones.
  static constexpr std::chrono::milliseconds watchdog_grace{250};

  /// Sends `request` on `connection` within what is left of `timeout` since `started`, filling in `response`
  /// (a new one). True when the request was lost to a close: it failed on a reused socket before any status
  /// line arrived, neither cancelled nor out of time, so most likely the server closed the idle connection as
  /// the request went out, and it is worth sending again on a new one.
  bool exchange(Pooled& connection, const HttpRequest& request, SteadyTime started, std::chrono::milliseconds timeout,
                HttpResponse& response) const {
    httplib::ClientImpl& client = *connection.client;
    const auto left = std::max(
        timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started),
        std::chrono::milliseconds(1));
    client.set_read_timeout(left);
    client.set_write_timeout(left);
    client.set_connection_timeout(std::min(pool_->connect_timeout(), left));
    // Every member httplib reads of a client request is set here (no progress, response handler or content
    // provider is ever set; redirects and digest auth, whose counters it keeps in the request, are off).
    httplib::Request& out = connection.out;
    if (out.method != request.method) out.method = request.method;  // the same method, most often
    out.path = request.target;
    set_headers(out.headers, request.headers);
    if (!out.body.empty() || !request.body.empty()) out.body = request.body;  // copied: it may be sent again
    CappedBody body{{}, pool_->max_body_bytes(), false};
    // One pointer captured: std::function keeps it inline instead of allocating for every request.
    out.content_receiver = [sink = &body](const char* data, std::size_t length, std::uint64_t, std::uint64_t) {
      return sink->append(data, length);
    };
    std::atomic<bool> overran{false};
    httplib::Response& in = connection.in;  // as a new one: what httplib fills in, and a status of -1 (none yet)
    in.version.clear();
    in.status = -1;
    in.reason.clear();
    in.headers.clear();
    in.body.clear();
    in.location.clear();
    httplib::Error error = httplib::Error::Success;
    // A request went on a reused socket when httplib opened none for it: with no socket open it must open one
    // (counted as soon as it exists, before its connect), and a read or write error needs a socket. So the count
    // tells, without asking httplib under its socket lock for every request.
    const std::uint64_t sockets_before = connection.sockets;
    const bool answered = [&] {
      // Cancelling shuts the socket down, so a held long poll ends now rather than when the server answers.
      std::stop_callback abandon(request.stop, [&client] { client.stop(); });
      const Watchdog::Armed watched(pool_->watchdog(), started + timeout + watchdog_grace, [&client, &overran] {
        overran = true;
        client.stop();
      });
      return client.send(out, in, error);  // this overload sends `out` as is; send(const Request&) copies it
    }();
    if (request.stop.stop_requested()) {
      response = HttpResponse::failure(TransportError::cancelled, detail::cancelled_message);
      return false;
    }
    if (overran && !answered) {  // a response that arrived just as the timer fired still counts
      response = HttpResponse::failure(
          TransportError::timeout, "request took longer than its timeout (" + std::to_string(timeout.count()) + " ms)");
      return false;
    }
    if (body.too_large) {
      response = HttpResponse::failure(TransportError::body_too_large,
                                       "response body over max_body_bytes (" + std::to_string(body.cap) + ")");
      return false;
    }
    if (auto refused = proxy_refusal(client, answered ? in.status : 0, pool_->base_proxy())) {
      response = std::move(*refused);
      return false;
    }
    if (!answered) {
      response = failure_of(error, std::chrono::steady_clock::now() - started, timeout);
      name_proxy(response, error, pool_->base_proxy());
      // httplib leaves the status at -1 until a status line is parsed; the body sink saw nothing either.
      const bool reused = connection.sockets == sockets_before;
      return reused && response.error == TransportError::reset &&
             (error == httplib::Error::Read || error == httplib::Error::Write) && in.status < 0 && body.text.empty();
    }
    response.status = in.status;
    response.headers.reserve(in.headers.size());
    for (auto& [name, value] : in.headers) {  // built in place: no header moved from a temporary
      HttpHeader& header = response.headers.emplace_back();
      header.name = name;
      header.value = std::move(value);
    }
    response.body = std::move(body.text);
    return false;
  }

  /// A streamed request: on a connection of its own to the URL's host (a transfer is long, so opening one costs
  /// nothing that matters, and storage is most often another host), the body read from the source as it goes
  /// out, a 2xx answer's body written to the sink as it comes in. The timeout bounds each read and write (a
  /// silent peer), not the whole transfer; a trickling one is the caller's to judge from its sink.
  HttpResponse send_streamed(const HttpRequest& request) const {
    if (request.url.empty()) return HttpResponse::failure(TransportError::other, "a streamed request needs its url");
    AbsoluteUrl url;
    std::unique_ptr<httplib::ClientImpl> client;
    try {
      url = AbsoluteUrl::parse(request.url);
      client = pool_->client_for(url.origin);
    } catch (const std::invalid_argument& e) {
      return HttpResponse::failure(TransportError::other, e.what());
    }
    client->set_url_encode(false);   // a presigned URL goes out byte for byte: its query is signed
    client->set_tcp_nodelay(false);  // a body of many full segments: coalescing costs no latency, saves CPU
    const auto timeout = std::max(request.timeout, std::chrono::milliseconds(1));
    client->set_read_timeout(timeout);
    client->set_write_timeout(timeout);
    client->set_keep_alive(false);
    Streamed streamed{request, {{}, pool_->max_body_bytes(), false}};
    streamed.timeout = timeout;
    httplib::Request out = streamed.outgoing(std::move(url.target));
    httplib::Response in;
    httplib::Error error = httplib::Error::Success;
    const bool answered = [&] {
      std::stop_callback abandon(request.stop, [&client] { client->stop(); });
      return client->send(out, in, error);
    }();
    streamed.refused = proxy_refusal(*client, answered ? in.status : 0, pool_->proxy_for(url.origin));
    HttpResponse response = streamed.result(answered, error, in);
    if (!answered) name_proxy(response, error, pool_->proxy_for(url.origin));
    return response;
  }

  /// The state of one streamed exchange: the request, where its answer's body goes, what stopped it.
  struct Streamed {
    const HttpRequest& request;
    CappedBody error_body;  // a non-2xx answer's body, for its message
    bool to_sink = false;   // the answer is a 2xx: its body goes to the sink
    bool source_failed = false;
    bool sink_failed = false;
    bool send_failed = false;  // the connection broke while the body went out (the server may have answered early)
    std::chrono::milliseconds timeout{};
    std::optional<HttpResponse> refused{};                        // the proxy's refusal, if it refused
    SteadyTime last_progress = std::chrono::steady_clock::now();  // when a byte last moved either way
    std::vector<char> chunk{};

    /// httplib's request: the URL's path and query, the headers, the source as a content provider, the answer's
    /// status seen before its body so the body goes to the right place.
    httplib::Request outgoing(std::string target) {
      httplib::Request out;
      out.method = request.method;
      out.path = std::move(target);
      for (const HttpHeader& header : request.headers) out.headers.emplace(header.name, header.value);
      if (request.source != nullptr) {
        out.content_length_ = static_cast<std::size_t>(request.source->size);
        out.content_provider_ = [this](std::size_t offset, std::size_t, httplib::DataSink& sink) {
          return provide(offset, sink);
        };
      } else if (!request.body.empty()) {
        out.body = request.body;
      }
      out.response_handler = [this](const httplib::Response& head) {
        to_sink = request.sink != nullptr && head.status >= 200 && head.status < 300;
        if (!to_sink || !request.sink->begin) return true;
        std::vector<HttpHeader> headers;
        for (const auto& [name, value] : head.headers) headers.push_back({name, value});
        if (request.sink->begin(head.status, headers)) return true;
        return !(sink_failed = true);
      };
      out.content_receiver = [this](const char* data, std::size_t length, std::uint64_t, std::uint64_t) {
        last_progress = std::chrono::steady_clock::now();
        if (!to_sink) return error_body.append(data, length);
        if (request.sink->write(data, length)) return true;
        return !(sink_failed = true);
      };
      return out;
    }

    /// Reads the next chunk at `offset` from the source and hands it to httplib.
    bool provide(std::size_t offset, httplib::DataSink& sink) {
      if (chunk.empty()) chunk.resize(std::size_t{1} << 18);
      const std::uint64_t left = request.source->size - offset;
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
      const std::size_t got = request.source->read(offset, chunk.data(), want);
      if (got == 0 || got > want) return !(source_failed = true);
      last_progress = std::chrono::steady_clock::now();
      if (sink.write(chunk.data(), got)) return true;
      return !(send_failed = true);  // httplib calls a provider's false a cancel: it is a broken connection
    }

    /// The answer, or why there is none.
    HttpResponse result(bool answered, httplib::Error error, httplib::Response& in) {
      if (request.stop.stop_requested())
        return HttpResponse::failure(TransportError::cancelled, detail::cancelled_message);
      if (source_failed) return HttpResponse::failure(TransportError::other, "the request body's source failed");
      if (sink_failed) return HttpResponse::failure(TransportError::other, "the response body's sink stopped");
      if (error_body.too_large)
        return HttpResponse::failure(TransportError::body_too_large,
                                     "response body over max_body_bytes (" + std::to_string(error_body.cap) + ")");
      if (send_failed && !answered)
        return HttpResponse::failure(TransportError::reset, "the connection broke while the body was sent");
      if (refused) return std::move(*refused);
      // A read or write error after a silence as long as the timeout was the timeout.
      if (!answered) return failure_of(error, std::chrono::steady_clock::now() - last_progress, timeout);
      HttpResponse response;
      response.status = in.status;
      for (auto& [name, value] : in.headers) response.headers.push_back({name, std::move(value)});
      response.body = std::move(error_body.text);
      return response;
    }
  };

  /// A proxy's refusal as the failure it is, naming the proxy without its password: a 407 to a request it
  /// forwards, or any status but 2xx to a CONNECT (tinyproxy answers a wrong password with 401). Asking again gets
  /// the same from a 4xx (TransportError::proxy, final); a 5xx (it could not reach the server) is retried as a
  /// refused connection. Nothing when there is no proxy, or it did not refuse.
  static std::optional<HttpResponse> proxy_refusal(const httplib::ClientImpl& client, int status,
                                                   const ProxyUrl* proxy) {
    if (proxy == nullptr) return std::nullopt;
    if (status != 407) status = 0;
    std::string detail = "the proxy ";
    detail.append(proxy->redacted()).append(" (from ").append(proxy->source).append(") answered ");
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    if (const auto* tunnel = dynamic_cast<const detail::TunnelClient*>(&client);
        tunnel && tunnel->refused_with() != 0) {
      status = tunnel->refused_with();
      detail.append("a CONNECT with ");
    }
#else
    (void)client;
#endif
    if (status == 0) return std::nullopt;
    detail.append(std::to_string(status)).append(": ");
    if (status >= 500)
      return HttpResponse::failure(TransportError::refused, detail.append("it could not reach the server"));
    if (status != 401 && status != 407)
      return HttpResponse::failure(TransportError::proxy, detail.append("it refused the tunnel"));
    detail.append(proxy->user.empty() ? "it wants a user and password in the proxy URL"
                                      : "it refused the user and password");
    return HttpResponse::failure(TransportError::proxy, std::move(detail));
  }

  /// Says in a failed connect's detail that it was the proxy that could not be reached (or not in time), so a
  /// refusal does not read as the server's.
  static void name_proxy(HttpResponse& response, httplib::Error error, const ProxyUrl* proxy) {
    if (proxy == nullptr || (error != httplib::Error::Connection && error != httplib::Error::ConnectionTimeout) ||
        (response.error != TransportError::refused && response.error != TransportError::timeout))
      return;
    response.error_detail.append(", to the proxy ").append(proxy->redacted()).append(" from ").append(proxy->source);
  }

  static HttpResponse failure_of(httplib::Error error, std::chrono::steady_clock::duration took,
                                 std::chrono::milliseconds timeout) {
    const std::string detail = httplib::to_string(error);
    switch (error) {
      case httplib::Error::Connection: return HttpResponse::failure(TransportError::refused, detail);
      case httplib::Error::ConnectionTimeout: return HttpResponse::failure(TransportError::timeout, detail);
      case httplib::Error::Read:
      case httplib::Error::Write:
        // httplib reports a read timeout as a read error; the time taken tells them apart (and a timeout is never
        // sent again on a fresh connection: the server may be working on the request).
        return HttpResponse::failure(
            took + std::chrono::milliseconds(50) >= timeout ? TransportError::timeout : TransportError::reset, detail);
      // A handshake cut short is a broken connection like any other; a certificate that fails is not.
      case httplib::Error::SSLConnection: return HttpResponse::failure(TransportError::reset, detail);
      case httplib::Error::SSLLoadingCerts:
      case httplib::Error::SSLServerVerification: return HttpResponse::failure(TransportError::tls, detail);
      case httplib::Error::Canceled: return HttpResponse::failure(TransportError::cancelled, detail);
      default: return HttpResponse::failure(TransportError::other, detail);
    }
  }

  std::unique_ptr<Pool> pool_;
};

/// The client on the bundled cpp-httplib transport and the real clock: the one most callers want.
using VideoTranslationClient = BasicVideoTranslationClient<HttplibTransport, SteadyClock>;

/// The client for HeyGen's v3 API on the bundled transport; build it with heygen_v3_options(api_key).
using HeyGenClient = BasicVideoTranslationClient<HttplibTransport, SteadyClock, HeyGenV3Protocol>;

#endif  // HEYGEN_VT_WITH_HTTPLIB

// ---------------------------------------------------------------------------------------------------------------------
// 46. Webhook receiver: a small cpp-httplib server taking pushes, for callers without one.
// ---------------------------------------------------------------------------------------------------------------------

// cpp-httplib comes (when enabled) through transport_httplib, so the shipped header includes it once.
#ifdef HEYGEN_VT_WITH_HTTPLIB

/// Where a WebhookReceiver listens, and how.
struct WebhookReceiverOptions {
  std::string host = "127.0.0.1";  ///< Address to bind; "0.0.0.0" to take pushes from other machines.
  int port = 0;                    ///< Port to bind; 0 picks a free one (see WebhookReceiver::port()).
  std::string path = "/webhook";   ///< Path pushes are POSTed to; other paths get 404.
  std::size_t max_body_bytes = std::size_t{64} * 1024;  ///< Larger bodies are refused (413) before being read.
  std::string cert_file{};  ///< PEM certificate for HTTPS; with key_file. Empty: plain HTTP.
  std::string key_file{};   ///< PEM private key for HTTPS.
};

/// Takes in one push: given the request's headers and raw body, what to answer (a client's handle_webhook).
using WebhookHandler = std::function<WebhookReply(const std::vector<HttpHeader>& headers, std::string_view body)>;

/// A small HTTP server for callers who have none: it takes pushes on one path and hands each to `handler`
/// (e.g. `client.webhook_handler()`), answering with the reply's status. Listens from construction to stop() or
/// destruction, on a thread of cpp-httplib's own.
class WebhookReceiver {
 public:
  /// Binds and starts listening with no handler yet: pushes are answered 503 (the sender retries) until
  /// set_handler(). So the receiver's url() can go into the options of the client that will take the pushes.
  /// Throws std::runtime_error when the address cannot be bound or TLS not set up.
  explicit WebhookReceiver(WebhookReceiverOptions options = {}) : WebhookReceiver(nullptr, std::move(options)) {}

  /// Binds and starts listening, handing pushes to `handler`; throws as the constructor above.
  WebhookReceiver(WebhookHandler handler, WebhookReceiverOptions options = {})
      : options_(std::move(options)), handler_(std::move(handler)), server_(make_server(options_)) {
    server_->set_payload_max_length(options_.max_body_bytes);
    server_->Post(options_.path,
                  [this](const httplib::Request& request, httplib::Response& response) { take(request, response); });
    port_ = options_.port == 0 ? server_->bind_to_any_port(options_.host)
                               : (server_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port_ <= 0) throw std::runtime_error("heygen: webhook receiver cannot listen on " + options_.host);
    thread_ = std::thread([this] {
      server_->listen_after_bind();
      listen_ended_ = true;
    });
    // stop() before the server runs would not reach it (cpp-httplib 0.11 has no wait_until_ready).
    while (!server_->is_running() && !listen_ended_) std::this_thread::yield();
  }

  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  /// Stops listening (see stop()).
  ~WebhookReceiver() { stop(); }

  /// The port it listens on.
  [[nodiscard]] int port() const noexcept { return port_; }

  /// The URL pushes go to, as creates should name it (`ClientOptions::webhook_url`).
  [[nodiscard]] std::string url() const {
    const bool v6 = options_.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + options_.host + "]" : options_.host;
    return std::string(options_.cert_file.empty() ? "http" : "https") + "://" + host + ":" + std::to_string(port_) +
           options_.path;
  }

  /// Hands later pushes to `handler` (empty: answers 503 again). Once it returns, the previous handler is not
  /// running and never will be, so what it calls (a client) may go: clear it before destroying that client.
  /// Not from inside a handler: it would wait for itself.
  void set_handler(WebhookHandler handler) {
    std::unique_lock lock(handler_mutex_);
    handler_ = std::move(handler);
  }

  /// Stops listening and waits for requests being handled; idempotent.
  void stop() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  static std::unique_ptr<httplib::Server> make_server(const WebhookReceiverOptions& options) {
    if (options.cert_file.empty() != options.key_file.empty())
      throw std::invalid_argument("heygen: a webhook receiver needs both cert_file and key_file, or neither");
    if (options.cert_file.empty()) return std::make_unique<httplib::Server>();
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    auto server = std::make_unique<httplib::SSLServer>(options.cert_file.c_str(), options.key_file.c_str());
    if (!server->is_valid()) throw std::runtime_error("heygen: webhook receiver: cannot load the certificate or key");
    return server;
#else
    throw std::runtime_error("heygen: webhook receiver: cpp-httplib was built without OpenSSL, so no HTTPS");
#endif
  }

  /// Hands one request to the handler; nothing it throws reaches cpp-httplib (the sender gets a 500 and retries).
  void take(const httplib::Request& request, httplib::Response& response) const noexcept {
    try {
      std::vector<HttpHeader> headers;
      headers.reserve(request.headers.size());
      for (const auto& [name, value] : request.headers) headers.push_back({name, value});
      std::shared_lock lock(handler_mutex_);  // set_handler() waits for the handler calls under way
      const WebhookReply reply = handler_ ? handler_(headers, request.body) : no_handler();
      response.status = reply.http_status;
      response.set_content(std::string(R"({"verdict":")") + std::string(to_string(reply.verdict)) + "\"}",
                           "application/json");
    } catch (...) {
      response.status = 500;
    }
  }

  /// The reply while no handler is set: a sender retries a 503.
  static WebhookReply no_handler() { return {WebhookVerdict::unknown_job, 503, "no handler set yet"}; }

  WebhookReceiverOptions options_;
  mutable std::shared_mutex handler_mutex_;
  WebhookHandler handler_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = -1;
  std::atomic<bool> listen_ended_{false};
  std::thread thread_;
};

#endif  // HEYGEN_VT_WITH_HTTPLIB

}  // namespace heygen
