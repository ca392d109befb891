// StatusSimulator's HeyGen v3 asset API (heygen_v3): a direct upload handed out with its presigned PUT URL and
// the headers to send with it, its completion (idempotent, checksum checked), the small-file multipart upload,
// and the ingest each asset then goes through, watched at /v3/assets/statuses. Like the other v3 routes, these
// need the API key and take the injected API faults; the PUT itself is the object store's (storage.hpp).
#ifndef HEYGEN_SIM_ASSETS_HPP
#define HEYGEN_SIM_ASSETS_HPP

#include "heygen_v3.hpp"
#include "heygen_webhooks.hpp"
#include "objects.hpp"
#include "simulator.hpp"
#include "storage.hpp"
#include "support.hpp"

#include <httplib.h>
#include <picojson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace heygen::sim {

namespace detail {

/// A direct upload's create body, read: the asset to keep, or the parameter at fault and why.
struct DirectUploadParse {
  /// The asset (size, type, name, declared checksum).
  Asset asset;
  /// The parameter at fault; empty when the body is fine.
  std::string param;
  /// Why it is refused.
  std::string problem;
};

/// Reads `{filename, content_type, size_bytes, checksum_sha256?}`; sizes above `max_bytes` are refused.
inline DirectUploadParse parse_direct_upload(const std::string& text, std::uint64_t max_bytes) {
  DirectUploadParse out;
  const auto refuse = [&out](std::string param, std::string problem) {
    out.param = std::move(param);
    out.problem = std::move(problem);
    return out;
  };
  picojson::value doc;
  if (!picojson::parse(doc, text).empty() || !doc.is<picojson::object>())
    return refuse("", "the body must be a JSON object");
  const auto& body = doc.get<picojson::object>();
  if (!v3_optional(body, "filename", out.asset.filename) || out.asset.filename.empty())
    return refuse("filename", "filename is required (a non-empty string)");
  if (!v3_optional(body, "content_type", out.asset.content_type) || out.asset.content_type.empty())
    return refuse("content_type", "content_type is required (a string)");
  if (!asset_type_taken(out.asset.content_type))
    return refuse("content_type", "content_type " + out.asset.content_type +
                                      " is not taken (png, jpeg, mp4, webm, quicktime, mp3, wav, pdf, srt)");
  double size = 0;
  if (!v3_optional(body, "size_bytes", size) || size < 1 ||
      size != static_cast<double>(static_cast<std::uint64_t>(size)))
    return refuse("size_bytes", "size_bytes is required: the file's exact size, a whole number above 0");
  if (size > static_cast<double>(max_bytes))
    return refuse("size_bytes", "size_bytes is above max_bytes (" + std::to_string(max_bytes) + ")");
  out.asset.size = static_cast<std::uint64_t>(size);
  std::string checksum;
  if (!v3_optional(body, "checksum_sha256", checksum))
    return refuse("checksum_sha256", "checksum_sha256 must be a string");
  if (!checksum.empty()) {
    out.asset.declared = parse_digest(checksum);
    if (!out.asset.declared)
      return refuse("checksum_sha256",
                    "checksum_sha256 must be a SHA-256 in hex (64 digits) or base64 (44 characters)");
  }
  return out;
}

/// An asset as the asset API answers it; with `status` when given.
inline std::string asset_json(const std::string& id, const Asset& asset, const std::string& url,
                              std::string_view status = {}) {
  JsonObject out;
  out.str("asset_id", id).str("url", url).str("mime_type", asset.content_type).count("size_bytes", asset.size);
  if (!status.empty()) out.str("status", status);
  return out.done();
}

/// One /v3/assets/statuses entry: HeyGen names the asset id `video_id`.
inline std::string asset_entry_json(const std::string& id, std::string_view status) {
  JsonObject out;
  out.str("video_id", id).str("status", status);
  if (status == "failed")
    out.raw("error", JsonObject{}.str("code", "ingest_failed").str("message", "simulated ingest failure").done());
  else if (status == "not_found")
    out.raw("error", JsonObject{}.str("code", "not_found").str("message", "no such asset").done());
  else
    out.raw("error", "null");
  return out.raw("batch_id", "null").raw("item_index", "null").done();
}

}  // namespace detail

