// libFuzzer target: the Retry-After parser (delta-seconds or HTTP-date) and the HTTP-date parser on arbitrary
// header values. A wait is never negative or NaN, an accepted date is an instant in range whose fields
// were in range, and both parsers agree with each other and with a formatted round trip.
#define HEYGEN_VT_NO_HTTPLIB
#include <heygen/video_translation.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "fuzz_support.hpp"

namespace {

using std::chrono::sys_seconds;

/// Instants the server's Date may say: the epoch, a recent day, the last second of year 9999.
constexpr std::int64_t nows[] = {0, 1'700'000'000, 253'402'300'799};

/// The header value without the blanks parse_retry_after ignores around it.
std::string_view trimmed(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

/// True for a non-empty run of ASCII digits.
bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// An instant as an IMF-fixdate, the form servers send ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string imf_fixdate(sys_seconds when) {
  static constexpr const char* weekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto day = std::chrono::floor<std::chrono::days>(when);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss clock{when - day};
  const std::chrono::weekday weekday{day};
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02u %s %04d %02d:%02d:%02d GMT", weekdays[weekday.c_encoding()],
                static_cast<unsigned>(date.day()), months[static_cast<unsigned>(date.month()) - 1],
                static_cast<int>(date.year()), static_cast<int>(clock.hours().count()),
                static_cast<int>(clock.minutes().count()), static_cast<int>(clock.seconds().count()));
  return text;
}

/// The fields of a date as the three HTTP-date forms spell them.
struct DateFields {
  int day = 0, hour = 0, minute = 0, second = 0;
};

/// Reads the numeric fields the way the header scans them (same sscanf forms, same order), so the check
/// below tests its range validation rather than a second grammar.
std::optional<DateFields> scan_fields(std::string_view text) {
  const std::string copy(text.substr(0, 64));
  char weekday[16] = {}, month[4] = {}, zone[4] = {};
  int year = 0;
  DateFields f;
  if (std::sscanf(copy.c_str(), "%15[A-Za-z], %2d %3s %4d %2d:%2d:%2d %3s", weekday, &f.day, month, &year, &f.hour,
                  &f.minute, &f.second, zone) == 8 ||
      std::sscanf(copy.c_str(), "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s", weekday, &f.day, month, &year, &f.hour,
                  &f.minute, &f.second, zone) == 8 ||
      std::sscanf(copy.c_str(), "%15[A-Za-z] %3s %2d %2d:%2d:%2d %4d", weekday, month, &f.day, &f.hour, &f.minute,
                  &f.second, &year) == 7)
    return f;
  return std::nullopt;
}

/// The fields of an accepted date are a real day and time of day: "-8" is not eight hours before midnight.
void check_fields(std::string_view text) {
  const auto fields = scan_fields(text);
  FUZZ_REQUIRE(fields.has_value());
  FUZZ_REQUIRE(fields->day >= 1 && fields->day <= 31);
  FUZZ_REQUIRE(fields->hour <= 23 && fields->minute <= 59 && fields->second <= 60);  // 60: a leap second
  FUZZ_REQUIRE(fields->hour >= 0 && fields->minute >= 0 && fields->second >= 0);     // was a finding, now fixed
}

/// parse_http_date: an accepted text is short, lands in [1970, 9999] (+1 s for a leap second) and survives
/// a round trip through the canonical form.
std::optional<sys_seconds> check_http_date(std::string_view text) {
  const auto when = heygen::detail::parse_http_date(text);
  if (!when) return when;
  FUZZ_REQUIRE(text.size() <= 64);
  const auto first = sys_seconds{std::chrono::sys_days{std::chrono::year{1970} / 1 / 1}};
  const auto last = sys_seconds{std::chrono::sys_days{std::chrono::year{10000} / 1 / 1}};
  FUZZ_REQUIRE(*when >= first && *when <= last);
  check_fields(text);
  if (*when < last) FUZZ_REQUIRE(heygen::detail::parse_http_date(imf_fixdate(*when)) == when);
  return when;
}

/// parse_retry_after for one `now`: never negative or NaN; delta-seconds read exactly (capped at 1e9);
/// a date is its distance from now, floored at zero; anything else is no answer.
void check_retry_after(std::string_view value, std::optional<sys_seconds> date, sys_seconds now) {
  const auto wait = heygen::detail::parse_retry_after(value, now);
  const std::string_view core = trimmed(value);
  if (wait) FUZZ_REQUIRE(!std::isnan(wait->count()) && wait->count() >= 0);
  if (all_digits(core)) {
    FUZZ_REQUIRE(wait.has_value());
    const double expected = core.size() > 9 ? 1e9 : static_cast<double>(std::stol(std::string(core)));
    FUZZ_REQUIRE(wait->count() == expected);
    return;
  }
  FUZZ_REQUIRE(wait.has_value() == date.has_value());
  if (date) FUZZ_REQUIRE(wait->count() == std::max(0.0, static_cast<double>((*date - now).count())));
}

}  // namespace

/// libFuzzer entry point: one Retry-After header value.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value = fuzz::as_text(data, size);
  fuzz::no_exception("Retry-After parsers", [&] {
    check_http_date(value);
    const auto date = check_http_date(trimmed(value));
    for (const std::int64_t now : nows) check_retry_after(value, date, sys_seconds{std::chrono::seconds{now}});
  });
  return 0;
}
