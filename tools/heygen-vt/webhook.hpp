// heygen-vt's push receiver (--webhook-listen): the bundled WebhookReceiver, handing each push to the client
// that waits, reporting what became of it, and the client options that ask the server to push.
#ifndef HEYGEN_VT_TOOL_WEBHOOK_HPP
#define HEYGEN_VT_TOOL_WEBHOOK_HPP

#include "args.hpp"

#include <heygen/video_translation.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen_vt {

/// A line of text for stderr: control characters (from a pushed body or header) replaced by blanks.
inline std::string printable(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  return text;
}

/// Takes the server's pushes on --webhook-listen's address and hands each to the client that waits (attach()).
/// Until a client is attached, and after, a push is answered 503 so that its sender tries again. Prints each
/// refused push on stderr, every push with --verbose, and the counts at the end (print_summary()).
class PushListener {
 public:
  /// Binds the receiver; throws std::runtime_error when the address cannot be bound.
  explicit PushListener(const Args& args)
      : verbose_(args.verbose),
        receiver_([this](const std::vector<heygen::HttpHeader>& headers,
                         std::string_view body) { return take(headers, body); },
                  receiver_options(args)) {
    url_ = args.webhook_url.empty() ? receiver_.url() : args.webhook_url;
  }

  PushListener(const PushListener&) = delete;
  PushListener& operator=(const PushListener&) = delete;

  /// Stops the receiver (before the members its handler uses go).
  ~PushListener() { receiver_.stop(); }

  /// The URL creates name as their callback_url.
  [[nodiscard]] const std::string& url() const noexcept { return url_; }

  /// While it lives, pushes go to the client given to attach(); empty when there is no listener.
  class Attachment {
   public:
    explicit Attachment(PushListener* listener = nullptr) noexcept : listener_(listener) {}
    Attachment(Attachment&& other) noexcept : listener_(std::exchange(other.listener_, nullptr)) {}
    Attachment(const Attachment&) = delete;
    Attachment& operator=(const Attachment&) = delete;
    Attachment& operator=(Attachment&&) = delete;
    ~Attachment() {
      if (listener_ != nullptr) listener_->set({}, {});
    }

   private:
    PushListener* listener_;
  };

  /// Hands pushes to `client` (which must outlive the result) until the result goes; a later attach() replaces it.
  template <class C>
  [[nodiscard]] Attachment attach(C& client) {
    set(client.webhook_handler(), [&client](std::string_view body) {
      auto push = client.protocol().read_push(body);
      return push ? push->job_id : std::string();
    });
    return Attachment(this);
  }

  /// One line on stderr: how many pushes were accepted, hints taken (unsigned pushes, each confirmed by a look)
  /// and how many of them a look `confirmed`, duplicates, pushes for jobs not waited for, and refused ones.
  void print_summary(std::uint64_t confirmed) const {
    std::lock_guard lock(mutex_);
    auto count = [this](heygen::WebhookVerdict verdict) {
      const auto found = counts_.find(verdict);
      return found == counts_.end() ? 0 : found->second;
    };
    using V = heygen::WebhookVerdict;
    std::fprintf(
        stderr, "heygen-vt: pushes: accepted=%d hinted=%d confirmed=%llu duplicate=%d unknown_job=%d refused=%d\n",
        count(V::accepted), count(V::confirming), static_cast<unsigned long long>(confirmed), count(V::duplicate),
        count(V::unknown_job),
        count(V::bad_signature) + count(V::bad_callback) + count(V::stale) + count(V::malformed) + count(V::too_large));
  }

 private:
  using IdReader = std::function<std::string(std::string_view body)>;

  static heygen::WebhookReceiverOptions receiver_options(const Args& args) {
    const ListenAddress address = parse_listen_address(args.webhook_listen);
    heygen::WebhookReceiverOptions options;
    options.host = address.host;
    options.port = address.port;
    if (!args.webhook_url.empty()) options.path = http_url_path(args.webhook_url).value_or(options.path);
    return options;
  }

