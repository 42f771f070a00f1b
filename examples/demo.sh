#!/usr/bin/env bash
# The embedded-default demo (`make demo`): what shear does today, end to end,
# on a small LLaMA-3-style model (grouped-query attention, bf16) that it
# writes itself:
#   HF checkpoint -> shear module -> masked module (gates for a target shape)
#   -> final masks -> compact model of exactly the target shape -> HF export,
# then an independent float64 PyTorch reference confirms that the exported
# compact model computes the same logits as the masked source model.
# Learning the gates (shear-run prune) arrives with the training engine; here
# the gate parameters are drawn at random so the masks make real choices.
set -euo pipefail
BUILD=${1:-build}
BIN=$(cd "$BUILD/bin" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${DEMO_OUT:-$ROOT/$BUILD/demo}
PY=/usr/bin/python3
rm -rf "$OUT" && mkdir -p "$OUT/masked" "$OUT/compact"
cd "$OUT"

step() { printf '\n== %s\n' "$*"; }

step "1. a source model: 4 layers, hidden 256, 8 heads in 4 kv groups, intermediate 688, bf16, llama3 RoPE"
$PY "$ROOT/test/reference/make_tiny_hf.py" --out source --layers 4 --hidden 256 --heads 8 \
    --kv-heads 4 --intermediate 688 --vocab 1000 --dtype BF16 --rope llama3 --shards 2
ls -l source

step "2. import: shear-translate --import-hf source -o model.mlir"
"$BIN/shear-translate" --import-hf source -o model.mlir
echo "model.mlir: $(wc -c < model.mlir) bytes of IR; the weights stay in source/"

TARGET="layers=3,heads=4,kv-heads=2,hidden=128,intermediate=344"
step "3. insert masks for the target $TARGET"
"$BIN/shear-opt" model.mlir --insert-masks --target-shape=$TARGET -o masked/masked.mlir
"$BIN/shear-translate" --inspect masked/masked.gates.safetensors

step "4. stand-in for pruning: random gate parameters"
$PY "$ROOT/test/reference/randomize_gates.py" masked/masked.gates.safetensors --seed 42

step "5. finalize the masks and materialize the compact model"
"$BIN/shear-opt" masked/masked.mlir --finalize-masks --materialize-shapes -o compact/compact.mlir
"$BIN/shear-translate" --inspect compact/compact.masks.safetensors

step "6. export the compact model to HF"
"$BIN/shear-translate" --export-hf compact/compact.mlir -o compact-hf
cat compact-hf/config.json

step "7. check with an independent float64 PyTorch reference"
$PY "$ROOT/test/reference/check_materialize.py" --source source \
    --masks compact/compact.masks.safetensors --compact compact-hf \
    --expect-shape 3,4,2,128,344 --fold-tol 1e-4 --tol 2e-2

$PY - source compact-hf <<'PYEOF'
import json, sys
def params(d):
    c = json.load(open(d + "/config.json"))
    D, M, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    hd = c.get("head_dim") or D // c["num_attention_heads"]
    H, G = c["num_attention_heads"], c["num_key_value_heads"]
    per_layer = D * H * hd * 2 + 2 * D * G * hd + 3 * D * M + 2 * D
    return (1 if c["tie_word_embeddings"] else 2) * V * D + L * per_layer + D, c
print("\n%-8s %7s %6s %9s %7s %13s %10s" % ("model", "layers", "heads", "kv-heads", "hidden", "intermediate", "params"))
for name, d in (("source", sys.argv[1]), ("compact", sys.argv[2])):
    n, c = params(d)
    print("%-8s %7d %6d %9d %7d %13d %10d" % (name, c["num_hidden_layers"], c["num_attention_heads"],
          c["num_key_value_heads"], c["hidden_size"], c["intermediate_size"], n))
PYEOF
echo
echo "demo outputs are in $OUT"
