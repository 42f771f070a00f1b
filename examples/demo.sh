#!/usr/bin/env bash
# The embedded-default demo (`make demo`): the whole method on this machine,
# on small sizes, with data it makes itself.
#   1. three synthetic data domains of different character, packed;
#   2. a small LLaMA-3-style source model (GQA, bf16, llama3 RoPE), briefly
#      pre-trained from scratch (the stand-in for a strong public model);
#   3. masks for a smaller target shape, then pruning: weights, gates and
#      Lagrange multipliers learned together, with dynamic batch loading;
#   4. finalize + materialize: a dense model of exactly the target shape, whose
#      logits equal the masked model's;
#   5. continued pre-training of the compact model;
#   6. per-domain evaluation of every stage, HF export, and an independent
#      float64 PyTorch check of the exported model.
# Real text, ONNX export and the from-scratch baseline arrive with issue 4.
set -euo pipefail
BUILD=${1:-build}
BIN=$(cd "$BUILD/bin" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${DEMO_OUT:-$ROOT/$BUILD/demo}
PY=/usr/bin/python3
REF=$ROOT/test/reference
rm -rf "$OUT" && mkdir -p "$OUT/masked" "$OUT/compact"
cd "$OUT"
step() { printf '\n== %s\n' "$*"; }
TRAIN_OPTS="--batch 8 --threads 2 --log-every 25"

step "1. data: three domains (uniform, ramp, skewed), sequences of 64 tokens"
$PY "$REF/make_domains.py" tokens --vocab 512 --tokens 60000
"$BIN/shear-data" pack --seq 64 --eval-seqs 16 -o data \
    uniform=tokens/uniform.npy ramp=tokens/ramp.npy skewed=tokens/skewed.npy

step "2. source model: 4 layers, hidden 256, 8 heads in 4 kv groups, intermediate 688; pre-training"
$PY "$REF/make_tiny_hf.py" --out source-init --layers 4 --hidden 256 --heads 8 --kv-heads 4 \
    --intermediate 688 --vocab 512 --dtype BF16 --rope llama3
"$BIN/shear-translate" --import-hf source-init -o source-init.mlir
"$BIN/shear-run" train source-init.mlir --data data --out pretrain --steps 150 --lr 3e-3 \
    --eval-every 0 --dbl off $TRAIN_OPTS
SOURCE=pretrain/final/model.mlir

TARGET="layers=3,heads=4,kv-heads=2,hidden=128,intermediate=344"
step "3. prune to $TARGET"
"$BIN/shear-opt" $SOURCE --insert-masks --target-shape=$TARGET -o masked/masked.mlir
"$BIN/shear-run" prune masked/masked.mlir --data data --out prune --steps 200 --lr 1e-3 \
    --eval-every 50 $TRAIN_OPTS

step "4. finalize and materialize"
"$BIN/shear-opt" prune/final/model.mlir --finalize-masks --materialize-shapes -o compact/compact.mlir
"$BIN/shear-opt" prune/final/model.mlir --finalize-masks -o masked/final.mlir
$PY "$REF/make_tokens.py" check.npy --vocab 512 --shape 2,64
"$BIN/shear-run" eval masked/final.mlir --tokens check.npy --logits-out masked.npy
"$BIN/shear-run" eval compact/compact.mlir --tokens check.npy --logits-out compact.npy
printf 'masked model vs compact model logits: '
$PY "$REF/compare_npy.py" compact.npy masked.npy --tol 1e-5

step "5. continued pre-training of the compact model"
"$BIN/shear-run" train compact/compact.mlir --data data --out continue --steps 100 --lr 1e-3 \
    --eval-every 50 $TRAIN_OPTS

step "6. evaluation, HF export and an independent check"
for stage in source:$SOURCE pruned:compact/compact.mlir continued:continue/final/model.mlir; do
  "$BIN/shear-run" eval "${stage#*:}" --data data > "eval-${stage%%:*}.json"
done
"$BIN/shear-translate" --export-hf continue/final/model.mlir -o final-hf
"$BIN/shear-run" eval continue/final/model.mlir --tokens check.npy --logits-out final.npy
printf 'exported HF model vs float64 PyTorch reference: '
$PY "$REF/check_logits.py" --hf final-hf --tokens check.npy --logits final.npy --tol 1e-5

$PY - <<'PYEOF'
import json
def shape(d):
    c = json.load(open(d + "/config.json"))
    return c["num_hidden_layers"], c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"], c["intermediate_size"]
rows = [("source (pre-trained)", "eval-source.json"), ("pruned", "eval-pruned.json"),
        ("pruned + continued", "eval-continued.json")]
evals = [(name, json.load(open(f))) for name, f in rows]
domains = sorted(evals[0][1])
print("\nheld-out loss per domain")
print("%-22s" % "model" + "".join("%10s" % d for d in domains) + "%10s" % "mean")
for name, e in evals:
    print("%-22s" % name + "".join("%10.4f" % e[d] for d in domains) + "%10.4f" % (sum(e.values()) / len(e)))
print("\nfinal model (final-hf/config.json): layers %d, heads %d, kv-heads %d, hidden %d, intermediate %d" % shape("final-hf"))
PYEOF
echo
echo "demo outputs are in $OUT"
