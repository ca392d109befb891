// Uploads: a file's type and checksum; its bytes PUT to a presigned URL, retried.
#pragma once

#include "heygen/vt/downloads.hpp"
#include "heygen/vt/files.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/result.hpp"
#include "heygen/vt/sender.hpp"
#include "heygen/vt/webhook.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// With HEYGEN_VT_WITH_OPENSSL, webhook.hpp has brought in <openssl/evp.h>.

namespace heygen {

/// How a file's SHA-256 goes in the upload's body fields (the schemas say hex; HeyGen's examples show base64).
enum class ChecksumEncoding {
  hex,     ///< 64 lower-case hex digits (the default, as the schemas say).
  base64,  ///< Base64 of the 32 bytes.
  none,    ///< No checksum sent (and none computed).
};

/// How uploads behave.
struct UploadOptions {
  ChecksumEncoding checksum = ChecksumEncoding::hex;  ///< The checksum field's encoding (hex needs OpenSSL).
  std::string content_type{};                         ///< The file's type; empty: from its extension.
  std::chrono::milliseconds idle_timeout{60000};      ///< The longest silence from storage before a try is cut off.
  TransferProgress progress{};                        ///< Told as bytes go out; may be empty.
};

/// Where a file's bytes go: a presigned URL and the headers it must carry verbatim.
struct UploadTarget {
  std::string url{};                  ///< The presigned PUT URL.
  std::vector<HttpHeader> headers{};  ///< Every header the PUT must carry, exactly as given.
};

namespace uploads {

/// The content type HeyGen takes for a file, from its extension (case-insensitive); empty when it takes none.
inline std::string_view content_type_of(std::string_view path) {
  const auto dot = path.rfind('.');
  const auto slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  std::string extension;
  for (char c : path.substr(dot + 1)) extension += detail::ascii_lower(c);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> known{{
      {"mp4", "video/mp4"},
      {"webm", "video/webm"},
      {"mov", "video/quicktime"},
      {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"pdf", "application/pdf"},
      {"srt", "application/x-subrip"},
  }};
  for (const auto& [name, type] : known)
    if (name == extension) return type;
  return {};
}

/// Lower-case hex of `bytes`.
inline std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4U];
    out += digits[c & 15U];
  }
  return out;
}

/// Standard base64 of `bytes`, padded.
inline std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int held = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8U) | c;
    held += 8;
    while (held >= 6) {
      held -= 6;
      out += alphabet[(bits >> static_cast<unsigned>(held)) & 63U];
    }
  }
  if (held > 0) out += alphabet[(bits << static_cast<unsigned>(6 - held)) & 63U];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

#ifdef HEYGEN_VT_WITH_OPENSSL
/// The SHA-256 of the whole file, 32 bytes, read once in large chunks; throws FileError.
inline std::string sha256_of(files::SourceFile& file) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
    throw FileError(file.path(), "cannot start a SHA-256 (libcrypto failed)");
  std::vector<char> chunk(std::size_t{1} << 20);
  for (std::uint64_t offset = 0; offset < file.size();) {
    const std::size_t got = file.read(offset, chunk.data(), chunk.size());
    if (got == 0) throw FileError(file.path(), "cannot read the file: " + file.error());
    EVP_DigestUpdate(context.get(), chunk.data(), got);
    offset += got;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest.data(), &length) != 1 || length != 32)
    throw FileError(file.path(), "cannot finish a SHA-256 (libcrypto failed)");
  return {reinterpret_cast<const char*>(digest.data()), length};  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}
#endif

/// The checksum field for `file` in `encoding` (empty for none); throws std::invalid_argument when the build has no
/// OpenSSL to compute one.
inline std::string checksum_of([[maybe_unused]] files::SourceFile& file, ChecksumEncoding encoding) {
  if (encoding == ChecksumEncoding::none) return {};
#ifdef HEYGEN_VT_WITH_OPENSSL
  const std::string digest = sha256_of(file);
  return encoding == ChecksumEncoding::hex ? hex(digest) : base64(digest);
#else
  throw std::invalid_argument(
      "heygen: an upload's SHA-256 needs OpenSSL (define HEYGEN_VT_WITH_OPENSSL and link libcrypto, or set "
      "UploadOptions::checksum to none)");
#endif
}

/// One PUT of the whole file to `where`, streamed from disk.
template <class S>
HttpResponse put_once(S& sender, files::SourceFile& file, const UploadTarget& where, const UploadOptions& options,
                      const std::stop_token& stop) {
  BodySource source;
  source.size = file.size();
  source.read = [&](std::uint64_t offset, char* buffer, std::size_t capacity) {
    const std::size_t got = file.read(offset, buffer, capacity);
    if (got > 0 && options.progress) options.progress(offset + got, file.size());
    return got;
  };
  HttpRequest request;
  request.method = "PUT";
  request.url = where.url;
  request.headers = where.headers;
  request.timeout = options.idle_timeout;
  request.stop = stop;
  request.source = &source;
  return sender.transfer(request);
}

/// The error an upload ends with, saying why its last try failed.
inline TranslationError put_failed(const files::SourceFile& file, const HttpResponse& response, int requests) {
  std::string why = "upload of " + file.path() + ": ";
  if (response.received())
    why += "storage answered HTTP " + std::to_string(response.status) + ": " + detail::excerpt(response.body, 200);
  else
    why += "no response (" + response.error_detail + ")";
  return {response.received() ? FailureCause::http_status : FailureCause::transport, why, response.status, requests};
}

/// PUTs `file` to the target `target(false)` gives, streamed from disk. A cut, a timeout, a 429 or a 5xx sends it
/// again from the start after the sender's backoff (up to max_retries in a row); a 403 (the URL expired) asks
/// `target(true)` for a fresh one, once. The file must not change meanwhile. Returns the requests sent; throws
/// TranslationError or FileError.
template <class S>
int put(S& sender, files::SourceFile& file, const std::function<UploadTarget(bool fresh)>& target,
        const UploadOptions& options, const std::stop_token& stop) {
  UploadTarget where = target(false);
  CallState call = sender.begin({}, stop);
  call.deadline = TimePoint::max();  // each try has its idle timeout instead
  bool refreshed = false;
  for (int failures = 0, requests = 1;; ++requests) {
    file.check_unchanged();
    const HttpResponse response = put_once(sender, file, where, options, stop);
    if (stop.stop_requested()) throw TranslationError(FailureCause::cancelled, detail::cancelled_message);
    file.check_unchanged();
    if (response.received() && response.status / 100 == 2) return requests;
    if (!response.received() && !file.error().empty())
      throw FileError(file.path(), "cannot read the file: " + file.error());
    if (response.received() && response.status == 403 && !std::exchange(refreshed, true)) {
      where = target(true);
      continue;
    }
    const bool retryable =
        response.received() ? response.status == 429 || response.status >= 500 : downloads::worth_again(response.error);
    if (!retryable || ++failures > sender.retry_policy().max_retries) throw put_failed(file, response, requests);
    if (auto ended = sender.pause(call, sender.retry_wait(failures, response)))
      throw TranslationError(ended->cause, ended->message, response.status, requests);
  }
}

}  // namespace uploads
}  // namespace heygen
