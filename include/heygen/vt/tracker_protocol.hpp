// TrackerProtocol: the exercise's server and our extensions.
#pragma once

#include "heygen/vt/detail.hpp"
#include "heygen/vt/json.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/policies.hpp"
#include "heygen/vt/protocol.hpp"
#include "heygen/vt/tracker_scan.hpp"
#include "heygen/vt/url.hpp"

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <picojson.h>

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

}  // namespace heygen
