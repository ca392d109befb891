// Downloads: one URL to one file, checked, resumed after a cut, placed only once complete.
#pragma once

#include "heygen/vt/files.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/result.hpp"
#include "heygen/vt/sender.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// How a download (or upload) is getting on: bytes done of the total (0 while the total is unknown).
using TransferProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// How downloads behave.
struct DownloadOptions {
  bool overwrite = false;                         ///< Replace a file already under the final name.
  std::chrono::milliseconds idle_timeout{60000};  ///< The longest silence from storage before a try is cut off.
  TransferProgress progress{};                    ///< Told as bytes arrive; may be empty.
  std::string name{};                             ///< Files are named NAME.KIND.EXT; empty: the job id.
};

/// A download that finished: where it is, its size, and what it took.
struct Downloaded {
  std::string path{};          ///< The final name it was placed under.
  std::uint64_t bytes = 0;     ///< Its size.
  std::uint64_t received = 0;  ///< Bytes that came over the network for it (more than `bytes` after a restart).
  int requests = 0;            ///< GETs sent (and fresh looks asked for).
  bool resumed = false;        ///< Some try went on from a byte other than 0.
};

namespace downloads {

/// A `Content-Range: bytes A-B/TOTAL` header, read.
struct ContentRange {
  std::uint64_t first = 0;  ///< A.
  std::uint64_t last = 0;   ///< B.
  std::uint64_t total = 0;  ///< TOTAL.
};

/// A decimal number of 1 to 19 digits and nothing else (a header's value, strictly read); else nothing.
inline std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

/// Reads `bytes A-B/TOTAL`; nothing when the text is anything else (`*` for the total included).
inline std::optional<ContentRange> parse_content_range(std::string_view text) {
  constexpr std::string_view unit = "bytes ";
  if (text.substr(0, unit.size()) != unit) return std::nullopt;
  text.remove_prefix(unit.size());
  const auto dash = text.find('-');
  const auto slash = text.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) return std::nullopt;
  const auto first = parse_decimal(text.substr(0, dash));
  const auto last = parse_decimal(text.substr(dash + 1, slash - dash - 1));
  const auto total = parse_decimal(text.substr(slash + 1));
  if (!first || !last || !total || *first > *last || *last >= *total) return std::nullopt;
  return ContentRange{*first, *last, *total};
}

/// One try's view of the answer: it checks the head before any byte is written and writes the body to the file.
class Receiver {
 public:
  /// Receives into `file`, from the byte the file holds, telling `progress` as it goes.
  Receiver(files::PartialFile& file, const TransferProgress& progress) : file_(file), progress_(progress) {}

  /// The sink to hand the transport.
  BodySink sink() {
    BodySink sink;
    sink.begin = [this](int status, const std::vector<HttpHeader>& headers) { return begin(status, headers); };
    sink.write = [this](const char* data, std::size_t length) { return write(data, length); };
    return sink;
  }

  /// Why the answer was refused (empty when it was not).
  [[nodiscard]] const std::string& refusal() const noexcept { return refusal_; }
  /// True when writing to disk failed (the errno is the file's).
  [[nodiscard]] bool disk_failed() const noexcept { return disk_failed_; }
  /// The file's full size, once an answer said it.
  [[nodiscard]] std::optional<std::uint64_t> total() const noexcept { return total_; }
  /// Bytes this try received.
  [[nodiscard]] std::uint64_t received() const noexcept { return received_; }

 private:
  /// A 206 must go on from the byte the file holds; a 200 is the whole file, so the file starts again. A page of
  /// HTML is storage's error, not the file.
  bool begin(int status, const std::vector<HttpHeader>& headers) {
    if (auto type = header_value(headers, "Content-Type"); type && type->substr(0, 9) == "text/html")
      return refuse("storage answered an HTML page, not the file");
    const auto length = header_value(headers, "Content-Length");
    if (status == 206) {
      const auto range = header_value(headers, "Content-Range");
      const auto parsed = range ? parse_content_range(*range) : std::nullopt;
      if (!parsed || parsed->first != file_.size() || parsed->last + 1 != parsed->total)
        return refuse("storage answered a range other than the one asked for");
      total_ = parsed->total;
      return true;
    }
    if (status != 200) return refuse("storage answered " + std::to_string(status) + " instead of the file");
    file_.restart();
    if (length) total_ = parse_decimal(*length);
    return true;
  }

  bool write(const char* data, std::size_t length) {
    if (!file_.append(data, length)) return !(disk_failed_ = true);
    received_ += length;
    if (progress_) progress_(file_.size(), total_.value_or(0));
    return true;
  }

  bool refuse(std::string why) {
    refusal_ = std::move(why);
    return false;
  }

  files::PartialFile& file_;
  const TransferProgress& progress_;
  std::optional<std::uint64_t> total_{};
  std::uint64_t received_ = 0;
  std::string refusal_{};
  bool disk_failed_ = false;
};

/// Whether a transfer that got no answer for this reason is worth trying again: a cut, a timeout or a refused
/// connection may pass; a certificate, a cancellation or a transport that cannot stream will not.
constexpr bool worth_again(TransportError error) noexcept {
  return error == TransportError::reset || error == TransportError::timeout || error == TransportError::refused;
}

/// True when storage says the link is no good any more (HeyGen's CLI reads 403 and 404 so).
inline bool expired(const HttpResponse& response) noexcept {
  return response.received() && (response.status == 403 || response.status == 404);
}

