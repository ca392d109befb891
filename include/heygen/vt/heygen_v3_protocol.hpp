// HeyGenV3Protocol: HeyGen's v3 API, and the options that fit it.
#pragma once

#include "heygen/vt/heygen_v3_wire.hpp"
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

}  // namespace heygen
