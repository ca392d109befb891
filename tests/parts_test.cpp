// Unit tests of the library's parts on their own: the bulk schedule, the job poller and its rules, the tracker
// protocol, a protocol of the test's own through the client, the sender, and OrFailure.
//
// Nothing here sleeps for real: the schedule takes time points as arguments, and the sender and the client run on
// FakeClock, which jumps virtual time and records each sleep's length. Random draws are pinned to 0.5.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <picojson.h>

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

using Sleeps = std::vector<std::chrono::milliseconds>;

namespace {

/// The zero of the schedule's time: every time point below is this plus a duration.
constexpr TimePoint t0{};

/// The value of the first header named `name` (case-insensitive) in a request.
std::optional<std::string> header_of(const HttpRequest& request, std::string_view name) {
  for (const auto& header : request.headers)
    if (detail::iequals(header.name, name)) return header.value;
  return std::nullopt;
}

/// Pushes `when` for jobs 0, 1, 2, ... in order.
void push_all(BulkSchedule& schedule, const std::vector<TimePoint>& when) {
  for (std::size_t job = 0; job < when.size(); ++job) schedule.push(when[job], job);
}

/// What a take returns.
std::vector<std::size_t> take(BulkSchedule& schedule, TimePoint now, BulkSchedule::Take mode,
                              std::size_t many_limit = 0) {
  std::vector<std::size_t> taken;
  schedule.take(now, mode, many_limit, taken);
  return taken;
}

/// A result with a status and, optionally, an eta hint.
TranslationResult result_of(TranslationStatus status, std::optional<double> eta = std::nullopt) {
  TranslationResult result;
  result.status = status;
  result.eta_seconds = eta;
  return result;
}

/// Options for the tracker protocol under a path prefix.
ClientOptions api_options() {
  ClientOptions options;
  options.base_url = "http://h/api";
  return options;
}

/// A status word of the toy protocol as an answer: "pending", "completed" or "failed".
OrFailure<StatusAnswer> toy_word(const std::string& word) {
  StatusAnswer answer;
  if (word == "pending") return answer;
  if (word == "completed") {
    answer.status = TranslationStatus::completed;
    return answer;
  }
  if (word == "failed") {
    answer.status = TranslationStatus::error;
    answer.cause = FailureCause::job_failed;
    answer.error_message = "failed";
    return answer;
  }
  return Failure{FailureCause::bad_response, "unknown word " + word};
}

/// A JSON body parsed as an object, or nothing.
std::optional<picojson::value> toy_parse(const std::string& body) {
  picojson::value document;
  if (!picojson::parse(document, body).empty() || !document.is<picojson::object>()) return std::nullopt;
  return document;
}

/// A wire format of the test's own, "v3-like": one create starts a job per language and answers
/// `{"data": {"ids": [...]}}`; a status body is a bare word; the many-status endpoint answers
/// `{"items": {"<id>": "<word>"}, "next_page": "<token>"}` a page at a time, the token asked as `?page=`.
class ToyProtocol {
 public:
  struct create_input {
    std::vector<std::string> languages{};
  };

  void create_request(HttpRequest& out, const create_input& input, std::string_view key) const {
    out.method = "POST";
    out.target = "/v3/video_translate";
    out.headers.push_back({"X-Key", std::string(key)});
    picojson::array languages;
    for (const auto& language : input.languages) languages.emplace_back(language);
    picojson::object body;
    body["languages"] = picojson::value(std::move(languages));
    out.body = picojson::value(std::move(body)).serialize();
  }

  [[nodiscard]] OrFailure<std::vector<std::string>> read_created(const HttpResponse& response) const {
    if (response.status != 200) return Failure{FailureCause::http_status, describe(response)};
    const auto document = toy_parse(response.body);
    if (!document) return Failure{FailureCause::bad_response, "not a JSON object"};
    const picojson::value& ids = document->get("data").get("ids");
    if (!ids.is<picojson::array>()) return Failure{FailureCause::bad_response, "no data.ids"};
    std::vector<std::string> out;
    for (const auto& id : ids.get<picojson::array>())
      if (id.is<std::string>()) out.push_back(id.get<std::string>());
    return out;
  }

  void status_request(HttpRequest& out, std::string_view job_id, Seconds) const {
    out.method = "GET";
    out.target = "/v3/status/" + detail::percent_encode(job_id);
  }

  [[nodiscard]] OrFailure<StatusAnswer> read_status(const HttpResponse& response) const {
    if (response.status != 200) return Failure{FailureCause::http_status, describe(response)};
    return toy_word(response.body);
  }

  [[nodiscard]] std::size_t many_status_limit() const noexcept { return 10; }

  void many_status_request(HttpRequest& out, std::span<const std::string* const> ids, std::string_view page,
                           Seconds) const {
    out.method = "POST";
    out.target = "/v3/statuses";
    if (!page.empty()) append_query(out.target, "page", page);
    picojson::array list;
    for (const std::string* id : ids) list.emplace_back(*id);
    picojson::object body;
    body["ids"] = picojson::value(std::move(list));
    out.body = picojson::value(std::move(body)).serialize();
  }

  [[nodiscard]] OrFailure<ManyStatusAnswer> read_many_status(const HttpResponse& response) const {
    if (response.status != 200) return Failure{FailureCause::http_status, describe(response)};
    const auto document = toy_parse(response.body);
    if (!document || !document->get("items").is<picojson::object>())
      return Failure{FailureCause::bad_response, "no items"};
    ManyStatusAnswer page;
    for (const auto& [id, word] : document->get("items").get<picojson::object>()) {
      if (!word.is<std::string>()) continue;
      auto answer = toy_word(word.get<std::string>());
      if (answer) page.answers.emplace_back(id, std::move(answer).value());
    }
    if (document->get("next_page").is<std::string>()) page.next_page = document->get("next_page").get<std::string>();
    return page;
  }

  [[nodiscard]] bool retryable(const HttpResponse& response) const noexcept { return RetryPolicy::retryable(response); }

  [[nodiscard]] std::string describe(const HttpResponse& response) const {
    return "HTTP " + std::to_string(response.status);
  }
};

using ToyClient = BasicVideoTranslationClient<FakeTransport, FakeClock, ToyProtocol>;

/// test_options() with a fresh profile that knows nothing of a many-status endpoint (so the client tries one).
ClientOptions toy_options() {
  ClientOptions options = test_options();
  options.profile = std::make_shared<ServerProfile>();
  return options;
}

/// The sender on fakes, speaking the tracker protocol; copies of the fakes share their state.
struct SenderHarness {
  ClientOptions options = test_options();
  FakeTransport transport;
  FakeClock clock;
  Sender<FakeTransport, FakeClock> sender{options, transport, clock};
  TrackerProtocol protocol{options};

  /// One status request for "job-1" sent to its final answer.
  OrFailure<HttpResponse> send(CallState& call) {
    HttpRequest request = sender.blank_request();
    protocol.status_request(request, call.job_id, Seconds(0));
    return sender.send(std::move(request), call, protocol);
  }
};

}  // namespace

