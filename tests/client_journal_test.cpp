// The client with a journal (fake transport, fake clock): intents written before a create is sent and ids after,
// outcomes written before they are handed over and marked after, and resume() picking up each kind of backlog.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include "fakes.hpp"
#include "scratch.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

using namespace heygen;
using namespace heygen::testing;

namespace {

/// A tracker server that replays a create's answer for a repeated Idempotency-Key, as HeyGen does, and counts the
/// jobs it made; `lose_answers` drops the answer of that many creates after making their job.
struct ReplayingServer {
  std::mutex mutex;
  std::map<std::string, std::string> job_of_key;
  int posts = 0;
  int lose_answers = 0;
  std::string word = "completed";
  std::string key_seen_while_journal_empty;

  HttpResponse operator()(const HttpRequest& request) {
    std::lock_guard lock(mutex);
    if (request.method != "POST") return status_answer(word);
    ++posts;
    const std::string key(header_value(request.headers, "Idempotency-Key").value_or(""));
    auto [entry, fresh] = job_of_key.try_emplace(key, "job-" + std::to_string(job_of_key.size() + 1));
    if (fresh && lose_answers > 0) {
      --lose_answers;
      return no_answer(TransportError::reset);
    }
    return answer(200, R"({"job_id": ")" + entry->second + R"("})");
  }
  std::size_t jobs() {
    std::lock_guard lock(mutex);
    return job_of_key.size();
  }
};

/// A fake client on `server` that writes to `journal`.
struct Journaled {
  FakeTransport transport;
  FakeClient client;
  Journaled(ReplayingServer& server, AnyJournal journal, FakeClock clock = {})
      : client(options(std::move(journal)), transport, std::move(clock)) {
    transport.otherwise([&server](const HttpRequest& request) { return server(request); });
  }
  static ClientOptions options(AnyJournal journal) {
    ClientOptions options = test_options();
    options.bearer_token = "secret-token";
    options.max_retries = 0;
    options.max_timeout = Seconds(600);
    options.journal = std::move(journal);
    return options;
  }
};

/// Outcomes a callback got, by id.
struct Outcomes {
  std::mutex mutex;
  std::condition_variable arrived;
  std::map<std::string, std::vector<TranslationResult>> by_id;
  WatchCallback callback() {
    return [this](const std::string& id, const TranslationResult& result) {
      {
        std::lock_guard lock(mutex);
        by_id[id].push_back(result);
      }
      arrived.notify_all();
    };
  }
  /// Waits until `count` jobs have an outcome; fails the test after a minute (of real time: the poller's workers
  /// run on their own threads, though on the fake clock).
  void wait_for(std::size_t count) {
    std::unique_lock lock(mutex);
    REQUIRE(arrived.wait_for(lock, std::chrono::minutes(1), [&] { return by_id.size() >= count; }));
  }
};

/// A completed result.
TranslationResult completed_result() {
  TranslationResult result;
  result.status = TranslationStatus::completed;
  return result;
}

/// A journal of the caller's that refuses every write: the concept takes it, and the client must stop at it.
struct RefusingJournal {
  void intend(const CreateRecord&) { throw JournalError("journal (refusing): the disk is full"); }
  void answered(std::string_view, std::span<const std::string>) {}
  void watch(std::string_view, std::string_view) { throw JournalError("journal (refusing): the disk is full"); }
  void settle(std::span<const Settlement>) { throw JournalError("journal (refusing): the disk is full"); }
  void hand_over(std::string_view, std::string_view) {}
  void give_up(std::string_view) {}
  JournalBacklog backlog() { return {}; }
};
static_assert(Journal<RefusingJournal>);

}  // namespace

