// StatusSimulator's HTTP side: the routes, the create and status handlers (per job, the original query form
// and batch), and how answers (and webhook push bodies) are written.
#ifndef HEYGEN_SIM_ROUTES_HPP
#define HEYGEN_SIM_ROUTES_HPP

#include "connection.hpp"
#include "jobs.hpp"
#include "simulator.hpp"
#include "support.hpp"

#include <httplib.h>
#include <picojson.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen::sim {

namespace detail {

/// Reason phrase used in the JSON body of errors httplib raises itself.
inline std::string_view error_phrase(int status) noexcept {
  switch (status) {
    case 400: return "bad request";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 413: return "payload too large";
    case 414: return "uri too long";
    case 416: return "range not satisfiable";
    default: return status >= 500 ? "internal server error" : "request refused";
  }
}

/// The v3 error code of an error httplib raises itself.
inline std::string_view error_code(int status) noexcept {
  switch (status) {
    case 400: return "invalid_parameter";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    default: return status >= 500 ? "internal_error" : "invalid_request";
  }
}

/// Why the batch body is unusable; status 0 means it is fine.
struct BatchParse {
  /// The ids listed, duplicates removed, first occurrence order kept.
  std::vector<std::string> ids;
  /// HTTP status of the refusal, 0 when parsing succeeded.
  int status = 0;
  /// JSON body of the refusal.
  std::string body;
};

/// Reads `{"job_ids": [...]}`, refusing bad JSON, wrong shapes and more than `max_ids` ids.
inline BatchParse parse_batch_body(const std::string& body, std::size_t max_ids) {
  BatchParse out;
  picojson::value doc;
  const std::string err = picojson::parse(doc, body);
  const picojson::value* list = nullptr;
  if (err.empty() && doc.is<picojson::object>() && doc.contains("job_ids")) list = &doc.get("job_ids");
  if (list == nullptr || !list->is<picojson::array>()) {
    out.status = 400;
    out.body = error_json(err.empty() ? "expected {\"job_ids\": [...]}" : "invalid JSON");
    return out;
  }
  const auto& items = list->get<picojson::array>();
  if (items.size() > max_ids) {
    out.status = 413;
    out.body = JsonObject{}.str("error", "too many job_ids").count("max_job_ids", max_ids).done();
    return out;
  }
  for (const auto& item : items) {
    if (!item.is<std::string>()) {
      out.status = 400;
      out.body = error_json("job_ids must be strings");
      return out;
    }
    const auto& id = item.get<std::string>();
    if (std::find(out.ids.begin(), out.ids.end(), id) == out.ids.end()) out.ids.push_back(id);
  }
  return out;
}

/// What a create body asked for: a callback, or why the body is refused.
struct CreateParse {
  /// The callback; null when none was asked for.
  std::shared_ptr<const Callback> callback;
  /// Why the body is refused; empty when it is fine.
  std::string problem;
};

/// Reads the optional `{"callback_url": "...", "callback_id": "..."}` of a create. A body that is not a JSON
/// object asks for nothing (the seed's server ignores the body); members of the wrong type are refused.
inline CreateParse parse_create_body(const std::string& body) {
  CreateParse out;
  picojson::value doc;
  if (body.empty() || !picojson::parse(doc, body).empty() || !doc.is<picojson::object>()) return out;
  const auto& members = doc.get<picojson::object>();
  std::string url;
  std::string id;
  for (const auto& [name, field] : {std::pair<const char*, std::string*>{"callback_url", &url}, {"callback_id", &id}}) {
    const auto it = members.find(name);
    if (it == members.end() || it->second.is<picojson::null>()) continue;
    if (!it->second.is<std::string>()) {
      out.problem = std::string(name) + " must be a string";
      return out;
    }
    *field = it->second.get<std::string>();
  }
  if (!url.empty() && !parse_callback_url(url)) {
    out.problem = "callback_url must be an http:// or https:// URL";
    return out;
  }
  out.callback = make_callback(url, id);
  return out;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------
// Routing

inline void StatusSimulator::install_routes() {
  // GET /status/{id} is matched by prefix rather than by an httplib regex: std::regex backtracks recursively
  // over the (client-controlled, up to 8 KiB) path and could exhaust a worker's stack.
  httplib::Server::HandlerWithResponse pre = [this](const Request& q, Response& r) { return pre_route(q, r); };
  server_.set_pre_routing_handler(std::move(pre));
  if (config_.api == Api::heygen_v3) {
    install_v3_routes();
  } else {
    server_.Post("/create_job", [this](const Request& q, Response& r) { on_create(q, r); });
    server_.Get("/status", [this](const Request& q, Response& r) { on_status_query(q, r); });
    if (config_.batch) server_.Post("/status/batch", [this](const Request& q, Response& r) { on_batch(q, r); });
  }
  server_.Get("/stats", [this](const Request& q, Response& r) { on_stats(q, r); });
  httplib::Server::HandlerWithResponse errors = [this](const Request& q, Response& r) { return on_error(q, r); };
  server_.set_error_handler(std::move(errors));
  server_.set_exception_handler([this](const Request&, Response& r, const std::exception_ptr&) {
    send_error(r, 500, "internal_error", "internal error");
  });
}

inline httplib::Server::HandlerResponse StatusSimulator::pre_route(const Request& req, Response& res) {
  // Runs after the headers and before httplib reads any body.
  const std::uint64_t limit = body_limit(req);
  if (detail::refuse_oversized_body(req, limit)) {
    detail::close_after_response(res);
    send_error(res, 413, "payload_too_large", detail::error_phrase(413));
    return HandlerResponse::Handled;
  }
  if (limit > config_.max_body_bytes) detail::allow_body(limit);
  if (config_.api == Api::heygen_v3) return route_v3(req, res) ? HandlerResponse::Handled : HandlerResponse::Unhandled;
  constexpr std::string_view prefix = "/status/";
  if (req.method != "GET" || req.path.compare(0, prefix.size(), prefix) != 0) return HandlerResponse::Unhandled;
  // httplib never reads a GET body; whatever follows in the stream can't be parsed as the next request.
  if (req.get_header_value("Content-Length") != "0" || req.has_header("Transfer-Encoding")) {
    detail::close_after_response(res);
  }
  serve_status(req, res, req.path.substr(prefix.size()));
  return HandlerResponse::Handled;
}

inline httplib::Server::HandlerResponse StatusSimulator::on_error(const Request&, Response& res) const {
  if (!res.body.empty()) return HandlerResponse::Unhandled;  // one of our own answers: keep it
  const detail::ConnectionState* conn = detail::current_connection();
  if (conn != nullptr && conn->over_limit) res.status = 413;
  // Errors raised by httplib itself (bad request line, refused body) leave unread input behind.
  if (res.status != 404) detail::close_after_response(res);
  send_error(res, res.status, detail::error_code(res.status), detail::error_phrase(res.status));
  return HandlerResponse::Handled;
}

inline void StatusSimulator::on_stats(const Request&, Response& res) const { send_json(res, 200, stats_json()); }

// ---------------------------------------------------------------------------------------------------------
// Create

inline void StatusSimulator::on_create(const Request& req, Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.create_requests;
  }
  inject_latency();
  const detail::Fault fault = draw_fault(true);
  if (detail::fault_preempts(fault)) return apply_fault(res, fault);
  auto asked = detail::parse_create_body(req.body);
  if (!asked.problem.empty()) return send_json(res, 400, detail::error_json(asked.problem));
  const std::string key = config_.idempotency ? req.get_header_value("Idempotency-Key") : std::string();
  const auto id = create_or_replay(key, std::move(asked.callback));
  if (!id) return send_json(res, 503, detail::error_json("job limit reached"));
  send_json(res, 200, detail::JsonObject{}.str("job_id", *id).done());
  if (fault == detail::Fault::malformed) garble(res);
  if (fault == detail::Fault::drop_after_commit) detail::drop_connection();
}

// ---------------------------------------------------------------------------------------------------------
// Status

inline void StatusSimulator::on_status_query(const Request& req, Response& res) {
  serve_status(req, res, req.has_param("job_id") ? req.get_param_value("job_id") : latest_job_id());
}

inline void StatusSimulator::serve_status(const Request& req, Response& res, const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.status_requests;
  }
  inject_latency();
  const auto wait = wait_seconds(req);
  if (!wait) return send_json(res, 400, detail::error_json("wait must be a non-negative number of seconds"));
  const detail::Fault fault = draw_fault(false);
  if (!detail::fault_preempts(fault)) hold({id}, *wait);
  std::unique_lock<std::mutex> lock(mu_);
  const auto view = look_locked(id, Clock::now(), fault == detail::Fault::none);
  lock.unlock();
  if (detail::fault_preempts(fault)) return apply_fault(res, fault);
  if (view) send_status(res, *view);
  if (!view) send_unknown_job(res);
  if (fault == detail::Fault::malformed) garble(res);
}

