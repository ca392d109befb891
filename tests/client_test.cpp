// Unit tests of the client: fake transport, fake clock; exact requests and exact waits.
//
// Nothing here sleeps for real: every wait goes through FakeClock, which jumps virtual time and records
// each sleep's length. test_options() pins random() to 0.5 and turns off long polls and learning, so a
// cold poll wait is the schedule × 0.95 (jitter 0.1 drawn at 0.5) and a full-jitter retry backoff is exactly
// half its ceiling.
//
// The test suite "library_bugs" (at the end) holds tests that expose bugs in the header as it stands;
// they fail until the header is fixed. Run the rest alone with `--test-suite-exclude=library_bugs`.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "string_makers.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace heygen;
using namespace heygen::testing;
using namespace std::chrono_literals;

using Sleeps = std::vector<std::chrono::milliseconds>;

namespace {

/// The fake transport, the fake clock and a client on them (copies of the fakes share their state).
struct Harness {
  FakeTransport transport;
  FakeClock clock;
  FakeClient client;
  explicit Harness(ClientOptions options = test_options()) : client(std::move(options), transport, clock) {}
};

/// The value of the first header named `name` (case-insensitive) in a request.
std::optional<std::string> header_of(const HttpRequest& request, std::string_view name) {
  for (const auto& header : request.headers)
    if (detail::iequals(header.name, name)) return header.value;
  return std::nullopt;
}

/// How many headers named `name` a request carries.
int header_count(const HttpRequest& request, std::string_view name) {
  int count = 0;
  for (const auto& header : request.headers) count += detail::iequals(header.name, name) ? 1 : 0;
  return count;
}

/// "Name: value" for every header, in order.
std::vector<std::string> header_lines(const HttpRequest& request) {
  std::vector<std::string> out;
  for (const auto& header : request.headers) out.push_back(header.name + ": " + header.value);
  return out;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

/// A random() that hands out `values` in order, then repeats the last one. Single-threaded use only.
std::function<double()> random_sequence(std::vector<double> values) {
  auto state = std::make_shared<std::pair<std::vector<double>, std::size_t>>(std::move(values), 0);
  return [state] {
    auto& [list, index] = *state;
    const double value = list[std::min(index, list.size() - 1)];
    ++index;
    return value;
  };
}

std::chrono::milliseconds total(const Sleeps& sleeps) {
  std::chrono::milliseconds sum{0};
  for (const auto s : sleeps) sum += s;
  return sum;
}

/// Builds a client; used to check what construction rejects.
void build(ClientOptions options) { FakeClient client(std::move(options), FakeTransport{}, FakeClock{}); }

ClientOptions with_url(std::string url) {
  ClientOptions options = test_options();
  options.base_url = std::move(url);
  return options;
}

/// Collects log messages from any thread.
struct LogCollector {
  struct Entry {
    LogLevel level;
    std::string message;
  };
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<Entry>> entries = std::make_shared<std::vector<Entry>>();

  LogSink sink() const {
    return [mutex = mutex, entries = entries](LogLevel level, std::string_view message) {
      std::lock_guard lock(*mutex);
      entries->push_back({level, std::string(message)});
    };
  }
  std::vector<Entry> all() const {
    std::lock_guard lock(*mutex);
    return *entries;
  }
  bool any_contains(std::string_view part) const {
    return std::ranges::any_of(all(), [&](const Entry& entry) { return contains(entry.message, part); });
  }
};

HttpResponse status_with(std::string body, std::vector<HttpHeader> headers = {}) {
  return answer(200, std::move(body), std::move(headers));
}

}  // namespace

// =============================================================================================
// The example cases this file started with.
// =============================================================================================

TEST_CASE("create_translation_job posts once and returns the id") {
  FakeTransport transport;
  transport.then(answer(200, R"({"job_id": "abc"})"));
  FakeClient client(test_options(), transport);
  CHECK(client.create_translation_job() == "abc");
  const auto requests = transport.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/create_job");
  CHECK(requests[0].url == "http://127.0.0.1:5000/create_job");
}

TEST_CASE("get_translation_status polls pending until completed, on the schedule") {
  FakeTransport transport;
  transport.then(status_answer("pending")).then(status_answer("pending")).then(status_answer("completed"));
  FakeClock clock;
  FakeClient client(test_options(), transport, clock);
  const TranslationResult result = client.get_translation_status("job-1");
  CHECK(result.status == TranslationStatus::completed);
  CHECK(result.requests == 3);
  // cold schedule 2 s × 2, jitter 0.1 drawn at 0.5 → each wait × 0.95
  CHECK(clock.sleeps() == std::vector<std::chrono::milliseconds>{1900ms, 3800ms});
  for (const auto& request : transport.requests()) CHECK(request.target == "/status/job-1");
}

// =============================================================================================
// 1. The exact requests
// =============================================================================================

TEST_SUITE("requests") {
TEST_CASE("create sends POST with Accept, Idempotency-Key, Content-Type and a JSON body") {
  Harness h;
  h.transport.then(answer(200, R"({"job_id": "j1"})"));
  REQUIRE(h.client.create_translation_job() == "j1");
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 1u);
  const HttpRequest& request = requests[0];
  CHECK(request.method == "POST");
  CHECK(request.target == "/create_job");
  CHECK(request.url == "http://127.0.0.1:5000/create_job");
  CHECK(request.body == "{}");
  CHECK(request.timeout == 30000ms);  // request_timeout (30 s) is below what is left of max_timeout (300 s)
  const auto key = header_of(request, "Idempotency-Key");
  REQUIRE(key);
  CHECK(key->size() == 32u);
  CHECK(key->find_first_not_of("0123456789abcdef") == std::string::npos);
  const auto lines = header_lines(request);
  REQUIRE(lines.size() == 3u);
  CHECK(lines[0] == "Accept: application/json");
  CHECK(lines[1] == "Idempotency-Key: " + *key);
  CHECK(lines[2] == "Content-Type: application/json");
  CHECK(header_count(request, "Authorization") == 0);
}

TEST_CASE("status sends GET with only Accept, an empty body and the status target") {
  Harness h;
  h.transport.then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("job-7").ok());
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 1u);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/status/job-7");
  CHECK(requests[0].url == "http://127.0.0.1:5000/status/job-7");
  CHECK(requests[0].body.empty());
  CHECK(header_lines(requests[0]) == std::vector<std::string>{"Accept: application/json"});
  CHECK(requests[0].timeout == 30000ms);
}

TEST_CASE("bearer_token and extra_headers go on every request, extra headers first") {
  ClientOptions options = test_options();
  options.bearer_token = "tok-123";
  options.extra_headers = {{"X-Trace", "t1"}, {"X-Team", "vt"}};
  Harness h(options);
  h.transport.then(answer(200, R"({"job_id": "j"})")).then(status_answer("completed"));
  REQUIRE(h.client.create_translation_job() == "j");
  REQUIRE(h.client.get_translation_status("j").ok());
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 2u);
  const auto create_lines = header_lines(requests[0]);
  REQUIRE(create_lines.size() == 6u);
  CHECK(create_lines[0] == "X-Trace: t1");
  CHECK(create_lines[1] == "X-Team: vt");
  CHECK(create_lines[2] == "Accept: application/json");
  CHECK(create_lines[3] == "Authorization: Bearer tok-123");
  CHECK(contains(create_lines[4], "Idempotency-Key: "));
  CHECK(create_lines[5] == "Content-Type: application/json");
  CHECK(header_lines(requests[1]) == std::vector<std::string>{"X-Trace: t1", "X-Team: vt", "Accept: application/json",
                                                              "Authorization: Bearer tok-123"});
}

TEST_CASE("one create keeps the same Idempotency-Key on every retry; a second create gets a new key") {
  Harness h;
  h.transport.then(answer(503, "")).then(no_answer(TransportError::reset)).then(answer(200, R"({"job_id": "A"})"));
  h.transport.then(answer(200, R"({"job_id": "B"})"));
  CHECK(h.client.create_translation_job() == "A");
  CHECK(h.client.create_translation_job() == "B");
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 4u);
  const auto first = header_of(requests[0], "Idempotency-Key");
  REQUIRE(first);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(header_of(requests[i], "Idempotency-Key") == first);
    CHECK(header_count(requests[i], "Idempotency-Key") == 1);
    CHECK(requests[i].body == "{}");
  }
  const auto second = header_of(requests[3], "Idempotency-Key");
  REQUIRE(second);
  CHECK(*second != *first);
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms});
}

TEST_CASE("status requests never carry Idempotency-Key or Content-Type") {
  Harness h;
  h.transport.then(status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("x").ok());
  for (const auto& request : h.transport.requests()) {
    CHECK(header_count(request, "Idempotency-Key") == 0);
    CHECK(header_count(request, "Content-Type") == 0);
  }
}
}  // TEST_SUITE("requests")

// =============================================================================================
// 2. The exact waits: poll schedule and retry backoff
// =============================================================================================

TEST_SUITE("polling") {
namespace {
/// test_options() with the cold schedule's jitter off, so waits are the bare schedule.
ClientOptions no_jitter() {
  ClientOptions options = test_options();
  options.polling.jitter = 0.0;
  return options;
}
}  // namespace

TEST_CASE("cold schedule: initial_interval, × multiplier, capped at cold_cap; jitter 0.1 at 0.5 → × 0.95") {
  Harness h;
  h.transport.then_n(8, status_answer("pending")).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::completed);
  CHECK(result.requests == 9);
  // 2, 4, 8 (cap), 8, ... seconds, each × 0.95; lag_ratio × age (0.08 × at most 44 s) stays under the cap
  CHECK(h.clock.sleeps() == Sleeps{1900ms, 3800ms, 7600ms, 7600ms, 7600ms, 7600ms, 7600ms, 7600ms});
  CHECK(result.elapsed == 51300ms);
}

TEST_CASE("the first look is immediate (no learning, no hints known)") {
  Harness h;
  h.transport.then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.ok());
  CHECK(result.requests == 1);
  CHECK(h.clock.sleeps().empty());
  CHECK(result.elapsed == 0ms);
}

TEST_CASE("cold schedule: min_interval is a floor under a small initial_interval") {
  ClientOptions options = no_jitter();
  options.polling.initial_interval = Seconds(0.2);
  options.polling.multiplier = 2.0;
  options.polling.cold_cap = Seconds(1.0);
  options.polling.min_interval = Seconds(0.3);
  Harness h(options);
  h.transport.then_n(4, status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{300ms, 400ms, 800ms, 1000ms});
}

TEST_CASE("cold schedule: multiplier 1 keeps a fixed interval") {
  ClientOptions options = no_jitter();
  options.polling.initial_interval = Seconds(3.0);
  options.polling.multiplier = 1.0;
  Harness h(options);
  h.transport.then_n(3, status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{3000ms, 3000ms, 3000ms});
}

TEST_CASE("cold schedule: lag_ratio × age takes over once it is larger than the capped schedule") {
  ClientOptions options = no_jitter();
  options.polling.initial_interval = Seconds(1.0);
  options.polling.multiplier = 1.0;
  options.polling.cold_cap = Seconds(1.0);
  options.polling.lag_ratio = 0.5;
  Harness h(options);
  h.transport.then_n(6, status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  // ages 0, 1, 2, 3, 4.5, 6.75 → max(1 s, age / 2)
  CHECK(h.clock.sleeps() == Sleeps{1000ms, 1000ms, 1000ms, 1500ms, 2250ms, 3375ms});
}

TEST_CASE("cold schedule: max_interval caps even the lag_ratio × age rule") {
  ClientOptions options = no_jitter();
  options.polling.initial_interval = Seconds(10.0);
  options.polling.multiplier = 1.0;
  options.polling.cold_cap = Seconds(10.0);
  options.polling.lag_ratio = 1.0;
  options.polling.max_interval = Seconds(15.0);
  Harness h(options);
  h.transport.then_n(4, status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{10000ms, 10000ms, 15000ms, 15000ms});  // ages 0, 10, 20, 35
}

TEST_CASE("poll jitter scales each cold wait by U(1 - jitter, 1): never above the schedule") {
  ClientOptions options = test_options();
  options.polling.jitter = 0.5;
  options.random = random_sequence({0.0, 1.0, 0.5});
  Harness h(options);
  h.transport.then_n(3, status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  // 2 s × 1, 4 s × 0.5, 8 s × 0.75
  CHECK(h.clock.sleeps() == Sleeps{2000ms, 2000ms, 6000ms});
}

TEST_CASE("poll jitter 1 drawn at 1 gives a zero wait, raised to min_interval") {
  ClientOptions options = test_options();
  options.polling.jitter = 1.0;
  options.polling.min_interval = Seconds(0.25);
  options.random = [] { return 1.0; };
  Harness h(options);
  h.transport.then_n(2, status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{250ms, 250ms});
}

TEST_CASE("PollPolicy directly: cold_wait, next_wait priorities, clamp_interval, first_wait, presets") {
  PollPolicy poll;  // 2 s ×2 up to 8 s, lag 0.08, floor 0.05 s, cap 120 s, jitter 0.1
  PollContext context;
  context.looks = 1;
  CHECK(poll.cold_wait(context, 0.0).count() == doctest::Approx(2.0));
  CHECK(poll.cold_wait(context, 1.0).count() == doctest::Approx(1.8));
  context.looks = 3;
  CHECK(poll.cold_wait(context, 0.0).count() == doctest::Approx(8.0));
  context.looks = 1000000;
  CHECK(poll.cold_wait(context, 0.0).count() == doctest::Approx(8.0));  // no overflow on absurd counts
  context.age = Seconds(200.0);
  CHECK(poll.cold_wait(context, 0.0).count() == doctest::Approx(16.0));  // 0.08 × 200 s
  context.age = Seconds(1e6);
  CHECK(poll.cold_wait(context, 0.0).count() == doctest::Approx(120.0));  // max_interval

  PollContext hinted;
  hinted.looks = 1;
  hinted.retry_after = Seconds(3.0);
  CHECK(poll.next_wait(hinted, 0.0).count() == doctest::Approx(3.0));
  hinted.eta = Seconds(10.0);
  CHECK(poll.next_wait(hinted, 0.0).count() == doctest::Approx(8.0));  // eta beats Retry-After; × 0.8
  hinted.progress_seen = true;
  CHECK(poll.next_wait(hinted, 0.0).count() == doctest::Approx(5.0));  // with progress: halfway to the eta
  hinted.progress_remaining = Seconds(4.0);
  CHECK(poll.next_wait(hinted, 0.0).count() == doctest::Approx(4.06));  // progress rate beats all; + settle
  hinted.progress_remaining = Seconds(1e9);
  CHECK(poll.next_wait(hinted, 0.0).count() == doctest::Approx(120.0));
  poll.use_hints = false;
  CHECK(poll.next_wait(hinted, 0.0).count() == doctest::Approx(2.0));
  poll.use_hints = true;

  CHECK(poll.clamp_interval(Seconds(0.0)).count() == doctest::Approx(0.05));
  CHECK(poll.clamp_interval(Seconds(-5.0)).count() == doctest::Approx(0.05));
  CHECK(poll.clamp_interval(Seconds(1e300)).count() == doctest::Approx(120.0));
  CHECK(poll.clamp_interval(Seconds(std::numeric_limits<double>::quiet_NaN())).count() == doctest::Approx(0.05));

  CHECK(poll.first_wait(nullptr).count() == 0.0);
  DurationModel model;
  CHECK(poll.first_wait(&model).count() == 0.0);  // nothing learnt yet

  CHECK(PollPolicy::low_latency().lag_ratio == doctest::Approx(0.04));
  CHECK(PollPolicy::low_latency().cold_cap.count() == doctest::Approx(4.0));
  CHECK(PollPolicy::balanced().lag_ratio == doctest::Approx(0.08));
  CHECK(PollPolicy::balanced().cold_cap.count() == doctest::Approx(8.0));
  CHECK(PollPolicy::low_cost().lag_ratio == doctest::Approx(0.16));
  CHECK(PollPolicy::low_cost().cold_cap.count() == doctest::Approx(16.0));
}

TEST_CASE("hints: eta_seconds on a pending answer sets the next wait (× 0.8; × 0.5 with progress)") {
  SUBCASE("eta alone") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending", "eta_seconds": 10})")).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{8000ms});
    CHECK(h.client.profile().hints() == Support::yes);
  }
  SUBCASE("eta with progress") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending", "eta_seconds": 10, "progress": 0.3})"));
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{5000ms});
  }
  SUBCASE("eta beats Retry-After") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending", "eta_seconds": 10})", {{"Retry-After", "3"}}));
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{8000ms});
  }
  SUBCASE("an absurd eta is dropped: the cold schedule applies") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending", "eta_seconds": -4})")).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{1900ms});
  }
  SUBCASE("ignored when use_hints is off") {
    ClientOptions options = test_options();
    options.polling.use_hints = false;
    Harness h(options);
    h.transport.then(status_with(R"({"result": "pending", "eta_seconds": 10})")).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{1900ms});
  }
}