inline void StatusSimulator::install_asset_routes() {
  using Reader = httplib::ContentReader;
  server_.Post("/v3/assets/direct-uploads", [this](const Request& q, Response& r) { on_direct_upload(q, r); });
  server_.Post("/v3/assets/([A-Za-z0-9_-]{1,64})/complete",
               [this](const Request& q, Response& r) { on_asset_complete(q, r); });
  server_.Get("/v3/assets/statuses", [this](const Request& q, Response& r) { on_asset_statuses(q, r); });
  server_.Post("/v3/assets", [this](const Request& q, Response& r, const Reader& c) { on_asset_multipart(q, r, c); });
  server_.Put(std::string(detail::uploads_prefix) + "([A-Za-z0-9_-]{1,64})",
              [this](const Request& q, Response& r, const Reader& c) { on_upload(q, r, c); });
}

inline std::string StatusSimulator::asset_url(const std::string& id) const { return origin_ + "/assets/" + id; }

inline bool StatusSimulator::asset_usable(const std::string& id) {
  // Taken once its bytes are in, still ingesting or not: whether HeyGen waits for the ingest is not documented.
  return assets_.with(id, [](const detail::Asset* asset) { return asset != nullptr && asset->completed; });
}

inline void StatusSimulator::on_direct_upload(const Request& req, Response& res) {
  if (v3_refused(req, res, draw_fault(false))) return;
  auto parsed = detail::parse_direct_upload(req.body, config_.storage.max_upload_bytes);
  if (!parsed.problem.empty()) return send_error(res, 400, "invalid_parameter", parsed.problem, parsed.param);
  detail::JsonObject headers;
  headers.str("Content-Type", parsed.asset.content_type);
  if (parsed.asset.declared) headers.str("x-amz-checksum-sha256", detail::base64_of(*parsed.asset.declared));
  const std::uint64_t size = parsed.asset.size;
  const std::string id = assets_.add(std::move(parsed.asset));
  storage_.add(&StorageCounts::uploads_started);
  const std::string data = detail::JsonObject{}
                               .str("asset_id", id)
                               .str("upload_url", upload_url(id, size))
                               .raw("upload_headers", headers.done())
                               .count("expires_in_seconds", static_cast<std::uint64_t>(config_.storage.url_lifetime_s))
                               .count("max_bytes", size)
                               .str("status", "pending_upload")
                               .done();
  send_json(res, 200, detail::v3_data_json(data));
}

inline void StatusSimulator::on_asset_complete(const Request& req, Response& res) {
  if (v3_refused(req, res, draw_fault(false))) return;
  const std::string id = req.matches[1];
  picojson::value doc;
  std::string checksum;
  const bool object = picojson::parse(doc, req.body).empty() && doc.is<picojson::object>();
  if (!req.body.empty() && (!object || !detail::v3_optional(doc.get<picojson::object>(), "checksum_sha256", checksum)))
    return send_error(res, 400, "invalid_parameter", R"(the body must be {"checksum_sha256"?: string})",
                      "checksum_sha256");
  const auto given = detail::parse_digest(checksum);
  if (!checksum.empty() && !given)
    return send_error(res, 400, "invalid_parameter", "checksum_sha256 must be a SHA-256 in hex or base64",
                      "checksum_sha256");
  const bool fails = storage_fault(config_.storage.ingest_fail_rate);  // drawn before the registry's lock: mu_ first
  struct Outcome {
    int status = 200;
    std::string message;
    std::string data;
    bool first = false;
  };
  const auto outcome = assets_.with(id, [&](detail::Asset* asset) -> Outcome {
    if (asset == nullptr) return {404, "asset " + id + " not found", "", false};
    if (!asset->stored)
      return {400, "asset " + id + " has no upload yet: PUT its bytes to the upload_url first", "", false};
    if (given && *given != *asset->stored) return {400, "checksum_sha256 does not match the uploaded bytes", "", false};
    const bool first = !asset->completed;
    if (first) {
      asset->completed = Clock::now();
      asset->fails = fails;
    }
    return {200, "", detail::asset_json(id, *asset, asset_url(id), "processing"), first};
  });
  if (outcome.status == 404) return send_error(res, 404, "not_found", outcome.message);
  if (outcome.status != 200)
    return send_error(res, 400, "invalid_parameter", outcome.message, given ? "checksum_sha256" : "");
  if (outcome.first) storage_.add(&StorageCounts::uploads_completed);
  send_json(res, 200, detail::v3_data_json(outcome.data));
}