TEST_CASE("client journal: a create's intent is written before its request goes out, its ids after") {
  ReplayingServer server;
  auto journal = std::make_shared<MemoryJournal>();
  Journaled h(server, AnyJournal(journal));
  std::vector<CreateRecord> written_before;
  h.transport.otherwise([&](const HttpRequest& request) {
    if (request.method == "POST") written_before = journal->backlog().unanswered;
    return server(request);
  });
  const std::string id = h.client.create_translation_job();
  REQUIRE(written_before.size() == 1);
  const CreateRecord& intent = written_before[0];
  CHECK(intent.kind == "translation");
  CHECK(intent.key == header_value(h.transport.requests()[0].headers, "Idempotency-Key"));
  CHECK(intent.intended_at_ms == unix_ms(h.client.clock().system_now()));
  CHECK(intent.input.find("Idempotency-Key") != std::string::npos);
  CHECK(intent.input.find("secret-token") == std::string::npos);  // credentials never reach the journal
  const auto backlog = journal->backlog();
  CHECK(backlog.unanswered.empty());
  REQUIRE(backlog.watching.size() == 1);
  CHECK(backlog.watching[0].id == id);
  CHECK(backlog.watching[0].key == intent.key);
}

TEST_CASE("client journal: a journal that cannot write the intent stops the create before anything is sent") {
  ReplayingServer server;
  Journaled h(server, AnyJournal(std::make_shared<RefusingJournal>()));
  CHECK_THROWS_AS(h.client.create_translation_job(), JournalError);
  CHECK(h.transport.request_count() == 0);
  // Outcomes still reach the caller when the journal cannot write them (the failure is logged).
  const auto result = h.client.watch("job-9").get();
  CHECK(result.status == TranslationStatus::completed);
}

TEST_CASE("client journal: an outcome is written before it is handed over and marked handed over after") {
  ReplayingServer server;
  auto journal = std::make_shared<MemoryJournal>();
  JournalBacklog seen_in_callback;
  std::promise<void> called;
  Journaled h(server, AnyJournal(journal));
  h.client.watch("job-1", [&](const std::string&, const TranslationResult&) {
    seen_in_callback = journal->backlog();
    called.set_value();
  });
  REQUIRE(called.get_future().wait_for(std::chrono::minutes(1)) == std::future_status::ready);
  h.client.shutdown();  // joins the poller's workers: the mark after the callback is written
  REQUIRE(seen_in_callback.undelivered.size() == 1);
  CHECK(seen_in_callback.undelivered[0].outcome->status == TranslationStatus::completed);
  const auto after = journal->backlog();
  CHECK(after.undelivered.empty());
  CHECK(after.watching.empty());

  // A synchronous wait hands over by returning.
  CHECK(h.client.get_translation_status("job-2").ok());
  CHECK(journal->backlog().undelivered.empty());
}

TEST_CASE("client journal: a bulk wait's outcomes are written as they come and handed over with the whole map") {
  ReplayingServer server;
  auto journal = std::make_shared<MemoryJournal>();
  std::vector<JournalBacklog> seen;  // in each callback
  Journaled h(server, AnyJournal(journal));
  const auto results = h.client.get_bulk_translation_statuses(
      {"job-a", "job-b", "job-c"}, std::nullopt, {},
      [&](const std::string&, const TranslationResult&, BulkProgress) { seen.push_back(journal->backlog()); });
  CHECK(results.size() == 3);
  h.client.shutdown();  // joins the worker that completed the map and then marked the outcomes
  REQUIRE(seen.size() == 3);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i].undelivered.size() >= i + 1);  // none marked early
  CHECK(journal->backlog().undelivered.empty());
  CHECK(journal->backlog().watching.empty());
}

TEST_CASE("client journal: a journal that throws anything still lets every outcome through") {
  /// A journal whose settle throws what no journal should (a caller's bug): the outcome must still come.
  struct Throwing : MemoryJournal {
    void settle(std::span<const Settlement>) { throw std::runtime_error("not a JournalError"); }
  };
  static_assert(Journal<Throwing>);
  ReplayingServer server;
  auto journal = std::make_shared<Throwing>();
  Journaled h(server, AnyJournal(journal));
  REQUIRE(h.client.watch("job-1").wait_for(std::chrono::minutes(1)) == std::future_status::ready);
  CHECK(h.client.get_bulk_translation_statuses({"job-2", "job-3"}).size() == 2);
  CHECK(h.client.get_translation_status("job-4").ok());
}

