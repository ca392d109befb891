// Ctrl-C and SIGTERM for heygen-vt: a stop request the client calls observe, and a way out on a second Ctrl-C.
#ifndef HEYGEN_VT_TOOL_INTERRUPT_HPP
#define HEYGEN_VT_TOOL_INTERRUPT_HPP

#include "args.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <stop_token>
#include <system_error>
#include <thread>

namespace heygen_vt {

/// Turns SIGINT and SIGTERM into a stop request. The handler only write()s a byte to a pipe (async-signal-safe);
/// a watcher thread reads it and requests the stop, so no library code ever runs in signal context. A signal
/// a second or more after the first (a deliberate second Ctrl-C) exits at once; sooner ones are duplicates
/// (`timeout` and process-group kills deliver one signal twice) and only repeat the stop request.
class InterruptWatcher {
 public:
  /// Installs the handlers and starts the watcher thread.
  InterruptWatcher() {
    if (pipe2(pipe_, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    write_fd_ = pipe_[1];
    watcher_ = std::thread([this] { watch(); });
    struct sigaction action {};
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }

  /// Restores the previous handlers, then tells the watcher to end.
  ~InterruptWatcher() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    write_fd_ = -1;
    send(quit_byte);
    watcher_.join();
    close(pipe_[0]);
    close(pipe_[1]);
  }

  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  /// Triggered on the first SIGINT or SIGTERM.
  [[nodiscard]] std::stop_token token() const { return source_.get_token(); }
  /// True once a signal arrived.
  [[nodiscard]] bool interrupted() const { return source_.stop_requested(); }

 private:
  static constexpr char signal_byte = 1;
  static constexpr char quit_byte = 0;

  /// The signal handler: one write(), which is async-signal-safe; errno is kept for the interrupted code.
  static void on_signal(int) {
    const int saved_errno = errno;
    const int fd = write_fd_;
    if (fd >= 0) {
      // A failed write cannot be reported from here; a full pipe already holds a wake-up anyway.
      [[maybe_unused]] const auto written = write(fd, &signal_byte, 1);
    }
    errno = saved_errno;
  }

  /// Writes one byte to the watcher, retrying when a signal interrupts the write.
  void send(char byte) const {
    while (write(pipe_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }

  /// The watcher thread: requests the stop on a signal byte, exits on a deliberate second one, ends on the quit byte.
  void watch() {
    std::optional<std::chrono::steady_clock::time_point> first_signal;
    char byte = 0;
    for (;;) {
      const ssize_t got = read(pipe_[0], &byte, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got != 1 || byte == quit_byte) return;
      const auto now = std::chrono::steady_clock::now();
      if (first_signal && now - *first_signal >= std::chrono::seconds(1)) std::_Exit(exit_interrupted);
      if (!first_signal) first_signal = now;
      source_.request_stop();
    }
  }

  static inline volatile std::sig_atomic_t write_fd_ = -1;
  int pipe_[2] = {-1, -1};
  std::stop_source source_;
  std::thread watcher_;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace heygen_vt

#endif  // HEYGEN_VT_TOOL_INTERRUPT_HPP
