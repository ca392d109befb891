// Logging: LogLevel, LogSink and a stderr sink.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

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

/// A sink and a threshold: builds a message only when it will be written, and scrubs control characters so a job
/// id from a caller or a server cannot forge log lines.
class Logger {
 public:
  /// A logger writing messages at `level` or above to `sink`; an empty sink is silent.
  Logger(LogSink sink, LogLevel level) : sink_(std::move(sink)), level_(level) {}

  /// Writes `make_message()` at `level`, if that level is enabled.
  template <class MakeMessage>
  void operator()(LogLevel level, MakeMessage&& make_message) const {
    if (!sink_ || level < level_ || level_ == LogLevel::off) return;
    std::string message = std::forward<MakeMessage>(make_message)();
    for (char& c : message)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    sink_(level, message);
  }

 private:
  LogSink sink_;
  LogLevel level_;
};

}  // namespace heygen