TEST_CASE("hints: the progress rate between two answers predicts the finish") {
  ClientOptions options = no_jitter();
  Harness h(options);
  h.transport.then(status_with(R"({"result": "pending", "progress": 0.25})"));
  h.transport.then(status_with(R"({"result": "pending", "progress": 0.5})"));
  h.transport.then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  // one progress sample: cold 2 s; then 0.25 per 2 s → 4 s left, + settle (0.02 s + 1 %) = 4.06 s
  const Sleeps sleeps = h.clock.sleeps();
  REQUIRE(sleeps.size() == 2u);
  CHECK(sleeps[0] == 2000ms);
  CHECK(sleeps[1].count() >= 4059);  // 4.06 s, less a float rounding truncated to whole milliseconds
  CHECK(sleeps[1].count() <= 4060);
}

TEST_CASE("hints: progress that goes backwards or stalls is not extrapolated") {
  ClientOptions options = no_jitter();
  Harness h(options);
  h.transport.then(status_with(R"({"result": "pending", "progress": 0.5})"));
  h.transport.then(status_with(R"({"result": "pending", "progress": 0.5})"));
  h.transport.then(status_with(R"({"result": "pending", "progress": 0.4})"));
  h.transport.then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{2000ms, 4000ms, 8000ms});  // the cold schedule throughout
  CHECK(h.client.profile().hints() == Support::yes);
}

TEST_CASE("a plain pending answer records that the server sends no hints") {
  Harness h;
  CHECK(h.client.profile().hints() == Support::unknown);
  h.transport.then(status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.client.profile().hints() == Support::no);
}
}  // TEST_SUITE("polling")

TEST_SUITE("long poll") {
namespace {
ClientOptions long_poll_options(double seconds) {
  ClientOptions options = test_options();
  options.polling.long_poll = Seconds(seconds);
  return options;
}
}  // namespace

TEST_CASE(
    "long poll: ?wait= is asked, the request budget grows by the hold, and a server that ignores it is remembered") {
  Harness h(long_poll_options(30.0));
  h.transport.then(status_answer("pending")).then(status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 3u);
  CHECK(requests[0].target == "/status/j?wait=30");
  CHECK(requests[0].timeout == 60000ms);  // request_timeout 30 s + the 30 s hold
  // answered at once: the server does not hold, so the client polls on the cold schedule without ?wait=
  CHECK(h.client.profile().long_poll() == Support::no);
  CHECK(requests[1].target == "/status/j");
  CHECK(requests[1].timeout == 30000ms);
  CHECK(requests[2].target == "/status/j");
  CHECK(h.clock.sleeps() == Sleeps{1900ms, 3800ms});
}

TEST_CASE("long poll: a server that holds is asked again at once, with no sleep between looks") {
  Harness h(long_poll_options(30.0));
  FakeClock clock = h.clock;
  auto looks = std::make_shared<int>(0);
  h.transport.otherwise([clock, looks](const HttpRequest& request) mutable {
    if (++*looks < 3) {
      if (contains(request.target, "wait=")) clock.advance(30000ms);  // held for the whole wait
      return status_answer("pending");
    }
    return status_answer("completed");
  });
  const auto result = h.client.get_translation_status("j");
  CHECK(result.ok());
  CHECK(result.requests == 3);
  CHECK(h.clock.sleeps().empty());
  CHECK(h.client.profile().long_poll() == Support::yes);
  for (const auto& request : h.transport.requests()) CHECK(request.target == "/status/j?wait=30");
  CHECK(result.elapsed == 60000ms);
}

TEST_CASE("long poll: the hold asked is bounded by the deadline, and joins an existing query with &") {
  SUBCASE("deadline") {
    ClientOptions options = long_poll_options(30.0);
    options.max_timeout = Seconds(10.0);
    Harness h(options);
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.transport.requests()[0].target == "/status/j?wait=9");  // 1 s kept back
    CHECK(h.transport.requests()[0].timeout == 10000ms);
  }
  SUBCASE("too near the deadline to be worth it") {
    ClientOptions options = long_poll_options(30.0);
    options.max_timeout = Seconds(1.5);
    Harness h(options);
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.transport.requests()[0].target == "/status/j");
  }
  SUBCASE("query endpoint") {
    ClientOptions options = long_poll_options(20.0);
    options.endpoints.status = "/status";
    Harness h(options);
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("k").ok());
    CHECK(h.transport.requests()[0].target == "/status?job_id=k&wait=20");
  }
}

TEST_CASE("long poll: check_translation_status never asks the server to hold") {
  Harness h(long_poll_options(30.0));
  h.transport.then(status_answer("pending"));
  CHECK(h.client.check_translation_status("j").status == TranslationStatus::pending);
  CHECK(h.transport.requests()[0].target == "/status/j");
}
}  // TEST_SUITE("long poll")

TEST_SUITE("learning") {
TEST_CASE("DurationModel: quantiles, bounded memory, bad values ignored") {
  DurationModel model(3);
  CHECK(model.size() == 0u);
  CHECK_FALSE(model.quantile(0.5));
  model.record(Seconds(5.0));
  model.record(Seconds(1.0));
  model.record(Seconds(3.0));
  model.record(Seconds(-1.0));
  model.record(Seconds(std::numeric_limits<double>::quiet_NaN()));
  model.record(Seconds(std::numeric_limits<double>::infinity()));
  CHECK(model.size() == 3u);
  CHECK(model.quantile(0.0)->count() == doctest::Approx(1.0));
  CHECK(model.quantile(0.5)->count() == doctest::Approx(3.0));
  CHECK(model.quantile(1.0)->count() == doctest::Approx(5.0));
  CHECK(model.quantile(7.0)->count() == doctest::Approx(5.0));
  CHECK_FALSE(model.quantile(std::numeric_limits<double>::quiet_NaN()));
  model.record(Seconds(10.0));  // forgets the oldest (5 s)
  CHECK(model.size() == 3u);
  const auto samples = model.samples();
  REQUIRE(samples.size() == 3u);
  CHECK(samples[0].count() == doctest::Approx(1.0));
  CHECK(samples[1].count() == doctest::Approx(3.0));
  CHECK(samples[2].count() == doctest::Approx(10.0));
  CHECK(DurationModel(0).quantile(0.5) == std::nullopt);
}

TEST_CASE("DurationModel::next_finish_after") {
  DurationModel model;
  for (int i = 1; i <= 10; ++i) model.record(Seconds(i));     // 1..10 s
  CHECK_FALSE(model.next_finish_after(Seconds(0), 0.1, 11));  // not warm yet
  CHECK(model.next_finish_after(Seconds(0), 0.1, 10)->count() == doctest::Approx(1.0));
  CHECK(model.next_finish_after(Seconds(3.5), 0.2, 10)->count() == doctest::Approx(5.0));
  CHECK(model.next_finish_after(Seconds(8.5), 0.2, 10)->count() == doctest::Approx(9.0));  // tail: half what is left
  CHECK(model.next_finish_after(Seconds(9.5), 0.2, 10)->count() == doctest::Approx(10.0));
  CHECK_FALSE(model.next_finish_after(Seconds(10.5), 0.2, 10));  // older than every job learnt
}

TEST_CASE("learning: a finished job's duration is learnt and delays the next job's first look") {
  ClientOptions options = test_options();
  options.polling.learn = true;
  options.polling.warm_after = 1;
  Harness h(options);
  h.transport.then(status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("first").ok());
  // pending at 0 s, completed at 1.9 s: recorded at a U(0,1) point between them, 0.5 → 0.95 s
  const auto samples = h.client.profile().durations().samples();
  REQUIRE(samples.size() == 1u);
  CHECK(samples[0].count() == doctest::Approx(0.95));
  h.transport.then(status_answer("completed"));
  const auto second = h.client.get_translation_status("second");
  CHECK(second.ok());
  CHECK(second.requests == 1);
  CHECK(h.clock.sleeps() == Sleeps{1900ms, 950ms});  // the second job's first look waits for the learnt finish
}

TEST_CASE("learning: a job already done at an immediate first look teaches nothing; failures to track neither") {
  ClientOptions options = test_options();
  options.polling.learn = true;
  Harness h(options);
  h.transport.then(status_answer("completed"));
  h.transport.then(status_answer("pending")).then(answer(404, ""));
  REQUIRE(h.client.get_translation_status("a").ok());
  CHECK(h.client.get_translation_status("b").cause == FailureCause::unknown_job);
  CHECK(h.client.profile().durations().size() == 0u);
}

TEST_CASE("learning: a ServerProfile given in the options is shared between clients") {
  auto profile = std::make_shared<ServerProfile>();
  ClientOptions options = test_options();
  options.polling.learn = true;
  options.polling.warm_after = 1;
  options.profile = profile;
  Harness teacher(options);
  teacher.transport.then(status_answer("pending")).then(status_answer("completed"));
  REQUIRE(teacher.client.get_translation_status("a").ok());
  CHECK(profile->durations().size() == 1u);
  Harness student(options);
  CHECK(&student.client.profile() == profile.get());
  student.transport.then(status_answer("completed"));
  REQUIRE(student.client.get_translation_status("b").ok());
  CHECK(student.clock.sleeps() == Sleeps{950ms});
}
}  // TEST_SUITE("learning")

TEST_SUITE("retries") {
TEST_CASE("retry backoff is full jitter: with random 0.5 the waits are 250, 500, 1000 ... capped at max_backoff/2") {
  ClientOptions options = test_options();
  options.max_retries = 8;
  Harness h(options);
  h.transport.then_n(8, answer(503, "")).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::completed);
  CHECK(result.requests == 9);
  // ceilings 0.5, 1, 2, 4, 8, 16, 30 (cap), 30 → half of each
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms, 1000ms, 2000ms, 4000ms, 8000ms, 15000ms, 15000ms});
}

TEST_CASE("retry backoff draws U(0, ceiling): a scripted random sequence pins each draw") {
  ClientOptions options = test_options();
  options.random = random_sequence({0.0, 0.75, 0.25, 0.5});
  Harness h(options);
  h.transport.then_n(4, no_answer(TransportError::refused)).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  // ceilings 0.5, 1, 2, 4 s × draws 0, 0.75, 0.25, 0.5 (a zero wait retries at once, without a sleep)
  CHECK(h.transport.request_count() == 5u);
  CHECK(h.clock.sleeps() == Sleeps{750ms, 500ms, 2000ms});
}

TEST_CASE("retry backoff honours custom initial_backoff and max_backoff") {
  ClientOptions options = test_options();
  options.initial_backoff = Seconds(2.0);
  options.max_backoff = Seconds(5.0);
  options.random = [] { return 1.0; };
  Harness h(options);
  h.transport.then_n(4, answer(500, "")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{2000ms, 4000ms, 5000ms, 5000ms});
}

TEST_CASE("RetryPolicy::backoff directly") {
  const RetryPolicy retry{15, Seconds(0.5), Seconds(30.0)};
  CHECK(retry.backoff(1, 1.0).count() == doctest::Approx(0.5));
  CHECK(retry.backoff(2, 1.0).count() == doctest::Approx(1.0));
  CHECK(retry.backoff(3, 0.5).count() == doctest::Approx(1.0));
  CHECK(retry.backoff(7, 1.0).count() == doctest::Approx(30.0));
  CHECK(retry.backoff(1000, 1.0).count() == doctest::Approx(30.0));  // no overflow
  CHECK(retry.backoff(0, 1.0).count() == doctest::Approx(0.5));
  CHECK(retry.backoff(1, 0.0).count() == doctest::Approx(0.0));
  CHECK(retry.backoff(1, 7.0).count() == doctest::Approx(0.5));  // a draw out of range is clamped
}

TEST_CASE("max_retries = N: exactly N + 1 requests on 5xx, then error with cause http_status") {
  ClientOptions options = test_options();
  options.max_retries = 3;
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return answer(503, R"({"error": "overloaded"})"); });
  const auto result = h.client.get_translation_status("j");
  CHECK(h.transport.request_count() == 4u);
  CHECK(result.requests == 4);
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::http_status);
  CHECK(result.http_status == 503);
  REQUIRE(result.error_message);
  CHECK(contains(*result.error_message, "HTTP 503"));
  CHECK(contains(*result.error_message, "overloaded"));
  CHECK(contains(*result.error_message, "after 4 attempts"));
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms, 1000ms});
}

TEST_CASE("max_retries = N: exactly N + 1 requests with no answer, then error with cause transport") {
  ClientOptions options = test_options();
  options.max_retries = 2;
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return no_answer(TransportError::refused); });
  const auto result = h.client.get_translation_status("j");
  CHECK(result.requests == 3);
  CHECK(h.transport.request_count() == 3u);
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::transport);
  CHECK(result.http_status == 0);
  REQUIRE(result.error_message);
  CHECK(contains(*result.error_message, "no response"));
  CHECK(contains(*result.error_message, "refused"));
  CHECK(contains(*result.error_message, "after 3 attempts"));
}

TEST_CASE("a deadline reached while a server stays unreachable says so in the timeout's message") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1.0);
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return no_answer(TransportError::refused); });
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::timeout);
  CHECK(result.cause == FailureCause::deadline);
  CHECK(contains(result.error_message.value_or(""), "last failure: no response (refused"));
}

