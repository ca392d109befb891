#!/usr/bin/env bash
# Runs every test binary (unit, no_httplib, integration) under valgrind's memcheck from a plain g++ build of its
# own (build/fz-valgrind): invalid reads and writes, uses of uninitialised values and leaks fail the check,
# as does a failing test. All three binaries run in full (about 25 s together on a 2-core machine).
#
#   bash scripts/valgrind.sh
#
# The build is -O0 (buildtype=debug) on purpose: at -O2 g++ tests a std::optional's payload before its
# "engaged" flag (harmless, the result is the same), and memcheck reports that as a jump on an uninitialised
# value; -O0 keeps every report a real one without a suppression list.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_packages || exit 1
build_dir=build/fz-valgrind
binaries=(unit_tests no_httplib_tests integration_tests)
configure_build "$build_dir" g++ -Dbuildtype=debug || exit 1
ninja -j2 -C "$build_dir" "${binaries[@]/#/tests/}" >/dev/null || { echo "valgrind: build failed"; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs one test binary under memcheck; prints its doctest summary, time and memcheck's verdict.
check_one() {
  local binary=$1 started rc
  started=$(date +%s.%N)
  timeout 900 valgrind -q --error-exitcode=1 --leak-check=full "$build_dir/tests/$binary" --no-intro=true >"$log" 2>&1
  rc=$?
  local took errors
  took=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  errors=$(grep -cE '^==[0-9]+== $' "$log")  # in -q mode each report ends with an empty line of its own
  printf '%-18s %6s s  memcheck reports: %s  %s\n' "$binary" "$took" "$errors" \
    "$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1)"
  if [ "$rc" -ne 0 ]; then
    echo "$binary: FAILED under valgrind (exit $rc); memcheck and test output:"
    grep -E '^==[0-9]+==|ERROR|FAILED|failed' "$log" | head -n 80 | sed 's/^/  /'
    return 1
  fi
}

status=0
for binary in "${binaries[@]}"; do
  check_one "$binary" || status=1
done
exit "$status"
