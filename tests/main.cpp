// The doctest main shared by the test binaries.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdlib>

namespace {

// The suites talk to 127.0.0.1 only: a proxy in the environment of whoever runs them must not catch their
// requests. The proxy tests give their clients an environment of their own (ClientOptions::environment).
const bool proxies_cleared = [] {
  for (const char* name :
       {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"})
    unsetenv(name);
  return true;
}();

}  // namespace
