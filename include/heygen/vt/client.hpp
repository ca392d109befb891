// BasicVideoTranslationClient: the seed's API, a thin facade over the parts.
#pragma once

#include "heygen/vt/bulk_collector.hpp"
#include "heygen/vt/callbacks.hpp"
#include "heygen/vt/client_core.hpp"
#include "heygen/vt/client_files.hpp"
#include "heygen/vt/client_journal.hpp"
#include "heygen/vt/client_webhooks.hpp"
#include "heygen/vt/heygen_v3_protocol.hpp"
#include "heygen/vt/job_poller.hpp"
#include "heygen/vt/options.hpp"
#include "heygen/vt/policies.hpp"
#include "heygen/vt/poller.hpp"
#include "heygen/vt/profile.hpp"
#include "heygen/vt/protocol.hpp"
#include "heygen/vt/sender.hpp"
#include "heygen/vt/status_looks.hpp"
#include "heygen/vt/tracker_protocol.hpp"
#include "heygen/vt/url.hpp"
#include "heygen/vt/webhook.hpp"
#include "heygen/vt/webhook_endpoints.hpp"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// Creates jobs and tracks them. Safe to call from many threads at once: every call keeps its own state
/// (deadline, attempt counts) on its own stack, never on the client. The transport must be thread-safe.
template <Transport T, Clock C = SteadyClock, Protocol P = TrackerProtocol>
class BasicVideoTranslationClient {
 public:
  /// The transport type requests go through.
  using transport_type = T;
  /// The clock type waits are measured with.
  using clock_type = C;
  /// The protocol spoken with the server.
  using protocol_type = P;
  /// The map bulk calls return: job id → result.
  using ResultMap = heygen::ResultMap;

  /// Builds a client whose transport is made from the options (the bundled transport's way).
  explicit BasicVideoTranslationClient(
      ClientOptions options) requires std::constructible_from<T, const ClientOptions&> && std::default_initializable<C>
      : core_(make_core(checked_options(std::move(options)), [](const ClientOptions& o) { return T(o); }, C{}, {})) {}

  /// Builds a client from the base URL alone, with the seed's defaults. A template, so that a braced list of
  /// designated initializers (`{.base_url = ..., .max_retries = 3}`) can only mean ClientOptions.
  template <class Url>
    requires std::convertible_to<const Url&, std::string_view> && std::constructible_from<T, const ClientOptions&> &&
        std::default_initializable<C>
  explicit BasicVideoTranslationClient(const Url& base_url)
      : BasicVideoTranslationClient(ClientOptions{.base_url = std::string(std::string_view(base_url))}) {}

  /// Builds a client on a transport (and clock) the caller brings.
  BasicVideoTranslationClient(ClientOptions options, T transport, C clock = C{})
      : core_(make_core(checked_options(std::move(options)), given(transport), std::move(clock), {})) {}

  /// Builds a client on a transport, a clock and a protocol the caller brings.
  BasicVideoTranslationClient(ClientOptions options, T transport, C clock, P protocol)
      : core_(make_core(checked_options(std::move(options)), given(transport), std::move(clock), std::move(protocol))) {
  }

  /// Creates a job and returns its id. Retries transient failures with one Idempotency-Key, so a retry after
  /// a lost answer never makes a second job. Throws TranslationError once retries or time run out.
  std::string create_translation_job(
      std::stop_token stop = {}) requires std::default_initializable<typename P::create_input> {
    return create_translation_jobs(typename P::create_input{}, std::move(stop)).front();
  }

  /// Creates what `input` describes and returns the id of every job it started (one per output language on
  /// servers that translate into several at once). Same retries and errors as create_translation_job; a server
  /// that paces creates (HeyGen's 429 while the account runs its most jobs) is waited out within max_timeout.
  std::vector<std::string> create_translation_jobs(const typename P::create_input& input, std::stop_token stop = {}) {
    CallState call = core_->sender.begin({}, std::move(stop));
    OrFailure<std::vector<std::string>> ids = create(input, call);
    if (!ids) {
      Failure failure = std::move(ids).failure();
      if (core_->options.journal && !refused(failure, call))
        failure.message +=
            " (the journal keeps its intent: resume() sends it again with its key, and gets the job "
            "it may have made)";
      throw call_error("create_translation_job", call, failure);
    }
    return std::move(ids).value();
  }