inline void StatusSimulator::on_asset_statuses(const Request& req, Response& res) {
  if (v3_refused(req, res, draw_fault(false))) return;
  const auto named = detail::v3_status_ids(req.get_param_value("asset_ids"), "asset_ids");
  if (!named.problem.empty()) return send_error(res, 400, "invalid_parameter", named.problem, "asset_ids");
  const auto now = Clock::now();
  const auto ingest = detail::to_clock(config_.storage.ingest_s);
  std::string entries = "[";
  for (const auto& id : named.ids) {
    if (entries.size() > 1) entries += ',';
    entries += detail::asset_entry_json(id, assets_.with(id, [&](const detail::Asset* asset) {
      return asset == nullptr ? std::string_view("not_found") : detail::asset_status(*asset, now, ingest);
    }));
  }
  send_json(res, 200,
            detail::JsonObject{}.raw("data", entries + "]").raw("has_more", "false").raw("next_token", "null").done());
}

inline void StatusSimulator::on_asset_multipart(const Request& req, Response& res,
                                                const httplib::ContentReader& reader) {
  if (v3_refused(req, res, draw_fault(false))) return detail::close_after_response(res);  // the body is unread
  if (!req.is_multipart_form_data()) {
    detail::close_after_response(res);
    return send_error(res, 400, "invalid_parameter", "the body must be multipart/form-data with a part named file",
                      "file");
  }
  detail::Asset asset;
  detail::Sha256 sha;
  bool in_file = false;
  bool seen = false;
  const bool read = reader(
      [&](const httplib::MultipartFormData& part) {
        in_file = part.name == "file" && !seen;
        seen = seen || in_file;
        if (in_file) asset.filename = part.filename;
        if (in_file) asset.content_type = part.content_type;
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (!in_file) return true;
        asset.size += n;
        sha.update(data, n);
        return asset.size <= detail::multipart_max_bytes;
      });
  if (asset.size > detail::multipart_max_bytes) {
    detail::close_after_response(res);
    return send_error(res, 413, "payload_too_large", "file is larger than 32 MB: use a direct upload");
  }
  if (!read) {
    detail::close_after_response(res);
    return send_error(res, 400, "invalid_parameter", "the multipart body cannot be read", "file");
  }
  if (!seen || asset.size == 0)
    return send_error(res, 400, "invalid_parameter", "a non-empty part named file is required", "file");
  if (!detail::asset_type_taken(asset.content_type)) asset.content_type = detail::asset_type_of(asset.filename);
  if (asset.content_type.empty())
    return send_error(res, 400, "invalid_parameter",
                      "file type not taken: png, jpeg, mp4, webm, mov, mp3, wav, pdf, srt", "file");
  asset.stored = sha.finish();
  asset.fails = storage_fault(config_.storage.ingest_fail_rate);
  asset.completed = Clock::now();
  const std::string id = assets_.add(asset);
  storage_.add(&StorageCounts::uploads_started);
  storage_.add(&StorageCounts::uploads_completed);
  send_json(res, 200, detail::v3_data_json(detail::asset_json(id, asset, asset_url(id))));
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_ASSETS_HPP
