#!/usr/bin/env bash
# Prepares, on the build machine (full build), what the CUDA backend's check
# needs on a GPU node, which has CUDA but no LLVM/MLIR: a small GQA model and
# its masked twin, token arrays, a packed data set, and every kind of
# program compiled from them (eval, prune, train, gradients, importance,
# generate; and bf16 ones). bench/gpu_check.sh runs them there. The folder is ignored by
# git; carry it to the device (the device tool's `carry`).
#   bench/gpu_bundle.sh [DIR (default: gpu-bundle)] [BUILD_DIR (default: build)]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/gpu-bundle}
BIN=$(cd "${2:-$ROOT/build}/bin" && pwd)
PY=/usr/bin/python3
REF=$ROOT/test/reference
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT"

$PY "$REF/make_tiny_hf.py" --out hf --layers 2 --hidden 64 --heads 4 --kv-heads 2 --intermediate 96 \
  --vocab 64 --tied --rope llama3 > /dev/null
"$BIN/shear-translate" --import-hf hf -o model.mlir
"$BIN/shear-opt" model.mlir --insert-masks \
  --target-shape=layers=1,heads=2,kv-heads=1,hidden=32,intermediate=48 -o masked.mlir
$PY "$REF/make_tokens.py" tok.npy --vocab 64 --shape 2,24
$PY "$REF/make_domains.py" tokens --vocab 64 --tokens 6000 > /dev/null
"$BIN/shear-data" pack --seq 32 --eval-seqs 4 -o data uniform=tokens/uniform.npy ramp=tokens/ramp.npy > /dev/null

mkdir -p programs
c() { "$BIN/shear-run" compile "$@" > /dev/null; }
c model.mlir --mode eval -o programs/eval.json
c masked.mlir --mode eval -o programs/eval-masked.json
c masked.mlir --mode prune --steps 8 -o programs/prune.json
c masked.mlir --mode prune --steps 8 --distill-from model.mlir -o programs/prune-distill.json
c model.mlir --mode train --steps 6 -o programs/train.json
c masked.mlir --mode gradients -o programs/gradients.json
c masked.mlir --mode importance -o programs/importance.json
c model.mlir --mode generate -o programs/generate.json
# bf16 storage (float32 masters and gradients): the CPU runs them as the reference.
c model.mlir --mode eval --precision bf16 -o programs/eval-bf16.json
c masked.mlir --mode prune --steps 8 --precision bf16 -o programs/prune-bf16.json
c masked.mlir --mode gradients --precision bf16 -o programs/gradients-bf16.json
cp "$REF/compare_npy.py" "$REF/compare_tensors.py" "$REF/compare_ranks.py" "$REF/compare_runs.py" \
  "$REF/safetensors_np.py" .
echo "wrote $OUT: $(du -sh . | cut -f1), $(ls programs | wc -l) programs"