TEST_CASE("max_retries = 0 makes exactly one request") {
  ClientOptions options = test_options();
  options.max_retries = 0;
  Harness h(options);
  h.transport.then(no_answer(TransportError::timeout)).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.requests == 1);
  CHECK(result.cause == FailureCause::transport);
  CHECK(contains(result.error_message.value_or(""), "after 1 attempt"));
  CHECK_FALSE(contains(result.error_message.value_or(""), "attempts"));
  CHECK(h.clock.sleeps().empty());
}

TEST_CASE("the retry limit counts consecutive failures only: a pending answer resets it and the backoff") {
  ClientOptions options = test_options();
  options.max_retries = 2;
  Harness h(options);
  h.transport.then(answer(503, "")).then(answer(503, "")).then(status_answer("pending"));
  h.transport.then(answer(503, "")).then(answer(503, "")).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::completed);
  CHECK(result.requests == 6);
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms, 1900ms, 250ms, 500ms});
}

TEST_CASE("408, 429, 500, 502 and 503 are retried") {
  for (const int code : {408, 429, 500, 502, 503}) {
    CAPTURE(code);
    ClientOptions options = test_options();
    options.max_retries = 1;
    Harness h(options);
    h.transport.then(answer(code, "")).then(status_answer("completed"));
    const auto result = h.client.get_translation_status("j");
    CHECK(result.status == TranslationStatus::completed);
    CHECK(result.requests == 2);
    CHECK(h.clock.sleeps() == Sleeps{250ms});
  }
}

TEST_CASE("400, 401, 403 and 409 are not retried: error with cause http_status at once") {
  for (const int code : {400, 401, 403, 409}) {
    CAPTURE(code);
    Harness h;
    h.transport.then(answer(code, R"({"error_message": "nope"})")).then(status_answer("completed"));
    const auto result = h.client.get_translation_status("j");
    CHECK(result.requests == 1);
    CHECK(result.status == TranslationStatus::error);
    CHECK(result.cause == FailureCause::http_status);
    CHECK(result.http_status == code);
    CHECK(contains(result.error_message.value_or(""), "HTTP " + std::to_string(code)));
    CHECK(contains(result.error_message.value_or(""), "nope"));
    CHECK(h.clock.sleeps().empty());
  }
}

TEST_CASE("404 is not retried: error with cause unknown_job") {
  Harness h;
  h.transport.then(answer(404, "")).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.requests == 1);
  CHECK(result.cause == FailureCause::unknown_job);
  CHECK(result.http_status == 404);
  CHECK(result.error_message == "unknown job (HTTP 404)");
}

TEST_CASE("every no-answer transport error is retried except body_too_large and tls") {
  for (const auto error :
       {TransportError::refused, TransportError::timeout, TransportError::reset, TransportError::other}) {
    CAPTURE(to_string(error));
    Harness h;
    h.transport.then(no_answer(error)).then(status_answer("completed"));
    const auto result = h.client.get_translation_status("j");
    CHECK(result.ok());
    CHECK(result.requests == 2);
  }
  Harness h;
  h.transport.then(no_answer(TransportError::body_too_large)).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.requests == 1);
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::transport);
  CHECK(contains(result.error_message.value_or(""), "body_too_large"));
  CHECK(h.clock.sleeps().empty());
}

TEST_CASE("RetryPolicy::retryable directly") {
  CHECK(RetryPolicy::retryable(answer(408, "")));
  CHECK(RetryPolicy::retryable(answer(429, "")));
  CHECK(RetryPolicy::retryable(answer(500, "")));
  CHECK(RetryPolicy::retryable(answer(504, "")));
  CHECK_FALSE(RetryPolicy::retryable(answer(200, "")));
  CHECK_FALSE(RetryPolicy::retryable(answer(404, "")));
  CHECK_FALSE(RetryPolicy::retryable(answer(418, "")));
  CHECK(RetryPolicy::retryable(no_answer(TransportError::reset)));
  CHECK_FALSE(RetryPolicy::retryable(no_answer(TransportError::body_too_large)));
  CHECK_FALSE(RetryPolicy::retryable(no_answer(TransportError::tls)));  // a certificate that fails, fails again
}
}  // TEST_SUITE("retries")

// =============================================================================================
// 4. The deadline
// =============================================================================================

TEST_SUITE("deadline") {
TEST_CASE("a job pending forever times out at max_timeout exactly, and no sleep goes past the deadline") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(5.0);
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return status_answer("pending"); });
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::timeout);
  CHECK(result.cause == FailureCause::deadline);
  CHECK(result.elapsed == 5000ms);
  CHECK(result.requests == 2);
  CHECK(h.clock.sleeps() == Sleeps{1900ms, 3100ms});  // the second wait (3.8 s) is cut to the deadline
  CHECK(total(h.clock.sleeps()) == 5000ms);
  CHECK(contains(result.error_message.value_or(""), "max_timeout"));
  CHECK(contains(result.error_message.value_or(""), "5000 ms"));
  CHECK_FALSE(result.job_finished());
}

TEST_CASE("retry waits never pass the deadline either") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1.0);
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return answer(503, ""); });
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::timeout);
  CHECK(result.cause == FailureCause::deadline);
  CHECK(result.requests == 3);
  CHECK(result.http_status == 503);
  CHECK(result.elapsed == 1000ms);
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms, 250ms});
}

TEST_CASE("each request's timeout is what is left of the deadline, at most request_timeout") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1.0);
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return answer(503, ""); });
  (void)h.client.get_translation_status("j");
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 3u);
  CHECK(requests[0].timeout == 1000ms);
  CHECK(requests[1].timeout == 750ms);
  CHECK(requests[2].timeout == 250ms);

  ClientOptions short_requests = test_options();
  short_requests.request_timeout = Seconds(2.5);
  Harness h2(short_requests);
  h2.transport.then(status_answer("completed"));
  REQUIRE(h2.client.get_translation_status("j").ok());
  CHECK(h2.transport.requests()[0].timeout == 2500ms);
}

TEST_CASE("a slow transport that uses up the deadline ends the call without another request") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(3.0);
  Harness h(options);
  FakeClock clock = h.clock;
  h.transport.otherwise([clock](const HttpRequest&) mutable {
    clock.advance(2500ms);
    return answer(503, "");
  });
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::timeout);
  CHECK(result.cause == FailureCause::deadline);
  CHECK(result.requests == 2);  // 0 → 2.5 s, wait 0.25 s, 2.75 → 5.25 s: past the deadline, no third try
}

TEST_CASE("the deadline bounds create too: TranslationError with cause deadline") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1.0);
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return answer(503, ""); });
  try {
    (void)h.client.create_translation_job();
    FAIL("create_translation_job did not throw");
  } catch (const TranslationError& e) {
    CHECK(e.cause() == FailureCause::deadline);
    CHECK(e.requests() == 3);
    CHECK(e.http_status() == 503);
    CHECK(contains(e.what(), "create_translation_job"));
    CHECK(contains(e.what(), "max_timeout"));
    CHECK(contains(e.what(), "last failure: HTTP 503"));  // what kept failing is not lost
  }
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms, 250ms});
  CHECK(total(h.clock.sleeps()) == 1000ms);
}

TEST_CASE("each call has its own deadline: a second call on the same client starts afresh") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(2.0);
  Harness h(options);
  h.transport.then(status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("a").ok());
  h.clock.advance(10s);  // long after the first call's deadline
  h.transport.then(status_answer("pending")).then(status_answer("completed"));
  const auto second = h.client.get_translation_status("b");
  CHECK(second.ok());
  CHECK(second.requests == 2);
  CHECK(second.elapsed == 1900ms);
}
}  // TEST_SUITE("deadline")

// =============================================================================================
// 5. Retry-After
// =============================================================================================

TEST_SUITE("retry-after") {
TEST_CASE("Retry-After delta-seconds on a 429 or 503 sets the next wait exactly") {
  for (const int code : {429, 503}) {
    CAPTURE(code);
    Harness h;
    h.transport.then(answer(code, "", {{"Retry-After", "3"}})).then(status_answer("completed"));
    const auto result = h.client.get_translation_status("j");
    CHECK(result.ok());
    CHECK(result.requests == 2);
    CHECK(h.clock.sleeps() == Sleeps{3000ms});
  }
}

TEST_CASE("Retry-After header name is matched case-insensitively and the value trimmed") {
  Harness h;
  h.transport.then(answer(429, "", {{"retry-after", "  7 "}})).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{7000ms});
}

TEST_CASE("Retry-After on create is honoured too") {
  Harness h;
  h.transport.then(answer(429, "", {{"Retry-After", "2"}})).then(answer(200, R"({"job_id": "z"})"));
  CHECK(h.client.create_translation_job() == "z");
  CHECK(h.clock.sleeps() == Sleeps{2000ms});
}

TEST_CASE("Retry-After HTTP-date is taken relative to the response's Date header") {
  Harness h;
  // The server's clock is months off the client's wall clock (2026-01-01): only the Date header makes 5 s.
  h.transport.then(
      answer(503, "", {{"Date", "Mon, 01 Jun 2026 12:00:00 GMT"}, {"Retry-After", "Mon, 01 Jun 2026 12:00:05 GMT"}}));
  h.transport.then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{5000ms});
}

TEST_CASE("Retry-After HTTP-date without Date is relative to the clock's system_now()") {
  Harness h;
  h.clock.advance(2000ms);  // wall time is now 2026-01-01 00:00:02
  h.transport.then(answer(429, "", {{"Retry-After", "Thu, 01 Jan 2026 00:00:07 GMT"}}));
  h.transport.then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{5000ms});
}

TEST_CASE("Retry-After HTTP-date with an unreadable Date falls back to system_now()") {
  Harness h;
  h.transport.then(answer(429, "", {{"Date", "yesterday-ish"}, {"Retry-After", "Thu, 01 Jan 2026 00:00:04 GMT"}}));
  h.transport.then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{4000ms});
}

TEST_CASE("Retry-After HTTP-date in the past means retry at once, without a sleep") {
  Harness h;
  h.transport.then(answer(503, "", {{"Retry-After", "Wed, 31 Dec 2025 23:59:00 GMT"}}));
  h.transport.then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.ok());
  CHECK(result.requests == 2);
  CHECK(h.clock.sleeps().empty());
}

TEST_CASE("Retry-After on a pending 200 is the next poll interval, clamped to [min_interval, max_interval]") {
  SUBCASE("within range") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending"})", {{"Retry-After", "3"}})).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{3000ms});
  }
  SUBCASE("zero is raised to min_interval") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending"})", {{"Retry-After", "0"}})).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{50ms});
  }
  SUBCASE("too long is cut to max_interval") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending"})", {{"Retry-After", "600"}}))
        .then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{120000ms});
  }
  SUBCASE("longer than the cold schedule is honoured") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending"})", {{"Retry-After", "60"}})).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{60000ms});
  }
  SUBCASE("HTTP-date form") {
    Harness h;
    h.transport.then(status_with(R"({"result": "pending"})", {{"Retry-After", "Thu, 01 Jan 2026 00:00:06 GMT"}}));
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{6000ms});
  }
  SUBCASE("ignored when use_hints is off") {
    ClientOptions options = test_options();
    options.polling.use_hints = false;
    Harness h(options);
    h.transport.then(status_with(R"({"result": "pending"})", {{"Retry-After", "3"}})).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{1900ms});
  }
}

TEST_CASE("a hint on one pending answer does not stick to the next look") {
  Harness h;
  h.transport.then(status_with(R"({"result": "pending"})", {{"Retry-After", "4"}}));
  h.transport.then(status_answer("pending")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{4000ms, 3800ms});  // the cold schedule goes on at look 2
}

TEST_CASE("a garbage Retry-After is ignored: the wait falls back to the backoff") {
  for (const char* value : {"soon", "-5", "1.5", "", "3 seconds", "Mon, 30 Feb 2026 00:00:00 GMT"}) {
    CAPTURE(value);
    Harness h;
    h.transport.then(answer(503, "", {{"Retry-After", value}})).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j").ok());
    CHECK(h.clock.sleeps() == Sleeps{250ms});
  }
}

TEST_CASE("a huge Retry-After never sleeps past the deadline") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(10.0);
  Harness h(options);
  h.transport.then(answer(503, "", {{"Retry-After", "999999999"}})).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::timeout);
  CHECK(result.cause == FailureCause::deadline);
  CHECK(result.requests == 1);
  CHECK(h.clock.sleeps() == Sleeps{10000ms});
  CHECK(result.elapsed == 10000ms);
}

TEST_CASE("detail::parse_retry_after") {
  const auto now = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} + 0s;
  const auto seconds = [&](std::string_view text) { return detail::parse_retry_after(text, now); };
  REQUIRE(seconds("3"));
  CHECK(seconds("3")->count() == doctest::Approx(3.0));
  CHECK(seconds("0")->count() == doctest::Approx(0.0));
  CHECK(seconds(" \t120\t ")->count() == doctest::Approx(120.0));
  CHECK(seconds("999999999")->count() == doctest::Approx(999999999.0));
  CHECK(seconds("99999999999999999999999")->count() == doctest::Approx(1e9));  // absurd: capped, no overflow
  CHECK(seconds("Thu, 01 Jan 2026 00:00:10 GMT")->count() == doctest::Approx(10.0));
  CHECK(seconds("Thursday, 01-Jan-26 00:01:00 GMT")->count() == doctest::Approx(60.0));
  CHECK(seconds("Thu Jan  1 01:00:00 2026")->count() == doctest::Approx(3600.0));
  CHECK(seconds("Wed, 31 Dec 2025 00:00:00 GMT")->count() == doctest::Approx(0.0));  // past → 0, never negative
  CHECK_FALSE(seconds(""));
  CHECK_FALSE(seconds("   "));
  CHECK_FALSE(seconds("-1"));
  CHECK_FALSE(seconds("1.5"));
  CHECK_FALSE(seconds("3abc"));
  CHECK_FALSE(seconds("tomorrow"));
  CHECK_FALSE(seconds("Mon, 30 Feb 2026 00:00:00 GMT"));
}

