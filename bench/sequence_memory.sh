#!/usr/bin/env bash
# Peak memory of the sequence attention complexity benchmark (bench/README.md, "Sequence attention complexity"):
# one process per (kind, L), peak RSS (GNU time) minus the binary's own baseline (a run that benchmarks nothing).
#
# Usage: bench/sequence_memory.sh [BUILD_DIR] ["KINDS"] ["LENGTHS"]
#   KINDS: BM_SequenceAttention kind numbers (default: 9-14, issue #18's six); LENGTHS default "4096 8192 16384".
# Prints "kind L MiB" lines; skipped configurations (the benchmark skips quadratic kinds at 16k) print "skipped".
set -euo pipefail
BUILD="${1:-build}"
KINDS="${2:-9 10 11 12 13 14}"
LENGTHS="${3:-4096 8192 16384}"
B="$BUILD/bench/attnzoo_bench"
[ -x /usr/bin/time ] || { echo "sequence_memory.sh: needs GNU time (/usr/bin/time)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Runs the benchmark once with `filter`; leaves its output in $T/log and its peak RSS (KiB) in $T/kb.
run() { OMP_NUM_THREADS=2 /usr/bin/time -f "%M" -o "$T/kb" "$B" --benchmark_filter="$1" --benchmark_min_time=0.01 >"$T/log" 2>&1 || true; }
run '^NOTHING$'
base=$(tail -1 "$T/kb")
echo "baseline ${base} KiB"
for k in $KINDS; do
  for L in $LENGTHS; do
    run "^BM_SequenceAttention/kind:$k/L:$L\$"
    if grep -q "quadratic" "$T/log"; then echo "$k $L skipped"; else echo "$k $L $(( ($(tail -1 "$T/kb") - base) / 1024 ))"; fi
  done
done
