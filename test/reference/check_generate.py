#!/usr/bin/python3
"""check_generate.py PROMPT_IDS GENERATED_IDS LOGITS.npy: greedy generation
with the KV cache picked, at every step, the argmax of the full-sequence
logits (shear-run eval on prompt + generated) at the previous position."""
import sys

import numpy as np

prompt = [int(x) for x in sys.argv[1].split(",")]
generated = [int(x) for x in sys.argv[2].split()]
logits = np.load(sys.argv[3])[0]
ok = True
for i, tok in enumerate(generated):
    at = len(prompt) + i - 1
    best = int(np.argmax(logits[at]))
    if best != tok:
        top = np.sort(logits[at])[-2:]
        print(f"step {i}: generated {tok}, argmax {best} (top logits {top})")
        ok = False
print(f"{len(generated)} generated tokens {'match' if ok else 'DIFFER from'} the argmax of eval logits")
sys.exit(0 if ok else 1)
