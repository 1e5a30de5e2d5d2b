#!/usr/bin/env bash
# Installs what is missing, builds (Release), and runs the main job.
# Usage: scripts/run.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/setup.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" --parallel "$(nproc)"
"$BUILD/cli/attnzoo" list
"$BUILD/cli/attnzoo" info van_b0
