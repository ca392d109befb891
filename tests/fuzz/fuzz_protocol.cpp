// libFuzzer target: every response reader of heygen::tracker, heygen::json and HeyGenV3Protocol, and both
// protocols' push (webhook) readers, on arbitrary bytes. The readers promise to be total (bad input gives an error
// value, never a crash or an exception) and to hand the client only sane values.
#define HEYGEN_VT_NO_HTTPLIB
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "fuzz_support.hpp"

namespace {

using heygen::FailureCause;
using heygen::StatusAnswer;
using heygen::TranslationStatus;

/// Longest eta the readers accept: ten years, in seconds.
constexpr double max_eta_seconds = 10.0 * 365 * 24 * 3600;

/// True when text holds a byte that would break a one-line log message.
bool has_control_char(std::string_view text) {
  return std::ranges::any_of(text, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

/// A status answer the client can act on: a wire status (never timeout), a cause exactly when it failed,
/// a message exactly when it failed, hints only in their documented ranges.
void check_answer(const StatusAnswer& answer, bool from_batch) {
  FUZZ_REQUIRE(answer.status == TranslationStatus::pending || answer.status == TranslationStatus::completed ||
               answer.status == TranslationStatus::error);
  const bool failed = answer.status == TranslationStatus::error;
  FUZZ_REQUIRE(failed == (answer.cause != FailureCause::none));
  FUZZ_REQUIRE(failed == answer.error_message.has_value());
  if (failed)
    FUZZ_REQUIRE(answer.cause == FailureCause::job_failed || answer.cause == FailureCause::unexpected_result ||
                 (from_batch && answer.cause == FailureCause::unknown_job));
  if (answer.cause == FailureCause::unexpected_result) FUZZ_REQUIRE(!has_control_char(*answer.error_message));
  if (answer.progress) FUZZ_REQUIRE(std::isfinite(*answer.progress) && *answer.progress >= 0 && *answer.progress <= 1);
  if (answer.eta_seconds)
    FUZZ_REQUIRE(std::isfinite(*answer.eta_seconds) && *answer.eta_seconds >= 0 &&
                 *answer.eta_seconds <= max_eta_seconds);
}

/// parse_object: an object on success, a message on failure; the other readers agree with it.
bool check_parse_object(std::string_view body) {
  picojson::value json;
  const auto problem = heygen::json::parse_object(body, json);
  if (problem)
    FUZZ_REQUIRE(!problem->empty());
  else
    FUZZ_REQUIRE(json.is<picojson::object>());
  return !problem;
}

/// read_status: a sane answer, or an error that says why; never an answer for a body that is not an object.
void check_read_status(std::string_view body, bool is_object) {
  std::string error;
  const auto answer = heygen::tracker::read_status(body, error);
  if (answer) {
    FUZZ_REQUIRE(is_object);
    check_answer(*answer, false);
  } else {
    FUZZ_REQUIRE(!error.empty());
  }
}

/// read_status keeps only the members it reads; it must answer exactly as reading the fully parsed object does,
/// errors included (a number beyond double range in a member it skips still makes the body malformed).
void check_read_status_matches_full_parse(std::string_view body) {
  std::string fast_error;
  const auto fast = heygen::tracker::read_status(body, fast_error);
  std::string full_error;
  std::optional<StatusAnswer> full;
  picojson::value json;
  if (heygen::json::parse_object_into(body, json, full_error))
    full = heygen::tracker::read_status_object(json.get<picojson::object>(), full_error);
  FUZZ_REQUIRE(fast.has_value() == full.has_value());
  if (!fast) {
    FUZZ_REQUIRE(fast_error == full_error);
    return;
  }
  FUZZ_REQUIRE(fast->status == full->status && fast->cause == full->cause);
  FUZZ_REQUIRE(fast->error_message == full->error_message);
  FUZZ_REQUIRE(fast->progress == full->progress && fast->eta_seconds == full->eta_seconds);
}

/// read_job_id: a non-empty id, or an error that says why.
void check_read_job_id(std::string_view body, bool is_object) {
  std::string error;
  const auto id = heygen::tracker::read_job_id(body, error);
  if (id)
    FUZZ_REQUIRE(is_object && !id->empty());
  else
    FUZZ_REQUIRE(!error.empty());
}

/// read_batch: every entry it keeps is a sane answer (unknown ids included), or an error that says why.
void check_read_batch(std::string_view body, bool is_object) {
  std::string error;
  const auto answers = heygen::tracker::read_batch(body, error);
  if (!answers) {
    FUZZ_REQUIRE(!error.empty());
    return;
  }
  FUZZ_REQUIRE(is_object);
  for (const auto& [id, answer] : *answers) check_answer(answer, true);
}

/// HeyGenV3Protocol's readers, on the body as a 200, a 404 and a 500 answer: a sane answer or a failure that
/// names a cause; never a completed job from anything but a 2xx answer that says so.
void check_v3_readers(std::string_view body) {
  heygen::ClientOptions options;
  options.base_url = "http://127.0.0.1:1";
  const heygen::HeyGenV3Protocol v3(options);
  for (const int status : {200, 404, 500}) {
    heygen::HttpResponse response;
    response.status = status;
    response.body = std::string(body);
    const auto one = v3.read_status(response);
    if (one) {
      FUZZ_REQUIRE(status == 200);
      check_answer(one.value(), true);
    } else {
      FUZZ_REQUIRE(one.failure().cause != FailureCause::none && !one.failure().message.empty());
      FUZZ_REQUIRE(!has_control_char(one.failure().message));
    }
    const auto many = v3.read_many_status(response);
    if (many) {
      FUZZ_REQUIRE(status == 200);
      for (const auto& [id, answer] : many->answers) check_answer(answer, true);
    }
    const auto created = v3.read_created(response);
    if (created) {
      FUZZ_REQUIRE(status == 200);
      for (const auto& id : created.value()) FUZZ_REQUIRE(!id.empty());
    }
    (void)v3.read_languages(response);
    FUZZ_REQUIRE(!has_control_char(v3.describe(response)));
  }
}

/// A pushed status: a job id and a final answer (completed, or failed with a message); never pending, which would
/// leave a wait pending on a body that claims to end it.
void check_push(const heygen::OrFailure<heygen::PushedStatus>& push) {
  if (!push) {
    FUZZ_REQUIRE(push.failure().cause == FailureCause::bad_response && !push.failure().message.empty());
    FUZZ_REQUIRE(!has_control_char(push.failure().message));
    return;
  }
  FUZZ_REQUIRE(!push->job_id.empty());
  FUZZ_REQUIRE(push->answer.status != TranslationStatus::pending);
  check_answer(push->answer, false);
}

/// Both protocols' read_push. The tracker's reads a push with the status reader: whatever it accepts, a look at
/// the same body reads the same way.
void check_read_push(std::string_view body) {
  heygen::ClientOptions options;
  options.base_url = "http://127.0.0.1:1";
  const auto tracker_push = heygen::TrackerProtocol(options).read_push(body);
  check_push(tracker_push);
  if (tracker_push) {
    std::string error;
    const auto look = heygen::tracker::read_status(body, error);
    FUZZ_REQUIRE(look.has_value());
    FUZZ_REQUIRE(look->status == tracker_push->answer.status && look->cause == tracker_push->answer.cause);
    FUZZ_REQUIRE(look->error_message == tracker_push->answer.error_message);
  }
  const auto v3_push = heygen::HeyGenV3Protocol(options).read_push(body);
  check_push(v3_push);
  if (v3_push) {
    FUZZ_REQUIRE(v3_push->event_type.starts_with("video_translate."));
    FUZZ_REQUIRE(v3_push->answer.cause != FailureCause::unexpected_result);
  }
}

/// error_message_of: a short single-line message (it ends up in exceptions and logs), if any.
void check_error_message_of(std::string_view body, bool is_object) {
  const auto message = heygen::tracker::error_message_of(body);
  if (!message) return;
  FUZZ_REQUIRE(is_object);
  FUZZ_REQUIRE(message->size() <= 200 + 3);  // the excerpt's limit plus its "..."
  FUZZ_REQUIRE(!has_control_char(*message));
}

}  // namespace

/// libFuzzer entry point: one response body.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = fuzz::as_text(data, size);
  fuzz::no_exception("protocol readers", [&] {
    const bool is_object = check_parse_object(body);
    check_read_status(body, is_object);
    check_read_status_matches_full_parse(body);
    check_read_job_id(body, is_object);
    check_read_batch(body, is_object);
    check_error_message_of(body, is_object);
    check_v3_readers(body);
    check_read_push(body);
  });
  return 0;
}
