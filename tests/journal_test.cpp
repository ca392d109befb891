// The journal: the Journal contract over MemoryJournal and SqliteJournal, SQLite's own promises (durable across a
// reopen, shared between connections, bad files refused untouched, a lock or a full disk a clear error), the 24 h
// replay rule on the fake clock, outcomes as JSON, and resume tokens.
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include "fakes.hpp"
#include "scratch.hpp"

#ifndef HEYGEN_VT_WITH_SQLITE
#error "the journal's tests run SqliteJournal: build them with SQLite (meson links it when libsqlite3 is there)"
#endif

#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace heygen;
using namespace heygen::testing;

namespace {

/// A MemoryJournal under test.
struct InMemory {
  MemoryJournal journal;
};

/// A SqliteJournal under test, in a fresh folder.
struct InSqlite {
  TempDir dir;
  SqliteJournal journal{dir.file("jobs.journal")};
};

/// An intent of kind "translation" written at `at_ms`.
CreateRecord intent(const std::string& key, std::int64_t at_ms = 1'000) {
  return {key, "translation", R"({"video_url": "https://example.com/talk.mp4"})", at_ms, std::nullopt, false};
}

/// A completed outcome with outputs.
TranslationResult completed(const std::string& video) {
  TranslationResult result;
  result.status = TranslationStatus::completed;
  result.http_status = 200;
  result.requests = 3;
  result.elapsed = std::chrono::milliseconds(1234);
  result.outputs.video_url = video;
  result.outputs.caption_urls = {"https://cdn/a.srt", "https://cdn/a.vtt"};
  result.outputs.output_language = "French";
  result.outputs.duration_seconds = 12.5;
  return result;
}

/// A failed outcome.
TranslationResult failed(const std::string& message) {
  TranslationResult result;
  result.status = TranslationStatus::error;
  result.cause = FailureCause::job_failed;
  result.error_message = message;
  return result;
}

/// The ids of jobs in a backlog list.
std::vector<std::string> ids_of(const std::vector<JobRecord>& jobs) {
  std::vector<std::string> out;
  for (const auto& job : jobs) out.push_back(job.id);
  return out;
}

/// The message of the JournalError `action` throws; fails the test when it throws none.
template <class Action>
std::string journal_error(Action&& action) {
  try {
    action();
  } catch (const JournalError& e) {
    return e.what();
  }
  FAIL("no JournalError");
  return {};
}

/// Runs `sql` on the file through a connection of its own; the first column of the first row, or "".
std::string raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  std::string first;
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr)
    first = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return first;
}

}  // namespace

