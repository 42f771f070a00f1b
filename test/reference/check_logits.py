#!/usr/bin/python3
"""check_logits.py --hf DIR --tokens T.npy --logits L.npy [--masks M] [--tol 1e-5]

Compares logits written by `shear-run eval` with the float64 reference
forward of the HF model (under the masks of a masks file, if given)."""
import argparse
import sys

import numpy as np
import torch

import llama_ref

p = argparse.ArgumentParser()
p.add_argument("--hf", required=True)
p.add_argument("--tokens", required=True)
p.add_argument("--logits", required=True)
p.add_argument("--masks")
p.add_argument("--tol", type=float, default=1e-5)
p.add_argument("--min-error", type=float, default=0.0,
               help="the error must be at least this (a bf16 run that rounded nothing would pass a bf16 tolerance)")
a = p.parse_args()
cfg, W, _ = llama_ref.load_hf(a.hf)
masks = llama_ref.load_masks(a.masks) if a.masks else None
ids = np.load(a.tokens)
ref = llama_ref.forward(cfg, W, ids, masks)
got = torch.tensor(np.load(a.logits).astype(np.float64))
if tuple(got.shape) != tuple(ref.shape):
    print(f"shape {tuple(got.shape)} != reference {tuple(ref.shape)}")
    sys.exit(1)
err = llama_ref.relative_error(got, ref)
print(f"logits vs float64 reference: relative error {err:.3e} (tolerance {a.tol:.0e})")
if err < a.min_error:
    print(f"relative error below {a.min_error:.0e}: not the expected precision")
sys.exit(0 if a.min_error <= err <= a.tol else 1)