TEST_CASE(
    "client journal: a create the server refuses outright closes its intent; one that may have made a job keeps it") {
  ReplayingServer server;
  auto journal = std::make_shared<MemoryJournal>();
  Journaled h(server, AnyJournal(journal));
  h.transport.then(answer(400, R"({"error": "bad request"})"));
  CHECK_THROWS_AS(h.client.create_translation_job(), TranslationError);
  CHECK(journal->backlog().unanswered.empty());  // no job was made: nothing for a resume to send
  h.transport.then(answer(503, R"({"error": "overloaded"})"));
  try {
    (void)h.client.create_translation_job();
    FAIL("the create should have failed");
  } catch (const TranslationError& e) {
    CHECK(std::string(e.what()).find("resume() sends it again") != std::string::npos);
  }
  CHECK(journal->backlog().unanswered.size() == 1);  // a 503 may come after the job was made
}

TEST_CASE("client journal: a wait that ends by its deadline or a failure to reach the server leaves the job watched") {
  ReplayingServer server;
  server.word = "pending";
  auto journal = std::make_shared<MemoryJournal>();
  Journaled h(server, AnyJournal(journal));
  const auto result = h.client.get_translation_status("job-slow");
  CHECK(result.status == TranslationStatus::timeout);
  const auto backlog = journal->backlog();
  REQUIRE(backlog.watching.size() == 1);
  CHECK(backlog.watching[0].id == "job-slow");
  CHECK(backlog.undelivered.empty());
}

TEST_CASE("client journal: resume hands over what was not, watches what had no outcome, resends lost creates") {
  ReplayingServer server;
  server.lose_answers = 1;
  auto journal = std::make_shared<MemoryJournal>();
  FakeClock clock;
  std::string lost_key;
  {
    Journaled first(server, AnyJournal(journal), clock);
    CHECK_THROWS_AS(first.client.create_translation_job(), TranslationError);  // the job was made, its answer lost
    lost_key = std::string(header_value(first.transport.requests()[0].headers, "Idempotency-Key").value_or(""));
  }
  CHECK(server.jobs() == 1);
  journal->watch("translation", "job-watched");
  const std::vector<Settlement> settled{{"translation", "job-settled", completed_result()}};
  journal->settle(settled);
  clock.advance(std::chrono::hours(20));  // a restart the next day, inside HeyGen's replay window

  Outcomes outcomes;  // before the client: the client's end cancels its waits into it
  Journaled second(server, AnyJournal(journal), clock);
  const ResumeReport report = second.client.resume(outcomes.callback());
  CHECK(report.handed_over == 1);
  CHECK(report.watching == 1);
  CHECK(report.resent == 1);
  CHECK(report.unknown == 0);
  CHECK(report.ids.size() == 3);
  outcomes.wait_for(3);
  second.client.shutdown();
  CHECK(server.jobs() == 1);  // sent again with its key: the server's first job, not a second
  const auto resent = second.transport.requests();
  const auto post = std::find_if(resent.begin(), resent.end(), [](const HttpRequest& r) { return r.method == "POST"; });
  REQUIRE(post != resent.end());
  CHECK(header_value(post->headers, "Idempotency-Key") == lost_key);
  CHECK(header_value(post->headers, "Authorization") == "Bearer secret-token");  // the new client's credentials
  std::lock_guard lock(outcomes.mutex);
  CHECK(outcomes.by_id.size() == 3);
  CHECK(outcomes.by_id.count("job-settled") == 1);
  CHECK(outcomes.by_id.count("job-watched") == 1);
  CHECK(outcomes.by_id.count("job-1") == 1);
  const auto backlog = journal->backlog();
  CHECK(backlog.unanswered.empty());
  CHECK(backlog.watching.empty());
  CHECK(backlog.undelivered.empty());
}

TEST_CASE("client journal: past the replay window a lost create is an unknown_outcome, never sent again") {
  ReplayingServer server;
  server.lose_answers = 1;
  auto journal = std::make_shared<MemoryJournal>();
  FakeClock clock;
  {
    Journaled first(server, AnyJournal(journal), clock);
    CHECK_THROWS_AS(first.client.create_translation_job(), TranslationError);
  }
  clock.advance(std::chrono::hours(24));
  Outcomes outcomes;  // before the client: the client's end cancels its waits into it
  Journaled second(server, AnyJournal(journal), clock);
  const ResumeReport report = second.client.resume(outcomes.callback());
  CHECK(report.unknown == 1);
  CHECK(second.transport.request_count() == 0);
  REQUIRE(outcomes.by_id.size() == 1);
  const TranslationResult& unknown = outcomes.by_id.begin()->second.at(0);
  CHECK(unknown.cause == FailureCause::unknown_outcome);
  CHECK(unknown.error_message->find("may or may not") != std::string::npos);
  CHECK(journal->backlog().unanswered.empty());
  CHECK(second.client.resume(outcomes.callback()).unknown == 0);  // handed over once
}

