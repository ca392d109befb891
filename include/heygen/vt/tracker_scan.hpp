// Tracker scan: a status answer's members, read flat or through picojson.
#pragma once

#include "heygen/vt/json.hpp"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <picojson.h>

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
