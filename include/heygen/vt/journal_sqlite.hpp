// SqliteJournal: the embedded durable Journal (WAL, synchronous=FULL, one writer).
#pragma once

#include "heygen/vt/journal.hpp"

#ifdef HEYGEN_VT_WITH_SQLITE
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heygen {

/// How a SqliteJournal opens its file.
struct SqliteJournalOptions {
  /// How long a write waits for another process's write to end before it fails with a JournalError ("locked").
  std::chrono::milliseconds busy_timeout{5000};
};

/// A Journal in one SQLite file. Every write is one `BEGIN IMMEDIATE` transaction, committed with
/// `synchronous=FULL` in WAL mode, so it is on disk when the call returns: a lost intent would mean a second paid job,
/// which is worth an fsync per write. Several processes on one machine may share the file (not over a network file
/// system: WAL needs shared memory). A file that is not a journal of this library, is corrupt, or was written by a
/// newer version is refused with a JournalError naming it, and left as it was. Safe from any thread (one connection,
/// one writer at a time).
class SqliteJournal {
 public:
  /// The schema version this library writes (PRAGMA user_version).
  static constexpr int schema_version = 1;
  /// This library's mark on its files (PRAGMA application_id, "HGVT").
  static constexpr std::int32_t application_id = 0x48475654;

  /// Opens (or creates) the journal at `path`; throws JournalError naming it when it cannot be used.
  explicit SqliteJournal(std::string path, SqliteJournalOptions options = {}) : path_(std::move(path)) {
    const int opened = sqlite3_open_v2(path_.c_str(), &db_,
                                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (opened != SQLITE_OK) {
      const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(opened);
      sqlite3_close(db_);
      db_ = nullptr;
      throw JournalError("journal " + path_ + ": cannot open: " + why);
    }
    try {
      sqlite3_extended_result_codes(db_, 1);
      sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));
      set_up();
    } catch (...) {
      sqlite3_close(db_);
      db_ = nullptr;
      throw;
    }
  }
  SqliteJournal(const SqliteJournal&) = delete;
  SqliteJournal& operator=(const SqliteJournal&) = delete;
  /// Closes the file (a clean close checkpoints the WAL).
  ~SqliteJournal() { sqlite3_close(db_); }

  /// The file this journal writes.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  /// Writes a create's intent; throws JournalError when its key is there already.
  void intend(const CreateRecord& record) {
    transaction("write an intent", [&] {
      Statement insert(*this, "INSERT INTO creates(key, kind, input, intended_at_ms) VALUES (?, ?, ?, ?)");
      insert.bind(1, record.key).bind(2, record.kind).bind(3, record.input).bind(4, record.intended_at_ms);
      if (insert.step() == SQLITE_CONSTRAINT_PRIMARYKEY)
        throw JournalError("journal " + path_ + ": the key " + record.key + " was used already");
    });
  }

  /// Writes a create's ids and watches each; throws JournalError for an unknown key.
  void answered(std::string_view key, std::span<const std::string> ids) {
    transaction("write a create's ids", [&] {
      Statement update(*this, "UPDATE creates SET ids = ? WHERE key = ? RETURNING kind");
      update.bind(1, journal_json::string_array(ids).serialize()).bind(2, key);
      if (update.step() != SQLITE_ROW)
        throw JournalError("journal " + path_ + ": no intent with key " + std::string(key));
      const std::string kind = update.text(0);
      update.finish();
      for (const auto& id : ids) add_job(kind, id, key);
    });
  }

  /// Watches a job by id.
  void watch(std::string_view kind, std::string_view id) {
    transaction("watch a job", [&] { add_job(kind, id, ""); });
  }

  /// Writes the outcomes of one round in one transaction; a job's first outcome stands.
  void settle(std::span<const Settlement> settled) {
    if (settled.empty()) return;
    transaction("write outcomes", [&] {
      Statement upsert(*this,
                       "INSERT INTO jobs(kind, id, key, outcome) VALUES (?, ?, '', ?) "
                       "ON CONFLICT(kind, id) DO UPDATE SET outcome = excluded.outcome WHERE outcome IS NULL");
      for (const auto& settlement : settled) {
        upsert.bind(1, settlement.kind).bind(2, settlement.id).bind(3, outcome_json(settlement.outcome));
        upsert.step();
        upsert.reset();
      }
    });
  }

  /// Marks an outcome handed over.
  void hand_over(std::string_view kind, std::string_view id) {
    transaction("mark an outcome handed over", [&] {
      Statement update(*this, "UPDATE jobs SET handed_over = 1 WHERE kind = ? AND id = ? AND outcome IS NOT NULL");
      update.bind(1, kind).bind(2, id).step();
    });
  }

  /// Marks an intent's outcome unknown.
  void give_up(std::string_view key) {
    transaction("give up an intent", [&] {
      Statement update(*this, "UPDATE creates SET unknown_outcome = 1 WHERE key = ? AND ids IS NULL");
      update.bind(1, key).step();
    });
  }

  /// What a restart picks up; throws JournalError when the file cannot be read (or holds rows it cannot read).
  [[nodiscard]] JournalBacklog backlog() {
    JournalBacklog out;
    transaction("read the backlog", [&] {
      Statement creates(*this,
                        "SELECT key, kind, input, intended_at_ms FROM creates WHERE ids IS NULL AND unknown_outcome = "
                        "0 ORDER BY intended_at_ms, key");
      while (creates.step() == SQLITE_ROW)
        out.unanswered.push_back(
            {creates.text(0), creates.text(1), creates.text(2), creates.integer(3), std::nullopt, false});
      Statement jobs(*this, "SELECT kind, id, key, outcome FROM jobs WHERE handed_over = 0 ORDER BY kind, id");
      while (jobs.step() == SQLITE_ROW) read_job(jobs, out);
    });
    return out;
  }

 private:
  /// One prepared statement, finalized when it goes out of scope. Every failure is a JournalError naming the file.
  class Statement {
   public:
    Statement(SqliteJournal& journal, const char* sql) : journal_(journal) {
      if (sqlite3_prepare_v2(journal_.db_, sql, -1, &statement_, nullptr) != SQLITE_OK) journal_.fail("prepare");
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() { sqlite3_finalize(statement_); }

    Statement& bind(int index, std::string_view text) {
      check(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
      return *this;
    }
    Statement& bind(int index, std::int64_t number) {
      check(sqlite3_bind_int64(statement_, index, number));
      return *this;
    }
    /// Runs one step: SQLITE_ROW, SQLITE_DONE or a primary-key conflict (the caller's to judge); anything else throws.
    int step() {
      const int code = sqlite3_step(statement_);
      if (code == SQLITE_ROW || code == SQLITE_DONE || code == SQLITE_CONSTRAINT_PRIMARYKEY) return code;
      journal_.fail("run a statement");
    }
    /// Makes the statement ready to run again with new values.
    void reset() {
      sqlite3_reset(statement_);
      sqlite3_clear_bindings(statement_);
    }
    /// Ends a statement whose remaining rows are not wanted.
    void finish() { sqlite3_reset(statement_); }
    [[nodiscard]] std::string text(int column) const {
      const auto* bytes = sqlite3_column_text(statement_, column);
      return bytes == nullptr ? std::string()
                              : std::string(reinterpret_cast<const char*>(bytes),
                                            static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
    }
    [[nodiscard]] std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
    [[nodiscard]] bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

   private:
    void check(int code) {
      if (code != SQLITE_OK) journal_.fail("bind a value");
    }
    SqliteJournal& journal_;
    sqlite3_stmt* statement_ = nullptr;
  };

  /// Throws a JournalError naming the file, what was being done and SQLite's reason.
  [[noreturn]] void fail(std::string_view doing) const {
    const int code = sqlite3_extended_errcode(db_);
    std::string why = sqlite3_errmsg(db_);
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
      why += " (another process held it longer than the busy timeout)";
    throw JournalError("journal " + path_ + ": cannot " + std::string(doing) + ": " + why);
  }

  /// Runs `sql` (no rows wanted); throws JournalError on failure.
  void execute(const char* sql, std::string_view doing) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
  }

  /// Runs `body` in one BEGIN IMMEDIATE transaction, rolled back when it throws.
  template <class Body>
  void transaction(std::string_view doing, Body&& body) {
    std::lock_guard lock(mutex_);
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
    try {
      body();
      if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) fail(doing);
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  /// Reads one PRAGMA's integer value.
  std::int64_t pragma_integer(const char* sql) {
    Statement pragma(*this, sql);
    return pragma.step() == SQLITE_ROW ? pragma.integer(0) : 0;
  }

  /// Checks the file is a journal of a version this library reads, makes the tables of a new one, and sets WAL and
  /// FULL. A file it refuses is left untouched: nothing is written before the checks pass.
  void set_up() {
    const auto found_id = pragma_integer("PRAGMA application_id");  // the first read: a corrupt file fails here
    const auto found_version = pragma_integer("PRAGMA user_version");
    const bool empty = pragma_integer("SELECT count(*) FROM sqlite_schema") == 0;
    if (!empty && found_id != application_id)
      throw JournalError("journal " + path_ + ": not a journal of this library (a database of something else)");
    if (found_version > schema_version)
      throw JournalError("journal " + path_ + ": written by a newer version of this library (schema " +
                         std::to_string(found_version) + "; this one reads up to " + std::to_string(schema_version) +
                         ")");
    Statement wal(*this, "PRAGMA journal_mode=WAL");
    if (wal.step() != SQLITE_ROW || wal.text(0) != "wal")
      throw JournalError("journal " + path_ + ": cannot use write-ahead logging here (a network file system?)");
    wal.finish();
    execute("PRAGMA synchronous=FULL", "set synchronous=FULL");
    if (empty) create_tables();
  }

  /// The tables of a new journal, and its marks.
  void create_tables() {
    transaction("create its tables", [&] {
      execute(
          "CREATE TABLE IF NOT EXISTS creates(key TEXT PRIMARY KEY, kind TEXT NOT NULL, input TEXT NOT NULL, "
          "intended_at_ms INTEGER NOT NULL, ids TEXT, unknown_outcome INTEGER NOT NULL DEFAULT 0)",
          "create its tables");
      execute(
          "CREATE TABLE IF NOT EXISTS jobs(kind TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, outcome TEXT, "
          "handed_over INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(kind, id))",
          "create its tables");
      const std::string marks = "PRAGMA application_id=" + std::to_string(application_id) +
                                "; PRAGMA user_version=" + std::to_string(schema_version);
      execute(marks.c_str(), "mark it");
    });
  }

  /// Adds a watched job unless it is there already.
  void add_job(std::string_view kind, std::string_view id, std::string_view key) {
    Statement insert(*this, "INSERT INTO jobs(kind, id, key) VALUES (?, ?, ?) ON CONFLICT(kind, id) DO NOTHING");
    insert.bind(1, kind).bind(2, id).bind(3, key).step();
  }

  /// One row of jobs (not handed over) into the backlog: watching, or settled and not handed over.
  void read_job(const Statement& row, JournalBacklog& out) const {
    JobRecord job{row.text(0), row.text(1), row.text(2), std::nullopt, false};
    if (row.is_null(3)) {
      out.watching.push_back(std::move(job));
      return;
    }
    auto outcome = read_outcome_json(row.text(3));
    if (!outcome) throw JournalError("journal " + path_ + ": job " + job.id + ": " + outcome.failure().message);
    job.outcome = std::move(outcome).value();
    out.undelivered.push_back(std::move(job));
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
};

static_assert(Journal<SqliteJournal>);

}  // namespace heygen

#endif  // HEYGEN_VT_WITH_SQLITE
