// status_server: the simulated video translation status server as a program (see --help).
#include "status_simulator.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <exception>
#include <iostream>

namespace {

/// Blocks SIGINT and SIGTERM in this thread and every thread started after, so only sigwait() sees them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

/// Raises the open-file limit to its hard maximum: every connection is a descriptor, and the usual soft
/// limit of 1024 would refuse connections long before the worker limit is reached.
void raise_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

/// Serves until SIGINT or SIGTERM; returns the exit status.
int serve(const heygen::sim::SimulatorConfig& config) {
  const sigset_t stop_signals = block_stop_signals();
  signal(SIGPIPE, SIG_IGN);  // a client vanishing mid-answer must not kill the server
  raise_file_limit();
  heygen::sim::StatusSimulator sim(config);
  sim.start();
  std::cout << "listening on " << sim.address() << std::endl;  // endl: a parent process waits for this line
  int sig = 0;
  sigwait(&stop_signals, &sig);
  sim.stop();
  const auto totals = sim.stats().totals;
  std::cerr << "status_server: stopped by " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << " after " << totals.jobs
            << " jobs, " << totals.status_requests << " status requests\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = heygen::sim::parse_args(argc, argv);
  if (!parsed.ok()) {
    std::cerr << "status_server: " << parsed.error << "\n(see status_server --help)\n";
    return 2;
  }
  if (parsed.help) {
    std::cout << heygen::sim::usage("status_server");
    return 0;
  }
  try {
    return serve(parsed.config);
  } catch (const std::exception& e) {
    std::cerr << "status_server: " << e.what() << "\n";
    return 1;
  }
}