inline void StatusSimulator::on_batch(const Request& req, Response& res) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.status_requests;
    ++counters_.batch_requests;
  }
  inject_latency();
  const auto wait = wait_seconds(req);
  if (!wait) return send_json(res, 400, detail::error_json("wait must be a non-negative number of seconds"));
  auto parsed = detail::parse_batch_body(req.body, config_.max_batch_ids);
  if (parsed.status != 0) return send_json(res, parsed.status, std::move(parsed.body));
  const detail::Fault fault = draw_fault(false);
  if (!detail::fault_preempts(fault)) hold(parsed.ids, *wait);
  answer_batch(res, parsed.ids, fault);
}

inline void StatusSimulator::answer_batch(Response& res, const std::vector<std::string>& ids, detail::Fault fault) {
  const std::string unknown = detail::JsonObject{}.str("result", "error").str("error_message", "unknown job").done();
  detail::JsonObject results;
  bool any_terminal = false;
  int hint = 0;  // the soonest suggestion among pending jobs
  std::unique_lock<std::mutex> lock(mu_);
  const auto now = Clock::now();
  for (const auto& id : ids) {
    const auto view = look_locked(id, now, fault == detail::Fault::none);
    results.raw(id, view ? status_json(*view) : unknown);
    const bool pending = view && view->state == detail::JobState::pending;
    any_terminal = any_terminal || !pending;
    if (pending) hint = hint == 0 ? pending_hint_s(*view) : std::min(hint, pending_hint_s(*view));
  }
  lock.unlock();
  if (detail::fault_preempts(fault)) return apply_fault(res, fault);
  send_json(res, 200, detail::JsonObject{}.raw("results", results.done()).done());
  if (!any_terminal && hint > 0) send_retry_after(res, hint);
  if (fault == detail::Fault::malformed) garble(res);
}

