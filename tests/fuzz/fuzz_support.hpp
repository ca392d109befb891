// Shared by the libFuzzer targets: invariant checks that abort loudly, so libFuzzer records the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

namespace fuzz {

/// Aborts with the broken invariant named: libFuzzer then saves the input as a crash artifact.
[[noreturn]] inline void fail(const char* invariant, const char* file, int line) {
  std::fprintf(stderr, "invariant broken at %s:%d: %s\n", file, line, invariant);
  std::abort();
}

/// The fuzzer's bytes as text (embedded NULs and invalid UTF-8 included: the wire can carry both).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Runs `body`; an exception the code under test documents none of is a finding, reported with its message.
template <typename Body>
void no_exception(const char* what, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s threw: %s\n", what, e.what());
    std::abort();
  }
}

}  // namespace fuzz

/// Checks an invariant that must hold for every input.
#define FUZZ_REQUIRE(condition) ((condition) ? static_cast<void>(0) : ::fuzz::fail(#condition, __FILE__, __LINE__))
