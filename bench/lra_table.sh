#!/usr/bin/env bash
# Reproduces the reduced-scale Long Range Arena table of bench/README.md: ListOps (generated, 10 000 train
# sequences of 100-500 tokens) and sequential Fashion-MNIST (784 pixel tokens) for every sequence attention.
# Usage: bench/lra_table.sh [BUILD_DIR] [OUT_DIR]     (about 45 minutes on 2 cores)
set -euo pipefail
A="${1:-build}/cli/attnzoo"
OUT="${2:-output/lra_table}"
mkdir -p "$OUT"
"$A" data make-listops "$OUT/listops" --sizes 10000 500 500 --min-length 100 --max-length 500 --seed 1
extra() {
  case $1 in neighborhood) echo "kernel_size=31" ;; block_local) echo "block=64 halo=32" ;; agent) echo "agent_num=32" ;; *) echo "" ;; esac
}
for att in softmax neighborhood block_local agent lka; do
  "$A" train --task lra-listops --data "$OUT/listops" --model lra_tiny --set attention=$att $(extra $att) \
    --steps 600 --batch-size 32 --eval-every 600 --warmup-steps 100 --lr 0.05 --output "$OUT/listops_$att"
done
for att in softmax neighborhood block_local agent lka; do
  "$A" train --task lra-image --model lra_tiny --set attention=$att $(extra $att) \
    --steps 400 --batch-size 32 --eval-every 400 --warmup-steps 100 --lr 0.05 --max-eval 2000 --output "$OUT/image_$att"
done
for f in "$OUT"/*/result.json; do echo "$f: $(tr -d '\n' < "$f")"; done
