// Unit tests of the bulk collector: a bulk call's results gathered into one map, each told to the caller. No
// threads, no clock: every result is added by the test.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

using namespace heygen;
using namespace std::chrono_literals;

namespace {

/// A result with `status` and `message`.
TranslationResult result_with(TranslationStatus status, std::string message = {}) {
  TranslationResult result;
  result.status = status;
  if (!message.empty()) result.error_message = std::move(message);
  return result;
}

/// Whether `future` holds its value already.
template <class V>
bool ready(const std::future<V>& future) {
  return future.wait_for(0s) == std::future_status::ready;
}

/// Every message logged, at error or above.
struct Messages {
  std::vector<std::string> lines;
  Logger logger{[this](LogLevel, std::string_view message) { lines.emplace_back(message); }, LogLevel::error};
};

}  // namespace

TEST_SUITE("bulk collector") {
TEST_CASE("bulk collector: the future is fulfilled by the last result, with each job once") {
  Messages log;
  std::vector<std::pair<std::string, BulkProgress>> told;
  BulkCollector collect(
      2, [&](const std::string& id, const TranslationResult&, BulkProgress p) { told.emplace_back(id, p); },
      log.logger);
  std::future<ResultMap> results = collect.future();
  collect.add("a", result_with(TranslationStatus::completed));
  CHECK_FALSE(ready(results));
  collect.add("a", result_with(TranslationStatus::error, "a second word on a"));  // dropped: a already has one
  CHECK_FALSE(ready(results));
  collect.add("b", result_with(TranslationStatus::error, "failed"));
  REQUIRE(ready(results));
  const ResultMap map = results.get();
  REQUIRE(map.size() == 2);
  CHECK(map.at("a").status == TranslationStatus::completed);
  CHECK(map.at("b").error_message == "failed");
  REQUIRE(told.size() == 2);
  CHECK(told[0].first == "a");
  CHECK(told[0].second.done == 1);
  CHECK(told[1].first == "b");
  CHECK(told[1].second.done == 2);
  CHECK(told[1].second.total == 2);
  CHECK(log.lines.empty());
}

TEST_CASE("bulk collector: nothing to wait for is ready at once, and no callback is needed") {
  Messages log;
  BulkCollector none(0, {}, log.logger);
  std::future<ResultMap> empty = none.future();
  REQUIRE(ready(empty));
  CHECK(empty.get().empty());
  BulkCollector silent(1, {}, log.logger);
  std::future<ResultMap> one = silent.future();
  silent.add("a", result_with(TranslationStatus::completed));
  REQUIRE(ready(one));
  CHECK(one.get().size() == 1);
}

TEST_CASE("bulk collector: a callback that throws is logged, and the results still come") {
  Messages log;
  BulkCollector collect(
      2,
      [](const std::string& id, const TranslationResult&, BulkProgress) {
        if (id == "a") throw std::runtime_error("boom");
        throw 7;
      },
      log.logger);
  std::future<ResultMap> results = collect.future();
  collect.add("a", result_with(TranslationStatus::completed));
  collect.add("b", result_with(TranslationStatus::completed));
  REQUIRE(ready(results));
  CHECK(results.get().size() == 2);
  REQUIRE(log.lines.size() == 2);
  CHECK(log.lines[0] == "job a: result callback threw: boom");
  CHECK(log.lines[1] == "job b: result callback threw");
}
}  // TEST_SUITE("bulk collector")
