// Journal benchmark: what durability costs. Times SqliteJournal's writes (an intent, a create's ids, a round of
// outcomes) against the same statements through raw SQLite with the same settings (WAL, synchronous=FULL, one
// transaction per write), and against one fdatasync of 1 KB: the disk's floor for any durable write. Interleaved runs,
// medians; prints a table and floor lines. Writes only under a temporary folder of its own (or --dir), removed at the
// end. Floors are printed, never asserted: the exit status is non-zero only when a write failed.
//
//   build/release/bench/journal [--writes N] [--runs N] [--round N] [--dir PATH]
#include <heygen/video_translation.hpp>

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

/// What the command line asked for.
struct Settings {
  int writes = 300;  ///< durable writes per timed run
  int runs = 3;      ///< interleaved runs of every mover
  int round = 100;   ///< outcomes per settle round
  std::filesystem::path dir{};
};

/// One timed run: every write's latency, in milliseconds.
struct Run {
  std::vector<double> latencies_ms;
  double seconds = 0;
};

/// Times `writes` calls of `write(i)`.
Run time_writes(int writes, const std::function<void(int)>& write) {
  Run run;
  const auto started = Clock::now();
  for (int i = 0; i < writes; ++i) {
    const auto before = Clock::now();
    write(i);
    run.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - before).count());
  }
  run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return run;
}

/// The `q` quantile of `values` (sorted copy).
double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(q * static_cast<double>(values.size() - 1))];
}

/// The median of `values`.
double median(const std::vector<double>& values) { return quantile(values, 0.5); }

/// A fresh file name under the bench folder.
std::string fresh(const Settings& settings, const std::string& name) {
  static int serial = 0;
  return (settings.dir / (name + "-" + std::to_string(++serial) + ".db")).string();
}

/// The i-th intent, with 300 bytes of input (the size of a translation request).
heygen::CreateRecord intent(int i) {
  return {"key-" + std::to_string(i), "translation", std::string(300, 'i'), 1'000 + i, std::nullopt, false};
}

/// One fdatasync of 1 KB per write: the disk's price of one durable write.
Run fdatasync_run(const Settings& settings) {
  const std::string path = fresh(settings, "fdatasync");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) std::exit(1);
  const std::string block(1024, 'b');
  Run run = time_writes(settings.writes, [&](int) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0)
      std::exit(1);
  });
  ::close(fd);
  return run;
}

/// Raw SQLite, the library's settings: one INSERT per transaction.
Run raw_insert_run(const Settings& settings) {
  sqlite3* db = nullptr;
  sqlite3_open(fresh(settings, "raw").c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE creates(key TEXT PRIMARY KEY, "
               "kind TEXT, input TEXT, intended_at_ms INTEGER)",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO creates VALUES (?, ?, ?, ?)", -1, &insert, nullptr);
  Run run = time_writes(settings.writes, [&](int i) {
    const auto record = intent(i);
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_bind_text(insert, 1, record.key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, record.kind.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 3, record.input.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(insert, 4, record.intended_at_ms);
    if (sqlite3_step(insert) != SQLITE_DONE) std::exit(1);
    sqlite3_reset(insert);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  });
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return run;
}

/// SqliteJournal::intend, one per write.
Run intend_run(const Settings& settings) {
  heygen::SqliteJournal journal(fresh(settings, "intend"));
  return time_writes(settings.writes, [&](int i) { journal.intend(intent(i)); });
}

/// SqliteJournal::answered (two ids a create), one per write, after untimed intents.
Run answered_run(const Settings& settings) {
  heygen::SqliteJournal journal(fresh(settings, "answered"));
  for (int i = 0; i < settings.writes; ++i) journal.intend(intent(i));
  return time_writes(settings.writes, [&](int i) {
    const std::vector<std::string> ids{"job-" + std::to_string(i) + "-fr", "job-" + std::to_string(i) + "-de"};
    journal.answered("key-" + std::to_string(i), ids);
  });
}

/// SqliteJournal::settle, `round` outcomes a write.
Run settle_run(const Settings& settings) {
  heygen::SqliteJournal journal(fresh(settings, "settle"));
  heygen::TranslationResult outcome;
  outcome.status = heygen::TranslationStatus::completed;
  outcome.outputs.video_url = "https://cdn.example.com/" + std::string(200, 'u');
  const int rounds = std::max(1, settings.writes / 10);
  return time_writes(rounds, [&](int r) {
    std::vector<heygen::Settlement> settled;
    for (int i = 0; i < settings.round; ++i)
      settled.push_back({"translation", "job-" + std::to_string(r) + "-" + std::to_string(i), outcome});
    journal.settle(settled);
  });
}

/// MemoryJournal::intend: the journal's own cost with no disk.
Run memory_run(const Settings& settings) {
  heygen::MemoryJournal journal;
  return time_writes(settings.writes, [&](int i) { journal.intend(intent(i)); });
}

/// The command line's settings; exits 64 on a word it does not know.
Settings read_settings(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--writes" && has_value)
      settings.writes = std::max(10, std::atoi(argv[++i]));
    else if (arg == "--runs" && has_value)
      settings.runs = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--round" && has_value)
      settings.round = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--dir" && has_value)
      settings.dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: journal [--writes N] [--runs N] [--round N] [--dir PATH]\n");
      std::exit(64);
    }
  }
  return settings;
}

}  // namespace