static_assert(Protocol<TrackerProtocol>);
static_assert(Protocol<ToyProtocol>);

TEST_SUITE("parts") {
// =============================================================================================
// BulkSchedule: time points in, jobs out.
// =============================================================================================

TEST_CASE("parts: schedule: an empty schedule is due never; jobs come out in due order") {
  BulkSchedule schedule(3, Seconds(1), Seconds(0));
  CHECK(schedule.empty());
  CHECK(schedule.next_due() == TimePoint::max());
  push_all(schedule, {t0 + 3s, t0 + 1s, t0 + 2s});
  CHECK_FALSE(schedule.empty());
  CHECK(schedule.next_due() == t0 + 1s);
  CHECK(take(schedule, t0 + 3s, BulkSchedule::Take::one) == std::vector<std::size_t>{1});
  CHECK(schedule.next_due() == t0 + 2s);
  CHECK(take(schedule, t0 + 3s, BulkSchedule::Take::one) == std::vector<std::size_t>{2});
  CHECK(take(schedule, t0 + 3s, BulkSchedule::Take::one) == std::vector<std::size_t>{0});
  CHECK(schedule.empty());
  CHECK(schedule.next_due() == TimePoint::max());
}

TEST_CASE("parts: due queue: pushes, moves and erases in any mix keep (time, slot) order, as a std::set does") {
  DueQueue queue;
  std::set<DueQueue::Entry> expected;
  std::vector<TimePoint> at(40, TimePoint::max());  // each slot's time in `expected`; max: not queued
  std::mt19937 random(7);
  for (int step = 0; step < 5000; ++step) {
    const std::size_t slot = random() % at.size();
    if (random() % 3 == 0) {  // erase, queued or not
      queue.erase(slot);
      expected.erase({at[slot], slot});
      at[slot] = TimePoint::max();
    } else {  // push or move; few distinct times, so ties are common
      const TimePoint when = t0 + std::chrono::seconds(random() % 8);
      queue.push(when, slot);
      expected.erase({at[slot], slot});
      expected.insert({when, slot});
      at[slot] = when;
    }
    REQUIRE(queue.size() == expected.size());
    REQUIRE(queue.contains(slot) == (at[slot] != TimePoint::max()));
    if (!expected.empty()) REQUIRE(queue.top() == *expected.begin());
  }
  for (const auto& entry : expected) {
    REQUIRE(queue.top() == entry);
    queue.erase(entry.second);
  }
  CHECK(queue.empty());
}

TEST_CASE("parts: schedule: a job a take passes over stays queued at its time") {
  BulkSchedule schedule(3, Seconds(1), Seconds(0));
  push_all(schedule, {t0, t0 + 100ms, t0 + 200ms});
  std::vector<std::size_t> taken;
  schedule.take(t0, BulkSchedule::Take::many_status, 10, taken, [](std::size_t job) { return job != 1; });
  CHECK(taken == std::vector<std::size_t>{0, 2});
  CHECK(schedule.queued(1));
  CHECK(schedule.size() == 1);
  CHECK(schedule.next_due() == t0 + 100ms);
}

TEST_CASE("parts: schedule: Take::one takes exactly one job, however many are due") {
  BulkSchedule schedule(4, Seconds(1), Seconds(0));
  push_all(schedule, {t0, t0, t0, t0});
  CHECK(take(schedule, t0, BulkSchedule::Take::one, 100) == std::vector<std::size_t>{0});
  CHECK(take(schedule, t0, BulkSchedule::Take::one, 100) == std::vector<std::size_t>{1});
  CHECK(schedule.next_due() == t0);
}

TEST_CASE("parts: schedule: Take::many_status takes the jobs due within two min_intervals") {
  BulkSchedule schedule(4, Seconds(1), Seconds(0));
  push_all(schedule, {t0, t0 + 1s, t0 + 2s, t0 + 2500ms});
  CHECK(take(schedule, t0, BulkSchedule::Take::many_status, 10) == std::vector<std::size_t>{0, 1, 2});
  CHECK(schedule.next_due() == t0 + 2500ms);
}

TEST_CASE("parts: schedule: on_round sends a job due now to a round at once, or to the next when one just went") {
  BulkSchedule schedule(4, Seconds(1), Seconds(0));  // round window: 2 s
  const TimePoint now = t0 + 3s;
  CHECK(schedule.on_round(now, now) == now);  // no round yet: at once
  CHECK(schedule.on_round(t0 + 1s, now) == t0 + 1s);
  push_all(schedule, {now});
  CHECK(take(schedule, now, BulkSchedule::Take::many_status, 10) == std::vector<std::size_t>{0});
  CHECK(schedule.on_round(now, now) == t0 + 5s);  // a round just went out: the next, a window later
  CHECK(schedule.on_round(t0 + 1s, t0 + 4s) == t0 + 5s);
  CHECK(schedule.on_round(t0 + 3500ms, now) == t0 + 3500ms);  // a later due time is kept
  CHECK(schedule.on_round(TimePoint::max(), now) == TimePoint::max());
  CHECK(schedule.on_round(t0 + 5s, t0 + 5s) == t0 + 5s);  // a window on: at once again
}

TEST_CASE("parts: schedule: jobs arriving one by one share a round a window") {
  BulkSchedule schedule(0, Seconds(0.05), Seconds(0));  // round window: 100 ms
  int rounds = 0;
  std::size_t looks = 0;
  std::vector<std::size_t> taken;
  for (int ms = 0; ms < 1000; ++ms) {  // a job arrives every 10 ms; a worker takes what is due each ms
    const TimePoint now = t0 + std::chrono::milliseconds(ms);
    if (ms % 10 == 0) schedule.push(schedule.on_round(now, now), static_cast<std::size_t>(ms / 10));
    if (schedule.empty() || schedule.next_due() > now) continue;
    schedule.take(now, BulkSchedule::Take::many_status, 1000, taken);
    ++rounds;
    looks += taken.size();
  }
  CHECK(rounds == 10);
  CHECK(looks == 100 - 9);  // the last window's arrivals after its round wait for the next round
}

TEST_CASE("parts: schedule: Take::many_status stops at the many-status limit") {
  BulkSchedule schedule(4, Seconds(1), Seconds(0));
  push_all(schedule, {t0, t0 + 1s, t0 + 2s, t0 + 2500ms});
  CHECK(take(schedule, t0, BulkSchedule::Take::many_status, 2) == std::vector<std::size_t>{0, 1});
  CHECK(schedule.next_due() == t0 + 2s);
}

TEST_CASE("parts: schedule: Take::per_job takes a job ahead of time only once its not-before has passed") {
  // plan(): job 0 due at 2.25 s; job 1 planned at 0.5 s with a 2.5 s wait: due at 3 s, not before 3 - 2.5/5 = 2.5 s.
  auto planned = [] {
    BulkSchedule schedule(2, Seconds(1), Seconds(0));
    schedule.note_look_time(Seconds(0.25), 1);  // 4 looks fit in min_interval: the take is not what limits
    const TimePoint far = t0 + 100s;
    schedule.push(schedule.plan(0, t0, Seconds(2.25), far), 0);
    schedule.push(schedule.plan(1, t0 + 500ms, Seconds(2.5), far), 1);
    return schedule;
  };
  BulkSchedule early = planned();
  CHECK(early.next_due() == t0 + 2250ms);
  CHECK(take(early, t0 + 2250ms, BulkSchedule::Take::per_job) == std::vector<std::size_t>{0});
  CHECK(early.next_due() == t0 + 3s);
  BulkSchedule ready = planned();
  CHECK(take(ready, t0 + 2500ms, BulkSchedule::Take::per_job) == std::vector<std::size_t>{0, 1});
  CHECK(ready.empty());
}

TEST_CASE("parts: schedule: Take::per_job takes no job due beyond one min_interval") {
  BulkSchedule schedule(3, Seconds(1), Seconds(0));
  schedule.note_look_time(Seconds(0.25), 1);
  push_all(schedule, {t0, t0 + 1s, t0 + 1500ms});
  CHECK(take(schedule, t0, BulkSchedule::Take::per_job) == std::vector<std::size_t>{0, 1});
  CHECK(schedule.next_due() == t0 + 1500ms);
}

TEST_CASE("parts: schedule: Take::per_job takes as many looks as fit in min_interval at the measured look time") {
  auto taken_with = [](std::optional<Seconds> look_time) {
    BulkSchedule schedule(300, Seconds(1), Seconds(0));
    for (std::size_t job = 0; job < 300; ++job) schedule.push(t0, job);
    if (look_time) schedule.note_look_time(*look_time, 1);
    return take(schedule, t0, BulkSchedule::Take::per_job).size();
  };
  CHECK(taken_with(std::nullopt) == 1u);                        // nothing measured yet
  CHECK(taken_with(Seconds(1)) == 1u);                          // a look takes all of min_interval
  CHECK(taken_with(Seconds(0.25)) == 4u);                       // four fit
  CHECK(taken_with(Seconds(0.001)) == BulkSchedule::max_take);  // a thousand would fit
  static_assert(BulkSchedule::max_take < 300);
}

TEST_CASE("parts: schedule: note_look_time keeps a running estimate, per look") {
  BulkSchedule schedule(1, Seconds(1), Seconds(0));
  schedule.note_look_time(Seconds(1), 4);  // 0.25 s each
  CHECK(schedule.looks_within(Seconds(1)) == 4u);
  schedule.note_look_time(Seconds(1.25), 1);  // 0.8 × 0.25 + 0.2 × 1.25 = 0.45 s
  CHECK(schedule.looks_within(Seconds(1)) == 2u);
  schedule.note_look_time(Seconds(5), 0);  // no looks: ignored
  CHECK(schedule.looks_within(Seconds(1)) == 2u);
}

TEST_CASE("parts: schedule: plan never goes past the deadline") {
  BulkSchedule schedule(1, Seconds(1), Seconds(0));
  CHECK(schedule.plan(0, t0 + 1s, Seconds(10), t0 + 6s) == t0 + 6s);
  // Coalescing would move 20.5 s to 21 s: the deadline at 20.7 s comes first.
  BulkSchedule coarse(1, Seconds(0.05), Seconds(1));
  CHECK(coarse.plan(0, t0 + 500ms, Seconds(20), t0 + 20700ms) == t0 + 20700ms);
}

TEST_CASE("parts: schedule: a wait of at least 20 ticks is rounded up to the end of its tick") {
  BulkSchedule schedule(1, Seconds(0.05), Seconds(0.05));
  CHECK(schedule.plan(0, t0 + 1234ms, Seconds(2), t0 + 100s) == t0 + 3250ms);  // 3.234 s → the tick ending at 3.25 s
  CHECK(schedule.plan(0, t0 + 1250ms, Seconds(2), t0 + 100s) == t0 + 3250ms);  // already on a tick: unchanged
}

TEST_CASE("parts: schedule: a short wait is not coalesced, and coalesce 0 turns coalescing off") {
  BulkSchedule schedule(1, Seconds(0.05), Seconds(0.05));
  CHECK(schedule.plan(0, t0 + 1234ms, Seconds(0.5), t0 + 100s) == t0 + 1734ms);  // 10 ticks
  BulkSchedule exact(1, Seconds(0.05), Seconds(0));
  CHECK(exact.plan(0, t0 + 1234ms, Seconds(2), t0 + 100s) == t0 + 3234ms);
}

// =============================================================================================
// JobPoller and PollingRules: an answer in, a wait out.
// =============================================================================================

TEST_CASE("parts: poller: a pending answer waits the cold schedule; a completed one ends the job") {
  PollPolicy policy;
  ServerProfile profile;
  PollingRules rules(policy, profile, [] { return 0.5; });
  JobPoller poller;
  const auto first = poller.after_answer(rules, result_of(TranslationStatus::pending), std::nullopt, false, Seconds(0));
  REQUIRE(first);
  PollContext context;
  context.looks = 1;
  CHECK(*first == policy.next_wait(context, 0.5));
  CHECK(*first == Seconds(2.0 * (1.0 - 0.1 * 0.5)));  // initial_interval × (1 - jitter × u)
  const auto second = poller.after_answer(rules, result_of(TranslationStatus::pending), std::nullopt, false, *first);
  REQUIRE(second);
  CHECK(*second == Seconds(4.0 * (1.0 - 0.1 * 0.5)));  // × multiplier
  CHECK(poller.looks() == 2);
  CHECK_FALSE(poller.after_answer(rules, result_of(TranslationStatus::completed), std::nullopt, false, Seconds(6)));
  CHECK(poller.looks() == 2);
}

TEST_CASE("parts: poller: a held long poll asks for the next look at once") {
  PollPolicy policy;
  ServerProfile profile;
  PollingRules rules(policy, profile, [] { return 0.5; });
  JobPoller poller;
  CHECK(poller.after_answer(rules, result_of(TranslationStatus::pending), std::nullopt, true, Seconds(30)) ==
        Seconds(0));
  CHECK(poller.looks() == 1);
}

TEST_CASE("parts: poller: an eta hint marks the server as hinting and sets the wait; none marks it as not") {
  PollPolicy policy;
  ServerProfile hinting;
  PollingRules rules(policy, hinting, [] { return 0.5; });
  JobPoller poller;
  const auto wait =
      poller.after_answer(rules, result_of(TranslationStatus::pending, 10.0), std::nullopt, false, Seconds(1));
  CHECK(hinting.hints() == Support::yes);
  CHECK(wait == Seconds(8));  // 0.8 × eta

  ServerProfile silent;
  PollingRules silent_rules(policy, silent, [] { return 0.5; });
  JobPoller other;
  other.after_answer(silent_rules, result_of(TranslationStatus::pending), std::nullopt, false, Seconds(1));
  CHECK(silent.hints() == Support::no);
}

TEST_CASE("parts: poller: a job that finishes after a pending look teaches one duration") {
  PollPolicy policy;
  ServerProfile profile;
  PollingRules rules(policy, profile, [] { return 0.5; });
  JobPoller poller;
  poller.after_answer(rules, result_of(TranslationStatus::pending), std::nullopt, false, Seconds(2));
  CHECK(profile.durations().size() == 0u);
  poller.after_answer(rules, result_of(TranslationStatus::completed), std::nullopt, false, Seconds(4));
  // Finished between the pending look (2 s) and the answer (4 s): drawn at u = 0.5.
  CHECK(profile.durations().samples() == std::vector<Seconds>{Seconds(3)});

  JobPoller at_once;  // done at an immediate first look: may have finished long before, teaches nothing
  at_once.after_answer(rules, result_of(TranslationStatus::completed), std::nullopt, false, Seconds(1));
  CHECK(profile.durations().size() == 1u);
}

TEST_CASE("parts: poller: long_poll_budget is the policy's hold, bounded by the deadline less a second") {
  PollPolicy policy;  // long_poll 30 s
  ServerProfile profile;
  PollingRules rules(policy, profile, [] { return 0.5; });
  CHECK(rules.long_poll_budget(Seconds(100)) == Seconds(30));
  CHECK(rules.long_poll_budget(Seconds(10)) == Seconds(9));
  CHECK(rules.long_poll_budget(Seconds(1.5)) == Seconds(0));  // under a second left after the margin
  profile.set_long_poll(Support::no);
  CHECK(rules.long_poll_budget(Seconds(100)) == Seconds(0));

  PollPolicy off;
  off.long_poll = Seconds(0);
  ServerProfile other;
  PollingRules off_rules(off, other, [] { return 0.5; });
  CHECK(off_rules.long_poll_budget(Seconds(100)) == Seconds(0));
}

TEST_CASE("parts: poller: long_poll_held records whether the server held the look") {
  PollPolicy policy;
  ServerProfile profile;
  PollingRules rules(policy, profile, [] { return 0.5; });
  CHECK_FALSE(rules.long_poll_held(Seconds(0), Seconds(5)));  // nothing asked: nothing learnt
  CHECK(profile.long_poll() == Support::unknown);
  CHECK(rules.long_poll_held(Seconds(10), Seconds(6)));
  CHECK(profile.long_poll() == Support::yes);
  CHECK_FALSE(rules.long_poll_held(Seconds(10), Seconds(2)));
  CHECK(profile.long_poll() == Support::no);
}

TEST_CASE("parts: poller: first_wait is where learnt jobs start finishing, none once the server gives hints") {
  PollPolicy policy;
  ServerProfile profile;
  PollingRules rules(policy, profile, [] { return 0.5; });
  CHECK(rules.first_wait() == Seconds(0));  // nothing learnt
  for (int i = 0; i < 20; ++i) profile.durations().record(Seconds(10));
  CHECK(rules.first_wait() == Seconds(10));
  profile.set_hints(Support::yes);
  CHECK(rules.first_wait() == Seconds(0));
}

// =============================================================================================
// JSON: numbers read without picojson's strtod, exactly as picojson reads them.
// =============================================================================================

namespace {

/// What picojson's own parse makes of `{"v": <number>}`: the value, or nothing when it fails or throws.
std::optional<picojson::value> picojson_number(const std::string& number) {
  picojson::value document;
  try {
    if (!picojson::parse(document, "{\"v\": " + number + "}").empty()) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return document.get("v");
}

/// What the library's reader makes of the same body.
std::optional<picojson::value> library_number(const std::string& number) {
  picojson::value document;
  if (json::parse_object("{\"v\": " + number + "}", document)) return std::nullopt;
  return document.get("v");
}

}  // namespace

TEST_CASE("parts: json: a number reads exactly as picojson reads it: value, type, and what is refused") {
  std::vector<std::string> numbers = {"0",
                                      "-0",
                                      "1",
                                      "-1",
                                      "0.5",
                                      "-.5",
                                      "1.",
                                      "01",
                                      "1e5",
                                      "1E-5",
                                      "1e+5",
                                      "-1.25e-3",
                                      "0.1",
                                      "3.141592653589793",
                                      "9007199254740993",
                                      "123456789012345678901234567890",
                                      "1.7976931348623157e308",
                                      "2.2250738585072014e-308",
                                      "4.9e-324",
                                      "1e-400",
                                      "-1e-400",
                                      "1e999",
                                      "-1e999",
                                      "1.2.3",
                                      "-",
                                      "--1",
                                      "1e",
                                      "1e+",
                                      "1-2",
                                      "1e5e5",
                                      "+1",
                                      ".5",
                                      "1e5.5",
                                      "0x10",
                                      "1 2"};
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> spread(-1e6, 1e6);
  for (int i = 0; i < 500; ++i) {
    char text[40];
    std::snprintf(text, sizeof text, i % 2 ? "%.17g" : "%.3f", spread(random));
    numbers.emplace_back(text);
    numbers.push_back(std::to_string(random() >> (i % 64)));
  }
  for (const std::string& number : numbers) {
    CAPTURE(number);
    const auto expected = picojson_number(number);
    const auto got = library_number(number);
    REQUIRE(got.has_value() == expected.has_value());
    if (!got) continue;
    CHECK(got->is<double>() == expected->is<double>());
    CHECK(got->serialize() == expected->serialize());  // the same double, bit for bit as picojson prints it
    CHECK(std::signbit(got->get<double>()) == std::signbit(expected->get<double>()));
  }
}

// =============================================================================================
// TrackerProtocol: requests built, answers read.
// =============================================================================================

TEST_CASE("parts: tracker: create_request posts {} with the Idempotency-Key under the base URL's prefix") {
  const TrackerProtocol protocol(api_options());
  HttpRequest request;
  protocol.create_request(request, {}, "key-1");
  CHECK(request.method == "POST");
  CHECK(request.target == "/api/create_job");
  CHECK(request.body == "{}");
  CHECK(header_of(request, "Idempotency-Key") == "key-1");
  CHECK(header_of(request, "Content-Type") == "application/json");
}

TEST_CASE("parts: tracker: status_request percent-encodes the id and asks ?wait= for a long poll") {
  const TrackerProtocol protocol(api_options());
  HttpRequest plain;
  protocol.status_request(plain, "job-1", Seconds(0));
  CHECK(plain.method == "GET");
  CHECK(plain.target == "/api/status/job-1");
  HttpRequest held;
  protocol.status_request(held, "job-1", Seconds(1.5));
  CHECK(held.target == "/api/status/job-1?wait=1.5");
  HttpRequest odd;
  protocol.status_request(odd, "a/b c", Seconds(0));
  CHECK(odd.target == "/api/status/a%2Fb%20c");
}

TEST_CASE("parts: tracker: many_status_request posts the ids to the batch endpoint") {
  const TrackerProtocol protocol(api_options());
  const std::string a = "a";
  const std::string b = "b/2";
  const std::vector<const std::string*> ids{&a, &b};
  HttpRequest request;
  protocol.many_status_request(request, ids, "", Seconds(0));
  CHECK(request.method == "POST");
  CHECK(request.target == "/api/status/batch");
  CHECK(request.body == R"({"job_ids":["a","b\/2"]})");  // picojson escapes '/', as JSON allows
  HttpRequest held;
  protocol.many_status_request(held, ids, "", Seconds(30));
  CHECK(held.target == "/api/status/batch?wait=30");
  CHECK(protocol.many_status_limit() == 1000u);
}

TEST_CASE("parts: tracker: read_status maps bodies and statuses to answers and failures") {
  const TrackerProtocol protocol(api_options());
  const auto pending = protocol.read_status(answer(200, R"({"result": "pending"})"));
  REQUIRE(pending.ok());
  CHECK(pending->status == TranslationStatus::pending);
  CHECK(pending->cause == FailureCause::none);

  const auto failed = protocol.read_status(answer(200, R"({"result": "error", "error_message": "x"})"));
  REQUIRE(failed.ok());
  CHECK(failed->status == TranslationStatus::error);
  CHECK(failed->cause == FailureCause::job_failed);
  CHECK(failed->error_message == "x");

  const auto unknown = protocol.read_status(answer(404, ""));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.failure().cause == FailureCause::unknown_job);
  CHECK(unknown.failure().message == "unknown job (HTTP 404)");

  const auto broken = protocol.read_status(answer(500, R"({"error": "boom"})"));
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.failure().cause == FailureCause::http_status);
  CHECK(broken.failure().message == "HTTP 500: boom");

  const auto garbled = protocol.read_status(answer(200, R"({"result": )"));
  REQUIRE_FALSE(garbled.ok());
  CHECK(garbled.failure().cause == FailureCause::bad_response);
}