TEST_CASE("detail::parse_http_date: the three forms, and bad dates") {
  using namespace std::chrono;
  const auto expected = sys_days{year{1994} / 11 / 6} + 8h + 49min + 37s;
  const auto imf = detail::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
  const auto rfc850 = detail::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT");
  const auto asctime = detail::parse_http_date("Sun Nov  6 08:49:37 1994");
  REQUIRE(imf);
  REQUIRE(rfc850);
  REQUIRE(asctime);
  CHECK(*imf == expected);
  CHECK(*rfc850 == expected);
  CHECK(*asctime == expected);
  CHECK(duration_cast<seconds>(imf->time_since_epoch()).count() == 784111777);
  CHECK(detail::parse_http_date("Thursday, 01-Jan-26 00:00:00 GMT") ==
        sys_days{year{2026} / 1 / 1} + 0s);                                                              // 2-digit year
  CHECK(detail::parse_http_date("thu, 01 jan 2026 00:00:00 GMT") == sys_days{year{2026} / 1 / 1} + 0s);  // case
  CHECK(detail::parse_http_date("Sat, 29 Feb 2028 00:00:00 GMT") == sys_days{year{2028} / 2 / 29} + 0s);  // leap
  CHECK_FALSE(detail::parse_http_date("Mon, 30 Feb 2026 00:00:00 GMT"));
  CHECK_FALSE(detail::parse_http_date("Sun, 29 Feb 2026 00:00:00 GMT"));  // 2026 is no leap year
  CHECK_FALSE(detail::parse_http_date("Thu, 31 Apr 2026 00:00:00 GMT"));
  CHECK_FALSE(detail::parse_http_date("Thu, 01 Jan 2026 24:00:00 GMT"));
  CHECK_FALSE(detail::parse_http_date("Thu, 01 Jan 2026 23:60:00 GMT"));
  CHECK_FALSE(detail::parse_http_date("Fri, 31 Dec 9999 23:-8:60 GMT"));  // found by fuzzing: a signed field
  CHECK_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 -8:49:37 GMT"));
  CHECK_FALSE(detail::parse_http_date("Sun, 06 Nov 1994 08:49:-7 GMT"));
  CHECK_FALSE(detail::parse_http_date("Thu, 00 Jan 2026 00:00:00 GMT"));
  CHECK_FALSE(detail::parse_http_date("Thu, 01 Foo 2026 00:00:00 GMT"));
  CHECK_FALSE(detail::parse_http_date("Thu, 01 Jan 1969 00:00:00 GMT"));
  CHECK_FALSE(detail::parse_http_date("Thu, 01 Jan 94 00:00:00 GMT"));  // IMF-fixdate needs 4 digits
  CHECK_FALSE(detail::parse_http_date(""));
  CHECK_FALSE(detail::parse_http_date("junk"));
  CHECK_FALSE(detail::parse_http_date("12345"));
  CHECK_FALSE(detail::parse_http_date(std::string(10000, 'A')));
}
}  // TEST_SUITE("retry-after")

// =============================================================================================
// 6. Answers: malformed bodies, unknown results, failures, hints
// =============================================================================================

TEST_SUITE("answers") {
TEST_CASE("a malformed status body is bad_response at once, and the message says why") {
  struct Case {
    const char* body;
    const char* why;
  };
  const Case cases[] = {
      {"{not json", "malformed JSON"},
      {"", "empty body"},
      {"[1, 2, 3]", "not an object"},
      {"\"completed\"", "not an object"},
      {"{}", "no \"result\""},
      {R"({"status": "completed"})", "no \"result\""},
      {R"({"result": 5})", "no \"result\""},
      {R"({"result": "completed"} trailing)", "trailing data"},
      {R"({"result": "completed"}{"result": "pending"})", "trailing data"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    Harness h;
    h.transport.then(answer(200, c.body)).then(status_answer("completed"));
    const auto result = h.client.get_translation_status("j");
    CHECK(result.status == TranslationStatus::error);
    CHECK(result.cause == FailureCause::bad_response);
    CHECK(result.requests == 1);
    CHECK(result.http_status == 200);
    CHECK(contains(result.error_message.value_or(""), c.why));
    CHECK(h.clock.sleeps().empty());
  }
}

TEST_CASE("a status body is read for the members it needs, but every member must be valid JSON") {
  // read_status keeps only result, error_message, progress and eta_seconds; the rest is checked, not stored.
  struct Case {
    const char* body;
    TranslationStatus status;
    FailureCause cause;
  };
  const Case cases[] = {
      {R"({"job_id": "j", "extra": {"deep": [1, 2.5, {"x": null, "y": [true, false]}]}, "result": "completed"})",
       TranslationStatus::completed, FailureCause::none},
      {R"({"result": "pending", "result": "completed"})", TranslationStatus::completed, FailureCause::none},
      {R"({"result": "completed", "extra": [1, {"a": tru}]})", TranslationStatus::error, FailureCause::bad_response},
      {R"({"result": "completed", "extra": 1e999})", TranslationStatus::error, FailureCause::bad_response},
      {R"({"result": "completed", "extra": "\q"})", TranslationStatus::error, FailureCause::bad_response},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    Harness h;
    h.transport.then(answer(200, c.body));
    const auto result = h.client.check_translation_status("j");
    CHECK(result.status == c.status);
    CHECK(result.cause == c.cause);
  }
}

TEST_CASE("deeply nested JSON is a bad response, never a stack overflow") {
  // picojson bounds the nesting of arrays but not of objects: 200,000 nested objects used to recurse until the
  // stack overflowed. Every reader bounds both.
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += R"({"a":)";
  deep += "1";
  deep.append(200000, '}');
  Harness h;
  h.transport.then(answer(200, deep)).then(answer(200, deep)).then(status_with(R"({"result": )" + deep + "}"));
  CHECK(h.client.check_translation_status("j").cause == FailureCause::bad_response);
  CHECK_THROWS_AS((void)h.client.create_translation_job(), TranslationError);
  CHECK(h.client.check_translation_status("j").cause == FailureCause::bad_response);
}

TEST_CASE("a member may nest 99 arrays or objects, kept or skipped alike; 100 is too deep") {
  // `levels` arrays ("[[]]") or objects ({"k":{}}) nested.
  auto nested = [](int levels, bool objects) {
    const auto count = static_cast<std::size_t>(levels);
    if (!objects) return std::string(count, '[') + std::string(count, ']');
    std::string text;
    for (int i = 1; i < levels; ++i) text += R"({"k":)";
    return text + "{}" + std::string(count - 1, '}');
  };
  for (const char* member : {"extra", "error_message"}) {
    for (const bool objects : {false, true}) {
      CAPTURE(member);
      CAPTURE(objects);
      auto body = [&](int levels) {
        return std::string(R"({"result": "error", ")") + member + R"(": )" + nested(levels, objects) + "}";
      };
      Harness h;
      h.transport.then(answer(200, body(99))).then(answer(200, body(100)));
      CHECK(h.client.check_translation_status("a").cause == FailureCause::job_failed);
      CHECK(h.client.check_translation_status("b").cause == FailureCause::bad_response);
    }
  }
}

TEST_CASE("repeated hint members: the last one counts, as in a parsed object") {
  Harness h;
  h.transport.then(status_with(R"({"progress": 0.9, "result": "pending", "progress": 0.25, "eta_seconds": 7})"));
  const auto result = h.client.check_translation_status("j");
  CHECK(result.progress == 0.25);
  CHECK(result.eta_seconds == 7.0);
}

TEST_CASE("whitespace after the JSON object is fine") {
  Harness h;
  h.transport.then(answer(200, "  {\"result\": \"completed\"}\r\n\t "));
  CHECK(h.client.get_translation_status("j").ok());
}

TEST_CASE("an unknown result string ends the wait with unexpected_result (the seed's 'Job ID not found')") {
  Harness h;
  h.transport.then(status_answer("Job ID not found")).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::unexpected_result);
  CHECK(result.requests == 1);
  CHECK(contains(result.error_message.value_or(""), "Job ID not found"));
  CHECK_FALSE(result.job_finished());
}

TEST_CASE("result error is job_failed with the server's error_message, or a default message") {
  SUBCASE("with error_message") {
    Harness h;
    h.transport.then(status_with(R"({"result": "error", "error_message": "boom"})"));
    const auto result = h.client.get_translation_status("j");
    CHECK(result.status == TranslationStatus::error);
    CHECK(result.cause == FailureCause::job_failed);
    CHECK(result.error_message == "boom");
    CHECK(result.requests == 1);
    CHECK(result.job_finished());
    CHECK_FALSE(result.ok());
  }
  SUBCASE("without error_message") {
    Harness h;
    h.transport.then(status_answer("error"));
    const auto result = h.client.get_translation_status("j");
    CHECK(result.cause == FailureCause::job_failed);
    CHECK(result.error_message == "the job failed");
  }
}

TEST_CASE("404 is unknown_job with the body's error_message when it has one") {
  Harness h;
  h.transport.then(answer(404, R"({"result": "error", "error_message": "unknown job xyz"})"));
  const auto result = h.client.get_translation_status("xyz");
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::unknown_job);
  CHECK(result.http_status == 404);
  CHECK(result.error_message == "unknown job xyz (HTTP 404)");
}

TEST_CASE("a non-2xx, non-retried status other than 404 is http_status") {
  Harness h;
  h.transport.then(answer(418, "teapot, not JSON"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.cause == FailureCause::http_status);
  CHECK(result.http_status == 418);
  CHECK(result.error_message == "HTTP 418");
}

TEST_CASE("completed answers have no error and cause none; http_status and elapsed are filled in") {
  Harness h;
  h.transport.then(status_answer("pending")).then(answer(200, R"({"result": "completed", "progress": 1})"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.ok());
  CHECK(result.job_finished());
  CHECK(result.cause == FailureCause::none);
  CHECK_FALSE(result.error_message);
  CHECK(result.http_status == 200);
  CHECK(result.elapsed == 1900ms);
  CHECK(result.progress == 1.0);
}

TEST_CASE("progress and eta_seconds are read when sane and dropped when absurd") {
  const auto check_of = [](const std::string& body) {
    Harness h;
    h.transport.then(answer(200, body));
    return h.client.check_translation_status("j");
  };
  SUBCASE("sane") {
    const auto result = check_of(R"({"result": "pending", "progress": 0.42, "eta_seconds": 12.5})");
    CHECK(result.progress == 0.42);
    CHECK(result.eta_seconds == 12.5);
  }
  SUBCASE("edges are sane") {
    const auto result = check_of(R"({"result": "pending", "progress": 0, "eta_seconds": 0})");
    CHECK(result.progress == 0.0);
    CHECK(result.eta_seconds == 0.0);
  }
  SUBCASE("negative") {
    const auto result = check_of(R"({"result": "pending", "progress": -0.1, "eta_seconds": -3})");
    CHECK_FALSE(result.progress);
    CHECK_FALSE(result.eta_seconds);
  }
  SUBCASE("progress over 1, eta of centuries") {
    const auto result = check_of(R"({"result": "pending", "progress": 1.5, "eta_seconds": 1e300})");
    CHECK_FALSE(result.progress);
    CHECK_FALSE(result.eta_seconds);
  }
  SUBCASE("wrong types") {
    const auto result = check_of(R"({"result": "pending", "progress": "50%", "eta_seconds": null})");
    CHECK(result.status == TranslationStatus::pending);
    CHECK_FALSE(result.progress);
    CHECK_FALSE(result.eta_seconds);
  }
}

TEST_CASE("unknown extra fields in a status answer are ignored") {
  Harness h;
  h.transport.then(status_with(R"({"result": "completed", "video_url": "http://x/y.mp4", "n": [1, {"a": null}]})"));
  CHECK(h.client.get_translation_status("j").ok());
}
}  // TEST_SUITE("answers")

// =============================================================================================
// 7. Create failures
// =============================================================================================

TEST_SUITE("create") {
namespace {
/// Runs create and returns the TranslationError it throws (fails the test if it does not throw).
std::optional<TranslationError> create_error(Harness& h) {
  try {
    (void)h.client.create_translation_job();
  } catch (const TranslationError& e) {
    return e;
  }
  FAIL_CHECK("create_translation_job did not throw");
  return std::nullopt;
}
}  // namespace

TEST_CASE("create: a non-JSON body is bad_response with the status and one request") {
  Harness h;
  h.transport.then(answer(200, "<html>ok</html>"));
  const auto error = create_error(h);
  REQUIRE(error);
  CHECK(error->cause() == FailureCause::bad_response);
  CHECK(error->http_status() == 200);
  CHECK(error->requests() == 1);
  CHECK(contains(error->what(), "malformed JSON"));
}

TEST_CASE("create: a missing, empty, null or non-scalar job_id is bad_response") {
  for (const char* body :
       {R"({"id": "x"})", R"({"job_id": ""})", R"({"job_id": null})", R"({"job_id": ["x"]})", R"({"job_id": true})"}) {
    CAPTURE(body);
    Harness h;
    h.transport.then(answer(200, body));
    const auto error = create_error(h);
    REQUIRE(error);
    CHECK(error->cause() == FailureCause::bad_response);
    CHECK(error->requests() == 1);
    CHECK(contains(error->what(), "job_id"));
  }
}

TEST_CASE("create: a 4xx is http_status at once, with the server's message") {
  for (const int code : {400, 401, 403, 404, 409}) {
    CAPTURE(code);
    Harness h;
    h.transport.then(answer(code, R"({"error_message": "quota exceeded"})")).then(answer(200, R"({"job_id": "x"})"));
    const auto error = create_error(h);
    REQUIRE(error);
    CHECK(error->cause() == FailureCause::http_status);
    CHECK(error->http_status() == code);
    CHECK(error->requests() == 1);
    CHECK(contains(error->what(), "HTTP " + std::to_string(code)));
    CHECK(contains(error->what(), "quota exceeded"));
  }
}

TEST_CASE("create: 5xx until retries run out is http_status after max_retries + 1 requests") {
  ClientOptions options = test_options();
  options.max_retries = 2;
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return answer(502, ""); });
  const auto error = create_error(h);
  REQUIRE(error);
  CHECK(error->cause() == FailureCause::http_status);
  CHECK(error->http_status() == 502);
  CHECK(error->requests() == 3);
  CHECK(contains(error->what(), "after 3 attempts"));
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms});
}

TEST_CASE("create: no answer until retries run out is transport; body_too_large is not retried") {
  SUBCASE("reset") {
    ClientOptions options = test_options();
    options.max_retries = 1;
    Harness h(options);
    h.transport.otherwise([](const HttpRequest&) { return no_answer(TransportError::reset); });
    const auto error = create_error(h);
    REQUIRE(error);
    CHECK(error->cause() == FailureCause::transport);
    CHECK(error->http_status() == 0);
    CHECK(error->requests() == 2);
    CHECK(contains(error->what(), "reset"));
  }
  SUBCASE("body_too_large") {
    Harness h;
    h.transport.then(no_answer(TransportError::body_too_large)).then(answer(200, R"({"job_id": "x"})"));
    const auto error = create_error(h);
    REQUIRE(error);
    CHECK(error->cause() == FailureCause::transport);
    CHECK(error->requests() == 1);
  }
}

TEST_CASE("create: a numeric job_id is accepted as its decimal text; any 2xx counts") {
  Harness h;
  h.transport.then(answer(200, R"({"job_id": 12345})")).then(answer(201, R"({"job_id": "made"})"));
  CHECK(h.client.create_translation_job() == "12345");
  CHECK(h.client.create_translation_job() == "made");
}
}  // TEST_SUITE("create")

// =============================================================================================
// 8. Job ids in URLs, endpoint templates, path prefixes
// =============================================================================================

TEST_SUITE("job ids and targets") {
TEST_CASE("a job id with / ? % # space CR LF is percent-encoded into one path segment") {
  Harness h;
  h.transport.then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("a/b?c%d#e f\r\ng").ok());
  const auto request = h.transport.requests().at(0);
  CHECK(request.target == "/status/a%2Fb%3Fc%25d%23e%20f%0D%0Ag");
  CHECK(request.url == "http://127.0.0.1:5000/status/a%2Fb%3Fc%25d%23e%20f%0D%0Ag");
}

