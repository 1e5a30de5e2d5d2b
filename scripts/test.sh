#!/usr/bin/env bash
# Installs what is missing, builds (Release), and runs the whole test suite.
# Usage: scripts/test.sh [--libtorch debian|pip] [build-dir]
#   debian (default): Debian's LibTorch 1.13, build folder `build`
#   pip:              the LibTorch 2.x of PyPI's torch wheel (scripts/setup.sh --libtorch pip), build folder
#                     `build-pip`; also runs the interop tests against the real timm / safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
LIBTORCH=debian
if [ "${1:-}" = --libtorch ]; then LIBTORCH=${2:-}; shift 2 || true; fi
case "$LIBTORCH" in
  debian)
    BUILD=${1:-build}
    bash scripts/setup.sh
    CONFIG=();;
  pip)
    BUILD=${1:-build-pip}
    VENV=$(bash scripts/setup.sh --libtorch pip | tail -n 1)
    PREFIX=$("$VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)
    CONFIG=(-DCMAKE_PREFIX_PATH="$PREFIX" -DATTNZOO_INTEROP_PYTHON="$VENV/bin/python");;
  *) echo "test: --libtorch must be debian or pip, got '$LIBTORCH'" >&2; exit 2;;
esac
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNZOO_BUILD_TESTS=ON "${CONFIG[@]}"
cmake --build "$BUILD" --parallel "$(nproc)"
cd "$BUILD"
ctest --output-on-failure --parallel "$(nproc)" --timeout 900
