#!/usr/bin/python3
"""check_profile.py PROGRAM PROFILE RUNS: the profile's calls per kernel equal
the program's train_step instructions of that kernel times RUNS (a single
process: its all_reduce instructions, the mean over one rank, are not run)."""
import collections
import json
import sys

program, profile, runs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
body = next(f for f in program["functions"] if f["name"] == "train_step")["body"]
want = collections.Counter(i["kernel"] for i in body if "kernel" in i and i["kernel"] != "all_reduce")
got = {k["kernel"]: k["calls"] for k in profile["kernels"]}
assert profile["runs"] == runs, profile["runs"]
bad = {k: (got.get(k), n * runs) for k, n in want.items() if got.get(k) != n * runs}
bad.update({k: (c, 0) for k, c in got.items() if k not in want})
if bad:
    sys.exit(f"counts differ (profile, program x runs): {bad}")
print(f"{len(want)} kernels, {sum(got.values())} calls: every count is the program's instructions x {runs}")
total = sum(k["seconds"] for k in profile["kernels"])
assert 0 < total <= profile["run_seconds"], (total, profile["run_seconds"])
print("the kernels' time is within the runs' time")