TEST_CASE("client journal: an outcome whose hand-over throws stays in the journal for the next resume") {
  ReplayingServer server;
  auto journal = std::make_shared<MemoryJournal>();
  const std::vector<Settlement> settled{{"translation", "job-settled", completed_result()}};
  journal->settle(settled);
  journal->intend({"old-key", "translation", "{}", 0, std::nullopt, false});  // far past the window
  Outcomes outcomes;
  Journaled h(server, AnyJournal(journal));
  const auto throwing = [](const std::string&, const TranslationResult&) { throw std::runtime_error("callback"); };
  const ResumeReport report = h.client.resume(throwing);
  CHECK(report.ids.size() == 2);
  const auto backlog = journal->backlog();
  CHECK(backlog.undelivered.size() == 1);
  CHECK(backlog.unanswered.size() == 1);
  CHECK(h.client.resume(outcomes.callback()).ids.size() == 2);
  CHECK(outcomes.by_id.size() == 2);
  CHECK(journal->backlog().undelivered.empty());
  CHECK(journal->backlog().unanswered.empty());
}

TEST_CASE("client journal: a lost create the server refuses when sent again comes with its failure, then is closed") {
  ReplayingServer server;
  server.lose_answers = 1;
  auto journal = std::make_shared<MemoryJournal>();
  {
    Journaled first(server, AnyJournal(journal));
    CHECK_THROWS_AS(first.client.create_translation_job(), TranslationError);
  }
  Outcomes outcomes;
  Journaled second(server, AnyJournal(journal));
  second.transport.then(answer(400, R"({"error": "bad request"})"));
  const ResumeReport report = second.client.resume(outcomes.callback());
  CHECK(report.failed == 1);
  REQUIRE(outcomes.by_id.size() == 1);
  CHECK(outcomes.by_id.begin()->second.at(0).cause == FailureCause::http_status);
  CHECK(outcomes.by_id.begin()->second.at(0).error_message->find("sent again") != std::string::npos);
  CHECK(report.ids == std::vector<std::string>{outcomes.by_id.begin()->first});
  CHECK(journal->backlog().unanswered.empty());  // refused outright: it made no job

  Journaled no_journal(server, AnyJournal{});
  CHECK_THROWS_AS(no_journal.client.resume(outcomes.callback()), std::logic_error);
}

TEST_CASE("client journal: a SqliteJournal carries a lost create and a wait across a restart of the client") {
  TempDir dir;
  const std::string path = dir.file("jobs.journal");
  ReplayingServer server;
  server.lose_answers = 1;
  server.word = "pending";
  {
    Journaled first(server, AnyJournal(std::make_shared<SqliteJournal>(path)));
    CHECK_THROWS_AS(first.client.create_translation_job(), TranslationError);
    CHECK(first.client.get_translation_status("job-waited").status == TranslationStatus::timeout);
  }
  server.word = "completed";
  Outcomes outcomes;
  Journaled second(server, AnyJournal(std::make_shared<SqliteJournal>(path)));
  const ResumeReport report = second.client.resume(outcomes.callback());
  CHECK(report.resent == 1);
  CHECK(report.watching == 1);
  outcomes.wait_for(2);
  second.client.shutdown();
  CHECK(server.jobs() == 1);
  std::lock_guard lock(outcomes.mutex);
  CHECK(outcomes.by_id.count("job-1") == 1);
  CHECK(outcomes.by_id.count("job-waited") == 1);
  const auto backlog = SqliteJournal(path).backlog();
  CHECK(backlog.unanswered.empty());
  CHECK(backlog.watching.empty());
  CHECK(backlog.undelivered.empty());
}
