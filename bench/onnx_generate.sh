#!/usr/bin/env bash
# Greedy generation through onnxruntime (CPU, npm onnxruntime-node) with and
# without the KV cache (not a test): the bench/train_step.sh model shape
# (~14M parameters; 6 layers, hidden 384, 6 heads, vocab 4096), exported
# both ways, 256 new tokens after a 16-token prompt. Prints the tokens/s of
# each and checks that both generated the same tokens. docs/benchmarks.md
# records the results.
#   bench/onnx_generate.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$ROOT/build}/bin" && pwd)
WORK=${BENCH_DIR:-/tmp/shear-bench-onnx}
NEW=${NEW:-256}
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
/usr/bin/python3 "$ROOT/test/reference/make_tiny_hf.py" --out hf --layers 6 --hidden 384 --heads 6 \
    --intermediate 1024 --vocab 4096 --max-positions 512 > /dev/null
"$BIN/shear-translate" --import-hf hf -o model.mlir
"$BIN/shear-translate" --export-onnx model.mlir -o kv.onnx
"$BIN/shear-translate" --export-onnx model.mlir -o nokv.onnx --no-kv-cache
PROMPT=11,523,87,1999,4000,17,256,3000,42,777,1234,9,65,2048,300,3333
GEN="$ROOT/test/onnx/generate_onnx.js"
node "$GEN" kv.onnx --prompt-ids $PROMPT --new "$NEW" > kv.ids 2> kv.log
node "$GEN" nokv.onnx --prompt-ids $PROMPT --new "$NEW" > nokv.ids 2> nokv.log
cmp -s kv.ids nokv.ids && echo "same $NEW tokens with and without the cache" || { echo "DIFFERENT tokens"; exit 1; }
kv=$(grep -o '[0-9.]* tokens/s' kv.log | grep -o '^[0-9.]*')
nokv=$(grep -o '[0-9.]* tokens/s' nokv.log | grep -o '^[0-9.]*')
echo "KV cache:  $kv tokens/s"
echo "no cache:  $nokv tokens/s"
/usr/bin/python3 -c "print(f'speed-up: {$kv / $nokv:.1f}x')"
