// Client journal: a create's intent, and outcomes written before they are handed over.
#pragma once

#include "heygen/vt/http.hpp"
#include "heygen/vt/journal.hpp"
#include "heygen/vt/json.hpp"
#include "heygen/vt/log.hpp"
#include "heygen/vt/result.hpp"

#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen::client_journal {

/// The kind a journal gives translations.
inline constexpr std::string_view translation_kind = "translation";

/// A create's request as a journal's input: method, URL, target, the headers the protocol added (its
/// Idempotency-Key among them; never the credentials, which the first `credential_headers` hold) and body. Sent
/// again as it is, it is the same create.
inline std::string request_record(const HttpRequest& request, std::size_t credential_headers) {
  picojson::array headers;
  for (std::size_t i = credential_headers; i < request.headers.size(); ++i) {
    picojson::array pair{picojson::value(request.headers[i].name), picojson::value(request.headers[i].value)};
    headers.emplace_back(std::move(pair));
  }
  picojson::object out;
  out["method"] = picojson::value(request.method);
  out["url"] = picojson::value(request.url);
  out["target"] = picojson::value(request.target);
  out["headers"] = picojson::value(std::move(headers));
  out["body"] = picojson::value(request.body);
  return picojson::value(std::move(out)).serialize();
}

/// Makes `request` (a blank one, with the credentials) the create `input` (from request_record) recorded; false
/// when `input` is not such a record.
inline bool restore_request(std::string_view input, HttpRequest& request) {
  picojson::value parsed;
  if (json::parse_object(input, parsed)) return false;
  const auto& object = parsed.get<picojson::object>();
  const auto method = json::string_field(object, "method");
  const auto target = json::string_field(object, "target");
  const auto body = json::string_field(object, "body");
  const auto headers = object.find("headers");
  if (!method || !target || !body || headers == object.end() || !headers->second.is<picojson::array>()) return false;
  for (const auto& pair : headers->second.get<picojson::array>()) {
    if (!pair.is<picojson::array>()) return false;
    const auto& items = pair.get<picojson::array>();
    if (items.size() != 2 || !items[0].is<std::string>() || !items[1].is<std::string>()) return false;
    request.headers.push_back({items[0].get<std::string>(), items[1].get<std::string>()});
  }
  request.method = *method;
  request.url = json::string_field(object, "url").value_or("");
  request.target = *target;
  request.body = *body;
  return true;
}

/// What the exception being handled says (call only inside a catch block).
inline std::string failure_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "the journal threw";
  }
}

/// True when `result` is the job's outcome as the server gave it (completed, failed, or unknown to it): what a
/// journal settles. A deadline, a cancel or a network failure ends a wait, not the job: it stays watched.
inline bool settles(const TranslationResult& result) {
  return result.job_finished() || result.cause == FailureCause::unknown_job;
}

/// Writes `result` of job `id` before it is handed over, when it settles the job. A journal that fails is logged
/// (the outcome is still handed over, and the job stays watched in the journal: a restart looks at it again).
inline void settle(const AnyJournal& journal, const Logger& log, const std::string& id,
                   const TranslationResult& result) {
  if (!journal || !settles(result)) return;
  try {
    const Settlement settlement{std::string(translation_kind), id, result};
    journal.settle({&settlement, 1});
  } catch (...) {  // a journal of the caller's may throw anything: the outcome must still reach the caller
    log(LogLevel::error, [why = failure_text()] { return why + " (the outcome is handed over all the same)"; });
  }
}

/// Marks job `id`'s outcome handed over, after the caller got it; a journal that fails is logged (the outcome comes
/// back at a restart: at least once).
inline void mark_handed_over(const AnyJournal& journal, const Logger& log, const std::string& id) {
  if (!journal) return;
  try {
    journal.hand_over(translation_kind, id);
  } catch (...) {
    log(LogLevel::error, [why = failure_text()] { return why + " (the outcome may be handed over again)"; });
  }
}

/// mark_handed_over() for an outcome that was settled (a wait that merely ended has nothing to mark).
inline void hand_over(const AnyJournal& journal, const Logger& log, const std::string& id,
                      const TranslationResult& result) {
  if (journal && settles(result)) mark_handed_over(journal, log, id);
}

/// `deliver` wrapped so that each outcome is written before it and marked handed over after it.
template <class Deliver>
auto journaled(AnyJournal journal, const Logger& log, Deliver deliver) {
  return [journal = std::move(journal), &log, deliver = std::move(deliver)](const std::string& id,
                                                                            TranslationResult result) mutable {
    settle(journal, log, id, result);
    deliver(id, result);
    hand_over(journal, log, id, result);
  };
}

/// The jobs of one bulk wait whose outcomes were settled: marked handed over together once the wait's map is
/// complete (the future has them), from whichever worker completes it.
class SettledJobs {
 public:
  /// Notes a job whose outcome was settled in `journal` (none: nothing to note).
  void add(const AnyJournal& journal, const std::string& id, const TranslationResult& result) {
    if (!journal || !settles(result)) return;
    std::lock_guard lock(mutex_);
    ids_.push_back(id);
  }
  /// Marks every noted job handed over.
  void hand_over(const AnyJournal& journal, const Logger& log) {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mutex_);
      ids.swap(ids_);
    }
    for (const auto& id : ids) mark_handed_over(journal, log, id);
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> ids_;
};

/// Watches `ids` in the journal (a wait started on them); a journal that fails is logged.
inline void watch(const AnyJournal& journal, const Logger& log, const std::vector<std::string>& ids) {
  if (!journal) return;
  try {
    for (const auto& id : ids) journal.watch(translation_kind, id);
  } catch (...) {
    log(LogLevel::error,
        [why = failure_text()] { return why + " (the wait goes on, but a restart will not know it)"; });
  }
}

/// The result handed over for an intent given up: the create may or may not have made a job.
inline TranslationResult unknown_outcome(const CreateRecord& intent) {
  TranslationResult result;
  result.status = TranslationStatus::error;
  result.cause = FailureCause::unknown_outcome;
  result.error_message = "create " + intent.key +
                         ": its answer was never written and the server's replay window has passed; it may or may "
                         "not have started a job (creating again could pay for a second one)";
  return result;
}

}  // namespace heygen::client_journal