  void set(heygen::WebhookHandler handler, IdReader read_id) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
    read_id_ = std::move(read_id);
  }

  /// One push, on a thread of the receiver: to the client, counted and reported. Serialized, so a client is
  /// never called after its attach() result is gone.
  heygen::WebhookReply take(const std::vector<heygen::HttpHeader>& headers, std::string_view body) {
    std::lock_guard lock(mutex_);
    if (!handler_) {
      if (verbose_) std::fprintf(stderr, "heygen-vt: push answered 503: not waiting for jobs now\n");
      return {heygen::WebhookVerdict::unknown_job, 503, "not waiting for jobs now"};
    }
    heygen::WebhookReply reply = handler_(headers, body);
    ++counts_[reply.verdict];
    const std::string verdict(heygen::to_string(reply.verdict));
    if (reply.http_status / 100 != 2) {  // 202: a hint, to be confirmed by a look
      const bool signature = reply.verdict == heygen::WebhookVerdict::bad_signature;
      std::fprintf(
          stderr, "heygen-vt: push refused, answered %d (%s): %s%s\n", reply.http_status, verdict.c_str(),
          printable(reply.reason).c_str(),
          signature ? " (is HEYGEN_WEBHOOK_SECRET the endpoint's secret, and --webhook-header its header?)" : "");
    } else if (verbose_) {
      std::fprintf(stderr, "heygen-vt: push for %s: %s\n", printable(read_id_(body)).c_str(), verdict.c_str());
    }
    return reply;
  }

  bool verbose_;
  mutable std::mutex mutex_;
  heygen::WebhookHandler handler_;
  IdReader read_id_;
  std::map<heygen::WebhookVerdict, int> counts_;
  std::string url_;
  heygen::WebhookReceiver receiver_;  // last: listening only while the members above exist
};

/// Sets `options` to check pushes as --api asks: the tracker signs every push, so its secret is required
/// (HEYGEN_WEBHOOK_SECRET; never printed). HeyGen signs only pushes to a registered endpoint: with the secret,
/// those settle at once and unsigned per-job pushes are hints confirmed by a look; without it, every push is such
/// a hint.
inline void trust_pushes(const Args& args, heygen::ClientOptions& options) {
  const char* secret = std::getenv(webhook_secret_variable);
  const bool has_secret = secret != nullptr && *secret != '\0';
  if (!has_secret && args.api != api_heygen_v3)
    throw UsageError(std::string(webhook_secret_variable) +
                     " is not set: --webhook-listen needs the secret the server signs pushes with in it");
  if (!has_secret) {
    options.webhook.trust = heygen::PushTrust::confirm;
    return;
  }
#ifndef HEYGEN_VT_WITH_OPENSSL
  throw UsageError("this heygen-vt was built without OpenSSL, so it cannot check push signatures: unset " +
                   std::string(webhook_secret_variable));
#endif
  options.webhook.secret = secret;
  if (!args.webhook_header.empty()) options.webhook.signature_header = args.webhook_header;
}

/// The listener --webhook-listen asks for (none without it), with `options` set to ask for pushes to it and
/// to check them (trust_pushes()).
inline std::unique_ptr<PushListener> listen_for_pushes(const Args& args, heygen::ClientOptions& options) {
  if (args.webhook_listen.empty()) return nullptr;
  trust_pushes(args, options);
  std::unique_ptr<PushListener> listener;
  try {
    listener = std::make_unique<PushListener>(args);
  } catch (const std::runtime_error&) {
    throw std::runtime_error("cannot listen on " + args.webhook_listen +
                             " for pushes (the port is taken, or the address is not this machine's)");
  }
  options.webhook_url = listener->url();
  if (args.verbose) std::fprintf(stderr, "heygen-vt: taking pushes at %s\n", listener->url().c_str());
  return listener;
}

/// `listener`'s attach(client), or nothing when there is no listener.
template <class C>
[[nodiscard]] PushListener::Attachment attach(const std::unique_ptr<PushListener>& listener, C& client) {
  return listener ? listener->attach(client) : PushListener::Attachment();
}

}  // namespace heygen_vt

#endif  // HEYGEN_VT_TOOL_WEBHOOK_HPP
