// Runs status_server as a child process (so its CPU and memory are not the client's) and stops it at the end.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

/// The status_server program beside this benchmark in the build tree: <build>/sim/status_server.
inline std::string default_server_path(const char* argv0) {
  std::string self(argv0);
  const auto slash = self.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : self.substr(0, slash);
  return dir + "/../sim/status_server";
}

/// A status_server child on an ephemeral loopback port; SIGTERM and reaped on destruction.
class ServerProcess {
 public:
  ServerProcess(const std::string& program, std::vector<std::string> flags) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);  // its goodbye line
    flags.insert(flags.begin(), {program, "--port", "0", "--host", "127.0.0.1"});
    std::vector<char*> argv;
    for (auto& flag : flags) argv.push_back(flag.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (rc != 0) {
      close(out[0]);
      throw std::runtime_error("cannot start " + program + " (build it first)");
    }
    port_ = read_port(out[0]);
    close(out[0]);
    if (port_ <= 0) throw std::runtime_error(program + " did not print its port");
  }
  ~ServerProcess() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  /// http://127.0.0.1:PORT
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// The bound port.
  int port() const { return port_; }

 private:
  /// Reads the "listening on HOST:PORT" line.
  static int read_port(int fd) {
    std::string line;
    char c = 0;
    while (read(fd, &c, 1) == 1 && c != '\n') line += c;
    const auto colon = line.rfind(':');
    return colon == std::string::npos ? -1 : std::atoi(line.c_str() + colon + 1);
  }

  pid_t pid_ = -1;
  int port_ = -1;
};

}  // namespace bench
