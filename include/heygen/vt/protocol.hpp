// The exercise's wire protocol: building requests and reading answers.
#pragma once

#include "heygen/vt/detail.hpp"
#include "heygen/vt/result.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <picojson.h>

namespace heygen {

/// A status answer read from a 2xx body.
struct StatusAnswer {
  TranslationStatus status = TranslationStatus::pending;  ///< pending, completed or error.
  FailureCause cause = FailureCause::none;                ///< job_failed or unexpected_result when failed.
  std::optional<std::string> error_message{};             ///< The server's message, or the unknown result string.
  std::optional<double> progress{};                       ///< progress hint, if sane.
  std::optional<double> eta_seconds{};                    ///< eta hint, if sane.
};

/// Reads the wire protocol; every function is total: bad input gives an error value, never a crash.
namespace protocol {

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
    return picojson::_parse(item, in);
  }
  bool parse_array_stop(std::size_t) { return true; }
  bool parse_object_start() { return depth_left_ > 0 && set(picojson::value(picojson::object_type, false)); }
  template <class Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
    ValueContext member(&out_->get<picojson::object>()[key], depth_left_ - 1);  // a repeated key: the last wins
    return picojson::_parse(member, in);
  }
  bool parse_object_stop() { return true; }

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

/// The members of a status object that a reader looks at (null when absent); the rest are not kept.
struct StatusFields {
  picojson::value result;
  picojson::value error_message;
  picojson::value progress;
  picojson::value eta_seconds;

