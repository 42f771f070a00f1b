#!/usr/bin/python3
"""Overwrites every gate parameter in a gates file with N(0, scale²) values,
so finalization must make real choices (the init is ~5 everywhere)."""
import argparse

import numpy as np

import safetensors_np

p = argparse.ArgumentParser()
p.add_argument("path")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--scale", type=float, default=3.0)
a = p.parse_args()
rng = np.random.default_rng(a.seed)
gates = safetensors_np.read(a.path)
safetensors_np.write(a.path, {k: (rng.standard_normal(v.shape) * a.scale).astype(np.float32)
                              for k, (dt, v) in gates.items()})
