// Helpers every part of the simulator uses: its clock, time conversions, strict number parsing and a small JSON
// writer (answers are built by hand so their bytes are exactly what the tests and clients expect).
#ifndef HEYGEN_SIM_SUPPORT_HPP
#define HEYGEN_SIM_SUPPORT_HPP

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace heygen::sim {

/// The monotonic clock behind every timing in the simulator.
using Clock = std::chrono::steady_clock;

namespace detail {

/// Longest span, in seconds, ever turned into a clock duration (keeps nanosecond arithmetic from overflowing).
inline constexpr double max_span_s = 1e8;

/// Seconds as a clock duration, clamped to [0, max_span_s].
inline Clock::duration to_clock(double seconds) {
  const double s = std::isfinite(seconds) ? std::clamp(seconds, 0.0, max_span_s) : 0.0;
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

/// Milliseconds between two time points, as a double.
inline double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// Seconds since the Unix epoch, now.
inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
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

/// Lowercase hex of `n` bytes.
inline std::string hex_of(const unsigned char* bytes, std::size_t n) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += hex[bytes[i] >> 4U];
    out += hex[bytes[i] & 0xFU];
  }
  return out;
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

/// HeyGen v3's error envelope: `{"error": {"code", "message", "param", "doc_url"}}`; an empty param is null.
inline std::string v3_error_json(std::string_view code, std::string_view message, std::string_view param = {}) {
  JsonObject error;
  error.str("code", code).str("message", message);
  if (param.empty()) error.raw("param", "null");
  if (!param.empty()) error.str("param", param);
  return JsonObject{}.raw("error", error.raw("doc_url", "null").done()).done();
}

}  // namespace detail

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_SUPPORT_HPP
