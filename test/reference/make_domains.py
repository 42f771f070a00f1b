#!/usr/bin/python3
"""make_domains.py OUT_DIR --vocab V [--tokens N] [--seed S]: three token
streams of clearly different statistics (uniform over a small range; a
repeating ramp with noise; a skewed unigram), saved as OUT_DIR/<name>.npy."""
import argparse
import os

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--vocab", type=int, required=True)
p.add_argument("--tokens", type=int, default=5000)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
r = np.random.default_rng(a.seed)
V, n = a.vocab, a.tokens
os.makedirs(a.out, exist_ok=True)
np.save(os.path.join(a.out, "uniform.npy"), r.integers(0, V // 3, n))
np.save(os.path.join(a.out, "ramp.npy"), (np.arange(n) % (V - 3) + r.integers(0, 3, n)).clip(0, V - 1))
skew = np.r_[np.full(10, 0.7 / 10), np.full(V - 10, 0.3 / (V - 10))]
np.save(os.path.join(a.out, "skewed.npy"), r.choice(V, n, p=skew))
