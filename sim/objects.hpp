// The object store behind heygen_v3's presigned URLs, in parts that know nothing of HTTP routing: translated
// outputs made on demand (any byte range of any size, never stored), URL signatures, byte ranges, S3's XML
// errors, pacing, the tally of what the store did, and the uploaded assets (size and SHA-256, never bytes).
#ifndef HEYGEN_SIM_OBJECTS_HPP
#define HEYGEN_SIM_OBJECTS_HPP

#include "options.hpp"
#include "stats.hpp"
#include "support.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace heygen::sim {

/// The files a completed translation offers, as its output URLs name them.
inline constexpr std::array<std::string_view, 4> output_names{"video.mp4", "audio.mp3", "captions.srt", "captions.vtt"};

/// Size in bytes of output `name` of job `job_id` as a simulator configured with `config` serves it: every
/// file is StorageConfig::output_bytes long (the job and name are taken so tests need not know that).
inline std::uint64_t output_size(const SimulatorConfig& config, std::string_view /*job_id*/,
                                 std::string_view /*name*/) {
  return config.storage.output_bytes;
}

namespace detail {

/// 64-bit FNV-1a of `text`, continuing from `hash`.
inline std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 0xcbf29ce484222325ULL) {
  for (const char ch : text) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// SplitMix64's finalizer: a cheap bijection whose outputs look random even for consecutive inputs.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

/// The key every byte of one output file is made from.
inline std::uint64_t output_key(std::string_view job_id, std::string_view name) {
  return mix64(fnv1a(name, mix64(fnv1a(job_id))));
}

/// The `index`th 8-byte word of the file with `key`: counter-based, so any offset is made without the ones
/// before it (ranges cost what they serve).
inline std::uint64_t output_word(std::uint64_t key, std::uint64_t index) {
  return mix64(key + index * 0x9e3779b97f4a7c15ULL);
}

/// Writes bytes [from, from + n) of `word`, least significant first, to `out`.
inline void put_word_bytes(char* out, std::uint64_t word, std::size_t from, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<char>((word >> (8 * (from + k))) & 0xFFU);
}

/// 16 lowercase hex digits of `value`.
inline std::string hex64(std::uint64_t value) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4U) out[static_cast<std::size_t>(i)] = hex[value & 0xFU];
  return out;
}

}  // namespace detail

/// Writes bytes [offset, offset + n) of output `name` of job `job_id` to `out`: the same bytes for the same
/// arguments on every run and platform, whatever the file's size (byte k is byte k % 8, least significant
/// first, of a SplitMix64 word made from the job, the name and k / 8). This is what GET /files serves.
inline void output_content(std::string_view job_id, std::string_view name, std::uint64_t offset, char* out,
                           std::size_t n) {
  const std::uint64_t key = detail::output_key(job_id, name);
  std::uint64_t index = offset / 8;
  std::size_t done = 0;
  if (const std::size_t skip = offset % 8; skip != 0 && n > 0) {
    done = std::min(n, 8 - skip);
    detail::put_word_bytes(out, detail::output_word(key, index++), skip, done);
  }
  for (; n - done >= 8; done += 8) {
    const std::uint64_t word = detail::output_word(key, index++);
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(out + done, &word, 8);  // the byte order put_word_bytes writes, 8 at once
    } else {
      detail::put_word_bytes(out + done, word, 0, 8);
    }
  }
  if (done < n) detail::put_word_bytes(out + done, detail::output_word(key, index), 0, n - done);
}