TEST_CASE("non-ASCII bytes and NUL are encoded; unreserved characters are not") {
  Harness h;
  h.transport.then(status_answer("completed")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("caf\xC3\xA9").ok());
  REQUIRE(h.client.get_translation_status(std::string("x\0y", 3)).ok());
  const auto requests = h.transport.requests();
  CHECK(requests[0].target == "/status/caf%C3%A9");
  CHECK(requests[1].target == "/status/x%00y");
  CHECK(detail::percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(detail::percent_encode("+&=:@!") == "%2B%26%3D%3A%40%21");
  CHECK(detail::percent_encode("\xFF") == "%FF");
}

TEST_CASE("a status endpoint without {job_id} gets ?job_id= (or &job_id=) appended") {
  SUBCASE("plain path") {
    ClientOptions options = test_options();
    options.endpoints.status = "/status";
    Harness h(options);
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("a b").ok());
    CHECK(h.transport.requests()[0].target == "/status?job_id=a%20b");
  }
  SUBCASE("path with a query already") {
    ClientOptions options = test_options();
    options.endpoints.status = "/v2/status?verbose=1";
    Harness h(options);
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("j&k").ok());
    CHECK(h.transport.requests()[0].target == "/v2/status?verbose=1&job_id=j%26k");
  }
  SUBCASE("placeholder in the middle") {
    ClientOptions options = test_options();
    options.endpoints.status = "/jobs/{job_id}/status";
    Harness h(options);
    h.transport.then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("7").ok());
    CHECK(h.transport.requests()[0].target == "/jobs/7/status");
  }
}

TEST_CASE("a base URL with a path prefix prefixes every target") {
  ClientOptions options = test_options();
  options.base_url = "http://h:1/api/";
  options.endpoints.create_job = "/jobs";
  Harness h(options);
  h.transport.then(answer(200, R"({"job_id": "q"})")).then(status_answer("completed"));
  REQUIRE(h.client.create_translation_job() == "q");
  REQUIRE(h.client.get_translation_status("q").ok());
  const auto requests = h.transport.requests();
  CHECK(requests[0].target == "/api/jobs");
  CHECK(requests[0].url == "http://h:1/api/jobs");
  CHECK(requests[1].target == "/api/status/q");
  CHECK(requests[1].url == "http://h:1/api/status/q");
}

TEST_CASE("BaseUrl::parse splits scheme, host, port and prefix") {
  const auto plain = BaseUrl::parse("http://example.com");
  CHECK(plain.scheme == "http");
  CHECK(plain.host == "example.com");
  CHECK(plain.port == 80);
  CHECK(plain.prefix.empty());
  const auto tls = BaseUrl::parse("HTTPS://Example.com/a/b//");
  CHECK(tls.scheme == "https");
  CHECK(tls.port == 443);
  CHECK(tls.prefix == "/a/b");
  const auto v6 = BaseUrl::parse("http://[::1]:8080");
  CHECK(v6.host == "[::1]");
  CHECK(v6.port == 8080);
  CHECK(v6.origin() == "http://[::1]:8080");
  CHECK(BaseUrl::parse("http://h:65535").port == 65535);
  CHECK(BaseUrl::parse("http://h:1").port == 1);
}
}  // TEST_SUITE("job ids and targets")

// =============================================================================================
// 9. Construction
// =============================================================================================

TEST_SUITE("construction") {
TEST_CASE("construction rejects bad base URLs with invalid_argument naming base_url") {
  for (const char* url :
       {"", "localhost:5000", "ftp://h", "http://", "http:///path", "http://:80", "http://h\r\n:80", "http://h\n",
        "http://h x", "http://h:0", "http://h:70000", "http://h:abc", "http://h:", "http://h:123456", "http://[::1",
        "http://[::1]x", "http://user@h", "http://h/a?b=1", "http://h/a#frag"}) {
    CAPTURE(url);
    CHECK_THROWS_WITH_AS(build(with_url(url)), doctest::Contains("base_url"), std::invalid_argument);
  }
}

TEST_CASE("construction messages say what is wrong with the URL") {
  CHECK_THROWS_WITH_AS(build(with_url("")), doctest::Contains("empty"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("h:1")), doctest::Contains("scheme"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("ftp://h")), doctest::Contains("http or https"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("http://:1")), doctest::Contains("no host"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("http://h\r\n")), doctest::Contains("control character"), std::invalid_argument);
  // found by fuzzing: a tab or backspace in the host was accepted
  CHECK_THROWS_WITH_AS(build(with_url("http://exa\tmple.com/api")), doctest::Contains("control"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("http://h\"\b\nid")), doctest::Contains("control"), std::invalid_argument);
  CHECK_THROWS_AS(build(with_url("http://h/a\x7F")), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("http://h:0")), doctest::Contains("port"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("http://h:70000")), doctest::Contains("port"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("http://h:abc")), doctest::Contains("port"), std::invalid_argument);
}

TEST_CASE("construction accepts http, https, IPv6 with a port, ports 1 and 65535, path prefixes") {
  for (const char* url : {"http://127.0.0.1:5000", "https://api.example.com", "http://[::1]:8080",
                          "http://[2001:db8::1]:1/x", "http://h:65535/", "HTTP://H:1/api/v1"}) {
    CAPTURE(url);
    CHECK_NOTHROW(build(with_url(url)));
  }
}

TEST_CASE("construction rejects negative max_retries and negative or NaN durations, naming the field") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  ClientOptions options = test_options();

  options = test_options();
  options.max_retries = -1;
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("max_retries"), std::invalid_argument);

  for (const double bad : {-0.5, nan, inf}) {
    CAPTURE(bad);
    options = test_options();
    options.initial_backoff = Seconds(bad);
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("initial_backoff"), std::invalid_argument);
    options = test_options();
    options.max_backoff = Seconds(bad);
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("max_backoff"), std::invalid_argument);
    options = test_options();
    options.max_timeout = Seconds(bad);
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("max_timeout"), std::invalid_argument);
    options = test_options();
    options.request_timeout = Seconds(bad);
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("request_timeout"), std::invalid_argument);
    options = test_options();
    options.connect_timeout = Seconds(bad);
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("connect_timeout"), std::invalid_argument);
    options = test_options();
    options.polling.initial_interval = Seconds(bad);
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("polling"), std::invalid_argument);
    options = test_options();
    options.polling.max_interval = Seconds(bad);
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("polling"), std::invalid_argument);
    options = test_options();
    options.polling.min_interval = Seconds(bad);
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("polling"), std::invalid_argument);
  }
  options = test_options();
  options.max_timeout = Seconds(0.0);
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("max_timeout"), std::invalid_argument);
  options = test_options();
  options.request_timeout = Seconds(0.0);
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("request_timeout"), std::invalid_argument);
  options = test_options();
  options.initial_backoff = Seconds(0.0);  // zero backoff is allowed: retry at once
  CHECK_NOTHROW(build(options));
}

TEST_CASE("construction rejects jitter outside [0, 1] and a multiplier below 1") {
  ClientOptions options = test_options();
  for (const double bad : {1.01, -0.1, std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(bad);
    options = test_options();
    options.polling.jitter = bad;
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("jitter"), std::invalid_argument);
  }
  for (const double bad : {0.99, 0.0, -2.0, std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    options = test_options();
    options.polling.multiplier = bad;
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("multiplier"), std::invalid_argument);
  }
  options = test_options();
  options.polling.jitter = 1.0;
  options.polling.multiplier = 1.0;
  CHECK_NOTHROW(build(options));
}

TEST_CASE("construction rejects header injection through extra_headers and bearer_token") {
  ClientOptions options = test_options();
  options.bearer_token = "abc\r\nX-Evil: 1";
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("bearer_token"), std::invalid_argument);
  options = test_options();
  options.bearer_token = "abc\n";
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("bearer_token"), std::invalid_argument);

  const std::vector<HttpHeader> bad_headers[] = {
      {{"X-Ok", "v\r\nX-Evil: 1"}},
      {{"X-Ok\r\nX-Evil", "v"}},
      {{"X-Ok", "v\n"}},
      {{"", "v"}},
      {{"X-Bad:", "v"}},
      {{"X-Ok", "fine"}, {"X-Two", std::string("nul\0byte", 8)}},
  };
  for (const auto& headers : bad_headers) {
    CAPTURE(headers.back().name);
    options = test_options();
    options.extra_headers = headers;
    CHECK_THROWS_WITH_AS(build(options), doctest::Contains("extra_headers"), std::invalid_argument);
  }
}

TEST_CASE("construction rejects endpoint paths without a leading '/' or with whitespace") {
  ClientOptions options = test_options();
  options.endpoints.status = "status/{job_id}";
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("endpoint"), std::invalid_argument);
  options = test_options();
  options.endpoints.create_job = "";
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("endpoint"), std::invalid_argument);
  options = test_options();
  options.endpoints.create_job = "/create job";
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("endpoint"), std::invalid_argument);
  options = test_options();
  options.endpoints.status = "/status\r\n{job_id}";
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("endpoint"), std::invalid_argument);
}

TEST_CASE("construction rejects a zero body cap or connection pool") {
  ClientOptions options = test_options();
  options.max_body_bytes = 0;
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("max_body_bytes"), std::invalid_argument);
  options = test_options();
  options.connection_pool_size = 0;
  CHECK_THROWS_WITH_AS(build(options), doctest::Contains("connection_pool_size"), std::invalid_argument);
}

TEST_CASE("defaults are the seed's: max_retries 15, initial_backoff 0.5 s, max_timeout 300 s; options() echoes") {
  const ClientOptions defaults;
  CHECK(defaults.max_retries == 15);
  CHECK(defaults.initial_backoff.count() == doctest::Approx(0.5));
  CHECK(defaults.max_timeout.count() == doctest::Approx(300.0));
  CHECK(defaults.verify_tls);
  CHECK_FALSE(defaults.log_sink);
  Harness h;
  CHECK(h.client.options().base_url == "http://127.0.0.1:5000");
  CHECK(h.client.options().max_retries == 15);
}
}  // TEST_SUITE("construction")

// =============================================================================================
// 10. Cancellation
// =============================================================================================

TEST_SUITE("cancellation") {
TEST_CASE("stop requested before the call: cancelled at once, no request") {
  Harness h;
  h.transport.otherwise([](const HttpRequest&) { return status_answer("pending"); });
  std::stop_source source;
  source.request_stop();
  const auto result = h.client.get_translation_status("j", source.get_token());
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::cancelled);
  CHECK(result.requests <= 1);
  CHECK(h.transport.request_count() == static_cast<std::size_t>(result.requests));
  CHECK(h.clock.sleeps().empty());
  CHECK(contains(result.error_message.value_or(""), "cancel"));
}

TEST_CASE("stop requested during the 3rd poll wait: returns at once with the requests so far") {
  Harness h;
  h.transport.otherwise([](const HttpRequest&) { return status_answer("pending"); });
  std::stop_source source;
  int sleeps = 0;
  h.clock.on_sleep([&] {
    if (++sleeps == 3) source.request_stop();
  });
  const auto result = h.client.get_translation_status("j", source.get_token());
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::cancelled);
  CHECK(result.requests == 3);
  CHECK(h.transport.request_count() == 3u);
  CHECK(h.clock.sleeps() == Sleeps{1900ms, 3800ms});  // the third wait never happened
  CHECK(result.elapsed == 5700ms);
}

TEST_CASE("stop requested during a retry backoff: cancelled, not an HTTP failure") {
  Harness h;
  h.transport.otherwise([](const HttpRequest&) { return answer(503, ""); });
  std::stop_source source;
  h.clock.on_sleep([&] { source.request_stop(); });
  const auto result = h.client.get_translation_status("j", source.get_token());
  CHECK(result.cause == FailureCause::cancelled);
  CHECK(result.requests == 1);
  CHECK(result.http_status == 503);
}

TEST_CASE("each request carries the caller's stop_token; a transport that abandons on stop ends as cancelled") {
  Harness h;
  std::stop_source source;
  h.transport.otherwise([source](const HttpRequest& request) mutable {
    CHECK(request.stop.stop_possible());
    source.request_stop();  // the caller cancels while the request is in flight
    CHECK(request.stop.stop_requested());
    return no_answer(TransportError::cancelled);
  });
  const auto result = h.client.get_translation_status("j", source.get_token());
  CHECK(result.cause == FailureCause::cancelled);
  CHECK(result.requests == 1);
  CHECK(h.clock.sleeps().empty());
}

TEST_CASE("create: stop before throws TranslationError cancelled without a request; stop in backoff after one") {
  SUBCASE("before") {
    Harness h;
    h.transport.otherwise([](const HttpRequest&) { return answer(200, R"({"job_id": "x"})"); });
    std::stop_source source;
    source.request_stop();
    try {
      (void)h.client.create_translation_job(source.get_token());
      FAIL("no throw");
    } catch (const TranslationError& e) {
      CHECK(e.cause() == FailureCause::cancelled);
      CHECK(e.requests() == 0);
    }
    CHECK(h.transport.request_count() == 0u);
  }
  SUBCASE("during the backoff") {
    Harness h;
    h.transport.otherwise([](const HttpRequest&) { return no_answer(TransportError::refused); });
    std::stop_source source;
    h.clock.on_sleep([&] { source.request_stop(); });
    try {
      (void)h.client.create_translation_job(source.get_token());
      FAIL("no throw");
    } catch (const TranslationError& e) {
      CHECK(e.cause() == FailureCause::cancelled);
      CHECK(e.requests() == 1);
    }
  }
}

TEST_CASE("bulk: stop marks every unfinished id cancelled; finished ones keep their result") {
  ClientOptions options = test_options();
  options.poller_threads = 1;  // one worker: it looks at every due id before anything sleeps
  Harness h(options);
  h.transport.otherwise([](const HttpRequest& request) {
    if (request.target == "/status/a-done") return status_answer("completed");
    if (request.target == "/status/b-failed") return status_with(R"({"result": "error", "error_message": "bad"})");
    return status_answer("pending");
  });
  std::stop_source source;
  h.clock.on_sleep([&] { source.request_stop(); });
  // one worker: it looks at every due id once (in sorted order), then sleeps
  const auto results =
      h.client.get_bulk_translation_statuses({"d-never", "c-pending", "b-failed", "a-done"}, 1, source.get_token());
  REQUIRE(results.size() == 4u);
  CHECK(results.at("a-done").status == TranslationStatus::completed);
  CHECK(results.at("b-failed").cause == FailureCause::job_failed);
  CHECK(results.at("b-failed").error_message == "bad");
  CHECK(results.at("c-pending").cause == FailureCause::cancelled);
  CHECK(results.at("c-pending").requests == 1);
  CHECK(results.at("d-never").cause == FailureCause::cancelled);
  CHECK(results.at("d-never").requests == 1);
  CHECK(h.transport.request_count() == 4u);
}

