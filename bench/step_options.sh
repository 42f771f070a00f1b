#!/usr/bin/env bash
# Two sets of shear-run train options on the same step, not a test:
# continued pre-training of a ~35M-parameter LLaMA with LLaMA's 32000-token
# vocabulary (6 layers, hidden 384, 6 heads, intermediate 1024), batch 8 x 256.
# Prints the memory plan of both, then runs them in turn (A B A B ..., PAIRS
# pairs of STEPS steps) and prints the median tokens/s (steps 3.. of each run)
# and peak RSS of each. docs/benchmarks.md records the results.
#   bench/step_options.sh "OPTIONS A" "OPTIONS B" [BUILD_DIR]   (THREADS=2 PAIRS=3 STEPS=8)
#   bench/step_options.sh "" "--no-fuse"                        # the fused loss against the unfused kernels
#   bench/step_options.sh "--recompute attention,mlp" ""        # recomputation against keeping activations
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=${1?options A}; B=${2?options B}
BIN=$(cd "${3:-$ROOT/build}/bin" && pwd)
WORK=${BENCH_DIR:-/tmp/shear-bench-step-options}
THREADS=${THREADS:-2} PAIRS=${PAIRS:-3} STEPS=${STEPS:-8}
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE || true   # OpenBLAS at full speed (TOOLCHAIN.md)
PY=/usr/bin/python3
$PY "$ROOT/test/reference/make_tiny_hf.py" --out hf --layers 6 --hidden 384 --heads 6 \
    --intermediate 1024 --vocab 32000 > /dev/null
$PY -c "import numpy as np; np.save('tokens.npy', np.random.default_rng(0).integers(0, 32000, 200000))"
"$BIN/shear-translate" --import-hf hf -o model.mlir
"$BIN/shear-data" pack --seq 256 --eval-seqs 1 -o data web=tokens.npy > /dev/null
TRAIN=("$BIN/shear-run" train model.mlir --data data --steps "$STEPS" --batch 8 --eval-every 0
       --dbl off --threads "$THREADS" --log-every 0)
opts() { [ "$1" = A ] && echo "$A" || echo "$B"; }
for arm in A B; do
  echo "== $arm ($(opts $arm)): memory plan"
  "${TRAIN[@]}" --out plan --plan $(opts $arm) | grep -E "activations|total"
done
for i in $(seq "$PAIRS"); do
  for arm in A B; do
    rm -rf "run-$arm-$i"
    /usr/bin/time -f "%M" -o "$arm-$i.rss" "${TRAIN[@]}" --out "run-$arm-$i" $(opts $arm) > /dev/null
  done
done
$PY - "$PAIRS" <<'PYEOF'
import json, statistics, sys
pairs = int(sys.argv[1])
for arm in ["A", "B"]:
    tps = [statistics.median(r["tokens_per_s"] for r in
                             [json.loads(l) for l in open(f"run-{arm}-{i}/metrics.jsonl")][2:])
           for i in range(1, pairs + 1)]
    rss = [int(open(f"{arm}-{i}.rss").read().split()[-1]) / 1024 for i in range(1, pairs + 1)]
    print(f"{arm} tokens/s per run {', '.join(f'{t:.0f}' for t in tps)} (median {statistics.median(tps):.0f});"
          f" peak RSS {statistics.median(rss):.0f} MiB")
PYEOF