namespace detail {

/// The Content-Type of an output file.
inline std::string_view output_type(std::string_view name) {
  if (name.ends_with(".mp4")) return "video/mp4";
  if (name.ends_with(".mp3")) return "audio/mpeg";
  if (name.ends_with(".vtt")) return "text/vtt";
  return "application/x-subrip";
}

/// The ETag of an output file: its key and size, so another size is another entity.
inline std::string output_etag(std::string_view job_id, std::string_view name, std::uint64_t size) {
  return '"' + hex64(mix64(output_key(job_id, name) ^ size)) + '"';
}

/// The signature of a presigned URL: FNV-1a over the secret, the path, the expiry and what else the URL binds
/// (an upload's size), as 16 hex digits. Unguessable without the secret is all a simulator needs.
inline std::string presign_signature(std::string_view secret, std::string_view path, std::int64_t expires,
                                     std::string_view bound = {}) {
  std::string text(secret);
  text.append("\n").append(path).append("\n").append(std::to_string(expires));
  if (!bound.empty()) text.append("\n").append(bound);
  return hex64(fnv1a(text));
}

/// What checking a presigned URL's query came to.
enum class Presigned { valid, expired, forged };

/// Checks `Expires` and `Signature` (query values) against `path`; the signature first, as S3 does, so a
/// forged expiry reads as forged.
inline Presigned check_presigned(std::string_view secret, std::string_view path, std::string_view expires,
                                 std::string_view signature, std::string_view bound = {}) {
  const auto when = to_uint(expires);
  if (!when || *when > static_cast<std::uint64_t>(INT64_MAX)) return Presigned::forged;
  if (signature != presign_signature(secret, path, static_cast<std::int64_t>(*when), bound)) return Presigned::forged;
  return static_cast<std::int64_t>(*when) < unix_now() ? Presigned::expired : Presigned::valid;
}

/// The bytes a GET asks for, read from its Range header against the file's size.
struct ByteRange {
  /// First byte served.
  std::uint64_t first = 0;
  /// Last byte served (inclusive).
  std::uint64_t last = 0;
  /// A range was asked for and is served (206).
  bool partial = false;
  /// A range was asked for that starts past the end (416).
  bool unsatisfiable = false;
};

/// Reads `bytes=A-B`, `bytes=A-` or `bytes=-N` against a file of `size` (> 0) bytes. Anything else (several
/// ranges, another unit, a malformed value) is ignored and the whole file served, as S3 does.
inline ByteRange byte_range(std::string_view header, std::uint64_t size) {
  ByteRange whole{0, size - 1, false, false};
  constexpr std::string_view unit = "bytes=";
  if (header.substr(0, unit.size()) != unit) return whole;
  const std::string_view spec = header.substr(unit.size());
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) return whole;
  const auto first = to_uint(spec.substr(0, dash));
  const auto last = to_uint(spec.substr(dash + 1));
  if (!first && !last) return whole;
  if (!first) {  // a suffix: the last N bytes
    if (*last == 0) return {0, 0, false, true};
    return {size - std::min(*last, size), size - 1, true, false};
  }
  if (dash + 1 < spec.size() && (!last || *last < *first)) return whole;
  if (*first >= size) return {0, 0, false, true};
  return {*first, last ? std::min(*last, size - 1) : size - 1, true, false};
}

/// `text` with XML's special characters escaped.
inline std::string xml_escaped(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '&')
      out += "&amp;";
    else if (ch == '<')
      out += "&lt;";
    else if (ch == '>')
      out += "&gt;";
    else
      out += ch;
  }
  return out;
}

/// An S3-style error body: `<Error><Code>..</Code><Message>..</Message><Resource>..</Resource>...`.
inline std::string s3_error_xml(std::string_view code, std::string_view message, std::string_view resource) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + xml_escaped(code) + "</Code><Message>" +
         xml_escaped(message) + "</Message><Resource>" + xml_escaped(resource) +
         "</Resource><RequestId>SIMULATOR</RequestId></Error>";
}

/// Paces one transfer: when the bytes moved so far may have been moved at the configured rate.
class Pacer {
 public:
  /// A pacer at `bytes_per_s`, starting now; 0 or less paces nothing.
  explicit Pacer(double bytes_per_s) : rate_(bytes_per_s), start_(Clock::now()) {}
  /// True when the transfer is paced.
  bool on() const noexcept { return rate_ > 0; }
  /// When `bytes` may have been moved.
  Clock::time_point due(std::uint64_t bytes) const { return start_ + to_clock(static_cast<double>(bytes) / rate_); }
  /// The most bytes to move in one step: `chunk`, or a tenth of a second's worth when paced (a trickle moves
  /// in small steps rather than one burst a second).
  std::size_t step(std::size_t chunk) const {
    if (!on()) return chunk;
    return static_cast<std::size_t>(std::clamp(rate_ / 10, 1.0, static_cast<double>(chunk)));
  }

 private:
  double rate_;
  Clock::time_point start_;
};

/// The store's counters: one small lock of their own, so serving file bytes never contends with the jobs' lock.
class StorageTally {
 public:
  /// Adds `n` to one counter, e.g. `add(&StorageCounts::file_gets)`; returns its new value.
  std::uint64_t add(std::uint64_t StorageCounts::*counter, std::uint64_t n = 1) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_.*counter += n;
  }
  /// A copy of every counter.
  StorageCounts snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }

 private:
  mutable std::mutex mu_;
  StorageCounts counts_;
};

