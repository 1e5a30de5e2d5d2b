#!/usr/bin/env bash
# Reproduces the reduced-scale Long Range Arena table of bench/README.md: ListOps (generated, 10 000 train
# sequences of 100-500 tokens, 2 000 steps of batch 32) and sequential Fashion-MNIST (784 pixel tokens,
# 400 steps) for every sequence attention.
#
# Usage: bench/lra_table.sh [BUILD_DIR or attnzoo binary] [OUT_DIR]
#   ATTENTIONS="softmax lka ..."  which attentions (default: all nine)
#   TASKS="listops image"         which tasks
#   THREADS=N                     intra-op threads per run (default: all cores); two queues with THREADS=1
#                                 side by side use a 2-core machine fully
# Time on 2 cores: ListOps 8-40 min per attention (softmax and gpsa are the quadratic, slow ones), Image 2-20.
set -euo pipefail
A="${1:-build}"
[ -d "$A" ] && A="$A/cli/attnzoo"  # a build folder or the attnzoo binary itself
OUT="${2:-output/lra_table}"
ATTENTIONS="${ATTENTIONS:-softmax neighborhood block_local agent lka hilo gpsa bra davit}"
TASKS="${TASKS:-listops image}"
T=()
[ -n "${THREADS:-}" ] && T=(--threads "$THREADS")
# Peak resident memory of each run into its output folder (when GNU time is installed).
run() {
  local out="$1"; shift
  mkdir -p "$out"
  if [ -x /usr/bin/time ]; then /usr/bin/time -f "peak_rss_kb %M" -o "$out/time.txt" "$@"; else "$@"; fi
}
mkdir -p "$OUT"
[ -f "$OUT/listops/basic_test.tsv" ] ||
  "$A" data make-listops "$OUT/listops" --sizes 10000 500 500 --min-length 100 --max-length 500 --seed 1
extra() {
  case $1 in
    neighborhood) echo "kernel_size=31" ;; block_local) echo "block=64 halo=32" ;; agent) echo "agent_num=32" ;;
    hilo) echo "window=16 alpha=0.5" ;; bra) echo "block=32 topk=4" ;; davit) echo "block=64" ;; *) echo "" ;;
  esac
}
for task in $TASKS; do
  for att in $ATTENTIONS; do
    if [ "$task" = listops ]; then
      run "$OUT/listops_$att" "$A" "${T[@]}" train --task lra-listops --data "$OUT/listops" --model lra_tiny --set attention=$att $(extra $att) \
        --steps 2000 --batch-size 32 --eval-every 500 --warmup-steps 300 --lr 0.05 --overwrite --output "$OUT/listops_$att"
    else
      run "$OUT/image_$att" "$A" "${T[@]}" train --task lra-image --model lra_tiny --set attention=$att $(extra $att) \
        --steps 400 --batch-size 32 --eval-every 400 --warmup-steps 100 --lr 0.05 --max-eval 2000 --overwrite --output "$OUT/image_$att"
    fi
  done
done
for f in "$OUT"/*/result.json; do echo "$f: $(tr -d '\n' < "$f")"; done
