// HeyGen's registered webhook endpoints as the simulator keeps them (heygen_v3 mode): each has a URL, the event
// types it takes (none named: all), a signing secret shown only when made or rotated, and gets every event it
// subscribes to, signed with that secret. The registry and the parsing of its request bodies; the routes are in
// heygen_webhooks.hpp.
#ifndef HEYGEN_SIM_ENDPOINTS_HPP
#define HEYGEN_SIM_ENDPOINTS_HPP

#include "jobs.hpp"
#include "support.hpp"
#include "webhooks.hpp"

#include <picojson.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen::sim::detail {

/// The event types HeyGen's endpoints may subscribe to (its schema's enum, July 2026).
inline constexpr std::array<std::string_view, 30> v3_event_types{"avatar_video.success",
                                                                 "avatar_video.fail",
                                                                 "avatar_video_gif.success",
                                                                 "avatar_video_gif.fail",
                                                                 "video_translate.success",
                                                                 "video_translate.fail",
                                                                 "video_translate.preflight.validation_failed",
                                                                 "video_translate.preflight.download_failed",
                                                                 "personalized_video",
                                                                 "instant_avatar.success",
                                                                 "instant_avatar.fail",
                                                                 "photo_avatar_generation.success",
                                                                 "photo_avatar_generation.fail",
                                                                 "photo_avatar_train.success",
                                                                 "photo_avatar_train.fail",
                                                                 "photo_avatar_add_motion.success",
                                                                 "photo_avatar_add_motion.fail",
                                                                 "proofread_creation.success",
                                                                 "proofread_creation.fail",
                                                                 "live_avatar.success",
                                                                 "live_avatar.fail",
                                                                 "avatar_video_caption.success",
                                                                 "avatar_video_caption.fail",
                                                                 "video_agent.success",
                                                                 "video_agent.fail",
                                                                 "hyperframes_video.success",
                                                                 "hyperframes_video.fail",
                                                                 "ai_clipping.success",
                                                                 "ai_clipping.fail",
                                                                 "batch.finished"};

/// Most endpoints one account may register (bounds the simulator's memory).
inline constexpr std::size_t max_endpoints = 1000;

/// `unix` seconds as ISO 8601 UTC (`2026-07-01T12:00:00Z`), as HeyGen's created_at.
inline std::string iso8601(std::int64_t unix) {
  const auto t = static_cast<std::time_t>(unix);
  std::tm utc{};
  gmtime_r(&t, &utc);
  std::array<char, 32> text{};
  const std::size_t n = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return {text.data(), n};
}

/// One registered endpoint.
struct Endpoint {
  /// Its id (`ep_` and a sequence number).
  std::string id;
  /// The URL as given.
  std::string url;
  /// The URL, parsed (what the sender posts to).
  std::shared_ptr<const Callback> callback;
  /// The event types it takes; nullopt: all of them.
  std::optional<std::vector<std::string>> events;
  /// Its signing secret.
  std::string secret;
  /// When it was made, ISO 8601.
  std::string created_at;

  /// True when it takes events of type `type`.
  bool takes(std::string_view type) const {
    return !events || std::find(events->begin(), events->end(), type) != events->end();
  }
};

/// What a create or update body asked for, or why it is refused.
struct EndpointChange {
  /// The new URL, if one was given.
  std::optional<std::string> url;
  /// The new event types, if given (the outer optional); nullopt inside: all events.
  std::optional<std::optional<std::vector<std::string>>> events;
  /// The parameter at fault (empty: the body as a whole); meaningful when `problem` is not empty.
  std::string param;
  /// Why the body is refused; empty when it is fine.
  std::string problem;
};

/// A refused endpoint body.
inline EndpointChange endpoint_refused(std::string param, std::string problem) {
  EndpointChange out;
  out.param = std::move(param);
  out.problem = std::move(problem);
  return out;
}

/// Reads `events`: null means all; otherwise a non-empty array of known event types, without repeats.
inline std::string read_events(const picojson::value& value, std::optional<std::vector<std::string>>& out) {
  out.reset();
  if (value.is<picojson::null>()) return "";
  if (!value.is<picojson::array>() || value.get<picojson::array>().empty())
    return "events must be a non-empty array of event types, or null for all events";
  std::vector<std::string> names;
  for (const auto& item : value.get<picojson::array>()) {
    const bool known = item.is<std::string>() && std::find(v3_event_types.begin(), v3_event_types.end(),
                                                           item.get<std::string>()) != v3_event_types.end();
    if (!known) return "unknown event type " + item.to_str() + " (see GET /v3/webhooks/event-types)";
    if (std::find(names.begin(), names.end(), item.get<std::string>()) == names.end())
      names.push_back(item.get<std::string>());
  }
  out = std::move(names);
  return "";
}