namespace {

/// What reading `body` as a fully parsed object gives: the answer, or the error (the oracle of the flat scan).
std::pair<std::optional<StatusAnswer>, std::string> read_fully(std::string_view body) {
  std::string error;
  picojson::value document;
  if (!json::parse_object_into(body, document, error)) return {std::nullopt, error};
  auto answer = tracker::read_status_object(document.get<picojson::object>(), error);
  return {std::move(answer), error};
}

/// Status bodies from pieces, some flat, some not, some broken: every member kind, escapes, nesting, literals,
/// numbers from_chars or JSON refuses, odd whitespace and truncations.
std::vector<std::string> status_bodies(std::size_t random_count) {
  std::vector<std::string> bodies = {R"({"result":"pending","progress":0.2229,"eta_seconds":3.912})",
                                     " \t\r\n{ \"result\" :\t\"pending\" ,\n\"progress\": 0.5 } \n",
                                     R"({"result":"completed"})",
                                     R"({"result":"error","error_message":"boom"})",
                                     R"({"result":"error","error_message":null})",
                                     R"({"result":"error"})",
                                     R"({"result":"weird"})",
                                     R"({"result":"pend\u0069ng"})",
                                     R"({"re\"sult":"pending"})",
                                     R"({"result":"error","error_message":"a\nb"})",
                                     "{\"result\":\"pen\tding\"}",
                                     std::string(R"({"result":"pen)") + '\0' + R"(ding"})",
                                     "{\"result\":\"pend\xc3\xafng\"}",
                                     R"({"result":"pending","meta":{"a":[1,2]}})",
                                     R"({"result":"pending","list":[]})",
                                     R"({"result":["pending"]})",
                                     R"({"result":"pending","progress":null})",
                                     R"({"result":"pending","x":true,"y":false,"z":null})",
                                     R"({"result":true})",
                                     R"({"result":"pending","x":tru})",
                                     R"({"result":"pending","x":nul})",
                                     R"({"result":"pending","x":nullx})",
                                     R"({"result":"pending","progress":1e999})",
                                     R"({"result":"pending","other":1e999})",
                                     R"({"result":"pending","other":-1e999})",
                                     R"({"result":"pending","progress":1e-400})",
                                     R"({"result":"pending","progress":01})",
                                     R"({"result":"pending","progress":1.})",
                                     R"({"result":"pending","progress":-.5})",
                                     R"({"result":"pending","progress":1e})",
                                     R"({"result":"pending","progress":--1})",
                                     R"({"result":"pending","progress":0x10})",
                                     R"({"result":"pending","eta_seconds":123456789012345678901234})",
                                     R"({"result":"pending","eta_seconds":-1})",
                                     R"({"result":"pending","progress":1.5})",
                                     R"({"result":"completed","result":"pending"})",
                                     R"({"result":"pending","progress":0.5,"progress":"x"})",
                                     R"({"result_x":"completed","result":"pending"})",
                                     R"({"result":"pending"} x)",
                                     R"({"result":"pending"},)",
                                     R"({"result":"pending",})",
                                     R"({,})",
                                     "{}",
                                     R"({"result"})",
                                     R"({"result":})",
                                     R"({"result" "pending"})",
                                     "[1]",
                                     R"("x")",
                                     "42",
                                     "",
                                     " ",
                                     "{",
                                     R"({"result":"pending")",
                                     R"({"a":1 "b":2})",
                                     R"({"result":"pending"}})"};
  const std::vector<std::string> keys = {R"("result")",        R"("progress")", R"("eta_seconds")",
                                         R"("error_message")", R"("other")",    R"("res\u0075lt")"};
  const std::vector<std::string> values = {
      R"("pending")", R"("completed")", R"("error")", R"("x\"y")", "0.25", "-3",    "7e2",
      "1e999",        "true",           "null",       "{}",        "[0]",  R"("")", "2."};
  std::mt19937_64 random(11);
  auto pick = [&](const std::vector<std::string>& from) { return from[random() % from.size()]; };
  for (std::size_t i = 0; i < random_count; ++i) {
    std::string body = "{";
    for (std::size_t members = random() % 5, m = 0; m < members; ++m) {
      // Appended piece by piece: g++ 12 at -O3 reports a -Wrestrict false positive on `"…" + std::string`.
      if (m > 0) body += ',';
      body += pick(keys);
      body += random() % 4 ? ":" : " : ";
      body += pick(values);
    }
    body += "}";
    if (random() % 3 == 0) body.erase(random() % body.size(), 1);  // a broken one now and then
    if (random() % 5 == 0) body.insert(random() % (body.size() + 1), 1, " \n,:}\"\\"[random() % 7]);
    bodies.push_back(body);
  }
  return bodies;
}

}  // namespace

