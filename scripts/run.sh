#!/usr/bin/env bash
# Installs what is missing, builds (Release), and runs the main job: trains a small VAN on
# Fashion-MNIST (the built-in recipe configs/fashion_mnist/van_tiny.yaml), then evaluates the best
# checkpoint on the test set and draws its training curves (output/fashion_mnist_van_tiny/curves.png).
# Usage: scripts/run.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bash scripts/setup.sh
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" --parallel "$(nproc)"
"$BUILD/cli/attnzoo" train --overwrite  # the built-in recipe; --overwrite: a rerun replaces the previous one
"$BUILD/cli/attnzoo" eval --checkpoint output/fashion_mnist_van_tiny/best.safetensors --data fashion-mnist
"$BUILD/cli/attnzoo" plot output/fashion_mnist_van_tiny --output output/fashion_mnist_van_tiny/curves.png --svg
