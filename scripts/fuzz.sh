#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang++, ASan+UBSan, build/fz-fuzz) and runs each one for a fixed
# time on a copy of its seed corpus (the repository is never written to). Prints the executions per target and
# fails when a target finds a crash, a sanitizer error or a broken invariant.
#
#   bash scripts/fuzz.sh [--seconds N] [TARGET...]
#
#   --seconds N   fuzzing time per target (default 20, or $FUZZ_SECONDS)
#   TARGET        protocol, retry_after, url, webhook (default: all four)
#
# A finding's input is printed in hex and kept in the temporary folder named at the end; to replay it:
#   build/fz-fuzz/tests/fuzz/fuzz_TARGET FILE
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
source scripts/lib.sh

seconds=${FUZZ_SECONDS:-20}
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    protocol|retry_after|url|webhook) targets+=("$1"); shift ;;
    *) echo "usage: $0 [--seconds N] [protocol|retry_after|url|webhook]..." >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(protocol retry_after url webhook)

ensure_packages || exit 1
build_dir=build/fz-fuzz
configure_build "$build_dir" clang++ -Dfuzz=true || exit 1
ninja -j2 -C "$build_dir" "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null || { echo "fuzz: build failed"; exit 1; }

work=$(mktemp -d)
keep_work=0
trap '[ "$keep_work" = 1 ] || rm -rf "$work"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# Prints a finding's input as hex (it lives only in the temporary folder, which is kept for it).
show_artifacts() {
  local dir=$1 artifact
  for artifact in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
    [ -f "$artifact" ] || continue
    echo "  input $(basename "$artifact") ($(wc -c <"$artifact") bytes), hex: $(od -An -v -tx1 "$artifact" | tr -d ' \n')"
  done
}

# Fuzzes one target on a fresh copy of its corpus; prints its executions; returns non-zero on a finding.
fuzz_one() {
  local target=$1
  local dir="$work/$target"
  mkdir -p "$dir/corpus"
  cp tests/fuzz/corpus/"$target"/* "$dir/corpus/"
  local seeds
  seeds=$(find "$dir/corpus" -type f | wc -l)
  # -timeout: one input over 10 s is a hang; timeout(1) bounds the whole run should libFuzzer itself hang.
  timeout $((seconds + 120)) "$build_dir/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1
  local rc=$?
  local runs
  runs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1 runs in \2 s/p' "$dir/log" | tail -n 1)
  local stopped
  stopped=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1 runs, stopped at a finding/p' "$dir/log")
  printf 'fuzz_%-12s %s, corpus %d -> %d inputs\n' "$target" "${runs:-${stopped:-no runs}}" "$seeds" \
    "$(find "$dir/corpus" -type f | wc -l)"
  if [ "$rc" -ne 0 ] || [ -z "$runs" ] || compgen -G "$dir/crash-*" >/dev/null; then
    echo "fuzz_$target: FINDING (exit $rc); the end of its log:"
    grep -vE '^#[0-9]+|^INFO:' "$dir/log" | tail -n 40 | sed 's/^/  /'
    show_artifacts "$dir"
    return 1
  fi
}

status=0
for target in "${targets[@]}"; do
  fuzz_one "$target" || status=1
done
if [ "$status" -ne 0 ]; then
  keep_work=1
  echo "fuzz: failed; inputs and logs kept in $work"
fi
exit "$status"
