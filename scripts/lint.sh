#!/usr/bin/env bash
# Lint: clang-format over every *.hpp/*.cpp under include/ examples/ sim/ tools/ tests/ bench/ (style: .clang-format),
# then clang-tidy (checks: .clang-tidy) over every .cpp the build compiles, read from the compile_commands.json of a
# clang++ build folder of its own (LINT_BUILD_DIR, default build/lint). Any finding fails: exits non-zero.
# Prints one line per tool and the time taken. Safe to re-run: the folder is reconfigured, not recreated.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages

build_dir=${LINT_BUILD_DIR:-build/lint}
started=$SECONDS
status=0

mapfile -t sources < <(find include examples sim tools tests bench -type f \( -name '*.hpp' -o -name '*.cpp' \) | sort)
unformatted=0
for source in "${sources[@]}"; do
  # Compared by output, not --dry-run: clang-format 14 flags `}  // TEST_SUITE("x")` comments it would rewrite
  # to the very same text (a no-op replacement), so only a real difference counts.
  clang-format "$source" | cmp -s - "$source" && continue
  unformatted=$((unformatted + 1))
  echo "clang-format: $source: $(clang-format "$source" | diff "$source" - | grep -c '^<') lines would change"
done
if [ "$unformatted" -eq 0 ]; then
  echo "clang-format: ok (${#sources[@]} files)"
else
  echo "clang-format: FAILED ($unformatted of ${#sources[@]} files differ from .clang-format; clang-format -i fixes them)"
  status=1
fi

# The build folder is only configured: compile_commands.json is all clang-tidy needs.
if ! configure_build "$build_dir" clang++; then
  echo "clang-tidy: FAILED (meson setup $build_dir)"
  exit 1
fi
# Each source once, even when several targets compile it.
mapfile -t units < <(python3 -c '
import json, os, sys
entries = json.load(open(sys.argv[1]))
print("\n".join(sorted({os.path.normpath(os.path.join(e["directory"], e["file"])) for e in entries})))
' "$build_dir/compile_commands.json")

tidy_log=$(mktemp)
trap 'rm -f "$tidy_log"' EXIT
# Two at a time: the machines this runs on have two cores.
printf '%s\n' "${units[@]}" |
  xargs -P 2 -n 1 clang-tidy -p "$build_dir" --quiet --warnings-as-errors='*' >"$tidy_log" 2>&1
tidy_rc=$?
# A finding in a header is reported once per file that includes it: list each line and check once, repo-relative.
mapfile -t findings < <(python3 - "$tidy_log" "$build_dir" <<'PY'
import os, re, sys
log, build_dir = sys.argv[1], sys.argv[2]
pattern = re.compile(r"^(\S+?):(\d+):(\d+): (?:warning|error): (.*) \[([^\]]+)\]$")
found = {}  # (path, line, check) -> (column, message): one entry per line and check
for line in open(log, encoding="utf-8", errors="replace"):
    match = pattern.match(line.rstrip("\n"))
    if not match:
        continue
    path, row, column, message, checks = match.groups()
    path = os.path.relpath(os.path.normpath(os.path.join(build_dir, path)))  # relative paths are the build dir's
    key = (path, int(row), checks.replace(",-warnings-as-errors", ""))
    found[key] = min(found.get(key, (int(column), message)), (int(column), message))
for (path, row, check), (column, message) in sorted(found.items()):
    print(f"{path}:{row}:{column}: {check}: {message}")
PY
)
if [ "$tidy_rc" -eq 0 ] && [ ${#findings[@]} -eq 0 ]; then
  echo "clang-tidy: ok (${#units[@]} files)"
else
  printf '%s\n' "${findings[@]}"
  [ ${#findings[@]} -eq 0 ] && cat "$tidy_log"
  echo "clang-tidy: FAILED (${#findings[@]} findings in ${#units[@]} files)"
  status=1
fi

echo "lint: $((SECONDS - started)) s"
exit "$status"