  /// Creates every input, one after another, each with its own max_timeout; returns what each came to, in
  /// order. When the account may run no more jobs, the rest wait their turn (`on_progress` says so) instead of
  /// failing. Throws std::invalid_argument, before sending anything, for an input the protocol refuses.
  std::vector<Submitted> submit_translations(const std::vector<typename P::create_input>& inputs,
                                             const SubmitCallback& on_progress = {}, std::stop_token stop = {}) {
    for (const auto& input : inputs) {  // every input checked first: a bad one must not strand the rest
      HttpRequest probe;
      core_->protocol.create_request(probe, input, "check");
    }
    std::vector<Submitted> out(inputs.size());
    SubmitProgress progress{0, 0, inputs.size(), inputs.size(), std::nullopt};
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      CallState call = core_->sender.begin({}, stop);
      call.on_paced = [&](Seconds wait) {
        progress.waiting_for_slot = wait;
        if (on_progress) on_progress(progress);
      };
      OrFailure<std::vector<std::string>> ids = create(inputs[i], call);
      progress.waiting_for_slot.reset();
      --progress.queued;
      if (ids) {
        ++progress.created;
        out[i].job_ids = std::move(ids).value();
      } else {
        ++progress.failed;
        out[i].failure = std::move(ids).failure();
      }
      if (on_progress) on_progress(progress);
    }
    return out;
  }

  /// The languages the server translates into (names to use in output_languages), for protocols that list them.
  /// Throws TranslationError when the list cannot be had.
  std::vector<std::string> list_languages(std::stop_token stop = {}) requires
      requires(const P& protocol, HttpRequest& out, const HttpResponse& response) {
    protocol.languages_request(out);
    { protocol.read_languages(response) } -> std::same_as<OrFailure<std::vector<std::string>>>;
  }
  {
    CallState call = core_->sender.begin({}, std::move(stop));
    HttpRequest request = core_->sender.blank_request();
    core_->protocol.languages_request(request);
    OrFailure<HttpResponse> response = core_->sender.send(std::move(request), call, core_->protocol);
    if (!response) throw call_error("list_languages", call, response.failure());
    OrFailure<std::vector<std::string>> languages = core_->protocol.read_languages(response.value());
    if (!languages) throw call_error("list_languages", call, languages.failure());
    return std::move(languages).value();
  }

  /// Registers a webhook endpoint at `url` for `events` (empty: all); the answer carries its signing secret, shown
  /// only here and by rotate_webhook_secret. Throws TranslationError on failure.
  WebhookEndpoint create_webhook_endpoint(std::string_view url, const std::vector<std::string>& events = {},
                                          std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    return webhook_endpoints::create(core_->sender, core_->protocol, url, events, std::move(stop));
  }

  /// Every registered webhook endpoint, without secrets. Throws TranslationError on failure.
  std::vector<WebhookEndpoint> list_webhook_endpoints(std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    return webhook_endpoints::list(core_->sender, core_->protocol, std::move(stop));
  }

  /// Changes a webhook endpoint's url and/or events (nullopt: unchanged; an empty list: all events); the endpoint
  /// after. Throws TranslationError on failure (an unknown id: http_status 404).
  WebhookEndpoint update_webhook_endpoint(std::string_view endpoint_id, const std::optional<std::string>& url,
                                          const std::optional<std::vector<std::string>>& events = std::nullopt,
                                          std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    return webhook_endpoints::update(core_->sender, core_->protocol, endpoint_id, url, events, std::move(stop));
  }

  /// Gives a webhook endpoint a new signing secret, returned (the old one stops at once). Throws TranslationError.
  std::string rotate_webhook_secret(std::string_view endpoint_id,
                                    std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    return webhook_endpoints::rotate(core_->sender, core_->protocol, endpoint_id, std::move(stop));
  }

  /// Deletes a webhook endpoint. Throws TranslationError on failure (an unknown id: http_status 404).
  void delete_webhook_endpoint(std::string_view endpoint_id,
                               std::stop_token stop = {}) requires WebhookEndpointsProtocol<P> {
    webhook_endpoints::remove(core_->sender, core_->protocol, endpoint_id, std::move(stop));
  }

  /// Uploads the file at `path` as a HeyGen asset (a direct upload streamed from disk, its SHA-256 sent) and waits
  /// until HeyGen has ingested it (watched as a job: the ingests of many uploads share each statuses request, and
  /// the wait ends by max_timeout or `stop`); the asset id, for TranslationRequest::video_asset_id. Throws FileError
  /// for the file and TranslationError for the rest. Needs a transport that streams (the bundled one does).
  std::string upload_asset(const std::string& path, const UploadOptions& options = {},
                           std::stop_token stop = {}) requires std::same_as<P, HeyGenV3Protocol> {
    std::string asset_id = client_files::upload_asset(core_->sender, core_->protocol, path, options, stop);
    core_->ingest->wait(asset_id, core_->deadline_of(Seconds(0)), std::move(stop));
    return asset_id;
  }

  /// The whole job for one local file: uploads it, creates a translation into each language, waits for them (by
  /// push where the client takes pushes, else by polling, on the client's one poller, so many files at once share
  /// its many-status requests), and downloads each language's outputs into `out_dir` as STEM.LANGUAGE.KIND.EXT.
  /// `request` gives the other fields (title, captions...); `options` the progress callback and overwrite. A language
  /// whose job failed, or whose download failed, says why in its entry and the others go on; throws FileError or
  /// TranslationError when the upload or the create fails.
  std::vector<TranslatedOutput> translate_file(const std::string& path, const std::vector<std::string>& languages,
                                               const std::string& out_dir, TranslationRequest request = {},
                                               const TranslateOptions& options = {},
                                               std::stop_token stop = {}) requires std::same_as<P, HeyGenV3Protocol> {
    const auto tell = [&](TranslateProgress step) {
      if (options.progress) options.progress(step);
    };
    if (!options.overwrite) client_files::refuse_translated(out_dir, path, languages);
    UploadOptions upload;
    upload.progress = [&](std::uint64_t done, std::uint64_t total) { tell({.done = done, .total = total}); };
    request.video_asset_id = upload_asset(path, upload, stop);
    request.video_url.clear();
    request.output_languages = languages;
    const std::vector<std::string> ids = create_translation_jobs(request, stop);
    tell({.phase = TranslateProgress::Phase::translating});
    std::vector<TranslatedOutput> out(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      out[i].language = i < languages.size() ? languages[i] : "";
      out[i].job_id = ids[i];
    }
    const ResultMap results = get_bulk_translation_statuses(
        ids, std::nullopt, stop, [&](const std::string& id, const TranslationResult& result, BulkProgress) {
          const auto entry = std::find(ids.begin(), ids.end(), id) - ids.begin();
          tell({.phase = TranslateProgress::Phase::translating, .language = out[entry].language, .result = &result});
        });
    for (auto& entry : out)
      fetch_translated(entry, results.at(entry.job_id), path, out_dir, options.overwrite, tell, stop);
    return out;
  }

  /// Downloads every output of completed job `job_id` (video, audio, captions) into `dir` as `JOB.KIND.EXT`: each
  /// to a temporary file first, resumed after a cut, its size checked, placed only once complete, never over an
  /// existing file unless options.overwrite. An expired URL gets one fresh look at the job. The files written;
  /// throws FileError or TranslationError.
  std::vector<Downloaded> download_outputs(const std::string& job_id, const TranslationResult& result,
                                           const std::string& dir, const DownloadOptions& options = {},
                                           std::stop_token stop = {}) {
    return client_files::download_outputs(
        core_->sender, job_id, result, dir, options, [&] { return check_translation_status(job_id, stop); }, stop);
  }

  /// Waits until the job completes or fails, polling as the PollPolicy says; timeout once max_timeout passes.
  /// Never throws for anything the server or network does: the result names the cause.
  TranslationResult get_translation_status(std::string_view job_id, std::stop_token stop = {}) {
    client_journal::watch(core_->options.journal, core_->sender.log(), {std::string(job_id)});
    CallState call = core_->sender.begin(job_id, std::move(stop));
    JobPoller poller(core_->rules.first_wait());
    std::optional<Seconds> wait = poller.first_wait();
    while (true) {
      if (auto ended = core_->sender.pause(call, *wait))
        return core_->looks.finish(call, core_->looks.failed(std::move(*ended)));
      const Seconds hold = core_->rules.long_poll_budget(Seconds(call.deadline - core_->sender.clock().now()));
      const TimePoint asked = core_->sender.clock().now();
      Look look = core_->looks.look(call, hold);
      const bool held = look.result.status == TranslationStatus::pending &&
                        core_->rules.long_poll_held(hold, Seconds(core_->sender.clock().now() - asked));
      wait = core_->looks.digest(call, poller, look, held);
      if (!wait) {
        // Handed over by the return itself: written, then marked, just before it.
        client_journal::settle(core_->options.journal, core_->sender.log(), std::string(job_id), look.result);
        client_journal::hand_over(core_->options.journal, core_->sender.log(), std::string(job_id), look.result);
        return std::move(look.result);
      }
    }
  }

  /// One status check (with retries for transient failures): returns pending as it is, for callers who poll.
  TranslationResult check_translation_status(std::string_view job_id, std::stop_token stop = {}) {
    CallState call = core_->sender.begin(job_id, std::move(stop));
    Look look = core_->looks.look(call, Seconds(0));
    core_->rules.note_hints(look.result, look.retry_after);
    return std::move(look.result);
  }

  /// Waits for every job on the client's poller, with at most `concurrent_limit` requests in flight for them
  /// (empty: as many as the poller has workers). Duplicate ids are tracked once; the map has one entry per
  /// distinct id. `on_result`, when given, gets each result the moment it is known (calls are serialized; an
  /// exception it throws is logged and ignored).
  ResultMap get_bulk_translation_statuses(const std::vector<std::string>& job_ids,
                                          std::optional<std::size_t> concurrent_limit = std::nullopt,
                                          std::stop_token stop = {}, BulkCallback on_result = {}) {
    return get_bulk_translation_statuses_async(job_ids, concurrent_limit, std::move(stop), std::move(on_result)).get();
  }

  /// Watches a job on the client's poller: the future gets its result (completed, failed, timeout after the
  /// wait's timeout, or cancelled by its stop token or the client's shutdown). No thread of its own: any number
  /// of waits share the poller's workers, and a job watched twice is polled once.
  std::future<TranslationResult> watch(std::string job_id, WatchOptions options = {}) {
    auto promise = std::make_shared<std::promise<TranslationResult>>();
    std::future<TranslationResult> result = promise->get_future();
    watch(
        std::move(job_id), [promise](const std::string&, const TranslationResult& r) { promise->set_value(r); },
        std::move(options));
    return result;
  }

  /// Watches a job on the client's poller: `on_result` gets its result once, on a worker of the poller (or on
  /// the thread that cancels the wait). It may watch more jobs; an exception it throws is logged and ignored.
  void watch(std::string job_id, WatchCallback on_result, WatchOptions options = {}) {
    client_journal::watch(core_->options.journal, core_->sender.log(), {job_id});
    core_->poller.watch(
        std::move(job_id), deadline_of(options), std::move(options.stop),
        client_journal::journaled(core_->options.journal, core_->sender.log(),
                                  [callback = std::move(on_result)](const std::string& id, const TranslationResult& r) {
                                    if (callback) callback(id, r);
                                  }));
  }

  /// Picks up what the journal (ClientOptions::journal) holds from an earlier run, of this process or another:
  /// - hands `on_result` every outcome written but not handed over;
  /// - watches again every job without an outcome (its outcome comes to `on_result`, on the poller);
  /// - sends again, with its own Idempotency-Key, every create whose answer was lost, while the server still
  ///   replays that key (HeyGen: 24 h; a 409 while the first is in flight is waited out), and watches its jobs; a
  ///   create past that window comes to `on_result` under its key as `unknown_outcome`, never created again, and one
  ///   sent again that fails comes with its failure and stays for the next resume (unless the server refused it
  ///   outright: a create refused with a 4xx made no job, so its intent is closed, then and at the first create).
  /// `ResumeReport::ids` names every id `on_result` gets an outcome for, so a caller knows when all have come.
  /// At least once: an outcome handed over just before a crash comes again, so `on_result` must be idempotent, keyed
  /// by job id. An exception it throws is logged, and that outcome stays not handed over. Throws JournalError when
  /// the journal cannot be read, std::logic_error when there is none.
  ResumeReport resume(const WatchCallback& on_result, WatchOptions options = {}) {
    const AnyJournal& journal = core_->options.journal;
    if (!journal) throw std::logic_error("heygen: resume() needs ClientOptions::journal");
    const JournalBacklog backlog = journal.backlog();
    ResumeReport report;
    for (const auto& job : backlog.undelivered) {
      if (job.kind != client_journal::translation_kind) continue;
      report.ids.push_back(job.id);
      ++report.handed_over;
      if (hand_to(on_result, job.id, *job.outcome))
        client_journal::mark_handed_over(journal, core_->sender.log(), job.id);
    }
    for (const auto& job : backlog.watching) {
      if (job.kind != client_journal::translation_kind) continue;
      report.ids.push_back(job.id);
      ++report.watching;
      watch(job.id, on_result, options);
    }
    for (const auto& intent : backlog.unanswered)
      if (intent.kind == client_journal::translation_kind) resume_create(intent, on_result, options, report);
    return report;
  }

  /// create_translation_job on another thread. The client must outlive the future.
  std::future<std::string> create_translation_job_async(std::stop_token stop = {}) {
    return std::async(std::launch::async, [this, stop] { return create_translation_job(stop); });
  }

  /// Waits for the job on the client's poller (see watch()); the seed's name for it.
  std::future<TranslationResult> get_translation_status_async(std::string job_id, std::stop_token stop = {}) {
    return watch(std::move(job_id), WatchOptions{.stop = std::move(stop)});
  }

  /// get_bulk_translation_statuses on the client's poller: no thread of its own. Throws std::invalid_argument
  /// for a concurrent_limit of 0.
  std::future<ResultMap> get_bulk_translation_statuses_async(std::vector<std::string> job_ids,
                                                             std::optional<std::size_t> concurrent_limit = std::nullopt,
                                                             std::stop_token stop = {}, BulkCallback on_result = {}) {
    if (concurrent_limit && *concurrent_limit == 0)
      throw std::invalid_argument("heygen: concurrent_limit must be at least 1");
    std::sort(job_ids.begin(), job_ids.end());
    job_ids.erase(std::unique(job_ids.begin(), job_ids.end()), job_ids.end());
    auto collect = std::make_shared<BulkCollector>(job_ids.size(), std::move(on_result), core_->sender.log());
    std::future<ResultMap> out = collect->future();
    auto cap = std::make_shared<RequestCap>(RequestCap{concurrent_limit.value_or(0), 0});
    client_journal::watch(core_->options.journal, core_->sender.log(), job_ids);
    // Each outcome is settled as it comes; they are handed over when the map is complete (the future has them).
    auto settled = std::make_shared<client_journal::SettledJobs>();
    core_->poller.watch_all(
        job_ids, deadline_of({}), std::move(stop),
        [collect, settled, journal = core_->options.journal, &log = core_->sender.log()](const std::string& job_id,
                                                                                         TranslationResult r) {
          client_journal::settle(journal, log, job_id, r);
          settled->add(journal, job_id, r);
          if (collect->add(job_id, std::move(r))) settled->hand_over(journal, log);
        },
        cap);
    return out;
  }

  /// Takes in one push (webhook) as an HTTP server received it. Answer the sender with the reply's http_status.
  /// Callable from any thread. By `webhook.trust` (default: the protocol's): a signed push is verified (size,
  /// signature, timestamp), read, and completes the waits for its job at once (it needs `webhook.secret` or
  /// `webhook.verify`); an unsigned one is a hint, taken only with the callback_id its job's create sent, and the
  /// waits end on what one look at the job says, never on the push's body.
  WebhookReply handle_webhook(const std::vector<HttpHeader>& headers, std::string_view body) {
    return PushIntake<T, C, P>(*core_).take(headers, body);
  }

  /// Which pushes handle_webhook() takes: the options' `webhook.trust`, else the protocol's default.
  [[nodiscard]] PushTrust push_trust() const noexcept { return PushIntake<T, C, P>(*core_).trust(); }

  /// handle_webhook() as a function, to hand to an HTTP server (e.g. WebhookReceiver). The client must outlive it.
  std::function<WebhookReply(const std::vector<HttpHeader>&, std::string_view)> webhook_handler() {
    return
        [this](const std::vector<HttpHeader>& headers, std::string_view body) { return handle_webhook(headers, body); };
  }

  /// Ends every outstanding wait `cancelled` and stops the poller's workers; later waits end `cancelled` at once.
  /// The destructor does this too. Must not be called from a result callback.
  void shutdown() noexcept {
    core_->poller.stop();
    if (core_->ingest) core_->ingest->stop();
  }

  /// What the client's poller is doing: workers, jobs and waits, requests sent.
  [[nodiscard]] PollerStats poller_stats() const { return core_->poller.stats(); }

  /// What the poller of uploaded assets' ingests is doing: workers, assets watched, requests sent.
  [[nodiscard]] PollerStats ingest_stats() const requires std::same_as<P, HeyGenV3Protocol> {
    return core_->ingest->stats();
  }

  /// The options this client was built with (validated).
  [[nodiscard]] const ClientOptions& options() const noexcept { return core_->options; }
  /// What this client has learnt about the server (shared with other clients given the same profile).
  [[nodiscard]] ServerProfile& profile() noexcept { return *core_->profile; }
  /// The transport, e.g. to read a counting transport's figures.
  [[nodiscard]] T& transport() noexcept { return core_->sender.transport(); }
  /// The clock.
  [[nodiscard]] C& clock() noexcept { return core_->sender.clock(); }
  /// The protocol.
  [[nodiscard]] const P& protocol() const noexcept { return core_->protocol; }

 private:
  /// Fills in a translate_file entry: its outcome, then its outputs downloaded (one more look first when the wait's
  /// answer named none), or why there are none.
  template <class Tell>
  void fetch_translated(TranslatedOutput& entry, const TranslationResult& result, const std::string& path,
                        const std::string& out_dir, bool overwrite, const Tell& tell, const std::stop_token& stop) {
    entry.result = result;
    if (!result.ok()) {
      entry.error = result.error_message.value_or(std::string(to_string(result.status)));
      return;
    }
    if (entry.result.outputs.empty()) entry.result = check_translation_status(entry.job_id, stop);
    DownloadOptions options;
    options.name = client_files::translated_name(path, entry.language);
    options.overwrite = overwrite;
    options.progress = [&](std::uint64_t done, std::uint64_t total) {
      tell({.phase = TranslateProgress::Phase::downloading, .language = entry.language, .done = done, .total = total});
    };
    try {
      entry.files = download_outputs(entry.job_id, entry.result, out_dir, options, stop);
    } catch (const std::exception& e) {  // FileError, TranslationError or invalid_argument: this language alone
      entry.error = e.what();
    }
  }

  /// The parts, on the heap: they refer to one another, and a client stays movable.
  using Core = ClientCore<T, C, P>;

  template <class MakeTransport>
  static std::unique_ptr<Core> make_core(ClientOptions options, MakeTransport&& make_transport, C clock,
                                         std::optional<P> protocol) {
    return std::make_unique<Core>(std::move(options), std::forward<MakeTransport>(make_transport), std::move(clock),
                                  std::move(protocol));
  }

  /// One create on `call`: the ids it started, or why none.
  OrFailure<std::vector<std::string>> create(const typename P::create_input& input, CallState& call) {
    HttpRequest request = core_->sender.blank_request();
    const std::string key = detail::random_key();
    const typename P::create_input sent = with_callback(input, core_->options.webhook_url, key);
    const std::size_t credentials = request.headers.size();
    core_->protocol.create_request(request, sent, key);
    if (const auto& journal = core_->options.journal)  // durable before anything is sent: throws JournalError
      journal.intend({key, std::string(client_journal::translation_kind),
                      client_journal::request_record(request, credentials), unix_ms(core_->sender.system_now()),
                      std::nullopt, false});
    OrFailure<std::vector<std::string>> ids = send_create(std::move(request), key, call);
    if (!ids) {
      close_refused(key, ids.failure(), call);
      return ids;
    }
    for (const auto& id : ids.value()) core_->callbacks.expect(id, callback_id_of(sent));
    core_->sender.log()(LogLevel::info, [&] {
      return "created job " + ids->front() +
             (ids->size() > 1 ? " and " + std::to_string(ids->size() - 1) + " more" : "") + " (" +
             std::to_string(call.requests) + " requests)";
    });
    return ids;
  }

  /// resume() for one create whose answer was lost: sent again inside the replay window, else given up.
  void resume_create(const CreateRecord& intent, const WatchCallback& on_result, const WatchOptions& options,
                     ResumeReport& report) {
    if (replay_verdict(intent.intended_at_ms, core_->sender.system_now()) == ReplayVerdict::unknown_outcome) {
      report.ids.push_back(intent.key);
      ++report.unknown;
      // Handed over first: a crash between the two hands it over again rather than never.
      if (hand_to(on_result, intent.key, client_journal::unknown_outcome(intent)))
        core_->options.journal.give_up(intent.key);
      return;
    }
    CallState call = core_->sender.begin({}, options.stop);
    HttpRequest request = core_->sender.blank_request();
    OrFailure<std::vector<std::string>> ids =
        client_journal::restore_request(intent.input, request)
            ? send_create(std::move(request), intent.key, call)
            : Failure{FailureCause::bad_response, "the journal's record of it cannot be read"};
    if (!ids) {
      TranslationResult failed;
      failed.status = TranslationStatus::error;
      failed.cause = ids.failure().cause;
      failed.error_message = "create " + intent.key + " sent again: " + ids.failure().message;
      failed.http_status = call.last_http_status;
      failed.requests = call.requests;
      report.ids.push_back(intent.key);
      ++report.failed;
      if (hand_to(on_result, intent.key, failed) && refused(ids.failure(), call))
        core_->options.journal.give_up(intent.key);  // it made no job: nothing to resume
      return;
    }
    for (const auto& id : ids.value()) {
      report.ids.push_back(id);
      watch(id, on_result, options);
    }
    ++report.resent;
  }

  /// Calls `on_result` (when there is one) with `result`; false, the exception logged, when it throws.
  bool hand_to(const WatchCallback& on_result, const std::string& id, const TranslationResult& result) {
    if (!on_result) return true;
    try {
      on_result(id, result);
      return true;
    } catch (const std::exception& e) {
      core_->sender.log()(LogLevel::error, [&] { return "resume: the callback for " + id + " threw: " + e.what(); });
      return false;
    }
  }

  /// True when the server refused a create outright (a 4xx but 408 and 409): it made no job, so its intent needs
  /// nothing more. Anything else (no answer, a timeout, a 5xx, a 409 still in flight) may have made one.
  static bool refused(const Failure& failure, const CallState& call) {
    const int status = call.last_http_status;
    return failure.cause == FailureCause::http_status && status >= 400 && status < 500 && status != 408 &&
           status != 409;
  }

  /// With a journal, closes the intent of a create the server refused, so that no resume sends it again; an intent
  /// whose create may have made a job stays for resume(). A journal that fails here is logged.
  void close_refused(const std::string& key, const Failure& failure, const CallState& call) {
    const AnyJournal& journal = core_->options.journal;
    if (!journal || !refused(failure, call)) return;
    try {
      journal.give_up(key);
    } catch (...) {
      core_->sender.log()(LogLevel::error, [why = client_journal::failure_text()] {
        return why + " (a resume will send the refused create again, and be refused again)";
      });
    }
  }

  /// Sends a create (new, or an intent sent again) and reads its ids; with a journal, writes them down.
  OrFailure<std::vector<std::string>> send_create(HttpRequest request, const std::string& key, CallState& call) {
    OrFailure<HttpResponse> response = core_->sender.send(std::move(request), call, core_->protocol);
    if (!response) return std::move(response).failure();
    OrFailure<std::vector<std::string>> ids = core_->protocol.read_created(response.value());
    if (!ids) return ids;
    if (ids->empty()) return Failure{FailureCause::bad_response, "the answer named no job"};
    if (const auto& journal = core_->options.journal) {
      try {
        journal.answered(key, ids.value());
      } catch (const JournalError& e) {  // the intent stays: a restart sends it again with its key, and gets these ids
        core_->sender.log()(LogLevel::error, [&] { return std::string(e.what()) + " (the create stands)"; });
      }
    }
    return ids;
  }

  /// When a wait started now with `options` ends: its timeout, else max_timeout.
  TimePoint deadline_of(const WatchOptions& options) const { return core_->deadline_of(options.timeout); }

  /// A transport maker that hands over the one the caller gave.
  static auto given(T& transport) {
    return [&transport](const ClientOptions&) { return std::move(transport); };
  }

  /// The exception a call that has no result to return throws: `what` names the call.
  static TranslationError call_error(std::string_view what, const CallState& call, const Failure& failure) {
    return {failure.cause, std::string(what) + ": " + failure.message, call.last_http_status, call.requests};
  }

  std::unique_ptr<Core> core_;
};

}  // namespace heygen
