#!/usr/bin/env bash
# The paper's Lagrangian multipliers against --controller pi (not a test):
# a small GQA model (4 layers, hidden 64) pre-trained on three synthetic
# domains, pruned to 2 layers / half the heads, kv groups, hidden and
# intermediate in 100 steps (target warm-up 20%), for SEEDS seeds with each
# controller. Prints per family the largest overshoot of the expected
# sparsity above its target and the final distance, and the compact model's
# mean held-out loss; writes controller.png (head sparsity over the steps).
# docs/controller.md records the results.
#   bench/controller.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$ROOT/build}/bin" && pwd)
WORK=${BENCH_DIR:-/tmp/shear-bench-controller}
SEEDS=${SEEDS:-"1 2 3"}
R=$ROOT/test/reference
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
/usr/bin/python3 $R/make_domains.py tokens --vocab 61 --tokens 20000 > /dev/null
"$BIN/shear-data" pack --seq 32 --eval-seqs 8 -o data ramp=tokens/ramp.npy skewed=tokens/skewed.npy \
    uniform=tokens/uniform.npy > /dev/null
/usr/bin/python3 $R/make_tiny_hf.py --out hf --layers 4 --hidden 64 --heads 4 --kv-heads 2 \
    --intermediate 128 --vocab 61 > /dev/null
"$BIN/shear-translate" --import-hf hf -o model.mlir
"$BIN/shear-run" train model.mlir --data data --out pre --steps 150 --batch 8 --lr 3e-3 --eval-every 0 \
    --dbl off --log-every 0 > /dev/null
"$BIN/shear-opt" pre/final/model.mlir --insert-masks \
    --target-shape=layers=2,heads=2,kv-heads=1,hidden=32,intermediate=64 -o masked/masked.mlir
for seed in $SEEDS; do
  for c in paper pi; do
    "$BIN/shear-run" prune masked/masked.mlir --data data --out "$c-$seed" --steps 100 --batch 8 \
        --eval-every 50 --log-every 0 --seed "$seed" --recipe paper --controller "$c" > /dev/null
    "$BIN/shear-opt" "$c-$seed/final/model.mlir" --finalize-masks --materialize-shapes \
        -o "compact-$c-$seed/compact.mlir"
    "$BIN/shear-run" eval "compact-$c-$seed/compact.mlir" --data data > "eval-$c-$seed.json"
  done
done
/usr/bin/python3 - $SEEDS <<'PY'
import json, statistics, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
seeds = sys.argv[1:]
fams = ["layer", "head", "kv_group", "intermediate", "hidden"]
rows = {}
for c in ["paper", "pi"]:
    over, dist, loss = {f: [] for f in fams}, {f: [] for f in fams}, []
    for s in seeds:
        rs = [json.loads(l) for l in open(f"{c}-{s}/metrics.jsonl")]
        for f in fams:
            over[f].append(max(0.0, max(r["expected_sparsity"][f] - r["target_sparsity"][f] for r in rs)))
            dist[f].append(abs(rs[-1]["expected_sparsity"][f] - rs[-1]["target_sparsity"][f]))
        e = json.load(open(f"eval-{c}-{s}.json"))
        loss.append(sum(e.values()) / len(e))
    rows[c] = (over, dist, loss)
ms = lambda x: f"{statistics.mean(x):.3f} ± {statistics.stdev(x) if len(x) > 1 else 0:.3f}"
print("| controller | " + " | ".join(f"{f} overshoot" for f in fams) + " | " +
      " | ".join(f"{f} final" for f in fams) + " | compact held-out loss |")
print("|---|" + "---:|" * (2 * len(fams) + 1))
for c, (over, dist, loss) in rows.items():
    print(f"| {c} | " + " | ".join(ms(over[f]) for f in fams) + " | " +
          " | ".join(ms(dist[f]) for f in fams) + f" | {ms(loss)} |")
fig, ax = plt.subplots(figsize=(7, 4))
for c, style in [("paper", "-"), ("pi", "--")]:
    rs = [json.loads(l) for l in open(f"{c}-{seeds[0]}/metrics.jsonl")]
    ax.plot([r["step"] for r in rs], [r["expected_sparsity"]["head"] for r in rs], style, label=f"{c}: head")
    ax.plot([r["step"] for r in rs], [r["expected_sparsity"]["layer"] for r in rs], style, label=f"{c}: layer")
ax.plot([r["step"] for r in rs], [r["target_sparsity"]["head"] for r in rs], "k:", label="target (head)")
ax.plot([r["step"] for r in rs], [r["target_sparsity"]["layer"] for r in rs], "k-.", label="target (layer)")
ax.set_xlabel("step"); ax.set_ylabel("expected sparsity"); ax.legend(fontsize=8)
fig.tight_layout(); fig.savefig("controller.png", dpi=110)
print("plot: controller.png")
PY
