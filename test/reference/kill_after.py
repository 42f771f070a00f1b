#!/usr/bin/python3
"""kill_after.py PATH CMD...: runs CMD, and the moment PATH exists (PATH may
be a glob pattern) kills it with SIGKILL (an abrupt interruption, as a crash
or a preempted job would be). Fails if CMD finished before it could be
killed."""
import glob
import os
import signal
import subprocess
import sys
import time

path, cmd = sys.argv[1], sys.argv[2:]
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
while proc.poll() is None:
    if glob.glob(path):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        print(f"killed {cmd[0]} once {path} existed")
        sys.exit(0)
    time.sleep(0.005)
print(f"{cmd[0]} finished (exit {proc.returncode}) before {path} appeared", file=sys.stderr)
sys.exit(1)
