// libFuzzer target: BaseUrl::parse, detail::percent_encode and tracker::status_target. The input is up to
// three lines: a base URL, a status endpoint template, a job id (missing lines take the defaults). A base URL
// is accepted only in a form the transport can use, or rejected with std::invalid_argument; a job id always
// becomes one safe path segment.
#define HEYGEN_VT_NO_HTTPLIB
#include <heygen/video_translation.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_support.hpp"

namespace {

/// RFC 3986 unreserved characters: the only ones percent_encode may leave as they are.
bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

/// Value of an upper-case hex digit, or -1 (percent_encode writes upper case, as RFC 3986 recommends).
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// True when text holds a space or an ASCII control character (tab, CR, LF, NUL, ...).
bool has_blank_or_control(std::string_view text) {
  return std::ranges::any_of(text, [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

/// Splits the input at its first two line breaks.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (lines.size() < 2) {
    const auto end = text.find('\n');
    if (end == std::string_view::npos) break;
    lines.push_back(text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  lines.push_back(text);
  return lines;
}

/// percent_encode: only unreserved characters and %XX triplets come out, and decoding gives the input back.
void check_percent_encode(std::string_view text) {
  const std::string encoded = heygen::detail::percent_encode(text);
  std::string decoded;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      FUZZ_REQUIRE(unreserved(encoded[i]));
      decoded += encoded[i];
      continue;
    }
    FUZZ_REQUIRE(i + 2 < encoded.size());
    const int high = hex_value(encoded[i + 1]), low = hex_value(encoded[i + 2]);
    FUZZ_REQUIRE(high >= 0 && low >= 0);
    const char byte = static_cast<char>(high * 16 + low);
    FUZZ_REQUIRE(!unreserved(byte));  // never encodes what needs no encoding
    decoded += byte;
    i += 2;
  }
  FUZZ_REQUIRE(decoded == text);
}

/// An accepted base URL: http(s), a usable host, a port in range, a clean prefix; and parsing what it
/// stands for again gives the same parts.
void check_accepted(const heygen::BaseUrl& url) {
  FUZZ_REQUIRE(url.scheme == "http" || url.scheme == "https");
  FUZZ_REQUIRE(!url.host.empty() && url.host != "[]");
  FUZZ_REQUIRE(url.host.find_first_of("/?#@") == std::string::npos);
  if (url.host.front() == '[')
    FUZZ_REQUIRE(url.host.back() == ']');
  else
    FUZZ_REQUIRE(url.host.find(':') == std::string::npos);
  FUZZ_REQUIRE(url.port >= 1 && url.port <= 65535);
  FUZZ_REQUIRE(url.prefix.empty() || (url.prefix.front() == '/' && url.prefix.back() != '/'));
  FUZZ_REQUIRE(url.prefix.find_first_of("?#") == std::string::npos);
  FUZZ_REQUIRE(!has_blank_or_control(url.host) && !has_blank_or_control(url.prefix));  // was a finding, now fixed
  fuzz::no_exception("parsing an accepted base URL again", [&] {
    const heygen::BaseUrl again = heygen::BaseUrl::parse(url.origin() + url.prefix);
    FUZZ_REQUIRE(again.scheme == url.scheme && again.host == url.host && again.port == url.port &&
                 again.prefix == url.prefix);
  });
}

/// BaseUrl::parse: accepted and sane, or std::invalid_argument with a message naming base_url.
std::string check_base_url(std::string_view text) {
  std::optional<heygen::BaseUrl> url;
  try {
    url = heygen::BaseUrl::parse(text);
  } catch (const std::invalid_argument& e) {
    FUZZ_REQUIRE(std::string_view(e.what()).starts_with("heygen: base_url"));
    return "/api";
  }
  check_accepted(*url);
  return url->prefix;
}

/// status_target: the template with the encoded id in the placeholder, or in a job_id query parameter.
void check_status_target(const std::string& prefix, const std::string& path_template, std::string_view job_id) {
  const std::string target = heygen::tracker::status_target(prefix, path_template, job_id);
  const std::string encoded = heygen::detail::percent_encode(job_id);
  const auto at = path_template.find("{job_id}");
  if (at != std::string::npos) {
    FUZZ_REQUIRE(target == prefix + path_template.substr(0, at) + encoded + path_template.substr(at + 8));
    return;
  }
  const char joiner = path_template.find('?') == std::string::npos ? '?' : '&';
  FUZZ_REQUIRE(target == prefix + path_template + joiner + "job_id=" + encoded);
}

}  // namespace

/// libFuzzer entry point: "base URL\nstatus template\njob id".
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const auto lines = lines_of(input);
  fuzz::no_exception("URL handling", [&] {
    check_percent_encode(input);
    check_base_url(input);
    const std::string prefix = check_base_url(lines[0]);
    const std::string path_template(lines.size() > 1 ? lines[1] : "/status/{job_id}");
    check_status_target(prefix, path_template, lines.size() > 2 ? lines[2] : input);
  });
  return 0;
}
