// JSON reading with picojson: bounded nesting, typed member access.
#pragma once

#include "heygen/vt/detail.hpp"

#include <charconv>
#include <clocale>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <picojson.h>

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
