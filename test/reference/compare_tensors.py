#!/usr/bin/python3
"""compare_tensors.py A B --tol T: two .safetensors files (or two JSON files
of numbers) hold the same names and values within T: max |a - b| / max(|b|,
1e-3) per tensor (per number: |a - b| / max(|b|, 1))."""
import argparse
import json
import sys

import numpy as np

import safetensors_np

p = argparse.ArgumentParser()
p.add_argument("a")
p.add_argument("b")
p.add_argument("--tol", type=float, required=True)
args = p.parse_args()

if args.a.endswith(".json"):
    def flat(v, prefix="", out=None):
        out = {} if out is None else out
        if isinstance(v, dict):
            for k, x in v.items():
                flat(x, f"{prefix}.{k}" if prefix else k, out)
        else:
            out[prefix] = float(v)
        return out
    a, b = flat(json.load(open(args.a))), flat(json.load(open(args.b)))
    errs = {k: abs(a[k] - b[k]) / max(abs(b[k]), 1.0) for k in a.keys() & b.keys()}
else:
    ta, tb = safetensors_np.read(args.a), safetensors_np.read(args.b)
    a, b = ta, tb
    errs = {}
    for k in ta.keys() & tb.keys():
        x, y = ta[k][1].astype(np.float64), tb[k][1].astype(np.float64)
        if x.shape != y.shape:
            print(f"{k}: shape {x.shape} vs {y.shape}")
            sys.exit(1)
        errs[k] = float(np.abs(x - y).max() / max(float(np.abs(y).max()), 1e-3)) if y.size else 0.0
if a.keys() != b.keys():
    print(f"names differ: {sorted(set(a) ^ set(b))}")
    sys.exit(1)
worst = max(errs, key=errs.get)
print(f"{len(errs)} compared: largest relative difference {errs[worst]:.1e} ({worst}) "
      f"{'<=' if errs[worst] <= args.tol else '>'} {args.tol:g}")
sys.exit(0 if errs[worst] <= args.tol else 1)
