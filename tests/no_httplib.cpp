// Builds the header with HEYGEN_VT_NO_HTTPLIB and a transport of the test's own: proves a user who brings
// their own HTTP stack needs no cpp-httplib at all (this binary is linked without it).
#define HEYGEN_VT_NO_HTTPLIB
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <heygen/video_translation.hpp>

#ifdef CPPHTTPLIB_VERSION
#error "cpp-httplib was included although HEYGEN_VT_NO_HTTPLIB is defined"
#endif
#ifdef HEYGEN_VT_WITH_HTTPLIB
#error "the bundled transport was compiled in although HEYGEN_VT_NO_HTTPLIB is defined"
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