/// True when a try that did not complete is worth another: a cut, a 2xx that stopped short, a 416 (the file
/// starts again), a 429 or a 5xx; never a refused answer.
inline bool worth_retry(const HttpResponse& response, const Receiver& receiver) noexcept {
  if (!receiver.refusal().empty()) return false;
  if (!response.received()) return worth_again(response.error);
  return response.status / 100 == 2 || response.status == 416 || response.status == 429 || response.status >= 500;
}

/// The error a download ends with, saying why its last try failed. An empty temporary file is removed: there is
/// nothing in it to resume.
inline TranslationError failed(files::PartialFile& file, const HttpResponse& response, const Receiver& receiver,
                               int requests) {
  if (file.size() == 0) file.discard();
  file.drain();  // what came is kept for a resume (a write error here shows again on the next try)
  std::string why = "download of " + file.final_path() + ": ";
  if (!receiver.refusal().empty())
    why += receiver.refusal();
  else if (expired(response))
    why += "the link expired or is unavailable (HTTP " + std::to_string(response.status) + ")";
  else if (response.received())
    why += "storage answered HTTP " + std::to_string(response.status);
  else
    why += "no response (" + response.error_detail + ")";
  const bool by_status = response.received() && response.status / 100 != 2;
  return {by_status ? FailureCause::http_status : FailureCause::transport, why, response.status, requests};
}

/// Throws what ends a download at once: the disk failing (its temporary file removed: a resume cannot mend a full
/// disk), or the caller cancelling.
inline void throw_if_ended(const Receiver& receiver, files::PartialFile& file, const std::stop_token& stop) {
  if (receiver.disk_failed()) {
    file.discard();
    throw FileError(file.temporary_path(), "cannot write the download", file.error_number());
  }
  if (stop.stop_requested()) {
    file.drain();  // what came is kept for a resume
    throw TranslationError(FailureCause::cancelled, detail::cancelled_message);
  }
}

/// True when the try brought the whole file: a 2xx taken, and as many bytes as storage said.
inline bool completes(const HttpResponse& response, const Receiver& receiver, const files::PartialFile& file) {
  return response.received() && response.status / 100 == 2 && receiver.refusal().empty() &&
         (!receiver.total() || file.size() == *receiver.total());
}

/// True when storage answered 416 to a range from the byte the file holds because the file already holds every
/// byte (`Content-Range: bytes */TOTAL`, TOTAL its size): a body cut just after its last byte.
inline bool holds_all(const HttpResponse& response, const files::PartialFile& file) {
  if (!response.received() || response.status != 416 || file.size() == 0) return false;
  const auto range = response.header("Content-Range");
  if (!range || range->substr(0, 8) != "bytes */") return false;
  const auto total = parse_decimal(range->substr(8));
  return total && *total == file.size();
}

/// One GET of `url` from the byte `file` holds, its body into `receiver`.
template <class S>
HttpResponse get_once(S& sender, const std::string& url, std::uint64_t from, Receiver& receiver,
                      const DownloadOptions& options, const std::stop_token& stop) {
  BodySink sink = receiver.sink();
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  if (from > 0) request.headers.push_back({"Range", "bytes=" + std::to_string(from) + "-"});
  request.timeout = options.idle_timeout;
  request.stop = stop;
  request.sink = &sink;
  return sender.transfer(request);
}

/// Fetches `url` into `final_path`, resuming after a cut (Range from the byte reached; a 200 starts again), asking
/// `fresh_url` once for a new URL when storage answers 403 or 404 (again only after bytes moved since), and placing
/// the file only when its size is what storage said. Retries a cut, a 5xx or a 429 with the sender's backoff, up to
/// its max_retries in a row. Throws TranslationError for what the network did, FileError for what the disk did (a
/// full disk removes the temporary file).
template <class S>
Downloaded fetch(S& sender, std::string url, const std::string& final_path, const DownloadOptions& options,
                 const std::function<std::optional<std::string>()>& fresh_url, const std::stop_token& stop) {
  if (!options.overwrite && files::exists(final_path)) throw FileError(final_path, "already exists (not overwritten)");
  files::PartialFile file = files::PartialFile::open(final_path);
  Downloaded out{final_path};
  CallState call = sender.begin({}, stop);
  call.deadline = TimePoint::max();  // a big file takes what it takes: each try has its idle timeout instead
  bool may_refresh = true;
  for (int failures = 0;;) {
    out.resumed = out.resumed || file.size() > 0;
    Receiver receiver(file, options.progress);
    const HttpResponse response = get_once(sender, url, file.size(), receiver, options, stop);
    ++out.requests;
    out.received += receiver.received();
    throw_if_ended(receiver, file, stop);
    if (receiver.received() > 0) {  // progress: the next trouble is a new one
      may_refresh = true;
      failures = 0;
    }
    if (completes(response, receiver, file) || holds_all(response, file)) {
      file.place(options.overwrite);
      out.bytes = file.size();
      return out;
    }
    if (expired(response) && std::exchange(may_refresh, false) && fresh_url) {
      ++out.requests;
      if (auto next = fresh_url()) {
        url = std::move(*next);
        continue;
      }
    }
    if (response.received() && response.status == 416) file.restart();
    if (!worth_retry(response, receiver) || ++failures > sender.retry_policy().max_retries)
      throw failed(file, response, receiver, out.requests);
    if (auto ended = sender.pause(call, sender.retry_wait(failures, response)))
      throw TranslationError(ended->cause, ended->message, response.status, out.requests);
  }
}

}  // namespace downloads
}  // namespace heygen
