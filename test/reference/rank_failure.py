#!/usr/bin/python3
"""rank_failure.py {kill,stop,term} RANK RUN_DIR CMD...: runs a multi-rank
job (CMD: mpirun ... shear-run ...) and, once RUN_DIR holds a checkpoint
(ckpt-N), makes rank RANK fail: `kill` ends it with SIGKILL (a crashed node),
`stop` freezes it with SIGSTOP (a hung one). `term` instead sends SIGTERM to
the launcher itself once the run has logged a step (a user or a scheduler
stopping the job). Then checks that the whole job ends on its own, with a
non-zero exit code, within 120 s, and leaves no process of it behind.
Prints the job's exit code and its error lines."""
import os
import signal
import subprocess
import sys
import time

import psutil

how, victim, run_dir, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def has_checkpoint():
    return os.path.isdir(run_dir) and any(
        n.startswith("ckpt-") and os.path.exists(os.path.join(run_dir, n, "state.json"))
        for n in os.listdir(run_dir))



def rank_of(p):
    try:
        env = p.environ()
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return None
    r = env.get("OMPI_COMM_WORLD_RANK", env.get("PMI_RANK"))
    return int(r) if r is not None else None


target = None
deadline = time.time() + 120
metrics = os.path.join(run_dir, "metrics.jsonl")
while time.time() < deadline and job.poll() is None:
    if how == "term":
        if os.path.exists(metrics) and os.path.getsize(metrics) > 0:
            target = psutil.Process(job.pid)
            break
    elif has_checkpoint():
        ranks = [p for p in psutil.Process(job.pid).children(recursive=True)
                 if p.name().startswith("shear-run") and rank_of(p) == victim]
        if ranks:
            target = ranks[0]
            break
    time.sleep(0.01)
if target is None:
    job.kill()
    sys.exit(f"rank {victim} was not found running (job exit {job.poll()})")
everyone = [p for p in psutil.Process(job.pid).children(recursive=True)]
target.send_signal({"kill": signal.SIGKILL, "stop": signal.SIGSTOP, "term": signal.SIGTERM}[how])
start = time.time()
try:
    _, err = job.communicate(timeout=120)
except subprocess.TimeoutExpired:
    job.kill()
    sys.exit(f"the job did not end within 120 s of rank {victim} being {how}ed")
took = time.time() - start
time.sleep(0.5)
left = [p for p in everyone if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
for p in left:
    p.kill()
print(f"{'the launcher' if how == 'term' else f'rank {victim}'} {how}: the job ended with exit code {job.returncode} "
      f"({'within' if took < 60 else 'after'} 60 s)")
for line in err.splitlines():
    if "shear-run: error" in line:
        print(line)
if left:
    sys.exit(f"{len(left)} processes of the job were still running")
sys.exit(0 if job.returncode != 0 else 1)
