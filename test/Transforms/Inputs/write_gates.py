#!/usr/bin/python3
"""write_gates.py PATH: gate parameters for the tiny GQA model (2 layers,
4 heads in 2 kv groups, intermediate 12, hidden 8) with hand-picked values,
so finalize-masks.mlir can check masks computed by hand."""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/reference")
import safetensors_np  # noqa: E402

safetensors_np.write(sys.argv[1], {
    "shear.gate.layer": np.array([0.5, -0.3]),
    "shear.gate.head": np.array([[1.0, 3.0, 2.0, 0.0],
                                 [0.0, 0.0, 5.0, 5.0]]),
    "shear.gate.kv_group": np.array([[0.2, 0.1],
                                     [1.0, 1.0]]),
    "shear.gate.intermediate": np.array([np.arange(12) * 0.1,
                                         np.arange(12)[::-1] * -0.5]),
    "shear.gate.hidden": np.array([0.1, 0.9, -2.0, 7.0, 0.9, 3.0, -1.0, 0.0]),
})
