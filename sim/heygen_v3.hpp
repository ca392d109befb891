// StatusSimulator speaking HeyGen's v3 video-translation API (--api heygen-v3): the create with one job per
// output language, one job's record, the paged /statuses, the languages list, the API key, the concurrency
// limit, the error envelope, presigned-looking loopback output URLs and the webhook event pushed when a job
// ends. The facts it follows are HeyGen's (see "The simulator" in README.md); faults, latency and /stats work
// as in tracker mode.
#ifndef HEYGEN_SIM_HEYGEN_V3_HPP
#define HEYGEN_SIM_HEYGEN_V3_HPP

#include "jobs.hpp"
#include "simulator.hpp"
#include "support.hpp"

#include <httplib.h>
#include <picojson.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen::sim {

namespace detail {

/// The v3 routes' common prefix.
inline constexpr std::string_view v3_prefix = "/v3/video-translations";

/// Output languages the simulator translates into (names as HeyGen's languages endpoint spells them).
inline constexpr std::array<std::string_view, 20> v3_languages{"English",
                                                               "Spanish (Spain)",
                                                               "Spanish (Mexico)",
                                                               "French (France)",
                                                               "French (Canada)",
                                                               "German",
                                                               "Italian",
                                                               "Portuguese (Brazil)",
                                                               "Japanese",
                                                               "Korean",
                                                               "Chinese (Mandarin, Simplified)",
                                                               "Hindi",
                                                               "Arabic (Saudi Arabia)",
                                                               "Dutch",
                                                               "Polish",
                                                               "Turkish",
                                                               "Russian",
                                                               "Indonesian",
                                                               "Vietnamese",
                                                               "Swedish"};

/// Most output languages one create may ask for (HeyGen's batch limit).
inline constexpr std::size_t v3_max_languages = 100;
/// Most ids one /statuses request may name.
inline constexpr std::size_t v3_max_status_ids = 100;

/// True for a language the simulator knows.
inline bool v3_known_language(std::string_view name) {
  return std::find(v3_languages.begin(), v3_languages.end(), name) != v3_languages.end();
}

/// What parsing a create body came to: the order, or the offending parameter and why.
struct V3CreateParse {
  /// The order; null when the body was refused.
  std::shared_ptr<V3Order> order;
  /// The parameter at fault (empty: the body as a whole).
  std::string param;
  /// Why it was refused.
  std::string message;
};

/// A refused create body.
inline V3CreateParse v3_invalid(std::string param, std::string message) {
  return {nullptr, std::move(param), std::move(message)};
}

/// Reads an optional member of type T into `out`: absent and null are fine, another type is not.
template <class T>
bool v3_optional(const picojson::object& body, const char* name, T& out) {
  const auto it = body.find(name);
  if (it == body.end() || it->second.is<picojson::null>()) return true;
  if (!it->second.is<T>()) return false;
  out = it->second.get<T>();
  return true;
}

/// The `video` member: `{"type": "url", "url"}` or `{"type": "asset_id", "asset_id"}`; empty when fine.
inline std::string v3_video_problem(const picojson::object& body) {
  const auto video = body.find("video");
  if (video == body.end() || !video->second.is<picojson::object>())
    return R"(video is required: {"type": "url", "url": ...} or {"type": "asset_id", "asset_id": ...})";
  const auto& source = video->second.get<picojson::object>();
  std::string type;
  if (!v3_optional(source, "type", type) || (type != "url" && type != "asset_id"))
    return R"(video.type must be "url" or "asset_id")";
  std::string where;
  if (!v3_optional(source, type.c_str(), where) || where.empty())
    return "video." + type + " must be a non-empty string";
  return "";
}

/// Reads the create body's optional strings into `order`; refuses one of another type, and a callback_url
/// the simulator could not push to. The refusal's message is empty when all is fine.
inline V3CreateParse v3_read_strings(const picojson::object& body, V3Order& order) {
  for (const auto& [name, field] : {std::pair<const char*, std::string*>{"title", &order.title},
                                    {"input_language", &order.input_language},
                                    {"callback_url", &order.callback_url},
                                    {"callback_id", &order.callback_id}}) {
    if (!v3_optional(body, name, *field)) return v3_invalid(name, std::string(name) + " must be a string");
  }
  if (!order.callback_url.empty() && !parse_callback_url(order.callback_url))
    return v3_invalid("callback_url", "callback_url must be an http:// or https:// URL");
  return {};
}

/// Reads a create body; refuses a missing or malformed video, missing or unknown output languages, and
/// optional fields of the wrong type.
inline V3CreateParse parse_v3_create(const std::string& text) {
  picojson::value doc;
  if (!picojson::parse(doc, text).empty() || !doc.is<picojson::object>())
    return v3_invalid("", "the body must be a JSON object");
  const auto& body = doc.get<picojson::object>();
  if (auto problem = v3_video_problem(body); !problem.empty()) return v3_invalid("video", problem);
  auto order = std::make_shared<V3Order>();
  const auto& video = body.at("video").get<picojson::object>();
  if (video.at("type").get<std::string>() == "asset_id") order->asset_id = video.at("asset_id").get<std::string>();
  const auto languages = body.find("output_languages");
  if (languages == body.end() || !languages->second.is<picojson::array>() ||
      languages->second.get<picojson::array>().empty())
    return v3_invalid("output_languages", "output_languages must be a non-empty array of language names");
  const auto& names = languages->second.get<picojson::array>();
  if (names.size() > v3_max_languages) return v3_invalid("output_languages", "at most 100 output languages");
  for (const auto& name : names) {
    if (!name.is<std::string>() || !v3_known_language(name.get<std::string>()))
      return v3_invalid("output_languages", "unknown output language " +
                                                (name.is<std::string>() ? name.get<std::string>() : name.to_str()) +
                                                " (see GET /v3/video-translations/languages)");
    const auto& language = name.get<std::string>();
    if (std::find(order->output_languages.begin(), order->output_languages.end(), language) !=
        order->output_languages.end())
      return v3_invalid("output_languages", "output language " + language + " is repeated");
    order->output_languages.push_back(language);
  }
  if (auto refused = v3_read_strings(body, *order); !refused.message.empty()) return refused;
  for (const char* name : {"translate_audio_only", "enable_dynamic_duration", "keep_the_same_format"}) {
    bool ignored = false;
    if (!v3_optional(body, name, ignored)) return v3_invalid(name, std::string(name) + " must be a boolean");
  }
  if (!v3_optional(body, "enable_caption", order->captions))
    return v3_invalid("enable_caption", "enable_caption must be a boolean");
  std::string mode = "speed";
  if (!v3_optional(body, "mode", mode) || (mode != "speed" && mode != "precision"))
    return v3_invalid("mode", R"(mode must be "speed" or "precision")");
  return {std::move(order), "", ""};
}

/// An Idempotency-Key as HeyGen takes it: 1 to 255 characters of [A-Za-z0-9_:.-].
inline bool v3_valid_key(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
           c == '.' || c == '-';
  });
}