TEST_CASE("bulk: stop before the call cancels every id without a request") {
  Harness h;
  h.transport.otherwise([](const HttpRequest&) { return status_answer("completed"); });
  std::stop_source source;
  source.request_stop();
  const auto results = h.client.get_bulk_translation_statuses({"x", "y", "z"}, 2, source.get_token());
  REQUIRE(results.size() == 3u);
  for (const auto& entry : results) {
    CAPTURE(entry.first);
    CHECK(entry.second.cause == FailureCause::cancelled);
  }
  CHECK(h.transport.request_count() == 0u);
}
}  // TEST_SUITE("cancellation")

// =============================================================================================
// 11. check_translation_status
// =============================================================================================

TEST_SUITE("check") {
TEST_CASE("check_translation_status returns pending as it is after one request, with progress and eta") {
  Harness h;
  h.transport.then(status_with(R"({"result": "pending", "progress": 0.25, "eta_seconds": 12})"));
  const auto result = h.client.check_translation_status("j");
  CHECK(result.status == TranslationStatus::pending);
  CHECK(result.cause == FailureCause::none);
  CHECK_FALSE(result.error_message);
  CHECK(result.requests == 1);
  CHECK(result.http_status == 200);
  CHECK(result.progress == 0.25);
  CHECK(result.eta_seconds == 12.0);
  CHECK(h.clock.sleeps().empty());
  CHECK_FALSE(result.ok());
  CHECK_FALSE(result.job_finished());
}

TEST_CASE("check_translation_status retries transient failures") {
  Harness h;
  h.transport.then(answer(503, "")).then(no_answer(TransportError::timeout)).then(status_answer("completed"));
  const auto result = h.client.check_translation_status("j");
  CHECK(result.ok());
  CHECK(result.requests == 3);
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms});
  CHECK(result.elapsed == 750ms);
}

TEST_CASE("check_translation_status reports terminal answers like the waiting form") {
  Harness h;
  h.transport.then(status_answer("error")).then(answer(404, "")).then(status_answer("Job ID not found"));
  CHECK(h.client.check_translation_status("a").cause == FailureCause::job_failed);
  CHECK(h.client.check_translation_status("b").cause == FailureCause::unknown_job);
  CHECK(h.client.check_translation_status("c").cause == FailureCause::unexpected_result);
}
}  // TEST_SUITE("check")

// =============================================================================================
// 12. Bulk
// =============================================================================================

TEST_SUITE("bulk") {
namespace {
/// A handler that answers pending `pendings` times per id, then completed; counts requests per id.
struct PerIdServer {
  int pendings = 2;
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::map<std::string, int>> counts = std::make_shared<std::map<std::string, int>>();

  std::function<HttpResponse(const HttpRequest&)> handler() const {
    return [mutex = mutex, counts = counts, pendings = pendings](const HttpRequest& request) {
      std::lock_guard lock(*mutex);
      const int seen = ++(*counts)[request.target];
      return status_answer(seen <= pendings ? "pending" : "completed");
    };
  }
  std::map<std::string, int> snapshot() const {
    std::lock_guard lock(*mutex);
    return *counts;
  }
};

ClientOptions roomy_options() {
  // Threads share one virtual clock, so each one's sleeps move the others' time: keep the deadline far.
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1e6);
  return options;
}
}  // namespace

TEST_CASE("bulk: one map entry per distinct id; duplicates tracked once") {
  Harness h(roomy_options());
  PerIdServer server;
  h.transport.otherwise(server.handler());
  const auto results = h.client.get_bulk_translation_statuses({"b", "a", "b", "c", "a", "b"});
  REQUIRE(results.size() == 3u);
  for (const char* id : {"a", "b", "c"}) {
    CAPTURE(id);
    REQUIRE(results.count(id) == 1u);
    CHECK(results.at(id).ok());
    CHECK(results.at(id).requests == 3);
  }
  CHECK(h.transport.request_count() == 9u);
  const auto counts = server.snapshot();
  CHECK(counts.size() == 3u);
  for (const auto& [target, count] : counts) CHECK(count == 3);
}

TEST_CASE("bulk: an empty list gives an empty map and no requests") {
  Harness h;
  CHECK(h.client.get_bulk_translation_statuses({}).empty());
  CHECK(h.client.get_bulk_translation_statuses({}, 1).empty());
  CHECK(h.transport.request_count() == 0u);
}

TEST_CASE("bulk: a mix of completed, failed, unknown and odd ids") {
  Harness h(roomy_options());
  h.transport.otherwise([](const HttpRequest& request) {
    if (request.target == "/status/done") return status_answer("completed");
    if (request.target == "/status/failed") return status_with(R"({"result": "error", "error_message": "codec"})");
    if (request.target == "/status/gone") return answer(404, R"({"result": "error", "error_message": "unknown job"})");
    if (request.target == "/status/weird") return status_answer("Job ID not found");
    return answer(400, "");
  });
  const auto results = h.client.get_bulk_translation_statuses({"done", "failed", "gone", "weird"}, 2);
  REQUIRE(results.size() == 4u);
  CHECK(results.at("done").status == TranslationStatus::completed);
  CHECK(results.at("failed").cause == FailureCause::job_failed);
  CHECK(results.at("failed").error_message == "codec");
  CHECK(results.at("gone").cause == FailureCause::unknown_job);
  CHECK(results.at("gone").http_status == 404);
  CHECK(results.at("weird").cause == FailureCause::unexpected_result);
  for (const auto& [id, result] : results) CHECK(result.requests == 1);
}

TEST_CASE("bulk: concurrent_limit 0 is invalid_argument") {
  Harness h;
  CHECK_THROWS_WITH_AS((void)h.client.get_bulk_translation_statuses({"a"}, 0), doctest::Contains("concurrent_limit"),
                       std::invalid_argument);
  CHECK(h.transport.request_count() == 0u);
}

TEST_CASE("bulk: requests in flight never exceed concurrent_limit") {
  for (const std::size_t limit : {std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
    CAPTURE(limit);
    Harness h(roomy_options());
    auto in_flight = std::make_shared<std::atomic<int>>(0);
    auto max_seen = std::make_shared<std::atomic<int>>(0);
    PerIdServer server;
    auto inner = server.handler();
    h.transport.otherwise([=](const HttpRequest& request) {
      const int now = ++*in_flight;
      int seen = max_seen->load();
      while (seen < now && !max_seen->compare_exchange_weak(seen, now)) {
      }
      for (int i = 0; i < 20; ++i) std::this_thread::yield();  // let other workers pile in, if they can
      HttpResponse response = inner(request);
      --*in_flight;
      return response;
    });
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) ids.push_back("job-" + std::to_string(i));
    const auto results = h.client.get_bulk_translation_statuses(ids, limit);
    REQUIRE(results.size() == 20u);
    for (const auto& entry : results) {
      CAPTURE(entry.first);
      CHECK(entry.second.ok());
      CHECK(entry.second.requests == 3);
    }
    CHECK(max_seen->load() >= 1);
    CHECK(max_seen->load() <= static_cast<int>(limit));
    CHECK(h.transport.request_count() == 60u);
  }
}

TEST_CASE("bulk: the scheduler serves jobs by next-due time, interleaved, one sleep for jobs due together") {
  ClientOptions options = roomy_options();
  options.poller_threads = 1;  // one worker: its looks and sleeps are the only ones, in order
  Harness h(options);
  PerIdServer server;
  server.pendings = 1;
  h.transport.otherwise(server.handler());
  const auto results = h.client.get_bulk_translation_statuses({"c", "a", "b"}, 1);
  CHECK(results.size() == 3u);
  std::vector<std::string> targets;
  for (const auto& request : h.transport.requests()) targets.push_back(request.target);
  CHECK(targets ==
        std::vector<std::string>{"/status/a", "/status/b", "/status/c", "/status/a", "/status/b", "/status/c"});
  CHECK(h.clock.sleeps() == Sleeps{1900ms});
  for (const auto& entry : results) {
    CAPTURE(entry.first);
    CHECK(entry.second.ok());
    CHECK(entry.second.requests == 2);
    CHECK(entry.second.elapsed == 1900ms);  // each job's own clock: started with the call, not when a worker was free
  }
}

TEST_CASE("bulk: coalescing moves a long wait's look to the end of its tick, so looks fall together") {
  ClientOptions options = roomy_options();
  options.random = [] { return 0.37; };  // cold wait 2 s × (1 - 0.1 × 0.37) = 1926 ms
  options.poller_threads = 1;            // one worker: its sleeps are the only ones the fake clock records
  for (const double tick : {0.0, 0.05, 0.5}) {
    CAPTURE(tick);
    options.polling.coalesce = Seconds(tick);
    Harness h(options);
    PerIdServer server;
    server.pendings = 1;
    h.transport.otherwise(server.handler());
    const auto results = h.client.get_bulk_translation_statuses({"a", "b"}, 1);
    const auto expected = tick == 0.0 ? 1926ms : tick == 0.05 ? 1950ms : 1926ms;  // 0.5 s: 1.9 s < 20 ticks
    CHECK(h.clock.sleeps() == Sleeps{expected});
    for (const auto& entry : results) CHECK(entry.second.elapsed == expected);
  }
}

TEST_CASE("detail::looks_within: as many looks as fit in the window, so slow looks spread over workers") {
  using detail::looks_within;
  CHECK(looks_within(Seconds(0.05), Seconds(0), 32) == 1);        // nothing measured yet: one at a time
  CHECK(looks_within(Seconds(0.05), Seconds(0.0001), 32) == 32);  // fast loopback: up to the cap
  CHECK(looks_within(Seconds(0.05), Seconds(0.01), 32) == 5);
  CHECK(looks_within(Seconds(0.05), Seconds(0.2), 32) == 1);  // a slow server: every due job to its own worker
  CHECK(looks_within(Seconds(0), Seconds(0.01), 32) == 1);
  CHECK(looks_within(Seconds(0.05), Seconds(std::nan("")), 32) == 1);
}

TEST_CASE("bulk: jobs taken ahead of time are looked at no more than a fifth of their wait early") {
  // Each look takes 5 ms of virtual time, so once one is measured a worker takes up to 10 jobs at once (50 ms /
  // 5 ms). Hints of eta 0 make the first wait the 50 ms floor. The worker looks at job0 alone (nothing measured
  // yet), requeues it for 50 ms later, then takes job1 and would take job0 with it, since job0 is due within the
  // window: looking at it again 10 ms after its last look.
  ClientOptions options = roomy_options();
  Harness h(options);
  std::map<std::string, std::vector<TimePoint>> looks;  // one worker: no lock needed
  h.transport.otherwise([&](const HttpRequest& request) {
    h.clock.advance(5ms);
    auto& seen = looks[request.target];
    seen.push_back(h.clock.now());
    return status_with(seen.size() < 4 ? R"({"result": "pending", "eta_seconds": 0})" : R"({"result": "completed"})");
  });
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) ids.push_back("job" + std::to_string(i));
  const auto results = h.client.get_bulk_translation_statuses(ids, 1);
  for (const auto& entry : results) CHECK(entry.second.ok());
  REQUIRE(looks.size() == ids.size());
  for (const auto& entry : looks) {
    CAPTURE(entry.first);
    const auto& times = entry.second;
    CHECK(times.size() == 4);
    for (std::size_t k = 1; k < times.size(); ++k) CHECK(times[k] - times[k - 1] >= 40ms);  // 50 ms less a fifth
  }
}

TEST_CASE("bulk: a job ended by a worker's unexpected exception is not looked at again") {
  // The worker takes a, then (with a look time measured) b and c together. b is served and requeued; the jitter
  // draw for c throws, which ends both jobs of that take with the error. b must not be looked at again.
  ClientOptions options = roomy_options();
  auto draws = std::make_shared<std::atomic<int>>(0);
  options.random = [draws] {
    if (++*draws == 3) throw std::runtime_error("no entropy");
    return 0.5;
  };
  options.poller_threads = 1;  // one worker takes all three jobs at once, as the test's take assumes
  Harness h(options);
  PerIdServer server;
  server.pendings = 1;
  const auto answer_slowly = [&h, handler = server.handler()](const HttpRequest& request) {
    h.clock.advance(1ms);
    return handler(request);
  };
  h.transport.otherwise(answer_slowly);
  const auto results = h.client.get_bulk_translation_statuses({"a", "b", "c"}, 1);
  CHECK(results.at("a").ok());
  for (const char* id : {"b", "c"}) {
    CAPTURE(id);
    CHECK(results.at(id).status == TranslationStatus::error);
    CHECK(contains(results.at(id).error_message.value_or(""), "no entropy"));
  }
  CHECK(server.snapshot().at("/status/b") == 1);
}

TEST_CASE("construction rejects a negative or NaN polling.coalesce") {
  ClientOptions options = test_options();
  options.polling.coalesce = Seconds(-1.0);
  CHECK_THROWS_AS(build(options), std::invalid_argument);
  options.polling.coalesce = Seconds(std::nan(""));
  CHECK_THROWS_AS(build(options), std::invalid_argument);
}

namespace {
/// Options for a server whose batch support is not yet known (the client finds out).
ClientOptions batch_unknown_options() {
  ClientOptions options = roomy_options();
  options.profile = std::make_shared<ServerProfile>();
  return options;
}

/// A fake batch answer: `done` ids completed, the others pending.
HttpResponse batch_answer(const std::vector<std::string>& ids, const std::set<std::string>& done) {
  std::string body = R"({"results": {)";
  for (std::size_t i = 0; i < ids.size(); ++i)
    body +=
        (i ? ", \"" : "\"") + ids[i] + R"(": {"result": ")" + (done.contains(ids[i]) ? "completed" : "pending") + "\"}";
  return answer(200, body + "}}");
}
}  // namespace

TEST_CASE("bulk: a server with the batch endpoint gets one request per round for all due jobs") {
  Harness h(batch_unknown_options());
  int rounds = 0;
  h.transport.otherwise([&](const HttpRequest& request) {
    REQUIRE(request.method == "POST");
    REQUIRE(request.target == "/status/batch");
    return batch_answer({"a", "b", "c"}, ++rounds == 1 ? std::set<std::string>{"b"} : std::set<std::string>{"a", "c"});
  });
  const auto results = h.client.get_bulk_translation_statuses({"c", "a", "b"}, 4);
  REQUIRE(results.size() == 3u);
  for (const auto& entry : results) CHECK(entry.second.ok());
  CHECK(h.client.profile().batch() == Support::yes);
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 2u);  // round 1: a, b, c; round 2: a and c, still due together
  CHECK(contains(requests[0].body, R"("job_ids":["a","b","c"])"));
  CHECK(contains(requests[1].body, R"("job_ids":["a","c"])"));
  CHECK(h.clock.sleeps() == Sleeps{1900ms});
}

