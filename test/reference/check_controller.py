#!/usr/bin/python3
"""check_controller.py PAPER_RUN PI_RUN: from two prune runs' metrics.jsonl,
recomputes per family the largest expected sparsity above the target and the
final distance |expected - target| (independently of the runs' own
summaries), checks that the runs' recorded sparsity_overshoot agrees, and
prints both controllers side by side."""
import json
import os
import sys


def stats(run):
    rs = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
    fams = sorted(rs[0]["expected_sparsity"])
    over = {f: max(0.0, max(r["expected_sparsity"][f] - r["target_sparsity"][f] for r in rs)) for f in fams}
    final = {f: abs(rs[-1]["expected_sparsity"][f] - rs[-1]["target_sparsity"][f]) for f in fams}
    for f in fams:
        if abs(rs[-1]["sparsity_overshoot"][f] - over[f]) > 1e-6:
            sys.exit(f"{run}: recorded overshoot of {f} {rs[-1]['sparsity_overshoot'][f]} != {over[f]}")
    return fams, over, final


fams, po, pf = stats(sys.argv[1])
_, io, iff = stats(sys.argv[2])
for f in fams:
    print(f"{f}: overshoot paper {po[f]:.3f} pi {io[f]:.3f}; final distance paper {pf[f]:.3f} pi {iff[f]:.3f}")
print("pi overshoots less in every family:", all(io[f] < po[f] for f in fams))
print("pi ends within 0.03 of every target:", all(iff[f] <= 0.03 for f in fams))
