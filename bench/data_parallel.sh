#!/usr/bin/env bash
# Data parallelism on CPU ranks (not a test): the bench/train_step.sh model
# (~14M parameters, batch 8 x 256 tokens) trained by one process with 2
# threads, by 2 MPI ranks with 1 thread each (4 sequences per rank), and by
# 2 ranks with the optimizer sharded. Prints per configuration the median
# tokens/s, the share of the step spent averaging gradients, the all-reduce
# bus bandwidth (2(N-1)/N x bytes / time, as nccl-tests define it), and
# each rank's peak RSS. The averaging time includes waiting for the slower
# rank, so the bandwidth is a lower bound. docs/benchmarks.md records the results.
#   bench/data_parallel.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$ROOT/build}/bin" && pwd)
WORK=${BENCH_DIR:-/tmp/shear-bench-dp}
STEPS=${STEPS:-12}
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE || true
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
  OMPI_MCA_btl_vader_single_copy_mechanism=none
PY=/usr/bin/python3
$PY "$ROOT/test/reference/make_tiny_hf.py" --out hf --layers 6 --hidden 384 --heads 6 \
    --intermediate 1024 --vocab 4096 > /dev/null
$PY -c "import numpy as np; np.save('tokens.npy', np.random.default_rng(0).integers(0, 4096, 400000))"
"$BIN/shear-translate" --import-hf hf -o model.mlir
"$BIN/shear-data" pack --seq 256 --eval-seqs 1 -o data web=tokens.npy > /dev/null
"$BIN/shear-run" compile model.mlir --mode train -o train.json --steps "$STEPS" > /dev/null
common=(train train.json --data data --steps "$STEPS" --batch 8 --eval-every 0 --dbl off --log-every 0)
/usr/bin/time -f "%M" -o one.rss "$BIN/shear-run" "${common[@]}" --out one --threads 2
mpirun --oversubscribe -np 2 /usr/bin/time -f "%M" -a -o two.rss "$BIN/shear-run" "${common[@]}" \
    --out two --threads 1 | tee two.log | grep gradients
mpirun --oversubscribe -np 2 /usr/bin/time -f "%M" -a -o zero.rss "$BIN/shear-run" "${common[@]}" \
    --out zero --threads 1 --shard-optimizer | tee zero.log | grep -E "gradients|optimizer sharded"
$PY - <<'PYEOF'
import json, statistics
def run(name):
    return [json.loads(l) for l in open(f"{name}/metrics.jsonl")][2:]   # skip warm-up steps
import re
def gradient_bytes(name):
    m = re.search(r"gradients: ([0-9.]+) (KiB|MiB|GiB)", open(f"{name}.log").read())
    return float(m.group(1)) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[m.group(2)]
for name, label in [("one", "1 process, 2 threads"), ("two", "2 ranks x 1 thread"),
                    ("zero", "2 ranks x 1 thread, --shard-optimizer")]:
    r = run(name)
    tok = statistics.median(x["tokens_per_s"] for x in r)
    rss = [int(l) / 1024 for l in open(f"{name}.rss").read().split()]
    line = f"{label:40s} {tok:8.0f} tokens/s   peak RSS " + ", ".join(f"{m:.0f}" for m in rss) + " MiB"
    if "allreduce_s" in r[0]:
        step = statistics.median(1 / x["tokens_per_s"] * 8 * 256 for x in r)
        comm = statistics.median(x["allreduce_s"] for x in r)
        bus = 2 * (2 - 1) / 2 * gradient_bytes(name) / comm
        line += (f"   averaging {comm * 1e3:.0f} ms of a {step * 1e3:.0f} ms step ({comm / step:.0%};"
                 f" effective bus bandwidth {bus / 1e9:.2f} GB/s)")
    print(line)
PYEOF