TEST_CASE("parts: tracker: read_status reads every body exactly as a full parse of it does, errors included") {
  for (const std::string& body : status_bodies(5000)) {
    CAPTURE(body);
    std::string error;
    const auto answer = tracker::read_status(body, error);
    const auto [expected, expected_error] = read_fully(body);
    REQUIRE(answer.has_value() == expected.has_value());
    if (!answer) {
      CHECK(error == expected_error);
      continue;
    }
    CHECK(answer->status == expected->status);
    CHECK(answer->cause == expected->cause);
    CHECK(answer->error_message == expected->error_message);
    CHECK(answer->progress == expected->progress);
    CHECK(answer->eta_seconds == expected->eta_seconds);
  }
}

TEST_CASE("parts: tracker: the flat scan reads flat bodies and leaves nesting, escapes and odd numbers to picojson") {
  tracker::StatusFields fields;
  REQUIRE(tracker::FlatStatusScan(R"( {"result": "pending", "progress": 0.25, "x": null, "y": [0]} )").read(fields) ==
          false);
  fields = {};
  REQUIRE(tracker::FlatStatusScan(R"( {"result": "pending", "progress": 0.25, "x": null, "eta_seconds": 3} )")
              .read(fields));
  CHECK(fields.result.get<std::string>() == "pending");
  CHECK(fields.progress.get<double>() == 0.25);
  CHECK(fields.eta_seconds.get<double>() == 3.0);
  CHECK(fields.error_message.is<picojson::null>());
  for (const char* body : {R"({"result":"pend\u0069ng"})", R"({"result":"pending","p":1e999})", R"({"a":{}})",
                           R"({"result":"pending"} x)", ""}) {
    CAPTURE(body);
    tracker::StatusFields ignored;
    CHECK_FALSE(tracker::FlatStatusScan(body).read(ignored));
  }
}

