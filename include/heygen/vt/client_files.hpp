// Files in, files out: a video uploaded as an asset; a finished job's outputs downloaded.
#pragma once

#include "heygen/vt/downloads.hpp"
#include "heygen/vt/files.hpp"
#include "heygen/vt/heygen_v3_assets.hpp"
#include "heygen/vt/heygen_v3_protocol.hpp"
#include "heygen/vt/result.hpp"
#include "heygen/vt/sender.hpp"
#include "heygen/vt/uploads.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// The client's upload_asset and download_outputs, as free functions over its sender and protocol.
namespace heygen::client_files {

/// The base name of `path`.
inline std::string base_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

/// `text` with anything but letters, digits, '.', '-' and '_' made '_', and no leading dot: a server's id never
/// names a folder or a hidden file.
inline std::string safe_name(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool plain =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    out += plain ? c : '_';
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

/// The extension of a URL's last path segment (lower-case letters and digits, up to 5), else `fallback`.
inline std::string extension_of(std::string_view url, std::string_view fallback) {
  std::string_view path = url.substr(0, url.find_first_of("?#"));
  path = path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  const auto dot = path.rfind('.');
  if (dot == std::string_view::npos) return std::string(fallback);
  const std::string_view extension = path.substr(dot + 1);
  const bool plain = !extension.empty() && extension.size() <= 5 &&
                     std::all_of(extension.begin(), extension.end(),
                                 [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
  return std::string(plain ? extension : fallback);
}

/// One output of a job: its kind ("video", "audio", "captions") and URL.
struct Output {
  std::string kind;  ///< What it is, and part of its file name.
  std::string url;   ///< Where it is now.
};

/// Each output a result names, in a fixed order: video, audio, then each caption file.
inline std::vector<Output> outputs_of(const JobOutputs& outputs) {
  std::vector<Output> out;
  if (outputs.video_url) out.push_back({"video", *outputs.video_url});
  if (outputs.audio_url) out.push_back({"audio", *outputs.audio_url});
  for (const auto& url : outputs.caption_urls) out.push_back({"captions", url});
  return out;
}

/// The file an output goes to in `dir`: `JOB.KIND.EXT`, as safe names.
inline std::string output_path(const std::string& dir, std::string_view job_id, const Output& output) {
  const std::string fallback = output.kind == "video" ? "mp4" : output.kind == "audio" ? "mp3" : "txt";
  std::string path = dir.empty() ? std::string(".") : dir;
  if (path.back() != '/') path += '/';
  return path + safe_name(std::string(job_id) + "." + output.kind + "." + extension_of(output.url, fallback));
}

/// Where translate_file stands, told as it goes.
struct TranslateProgress {
  /// What it is doing.
  enum class Phase {
    uploading,    ///< The source file is going up: `done` of `total` bytes.
    translating,  ///< A language's job has an outcome (`result`), or the jobs were created (`result` null).
    downloading,  ///< A language's outputs are coming down: `done` of `total` bytes of the current file.
  };
  Phase phase = Phase::uploading;             ///< What it is doing.
  std::string_view language{};                ///< The language concerned (empty while uploading).
  std::uint64_t done = 0;                     ///< Bytes moved so far (uploading, downloading).
  std::uint64_t total = 0;                    ///< Bytes in all (0 while unknown).
  const TranslationResult* result = nullptr;  ///< A job's outcome (translating).
};

/// How translate_file goes about it: who is told its progress, and whether outputs may replace existing files.
struct TranslateOptions {
  std::function<void(const TranslateProgress&)> progress{};  ///< Told each step; may be empty.
  bool overwrite = false;                                    ///< Replace files already in the output folder.

  TranslateOptions() = default;
  /// Options with just a progress callback, so a lambda can stand where the options go.
  template <class F>
    requires std::constructible_from<std::function<void(const TranslateProgress&)>, F> TranslateOptions(F on_progress)
        : progress(std::move(on_progress)) {}  // NOLINT(google-explicit-constructor)
};

/// One language of a translated file: its job, the outcome, the files written, or why there are none.
struct TranslatedOutput {
  std::string language{};           ///< The language, as asked for.
  std::string job_id{};             ///< The translation's job id.
  TranslationResult result{};       ///< How the job ended.
  std::vector<Downloaded> files{};  ///< The outputs on disk (empty when the job failed or a download did).
  std::string error{};              ///< Why there are no files, when there are none.
};

/// The stem translate_file names a language's files by: the source's name without its extension, then the language.
inline std::string translated_name(std::string_view source_path, std::string_view language) {
  std::string stem = base_name(source_path);
  if (const auto dot = stem.rfind('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
  return safe_name(stem + "." + std::string(language));
}

/// True when folder `dir` holds a file named NAME.something (a temporary ".part" file aside): an earlier run wrote
/// outputs under this name. A folder that cannot be read holds none.
inline bool holds_outputs(const std::string& dir, const std::string& name) {
  DIR* folder = ::opendir(dir.empty() ? "." : dir.c_str());
  if (folder == nullptr) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(folder)) {  // NOLINT(concurrency-mt-unsafe): one stream per call
    const std::string_view file = entry->d_name;
    if (file.size() > name.size() + 1 && file.substr(0, name.size()) == name && file[name.size()] == '.') {
      found = true;
      break;
    }
  }
  ::closedir(folder);
  return found;
}

/// Throws FileError, before anything is uploaded or paid for, when `dir` already holds outputs of `path`
/// translated into one of `languages`.
inline void refuse_translated(const std::string& dir, const std::string& path,
                              const std::vector<std::string>& languages) {
  for (const auto& language : languages) {
    const std::string name = translated_name(path, language);
    if (!holds_outputs(dir, name)) continue;
    std::string held = dir;
    held.append("/").append(name).append(".*");
    std::string why = "already holds this file's translation into ";
    why.append(language).append(" (not overwritten; or overwrite)");
    throw FileError(held, why);
  }
}

/// Makes `dir` if it is missing (one level); throws FileError when it cannot, or when it is not a folder.
inline void ensure_folder(const std::string& dir) {
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) throw FileError(dir, "is not a folder");
    return;
  }
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw FileError(dir, "cannot create the folder", errno);
}

/// Downloads every output `result` names into `dir`. `fresh_look` looks at the job once more when a URL expired;
/// the output of the same kind and place in its answer carries on from the byte reached.
template <class S>
std::vector<Downloaded> download_outputs(S& sender, std::string_view job_id, const TranslationResult& result,
                                         const std::string& dir, const DownloadOptions& options,
                                         const std::function<TranslationResult()>& fresh_look, std::stop_token stop) {
  if (!result.ok()) throw std::invalid_argument("heygen: download_outputs needs a completed translation");
  const std::vector<Output> outputs = outputs_of(result.outputs);
  if (outputs.empty()) throw std::invalid_argument("heygen: the translation names no output to download");
  ensure_folder(dir.empty() ? std::string(".") : dir);
  std::vector<Downloaded> out;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto fresh_url = [&, i]() -> std::optional<std::string> {
      const TranslationResult again = fresh_look();
      const std::vector<Output> now = outputs_of(again.outputs);
      if (i < now.size() && now[i].kind == outputs[i].kind) return now[i].url;
      return std::nullopt;
    };
    const std::string_view name = options.name.empty() ? job_id : std::string_view(options.name);
    out.push_back(
        downloads::fetch(sender, outputs[i].url, output_path(dir, name, outputs[i]), options, fresh_url, stop));
  }
  return out;
}

/// Uploads the file at `path` as a HeyGen asset (a direct upload: open, PUT streamed from disk, complete); the asset
/// id, whose ingest has begun (the client's AssetIngest watches it). Throws FileError for the file (missing, a
/// folder, empty, of a type HeyGen does not take, changed while sent) and TranslationError for the rest.
template <class S>
std::string upload_asset(S& sender, const HeyGenV3Protocol& protocol, const std::string& path,
                         const UploadOptions& options, std::stop_token stop) {
  files::SourceFile file = files::SourceFile::open(path);
  const std::string type =
      options.content_type.empty() ? std::string(uploads::content_type_of(path)) : options.content_type;
  if (type.empty())
    throw FileError(path, "is of a type HeyGen does not take (mp4, webm, mov, mp3, wav, png, jpeg, pdf, srt)");
  const std::string checksum = uploads::checksum_of(file, options.checksum);
  std::string asset_id;
  const auto open_upload = [&](bool) {
    DirectUpload upload = checked_call(
        sender, protocol, "direct upload", stop,
        [&](HttpRequest& out) {
          v3::assets::direct_upload_request(out, protocol.prefix(), base_name(path), type, file.size(), checksum);
        },
        [&](const HttpResponse& response) { return v3::assets::read_direct_upload(response); });
    asset_id = upload.asset_id;
    return UploadTarget{std::move(upload.upload_url), std::move(upload.headers)};
  };
  uploads::put(sender, file, open_upload, options, stop);
  checked_call(
      sender, protocol, "complete upload", stop,
      [&](HttpRequest& out) { v3::assets::complete_request(out, protocol.prefix(), asset_id, checksum); },
      [&](const HttpResponse& response) { return v3::assets::read_completed(response, asset_id); });
  return asset_id;
}

}  // namespace heygen::client_files

namespace heygen {
/// Where translate_file stands (see client_files::TranslateProgress).
using client_files::TranslateProgress;
/// One language of a translated file (see client_files::TranslatedOutput).
using client_files::TranslatedOutput;
/// How translate_file goes about it (see client_files::TranslateOptions).
using client_files::TranslateOptions;
}  // namespace heygen
