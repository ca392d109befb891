#!/usr/bin/env bash
# The whole test suite: installs what is missing (Debian 12), then builds and runs every test binary with
# g++ (-O3, every target, as the release build) and clang++ (-O0) at -Wall -Wextra -Wpedantic -Werror, and with
# clang++ under ASan+UBSan and TSan.
# Ends with one line "N passed, N failed" totalled over all runs; exits non-zero on any failure.
# Safe to re-run: build folders live under build/ and are reconfigured, not recreated.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_packages

passed=0
failed=0
status=0

# Runs every test binary of one build folder and adds doctest's counts to the totals.
run_tests() {
  local build_dir=$1 label=$2
  local binary summary p f
  for binary in "$build_dir"/tests/*_tests; do
    [ -x "$binary" ] || continue
    echo "--- $label: $(basename "$binary")"
    local log
    log=$(mktemp)
    "$binary" --no-intro=true 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    summary=$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1)
    p=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$summary")
    f=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$summary")
    rm -f "$log"
    if [ -z "$summary" ]; then
      echo "$label: $(basename "$binary") printed no doctest summary (exit $rc)"
      failed=$((failed + 1)); status=1; continue
    fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then status=1; [ "$f" -eq 0 ] && failed=$((failed + 1)); fi
  done
}

# The test binaries: what the sanitizer builds compile. The examples, benchmarks and tools are built by the plain
# builds and run by scripts/examples.sh; compiling them twice more under sanitizers only costs CI time.
test_targets=(tests/unit_tests tests/integration_tests tests/fault_tests tests/no_httplib_tests)

# Configures (or reconfigures) and builds one variant (only the test binaries when ONLY_TESTS=1); a build failure
# counts as a failed run.
build_and_test() {
  local name=$1 compiler=$2; shift 2
  local dir="build/$name"
  local targets=()
  [ "${ONLY_TESTS:-0}" = 1 ] && targets=("${test_targets[@]}")
  local started=$SECONDS
  echo "=== $name ($compiler $*)"
  if ! configure_build "$dir" "$compiler" "$@" || ! ninja -C "$dir" "${targets[@]}"; then
    echo "$name: build failed"
    failed=$((failed + 1)); status=1; return
  fi
  echo "=== $name: built in $((SECONDS - started)) s"
  run_tests "$dir" "$name"
  echo "=== $name: built and tested in $((SECONDS - started)) s"
}

# Compile time is most of this script's time, so each build is chosen for what it finds:
# - g++ at -O3, every target, with the options of the release build type: exactly what a newcomer compiles with
#   `ninja -C build/release` after scripts/demo.sh, whose false positives of g++ 12 at -O3 (-Wrestrict) -O2 never
#   showed. The optimiser's warnings (-Wmaybe-uninitialized and friends) and the tests of optimised code; the
#   examples check runs its programs. Meson's release keeps assertions (b_ndebug stays false) and drops -g, which
#   only a debugger would miss here.
# - clang++ at -O0: clang's warnings come from its front end, not its optimiser; the valgrind check runs its tests
#   (memcheck wants -O0, see scripts/valgrind.sh), so its debug info is DWARF 4: Debian's valgrind 3.19 cannot
#   read the DWARF 5 that clang 14 writes by default.
# - the sanitizers with clang++: g++ takes three times as long to compile the same tests with ASan+UBSan.
build_and_test gcc g++ --buildtype=release
build_and_test clang clang++ --buildtype=debug -Dcpp_args=-gdwarf-4
ONLY_TESTS=1 build_and_test asan clang++ -Db_sanitize=address,undefined -Db_lundef=false
ONLY_TESTS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build_and_test tsan clang++ -Db_sanitize=thread \
  -Db_lundef=false

# Extra checks (one script each, see below): each counts as one passed or failed run. "header": the committed
# include/heygen/video_translation.hpp is exactly what scripts/amalgamate.py makes of the parts in include/heygen/vt/.
run_check() {
  local name=$1; shift
  local started=$SECONDS
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); else echo "$name: FAILED"; failed=$((failed + 1)); status=1; fi
  echo "=== $name: $((SECONDS - started)) s"
}
# Runs checks side by side, each its own script, its output kept apart and printed whole, in order, once all have
# ended; each counts as one passed or failed run. For checks that are mostly one core's work (a short build, then
# single-threaded runs or one-file compiles), on these two-core machines.
run_side_by_side() {
  local name dir started=$SECONDS
  dir=$(mktemp -d)
  for name in "$@"; do
    (
      began=$SECONDS
      bash "scripts/$name.sh" >"$dir/$name.log" 2>&1
      echo $? >"$dir/$name.rc"
      echo $((SECONDS - began)) >"$dir/$name.seconds"
    ) &
  done
  wait
  for name in "$@"; do
    echo "=== $name"
    cat "$dir/$name.log"
    if [ "$(cat "$dir/$name.rc")" = 0 ]; then
      passed=$((passed + 1))
    else
      echo "$name: FAILED"; failed=$((failed + 1)); status=1
    fi
    echo "=== $name: $(cat "$dir/$name.seconds") s (side by side)"
  done
  rm -rf "$dir"
  echo "=== $*: $((SECONDS - started)) s side by side"
}
run_check header python3 scripts/amalgamate.py --check
# The fuzzers run one at a time on one core; the consumer builds compile one file each.
run_side_by_side fuzz consumers
VALGRIND_BUILD_DIR=build/clang run_check valgrind bash scripts/valgrind.sh
EXAMPLES_BUILD_DIR=build/gcc run_check examples bash scripts/examples.sh
run_check lint bash scripts/lint.sh

echo "total: $SECONDS s"
echo "$passed passed, $failed failed"
exit "$status"
