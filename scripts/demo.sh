#!/usr/bin/env bash
# The demo: installs what is missing (Debian 12), builds, starts the simulator in-process, creates a batch of
# jobs and tracks them. Flags go to the demo program: --jobs N, --min S, --max S, --error-rate P, --url URL,
# --api heygen-v3 (HeyGen's v3 API: translations into 2-3 languages each, one job per language), --api-key KEY.
# Safe to re-run: the build folder is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_packages
configure_build build/release g++ --buildtype=release >&2
ninja -C build/release tools/demo/demo >&2
exec build/release/tools/demo/demo "$@"
