// Webhook endpoints: register, list, change and delete them, and rotate their secrets.
#pragma once

#include "heygen/vt/heygen_v3_protocol.hpp"
#include "heygen/vt/http.hpp"
#include "heygen/vt/result.hpp"
#include "heygen/vt/sender.hpp"

#include <concepts>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace heygen {

/// A protocol that manages registered webhook endpoints (HeyGenV3Protocol does): the client's
/// create_webhook_endpoint, list_webhook_endpoints, update_webhook_endpoint, rotate_webhook_secret and
/// delete_webhook_endpoint exist only for such a protocol.
template <class P>
concept WebhookEndpointsProtocol = requires(const P& protocol, HttpRequest& out, const HttpResponse& response,
                                            const std::vector<std::string>& events,
                                            const std::optional<std::string>& url,
                                            const std::optional<std::vector<std::string>>& new_events) {
  protocol.webhook_endpoint_create_request(out, std::string_view(), events, std::string_view());
  protocol.webhook_endpoints_request(out, std::string_view());
  protocol.webhook_endpoint_update_request(out, std::string_view(), url, new_events);
  protocol.webhook_secret_rotate_request(out, std::string_view());
  protocol.webhook_endpoint_delete_request(out, std::string_view());
  { protocol.read_webhook_endpoint(response) } -> std::same_as<OrFailure<WebhookEndpoint>>;
  { protocol.read_webhook_endpoints(response) } -> std::same_as<OrFailure<WebhookEndpointPage>>;
  { protocol.read_rotated_secret(response) } -> std::same_as<OrFailure<std::string>>;
  { protocol.read_deleted(response, std::string_view()) } -> std::same_as<OrFailure<std::string>>;
};

/// The client's webhook endpoint calls, as free functions over its sender and protocol (the client's members
/// are one line each). Each is one call with the client's retries and deadline, and throws TranslationError
/// when it fails. Nothing here logs a secret: the sender logs failures, never an answer's body.
namespace webhook_endpoints {

/// Registers `url` for `events` (empty: all). One Idempotency-Key for every retry, for servers that honour it
/// (whether HeyGen does on this endpoint is not documented). The answer holds the secret.
template <class S, WebhookEndpointsProtocol P>
WebhookEndpoint create(S& sender, const P& protocol, std::string_view url, const std::vector<std::string>& events,
                       std::stop_token stop) {
  const std::string key = detail::random_key();
  return checked_call(
      sender, protocol, "create_webhook_endpoint", std::move(stop),
      [&](HttpRequest& out) { protocol.webhook_endpoint_create_request(out, url, events, key); },
      [&](const HttpResponse& response) { return protocol.read_webhook_endpoint(response); });
}

/// Every registered endpoint, page after page (without secrets). A page token seen before ends the list with a
/// bad_response failure rather than a loop.
template <class S, WebhookEndpointsProtocol P>
std::vector<WebhookEndpoint> list(S& sender, const P& protocol, std::stop_token stop) {
  std::vector<WebhookEndpoint> out;
  std::unordered_set<std::string> seen;
  for (std::string page;;) {
    WebhookEndpointPage got = checked_call(
        sender, protocol, "list_webhook_endpoints", stop,
        [&](HttpRequest& request) { protocol.webhook_endpoints_request(request, page); },
        [&](const HttpResponse& response) -> OrFailure<WebhookEndpointPage> {
          auto read = protocol.read_webhook_endpoints(response);
          if (read && !read->next_page.empty() && !seen.insert(read->next_page).second)
            return Failure{FailureCause::bad_response, "the server gave a page token twice"};
          return read;
        });
    for (auto& endpoint : got.endpoints) out.push_back(std::move(endpoint));
    if (got.next_page.empty()) return out;
    page = std::move(got.next_page);
  }
}

/// Changes an endpoint's url and/or events (nullopt: unchanged; an empty list: all events); the endpoint after.
template <class S, WebhookEndpointsProtocol P>
WebhookEndpoint update(S& sender, const P& protocol, std::string_view endpoint_id,
                       const std::optional<std::string>& url, const std::optional<std::vector<std::string>>& events,
                       std::stop_token stop) {
  return checked_call(
      sender, protocol, "update_webhook_endpoint", std::move(stop),
      [&](HttpRequest& out) { protocol.webhook_endpoint_update_request(out, endpoint_id, url, events); },
      [&](const HttpResponse& response) { return protocol.read_webhook_endpoint(response); });
}

/// Gives an endpoint a new secret (the old one stops signing at once); the new secret.
template <class S, WebhookEndpointsProtocol P>
std::string rotate(S& sender, const P& protocol, std::string_view endpoint_id, std::stop_token stop) {
  return checked_call(
      sender, protocol, "rotate_webhook_secret", std::move(stop),
      [&](HttpRequest& out) { protocol.webhook_secret_rotate_request(out, endpoint_id); },
      [&](const HttpResponse& response) { return protocol.read_rotated_secret(response); });
}

/// Deletes an endpoint.
template <class S, WebhookEndpointsProtocol P>
void remove(S& sender, const P& protocol, std::string_view endpoint_id, std::stop_token stop) {
  checked_call(
      sender, protocol, "delete_webhook_endpoint", std::move(stop),
      [&](HttpRequest& out) { protocol.webhook_endpoint_delete_request(out, endpoint_id); },
      [&](const HttpResponse& response) { return protocol.read_deleted(response, endpoint_id); });
}

}  // namespace webhook_endpoints

}  // namespace heygen
