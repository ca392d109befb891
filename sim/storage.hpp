// StatusSimulator's object store over HTTP (heygen_v3): presigned GETs of translated outputs, streamed in large
// chunks with byte ranges; presigned PUTs of uploads, streamed through SHA-256 and never kept; and the storage
// faults a client of S3 behind a CDN meets (cut bodies, overstated lengths, HTML error pages, 5xx, a slow
// network). Storage speaks S3's XML errors, not HeyGen's JSON, and needs no API key: the URL's signature is.
#ifndef HEYGEN_SIM_STORAGE_HPP
#define HEYGEN_SIM_STORAGE_HPP

#include "objects.hpp"
#include "simulator.hpp"
#include "support.hpp"

#include <httplib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace heygen::sim {

namespace detail {

/// Largest piece of a file body made and written at once: big enough that a fast client measures itself.
inline constexpr std::size_t storage_chunk = std::size_t{256} << 10;

/// What a CDN or proxy in front of the store sends, with 200, when it fails (the html-error fault).
inline constexpr std::string_view storage_html_page =
    "<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>\n"
    "<body><h1>Service Temporarily Unavailable</h1><p>The server is temporarily unable to service your request."
    "</p></body></html>\n";

/// Largest file a multipart POST /v3/assets takes (HeyGen: "Max 32 MB").
inline constexpr std::uint64_t multipart_max_bytes = std::uint64_t{32} << 20;

/// Where presigned uploads are PUT: this and the asset's id.
inline constexpr std::string_view uploads_prefix = "/uploads/";

/// Why the store refuses a PUT before reading its body; status 0 when it does not.
struct PutRefusal {
  /// HTTP status.
  int status = 0;
  /// S3's error code.
  std::string_view code;
  /// Its message.
  std::string_view message;
};

/// Checks a PUT's headers against the asset it uploads: what the URL signed (size, type, checksum) must match.
inline PutRefusal check_put(const httplib::Request& req, const Asset* asset) {
  if (asset == nullptr) return {404, "NoSuchUpload", "The specified upload does not exist."};
  if (asset->completed) return {403, "AccessDenied", "The upload was completed; the asset can no longer be written."};
  if (req.get_header_value("Content-Length") != std::to_string(asset->size))
    return {403, "SignatureDoesNotMatch", "Content-Length is not the size signed into the URL."};
  if (req.get_header_value("Content-Type") != asset->content_type)
    return {403, "SignatureDoesNotMatch", "Content-Type is not the one signed for this upload (see upload_headers)."};
  if (asset->declared && req.get_header_value("x-amz-checksum-sha256") != base64_of(*asset->declared))
    return {403, "SignatureDoesNotMatch", "x-amz-checksum-sha256 is not the one signed for this upload."};
  return {};
}

}  // namespace detail

inline std::uint64_t StatusSimulator::body_limit(const Request& req) const {
  if (config_.api != Api::heygen_v3) return config_.max_body_bytes;
  if (req.method == "PUT" && req.path.starts_with(detail::uploads_prefix))
    return std::max<std::uint64_t>(config_.max_body_bytes, config_.storage.max_upload_bytes);
  if (req.method == "POST" && req.path == "/v3/assets")
    return std::max<std::uint64_t>(config_.max_body_bytes, detail::multipart_max_bytes + detail::body_framing_bytes);
  return config_.max_body_bytes;
}

inline std::uint64_t StatusSimulator::largest_body() const {
  if (config_.api != Api::heygen_v3) return config_.max_body_bytes;
  return std::max<std::uint64_t>({config_.max_body_bytes, config_.storage.max_upload_bytes,
                                  detail::multipart_max_bytes + detail::body_framing_bytes});
}

inline bool StatusSimulator::storage_fault(double rate) {
  if (rate <= 0) return false;  // no draw: storage traffic must not shift the jobs' random sequence
  std::lock_guard<std::mutex> lock(mu_);
  return rng_.uniform() < rate;
}

inline bool StatusSimulator::pause_until(Clock::time_point when) {
  std::unique_lock<std::mutex> lock(mu_);
  return !wake_.wait_until(lock, when, [this] { return stopping_; });
}

inline void StatusSimulator::send_storage_error(Response& res, int status, std::string_view code,
                                                std::string_view message, const Request& req) {
  if (status == 403) storage_.add(&StorageCounts::storage_403s);
  res.status = status;
  res.set_content(detail::s3_error_xml(code, message, req.path), "application/xml");
}

inline bool StatusSimulator::storage_refused(const Request& req, Response& res, std::string_view bound) {
  // The key is counted, never checked: storage must not need it, and a client must not send it there.
  if (req.has_header("X-Api-Key") || req.has_header("Authorization"))
    storage_.add(&StorageCounts::storage_requests_with_api_key);
  const auto check = detail::check_presigned(config_.api_key, req.path, req.get_param_value("Expires"),
                                             req.get_param_value("Signature"), bound);
  if (check == detail::Presigned::valid) return false;
  send_storage_error(res, 403, "AccessDenied",
                     check == detail::Presigned::expired ? "Request has expired"
                                                         : "Query-string authentication: the signature does not match",
                     req);
  return true;
}

