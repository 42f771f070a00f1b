#!/usr/bin/env bash
# The causal attention core alone, shear against PyTorch's SDPA on the same
# GPU in one invocation (issue 9; not a test): sequences of 2k, 4k and 8k
# tokens (16k tokens a batch), head dims 64 and 128 (hidden 2048: 32 or 16
# heads; and GQA with 4 kv heads at 128), bf16, forward and backward.
# shear-run bench-attention first checks its kernel against its float32 core
# on the same inputs (and stops if they differ beyond 2e-2), then times it;
# bench/attention_sdpa.py times PyTorch. Prints one JSON line per run and a
# table; writes $OUT/attention.jsonl when OUT is set. docs/benchmarks.md
# records the results.
#   bench/attention_bench.sh [BUILD_DIR (default: build-gpu)]
#   SEQS="2048 4096 8192" DIMS="64 128" ITERS=10 TOKENS=16384 (a batch) TORCH=0 (skips PyTorch)
#   SHEAR_CUDA_PLUGIN=BUILD/lib/libshear-cuda-emulated.so SEQS=64 DIMS=16 TOKENS=128 TORCH=0: the script
#   checked on the CPU emulation (its timings mean nothing)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-gpu}
PY=${PYTHON:-python3}
SEQS=${SEQS:-2048 4096 8192}
DIMS=${DIMS:-64 128}
ITERS=${ITERS:-10}
"$ROOT/bench/gpu_build.sh" "$BUILD" || exit 1
RUN=$BUILD/bin/shear-run
RESULTS=${OUT:+$OUT/attention.jsonl}
LINES=$(mktemp)
emit() { echo "$1"; echo "$1" >> "$LINES"; [ -n "$RESULTS" ] && echo "$1" >> "$RESULTS"; }
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for T in $SEQS; do
  B=$((${TOKENS:-16384} / T)); [ "$B" -lt 1 ] && B=1
  for D in $DIMS; do
    H=$((2048 / D))
    shapes="$H"
    [ "$D" = 128 ] && shapes="$H $H:4"
    for s in $shapes; do
      G=${s#*:}; H=${s%%:*}; [ "$G" = "$s" ] && G=$H
      args="--batch $B --seq $T --heads $H --kv-heads $G --head-dim $D --iters $ITERS"
      if out=$("$RUN" bench-attention --device cuda $args 2>&1); then emit "$out"
      else echo "shear failed ($args): $out"; fi
      if [ "${TORCH:-1}" != 0 ]; then
        if out=$($PY "$ROOT/bench/attention_sdpa.py" $args 2>&1 | tail -1); then emit "$out"
        else echo "pytorch failed ($args): $out"; fi
      fi
    done
  done
done
$PY - "$LINES" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| impl | B x T | heads (kv) | hd | forward ms | fwd TFLOP/s | backward ms | bwd TFLOP/s |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    impl = r.get("impl") or "shear (" + r["kernel"].split(" (")[0] + ")"
    print(f"| {impl} | {r['batch']} x {r['seq']} | {r['heads']} ({r['kv_heads']}) | {r['head_dim']} | "
          f"{r['forward_ms']:.3f} | {r['forward_tflops']:.1f} | {r['backward_ms']:.3f} | {r['backward_tflops']:.1f} |")
PY