/// Reads a create (`url` required) or update (both optional) body.
inline EndpointChange parse_endpoint_body(const std::string& text, bool create) {
  picojson::value doc;
  if (!picojson::parse(doc, text).empty() || !doc.is<picojson::object>())
    return endpoint_refused("", "the body must be a JSON object");
  const auto& body = doc.get<picojson::object>();
  EndpointChange out;
  if (const auto url = body.find("url"); url != body.end() && !url->second.is<picojson::null>()) {
    if (!url->second.is<std::string>() || !parse_callback_url(url->second.get<std::string>()))
      return endpoint_refused("url", "url must be an http:// or https:// URL");
    out.url = url->second.get<std::string>();
  }
  if (create && !out.url) return endpoint_refused("url", "url is required");
  if (const auto events = body.find("events"); events != body.end()) {
    std::optional<std::vector<std::string>> names;
    if (auto problem = read_events(events->second, names); !problem.empty()) return endpoint_refused("events", problem);
    out.events = std::move(names);
  }
  return out;
}

/// The registered endpoints. Thread-safe; secrets come from a generator seeded by the system, not the config's
/// seed, since a secret a seed predicts is no secret.
class EndpointRegistry {
 public:
  /// Registers an endpoint; nullopt when max_endpoints are registered already.
  std::optional<Endpoint> add(const EndpointChange& asked) {
    std::lock_guard<std::mutex> lock(mu_);
    if (endpoints_.size() >= max_endpoints) return std::nullopt;
    Endpoint made;
    made.id = "ep_" + std::to_string(++made_);
    made.url = *asked.url;
    made.callback = make_callback(made.url, "");
    if (asked.events) made.events = *asked.events;
    made.secret = fresh_secret_locked();
    made.created_at = iso8601(unix_now());
    endpoints_.push_back(made);
    return made;
  }
  /// Applies an update; nullopt for an unknown id.
  std::optional<Endpoint> update(const std::string& id, const EndpointChange& asked) {
    std::lock_guard<std::mutex> lock(mu_);
    Endpoint* found = find_locked(id);
    if (found == nullptr) return std::nullopt;
    if (asked.url) {
      found->url = *asked.url;
      found->callback = make_callback(found->url, "");
    }
    if (asked.events) found->events = *asked.events;
    return *found;
  }
  /// Gives an endpoint a new secret (the old one signs nothing more); nullopt for an unknown id.
  std::optional<Endpoint> rotate(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    Endpoint* found = find_locked(id);
    if (found == nullptr) return std::nullopt;
    found->secret = fresh_secret_locked();
    return *found;
  }
  /// Removes an endpoint; false for an unknown id.
  bool remove(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = std::find_if(endpoints_.begin(), endpoints_.end(), [&](const Endpoint& e) { return e.id == id; });
    if (it == endpoints_.end()) return false;
    endpoints_.erase(it);
    return true;
  }
  /// Every endpoint, oldest first.
  std::vector<Endpoint> list() const {
    std::lock_guard<std::mutex> lock(mu_);
    return endpoints_;
  }
  /// True when any endpoint is registered.
  bool any() const {
    std::lock_guard<std::mutex> lock(mu_);
    return !endpoints_.empty();
  }
  /// Where an event of type `type` goes now, with the secrets that sign it.
  std::vector<EndpointTarget> targets(std::string_view type) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<EndpointTarget> out;
    for (const auto& endpoint : endpoints_) {
      if (endpoint.takes(type)) out.push_back({endpoint.callback, endpoint.secret});
    }
    return out;
  }

 private:
  Endpoint* find_locked(const std::string& id) {
    const auto it = std::find_if(endpoints_.begin(), endpoints_.end(), [&](const Endpoint& e) { return e.id == id; });
    return it == endpoints_.end() ? nullptr : &*it;
  }
  std::string fresh_secret_locked() {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "whsec_";
    for (int i = 0; i < 4; ++i) {
      std::uint64_t bits = random_();
      for (int j = 0; j < 16; ++j, bits >>= 4) out += hex[bits & 0xF];
    }
    return out;
  }

  mutable std::mutex mu_;  // guards everything below
  std::mt19937_64 random_{std::random_device{}()};
  std::vector<Endpoint> endpoints_;
  std::uint64_t made_ = 0;
};

}  // namespace heygen::sim::detail

#endif  // HEYGEN_SIM_ENDPOINTS_HPP
