// Asset ingest: an uploaded asset watched until processed, on its own protocol.
#pragma once

#include "heygen/vt/heygen_v3_assets.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/poller.hpp"
#include "heygen/vt/profile.hpp"
#include "heygen/vt/sender.hpp"
#include "heygen/vt/status_looks.hpp"

#include <algorithm>
#include <cstddef>
#include <future>
#include <stop_token>
#include <string>
#include <utility>

namespace heygen {

/// How an ingest is polled: small files ingest within seconds, so looks start after 0.25 s and grow to 5 s apart;
/// HeyGen holds no long polls, and ingests in flight together share one statuses request every 0.5 s.
inline PollPolicy ingest_policy() {
  PollPolicy policy;
  policy.initial_interval = Seconds(0.25);
  policy.cold_cap = Seconds(5.0);
  policy.max_interval = Seconds(5.0);
  policy.long_poll = Seconds(0);
  policy.many_status_interval = Seconds(0.5);
  return policy;
}

/// Watches uploaded assets until they are ingested: the poller every wait of the client runs on, speaking
/// HeyGenV3AssetProtocol, so ingests are jobs like any other (deadlines, cancellation, retries) and the ingests of
/// many uploads at once share `/v3/assets/statuses` requests (up to 100 ids). It has its own profile and rules:
/// an ingest takes seconds and a translation minutes, and what is learnt of one must not steer the other. Its
/// workers start with the first ingest watched.
template <Transport T, Clock C>
class AssetIngest {
 public:
  /// Workers for ingests: a few, since ingests in flight together share each request.
  static constexpr std::size_t max_workers = 2;

  /// Watches through `sender`, which must outlive this, with the base URL of `options`.
  AssetIngest(Sender<T, C>& sender, const ClientOptions& options)
      : protocol_(options),
        rules_(ingest_policy(), profile_, [&sender] { return sender.uniform(); }),
        looks_(sender, protocol_, rules_),
        poller_(looks_, std::min(max_workers, options.poller_threads)) {}

  AssetIngest(const AssetIngest&) = delete;
  AssetIngest& operator=(const AssetIngest&) = delete;

  /// Blocks until `asset_id` is ingested. Throws TranslationError when its ingest failed (job_failed), HeyGen knows
  /// no such asset (unknown_job), `deadline` passed, `stop` was triggered or the looks failed.
  void wait(const std::string& asset_id, TimePoint deadline, std::stop_token stop) {
    std::promise<TranslationResult> ended;
    std::future<TranslationResult> result = ended.get_future();
    poller_.watch(asset_id, deadline, std::move(stop),
                  [&ended](const std::string&, TranslationResult outcome) { ended.set_value(std::move(outcome)); });
    const TranslationResult outcome = result.get();
    if (outcome.ok()) return;
    std::string message = "asset ";
    message.append(asset_id).append(outcome.cause == FailureCause::job_failed ? " failed to ingest: " : ": ");
    message.append(outcome.error_message.value_or(std::string(to_string(outcome.cause))));
    throw TranslationError(outcome.cause, message, outcome.http_status, outcome.requests);
  }

  /// Ends every ingest being watched `cancelled` and joins the workers.
  void stop() noexcept { poller_.stop(); }

  /// What the ingest poller is doing: workers, assets watched, requests sent.
  [[nodiscard]] PollerStats stats() const { return poller_.stats(); }

 private:
  HeyGenV3AssetProtocol protocol_;
  ServerProfile profile_;
  PollingRules rules_;
  StatusLooks<T, C, HeyGenV3AssetProtocol> looks_;
  Poller<T, C, HeyGenV3AssetProtocol> poller_;  // last: stopped and joined before the parts it uses go
};

}  // namespace heygen
