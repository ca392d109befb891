// Builds the header with HEYGEN_VT_NO_HTTPLIB and a transport of the test's own: proves a user who brings
// their own HTTP stack needs no cpp-httplib at all (this binary is linked without it), nor OpenSSL.
#define HEYGEN_VT_NO_HTTPLIB
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

#ifdef CPPHTTPLIB_VERSION
#error "cpp-httplib was included although HEYGEN_VT_NO_HTTPLIB is defined"
#endif
#ifdef HEYGEN_VT_WITH_HTTPLIB
#error "the bundled transport was compiled in although HEYGEN_VT_NO_HTTPLIB is defined"
#endif
#ifdef HEYGEN_VT_WITH_OPENSSL
#error "the webhook's HMAC was compiled in although nothing asked for OpenSSL (this binary does not link libcrypto)"
#endif

namespace {
struct CannedTransport {
  int calls = 0;
  heygen::HttpResponse send(const heygen::HttpRequest& request) {
    ++calls;
    heygen::HttpResponse response;
    response.status = 200;
    response.body = request.method == "POST" ? R"({"job_id": "j1"})" : R"({"result": "completed"})";
    return response;
  }
};
}  // namespace

TEST_CASE("a custom transport works without cpp-httplib") {
  heygen::BasicVideoTranslationClient<CannedTransport> client(heygen::ClientOptions{.base_url = "http://example.test"},
                                                              CannedTransport{});
  const std::string id = client.create_translation_job();
  CHECK(id == "j1");
  CHECK(client.get_translation_status(id).ok());
  CHECK(client.transport().calls == 2);
}

TEST_CASE("without OpenSSL a webhook verifier refuses every push, unless the caller brings a verify function") {
  const heygen::TrackerProtocol protocol(heygen::ClientOptions{.base_url = "http://example.test"});
  const std::string push = R"({"job_id": "j1", "result": "completed"})";
  const heygen::WebhookVerifier no_hmac({.secret = "s"}, protocol);
  CHECK_FALSE(no_hmac.can_verify());
  const auto refused = no_hmac.check({{"X-HeyGen-Signature", std::string(64, 'a')}}, push);
  CHECK(refused.verdict == heygen::WebhookVerdict::bad_signature);
  CHECK(refused.reason.find("HEYGEN_VT_WITH_OPENSSL") != std::string::npos);
  CHECK_THROWS_AS(heygen::WebhookVerifier({}, protocol), std::invalid_argument);

  const heygen::WebhookVerifier own(
      {.verify = [](std::string_view,
                    std::string_view signature) { return heygen::detail::constant_time_equal(signature, "ok"); }},
      protocol);
  CHECK(own.can_verify());
  const auto accepted = own.check({{"X-HeyGen-Signature", "ok"}}, push);
  CHECK(accepted.verdict == heygen::WebhookVerdict::accepted);
  CHECK(accepted.push->job_id == "j1");
}
