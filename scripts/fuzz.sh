#!/usr/bin/env bash
# The sanitizer build and the fuzz run (issue #19): builds core/checkpoint/datasets with clang under
# ASan + UBSan (ATTNZOO_FUZZ=ON, folder build-fuzz), runs the parser tests there, then every libFuzzer
# target for SECONDS seconds (default 30) from the committed corpus, with a 1 GB memory limit per input.
# Any crash, sanitizer report, timeout or out-of-memory fails the run; its input is kept in
# build-fuzz/findings/<target>/ (add it to tests/fuzz/corpus/<target>/ as a regression file once fixed).
# The mutation seed is fixed (FUZZ_SEED, default 1) so that CI explores the same inputs each run and a red CI
# is reproducible; run longer or with other seeds by hand to find new bugs (FUZZ_SEED=0: a random seed).
# Usage: scripts/fuzz.sh [SECONDS] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-30}
SEED=${FUZZ_SEED:-1}
shift || true
bash scripts/setup.sh
BUILD=build-fuzz
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DATTNZOO_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --parallel "$(nproc)"
(cd "$BUILD" && ctest --output-on-failure --parallel "$(nproc)" --timeout 600)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(safetensors pickle pth image idx listops pathfinder config); fi
failed=()
for t in "${targets[@]}"; do
  work="$BUILD/fuzz-work/$t"
  findings="$BUILD/findings/$t"
  rm -rf "$work" && mkdir -p "$work" "$findings"
  log="$BUILD/findings/$t.log"
  # New inputs go to the scratch folder (first), the committed corpus is only read.
  if (cd "$findings" && "$OLDPWD/$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -seed="$SEED" -rss_limit_mb=1024 \
        -timeout=10 -print_final_stats=0 "$OLDPWD/$work" "$OLDPWD/tests/fuzz/corpus/$t") >"$log" 2>&1; then
    echo "fuzz: $t: $(grep -E '^Done' "$log" | tail -1)"
  else
    echo "fuzz: $t: FAILED (see $log; inputs in $findings)" >&2
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5 >&2 || true
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${SECONDS_PER_TARGET} s each, no findings"