/// A SHA-256 digest.
using Digest = std::array<unsigned char, 32>;

/// SHA-256 of bytes fed in pieces, so an upload's digest needs none of its bytes kept.
class Sha256 {
 public:
  /// A fresh digest; throws std::runtime_error when OpenSSL cannot make one.
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("sha256");
  }
  /// Feeds `n` bytes.
  void update(const char* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  /// The digest of everything fed; call once.
  Digest finish() {
    Digest out{};
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), out.data(), &length);
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

/// Base64 of a digest, as S3's x-amz-checksum-sha256 carries it.
inline std::string base64_of(const Digest& digest) {
  std::array<unsigned char, 48> out{};
  const int n = EVP_EncodeBlock(out.data(), digest.data(), static_cast<int>(digest.size()));
  return {reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(std::max(n, 0))};
}

/// A SHA-256 written as 64 hex digits or as base64 of its 32 bytes (HeyGen's schemas say hex, its examples
/// base64: either is taken); nothing when it is neither.
inline std::optional<Digest> parse_digest(std::string_view text) {
  Digest out{};
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() == 64) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      const int hi = nibble(text[2 * i]);
      const int lo = nibble(text[2 * i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return out;
  }
  std::array<unsigned char, 33> raw{};
  if (text.size() != 44 || EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(text.data()), 44) != 33)
    return std::nullopt;
  std::copy_n(raw.begin(), out.size(), out.begin());
  if (base64_of(out) != text) return std::nullopt;  // EVP_DecodeBlock lets bad padding through
  return out;
}

/// The file types HeyGen takes as assets, by extension ("png, jpeg, mp4, webm, mp3, wav, pdf, srt", and mov).
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 10> asset_types{{
    {".mp4", "video/mp4"},
    {".webm", "video/webm"},
    {".mov", "video/quicktime"},
    {".mp3", "audio/mpeg"},
    {".wav", "audio/wav"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".pdf", "application/pdf"},
    {".srt", "application/x-subrip"},
}};

/// True for a Content-Type HeyGen takes as an asset.
inline bool asset_type_taken(std::string_view type) {
  return std::any_of(asset_types.begin(), asset_types.end(), [&](const auto& entry) { return entry.second == type; });
}

/// The asset type of a file name's extension; empty when HeyGen takes no such file.
inline std::string_view asset_type_of(std::string_view filename) {
  for (const auto& [extension, type] : asset_types)
    if (filename.ends_with(extension)) return type;
  return {};
}

/// An asset as the store keeps it: never its bytes, only their size and digest.
struct Asset {
  /// The file name given.
  std::string filename;
  /// Its Content-Type.
  std::string content_type;
  /// Its size in bytes (declared, for a direct upload).
  std::uint64_t size = 0;
  /// The checksum the direct upload declared, if any.
  std::optional<Digest> declared;
  /// The digest of the bytes a PUT stored; set once the bytes are in.
  std::optional<Digest> stored;
  /// When its ingest began (complete, or a multipart upload taken); unset before.
  std::optional<Clock::time_point> completed;
  /// Its ingest ends failed; drawn when it begins.
  bool fails = false;
};

/// An asset's status word at `now`: queued until its ingest begins and for the first half of `ingest`, then
/// processing, then completed or failed.
inline std::string_view asset_status(const Asset& asset, Clock::time_point now, Clock::duration ingest) {
  if (!asset.completed || now < *asset.completed + ingest / 2) return "queued";
  if (now < *asset.completed + ingest) return "processing";
  return asset.fails ? "failed" : "completed";
}

/// Every asset, by id; thread-safe, with a lock of its own.
class AssetRegistry {
 public:
  /// Keeps `asset` under a new id (`asset_` and a sequence number) and returns the id.
  std::string add(Asset asset) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string id = std::to_string(assets_.size() + 1);
    id.insert(0, id.size() < 6 ? 6 - id.size() : 0, '0');
    id.insert(0, "asset_");
    assets_.emplace(id, std::move(asset));
    return id;
  }
  /// What `use` returns when called, under the lock, with the asset of `id` (null when there is none).
  template <class Use>
  auto with(const std::string& id, Use&& use) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = assets_.find(id);
    return std::forward<Use>(use)(it == assets_.end() ? nullptr : &it->second);
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, Asset> assets_;
};

}  // namespace detail

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_OBJECTS_HPP
