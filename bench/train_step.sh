#!/usr/bin/env bash
# Training-step throughput (not a test): shear-run train and an equivalent
# PyTorch CPU step (bench/torch_llama_step.py: same shapes, fp32, AdamW, two
# threads) side by side on a ~14M-parameter LLaMA (6 layers, hidden 384,
# 6 heads, intermediate 1024, vocab 4096), batch 8 x 256 tokens.
# Prints the median tokens/s of each, shear's MFU against the measured
# sgemm peak, and the peak RSS of both processes (/usr/bin/time). docs/benchmarks.md records the results.
#   bench/train_step.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$ROOT/build}/bin" && pwd)
WORK=${BENCH_DIR:-/tmp/shear-bench-train}
STEPS=${STEPS:-12}
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
# The benchmark may use OpenBLAS's full speed (TOOLCHAIN.md); tests must not depend on it.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE || true
PY=/usr/bin/python3
$PY "$ROOT/test/reference/make_tiny_hf.py" --out hf --layers 6 --hidden 384 --heads 6 \
    --intermediate 1024 --vocab 4096 > /dev/null
$PY -c "import numpy as np; np.save('tokens.npy', np.random.default_rng(0).integers(0, 4096, 400000))"
"$BIN/shear-translate" --import-hf hf -o model.mlir
"$BIN/shear-data" pack --seq 256 --eval-seqs 1 -o data web=tokens.npy > /dev/null
/usr/bin/time -f "%M" -o shear.rss "$BIN/shear-run" train model.mlir --data data --out run \
    --steps "$STEPS" --batch 8 --eval-every 0 --dbl off --threads 2 --log-every "$STEPS" | tail -2
/usr/bin/time -f "%M" -o torch.rss $PY "$ROOT/bench/torch_llama_step.py" --steps "$STEPS" \
    --threads 2 > torch.jsonl
$PY - <<'PYEOF'
import json, statistics
shear = [json.loads(l) for l in open("run/metrics.jsonl")][2:]   # skip warm-up steps
torch = [json.loads(l) for l in open("torch.jsonl")][2:]
s = statistics.median(r["tokens_per_s"] for r in shear)
t = statistics.median(r["tokens_per_s"] for r in torch)
m = statistics.median(r["mfu"] for r in shear)
print(f"params: {torch[0]['params']:,}")
print(f"shear   {s:9.0f} tokens/s  (MFU {m:.1%} of the measured sgemm peak)")
print(f"PyTorch {t:9.0f} tokens/s")
print(f"ratio shear/PyTorch: {s / t:.2f}")
rss = lambda f: int(open(f).read().split()[-1]) / 1024
print(f"peak RSS: shear {rss('shear.rss'):.0f} MiB, PyTorch {rss('torch.rss'):.0f} MiB")
PYEOF