inline void StatusSimulator::on_file(const Request& req, Response& res, std::string_view rest) {
  storage_.add(&StorageCounts::file_gets);
  if (req.has_header("Range")) storage_.add(&StorageCounts::range_gets);
  if (storage_refused(req, res)) return;
  const auto slash = std::min(rest.find('/'), rest.size());
  const std::string id(rest.substr(0, slash));
  const std::string name(rest.substr(std::min(slash + 1, rest.size())));
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    known = by_id_.contains(id);
  }
  if (!known || std::find(output_names.begin(), output_names.end(), name) == output_names.end())
    return send_storage_error(res, 404, "NoSuchKey", "The specified key does not exist.", req);
  if (storage_fault(config_.storage.html_error_rate)) {
    storage_.add(&StorageCounts::html_errors);
    res.status = 200;
    return res.set_content(std::string(detail::storage_html_page), "text/html");
  }
  const std::uint64_t size = output_size(config_, id, name);
  const auto range = detail::byte_range(req.get_header_value("Range"), size);
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("ETag", detail::output_etag(id, name, size));
  if (range.unsatisfiable) {
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    return send_storage_error(res, 416, "InvalidRange", "The requested range is not satisfiable", req);
  }
  const std::uint64_t length = range.last - range.first + 1;
  std::uint64_t declared = length;
  std::uint64_t sent = length;
  if (storage_fault(config_.storage.cut_rate)) {
    storage_.add(&StorageCounts::cuts);
    sent = length / 2;
  } else if (storage_fault(config_.storage.wrong_length_rate)) {
    storage_.add(&StorageCounts::wrong_lengths);
    declared = length + length / 2 + 1;
  }
  res.status = range.partial ? 206 : 200;
  if (range.partial)
    res.set_header("Content-Range", "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
                                        std::to_string(size));
  stream_output(res, id, name, range.first, declared, sent);
}

inline void StatusSimulator::stream_output(Response& res, const std::string& id, const std::string& name,
                                           std::uint64_t first, std::uint64_t declared, std::uint64_t sent) {
  // The body is made piece by piece as httplib asks for it: nothing the size of the file is ever held.
  auto provider = [this, id, name, first, sent, pacer = detail::Pacer(config_.storage.pace_bytes_per_s),
                   buffer = std::string()](std::size_t offset, std::size_t wanted, httplib::DataSink& sink) mutable {
    if (offset >= sent) return false;  // cut, or fewer bytes than declared: the connection closes here
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>({wanted, sent - offset, pacer.step(detail::storage_chunk)}));
    if (pacer.on() && !pause_until(pacer.due(offset + n))) return false;  // the piece arrives no sooner
    if (buffer.size() < n) buffer.resize(n);
    output_content(id, name, first + offset, buffer.data(), n);
    if (!sink.write(buffer.data(), n)) return false;
    storage_.add(&StorageCounts::bytes_served, n);
    return true;
  };
  res.set_content_provider(static_cast<std::size_t>(declared), std::string(detail::output_type(name)),
                           std::move(provider));
}

inline std::string StatusSimulator::upload_url(const std::string& id, std::uint64_t size) const {
  const std::int64_t expires = detail::unix_now() + config_.storage.url_lifetime_s;
  const std::string path = std::string(detail::uploads_prefix) + id;
  const std::string bound = "Size=" + std::to_string(size);
  return origin_ + path + "?Expires=" + std::to_string(expires) + "&" + bound +
         "&Signature=" + detail::presign_signature(config_.api_key, path, expires, bound);
}

inline bool StatusSimulator::upload_refused(const Request& req, Response& res, const std::string& id) {
  if (storage_refused(req, res, "Size=" + req.get_param_value("Size"))) return true;
  const auto refusal = assets_.with(id, [&](const detail::Asset* asset) { return detail::check_put(req, asset); });
  if (refusal.status != 0) send_storage_error(res, refusal.status, refusal.code, refusal.message, req);
  return refusal.status != 0;
}

inline void StatusSimulator::on_upload(const Request& req, Response& res, const httplib::ContentReader& reader) {
  storage_.add(&StorageCounts::upload_puts);
  const std::string id = req.matches[1];
  if (upload_refused(req, res, id)) return detail::close_after_response(res);  // the body is left unread
  if (storage_fault(config_.storage.fail_5xx_rate)) {
    const bool slow = storage_.add(&StorageCounts::fail_5xx) % 2 == 0;  // 500 and 503 in turn
    send_storage_error(
        res, slow ? 503 : 500, slow ? "SlowDown" : "InternalError",
        slow ? "Please reduce your request rate." : "We encountered an internal error. Please try again.", req);
    return detail::close_after_response(res);
  }
  const std::uint64_t size = detail::to_uint(req.get_header_value("Content-Length")).value_or(0);
  const bool cut = storage_fault(config_.storage.cut_rate);
  if (cut) storage_.add(&StorageCounts::cuts);
  detail::Sha256 sha;
  detail::Pacer pacer(config_.storage.pace_bytes_per_s);
  std::uint64_t received = 0;
  const bool read = reader([&](const char* data, std::size_t n) {
    sha.update(data, n);
    received += n;
    storage_.add(&StorageCounts::upload_bytes_received, n);
    if (cut && received >= size / 2) return false;
    return !pacer.on() || pause_until(pacer.due(received));
  });
  if (!read || received != size) {
    detail::drop_connection();  // cut, or the client went away: nothing is stored, nothing answered
    return;
  }
  const detail::Digest digest = sha.finish();
  const std::string sent = req.get_header_value("x-amz-checksum-sha256");
  const bool good = assets_.with(id, [&](detail::Asset* asset) {
    const bool matches =
        (!asset->declared || *asset->declared == digest) && (sent.empty() || sent == detail::base64_of(digest));
    if (matches) asset->stored = digest;
    return matches;
  });
  if (!good)
    return send_storage_error(res, 400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.",
                              req);
  res.status = 200;
  res.set_header("ETag", '"' + detail::hex_of(digest.data(), 16) + '"');
  res.set_header("x-amz-checksum-sha256", detail::base64_of(digest));
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_STORAGE_HPP
