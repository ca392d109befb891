// HeyGen v3 assets: a direct upload opened and completed; the ingest protocol.
#pragma once

#include "heygen/vt/heygen_v3_protocol.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/json.hpp"
#include "heygen/vt/result.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

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
