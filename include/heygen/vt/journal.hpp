// Journal: what a client writes down so a restart loses nothing; MemoryJournal.
#pragma once

#include "heygen/vt/clock.hpp"
#include "heygen/vt/json.hpp"
#include "heygen/vt/result.hpp"

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// A create written down before its request goes out (the intent), and the server's answer once it came.
struct CreateRecord {
  std::string key{};                              ///< The Idempotency-Key: minted once, before the first attempt.
  std::string kind{};                             ///< What the create makes: "translation", "asset", ...
  std::string input{};                            ///< The create's input as JSON, enough to send it again.
  std::int64_t intended_at_ms = 0;                ///< Unix time (ms) the intent was written: the replay window.
  std::optional<std::vector<std::string>> ids{};  ///< The server's job ids, once its answer was written.
  bool unknown_outcome = false;                   ///< Given up: no ids, and past the server's replay window.
};

/// One job a journal watches: by the create it came from, or by id alone. Keyed by (kind, id).
struct JobRecord {
  std::string kind{};                          ///< What the job is: "translation", "asset", ...
  std::string id{};                            ///< The server's job id.
  std::string key{};                           ///< The create it came from; empty when tracked by id alone.
  std::optional<TranslationResult> outcome{};  ///< Set once settled; the first settlement stands.
  bool handed_over = false;                    ///< The caller's callback or future got the outcome.
};

/// One job's outcome, as a poller round settles it.
struct Settlement {
  std::string kind{};           ///< The job's kind.
  std::string id{};             ///< The job's id.
  TranslationResult outcome{};  ///< What the job came to.
};

/// What a restart picks up from a journal.
struct JournalBacklog {
  std::vector<CreateRecord> unanswered{};  ///< Intents without ids and not given up: send again with their key.
  std::vector<JobRecord> watching{};       ///< Jobs without an outcome: watch again.
  std::vector<JobRecord> undelivered{};    ///< Outcomes settled but not handed over: hand over (at least once).
};

/// What a client's resume() picked up from its journal.
struct ResumeReport {
  std::size_t handed_over = 0;  ///< Outcomes written before, handed over now.
  std::size_t watching = 0;     ///< Jobs without an outcome, watched again.
  std::size_t resent = 0;       ///< Creates whose answer was lost, sent again with their key (their jobs watched).
  std::size_t unknown = 0;      ///< Creates past the replay window, handed over as unknown_outcome.
  std::size_t failed = 0;       ///< Creates sent again that failed: kept for the next resume unless refused.
  /// Every id `on_result` gets an outcome for, now or from the poller: job ids, and the keys of creates given up
  /// or failed (so a caller knows when resume()'s work is all handed over).
  std::vector<std::string> ids{};
};

/// A journal that cannot do what it was asked (a corrupt, locked, full, unwritable or newer file): the message names
/// the file, and nothing in it was overwritten.
class JournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where a client writes down its jobs, durably, so that another process can pick them up. Every write returns
/// once it is durable, or throws JournalError; outcomes are written before they are handed over.
/// - `intend(record)`: a new create's intent (no ids yet); a key already there is refused (a key is used once).
/// - `answered(key, ids)`: the create's job ids, and a watched job for each.
/// - `watch(kind, id)`: a job tracked by id alone (a second call changes nothing).
/// - `settle(settlements)`: the outcomes of one round, together; a job's first outcome stands.
/// - `hand_over(kind, id)`: the caller got the outcome.
/// - `give_up(key)`: the intent needs nothing more: past its replay window (its outcome is unknown), or refused.
/// - `backlog()`: what a restart must pick up.
template <class J>
concept Journal = requires(J& journal, const CreateRecord& record, std::string_view text,
                           std::span<const std::string> ids, std::span<const Settlement> settled) {
  journal.intend(record);
  journal.answered(text, ids);
  journal.watch(text, text);
  journal.settle(settled);
  journal.hand_over(text, text);
  journal.give_up(text);
  { journal.backlog() } -> std::same_as<JournalBacklog>;
};

