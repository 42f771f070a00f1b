#!/usr/bin/python3
"""poison.py FILE.safetensors NAME [nan|inf]: sets one element of a tensor to
NaN or infinity (float32 tensors), rewriting the file."""
import sys

import numpy as np

import safetensors_np

path, name = sys.argv[1], sys.argv[2]
what = sys.argv[3] if len(sys.argv) > 3 else "nan"
tensors = safetensors_np.read(path)
out = {k: v for k, (dt, v) in tensors.items()}
a = out[name].astype(np.float32).copy()
a.flat[min(3, a.size - 1)] = np.nan if what == "nan" else np.inf
out[name] = a
safetensors_np.write(path, out)
