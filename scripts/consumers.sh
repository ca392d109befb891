#!/usr/bin/env bash
# Installs the library into a temporary prefix and builds and runs five consumer projects (tests/consumers):
# a Meson project taking this repository as a subproject, a Makefile using pkg-config, a CMake project using
# find_package (against the prefix moved elsewhere after install, so the CMake package must be relocatable), and two
# CMake projects building it from source through the top-level CMakeLists.txt: one with add_subdirectory() on a copy
# of the repository's tracked files, one with FetchContent from a local archive of that copy (no network).
# Each program calls a closed loopback port and must end with a transport error. Prints one line per consumer;
# exits non-zero on any failure. Safe to re-run: everything happens in a temporary folder that is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_packages

repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# run_step LOG command...: runs a step with its output in LOG, shown only when the step fails.
run_step() {
  local log=$1; shift
  if ! timeout 300 "$@" >>"$log" 2>&1; then
    echo "  failed: $*"
    { grep -m 5 -E 'error|ERROR' "$log" || tail -n 20 "$log"; } | sed 's/^/  | /'
    return 1
  fi
}

# consumer NAME DIR build-command...: builds DIR with the command, then runs DIR/consumer; prints one line.
consumer() {
  local name=$1 dir=$2; shift 2
  local log="$work/$name.log" started=$SECONDS output
  if run_step "$log" "$@" && output=$(timeout 60 "$dir/consumer" 2>&1); then
    echo "consumer $name: ok ($((SECONDS - started)) s) $output"
  else
    echo "consumer $name: FAILED ${output:-}"
    status=1
  fi
}

# A copy of one consumer project with the shared program beside its build file.
copy_project() {
  local kind=$1 dest=$2
  mkdir -p "$dest"
  cp "tests/consumers/$kind"/* tests/consumers/main.cpp "$dest/"
}

prefix="$work/prefix"
install_log="$work/install.log"
if ! run_step "$install_log" meson setup --prefix "$prefix" -Dtests=disabled -Dexamples=disabled "$work/build" . ||
  ! run_step "$install_log" meson install -C "$work/build"; then
  echo "install: FAILED"
  exit 1
fi
echo "install: ok ($(cd "$prefix" && find . -type f -printf '%P\n' | sort | tr '\n' ' '))"

# Meson: this repository (the source tree, not the install) as subprojects/heygen-video-translation. Forcing the
# fallback makes the check use the subproject even on a machine where the library is installed system-wide.
copy_project meson "$work/meson"
mkdir -p "$work/meson/subprojects"
ln -s "$repo" "$work/meson/subprojects/heygen-video-translation"
consumer meson-subproject "$work/meson/build" bash -c "
  meson setup --force-fallback-for=heygen-video-translation '$work/meson/build' '$work/meson' &&
  ninja -C '$work/meson/build'"

copy_project make "$work/make"
consumer make-pkg-config "$work/make" env PKG_CONFIG_PATH="$prefix/share/pkgconfig" make -C "$work/make"

moved="$work/moved-prefix"
mv "$prefix" "$moved"
copy_project cmake "$work/cmake"
consumer cmake-find-package "$work/cmake/build" bash -c "
  cmake -S '$work/cmake' -B '$work/cmake/build' -DCMAKE_PREFIX_PATH='$moved' &&
  cmake --build '$work/cmake/build'"

if cmake -DVERSION_FILE="$moved/share/cmake/HeygenVideoTranslation/HeygenVideoTranslationConfigVersion.cmake" \
  -P tests/consumers/version_check.cmake; then
  echo "cmake version rules: ok"
else
  echo "cmake version rules: FAILED"
  status=1
fi

# The repository's tracked files as a clean clone has them (uncommitted edits included, no build folders): what a
# git submodule, a vendored copy or a source archive would hold.
source_copy="$work/source/heygen-video-translation"
mkdir -p "$source_copy"
if ! git ls-files -z | tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C "$source_copy"; then
  echo "source copy: FAILED (it needs a git checkout: git ls-files)"
  exit 1
fi

copy_project cmake-subdirectory "$work/cmake-subdirectory"
cp -R "$source_copy" "$work/cmake-subdirectory/"
consumer cmake-subdirectory "$work/cmake-subdirectory/build" bash -c "
  cmake -S '$work/cmake-subdirectory' -B '$work/cmake-subdirectory/build' &&
  cmake --build '$work/cmake-subdirectory/build'"

archive="$work/heygen-video-translation-$(cat VERSION).tar.gz"
tar -C "$work/source" -czf "$archive" heygen-video-translation
copy_project cmake-fetchcontent "$work/cmake-fetchcontent"
consumer cmake-fetchcontent "$work/cmake-fetchcontent/build" bash -c "
  cmake -S '$work/cmake-fetchcontent' -B '$work/cmake-fetchcontent/build' -DHEYGEN_VT_URL='file://$archive' &&
  cmake --build '$work/cmake-fetchcontent/build'"
exit "$status"
