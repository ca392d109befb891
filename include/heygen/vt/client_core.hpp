// Client core: the parts one client is made of, built from its checked options.
#pragma once

#include "heygen/vt/asset_ingest.hpp"
#include "heygen/vt/callbacks.hpp"
#include "heygen/vt/heygen_v3_protocol.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/policies.hpp"
#include "heygen/vt/poller.hpp"
#include "heygen/vt/profile.hpp"
#include "heygen/vt/protocol.hpp"
#include "heygen/vt/sender.hpp"
#include "heygen/vt/status_looks.hpp"
#include "heygen/vt/url.hpp"
#include "heygen/vt/webhook.hpp"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace heygen {

/// `options` when every field is usable; else throws std::invalid_argument naming the first that is not.
inline ClientOptions checked_options(ClientOptions options) {
  BaseUrl::parse(options.base_url);
  auto require = [](bool good, const char* what) {
    if (!good) throw std::invalid_argument(std::string("heygen: ") + what);
  };
  auto non_negative = [](Seconds s) { return std::isfinite(s.count()) && s.count() >= 0.0; };
  require(options.max_retries >= 0, "max_retries must not be negative");
  require(non_negative(options.initial_backoff), "initial_backoff must be finite and not negative");
  require(non_negative(options.max_backoff), "max_backoff must be finite and not negative");
  require(non_negative(options.max_timeout) && options.max_timeout.count() > 0, "max_timeout must be positive");
  require(non_negative(options.request_timeout) && options.request_timeout.count() > 0,
          "request_timeout must be positive");
  require(non_negative(options.connect_timeout) && options.connect_timeout.count() > 0,
          "connect_timeout must be positive");
  const PollPolicy& poll = options.polling;
  require(non_negative(poll.initial_interval) && non_negative(poll.max_interval) && non_negative(poll.min_interval) &&
              non_negative(poll.cold_cap) && non_negative(poll.long_poll) && non_negative(poll.coalesce) &&
              non_negative(poll.many_status_interval),
          "polling intervals must be finite and not negative");
  require(std::isfinite(poll.lag_ratio) && poll.lag_ratio > 0.0 && poll.lag_ratio <= 1.0,
          "polling.lag_ratio must be in (0, 1]");
  require(std::isfinite(poll.multiplier) && poll.multiplier >= 1.0, "polling.multiplier must be at least 1");
  require(std::isfinite(poll.jitter) && poll.jitter >= 0.0 && poll.jitter <= 1.0, "polling.jitter must be in [0, 1]");
  require(options.max_body_bytes > 0, "max_body_bytes must be positive");
  require(options.connection_pool_size > 0, "connection_pool_size must be positive");
  require(options.poller_threads > 0, "poller_threads must be positive");
  const WebhookOptions& hook = options.webhook;
  require(non_negative(hook.safety_interval) && hook.safety_interval.count() > 0,
          "webhook.safety_interval must be positive");
  require(std::isfinite(hook.safety_age_ratio) && hook.safety_age_ratio >= 0.0 && hook.safety_age_ratio <= 1.0,
          "webhook.safety_age_ratio must be in [0, 1]");
  require(non_negative(hook.timestamp_tolerance), "webhook.timestamp_tolerance must be finite and not negative");
  require(hook.max_body_bytes > 0, "webhook.max_body_bytes must be positive");
  require(!detail::has_line_break(options.bearer_token), "bearer_token must not contain line breaks");
  require(!detail::has_line_break(options.api_key), "api_key must not contain line breaks");
  require(std::none_of(options.user_agent_suffix.begin(), options.user_agent_suffix.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }),
          "user_agent_suffix must hold no control character");
  for (const auto& header : options.extra_headers)
    require(!header.name.empty() && !detail::has_line_break(header.name) && !detail::has_line_break(header.value) &&
                header.name.find(':') == std::string::npos,
            "extra_headers must have a name and hold no line breaks");
  return options;
}

