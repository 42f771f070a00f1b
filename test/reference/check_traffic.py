#!/usr/bin/python3
"""check_traffic.py PROGRAM SHORT.err LONG.err STEPS: the bytes a training
run copies between host and device memory per step, from the CUDA
emulation's statistics (SHEAR_CUDA_EMULATION_STATS=1) of two runs that differ
only in their number of steps (LONG takes STEPS more), in bytes per trained
parameter of PROGRAM (its float32 masters) and what is left over (the token
batch, the learning rates, the metrics); and how much of it went through
pageable host memory rather than the backend's page-locked staging buffers."""
import json
import math
import re
import sys

program = json.load(open(sys.argv[1]))
steps = int(sys.argv[4])
params = sum(math.prod(w['shape']) for w in program['weights']
             if not w['name'].startswith(('adam.', 'work:', 'grad:')) and not w.get('frozen')
             and w['dtype'] == 'F32')


def traffic(path):
    m = re.search(r'(\d+) bytes copied to the device, (\d+) to the host, (\d+) of them through pageable',
                  open(path).read())
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


short, long_ = traffic(sys.argv[2]), traffic(sys.argv[3])
for name, a, b in (('to the device', short[0], long_[0]), ('to the host', short[1], long_[1]),
                   ('through pageable host memory', short[2], long_[2])):
    per_step = (b - a) / steps
    whole = int(per_step // params)
    rest = per_step - whole * params
    print(f"per step {name}: {whole} bytes per parameter and "
          f"{'under 1 KiB' if 0 <= rest < 1024 else f'{rest:.0f} bytes'} more")