/// The ids of a /statuses request, in order and without repeats (empty pieces skipped), or why not.
struct V3StatusIds {
  /// The ids.
  std::vector<std::string> ids;
  /// Why the list is refused; empty when it is fine.
  std::string problem;
};

/// Splits `video_translation_ids=a,b,c` (or the list of another parameter, named in the problem).
inline V3StatusIds v3_status_ids(std::string_view list, std::string_view param = "video_translation_ids") {
  V3StatusIds out;
  std::size_t named = 0;
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string id(list.substr(start, comma - start));
    start = comma + 1;
    if (id.empty()) continue;
    ++named;
    if (std::find(out.ids.begin(), out.ids.end(), id) == out.ids.end()) out.ids.push_back(id);
  }
  if (named == 0) out.problem = std::string(param) + " must name at least one id (comma-separated)";
  if (named > v3_max_status_ids) out.problem = std::string(param) + " names more than 100 ids";
  return out;
}

/// A page token: opaque to clients, the offset of the page's first id to us.
inline std::string v3_page_token(std::size_t offset) { return "pg_" + std::to_string(offset); }

/// The offset a page token stands for, if it is one of ours and inside the list.
inline std::optional<std::size_t> v3_page_offset(std::string_view token, std::size_t ids) {
  if (token.substr(0, 3) != "pg_") return std::nullopt;
  const auto offset = to_uint(token.substr(3));
  if (!offset || *offset == 0 || *offset >= ids) return std::nullopt;
  return static_cast<std::size_t>(*offset);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------
// Routing

inline void StatusSimulator::install_v3_routes() {
  server_.Post(std::string(detail::v3_prefix), [this](const Request& q, Response& r) { on_v3_create(q, r); });
  install_v3_webhook_routes();
  install_asset_routes();
}

inline bool StatusSimulator::route_v3(const Request& req, Response& res) {
  // GETs (and HEADs of files) are matched by prefix (see install_routes); the rest goes to httplib's router.
  const std::string base = std::string(detail::v3_prefix) + "/";
  const bool job_path = req.method == "GET" && req.path.compare(0, base.size(), base) == 0;
  constexpr std::string_view files = "/files/";
  const bool file_path = (req.method == "GET" || req.method == "HEAD") && req.path.compare(0, files.size(), files) == 0;
  if (!job_path && !file_path) return false;
  if (req.get_header_value("Content-Length") != "0" || req.has_header("Transfer-Encoding")) {
    detail::close_after_response(res);
  }
  if (file_path) {
    on_file(req, res, std::string_view(req.path).substr(files.size()));
    return true;
  }
  const std::string rest = req.path.substr(base.size());
  if (rest.empty() || rest.find('/') != std::string::npos) return false;
  if (rest == "statuses")
    on_v3_statuses(req, res);
  else if (rest == "languages")
    on_v3_languages(req, res);
  else
    on_v3_job(req, res, rest);
  return true;
}

inline bool StatusSimulator::v3_authorized(const Request& req) const {
  if (config_.api_key.empty()) return true;
  if (req.get_header_value("X-Api-Key") == config_.api_key) return true;
  return req.get_header_value("Authorization") == "Bearer " + config_.api_key;
}

inline bool StatusSimulator::v3_refused(const Request& req, Response& res, detail::Fault fault) const {
  if (detail::fault_preempts(fault)) {
    apply_fault(res, fault);
    return true;
  }
  if (v3_authorized(req)) return false;
  send_error(res, 401, "unauthorized", "Invalid or missing API key (X-Api-Key or Authorization: Bearer)");
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Create

inline void StatusSimulator::on_v3_create(const Request& req, Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.create_requests;
  }
  inject_latency();
  const detail::Fault fault = draw_fault(true);
  if (v3_refused(req, res, fault)) return;
  auto parsed = detail::parse_v3_create(req.body);
  if (!parsed.order) return send_error(res, 400, "invalid_parameter", parsed.message, parsed.param);
  const bool keyed = config_.idempotency && req.has_header("Idempotency-Key");
  const std::string key = keyed ? req.get_header_value("Idempotency-Key") : std::string();
  if (keyed && !detail::v3_valid_key(key))
    return send_error(res, 400, "invalid_parameter", "Idempotency-Key must be 1-255 characters of [A-Za-z0-9_:.-]",
                      "Idempotency-Key");
  if (!parsed.order->asset_id.empty() && !asset_usable(parsed.order->asset_id))
    return send_error(res, 400, "invalid_parameter",
                      "video.asset_id " + parsed.order->asset_id + " names no uploaded asset", "video");
  parsed.order->created_unix = detail::unix_now();
  const detail::V3Created created = create_v3(std::move(parsed.order), key);
  if (created.too_many)
    return send_error(res, 400, "invalid_parameter", "more output languages than jobs may run at once",
                      "output_languages");
  if (created.full) return send_error(res, 503, "service_unavailable", "job limit reached");
  if (created.retry_after_s > 0) {
    send_error(res, 429, "rate_limit_exceeded", "too many concurrent video translations; retry when one finishes");
    return send_retry_after(res, created.retry_after_s);
  }
  std::string ids = "[";
  for (const auto& id : created.ids) {
    if (ids.size() > 1) ids += ',';
    detail::append_json_string(ids, id);
  }
  ids += ']';
  const std::string data = detail::JsonObject{}.raw("video_translation_ids", ids).done();
  send_json(res, 200, detail::JsonObject{}.raw("data", data).done());
  if (fault == detail::Fault::malformed) garble(res);
  if (fault == detail::Fault::drop_after_commit) detail::drop_connection();
}

// ---------------------------------------------------------------------------------------------------------
// Status

inline void StatusSimulator::on_v3_job(const Request& req, Response& res, const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.status_requests;
  }
  inject_latency();
  const detail::Fault fault = draw_fault(false);
  std::string data;
  if (v3_authorized(req)) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto view = look_locked(id, Clock::now(), fault == detail::Fault::none);
    if (view) data = v3_job_json_locked(by_id_.at(id), *view);
  }
  if (v3_refused(req, res, fault)) return;
  if (data.empty()) return send_error(res, 404, "not_found", "video translation " + id + " not found");
  send_json(res, 200, detail::JsonObject{}.raw("data", data).done());
  if (fault == detail::Fault::malformed) garble(res);
}

