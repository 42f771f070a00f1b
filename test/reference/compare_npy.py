#!/usr/bin/python3
"""compare_npy.py A.npy B.npy --tol T: max |A - B| / max |B| <= T."""
import argparse
import sys

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("a")
p.add_argument("b")
p.add_argument("--tol", type=float, required=True)
args = p.parse_args()
a, b = np.load(args.a).astype(np.float64), np.load(args.b).astype(np.float64)
if a.shape != b.shape:
    print(f"shapes differ: {a.shape} vs {b.shape}")
    sys.exit(1)
err = np.abs(a - b).max() / np.abs(b).max()
print(f"relative error {err:.3e} (tolerance {args.tol:.0e})")
sys.exit(0 if err <= args.tol else 1)