TEST_CASE("parts: tracker: read_created takes a string or numeric job_id; a 409 is an http_status failure") {
  const TrackerProtocol protocol(api_options());
  const auto text = protocol.read_created(answer(200, R"({"job_id": "abc"})"));
  REQUIRE(text.ok());
  CHECK(text.value() == std::vector<std::string>{"abc"});
  const auto number = protocol.read_created(answer(200, R"({"job_id": 7})"));
  REQUIRE(number.ok());
  CHECK(number.value() == std::vector<std::string>{"7"});
  const auto conflict = protocol.read_created(answer(409, R"({"error": "busy"})"));
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.failure().cause == FailureCause::http_status);
  CHECK(conflict.failure().message == "HTTP 409: busy");
  const auto nameless = protocol.read_created(answer(200, R"({"id": "abc"})"));
  REQUIRE_FALSE(nameless.ok());
  CHECK(nameless.failure().cause == FailureCause::bad_response);
}

TEST_CASE("parts: tracker: read_many_status reads the results map; an unknown id is unknown_job; 404 fails") {
  const TrackerProtocol protocol(api_options());
  const auto page = protocol.read_many_status(answer(
      200, R"({"results": {"a": {"result": "completed"}, "b": {"result": "error", "error_message": "unknown job"}}})"));
  REQUIRE(page.ok());
  REQUIRE(page->answers.size() == 2u);
  CHECK(page->answers[0].first == "a");
  CHECK(page->answers[0].second.status == TranslationStatus::completed);
  CHECK(page->answers[1].first == "b");
  CHECK(page->answers[1].second.status == TranslationStatus::error);
  CHECK(page->answers[1].second.cause == FailureCause::unknown_job);
  CHECK(page->next_page.empty());
  const auto absent = protocol.read_many_status(answer(404, ""));
  REQUIRE_FALSE(absent.ok());
  CHECK(absent.failure().cause == FailureCause::http_status);
}

