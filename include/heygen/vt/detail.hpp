// detail: text, percent-encoding, HTTP dates, Retry-After, random numbers.
#pragma once

#include "heygen/vt/clock.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace heygen {

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

}  // namespace heygen