inline void StatusSimulator::on_v3_statuses(const Request& req, Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.status_requests;
    ++counters_.batch_requests;
  }
  inject_latency();
  const detail::Fault fault = draw_fault(false);
  const auto named = detail::v3_status_ids(req.get_param_value("video_translation_ids"));
  std::optional<std::size_t> offset = 0;
  if (req.has_param("token")) offset = detail::v3_page_offset(req.get_param_value("token"), named.ids.size());
  const bool usable = named.problem.empty() && offset;
  std::string entries = "[";
  const std::size_t end = usable ? std::min(named.ids.size(), *offset + config_.statuses_page_size) : 0;
  if (usable && v3_authorized(req)) {
    // Only the page's ids are looked at (and counted): the others are not answered by this request.
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    for (std::size_t i = *offset; i < end; ++i) {
      if (entries.size() > 1) entries += ',';
      entries += v3_entry_json_locked(named.ids[i], look_locked(named.ids[i], now, fault == detail::Fault::none));
    }
  }
  entries += ']';
  if (v3_refused(req, res, fault)) return;
  if (!named.problem.empty()) return send_error(res, 400, "invalid_parameter", named.problem, "video_translation_ids");
  if (!offset) return send_error(res, 400, "invalid_parameter", "token is not a page of this list", "token");
  const bool more = end < named.ids.size();
  detail::JsonObject body;
  body.raw("data", entries).raw("has_more", more ? "true" : "false");
  if (more) body.str("next_token", detail::v3_page_token(end));
  if (!more) body.raw("next_token", "null");
  send_json(res, 200, body.done());
  if (fault == detail::Fault::malformed) garble(res);
}

