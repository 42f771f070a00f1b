#!/usr/bin/python3
"""check_run.py RUN_DIR [--sparsity-tol 0.01] [--dbl paper|code]

Reads RUN_DIR/metrics.jsonl and run.json written by shear-run prune/train:
  --sparsity-tol: the last step's expected sparsity of every family is within
                  the tolerance of its (final) target;
  --dbl MODE:     every domain-weight update at an evaluation step equals the
                  METHOD.md §4 formula applied to the previous weights, the
                  logged eval losses and the reference losses of run.json."""
import argparse
import json
import math
import sys

p = argparse.ArgumentParser()
p.add_argument("run")
p.add_argument("--sparsity-tol", type=float)
p.add_argument("--dbl", choices=["paper", "code"])
a = p.parse_args()
records = [json.loads(line) for line in open(f"{a.run}/metrics.jsonl")]
run = json.load(open(f"{a.run}/run.json"))
ok = True
print(f"{len(records)} records, steps {records[0]['step']}..{records[-1]['step']}")

for field in ["step", "loss", "lm_loss", "tokens_per_s", "mfu", "domain_weights"]:
    if any(field not in r for r in records):
        print(f"a record lacks '{field}'")
        ok = False

if a.sparsity_tol is not None:
    last = records[-1]
    for fam, e in sorted(last["expected_sparsity"].items()):
        t = last["target_sparsity"][fam]
        good = abs(e - t) <= a.sparsity_tol
        print(f"{fam:13s} expected sparsity {e:.4f}, target {t:.4f}: {'ok' if good else 'OFF'}")
        ok &= good

if a.dbl:
    ref = run["ref_loss"]
    domains = sorted(ref)
    prev = run["initial_weights"]
    updates = 0
    for r in records:
        w = r["domain_weights"]
        if "eval_loss" in r:
            loss = r["eval_loss"]
            if a.dbl == "paper":
                raw = {d: prev[d] * math.exp(max(loss[d] - ref[d], 0.0)) for d in domains}
                s = sum(raw.values())
                want = {d: raw[d] / s for d in domains}
            else:
                raw = {d: prev[d] * math.exp(loss[d] - ref[d]) for d in domains}
                s = sum(raw.values())
                c = 1e-4
                mixed = {d: (1 - c) * raw[d] / s + c / len(domains) for d in domains}
                s = sum(mixed.values())
                want = {d: mixed[d] / s for d in domains}
            err = max(abs(w[d] - want[d]) for d in domains)
            changed = max(abs(w[d] - prev[d]) for d in domains)
            print(f"step {r['step']}: weights {[round(w[d], 5) for d in domains]}, "
                  f"formula error {err:.1e}, change {changed:.1e}")
            ok &= err <= 1e-9
            updates += 1
        else:
            if any(abs(w[d] - prev[d]) > 0 for d in domains):
                print(f"step {r['step']}: weights changed without an evaluation")
                ok = False
        prev = w
    if updates == 0:
        print("no evaluation steps")
        ok = False
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