// --- The replay rule -----------------------------------------------------------------------------------------------

/// How long HeyGen replays a create's answer for a repeated Idempotency-Key.
inline constexpr std::chrono::hours idempotency_replay_window{24};
/// Margin kept inside the replay window: an intent older than the window less this is never sent again.
inline constexpr std::chrono::minutes idempotency_replay_margin{30};

/// What a restart does with an intent that has no ids.
enum class ReplayVerdict {
  send_again,      ///< Inside the replay window: send the create again with the same key (the server replays it).
  unknown_outcome  ///< Past it: a new send could be a second paid job, so the caller decides.
};

/// The verdict for an intent written at `intended_at_ms` (Unix ms), at `now`. A clock that went backwards counts as
/// no time passed.
inline ReplayVerdict replay_verdict(std::int64_t intended_at_ms, std::chrono::system_clock::time_point now) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto limit =
      std::chrono::duration_cast<std::chrono::milliseconds>(idempotency_replay_window - idempotency_replay_margin);
  return now_ms - intended_at_ms < limit.count() ? ReplayVerdict::send_again : ReplayVerdict::unknown_outcome;
}

/// Unix time in milliseconds.
inline std::int64_t unix_ms(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

// --- Outcomes as JSON ----------------------------------------------------------------------------------------------

namespace journal_json {

/// `value` as a JSON value, null when absent.
template <class T>
picojson::value or_null(const std::optional<T>& value) {
  if (!value) return {};
  if constexpr (std::is_same_v<T, std::string>) {
    return picojson::value(*value);
  } else {
    return picojson::value(static_cast<double>(*value));
  }
}

/// A JSON array of strings.
inline picojson::value string_array(std::span<const std::string> items) {
  picojson::array out;
  for (const auto& item : items) out.emplace_back(item);
  return picojson::value(std::move(out));
}

/// The strings of a JSON array, or nothing when it is not one array of strings.
inline std::optional<std::vector<std::string>> read_string_array(const picojson::value& value) {
  if (!value.is<picojson::array>()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : value.get<picojson::array>()) {
    if (!item.is<std::string>()) return std::nullopt;
    out.push_back(item.get<std::string>());
  }
  return out;
}

/// The enum value whose to_string() is `name`, among `values`.
template <class E, std::size_t N>
std::optional<E> enum_named(std::string_view name, const E (&values)[N]) {
  for (const E value : values)
    if (to_string(value) == name) return value;
  return std::nullopt;
}

/// A number member, or nothing when it is absent or null.
inline std::optional<double> optional_number(const picojson::object& object, const char* name) {
  const auto found = object.find(name);
  if (found == object.end() || !found->second.is<double>()) return std::nullopt;
  return found->second.get<double>();
}

}  // namespace journal_json

/// An outcome as the JSON a journal stores.
inline std::string outcome_json(const TranslationResult& result) {
  using journal_json::or_null;
  picojson::object outputs;
  outputs["video_url"] = or_null(result.outputs.video_url);
  outputs["audio_url"] = or_null(result.outputs.audio_url);
  outputs["caption_urls"] = journal_json::string_array(result.outputs.caption_urls);
  outputs["output_language"] = or_null(result.outputs.output_language);
  outputs["duration_seconds"] = or_null(result.outputs.duration_seconds);
  picojson::object out;
  out["status"] = picojson::value(std::string(to_string(result.status)));
  out["cause"] = picojson::value(std::string(to_string(result.cause)));
  out["error_message"] = or_null(result.error_message);
  out["http_status"] = picojson::value(static_cast<double>(result.http_status));
  out["progress"] = or_null(result.progress);
  out["eta_seconds"] = or_null(result.eta_seconds);
  out["requests"] = picojson::value(static_cast<double>(result.requests));
  out["elapsed_ms"] = picojson::value(static_cast<double>(result.elapsed.count()));
  out["outputs"] = picojson::value(std::move(outputs));
  return picojson::value(std::move(out)).serialize();
}

/// The outcome `text` (from outcome_json) holds, or a bad_response Failure saying what is wrong with it.
inline OrFailure<TranslationResult> read_outcome_json(std::string_view text) {
  using journal_json::optional_number;
  const auto bad = [](const std::string& what) {
    return Failure{FailureCause::bad_response, "journal outcome: " + what};
  };
  picojson::value parsed;
  if (const auto error = json::parse_object(text, parsed)) return bad(*error);
  const auto& object = parsed.get<picojson::object>();
  static constexpr TranslationStatus statuses[] = {TranslationStatus::pending, TranslationStatus::completed,
                                                   TranslationStatus::error, TranslationStatus::timeout};
  static constexpr FailureCause causes[] = {FailureCause::none,         FailureCause::job_failed,
                                            FailureCause::unknown_job,  FailureCause::unexpected_result,
                                            FailureCause::transport,    FailureCause::http_status,
                                            FailureCause::bad_response, FailureCause::cancelled,
                                            FailureCause::deadline,     FailureCause::unknown_outcome};
  const auto status = journal_json::enum_named(json::string_field(object, "status").value_or(""), statuses);
  const auto cause = journal_json::enum_named(json::string_field(object, "cause").value_or(""), causes);
  if (!status || !cause) return bad("no known status and cause");
  TranslationResult result;
  result.status = *status;
  result.cause = *cause;
  result.error_message = json::string_field(object, "error_message");
  result.http_status = static_cast<int>(optional_number(object, "http_status").value_or(0));
  result.progress = optional_number(object, "progress");
  result.eta_seconds = optional_number(object, "eta_seconds");
  result.requests = static_cast<int>(optional_number(object, "requests").value_or(0));
  result.elapsed =
      std::chrono::milliseconds(static_cast<std::int64_t>(optional_number(object, "elapsed_ms").value_or(0)));
  const auto outputs = object.find("outputs");
  if (outputs != object.end() && outputs->second.is<picojson::object>()) {
    const auto& fields = outputs->second.get<picojson::object>();
    result.outputs.video_url = json::string_field(fields, "video_url");
    result.outputs.audio_url = json::string_field(fields, "audio_url");
    const auto captions = fields.find("caption_urls");
    if (captions != fields.end())
      result.outputs.caption_urls =
          journal_json::read_string_array(captions->second).value_or(std::vector<std::string>{});
    result.outputs.output_language = json::string_field(fields, "output_language");
    result.outputs.duration_seconds = optional_number(fields, "duration_seconds");
  }
  return result;
}

// --- Resume tokens -------------------------------------------------------------------------------------------------

/// The version of resume token this library writes and reads.
inline constexpr int resume_token_version = 1;
/// The type every resume token of this library names.
inline constexpr std::string_view resume_token_type = "heygen.video_translation";

/// A job handed from one process to another: enough to watch it again.
struct ResumeToken {
  std::string kind{};              ///< The job's kind ("translation", "asset", ...).
  std::string id{};                ///< The server's job id.
  std::string key{};               ///< The create it came from; empty when tracked by id alone.
  std::int64_t created_at_ms = 0;  ///< Unix time (ms) the token was made.
};

/// The token as a small JSON text:
/// `{"v":1,"type":"heygen.video_translation","kind":..,"id":..,"key":..,"created_at_ms":..}`.
inline std::string to_resume_token(const ResumeToken& token) {
  picojson::object out;
  out["v"] = picojson::value(static_cast<double>(resume_token_version));
  out["type"] = picojson::value(std::string(resume_token_type));
  out["kind"] = picojson::value(token.kind);
  out["id"] = picojson::value(token.id);
  out["key"] = picojson::value(token.key);
  out["created_at_ms"] = picojson::value(static_cast<double>(token.created_at_ms));
  return picojson::value(std::move(out)).serialize();
}

/// The token `text` holds, if it is one of this library's, of its version and of `kind`; otherwise a bad_response
/// Failure saying why it was refused (malformed, empty, another type, another version, another kind, no id).
inline OrFailure<ResumeToken> read_resume_token(std::string_view text, std::string_view kind) {
  const auto refused = [](const std::string& why) {
    return Failure{FailureCause::bad_response, "resume token refused: " + why};
  };
  if (text.empty()) return refused("it is empty");
  picojson::value parsed;
  if (const auto error = json::parse_object(text, parsed)) return refused("not a JSON object (" + *error + ")");
  const auto& object = parsed.get<picojson::object>();
  const auto type = json::string_field(object, "type");
  if (!type) return refused("it names no type");
  if (*type != resume_token_type)
    return refused("of type \"" + *type + "\", not \"" + std::string(resume_token_type) + "\"");
  const auto version = journal_json::optional_number(object, "v");
  if (!version || *version != resume_token_version)
    return refused("of version " + (version ? picojson::value(*version).serialize() : std::string("(none)")) +
                   ", not " + std::to_string(resume_token_version));
  ResumeToken token;
  token.kind = json::string_field(object, "kind").value_or("");
  if (token.kind != kind) return refused("for a job of kind \"" + token.kind + "\", not \"" + std::string(kind) + "\"");
  token.id = json::string_field(object, "id").value_or("");
  if (token.id.empty()) return refused("it names no job id");
  token.key = json::string_field(object, "key").value_or("");
  token.created_at_ms = static_cast<std::int64_t>(journal_json::optional_number(object, "created_at_ms").value_or(0));
  return token;
}

// --- MemoryJournal -------------------------------------------------------------------------------------------------

/// A Journal in this process's memory: what a restart of the process forgets, but not a restart of the client (for
/// tests, and as the model the durable journals follow). Copies share one journal; safe from any thread.
class MemoryJournal {
 public:
  MemoryJournal() : state_(std::make_shared<State>()) {}

  /// Writes a create's intent; throws JournalError when its key is there already.
  void intend(const CreateRecord& record) {
    std::lock_guard lock(state_->mutex);
    if (!state_->creates.emplace(record.key, record).second)
      throw JournalError("journal (memory): the key " + record.key + " was used already");
  }
  /// Writes a create's ids and watches each; throws JournalError for an unknown key.
  void answered(std::string_view key, std::span<const std::string> ids) {
    std::lock_guard lock(state_->mutex);
    const auto found = state_->creates.find(std::string(key));
    if (found == state_->creates.end()) throw JournalError("journal (memory): no intent with key " + std::string(key));
    found->second.ids = std::vector<std::string>(ids.begin(), ids.end());
    for (const auto& id : ids)
      state_->jobs.try_emplace({found->second.kind, id}, JobRecord{found->second.kind, id, std::string(key)});
  }
  /// Watches a job by id.
  void watch(std::string_view kind, std::string_view id) {
    std::lock_guard lock(state_->mutex);
    state_->jobs.try_emplace({std::string(kind), std::string(id)}, JobRecord{std::string(kind), std::string(id), ""});
  }
  /// Writes outcomes; a job's first outcome stands.
  void settle(std::span<const Settlement> settled) {
    std::lock_guard lock(state_->mutex);
    for (const auto& settlement : settled) {
      auto& job =
          state_->jobs.try_emplace({settlement.kind, settlement.id}, JobRecord{settlement.kind, settlement.id, ""})
              .first->second;
      if (!job.outcome) job.outcome = settlement.outcome;
    }
  }
  /// Marks an outcome handed over.
  void hand_over(std::string_view kind, std::string_view id) {
    std::lock_guard lock(state_->mutex);
    const auto found = state_->jobs.find({std::string(kind), std::string(id)});
    if (found != state_->jobs.end() && found->second.outcome) found->second.handed_over = true;
  }
  /// Marks an intent's outcome unknown.
  void give_up(std::string_view key) {
    std::lock_guard lock(state_->mutex);
    const auto found = state_->creates.find(std::string(key));
    if (found != state_->creates.end() && !found->second.ids) found->second.unknown_outcome = true;
  }
  /// What a restart picks up.
  [[nodiscard]] JournalBacklog backlog() const {
    std::lock_guard lock(state_->mutex);
    JournalBacklog out;
    for (const auto& [key, create] : state_->creates)
      if (!create.ids && !create.unknown_outcome) out.unanswered.push_back(create);
    for (const auto& [key, job] : state_->jobs) {
      if (!job.outcome)
        out.watching.push_back(job);
      else if (!job.handed_over)
        out.undelivered.push_back(job);
    }
    return out;
  }

 private:
  struct State {
    std::mutex mutex;
    std::map<std::string, CreateRecord> creates;
    std::map<std::pair<std::string, std::string>, JobRecord> jobs;
  };
  std::shared_ptr<State> state_;
};

static_assert(Journal<MemoryJournal>);

// --- AnyJournal ----------------------------------------------------------------------------------------------------

/// Any Journal behind one type: what ClientOptions::journal holds. Copies share the journal; empty means none.
class AnyJournal {
 public:
  /// No journal: the client keeps everything in memory.
  AnyJournal() = default;
  /// Shares `journal` (a SqliteJournal, a MemoryJournal, or one of the caller's).
  template <Journal J>
  explicit AnyJournal(std::shared_ptr<J> journal) : journal_(std::make_shared<Model<J>>(std::move(journal))) {}

  /// True when there is a journal.
  explicit operator bool() const noexcept { return journal_ != nullptr; }
  /// See Journal.
  void intend(const CreateRecord& record) const { journal_->intend(record); }
  /// See Journal.
  void answered(std::string_view key, std::span<const std::string> ids) const { journal_->answered(key, ids); }
  /// See Journal.
  void watch(std::string_view kind, std::string_view id) const { journal_->watch(kind, id); }
  /// See Journal.
  void settle(std::span<const Settlement> settled) const { journal_->settle(settled); }
  /// See Journal.
  void hand_over(std::string_view kind, std::string_view id) const { journal_->hand_over(kind, id); }
  /// See Journal.
  void give_up(std::string_view key) const { journal_->give_up(key); }
  /// See Journal.
  [[nodiscard]] JournalBacklog backlog() const { return journal_->backlog(); }

 private:
  /// The calls, whatever the journal's type.
  struct Interface {
    Interface() = default;
    Interface(const Interface&) = delete;
    Interface& operator=(const Interface&) = delete;
    virtual ~Interface() = default;
    virtual void intend(const CreateRecord& record) = 0;
    virtual void answered(std::string_view key, std::span<const std::string> ids) = 0;
    virtual void watch(std::string_view kind, std::string_view id) = 0;
    virtual void settle(std::span<const Settlement> settled) = 0;
    virtual void hand_over(std::string_view kind, std::string_view id) = 0;
    virtual void give_up(std::string_view key) = 0;
    virtual JournalBacklog backlog() = 0;
  };
  /// The calls of one journal type.
  template <class J>
  struct Model final : Interface {
    explicit Model(std::shared_ptr<J> held) : journal(std::move(held)) {}
    void intend(const CreateRecord& record) override { journal->intend(record); }
    void answered(std::string_view key, std::span<const std::string> ids) override { journal->answered(key, ids); }
    void watch(std::string_view kind, std::string_view id) override { journal->watch(kind, id); }
    void settle(std::span<const Settlement> settled) override { journal->settle(settled); }
    void hand_over(std::string_view kind, std::string_view id) override { journal->hand_over(kind, id); }
    void give_up(std::string_view key) override { journal->give_up(key); }
    JournalBacklog backlog() override { return journal->backlog(); }
    std::shared_ptr<J> journal;
  };
  std::shared_ptr<Interface> journal_;
};

static_assert(Journal<AnyJournal>);

}  // namespace heygen