inline void StatusSimulator::on_v3_languages(const Request& req, Response& res) {
  inject_latency();
  const detail::Fault fault = draw_fault(false);
  if (v3_refused(req, res, fault)) return;
  std::string names = "[";
  for (const auto name : detail::v3_languages) {
    if (names.size() > 1) names += ',';
    detail::append_json_string(names, name);
  }
  names += ']';
  const std::string data = detail::JsonObject{}.raw("languages", names).done();
  send_json(res, 200, detail::JsonObject{}.raw("data", data).done());
  if (fault == detail::Fault::malformed) garble(res);
}

// ---------------------------------------------------------------------------------------------------------
// Answers

inline std::string StatusSimulator::v3_file_url(const std::string& id, std::string_view name) const {
  // Made afresh on every answer, as HeyGen's are: each status look gives a URL valid for the whole lifetime.
  const std::int64_t expires = detail::unix_now() + config_.storage.url_lifetime_s;
  std::string path = "/files/" + id + "/";
  path += name;
  return origin_ + path + "?Expires=" + std::to_string(expires) +
         "&Signature=" + detail::presign_signature(config_.api_key, path, expires) + "&Key-Pair-Id=SIMULATOR";
}

inline std::string StatusSimulator::v3_job_json_locked(std::size_t index, const detail::JobView& view) const {
  const detail::Job& job = jobs_[index];
  static const detail::V3Order no_order;
  const detail::V3Order& order = job.order ? *job.order : no_order;
  const bool done = view.state != detail::JobState::pending;
  std::string_view status = view.progress < 0.1 ? "pending" : "running";
  if (done) status = view.state == detail::JobState::error ? "failed" : "completed";
  detail::JsonObject out;
  out.str("id", job.id).str("status", status);
  if (order.title.empty()) out.raw("title", "null");
  if (!order.title.empty()) out.str("title", order.title);
  out.str("output_language", job.language < order.output_languages.size() ? order.output_languages[job.language] : "")
      .str("input_language", order.input_language.empty() ? "English" : order.input_language);
  if (view.state == detail::JobState::completed) {
    // The simulated source video's length: 30 to 300 s, fixed per job.
    out.num("duration", 30.0 + static_cast<double>((index * 37) % 271), 1)
        .str("video_url", v3_file_url(job.id, "video.mp4"))
        .str("audio_url", v3_file_url(job.id, "audio.mp3"));
    if (order.captions)
      out.str("srt_caption_url", v3_file_url(job.id, "captions.srt"))
          .str("vtt_caption_url", v3_file_url(job.id, "captions.vtt"));
  }
  if (view.state == detail::JobState::error) out.str("failure_message", detail::failure_message);
  if (order.callback_id.empty()) out.raw("callback_id", "null");
  if (!order.callback_id.empty()) out.str("callback_id", order.callback_id);
  return out.count("created_at", static_cast<std::uint64_t>(std::max<std::int64_t>(order.created_unix, 0))).done();
}

