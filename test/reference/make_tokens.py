#!/usr/bin/python3
"""make_tokens.py OUT.npy --vocab V --shape B,T [--seed S] [--dtype int64]"""
import argparse

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--vocab", type=int, required=True)
p.add_argument("--shape", default="2,9")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--dtype", default="int64")
a = p.parse_args()
shape = tuple(int(x) for x in a.shape.split(","))
np.save(a.out, np.random.default_rng(a.seed).integers(0, a.vocab, size=shape).astype(a.dtype))
