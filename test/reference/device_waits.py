#!/usr/bin/python3
"""device_waits.py SHORT.err LONG.err STEPS: how often a training run's host
waits for the device per step, from the CUDA emulation's statistics
(SHEAR_CUDA_EMULATION_STATS=1: the waits that found work queued) of two runs
that differ only in their number of steps (LONG takes STEPS more)."""
import re
import sys


def waits(path):
    m = re.search(r'(\d+) waits for the device', open(path).read())
    if not m:
        sys.exit(f"{path}: no emulation statistics")
    return int(m.group(1))


per_step = (waits(sys.argv[2]) - waits(sys.argv[1])) / int(sys.argv[3])
print(f"per step: {per_step:g} wait{'' if per_step == 1 else 's'} for the device")
