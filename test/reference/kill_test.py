#!/usr/bin/python3
"""kill_test.py --runs A B --kills K --seed S -- COMMAND...: runs COMMAND --out A
to completion, then COMMAND --out B --resume again and again, killing it after
a random delay with SIGKILL or SIGTERM, until B finishes (after K kills it
runs undisturbed). After every interruption each committed checkpoint of B
must be complete (state.json, model.mlir, every safetensors file readable).
Prints the interruptions, then compares A and B like compare_runs.py."""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time

import safetensors_np

p = argparse.ArgumentParser()
p.add_argument("--runs", nargs=2, required=True)
p.add_argument("--kills", type=int, default=10)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--max-delay", type=float, default=1.5)
p.add_argument("command", nargs=argparse.REMAINDER)
a = p.parse_args()
cmd = [c for c in a.command if c != "--"]
run_a, run_b = a.runs
rng = random.Random(a.seed)
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

subprocess.run(cmd + ["--out", run_a], check=True, **quiet)


def check_checkpoints(run):
    for name in sorted(os.listdir(run)):
        if not (name.startswith("ckpt-") or name == "final"):
            continue
        d = os.path.join(run, name)
        state = json.load(open(os.path.join(d, "state.json")))
        assert name == "final" or state["step"] == int(name[5:]), (d, state["step"])
        assert os.path.getsize(os.path.join(d, "model.mlir")) > 0, d
        for f in os.listdir(d):
            if f.endswith(".safetensors"):
                safetensors_np.read(os.path.join(d, f))  # validates header and sizes


kills = {signal.SIGKILL: 0, signal.SIGTERM: 0}
codes = []
while True:
    proc = subprocess.Popen(cmd + ["--out", run_b, "--resume"], **quiet)
    if sum(kills.values()) < a.kills:
        time.sleep(rng.uniform(0.05, a.max_delay))
        sig = rng.choice([signal.SIGKILL, signal.SIGTERM])
        if proc.poll() is None:
            proc.send_signal(sig)
            kills[sig] += 1
    code = proc.wait()
    codes.append(code)
    if os.path.isdir(run_b):
        check_checkpoints(run_b)
    if os.path.exists(os.path.join(run_b, "final", "state.json")):
        break
    if len(codes) > a.kills + 3:
        print("FAILED: the run never finished; exit codes", codes)
        sys.exit(1)
print(f"{kills[signal.SIGKILL]} SIGKILL and {kills[signal.SIGTERM]} SIGTERM interruptions; "
      f"every committed checkpoint complete", flush=True)
sys.exit(subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "compare_runs.py"),
                         run_a, run_b]).returncode)
