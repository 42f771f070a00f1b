#!/usr/bin/env bash
# Prepares, on the build machine, what bench/gpu_bench.sh runs on a GPU node
# (which has no LLVM/MLIR): bf16 programs for LLaMA shapes of the paper —
# continued pre-training of the 1.3B shape, the masked prune step of the
# 1.3B shape (toward 370m) and of the 2.7B shape toward 1.3B — compiled from
# sparse checkpoints (shapes only: bench/make_llama.py --fill zeros), and
# packed random tokens (vocab 32000). The checkpoints are not carried:
# gpu_bench.sh writes them again there with the same names and shapes.
#   bench/gpu_bench_bundle.sh [DIR (default: gpu-bench)] [BUILD_DIR (default: build)] [SEQ (default: 2048)]
#   STEPS=10 (the steps the programs are compiled for: gpu_bench.sh runs them all)
#   SOURCES="1.3b=370m 2.7b=1.3b" (source preset = pruning target; the first is also trained;
#   SOURCES="7b=2.7b": the 7B-shaped prune step of issue 9 (c), compiled with --offload optimizer
#   --recompute attention,mlp,norm: 48.4 GiB planned by the CUDA backend at batch 8 x 4096, docs/benchmarks.md;
#   SOURCES="tiny=layers=1,heads=2,hidden=32,intermediate=64" to check the scripts on a CPU)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/gpu-bench}
BIN=$(cd "${2:-$ROOT/build}/bin" && pwd)
SEQ=${3:-2048}
PY=/usr/bin/python3
rm -rf "$OUT" && mkdir -p "$OUT/programs" && cd "$OUT"
SOURCES=${SOURCES:-1.3b=370m 2.7b=1.3b}
STEPS=${STEPS:-10}
c() { "$BIN/shear-run" compile "$@" --precision bf16 --steps "$STEPS" > /dev/null; }
# A source whose full-parameter state does not fit one 80 GB GPU: AdamW's
# moments and the float32 masters in host memory, activations recomputed
# (all but the weights' working copies).
fits() { case $1 in 7b) echo "--offload optimizer --recompute attention,mlp,norm" ;; esac; }
runs=""
# shellcheck disable=SC2046 # fits: the words of the flags
for pair in $SOURCES; do
  preset=${pair%%=*} target=${pair#*=}
  $PY "$ROOT/bench/make_llama.py" src-$preset --preset $preset --fill zeros > /dev/null
  "$BIN/shear-translate" --import-hf src-$preset -o src-$preset/model.mlir
  "$BIN/shear-opt" src-$preset/model.mlir --insert-masks --target-shape=$target -o masked-$preset/masked.mlir
  if [ -z "$runs" ]; then
    c src-$preset/model.mlir --mode train -o programs/train-$preset.json $(fits $preset)
    # Before/after of the CUDA fused loss's chunk (2026-12-06: 2^26 floats
    # of logits, ~2000 rows at vocab 32000, where it was 65 rows, the CPU's
    # 8 MiB): the same step with the old chunk, timed beside it.
    c src-$preset/model.mlir --mode train -o "programs/train-$preset@loss-chunk-65.json" --loss-chunk 65 $(fits $preset)
    runs="train-$preset"
  fi
  c masked-$preset/masked.mlir --mode prune -o programs/prune-$preset.json $(fits $preset)
  runs="$runs prune-$preset"
done
# Tokens: 128 sequences of SEQ + 1 (STEPS steps of batch 8 take 80).
$PY -c "import numpy as np; np.save('tokens.npy', np.random.default_rng(0).integers(0, 32000, 128 * ($SEQ + 1), dtype=np.int64))"
"$BIN/shear-data" pack --seq "$SEQ" --eval-seqs 8 -o data web=tokens.npy > /dev/null
rm -f tokens.npy src-*/*.safetensors
echo "STEPS=$STEPS SEQ=$SEQ RUNS=\"$runs\"" > bundle.env
cp "$ROOT/bench/make_llama.py" "$ROOT/bench/torch_llama_gpu.py" .
echo "wrote $OUT: $(du -sh . | cut -f1), $(ls programs | grep -vc @) programs (and $(ls programs | grep -c @) variants)"