TEST_CASE("parts: tracker: retryable and invalid endpoint paths") {
  const TrackerProtocol protocol(api_options());
  CHECK(protocol.retryable(answer(503, "")));
  CHECK(protocol.retryable(no_answer(TransportError::reset)));
  CHECK_FALSE(protocol.retryable(answer(400, "")));
  ClientOptions relative = api_options();
  relative.endpoints.create_job = "create_job";
  CHECK_THROWS_AS(TrackerProtocol{relative}, std::invalid_argument);
  ClientOptions spaced = api_options();
  spaced.endpoints.status = "/status /{job_id}";
  CHECK_THROWS_AS(TrackerProtocol{spaced}, std::invalid_argument);
  ClientOptions broken = api_options();
  broken.endpoints.batch = "/status/batch\r\nX: y";
  CHECK_THROWS_AS(TrackerProtocol{broken}, std::invalid_argument);
}

TEST_CASE("parts: append_query starts a query or adds to one") {
  std::string target = "/status/a";
  append_query(target, "wait", "1.5");
  CHECK(target == "/status/a?wait=1.5");
  append_query(target, "page", "p2");
  CHECK(target == "/status/a?wait=1.5&page=p2");
}

// =============================================================================================
// A protocol of the test's own, through the client.
// =============================================================================================

TEST_CASE("parts: toy protocol: a create that starts two jobs returns both ids") {
  FakeTransport transport;
  transport.then(answer(200, R"({"data": {"ids": ["a", "b"]}})"));
  ToyClient client(toy_options(), transport, FakeClock{}, ToyProtocol{});
  CHECK(client.create_translation_jobs(ToyProtocol::create_input{{"es", "fr"}}) == std::vector<std::string>{"a", "b"});
  const auto requests = transport.requests();
  REQUIRE(requests.size() == 1u);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].url == "http://127.0.0.1:5000/v3/video_translate");
  CHECK(requests[0].body == R"({"languages":["es","fr"]})");
  const auto key = header_of(requests[0], "X-Key");
  REQUIRE(key);
  CHECK(key->size() == 32u);
}

TEST_CASE("parts: toy protocol: a single wait looks through the protocol's status request") {
  FakeTransport transport;
  transport.then(answer(200, "pending")).then(answer(200, "completed"));
  FakeClock clock;
  ToyClient client(toy_options(), transport, clock, ToyProtocol{});
  const TranslationResult result = client.get_translation_status("x/y");
  CHECK(result.status == TranslationStatus::completed);
  CHECK(result.requests == 2);
  CHECK(clock.sleeps() == Sleeps{1900ms});
  for (const auto& request : transport.requests()) CHECK(request.target == "/v3/status/x%2Fy");
}

TEST_CASE("parts: toy protocol: a bulk wait follows the many-status pages") {
  FakeTransport transport;
  transport.then(answer(200, R"({"items": {"a": "completed", "b": "completed"}, "next_page": "p2"})"));
  transport.then(answer(200, R"({"items": {"c": "completed"}})"));
  ToyClient client(toy_options(), transport, FakeClock{}, ToyProtocol{});
  const auto results = client.get_bulk_translation_statuses({"c", "a", "b"});
  REQUIRE(results.size() == 3u);
  for (const auto& entry : results) {
    CAPTURE(entry.first);
    CHECK(entry.second.status == TranslationStatus::completed);
    CHECK(entry.second.requests == 2);
  }
  const auto requests = transport.requests();
  REQUIRE(requests.size() == 2u);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/v3/statuses");
  CHECK(requests[0].body == R"({"ids":["a","b","c"]})");
  CHECK(requests[1].target == "/v3/statuses?page=p2");
  CHECK(requests[1].body == R"({"ids":["a","b","c"]})");
  CHECK(client.profile().batch() == Support::yes);
}

// =============================================================================================
// Sender: retries, backoff, Retry-After, cancellation and the deadline.
// =============================================================================================

