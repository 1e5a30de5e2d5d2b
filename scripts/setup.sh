#!/usr/bin/env bash
# Installs every Debian package attnzoo needs to build, test and run. A no-op when all are present.
# Usage: scripts/setup.sh                  Debian's LibTorch 1.13 (needs root or sudo)
#        scripts/setup.sh --libtorch pip   also the LibTorch 2.x of PyPI's torch wheel (a CUDA build) and the
#                                          Python packages of the interop tests, pinned in
#                                          scripts/requirements-libtorch2.txt, in a virtualenv at
#                                          $ATTNZOO_TORCH_VENV (default ~/.cache/attnzoo/venv-torch); prints
#                                          nothing else on stdout than that folder on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
LIBTORCH=debian
while [ $# -gt 0 ]; do
  case "$1" in
    --libtorch) LIBTORCH=${2:-}; shift 2 || { echo "setup: --libtorch needs debian or pip" >&2; exit 2; };;
    --libtorch=*) LIBTORCH=${1#*=}; shift;;
    *) echo "setup: unknown argument '$1' (usage: scripts/setup.sh [--libtorch debian|pip])" >&2; exit 2;;
  esac
done
case "$LIBTORCH" in debian|pip) ;; *) echo "setup: --libtorch must be debian or pip, got '$LIBTORCH'" >&2; exit 2;; esac
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp libgloo-dev
  libopencv-dev libcli11-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev zlib1g-dev libpng-dev libjpeg-dev
  libcurl4-openssl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-dev
  dataset-fashion-mnist
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present" >&2
else
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# libtorch only *recommends* OpenBLAS; make sure the fast BLAS is the active libblas.so.3 (~30x faster GEMM).
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 -> $blas is not OpenBLAS (GEMM will be slow)" >&2;;
esac

[ "$LIBTORCH" = pip ] || exit 0

# LibTorch 2.x: a virtualenv outside the checkout, so that fresh clones (CI) reuse the ~5 GB download.
VENV=${ATTNZOO_TORCH_VENV:-$HOME/.cache/attnzoo/venv-torch}
REQ=scripts/requirements-libtorch2.txt
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  if ! python3 -m venv "$VENV" >&2; then
    $SUDO apt-get install -y -qq --no-install-recommends python3-venv >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
  fi
fi
# pip returns at once when every pinned version is already installed.
if ! cmp -s "$REQ" "$VENV/.attnzoo-requirements"; then
  echo "setup: installing $(grep -v '^#' "$REQ" | tr '\n' ' ')into $VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" >&2
  cp "$REQ" "$VENV/.attnzoo-requirements"
fi
echo "$VENV"
