// HeyGen v3 assets: a direct upload opened and completed, and an ingest's status.
#pragma once

#include "heygen/vt/heygen_v3_protocol.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/json.hpp"
#include "heygen/vt/result.hpp"

#include <cstdint>
#include <optional>
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

/// Where an asset's ingest stands: "queued", "processing", "completed", "failed" or "not_found".
struct AssetStatus {
  std::string asset_id{};       ///< The asset.
  std::string status{};         ///< HeyGen's word for where it stands.
  std::string error_message{};  ///< Why it failed, when it did.
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

/// `GET /v3/assets/statuses?asset_ids=a,b` (up to 100 ids).
inline void statuses_request(HttpRequest& out, std::string_view prefix, const std::vector<std::string>& asset_ids) {
  out.method = "GET";
  out.target = std::string(prefix) + "/v3/assets/statuses?asset_ids=";
  for (std::size_t i = 0; i < asset_ids.size(); ++i) {
    if (i > 0) out.target += "%2C";
    out.target += detail::percent_encode(asset_ids[i]);
  }
}

/// `data: [{video_id (the asset id), status, error}]` → each asset's status.
inline OrFailure<std::vector<AssetStatus>> read_statuses(const HttpResponse& response) {
  auto data = data_of(response);
  if (!data) return std::move(data).failure();
  if (!data->is<picojson::array>()) return Failure{FailureCause::bad_response, "\"data\" is not an array"};
  std::vector<AssetStatus> out;
  for (const auto& item : data->get<picojson::array>()) {
    if (!item.is<picojson::object>()) return Failure{FailureCause::bad_response, "an asset status is not an object"};
    const auto& fields = item.get<picojson::object>();
    AssetStatus status;
    status.asset_id = json::string_field(fields, "video_id").value_or("");
    status.status = json::string_field(fields, "status").value_or("");
    if (status.asset_id.empty() || status.status.empty())
      return Failure{FailureCause::bad_response, "an asset status without video_id or status"};
    if (status.status == "failed") status.error_message = failure_message(fields);
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace v3::assets
}  // namespace heygen