TEST_CASE_TEMPLATE("journal: an intent waits for its ids; ids turn it into watched jobs", J, InMemory, InSqlite) {
  J under_test;
  auto& journal = under_test.journal;
  journal.intend(intent("key-1", 5'000));
  auto backlog = journal.backlog();
  REQUIRE(backlog.unanswered.size() == 1);
  CHECK(backlog.unanswered[0].key == "key-1");
  CHECK(backlog.unanswered[0].kind == "translation");
  CHECK(backlog.unanswered[0].input == intent("key-1").input);
  CHECK(backlog.unanswered[0].intended_at_ms == 5'000);
  CHECK(backlog.watching.empty());

  CHECK(journal_error([&] { journal.intend(intent("key-1")); }).find("key-1 was used already") != std::string::npos);

  const std::vector<std::string> ids{"job-fr", "job-de"};
  journal.answered("key-1", ids);
  backlog = journal.backlog();
  CHECK(backlog.unanswered.empty());
  CHECK(ids_of(backlog.watching) == std::vector<std::string>{"job-de", "job-fr"});
  CHECK(backlog.watching[0].key == "key-1");
  CHECK(backlog.watching[0].kind == "translation");

  CHECK(journal_error([&] { journal.answered("key-none", ids); }).find("no intent with key key-none") !=
        std::string::npos);
}

TEST_CASE_TEMPLATE("journal: the first outcome stands, and a handed-over outcome leaves the backlog", J, InMemory,
                   InSqlite) {
  J under_test;
  auto& journal = under_test.journal;
  journal.watch("translation", "job-1");
  journal.watch("translation", "job-1");  // a second watch changes nothing
  journal.watch("asset", "job-1");        // another kind, another job
  CHECK(journal.backlog().watching.size() == 2);

  journal.hand_over("translation", "job-1");  // nothing to hand over yet: still watched
  CHECK(journal.backlog().watching.size() == 2);

  const std::vector<Settlement> round{{"translation", "job-1", completed("https://cdn/v.mp4")},
                                      {"translation", "job-2", failed("bad codec")}};
  journal.settle(round);
  const std::vector<Settlement> late{{"translation", "job-1", failed("too late")}};
  journal.settle(late);
  auto backlog = journal.backlog();
  CHECK(ids_of(backlog.watching) == std::vector<std::string>{"job-1"});  // the asset
  CHECK(backlog.watching[0].kind == "asset");
  REQUIRE(ids_of(backlog.undelivered) == std::vector<std::string>{"job-1", "job-2"});
  const auto& first = *backlog.undelivered[0].outcome;
  CHECK(first.status == TranslationStatus::completed);
  CHECK(first.outputs.video_url == "https://cdn/v.mp4");
  CHECK(first.outputs.caption_urls.size() == 2);
  CHECK(backlog.undelivered[1].outcome->error_message == "bad codec");

  journal.hand_over("translation", "job-1");
  journal.hand_over("translation", "job-1");  // at least once: a second hand-over is harmless
  backlog = journal.backlog();
  CHECK(ids_of(backlog.undelivered) == std::vector<std::string>{"job-2"});
}

TEST_CASE_TEMPLATE("journal: an intent given up leaves the backlog; one with ids cannot be given up", J, InMemory,
                   InSqlite) {
  J under_test;
  auto& journal = under_test.journal;
  journal.intend(intent("lost"));
  journal.intend(intent("answered"));
  const std::vector<std::string> ids{"job-9"};
  journal.answered("answered", ids);
  journal.give_up("lost");
  journal.give_up("answered");
  const auto backlog = journal.backlog();
  CHECK(backlog.unanswered.empty());
  CHECK(ids_of(backlog.watching) == std::vector<std::string>{"job-9"});
}

TEST_CASE("sqlite journal: what one connection wrote, a reopen and another connection read; the file is sound") {
  TempDir dir;
  const std::string path = dir.file("jobs.journal");
  {
    SqliteJournal journal(path);
    journal.intend(intent("key-1"));
    const std::vector<std::string> ids{"job-1"};
    journal.answered("key-1", ids);
    journal.intend(intent("key-2"));
    SqliteJournal other(path);  // another process's connection to the same file
    CHECK(other.backlog().unanswered.size() == 1);
    const std::vector<Settlement> round{{"translation", "job-1", completed("https://cdn/v.mp4")}};
    other.settle(round);
    CHECK(journal.backlog().undelivered.size() == 1);
  }
  SqliteJournal reopened(path);
  const auto backlog = reopened.backlog();
  CHECK(backlog.unanswered.size() == 1);
  CHECK(ids_of(backlog.undelivered) == std::vector<std::string>{"job-1"});
  CHECK(raw_sql(path, "PRAGMA journal_mode") == "wal");
  CHECK(raw_sql(path, "PRAGMA integrity_check") == "ok");
  CHECK(raw_sql(path, "PRAGMA user_version") == std::to_string(SqliteJournal::schema_version));
}

TEST_CASE("sqlite journal: a corrupt file, another program's database and a newer version are refused untouched") {
  TempDir dir;
  SUBCASE("corrupt") {
    const std::string path = dir.file("corrupt.journal");
    std::ofstream(path, std::ios::binary) << std::string(4096, 'x');
    const std::string before = read_file(path);
    const auto message = journal_error([&] { SqliteJournal journal(path); });
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("not a database") != std::string::npos);
    CHECK(read_file(path) == before);
  }
  SUBCASE("another program's database") {
    const std::string path = dir.file("other.db");
    raw_sql(path, "CREATE TABLE songs(title TEXT)");
    const std::string before = read_file(path);
    const auto message = journal_error([&] { SqliteJournal journal(path); });
    CHECK(message.find("not a journal of this library") != std::string::npos);
    CHECK(read_file(path) == before);
  }
  SUBCASE("newer") {
    const std::string path = dir.file("newer.journal");
    { SqliteJournal journal(path); }
    raw_sql(path, "PRAGMA user_version=" + std::to_string(SqliteJournal::schema_version + 1));
    const std::string before = read_file(path);
    const auto message = journal_error([&] { SqliteJournal journal(path); });
    CHECK(message.find("written by a newer version") != std::string::npos);
    CHECK(read_file(path) == before);
  }
  SUBCASE("a folder that does not exist") {
    const std::string path = dir.file("missing/jobs.journal");
    const auto message = journal_error([&] { SqliteJournal journal(path); });
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("cannot open") != std::string::npos);
  }
}

TEST_CASE("sqlite journal: a write that waits past the busy timeout is a clear error and loses nothing") {
  TempDir dir;
  const std::string path = dir.file("jobs.journal");
  SqliteJournal journal(path, SqliteJournalOptions{.busy_timeout = std::chrono::milliseconds(1)});
  sqlite3* holder = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &holder) == SQLITE_OK);
  REQUIRE(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto message = journal_error([&] { journal.intend(intent("key-1")); });
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("busy timeout") != std::string::npos);
  REQUIRE(sqlite3_exec(holder, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(holder);
  journal.intend(intent("key-1"));  // the key was not spent by the failed write
  CHECK(journal.backlog().unanswered.size() == 1);
}

TEST_CASE("sqlite journal: a full disk is a clear error naming the file; what was written before stays") {
  TempDir dir;
  const std::string path = dir.file("jobs.journal");
  SqliteJournal journal(path);
  journal.intend(intent("small"));
  {
    const FileSizeLimit full(std::filesystem::file_size(path + "-wal"));
    CreateRecord big = intent("big");
    big.input = std::string(std::size_t{256} * 1024, 'v');
    const auto message = journal_error([&] { journal.intend(big); });
    CHECK(message.find(path) != std::string::npos);
  }
  const auto backlog = journal.backlog();
  REQUIRE(backlog.unanswered.size() == 1);
  CHECK(backlog.unanswered[0].key == "small");
  journal.intend(intent("after"));  // the disk has room again
  CHECK(journal.backlog().unanswered.size() == 2);
  CHECK(raw_sql(path, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("replay rule: an intent is sent again inside HeyGen's 24 h window (less a margin), never after") {
  FakeClock clock;
  const std::int64_t written = unix_ms(clock.system_now());
  CHECK(replay_verdict(written, clock.system_now()) == ReplayVerdict::send_again);
  clock.advance(std::chrono::hours(23));
  CHECK(replay_verdict(written, clock.system_now()) == ReplayVerdict::send_again);
  clock.advance(std::chrono::minutes(29));
  CHECK(replay_verdict(written, clock.system_now()) == ReplayVerdict::send_again);
  clock.advance(std::chrono::minutes(1));  // 23 h 30 min: inside the window, but not by the margin
  CHECK(replay_verdict(written, clock.system_now()) == ReplayVerdict::unknown_outcome);
  clock.advance(std::chrono::hours(48));
  CHECK(replay_verdict(written, clock.system_now()) == ReplayVerdict::unknown_outcome);
  // A clock that went backwards counts as no time passed.
  CHECK(replay_verdict(written + 60'000, clock.wall_epoch()) == ReplayVerdict::send_again);
}

TEST_CASE("outcomes as JSON: every field comes back; a malformed one is a bad_response") {
  const auto back = read_outcome_json(outcome_json(completed("https://cdn/v.mp4")));
  REQUIRE(back.ok());
  CHECK(back->status == TranslationStatus::completed);
  CHECK(back->cause == FailureCause::none);
  CHECK(back->http_status == 200);
  CHECK(back->requests == 3);
  CHECK(back->elapsed == std::chrono::milliseconds(1234));
  CHECK(back->outputs.video_url == "https://cdn/v.mp4");
  CHECK(!back->outputs.audio_url);
  CHECK(back->outputs.caption_urls == std::vector<std::string>{"https://cdn/a.srt", "https://cdn/a.vtt"});
  CHECK(back->outputs.output_language == "French");
  CHECK(back->outputs.duration_seconds == 12.5);
  const auto error = read_outcome_json(outcome_json(failed("bad codec")));
  REQUIRE(error.ok());
  CHECK(error->cause == FailureCause::job_failed);
  CHECK(error->error_message == "bad codec");

  CHECK(read_outcome_json("{").failure().cause == FailureCause::bad_response);
  CHECK(read_outcome_json(R"({"status": "melted", "cause": "none"})").failure().message.find("no known status") !=
        std::string::npos);
}

TEST_CASE("resume tokens: a job's token is taken up; malformed, empty, other types, versions and kinds are refused") {
  const std::string token = to_resume_token({"translation", "job-1", "key-1", 42});
  const auto read = read_resume_token(token, "translation");
  REQUIRE(read.ok());
  CHECK(read->id == "job-1");
  CHECK(read->key == "key-1");
  CHECK(read->created_at_ms == 42);

  const auto refusal = [](std::string_view text, std::string_view kind = "translation") {
    const auto result = read_resume_token(text, kind);
    REQUIRE(!result.ok());
    CHECK(result.failure().cause == FailureCause::bad_response);
    return result.failure().message;
  };
  CHECK(refusal("").find("empty") != std::string::npos);
  CHECK(refusal("job-1").find("not a JSON object") != std::string::npos);
  CHECK(refusal(R"({"v": 1, "kind": "translation", "id": "x"})").find("names no type") != std::string::npos);
  CHECK(refusal(R"({"v": 1, "type": "azure.lro", "kind": "translation", "id": "x"})").find("of type \"azure.lro\"") !=
        std::string::npos);
  CHECK(refusal(R"({"v": 2, "type": "heygen.video_translation", "kind": "translation", "id": "x"})")
            .find("of version 2") != std::string::npos);
  CHECK(refusal(token, "asset").find("of kind \"translation\", not \"asset\"") != std::string::npos);
  CHECK(refusal(R"({"v": 1, "type": "heygen.video_translation", "kind": "translation"})").find("no job id") !=
        std::string::npos);
}