inline std::optional<double> StatusSimulator::wait_seconds(const Request& req) const {
  if (!config_.long_poll || !req.has_param("wait")) return 0.0;
  const auto value = detail::to_double(req.get_param_value("wait"));
  if (!value || *value < 0) return std::nullopt;
  return std::min(*value, config_.max_wait_s);
}

// ---------------------------------------------------------------------------------------------------------
// Answers

inline std::string StatusSimulator::status_json(const detail::JobView& view) const {
  detail::JsonObject out;
  status_members(out, view);
  return out.done();
}

inline void StatusSimulator::status_members(detail::JsonObject& out, const detail::JobView& view) const {
  out.str("result", detail::state_name(view.state));
  if (!config_.extra_fields) return;
  if (view.state == detail::JobState::error) out.str("error_message", detail::failure_message);
  out.num("progress", view.progress, 4).num("eta_seconds", view.eta_s, 3);
}

inline std::string StatusSimulator::push_body(std::size_t index, detail::PushBody what) const {
  std::lock_guard<std::mutex> lock(mu_);
  const detail::Job& job = jobs_.at(index);
  if (config_.api == Api::heygen_v3) return v3_push_body(job, what);
  // The final status answer, as GET /status/{id} gives it once the job has ended, naming the job.
  detail::JobView view;
  view.state = job.fails ? detail::JobState::error : detail::JobState::completed;
  view.progress = 1.0;
  detail::JsonObject out;
  status_members(out, view);
  out.str("job_id", job.id);
  if (job.callback && !job.callback->id.empty()) out.str("callback_id", job.callback->id);
  return out.done();
}

inline int StatusSimulator::pending_hint_s(const detail::JobView& view) const {
  if (config_.pending_retry_after_s > 0) return config_.pending_retry_after_s;
  // Retry-After only has whole seconds; never 0, which would invite a busy loop.
  return static_cast<int>(std::clamp(std::ceil(view.eta_s), 1.0, 30.0));
}

inline void StatusSimulator::send_json(Response& res, int status, std::string body) const {
  res.status = status;
  res.body = std::move(body);
  res.set_header("Content-Type", "application/json");
}

inline void StatusSimulator::send_error(Response& res, int status, std::string_view code, std::string_view message,
                                        std::string_view param) const {
  if (config_.api == Api::heygen_v3) return send_json(res, status, detail::v3_error_json(code, message, param));
  send_json(res, status, detail::error_json(message));
}

inline void StatusSimulator::send_status(Response& res, const detail::JobView& view) const {
  send_json(res, 200, status_json(view));
  if (view.state == detail::JobState::pending) send_retry_after(res, pending_hint_s(view));
}

inline void StatusSimulator::garble(Response& res) {
  // A malformed answer looks like success to anything that only checks the status code.
  res.status = 200;
  res.body.resize(res.body.size() / 2);
}

inline void StatusSimulator::send_unknown_job(Response& res) const {
  if (!config_.not_found_404) return send_json(res, 200, detail::JsonObject{}.str("result", "Job ID not found").done());
  send_json(res, 404, detail::JsonObject{}.str("result", "error").str("error_message", "unknown job").done());
}

inline void StatusSimulator::send_retry_after(Response& res, int seconds) const {
  if (config_.retry_after_hints) res.set_header("Retry-After", std::to_string(seconds));
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_ROUTES_HPP
