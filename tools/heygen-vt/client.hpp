// The client heygen-vt runs on: options from the command line and the environment, a transport that counts
// its requests, and the detection of a server that only has the original GET /status?job_id=.
#ifndef HEYGEN_VT_TOOL_CLIENT_HPP
#define HEYGEN_VT_TOOL_CLIENT_HPP

#include "args.hpp"

#include <heygen/video_translation.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stop_token>
#include <string>

namespace heygen_vt {

/// The bundled transport, counting the HTTP requests it sends (for the summary line).
class CountingTransport {
 public:
  /// Wraps a bundled transport built from the client's options.
  explicit CountingTransport(const heygen::ClientOptions& options) : inner_(options) {}
  /// It streams uploads and downloads, as the bundled transport does.
  static constexpr bool streams = heygen::transport_streams<heygen::HttplibTransport>;
  /// Sends one request and counts it; called from many threads.
  heygen::HttpResponse send(const heygen::HttpRequest& request) {
    ++*sent_;
    return inner_.send(request);
  }
  /// Requests sent so far.
  [[nodiscard]] int sent() const { return sent_->load(); }

 private:
  heygen::HttplibTransport inner_;
  std::unique_ptr<std::atomic<int>> sent_ = std::make_unique<std::atomic<int>>(0);  // the client moves us
};

/// The client the commands run on.
using Client = heygen::BasicVideoTranslationClient<CountingTransport>;
/// The client for --api heygen-v3.
using V3Client = heygen::BasicVideoTranslationClient<CountingTransport, heygen::SteadyClock, heygen::HeyGenV3Protocol>;

/// Seconds since `start`, for the summary line.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The tool's product token in the User-Agent, after the library's: "heygen-vt-cpp/0.1.0 heygen-vt-cli/0.1.0".
inline constexpr const char* cli_token = "heygen-vt-cli/" HEYGEN_VT_VERSION;

/// Client options from the command line and the environment (the proxy too, as curl reads it); the token is
/// never printed.
inline heygen::ClientOptions client_options(const Args& args) {
  heygen::ClientOptions options;
  const char* env_url = std::getenv("HEYGEN_API_URL");
  options.base_url = !args.url.empty() ? args.url : (env_url != nullptr && *env_url != '\0' ? env_url : default_url);
  if (const char* token = std::getenv("HEYGEN_API_TOKEN")) options.bearer_token = token;
  if (args.timeout) options.max_timeout = heygen::Seconds(*args.timeout);
  options.max_retries = args.retries;
  options.connection_pool_size = args.concurrency;
  if (args.status_path != auto_status_path) options.endpoints.status = args.status_path;
  options.webhook_url = args.webhook_url;  // create without --webhook-listen: pushes go there, taken elsewhere
  options.user_agent_suffix = cli_token;
  if (args.verbose) options.log_sink = heygen::stderr_log_sink();
  return options;
}

/// Client options for HeyGen's v3 API: the key from HEYGEN_API_KEY (a usage error when it is missing; never
/// printed), --url or HeyGen's own URL (HEYGEN_API_URL and HEYGEN_API_TOKEN are the tracker's, and not sent to
/// HeyGen), the deadline heygen_v3_options() picks unless --timeout says otherwise.
inline heygen::ClientOptions v3_client_options(const Args& args) {
  const char* key = std::getenv(api_key_variable);
  if (key == nullptr || *key == '\0')
    throw UsageError(std::string(api_key_variable) + " is not set: --api heygen-v3 needs your HeyGen API key in it");
  heygen::ClientOptions options = heygen::heygen_v3_options(key, args.url.empty() ? heygen_v3_default_url : args.url);
  if (args.timeout) options.max_timeout = heygen::Seconds(*args.timeout);
  options.max_retries = args.retries;
  options.connection_pool_size = args.concurrency;
  options.webhook_url = args.webhook_url;
  options.user_agent_suffix = cli_token;
  if (args.verbose) options.log_sink = heygen::stderr_log_sink();
  return options;
}

/// `options` with the journal --journal names (opened here: a JournalError naming the file when it cannot be).
inline heygen::ClientOptions with_journal(heygen::ClientOptions options, const Args& args) {
#ifdef HEYGEN_VT_WITH_SQLITE
  if (!args.journal.empty())
    options.journal = heygen::AnyJournal(std::make_shared<heygen::SqliteJournal>(args.journal));
#else
  (void)args;
#endif
  return options;
}

/// True when the answer came from a readable status endpoint (whatever the job's state).
inline bool endpoint_answered(const heygen::TranslationResult& result) {
  using heygen::FailureCause;
  return result.cause == FailureCause::none || result.cause == FailureCause::job_failed ||
         result.cause == FailureCause::unexpected_result;
}

/// True when the original GET /status?job_id= knows `probe_id` although /status/{job_id} answered 404.
/// One request each, no retries (the real calls retry).
inline bool only_original_endpoint(const heygen::ClientOptions& options, const std::string& probe_id,
                                   std::stop_token stop) {
  heygen::ClientOptions probe = options;
  probe.max_retries = 0;
  probe.max_timeout = std::min(options.max_timeout, heygen::Seconds(10));
  probe.log_sink = {};
  if (heygen::VideoTranslationClient(probe).check_translation_status(probe_id, stop).cause !=
      heygen::FailureCause::unknown_job)
    return false;
  probe.endpoints.status = query_status_path;
  return endpoint_answered(heygen::VideoTranslationClient(probe).check_translation_status(probe_id, stop));
}

/// In auto mode: keeps /status/{job_id} unless only the original endpoint knows the first job. The time the
/// probe took comes off --timeout, so the deadline holds whatever the server does.
inline heygen::ClientOptions detect_status_path(heygen::ClientOptions options, const std::string& probe_id,
                                                std::stop_token stop) {
  const auto started = std::chrono::steady_clock::now();
  if (only_original_endpoint(options, probe_id, stop)) {
    std::fprintf(stderr, "heygen-vt: GET /status/{job_id} answered 404; using the original GET /status?job_id=\n");
    options.endpoints.status = query_status_path;
  }
  const heygen::Seconds spent = std::chrono::steady_clock::now() - started;
  options.max_timeout = std::max(options.max_timeout - spent, heygen::Seconds(0.001));
  return options;
}

}  // namespace heygen_vt

#endif  // HEYGEN_VT_TOOL_CLIENT_HPP
