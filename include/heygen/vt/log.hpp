// Logging: LogLevel, LogSink and a stderr sink.
#pragma once

#include <cstdio>
#include <functional>
#include <string_view>

namespace heygen {

/// Severity of a log message.
enum class LogLevel { trace, debug, info, warn, error, off };

/// The lower-case name of a log level.
constexpr std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "unknown";
}

/// Receives log messages; called from the thread that made the request. Must be thread-safe.
using LogSink = std::function<void(LogLevel, std::string_view)>;

/// A sink that writes one line per message to stderr: `[heygen] warn: ...`.
inline LogSink stderr_log_sink() {
  return [](LogLevel level, std::string_view message) {
    std::fprintf(stderr, "[heygen] %.*s: %.*s\n", static_cast<int>(to_string(level).size()), to_string(level).data(),
                 static_cast<int>(message.size()), message.data());
  };
}

}  // namespace heygen