TEST_CASE("parts: sender: a 503 then a 200 gives the 200 after one backoff") {
  SenderHarness h;
  h.transport.then(answer(503, "")).then(status_answer("completed"));
  CallState call = h.sender.begin("job-1", {});
  const auto response = h.send(call);
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(call.requests == 2);
  CHECK(call.last_http_status == 200);
  CHECK(call.last_failure.empty());
  CHECK(h.clock.sleeps() == Sleeps{250ms});  // u = 0.5 × initial_backoff 0.5 s
}

TEST_CASE("parts: sender: a 429 with Retry-After: 2 waits exactly 2 s") {
  SenderHarness h;
  h.transport.then(answer(429, "", {{"Retry-After", "2"}})).then(status_answer("pending"));
  CallState call = h.sender.begin("job-1", {});
  const auto response = h.send(call);
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(call.requests == 2);
  CHECK(h.clock.sleeps() == Sleeps{2000ms});
}

TEST_CASE("parts: sender: retries spent end the call with the last failure") {
  SenderHarness h;
  h.options.max_retries = 1;
  Sender<FakeTransport, FakeClock> sender(h.options, h.transport, h.clock);
  h.transport.then_n(2, answer(503, R"({"error": "overloaded"})"));
  CallState call = sender.begin("job-1", {});
  HttpRequest request = sender.blank_request();
  h.protocol.status_request(request, call.job_id, Seconds(0));
  const auto response = sender.send(std::move(request), call, h.protocol);
  REQUIRE_FALSE(response.ok());
  CHECK(response.failure().cause == FailureCause::http_status);
  CHECK(response.failure().message == "HTTP 503: overloaded after 2 attempts");
  CHECK(call.requests == 2);
  CHECK(h.clock.sleeps() == Sleeps{250ms});
}

TEST_CASE("parts: sender: a call cancelled before sending sends nothing") {
  SenderHarness h;
  std::stop_source source;
  source.request_stop();
  CallState call = h.sender.begin("job-1", source.get_token());
  const auto response = h.send(call);
  REQUIRE_FALSE(response.ok());
  CHECK(response.failure().cause == FailureCause::cancelled);
  CHECK(call.requests == 0);
  CHECK(h.transport.request_count() == 0u);
}

TEST_CASE("parts: sender: a call past its deadline sends nothing") {
  SenderHarness h;
  CallState call = h.sender.begin("job-1", {});
  h.clock.advance(300s);  // max_timeout
  const auto response = h.send(call);
  REQUIRE_FALSE(response.ok());
  CHECK(response.failure().cause == FailureCause::deadline);
  CHECK(response.failure().message == "no outcome within max_timeout (300000 ms)");
  CHECK(h.transport.request_count() == 0u);
}

// =============================================================================================
// OrFailure and JobOutputs.
// =============================================================================================

TEST_CASE("parts: or_failure: a value or a failure, and back") {
  OrFailure<std::string> good(std::string("abc"));
  CHECK(good.ok());
  CHECK(static_cast<bool>(good));
  CHECK(good.value() == "abc");
  CHECK(good->size() == 3u);
  const std::string moved = std::move(good).value();
  CHECK(moved == "abc");

  OrFailure<std::string> bad(Failure{FailureCause::unknown_job, "gone"});
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.failure().cause == FailureCause::unknown_job);
  CHECK(bad.failure().message == "gone");
  const Failure taken = std::move(bad).failure();
  CHECK(taken.message == "gone");
}

TEST_CASE("parts: outputs: empty until the server says something") {
  JobOutputs outputs;
  CHECK(outputs.empty());
  outputs.caption_urls.emplace_back("https://cdn/x.vtt");
  CHECK_FALSE(outputs.empty());
  JobOutputs language;
  language.output_language = "es";
  CHECK_FALSE(language.empty());
}

namespace {
/// Checks that `append` (append_percent_encoded, append_quoted) adds to what a buffer holds what `reference`
/// makes of a text: for every byte at once, and for random texts of letters with any byte here and there.
template <class Append, class Reference>
void check_appender(Append append, Reference reference) {
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte) every_byte += static_cast<char>(byte);
  std::string whole;
  append(whole, every_byte);
  CHECK(whole == reference(every_byte));
  std::mt19937 random(22);
  for (int round = 0; round < 2000; ++round) {
    std::string text(random() % 24, '\0');
    for (char& c : text)
      c = random() % 4 == 0 ? static_cast<char>(random() % 256) : static_cast<char>('a' + random() % 26);
    std::string out = "kept/";
    append(out, text);
    std::string expected = "kept/";  // appended: g++ 12 at -O3 misreports `"…" + std::string` (-Wrestrict)
    expected += reference(text);
    CHECK(out == expected);
  }
}
}  // namespace

TEST_CASE("parts: append_percent_encoded encodes as a byte-at-a-time encoder does, runs of plain bytes at once") {
  const auto one_by_one = [](std::string_view text) {
    std::string out;
    for (const char c : text) {
      if (detail::is_unreserved(c)) {
        out += c;
        continue;
      }
      char escape[4];
      std::snprintf(escape, sizeof escape, "%%%02X", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += escape;
    }
    return out;
  };
  check_appender(detail::append_percent_encoded, one_by_one);
  CHECK(detail::percent_encode("") == "");
  CHECK(detail::percent_encode("job-7") == "job-7");
  CHECK(detail::percent_encode("/a b/") == "%2Fa%20b%2F");
}

TEST_CASE("parts: parse_delta_seconds reads delta-seconds alone; parse_retry_after reads them the same") {
  const auto now = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} + std::chrono::seconds(0);
  for (const std::string_view text : {"0", "3", " \t120\t ", "999999999", "99999999999999999999999"}) {
    const auto delta = detail::parse_delta_seconds(text);
    REQUIRE(delta);
    CHECK(delta->count() == detail::parse_retry_after(text, now)->count());
  }
  CHECK(detail::parse_delta_seconds(" 42 ")->count() == 42.0);
  CHECK(detail::parse_delta_seconds("99999999999999999999999")->count() == 1e9);
  for (const std::string_view text : {"", "  ", "-1", "1.5", "3abc", "Thu, 01 Jan 2026 00:00:10 GMT"})
    CHECK_FALSE(detail::parse_delta_seconds(text));
}

TEST_CASE("parts: sender: Retry-After in delta-seconds is read without the wall clock, a date against it") {
  struct WallClock : FakeClock {
    std::shared_ptr<int> wall_reads = std::make_shared<int>(0);
    [[nodiscard]] std::chrono::system_clock::time_point system_now() const {
      ++*wall_reads;
      return std::chrono::sys_days{std::chrono::year{2026} / 1 / 1};
    }
  };
  WallClock clock;
  Sender<FakeTransport, WallClock> sender(test_options(), FakeTransport{}, clock);
  CHECK(sender.retry_after_of(answer(200, "", {{"Retry-After", "7"}}))->count() == 7.0);
  CHECK(*clock.wall_reads == 0);
  CHECK(sender.retry_after_of(answer(200, "", {{"Retry-After", "Thu, 01 Jan 2026 00:00:10 GMT"}}))->count() == 10.0);
  CHECK(*clock.wall_reads == 1);
  CHECK_FALSE(sender.retry_after_of(answer(200, "")));
}

