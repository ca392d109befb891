// The demo's command line: what it was asked to do, and --help.
#ifndef HEYGEN_VT_DEMO_ARGS_HPP
#define HEYGEN_VT_DEMO_ARGS_HPP

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace demo {

/// What the demo was asked to do.
struct DemoArgs {
  int jobs = 20;
  double min_s = 1.0;
  double max_s = 5.0;
  double error_rate = 0.1;
  std::uint64_t seed = 1;
  std::string url;                  // empty: start the embedded simulator
  bool heygen_v3 = false;           // --api heygen-v3: HeyGen's v3 API, several languages per translation
  std::string api_key = "sim-key";  // sent as X-Api-Key with --api heygen-v3
};

/// The usage text, to `out`.
inline void usage(FILE* out) {
  std::fprintf(out,
               "usage: demo [--jobs N] [--min S] [--max S] [--error-rate P] [--seed N] [--url URL]\n"
               "            [--api tracker|heygen-v3] [--api-key KEY]\n"
               "  --jobs N        jobs to create and track (default 20)\n"
               "  --min/--max S   job durations, uniform in [min, max] seconds (default 1..5)\n"
               "  --error-rate P  share of jobs the simulator fails (default 0.1)\n"
               "  --seed N        simulator random seed (default 1)\n"
               "  --url URL       track jobs on this server instead of the embedded simulator\n"
               "  --api NAME      tracker (default), or heygen-v3: HeyGen's v3 API, each translation\n"
               "                  into 2-3 languages (one job each) until there are N jobs\n"
               "  --api-key KEY   heygen-v3: the API key (default sim-key, the simulator's)\n");
}

/// A whole string as a finite number.
inline std::optional<double> number(const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(value)) return std::nullopt;
  return value;
}

/// The flags, or nothing when one is unknown or out of range; --help prints the usage and exits.
inline std::optional<DemoArgs> parse(int argc, char** argv) {
  DemoArgs args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) return std::nullopt;
    const char* value = argv[++i];
    const auto n = number(value);
    if (flag == "--url")
      args.url = value;
    else if (flag == "--api" && (std::string(value) == "tracker" || std::string(value) == "heygen-v3"))
      args.heygen_v3 = std::string(value) == "heygen-v3";
    else if (flag == "--api-key")
      args.api_key = value;
    else if (flag == "--jobs" && n && *n >= 1 && *n <= 100000)
      args.jobs = static_cast<int>(*n);
    else if (flag == "--min" && n && *n >= 0)
      args.min_s = *n;
    else if (flag == "--max" && n && *n >= 0)
      args.max_s = *n;
    else if (flag == "--error-rate" && n && *n >= 0 && *n <= 1)
      args.error_rate = *n;
    else if (flag == "--seed" && n && *n >= 0)
      args.seed = static_cast<std::uint64_t>(*n);
    else
      return std::nullopt;
  }
  if (args.max_s < args.min_s) return std::nullopt;
  return args;
}

}  // namespace demo

#endif  // HEYGEN_VT_DEMO_ARGS_HPP