/// The parts of one client, wired together: the client keeps one on the heap, because the parts refer to one
/// another and a client stays movable. Built from options already checked (checked_options()).
template <Transport T, Clock C, Protocol P>
struct ClientCore {
  ClientOptions options;                      ///< As checked.
  std::shared_ptr<ServerProfile> profile;     ///< What is learnt of the server (the options' own, or a new one).
  P protocol;                                 ///< The wire format.
  Sender<T, C> sender;                        ///< Requests with retries, deadlines and logging.
  PollingRules rules;                         ///< When to look again.
  StatusLooks<T, C, P> looks;                 ///< One status look and what it comes to.
  std::unique_ptr<WebhookVerifier> verifier;  ///< When pushes can be verified (a secret or a verify function).
  CallbackBook callbacks;                     ///< The callback_id each create sent, for unsigned pushes.
  Poller<T, C, P> poller;                     ///< After the parts it uses: stopped and joined before they go.
  std::unique_ptr<AssetIngest<T, C>> ingest;  ///< HeyGen's asset ingests, watched as jobs; none for other servers.

  /// Jobs awaiting a push whose callback_id is remembered, at most.
  static constexpr std::size_t max_open_callbacks = 1'000'000;

  /// The parts for `checked`, on a transport `make_transport` makes from the options, and the protocol given
  /// (none: one made from the options).
  template <class MakeTransport>
  ClientCore(ClientOptions checked, MakeTransport&& make_transport, C clock, std::optional<P> given_protocol)
      : options(std::move(checked)),
        profile(options.profile ? options.profile : std::make_shared<ServerProfile>()),
        protocol(pick_protocol(given_protocol, options)),
        sender(options, make_transport(options), std::move(clock)),
        rules(options.polling, *profile, [this] { return sender.uniform(); }),
        looks(sender, protocol, rules),
        verifier(make_verifier(options, protocol)),
        callbacks(max_open_callbacks, options.webhook.remember),
        poller(looks, options.poller_threads, safety_of(options),
               [this](const std::string& job_id) {
                 if (verifier) verifier->note_settled(job_id);
                 callbacks.finish(job_id);
               }),
        ingest(make_ingest(sender, options)) {}

  /// When a wait started now with `timeout` ends (0: the options' max_timeout); throws std::invalid_argument for
  /// a negative or infinite one.
  TimePoint deadline_of(Seconds timeout) {
    if (timeout == Seconds(0)) timeout = options.max_timeout;
    if (!std::isfinite(timeout.count()) || timeout.count() < 0.0)
      throw std::invalid_argument("heygen: a wait's timeout must be finite and not negative");
    return sender.clock().now() + detail::to_clock(timeout);
  }

  /// The protocol the caller gave, else one made from the options.
  static P pick_protocol(std::optional<P>& given, const ClientOptions& options) {
    if constexpr (std::constructible_from<P, const ClientOptions&>)
      if (!given) return P(options);
    if (!given) throw std::invalid_argument("heygen: this protocol cannot be made from ClientOptions; pass one");
    return std::move(*given);
  }

  /// A verifier for pushes when the options can check them and the protocol reads them; else none.
  static std::unique_ptr<WebhookVerifier> make_verifier(const ClientOptions& options, const P& protocol) {
    if constexpr (PushProtocol<P>) {
      if (!options.webhook.secret.empty() || options.webhook.verify)
        return std::make_unique<WebhookVerifier>(options.webhook, protocol);
    }
    return nullptr;
  }

  /// The watcher of uploaded assets' ingests, for a HeyGen client (its workers start with the first upload).
  static std::unique_ptr<AssetIngest<T, C>> make_ingest(Sender<T, C>& sender, const ClientOptions& options) {
    if constexpr (std::same_as<P, HeyGenV3Protocol>)
      return std::make_unique<AssetIngest<T, C>>(sender, options);
    else
      return nullptr;
  }

  /// Safety-net polling when creates ask for pushes.
  static std::optional<SafetyPolling> safety_of(const ClientOptions& options) {
    if (options.webhook_url.empty()) return std::nullopt;
    return SafetyPolling{options.webhook.safety_interval, options.webhook.safety_age_ratio};
  }
};

}  // namespace heygen
