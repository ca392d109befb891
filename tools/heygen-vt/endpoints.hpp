// heygen-vt's `webhooks` command (--api heygen-v3): register, list, rotate and delete HeyGen webhook endpoints.
// A secret is printed once, on stdout, by add and rotate only; never on stderr, never by list.
#ifndef HEYGEN_VT_TOOL_ENDPOINTS_HPP
#define HEYGEN_VT_TOOL_ENDPOINTS_HPP

#include <heygen/video_translation.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include <picojson.h>

#include "args.hpp"
#include "client.hpp"
#include "interrupt.hpp"

namespace heygen_vt {

/// An endpoint's events as the table shows them: comma-separated, or "all".
inline std::string events_text(const heygen::WebhookEndpoint& endpoint) {
  if (endpoint.events.empty()) return "all";
  std::string out;
  for (const auto& event : endpoint.events) out += (out.empty() ? "" : ",") + event;
  return out;
}

/// An endpoint as a JSON object (events null for all; the secret only when the answer carried one).
inline picojson::value endpoint_json(const heygen::WebhookEndpoint& endpoint) {
  picojson::object out;
  out["endpoint_id"] = picojson::value(endpoint.endpoint_id);
  out["url"] = picojson::value(endpoint.url);
  out["status"] = picojson::value(endpoint.status);
  picojson::array events(endpoint.events.begin(), endpoint.events.end());
  out["events"] = endpoint.events.empty() ? picojson::value() : picojson::value(std::move(events));
  out["created_at"] = picojson::value(endpoint.created_at);
  if (endpoint.secret) out["secret"] = picojson::value(*endpoint.secret);
  return picojson::value(std::move(out));
}

/// `webhooks list`: one row per endpoint under a header (or one JSON array).
inline void print_endpoints(const std::vector<heygen::WebhookEndpoint>& endpoints, bool json) {
  if (json) {
    picojson::array out;
    for (const auto& endpoint : endpoints) out.push_back(endpoint_json(endpoint));
    std::printf("%s\n", picojson::value(std::move(out)).serialize().c_str());
    return;
  }
  std::size_t id_width = 11;     // "ENDPOINT_ID"
  std::size_t events_width = 6;  // "EVENTS"
  for (const auto& endpoint : endpoints) {
    id_width = std::max(id_width, endpoint.endpoint_id.size());
    events_width = std::max(events_width, events_text(endpoint).size());
  }
  const int w = static_cast<int>(id_width);
  const int e = static_cast<int>(events_width);
  std::printf("%-*s  %-8s  %-20s  %-*s  %s\n", w, "ENDPOINT_ID", "STATUS", "CREATED_AT", e, "EVENTS", "URL");
  for (const auto& endpoint : endpoints)
    std::printf("%-*s  %-8s  %-20s  %-*s  %s\n", w, endpoint.endpoint_id.c_str(), endpoint.status.c_str(),
                endpoint.created_at.c_str(), e, events_text(endpoint).c_str(), endpoint.url.c_str());
}

/// `webhooks add`: the endpoint, its secret last (or one JSON object with it).
inline void print_added(const heygen::WebhookEndpoint& endpoint, bool json) {
  if (json) {
    std::printf("%s\n", endpoint_json(endpoint).serialize().c_str());
    return;
  }
  std::printf("endpoint_id: %s\nurl: %s\nevents: %s\nsecret: %s\n", endpoint.endpoint_id.c_str(), endpoint.url.c_str(),
              events_text(endpoint).c_str(), endpoint.secret.value_or("").c_str());
}

/// Runs one `webhooks` subcommand on `client`; throws TranslationError when the call fails.
inline void run_endpoint_command(V3Client& client, const Args& args, const InterruptWatcher& interrupt) {
  const std::string& what = args.ids.at(0);
  if (what == "add") {
    print_added(client.create_webhook_endpoint(args.ids.at(1), args.events, interrupt.token()), args.json);
  } else if (what == "list") {
    print_endpoints(client.list_webhook_endpoints(interrupt.token()), args.json);
  } else if (what == "rotate") {
    const std::string secret = client.rotate_webhook_secret(args.ids.at(1), interrupt.token());
    picojson::object out;
    out["endpoint_id"] = picojson::value(args.ids.at(1));
    out["secret"] = picojson::value(secret);
    std::printf("%s\n", args.json ? picojson::value(std::move(out)).serialize().c_str() : secret.c_str());
  } else {
    client.delete_webhook_endpoint(args.ids.at(1), interrupt.token());
  }
  std::fflush(stdout);
}

/// `--api heygen-v3 webhooks ...`: exit 0, or as a failed call (69; 130 when interrupted).
inline int run_webhooks(const Args& args, const heygen::ClientOptions& options, const InterruptWatcher& interrupt) {
  V3Client client(options, CountingTransport(options));
  try {
    run_endpoint_command(client, args, interrupt);
  } catch (const heygen::TranslationError& e) {
    std::fprintf(stderr, "heygen-vt: %s\n", e.what());
    return interrupt.interrupted() || e.cause() == heygen::FailureCause::cancelled ? exit_interrupted
                                                                                   : exit_unavailable;
  }
  return exit_completed;
}

}  // namespace heygen_vt

#endif  // HEYGEN_VT_TOOL_ENDPOINTS_HPP
