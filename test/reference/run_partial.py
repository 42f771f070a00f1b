#!/usr/bin/python3
"""run_partial.py MODEL.mlir DATA_DIR SPEC WORK: the chain for one target:
insert-masks --target-shape=SPEC, a short prune, finalize + materialize,
export; prints which gates were inserted, the families the run logged, the
compact model's shape from its config.json, and whether the masked model
(final masks) and the compact model give the same logits (1e-5)."""
import json
import os

import numpy as np
import subprocess
import sys

import safetensors_np

model, data, spec, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
run = lambda *args: subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
run("shear-opt", model, "--insert-masks", f"--target-shape={spec}", "-o", f"{work}/masked.mlir")
gates = sorted(n.split(".")[-1] for n in safetensors_np.read(f"{work}/masked.gates.safetensors"))
run("shear-run", "prune", f"{work}/masked.mlir", "--data", data, "--out", f"{work}/run",
    "--steps", "20", "--batch", "4", "--eval-every", "10", "--log-every", "0")
last = [json.loads(l) for l in open(f"{work}/run/metrics.jsonl")][-1]
run("shear-opt", f"{work}/run/final/model.mlir", "--finalize-masks", "--materialize-shapes",
    "-o", f"{work}/compact/compact.mlir")
run("shear-translate", "--export-hf", f"{work}/compact/compact.mlir", "-o", f"{work}/hf")
run("shear-opt", f"{work}/run/final/model.mlir", "--finalize-masks", "-o", f"{work}/final/final.mlir")
np.save(f"{work}/tok.npy", np.random.default_rng(0).integers(0, 40, (2, 12)))
for m in ("final/final", "compact/compact"):
    run("shear-run", "eval", f"{work}/{m}.mlir", "--tokens", f"{work}/tok.npy", "--logits-out", f"{work}/{m}.npy")
a, b = (np.load(f"{work}/{m}.npy").astype(np.float64) for m in ("final/final", "compact/compact"))
err = np.abs(a - b).max() / np.abs(b).max()
c = json.load(open(f"{work}/hf/config.json"))
print(f"{spec}: gates {','.join(gates)}; logged {','.join(sorted(last['expected_sparsity']))}; "
      f"compact layers={c['num_hidden_layers']},heads={c['num_attention_heads']},"
      f"kv-heads={c['num_key_value_heads']},hidden={c['hidden_size']},"
      f"intermediate={c['intermediate_size']},head_dim={c['head_dim']}; "
      f"masked = compact {'OK' if err <= 1e-5 else f'FAILED ({err:.1e})'}")