  /// Where the member `key` goes, or nullptr for a member no reader needs.
  picojson::value* slot(std::string_view key) noexcept {
    if (key == "result") return &result;
    if (key == "error_message") return &error_message;
    if (key == "progress") return &progress;
    if (key == "eta_seconds") return &eta_seconds;
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

/// A picojson parse context for one status answer: the members StatusFields keeps are parsed as values, the
/// rest only checked, so a look builds no map. Any other top-level value is skipped and noted as not an object.
class StatusFieldsContext : public SkipContext {
 public:
  explicit StatusFieldsContext(StatusFields& fields) : fields_(fields) {}

  /// The top-level value was an object.
  [[nodiscard]] bool is_object() const noexcept { return is_object_; }

  // Only the top level comes here: values nested in a top-level array are SkipContext's.
  bool parse_object_start() { return is_object_ = true; }
  template <class Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
    if (picojson::value* slot = fields_.slot(key)) {
      ValueContext keep(slot, depth_left() - 1);  // a repeated member replaces the earlier one, as in a map
      return picojson::_parse(keep, in);
    }
    SkipContext skip(depth_left() - 1);
    return picojson::_parse(skip, in);
  }
  bool parse_object_stop() { return true; }

 private:
  StatusFields& fields_;
  bool is_object_ = false;
};

/// Parses a body as a JSON object, keeping only the members a status reader needs; or returns an error message
/// (the same one parse_object would).
inline std::optional<std::string> parse_status_fields(std::string_view body, StatusFields& fields) {
  StatusFieldsContext context(fields);
  return parse_whole(
      body,
      [&](const char* begin, const char* end, std::string* error) {
        return picojson::_parse(context, begin, end, error);
      },
      [&] { return context.is_object(); });
}

/// Reads one job's status members `{"result": ..., "error_message"?, "progress"?, "eta_seconds"?}`.
inline std::optional<StatusAnswer> read_status_fields(const StatusFields& fields, std::string& error) {
  const auto result = string_value(fields.result);
  if (!result) {
    error = "no \"result\" string in the answer";
    return std::nullopt;
  }
  StatusAnswer answer;
  answer.progress = number_value(fields.progress, 0.0, 1.0);
  answer.eta_seconds = number_value(fields.eta_seconds, 0.0, 10.0 * 365 * 24 * 3600);
  if (*result == "pending") return answer;
  if (*result == "completed") {
    answer.status = TranslationStatus::completed;
    return answer;
  }
  answer.status = TranslationStatus::error;
  if (*result == "error") {
    answer.cause = FailureCause::job_failed;
    answer.error_message = string_value(fields.error_message).value_or("the job failed");
  } else {
    answer.cause = FailureCause::unexpected_result;
    answer.error_message = "server answered result \"" + detail::excerpt(*result) + "\"";
  }
  return answer;
}

/// Reads one job's status object already parsed (an entry of a batch answer).
inline std::optional<StatusAnswer> read_status_object(const picojson::object& object, std::string& error) {
  return read_status_fields(StatusFields::of(object), error);
}

/// Reads a status body; on failure `error` says why. Runs for every look, so it keeps only the members it reads.
inline std::optional<StatusAnswer> read_status(std::string_view body, std::string& error) {
  StatusFields fields;
  if (auto problem = parse_status_fields(body, fields)) {
    error = std::move(*problem);
    return std::nullopt;
  }
  return read_status_fields(fields, error);
}

/// Reads a create body `{"job_id": "..."}`; a numeric id is accepted as its decimal text.
inline std::optional<std::string> read_job_id(std::string_view body, std::string& error) {
  picojson::value json;
  if (!parse_object_into(body, json, error)) return std::nullopt;
  const auto& object = json.get<picojson::object>();
  const auto it = object.find("job_id");
  if (it != object.end() && it->second.is<std::string>() && !it->second.get<std::string>().empty())
    return it->second.get<std::string>();
  if (it != object.end() && it->second.is<double>() && std::isfinite(it->second.get<double>()))
    return it->second.to_str();
  error = "no \"job_id\" in the answer (" + detail::excerpt(body) + ")";
  return std::nullopt;
}

/// The error message a 4xx/5xx body carries (`error_message`, `error` or `result`), if any.
inline std::optional<std::string> error_message_of(std::string_view body) {
  picojson::value json;
  if (parse_object(body, json)) return std::nullopt;
  const auto& object = json.get<picojson::object>();
  for (const char* name : {"error_message", "error", "message"})
    if (auto text = string_field(object, name)) return detail::excerpt(*text, 200);
  return std::nullopt;
}

/// Most ids one batch request names (the protocol's limit).
inline constexpr std::size_t max_batch_ids = 1000;

/// The body of a batch status request: `{"job_ids": [...]}`.
inline std::string batch_body(const std::vector<const std::string*>& job_ids) {
  picojson::array ids;
  ids.reserve(job_ids.size());
  for (const std::string* id : job_ids) ids.emplace_back(*id);
  picojson::object body;
  body["job_ids"] = picojson::value(std::move(ids));
  return picojson::value(std::move(body)).serialize();
}

/// Reads a batch answer `{"results": {"<id>": {"result": ...}, ...}}`; entries it cannot read are left out
/// (those jobs are simply looked at again).
inline std::optional<std::map<std::string, StatusAnswer>> read_batch(std::string_view body, std::string& error) {
  picojson::value json;
  if (!parse_object_into(body, json, error)) return std::nullopt;
  const auto& object = json.get<picojson::object>();
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

/// The status target for a job: the endpoint template with the id percent-encoded into it.
inline std::string status_target(const std::string& prefix, const std::string& status_template,
                                 std::string_view job_id) {
  static constexpr std::string_view placeholder = "{job_id}";
  const auto at = status_template.find(placeholder);
  std::string target;  // built in one buffer: this runs for every status look
  target.reserve(prefix.size() + status_template.size() + job_id.size() * 3 + 8);
  target += prefix;
  if (at == std::string::npos) {
    target += status_template;
    target += status_template.find('?') == std::string::npos ? "?job_id=" : "&job_id=";
    detail::append_percent_encoded(target, job_id);
    return target;
  }
  target.append(status_template, 0, at);
  detail::append_percent_encoded(target, job_id);
  target.append(status_template, at + placeholder.size());
  return target;
}

}  // namespace protocol

}  // namespace heygen
