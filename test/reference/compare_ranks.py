#!/usr/bin/python3
"""compare_ranks.py RUN_1 RUN_N [--rtol R]: a data-parallel run (RUN_N,
mpirun -np N) computed what the single-process run RUN_1 computed, up to the
order of floating-point sums (each rank averages its own rows, then the ranks
average their gradients): every logged number within a relative tolerance,
every tensor of final/ (the optimizer's moments merged from the ranks'
optimizer.rank*.safetensors) close, and the same tensors present."""
import argparse
import json
import os
import sys

import numpy as np

import safetensors_np

TIMING = {"tokens_per_s", "mfu", "allreduce_s"}

p = argparse.ArgumentParser()
p.add_argument("one")
p.add_argument("many")
p.add_argument("--rtol", type=float, default=1e-4)
args = p.parse_args()


def flatten(prefix, v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(f"{prefix}.{k}" if prefix else k, x, out)
    else:
        out[prefix] = v
    return out


def records(run):
    return [flatten("", {k: v for k, v in json.loads(l).items() if k not in TIMING}, {})
            for l in open(os.path.join(run, "metrics.jsonl"))]


def tensors(run):
    merged = {}
    final = os.path.join(run, "final")
    for f in sorted(os.listdir(final)):
        if f.endswith(".safetensors"):
            group = "optimizer" if f.startswith("optimizer") else f[:-len(".safetensors")]
            for name, (_, t) in safetensors_np.read(os.path.join(final, f)).items():
                assert (group, name) not in merged, f"{name} in two files"
                merged[(group, name)] = t
    return merged


ok = True
ra, rb = records(args.one), records(args.many)
if [r["step"] for r in ra] != [r["step"] for r in rb]:
    print(f"different steps logged: {len(ra)} vs {len(rb)}")
    ok = False
worst, where = 0.0, ""
for x, y in zip(ra, rb):
    if x.keys() != y.keys():
        print(f"step {x['step']}: fields differ: {sorted(x.keys() ^ y.keys())}")
        ok = False
        continue
    for k in x:
        if isinstance(x[k], (int, float)) and not isinstance(x[k], bool):
            d = abs(x[k] - y[k]) / max(1.0, abs(x[k]))
            if d > worst:
                worst, where = d, f"step {x['step']} {k}: {x[k]} vs {y[k]}"
        elif x[k] != y[k]:
            print(f"step {x['step']} {k}: {x[k]} vs {y[k]}")
            ok = False
print(f"{len(ra)} steps: largest relative difference {worst:.1e} "
      f"{'<' if worst < args.rtol else '>='} {args.rtol:g}" + ("" if worst < args.rtol else f" ({where})"))
ok &= worst < args.rtol

ta, tb = tensors(args.one), tensors(args.many)
if ta.keys() != tb.keys():
    print(f"final/ tensors differ: {sorted(ta.keys() ^ tb.keys())}")
    ok = False
groups = {}
for key in ta.keys() & tb.keys():
    a, b = ta[key].astype(np.float64), tb[key].astype(np.float64)
    if a.shape != b.shape:
        print(f"{key}: shape {a.shape} vs {b.shape}")
        ok = False
        continue
    d = float(np.abs(a - b).max() / max(1e-3, float(np.abs(a).max()))) if a.size else 0.0
    g = groups.setdefault(key[0], [0, 0.0])
    g[0] += 1
    g[1] = max(g[1], d)
for group, (n, d) in sorted(groups.items()):
    close = d < args.rtol * 10
    print(f"final/{group}: {n} tensors {'close' if close else 'DIFFER'} (largest difference "
          f"{d:.1e} of the largest value)")
    ok &= close
print("same run" if ok else "DIFFERENT RUNS")
sys.exit(0 if ok else 1)
