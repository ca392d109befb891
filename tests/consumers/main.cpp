// The program every consumer project builds: it includes the installed header, constructs a client for a loopback
// port nothing listens on and makes one status check, so it links and runs with no server. It exits 0 only when
// the check ends the way a refused connection must: an error whose cause is the transport, not the job. It also
// checks one signed webhook push, so the package must link libcrypto when the header calls it (the HMAC), and
// writes one intent to a SqliteJournal and reads it back, so the package must define HEYGEN_VT_WITH_SQLITE and link
// libsqlite3 (every build here has SQLite: without it the program fails, rather than skip the check).
#include <heygen/video_translation.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>

int main() {
  using namespace std::chrono_literals;
  // No retries and a short deadline: a refused connection ends the call at once.
  heygen::VideoTranslationClient client({.base_url = "http://127.0.0.1:1", .max_retries = 0, .max_timeout = 5s});
  const heygen::TranslationResult result = client.check_translation_status("consumer-check");
  std::cout << "heygen-video-translation " << HEYGEN_VT_VERSION << ": " << heygen::to_string(result.status) << " ("
            << heygen::to_string(result.cause) << ") " << result.error_message.value_or("") << "\n";
  const bool refused =
      result.status == heygen::TranslationStatus::error && result.cause == heygen::FailureCause::transport;
#ifdef HEYGEN_VT_WITH_SQLITE
  const auto journal_path =
      std::filesystem::temp_directory_path() / ("heygen-consumer-" + std::to_string(::getpid()) + ".journal");
  std::size_t unanswered = 0;
  {
    std::filesystem::remove(journal_path);
    heygen::SqliteJournal journal(journal_path.string());
    journal.intend({.key = "consumer-key", .kind = "translation", .input = "{}"});
    unanswered = journal.backlog().unanswered.size();
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(journal_path.string() + suffix);
  std::cout << "journal: " << unanswered << " intent\n";
  if (unanswered != 1) return 1;
#else
  std::cout << "journal: HEYGEN_VT_WITH_SQLITE is not defined\n";
  return 1;
#endif
#ifdef HEYGEN_VT_WITH_OPENSSL
  const heygen::WebhookVerifier webhook({.secret = "consumer-secret"}, client.protocol());
  const std::string push = R"({"job_id": "consumer-check", "result": "completed"})";
  const auto checked =
      webhook.check({{"X-HeyGen-Signature", heygen::webhook_signature("consumer-secret", push)}}, push);
  std::cout << "webhook: " << heygen::to_string(checked.verdict) << "\n";
  return refused && checked.verdict == heygen::WebhookVerdict::accepted ? 0 : 1;
#else
  return refused ? 0 : 1;
#endif
}
