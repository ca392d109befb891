// HeyGen v3 wire: TranslationRequest, and HeyGen's JSON of creates, statuses and pushes.
#pragma once

#include "heygen/vt/detail.hpp"
#include "heygen/vt/json.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/policies.hpp"
#include "heygen/vt/protocol.hpp"
#include "heygen/vt/url.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <picojson.h>

namespace heygen {

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

}  // namespace heygen