TEST_CASE("bulk: a 404 on the batch endpoint is remembered and every job is polled on its own") {
  Harness h(batch_unknown_options());
  PerIdServer server;
  server.pendings = 0;
  const auto per_job = server.handler();
  h.transport.otherwise([&](const HttpRequest& request) {
    if (request.method == "POST") return answer(404, R"({"error": "not found"})");
    return per_job(request);
  });
  const auto results = h.client.get_bulk_translation_statuses({"a", "b"}, 2);
  for (const auto& entry : results) CHECK(entry.second.ok());
  CHECK(h.client.profile().batch() == Support::no);
  CHECK(h.transport.request_count() == 3u);  // one batch attempt, then one GET per job
  const auto again = h.client.get_bulk_translation_statuses({"c", "d"}, 2);
  CHECK(h.transport.request_count() == 5u);  // no second batch attempt
}

TEST_CASE("bulk: batch requests are long polls when the policy asks for them") {
  ClientOptions options = batch_unknown_options();
  options.polling.long_poll = Seconds(20);
  Harness h(options);
  h.transport.otherwise([&](const HttpRequest& request) {
    CHECK(request.target == "/status/batch?wait=20");
    h.clock.advance(20s);  // the server held it, and nothing finished
    return batch_answer({"a", "b"},
                        h.transport.request_count() >= 3 ? std::set<std::string>{"a", "b"} : std::set<std::string>{});
  });
  // more jobs than workers: held per-job polls would starve, so the jobs share batch long polls
  const auto results = h.client.get_bulk_translation_statuses({"a", "b"}, 1);
  for (const auto& entry : results) CHECK(entry.second.ok());
  CHECK(h.transport.request_count() == 3u);
  CHECK(h.clock.sleeps().empty());  // a held batch is asked again at once
  CHECK(h.client.profile().long_poll() == Support::yes);
}

TEST_CASE("bulk: a held batch that one job's finish cut short sends the others back to their own schedule") {
  ClientOptions options = batch_unknown_options();
  options.polling.long_poll = Seconds(20);
  Harness h(options);
  h.transport.otherwise([&](const HttpRequest& request) {
    CHECK(request.target == "/status/batch?wait=20");
    if (h.transport.request_count() == 1) {
      h.clock.advance(5s);  // a finished 5 s into the hold
      return batch_answer({"a", "b", "c"}, {"a"});
    }
    return batch_answer({"b", "c"}, {"b", "c"});
  });
  const auto results = h.client.get_bulk_translation_statuses({"a", "b", "c"}, 1);
  for (const auto& entry : results) CHECK(entry.second.ok());
  const auto requests = h.transport.requests();
  REQUIRE(requests.size() == 2u);
  CHECK(contains(requests[1].body, R"("job_ids":["b","c"])"));
  // Not asked again at once (each finish would then cost a request for all the others): their cold wait.
  CHECK(h.clock.sleeps() == Sleeps{1900ms});
}

TEST_CASE("bulk: each job keeps its own deadline; a job pending forever times out at exactly max_timeout") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(10);
  Harness h(options);
  h.transport.otherwise([](const HttpRequest& request) {
    return status_answer(request.target == "/status/fast" ? "completed" : "pending");
  });
  const auto results = h.client.get_bulk_translation_statuses({"fast", "slow"}, 1);
  CHECK(results.at("fast").ok());
  CHECK(results.at("slow").status == TranslationStatus::timeout);
  CHECK(results.at("slow").cause == FailureCause::deadline);
  CHECK(results.at("slow").elapsed == 10s);
}

TEST_CASE("bulk: a transport that throws for one id does not disturb the others") {
  ClientOptions options = roomy_options();
  options.max_retries = 1;
  Harness h(options);
  h.transport.otherwise([](const HttpRequest& request) -> HttpResponse {
    if (request.target == "/status/bad") throw std::runtime_error("kaput");
    return status_answer("completed");
  });
  const auto results = h.client.get_bulk_translation_statuses({"ok1", "bad", "ok2"}, 3);
  CHECK(results.at("ok1").ok());
  CHECK(results.at("ok2").ok());
  CHECK(results.at("bad").cause == FailureCause::transport);
  CHECK(results.at("bad").requests == 2);
}

TEST_CASE("bulk: on_result gets every distinct id once, as it finishes, with progress counts") {
  Harness h(roomy_options());
  h.transport.otherwise([](const HttpRequest& request) {
    return request.target == "/status/bad" ? status_answer("error") : status_answer("completed");
  });
  std::vector<std::pair<std::string, BulkProgress>> seen;  // calls are serialized by the client
  const auto results = h.client.get_bulk_translation_statuses(
      {"x", "bad", "y", "x"}, 1, {},
      [&](const std::string& id, const TranslationResult& result, BulkProgress progress) {
        CHECK(result.status != TranslationStatus::pending);
        seen.emplace_back(id, progress);
      });
  REQUIRE(seen.size() == 3u);
  CHECK(seen[0].first == "bad");
  CHECK(seen[1].first == "x");
  CHECK(seen[2].first == "y");
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].second.done == i + 1);
    CHECK(seen[i].second.total == 3u);
  }
  CHECK(results.size() == 3u);
}

TEST_CASE("bulk: an exception from on_result is logged and ignored; every result still arrives") {
  LogCollector logs;
  ClientOptions options = roomy_options();
  options.log_sink = logs.sink();
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return status_answer("completed"); });
  int calls = 0;
  FakeClient::ResultMap results;
  CHECK_NOTHROW(results = h.client.get_bulk_translation_statuses(
                    {"a", "b", "c"}, 2, {}, [&](const std::string&, const TranslationResult&, BulkProgress) {
                      ++calls;
                      throw std::runtime_error("callback blew up");
                    }));
  CHECK(calls == 3);
  CHECK(results.size() == 3u);
  for (const auto& [id, result] : results) CHECK(result.ok());
  CHECK(logs.any_contains("callback blew up"));
}
}  // TEST_SUITE("bulk")

// =============================================================================================
// 13. Futures
// =============================================================================================

TEST_SUITE("async") {
TEST_CASE("create_translation_job_async gives the id, or rethrows the TranslationError") {
  Harness h;
  h.transport.then(answer(200, R"({"job_id": "async-1"})")).then(answer(401, ""));
  CHECK(h.client.create_translation_job_async().get() == "async-1");
  auto failing = h.client.create_translation_job_async();
  CHECK_THROWS_AS(failing.get(), TranslationError);
}

TEST_CASE("get_translation_status_async gives the same result as the sync form") {
  Harness sync_h;
  Harness async_h;
  for (auto* h : {&sync_h, &async_h}) {
    h->transport.then(status_answer("pending")).then(answer(503, "")).then(status_answer("completed"));
  }
  const auto sync = sync_h.client.get_translation_status("j");
  const auto async = async_h.client.get_translation_status_async("j").get();
  CHECK(async.status == sync.status);
  CHECK(async.cause == sync.cause);
  CHECK(async.requests == sync.requests);
  CHECK(async.requests == 3);
  CHECK(async.elapsed == sync.elapsed);
  CHECK(async_h.clock.sleeps() == sync_h.clock.sleeps());
}

TEST_CASE("get_translation_status_async honours its stop_token") {
  Harness h;
  h.transport.otherwise([](const HttpRequest&) { return status_answer("pending"); });
  std::stop_source source;
  source.request_stop();
  CHECK(h.client.get_translation_status_async("j", source.get_token()).get().cause == FailureCause::cancelled);
}

TEST_CASE("get_bulk_translation_statuses_async gives the same map as the sync form") {
  const auto server = [](const HttpRequest& request) {
    if (request.target == "/status/f") return status_answer("error");
    return status_answer("completed");
  };
  Harness sync_h;
  Harness async_h;
  sync_h.transport.otherwise(server);
  async_h.transport.otherwise(server);
  const std::vector<std::string> ids{"a", "f", "a", "z"};
  const auto sync = sync_h.client.get_bulk_translation_statuses(ids, 2);
  const auto async = async_h.client.get_bulk_translation_statuses_async(ids, 2).get();
  REQUIRE(async.size() == sync.size());
  REQUIRE(async.size() == 3u);
  for (const auto& entry : sync) {
    const std::string& id = entry.first;
    const TranslationResult& result = entry.second;
    CAPTURE(id);
    REQUIRE(async.count(id) == 1u);
    CHECK(async.at(id).status == result.status);
    CHECK(async.at(id).cause == result.cause);
    CHECK(async.at(id).requests == result.requests);
  }
}
}  // TEST_SUITE("async")

// =============================================================================================
// 14. Many threads at once
// =============================================================================================

TEST_SUITE("threads") {
TEST_CASE("16 threads through one client: each gets its own requests count and result") {
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1e6);  // the threads share one virtual clock
  Harness h(options);
  auto mutex = std::make_shared<std::mutex>();
  auto counts = std::make_shared<std::map<std::string, int>>();
  // job-i is pending (i % 5) times, then completed; odd ids get a 503 first.
  h.transport.otherwise([mutex, counts](const HttpRequest& request) {
    const std::string id = request.target.substr(std::string("/status/").size());
    const int index = std::stoi(id.substr(4));
    int seen;
    {
      std::lock_guard lock(*mutex);
      seen = ++(*counts)[id];
    }
    if (index % 2 == 1) {
      if (seen == 1) return answer(503, "");
      --seen;
    }
    return status_answer(seen <= index % 5 ? "pending" : "completed");
  });
  constexpr int thread_count = 16;
  std::vector<TranslationResult> results(thread_count);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < thread_count; ++i)
      threads.emplace_back([&, i] { results[i] = h.client.get_translation_status("job-" + std::to_string(i)); });
    for (auto& thread : threads) thread.join();
  }
  int total_requests = 0;
  for (int i = 0; i < thread_count; ++i) {
    CAPTURE(i);
    CHECK(results[i].status == TranslationStatus::completed);
    CHECK(results[i].requests == i % 5 + 1 + i % 2);
    total_requests += results[i].requests;
  }
  CHECK(h.transport.request_count() == static_cast<std::size_t>(total_requests));
  for (int i = 0; i < thread_count; ++i) CHECK(counts->at("job-" + std::to_string(i)) == i % 5 + 1 + i % 2);
}

TEST_CASE("concurrent creates each get their own Idempotency-Key and id") {
  Harness h;
  auto next = std::make_shared<std::atomic<int>>(0);
  h.transport.otherwise(
      [next](const HttpRequest&) { return answer(200, R"({"job_id": "id-)" + std::to_string((*next)++) + "\"}"); });
  constexpr int thread_count = 8;
  std::vector<std::string> ids(thread_count);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < thread_count; ++i) threads.emplace_back([&, i] { ids[i] = h.client.create_translation_job(); });
    for (auto& thread : threads) thread.join();
  }
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == static_cast<std::size_t>(thread_count));
  std::set<std::string> keys;
  for (const auto& request : h.transport.requests()) keys.insert(header_of(request, "Idempotency-Key").value_or(""));
  CHECK(keys.size() == static_cast<std::size_t>(thread_count));
}
}  // TEST_SUITE("threads")

// =============================================================================================
// 15. Logging
// =============================================================================================

TEST_SUITE("logging") {
TEST_CASE("silent by default, and with log_level off nothing reaches the sink") {
  CHECK_FALSE(ClientOptions{}.log_sink);
  CHECK(ClientOptions{}.log_level == LogLevel::info);
  {
    Harness h;  // no sink: failures and retries must just work
    h.transport.then(answer(503, "")).then(status_answer("error"));
    CHECK(h.client.get_translation_status("j").cause == FailureCause::job_failed);
  }
  LogCollector logs;
  ClientOptions options = test_options();
  options.log_sink = logs.sink();
  options.log_level = LogLevel::off;
  Harness h(options);
  h.transport.then(answer(503, "")).then(status_answer("pending")).then(status_answer("error"));
  h.transport.then(answer(200, R"({"job_id": "x"})"));
  (void)h.client.get_translation_status("j");
  (void)h.client.create_translation_job();
  CHECK(logs.all().empty());
}

TEST_CASE("a job id with CR/LF cannot forge a log line") {
  LogCollector logs;
  ClientOptions options = test_options();
  options.log_sink = logs.sink();
  Harness h(options);
  h.transport.then(answer(503, "")).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("a\r\n[heygen] error: forged").ok());
  REQUIRE_FALSE(logs.all().empty());
  for (const auto& entry : logs.all()) {
    CHECK(entry.message.find('\n') == std::string::npos);
    CHECK(entry.message.find('\r') == std::string::npos);
  }
}

TEST_CASE("an empty job id is unknown_job without a request") {
  Harness h;
  const TranslationResult result = h.client.get_translation_status("");
  CHECK(result.cause == FailureCause::unknown_job);
  CHECK(result.requests == 0);
  CHECK(h.transport.request_count() == 0u);
}

TEST_CASE("a retry is logged at warn with the job id, attempt number, chosen wait in ms and the cause") {
  LogCollector logs;
  ClientOptions options = test_options();
  options.log_sink = logs.sink();
  Harness h(options);
  h.transport.then(answer(503, "")).then(no_answer(TransportError::refused)).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("job-42").ok());
  const auto entries = logs.all();
  REQUIRE(entries.size() == 2u);
  CHECK(entries[0].level == LogLevel::warn);
  CHECK(contains(entries[0].message, "job-42"));
  CHECK(contains(entries[0].message, "attempt 1"));
  CHECK(contains(entries[0].message, "250 ms"));
  CHECK(contains(entries[0].message, "HTTP 503"));
  CHECK(entries[1].level == LogLevel::warn);
  CHECK(contains(entries[1].message, "attempt 2"));
  CHECK(contains(entries[1].message, "500 ms"));
  CHECK(contains(entries[1].message, "refused"));
}

TEST_CASE("a failed call is logged with the job id, status and cause; a job failure at info") {
  LogCollector logs;
  ClientOptions options = test_options();
  options.log_sink = logs.sink();
  options.max_retries = 0;
  Harness h(options);
  h.transport.then(no_answer(TransportError::reset)).then(status_with(R"({"result": "error", "error_message": "x"})"));
  (void)h.client.get_translation_status("j-transport");
  (void)h.client.get_translation_status("j-failed");
  const auto entries = logs.all();
  REQUIRE(entries.size() == 2u);
  CHECK(entries[0].level == LogLevel::warn);
  CHECK(contains(entries[0].message, "j-transport"));
  CHECK(contains(entries[0].message, "transport"));
  CHECK(contains(entries[0].message, "reset"));
  CHECK(entries[1].level == LogLevel::info);
  CHECK(contains(entries[1].message, "j-failed"));
  CHECK(contains(entries[1].message, "job_failed"));
}