int main(int argc, char** argv) try {
  Settings settings = read_settings(argc, argv);
  const bool own_dir = settings.dir.empty();
  if (own_dir) {
    std::string pattern = (std::filesystem::temp_directory_path() / "heygen-journal-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return 1;
    settings.dir = pattern;
  }
  const std::vector<std::pair<std::string, std::function<Run(const Settings&)>>> movers{
      {"fdatasync 1 KB", fdatasync_run},      {"raw sqlite insert", raw_insert_run},
      {"journal intend", intend_run},         {"journal answered (2 ids)", answered_run},
      {"journal settle (round)", settle_run}, {"memory intend", memory_run}};
  std::map<std::string, std::vector<Run>> runs;
  for (int r = 0; r < settings.runs; ++r)  // interleaved: every mover once a run, so a noisy moment hits all
    for (const auto& [name, mover] : movers) runs[name].push_back(mover(settings));

  std::printf("durable writes: %d a run (settle: %d rounds of %d outcomes), %d interleaved runs, medians\n",
              settings.writes, std::max(1, settings.writes / 10), settings.round, settings.runs);
  std::printf("%-26s %12s %10s %10s %12s\n", "write", "commits/s", "p50 ms", "p99 ms", "rows/s");
  std::map<std::string, double> rate;
  for (const auto& [name, mover] : movers) {
    std::vector<double> rates, p50, p99;
    for (const auto& run : runs[name]) {
      rates.push_back(static_cast<double>(run.latencies_ms.size()) / run.seconds);
      p50.push_back(quantile(run.latencies_ms, 0.5));
      p99.push_back(quantile(run.latencies_ms, 0.99));
    }
    rate[name] = median(rates);
    const double rows = name == "journal settle (round)"     ? rate[name] * settings.round
                        : name == "journal answered (2 ids)" ? rate[name] * 3
                                                             : rate[name];
    std::printf("%-26s %12.0f %10.3f %10.3f %12.0f\n", name.c_str(), rate[name], median(p50), median(p99), rows);
  }
  const double ratio = rate["journal intend"] / rate["raw sqlite insert"];
  std::printf("  floor journal intend / raw sqlite insert (commits/s)   %.3f >= 0.700  %s\n", ratio,
              ratio >= 0.7 ? "ok" : "BELOW");
  std::printf("  (no floor: journal intend / fdatasync 1 KB %.3f; a WAL commit is about one fdatasync)\n",
              rate["journal intend"] / rate["fdatasync 1 KB"]);
  std::printf("  jobs/s the journal sustains at 4 durable writes a job: %.0f\n", rate["journal intend"] / 4);
  if (own_dir) std::filesystem::remove_all(settings.dir);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "journal: %s\n", e.what());
  return 1;
}