inline std::string StatusSimulator::v3_push_body(const detail::Job& job, detail::PushBody what) const {
  // HeyGen's webhook event: video_translate.success with the video's URL, or video_translate.fail. A forged one
  // claims success with a callback_id that is not the create's, or the outcome the job will not have.
  using detail::PushBody;
  static const detail::V3Order no_order;
  const detail::V3Order& order = job.order ? *job.order : no_order;
  bool fails = job.fails;
  if (what == PushBody::forged_outcome) fails = !job.fails;
  if (what == PushBody::forged_no_id || what == PushBody::forged_id) fails = false;
  std::string callback_id = order.callback_id;
  if (what == PushBody::forged_no_id) callback_id.clear();
  if (what == PushBody::forged_id) callback_id = "forged-" + order.callback_id + "-" + job.id;
  detail::JsonObject data;
  data.str("video_translate_id", job.id);
  if (fails)
    data.str("message", detail::failure_message);
  else
    data.str("url", v3_file_url(job.id, "video.mp4"));
  if (callback_id.empty()) data.raw("callback_id", "null");
  if (!callback_id.empty()) data.str("callback_id", callback_id);
  if (!fails)
    data.str("output_language",
             job.language < order.output_languages.size() ? order.output_languages[job.language] : "");
  return detail::JsonObject{}
      .str("event_type", fails ? "video_translate.fail" : "video_translate.success")
      .raw("event_data", data.done())
      .done();
}

inline std::vector<detail::EndpointTarget> StatusSimulator::push_endpoints(std::size_t index) const {
  bool fails = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fails = jobs_.at(index).fails;
  }
  return endpoints_.targets(fails ? "video_translate.fail" : "video_translate.success");
}

inline std::string StatusSimulator::v3_entry_json_locked(const std::string& id,
                                                         const std::optional<detail::JobView>& view) const {
  detail::JsonObject out;
  out.str("video_id", id);
  if (!view) {
    const std::string error = detail::JsonObject{}.str("code", "not_found").str("message", "no such video").done();
    return out.str("status", "not_found").raw("error", error).done();
  }
  std::string_view status = view->progress < 0.1 ? "queued" : "processing";
  if (view->state == detail::JobState::completed) status = "completed";
  if (view->state == detail::JobState::error) status = "failed";
  out.str("status", status);
  if (view->state != detail::JobState::error) return out.raw("error", "null").done();
  const std::string error =
      detail::JsonObject{}.str("code", "translation_failed").str("message", detail::failure_message).done();
  return out.raw("error", error).done();
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_HEYGEN_V3_HPP
