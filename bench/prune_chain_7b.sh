#!/usr/bin/env bash
# Scale benchmark (not a test): the whole pass chain on a LLaMA2-7B-shaped bf16
# checkpoint to the paper's 2.7b target. Prints wall time and peak RSS of each
# step as a Markdown table (docs/benchmarks.md records the measured numbers).
#   bench/prune_chain_7b.sh [BUILD_DIR]      (work dir: $BENCH_DIR, default /tmp/shear-bench-7b)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$ROOT/build}/bin" && pwd)
WORK=${BENCH_DIR:-/tmp/shear-bench-7b}
mkdir -p "$WORK" && cd "$WORK"
if [ ! -f src/config.json ]; then
  echo "writing the 7B-shaped source checkpoint (13.5 GB) ..."
  /usr/bin/python3 "$ROOT/bench/make_llama.py" src --preset 7b
fi
rm -rf masked compact compact-hf && mkdir -p masked compact
rows=()
measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -v -o time.txt "$@" > /dev/null
  local wall rss
  wall=$(grep "Elapsed (wall clock)" time.txt | awk '{print $NF}')
  rss=$(grep "Maximum resident set size" time.txt | awk '{printf "%.0f", $NF/1024}')
  rows+=("| $name | $wall | $rss |")
  echo "$name: wall $wall, peak RSS $rss MiB"
}
measure "import-hf" "$BIN/shear-translate" --import-hf src -o model.mlir
measure "insert-masks --target-shape=2.7b" "$BIN/shear-opt" model.mlir --insert-masks --target-shape=2.7b -o masked/masked.mlir
/usr/bin/python3 "$ROOT/test/reference/randomize_gates.py" masked/masked.gates.safetensors --seed 1
measure "finalize-masks + materialize-shapes" "$BIN/shear-opt" masked/masked.mlir --finalize-masks --materialize-shapes -o compact/compact.mlir
measure "export-hf" "$BIN/shear-translate" --export-hf compact/compact.mlir -o compact-hf
echo
echo "| step | wall (m:ss) | peak RSS (MiB) |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
grep -E '"(num_hidden_layers|num_attention_heads|hidden_size|intermediate_size)"' compact-hf/config.json
du -sh src compact-hf
