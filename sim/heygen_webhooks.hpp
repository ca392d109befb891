// StatusSimulator's HeyGen webhook endpoints API (heygen_v3 mode): register, list (paged), update, delete an
// endpoint and rotate its secret, with the API key and the error envelope of the other v3 routes. The endpoints
// get every translation event they subscribe to, signed with their secret (see webhooks.hpp). This API answers
// without injected faults: those target the translation calls a client polls.
#ifndef HEYGEN_SIM_HEYGEN_WEBHOOKS_HPP
#define HEYGEN_SIM_HEYGEN_WEBHOOKS_HPP

#include "endpoints.hpp"
#include "simulator.hpp"
#include "support.hpp"

#include <httplib.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>

namespace heygen::sim {

namespace detail {

/// The endpoints API's path.
inline constexpr std::string_view v3_endpoints_path = "/v3/webhooks/endpoints";

/// An endpoint as HeyGen answers it; the secret only when `with_secret` (create and rotate).
inline std::string endpoint_json(const Endpoint& endpoint, bool with_secret) {
  JsonObject out;
  out.str("endpoint_id", endpoint.id).str("url", endpoint.url).str("status", "enabled");
  if (!endpoint.events) out.raw("events", "null");
  if (endpoint.events) {
    std::string names = "[";
    for (const auto& name : *endpoint.events) {
      if (names.size() > 1) names += ',';
      append_json_string(names, name);
    }
    out.raw("events", names + "]");
  }
  out.str("created_at", endpoint.created_at);
  if (with_secret) out.str("secret", endpoint.secret);
  return out.done();
}

/// `{"data": ...}`.
inline std::string v3_data_json(const std::string& data) { return JsonObject{}.raw("data", data).done(); }

}  // namespace detail

inline void StatusSimulator::install_v3_webhook_routes() {
  // Ids are bounded in the patterns: std::regex recurses per character, and a path is the client's to make long.
  const std::string base(detail::v3_endpoints_path);
  const std::string one = base + "/([A-Za-z0-9_-]{1,64})";
  server_.Post(base, [this](const Request& q, Response& r) { on_v3_endpoint_create(q, r); });
  server_.Get(base, [this](const Request& q, Response& r) { on_v3_endpoint_list(q, r); });
  server_.Patch(one, [this](const Request& q, Response& r) { on_v3_endpoint_update(q, r); });
  server_.Delete(one, [this](const Request& q, Response& r) { on_v3_endpoint_delete(q, r); });
  server_.Post(one + "/rotate-secret", [this](const Request& q, Response& r) { on_v3_endpoint_rotate(q, r); });
}

inline bool StatusSimulator::v3_endpoint_refused(const Request& req, Response& res) {
  inject_latency();
  return v3_refused(req, res, detail::Fault::none);
}

inline void StatusSimulator::on_v3_endpoint_create(const Request& req, Response& res) {
  if (v3_endpoint_refused(req, res)) return;
  const auto asked = detail::parse_endpoint_body(req.body, true);
  if (!asked.problem.empty()) return send_error(res, 400, "invalid_parameter", asked.problem, asked.param);
  const auto made = endpoints_.add(asked);
  if (!made) return send_error(res, 400, "invalid_parameter", "too many webhook endpoints", "url");
  send_json(res, 200, detail::v3_data_json(detail::endpoint_json(*made, true)));
}

inline void StatusSimulator::on_v3_endpoint_list(const Request& req, Response& res) {
  if (v3_endpoint_refused(req, res)) return;
  std::size_t limit = 10;
  if (req.has_param("limit")) {
    const auto asked = detail::to_uint(req.get_param_value("limit"));
    if (!asked || *asked < 1 || *asked > 100)
      return send_error(res, 400, "invalid_parameter", "limit must be a whole number from 1 to 100", "limit");
    limit = static_cast<std::size_t>(*asked);
  }
  const auto all = endpoints_.list();
  std::optional<std::size_t> offset = 0;
  if (req.has_param("token")) offset = detail::v3_page_offset(req.get_param_value("token"), all.size());
  if (!offset) return send_error(res, 400, "invalid_parameter", "token is not a page of this list", "token");
  const std::size_t end = std::min(all.size(), *offset + limit);
  std::string entries = "[";
  for (std::size_t i = *offset; i < end; ++i) {
    if (entries.size() > 1) entries += ',';
    entries += detail::endpoint_json(all[i], false);
  }
  const bool more = end < all.size();
  detail::JsonObject body;
  body.raw("data", entries + "]").raw("has_more", more ? "true" : "false");
  if (more) body.str("next_token", detail::v3_page_token(end));
  if (!more) body.raw("next_token", "null");
  send_json(res, 200, body.done());
}

inline void StatusSimulator::on_v3_endpoint_update(const Request& req, Response& res) {
  if (v3_endpoint_refused(req, res)) return;
  const std::string id = req.matches[1];
  const auto asked = detail::parse_endpoint_body(req.body, false);
  if (!asked.problem.empty()) return send_error(res, 400, "invalid_parameter", asked.problem, asked.param);
  const auto updated = endpoints_.update(id, asked);
  if (!updated) return send_error(res, 404, "not_found", "webhook endpoint " + id + " not found");
  send_json(res, 200, detail::v3_data_json(detail::endpoint_json(*updated, false)));
}

inline void StatusSimulator::on_v3_endpoint_delete(const Request& req, Response& res) {
  if (v3_endpoint_refused(req, res)) return;
  const std::string id = req.matches[1];
  if (!endpoints_.remove(id)) return send_error(res, 404, "not_found", "webhook endpoint " + id + " not found");
  send_json(res, 200, detail::v3_data_json("{}"));
}

inline void StatusSimulator::on_v3_endpoint_rotate(const Request& req, Response& res) {
  if (v3_endpoint_refused(req, res)) return;
  const std::string id = req.matches[1];
  const auto rotated = endpoints_.rotate(id);
  if (!rotated) return send_error(res, 404, "not_found", "webhook endpoint " + id + " not found");
  const std::string data = detail::JsonObject{}.str("endpoint_id", rotated->id).str("secret", rotated->secret).done();
  send_json(res, 200, detail::v3_data_json(data));
}

}  // namespace heygen::sim

#endif  // HEYGEN_SIM_HEYGEN_WEBHOOKS_HPP