TEST_CASE("parts: Xoshiro256: the same seed draws the same numbers, each in [0, 1), evenly spread") {
  detail::Xoshiro256 a(7), b(7), c(8);
  bool differs = false;
  double sum = 0;
  constexpr int draws = 100'000;
  for (int i = 0; i < draws; ++i) {
    const double x = a.uniform01();
    CHECK(x == b.uniform01());
    differs = differs || x != c.uniform01();
    REQUIRE(x >= 0.0);
    REQUIRE(x < 1.0);
    sum += x;
  }
  CHECK(differs);
  CHECK(sum / draws == doctest::Approx(0.5).epsilon(0.01));
  const double draw = detail::random_uniform01();
  CHECK(draw >= 0.0);
  CHECK(draw < 1.0);
}

namespace {
/// A transport that says it sends only the target, as the bundled one does.
struct TargetOnlyTransport {
  static constexpr bool reads_url = false;
  std::shared_ptr<std::vector<HttpRequest>> sent = std::make_shared<std::vector<HttpRequest>>();
  HttpResponse send(const HttpRequest& request) {
    sent->push_back(request);
    return status_answer("completed");
  }
};
}  // namespace

TEST_CASE("parts: transport_reads_url: the URL is built for a transport unless it says it does not read it") {
  static_assert(transport_reads_url<FakeTransport>);
  static_assert(!transport_reads_url<TargetOnlyTransport>);
#ifdef HEYGEN_VT_WITH_HTTPLIB
  static_assert(!transport_reads_url<HttplibTransport>);
#endif
  TargetOnlyTransport transport;
  BasicVideoTranslationClient<TargetOnlyTransport, FakeClock> client(test_options(), transport, FakeClock{});
  REQUIRE(client.get_translation_status("job-1").ok());
  REQUIRE(transport.sent->size() == 1);
  CHECK(transport.sent->at(0).target == "/status/job-1");
  CHECK(transport.sent->at(0).url.empty());
}

#ifdef HEYGEN_VT_WITH_HTTPLIB
TEST_CASE("parts: request watchdog: a due timer runs, a disarmed one never does, an earlier one wakes it") {
  using SteadyTime = std::chrono::steady_clock::time_point;
  detail::RequestWatchdog watchdog;
  std::atomic<int> ran{0};
  {
    // Far in the future: disarmed (destroyed) before it is due.
    const detail::RequestWatchdog::Armed later(watchdog, std::chrono::steady_clock::now() + std::chrono::hours(1),
                                               [&] { ran += 100; });
    Gate fired;
    {
      // Already due, armed after the later one: the thread, asleep until the later one, wakes for it.
      const auto fire = [&] {
        ++ran;
        fired.open();
      };
      const detail::RequestWatchdog::Armed due(watchdog, std::chrono::steady_clock::now() - std::chrono::seconds(1),
                                               fire);
      fired.wait();
    }
    CHECK(ran == 1);
  }
  {
    Gate first, second;
    const SteadyTime past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    const detail::RequestWatchdog::Armed a(watchdog, past, [&] { first.open(); });
    const detail::RequestWatchdog::Armed b(watchdog, past, [&] { second.open(); });
    first.wait();
    second.wait();
  }
  CHECK(ran == 1);
}
#endif

TEST_CASE("parts: json: plain_decimal reads plain decimals exactly as from_chars does, and leaves the rest") {
  const auto by_from_chars = [](std::string_view text) {
    bool out_of_range = false;
    const auto value = json::from_chars_number(text, out_of_range);
    REQUIRE(value);
    return value->get<double>();
  };
  std::mt19937_64 random(5);
  for (int round = 0; round < 20000; ++round) {
    std::string text = random() % 4 == 0 ? "-" : "";
    const std::size_t whole = 1 + random() % 8, fraction = random() % 9;
    text += static_cast<char>('1' + random() % 9);
    for (std::size_t i = 1; i < whole; ++i) text += static_cast<char>('0' + random() % 10);
    if (random() % 5 == 0) text = text.starts_with('-') ? "-0" : "0";
    if (fraction > 0) text += '.';
    for (std::size_t i = 0; i < fraction; ++i) text += static_cast<char>('0' + random() % 10);
    CAPTURE(text);
    const auto plain = json::plain_decimal(text);
    if (!plain) {  // only a negative zero, or more than 15 digits, is left to from_chars
      CHECK(
          (text.size() - (text.starts_with('-') ? 1 : 0) - (fraction > 0 ? 1 : 0) > 15 || by_from_chars(text) == 0.0));
      continue;
    }
    const double expected = by_from_chars(text);
    CHECK(*plain == expected);
    CHECK(std::signbit(*plain) == std::signbit(expected));
  }
  CHECK(*json::plain_decimal("0.1") == 0.1);
  CHECK(*json::plain_decimal("0.25") == 0.25);
  CHECK(*json::plain_decimal("123456789012345") == 123456789012345.0);
  CHECK(*json::plain_decimal("-7") == -7.0);
  for (const std::string_view text : {"", "-", "01", "-01", "1.", ".5", "1e5", "1E5", "+1", "1.5.2", "1-", "0.0.", "-0",
                                      "-0.0", "1234567890123456", "0.1234567890123456", "1 "})
    CHECK_FALSE(json::plain_decimal(text));
}

TEST_CASE("parts: json: append_quoted writes a string exactly as picojson serializes it") {
  check_appender(json::append_quoted, [](const std::string& text) { return picojson::value(text).serialize(); });
}

TEST_CASE("parts: tracker: batch_body is what picojson made of the ids, byte for byte") {
  const auto by_picojson = [](const std::vector<std::string>& ids) {
    picojson::array array;
    for (const auto& id : ids) array.emplace_back(id);
    picojson::object body;
    body["job_ids"] = picojson::value(std::move(array));
    return picojson::value(std::move(body)).serialize();
  };
  for (const std::vector<std::string>& ids :
       std::vector<std::vector<std::string>>{{},
                                             {"a"},
                                             {"job-1", "job-2", "job-3"},
                                             {"q\"uote", "back\\slash", "sl/ash", "tab\there", "\x01\x7f\xC3\xA9"}}) {
    std::vector<const std::string*> pointers;
    for (const auto& id : ids) pointers.push_back(&id);
    CHECK(tracker::batch_body(pointers) == by_picojson(ids));
  }
}

TEST_CASE("parts: tracker: append_status_target appends what status_target returns") {
  for (const std::string& status_template : {std::string("/status/{job_id}"), std::string("/status"),
                                             std::string("/s?x=1"), std::string("/jobs/{job_id}/state")}) {
    std::string target = "kept";
    tracker::append_status_target(target, "/api", status_template, "a b/c");
    std::string expected = "kept";  // appended: g++ 12 at -O3 misreports `"…" + std::string` (-Wrestrict)
    expected += tracker::status_target("/api", status_template, "a b/c");
    CHECK(target == expected);
  }
  CHECK(tracker::status_target("/api", "/status/{job_id}", "a b") == "/api/status/a%20b");
}
}  // TEST_SUITE("parts")
