#!/usr/bin/env bash
# Same-minute A/B of attnzoo's own CPU kernels against the reference ATen paths (`--reference-kernels`):
# runs `attnzoo bench ARGS` both ways, alternating ROUNDS times, and prints the best img/s of each and the
# ratio. The machines this project runs on are noisy VMs: compare ratios, never numbers across runs.
# Usage: bench/ab_kernels.sh "--model van_b0 --batch 8 --iters 5" [ROUNDS=2] [ATTNZOO=build/cli/attnzoo]
set -euo pipefail
args=$1
rounds=${2:-2}
attnzoo=${3:-build/cli/attnzoo}
img_s() { "$attnzoo" "$@" --no-peak --json | python3 -c "import json, sys; print(json.load(sys.stdin)['images_per_second'])"; }
best_k=0 best_r=0
for _ in $(seq "$rounds"); do
  # shellcheck disable=SC2086 # ARGS is a list of flags
  k=$(img_s bench $args)
  # shellcheck disable=SC2086
  r=$(img_s --reference-kernels bench $args)
  best_k=$(python3 -c "print(max($best_k, $k))")
  best_r=$(python3 -c "print(max($best_r, $r))")
done
python3 -c "print(f'$args: kernels {$best_k:.1f} img/s, reference {$best_r:.1f} img/s, ratio {$best_k / $best_r:.2f}x')"