TEST_CASE("log_level filters: debug shows each pending look and its wait; warn hides info") {
  SUBCASE("debug") {
    LogCollector logs;
    ClientOptions options = test_options();
    options.log_sink = logs.sink();
    options.log_level = LogLevel::debug;
    Harness h(options);
    h.transport.then(status_answer("pending")).then(status_answer("completed"));
    REQUIRE(h.client.get_translation_status("jd").ok());
    const auto entries = logs.all();
    REQUIRE(entries.size() == 1u);
    CHECK(entries[0].level == LogLevel::debug);
    CHECK(contains(entries[0].message, "jd"));
    CHECK(contains(entries[0].message, "1900 ms"));
  }
  SUBCASE("info shows a create, warn does not") {
    LogCollector info_logs;
    ClientOptions options = test_options();
    options.log_sink = info_logs.sink();
    Harness h(options);
    h.transport.then(answer(200, R"({"job_id": "new-1"})"));
    REQUIRE(h.client.create_translation_job() == "new-1");
    REQUIRE(info_logs.all().size() == 1u);
    CHECK(info_logs.all()[0].level == LogLevel::info);
    CHECK(contains(info_logs.all()[0].message, "new-1"));

    LogCollector warn_logs;
    options.log_sink = warn_logs.sink();
    options.log_level = LogLevel::warn;
    Harness h2(options);
    h2.transport.then(answer(200, R"({"job_id": "new-2"})"))
        .then(status_answer("pending"))
        .then(status_answer("completed"));
    REQUIRE(h2.client.create_translation_job() == "new-2");
    REQUIRE(h2.client.get_translation_status("new-2").ok());
    CHECK(warn_logs.all().empty());
  }
}

TEST_CASE("the bearer token never appears in any log message or error") {
  const std::string token = "SECRET-token-9f8e7d";
  LogCollector logs;
  ClientOptions options = test_options();
  options.bearer_token = token;
  options.log_sink = logs.sink();
  options.log_level = LogLevel::trace;
  options.max_retries = 2;
  options.max_timeout = Seconds(20.0);
  Harness h(options);
  h.transport.then(answer(503, "")).then(status_answer("pending")).then(answer(429, "", {{"Retry-After", "1"}}));
  h.transport.then(status_answer("completed"));                                        // job a
  h.transport.then_n(3, no_answer(TransportError::reset));                             // job b: transport
  h.transport.then(answer(401, R"({"error_message": "bad credentials"})"));            // job c: http_status
  h.transport.then(answer(500, "")).then(answer(200, R"({"job_id": "n"})"));           // create
  h.transport.then_n(3, answer(502, ""));                                              // create fails
  h.transport.otherwise([](const HttpRequest&) { return status_answer("pending"); });  // job d: timeout
  std::vector<std::string> errors;
  errors.push_back(h.client.get_translation_status("a").error_message.value_or(""));
  errors.push_back(h.client.get_translation_status("b").error_message.value_or(""));
  errors.push_back(h.client.get_translation_status("c").error_message.value_or(""));
  CHECK(h.client.create_translation_job() == "n");
  try {
    (void)h.client.create_translation_job();
  } catch (const TranslationError& e) {
    errors.push_back(e.what());
  }
  errors.push_back(h.client.get_translation_status("d").error_message.value_or(""));
  // the token did go out on the wire...
  for (const auto& request : h.transport.requests()) CHECK(header_of(request, "Authorization") == "Bearer " + token);
  // ...but never into a log message or an error
  const auto entries = logs.all();
  CHECK(entries.size() >= 10u);
  for (const auto& entry : entries) {
    CAPTURE(entry.message);
    CHECK_FALSE(contains(entry.message, token));
    CHECK_FALSE(contains(entry.message, "SECRET"));
  }
  for (const auto& error : errors) CHECK_FALSE(contains(error, "SECRET"));
}

TEST_CASE("stderr_log_sink exists and is callable") {
  const LogSink sink = stderr_log_sink();
  REQUIRE(sink);
  CHECK_NOTHROW(sink(LogLevel::trace, "stderr_log_sink smoke test (expected output)"));
}
}  // TEST_SUITE("logging")

// =============================================================================================
// 16. A transport that throws
// =============================================================================================

TEST_SUITE("transport exceptions") {
TEST_CASE("a throwing transport is 'no response' (other): retried, then error; never propagates") {
  ClientOptions options = test_options();
  options.max_retries = 2;
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) -> HttpResponse { throw std::runtime_error("socket on fire"); });
  TranslationResult result;
  CHECK_NOTHROW(result = h.client.get_translation_status("j"));
  CHECK(result.status == TranslationStatus::error);
  CHECK(result.cause == FailureCause::transport);
  CHECK(result.requests == 3);
  CHECK(h.clock.sleeps() == Sleeps{250ms, 500ms});
  REQUIRE(result.error_message);
  CHECK(contains(*result.error_message, "other"));
  CHECK(contains(*result.error_message, "socket on fire"));
  CHECK(contains(*result.error_message, "after 3 attempts"));
}

TEST_CASE("a transport that throws a non-std exception is handled too, and a later answer wins") {
  Harness h;
  auto calls = std::make_shared<int>(0);
  h.transport.otherwise([calls](const HttpRequest&) -> HttpResponse {
    if (++*calls == 1) throw 42;
    return status_answer("completed");
  });
  const auto result = h.client.get_translation_status("j");
  CHECK(result.ok());
  CHECK(result.requests == 2);
}

TEST_CASE("create with a throwing transport throws TranslationError (transport), not the transport's exception") {
  ClientOptions options = test_options();
  options.max_retries = 1;
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) -> HttpResponse { throw std::logic_error("nope"); });
  try {
    (void)h.client.create_translation_job();
    FAIL("no throw");
  } catch (const TranslationError& e) {
    CHECK(e.cause() == FailureCause::transport);
    CHECK(e.requests() == 2);
    CHECK(contains(e.what(), "transport threw: nope"));
  }
}
}  // TEST_SUITE("transport exceptions")

// =============================================================================================
// 17. Enums and small value types
// =============================================================================================

TEST_SUITE("values") {
TEST_CASE("to_string for every TranslationStatus") {
  static_assert(to_string(TranslationStatus::pending) == "pending");
  CHECK(to_string(TranslationStatus::pending) == "pending");
  CHECK(to_string(TranslationStatus::completed) == "completed");
  CHECK(to_string(TranslationStatus::error) == "error");
  CHECK(to_string(TranslationStatus::timeout) == "timeout");
  CHECK(to_string(static_cast<TranslationStatus>(99)) == "unknown");
}

TEST_CASE("to_string for every FailureCause") {
  CHECK(to_string(FailureCause::none) == "none");
  CHECK(to_string(FailureCause::job_failed) == "job_failed");
  CHECK(to_string(FailureCause::unknown_job) == "unknown_job");
  CHECK(to_string(FailureCause::unexpected_result) == "unexpected_result");
  CHECK(to_string(FailureCause::transport) == "transport");
  CHECK(to_string(FailureCause::http_status) == "http_status");
  CHECK(to_string(FailureCause::bad_response) == "bad_response");
  CHECK(to_string(FailureCause::cancelled) == "cancelled");
  CHECK(to_string(FailureCause::deadline) == "deadline");
  CHECK(to_string(static_cast<FailureCause>(99)) == "unknown");
}

TEST_CASE("to_string for every TransportError and LogLevel") {
  CHECK(to_string(TransportError::none) == "none");
  CHECK(to_string(TransportError::refused) == "refused");
  CHECK(to_string(TransportError::timeout) == "timeout");
  CHECK(to_string(TransportError::reset) == "reset");
  CHECK(to_string(TransportError::tls) == "tls");
  CHECK(to_string(TransportError::body_too_large) == "body_too_large");
  CHECK(to_string(TransportError::cancelled) == "cancelled");
  CHECK(to_string(TransportError::other) == "other");
  CHECK(to_string(static_cast<TransportError>(99)) == "unknown");
  CHECK(to_string(LogLevel::trace) == "trace");
  CHECK(to_string(LogLevel::debug) == "debug");
  CHECK(to_string(LogLevel::info) == "info");
  CHECK(to_string(LogLevel::warn) == "warn");
  CHECK(to_string(LogLevel::error) == "error");
  CHECK(to_string(LogLevel::off) == "off");
  CHECK(to_string(static_cast<LogLevel>(99)) == "unknown");
}

TEST_CASE("HttpResponse: received() and case-insensitive header()") {
  const HttpResponse ok = answer(200, "", {{"Content-Type", "a"}, {"content-type", "b"}});
  CHECK(ok.received());
  CHECK(ok.header("CONTENT-TYPE") == "a");
  CHECK_FALSE(ok.header("Content-Length"));
  const HttpResponse none = HttpResponse::failure(TransportError::refused, "x");
  CHECK_FALSE(none.received());
  CHECK(none.status == 0);
  CHECK(none.error_detail == "x");
  CHECK_FALSE(HttpResponse{}.received());
}

TEST_CASE("TranslationError carries cause, http_status, requests and message") {
  const TranslationError error(FailureCause::http_status, "msg", 418, 3);
  CHECK(error.cause() == FailureCause::http_status);
  CHECK(error.http_status() == 418);
  CHECK(error.requests() == 3);
  CHECK(std::string(error.what()) == "msg");
  const std::runtime_error& base = error;
  CHECK(std::string(base.what()) == "msg");
}

TEST_CASE("TranslationResult::ok and job_finished") {
  TranslationResult result;
  CHECK_FALSE(result.ok());
  CHECK_FALSE(result.job_finished());
  result.status = TranslationStatus::completed;
  CHECK(result.ok());
  CHECK(result.job_finished());
  result.status = TranslationStatus::error;
  result.cause = FailureCause::job_failed;
  CHECK_FALSE(result.ok());
  CHECK(result.job_finished());
  result.cause = FailureCause::transport;
  CHECK_FALSE(result.job_finished());
}
}  // TEST_SUITE("values")

// =============================================================================================
// Regressions: each of these failed against an earlier header (overflows, parsing gaps, a hot loop).
// =============================================================================================

TEST_SUITE("regressions") {
TEST_CASE("an IPv6 base URL without a port is accepted with the scheme's default port") {
  // BaseUrl::parse decides "an explicit port follows" by searching the whole authority for ':', which
  // always matches inside "[::1]", then parses an empty port string.
  CHECK_NOTHROW(build(with_url("http://[::1]")));
  CHECK_NOTHROW(build(with_url("https://[2001:db8::1]/api")));
  CHECK_THROWS_AS(build(with_url("http://[::1]:")), std::invalid_argument);  // an empty port stays an error
}

TEST_CASE("a base URL with a query or fragment but no path is rejected") {
  // Only the path prefix is checked for '?' and '#'; without a path they end up in the host.
  CHECK_THROWS_WITH_AS(build(with_url("http://h?x=1")), doctest::Contains("base_url"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(build(with_url("http://h:1#frag")), doctest::Contains("base_url"), std::invalid_argument);
}

TEST_CASE("a Retry-After HTTP-date beyond year 2262 must wait (to the deadline), not retry at once") {
  // parse_retry_after subtracts a sys_seconds date from a nanosecond system_clock::time_point: the date is
  // converted to nanoseconds, which overflows int64 after 2262 (UB; here it comes out as a 0 s wait).
  const auto now = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1} + 0s;
  const auto far = detail::parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now);
  REQUIRE(far);
  CHECK(far->count() > 2.5e11);

  ClientOptions options = test_options();
  options.max_timeout = Seconds(10.0);
  Harness h(options);
  h.transport.then(answer(503, "", {{"Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"}}))
      .then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::timeout);
  CHECK(result.requests == 1);
  CHECK(h.clock.sleeps() == Sleeps{10000ms});
}

TEST_CASE("a very large max_timeout does not end the call before its first request") {
  // begin_call converts max_timeout to nanoseconds with duration_cast: 1e11 s overflows int64 (UB) and the
  // deadline lands in the past, so the call returns timeout with 0 requests.
  ClientOptions options = test_options();
  options.max_timeout = Seconds(1e11);
  Harness h(options);
  h.transport.then(status_answer("pending")).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::completed);
  CHECK(result.requests == 2);
}

TEST_CASE("very large poll intervals never become negative waits (a hot polling loop)") {
  // sleep_for converts the wait to nanoseconds before comparing it with the deadline: a 1e11 s wait
  // overflows (UB), wraps to a time in the past, and the client polls again at once.
  ClientOptions options = test_options();
  options.max_timeout = Seconds(10.0);
  options.polling.initial_interval = Seconds(1e11);
  options.polling.cold_cap = Seconds(1e11);
  options.polling.max_interval = Seconds(1e11);
  options.polling.jitter = 0.0;
  Harness h(options);
  h.transport.then_n(5, status_answer("pending")).then(status_answer("completed"));
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::timeout);
  CHECK(result.requests == 1);
  CHECK(h.clock.sleeps() == Sleeps{10000ms});
}

TEST_CASE("an honoured Retry-After on a failed request is waited in full, beyond max_backoff") {
  // RFC 9110: the server says when to come back; only the deadline bounds it (coming back at max_backoff
  // would only earn another 503).
  Harness h;  // max_backoff 30 s, max_timeout 300 s
  h.transport.then(answer(503, "", {{"Retry-After", "120"}})).then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.clock.sleeps() == Sleeps{120000ms});
}

TEST_CASE("a JSON number beyond double range (1e999) never makes a status call or create throw") {
  // picojson's value(double) throws std::overflow_error for inf; json::parse_object does not catch it, so
  // a server's `"progress": 1e999` escapes check_translation_status / get_translation_status as an exception
  // (and create throws std::overflow_error instead of TranslationError).
  Harness h;
  h.transport.then(status_with(R"({"result": "pending", "progress": 1e999})"));
  h.transport.then(status_with(R"({"result": "completed", "eta_seconds": -1e999})"));
  h.transport.then(answer(200, R"({"job_id": 1e999})"));
  TranslationResult checked;
  CHECK_NOTHROW(checked = h.client.check_translation_status("a"));
  CHECK_FALSE(checked.progress);
  TranslationResult waited;
  CHECK_NOTHROW(waited = h.client.get_translation_status("b"));
  CHECK(waited.requests == 1);
  CHECK_FALSE(waited.eta_seconds);
  CHECK_THROWS_AS((void)h.client.create_translation_job(), TranslationError);
}

TEST_CASE("a long poll of 1000 s or more is sent as a plain number, not in exponent notation") {
  // format_seconds uses "%.3g": 1500 becomes "1.5e+03", which a server reads as junk ('+' is a space in a
  // query string), so the long poll silently degrades.
  ClientOptions options = test_options();
  options.polling.long_poll = Seconds(1500.0);
  options.max_timeout = Seconds(3600.0);
  Harness h(options);
  h.transport.then(status_answer("completed"));
  REQUIRE(h.client.get_translation_status("j").ok());
  CHECK(h.transport.requests()[0].target == "/status/j?wait=1500");
}

TEST_CASE("a server whose eta_seconds stays at 0 does not get polled every min_interval") {
  // A real server's eta is often `expected_end - now`, clamped at 0 once the job overruns. The client trusts it
  // on every look (0 × 0.8 → the 50 ms floor), so an overrunning job is polled 20 times a second until the
  // deadline: here 1200 requests in 60 s, where the cold schedule alone makes 10.
  ClientOptions options = test_options();
  options.max_timeout = Seconds(60.0);
  Harness h(options);
  h.transport.otherwise([](const HttpRequest&) { return status_with(R"({"result": "pending", "eta_seconds": 0})"); });
  const auto result = h.client.get_translation_status("j");
  CHECK(result.status == TranslationStatus::timeout);
  CHECK(result.requests <= 100);  // the cold schedule alone makes 10
}
}  // TEST_SUITE("regressions")
