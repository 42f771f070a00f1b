#!/usr/bin/python3
"""compare_runs.py RUN_A RUN_B: two runs computed the same thing: identical
metrics.jsonl records (timings aside) and bit-identical final/ tensors."""
import json
import os
import sys

import safetensors_np

TIMING = {"tokens_per_s", "mfu", "allreduce_s"}  # seconds, not results


def records(run):
    out = []
    for line in open(os.path.join(run, "metrics.jsonl")):
        r = json.loads(line)
        out.append({k: v for k, v in r.items() if k not in TIMING})
    return out


a, b = sys.argv[1], sys.argv[2]
ra, rb = records(a), records(b)
ok = True
if [r["step"] for r in ra] != [r["step"] for r in rb]:
    print(f"different steps logged: {len(ra)} vs {len(rb)}")
    ok = False
for x, y in zip(ra, rb):
    if x != y:
        print(f"step {x['step']} differs:\n  {x}\n  {y}")
        ok = False
        break
files = sorted(f for f in os.listdir(os.path.join(a, "final")) if f.endswith(".safetensors"))
for f in files:
    ta = safetensors_np.read(os.path.join(a, "final", f))
    tb = safetensors_np.read(os.path.join(b, "final", f))
    same = ta.keys() == tb.keys() and all(
        ta[k][0] == tb[k][0] and (ta[k][1] == tb[k][1]).all() for k in ta)
    print(f"final/{f}: {len(ta)} tensors {'identical' if same else 'DIFFER'}")
    ok &= same
print(f"{len(ra)} steps compared: " + ("identical" if ok else "DIFFERENT"))
sys.exit(0 if ok else 1)
