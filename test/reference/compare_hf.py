#!/usr/bin/python3
"""compare_hf.py A B: two HF directories hold the same model: the same
architecture fields in config.json and bit-identical tensors (name, dtype,
shape, bytes), however they are sharded."""
import json
import os
import sys

import numpy as np

import safetensors_np

FIELDS = ["architectures", "hidden_size", "intermediate_size", "num_hidden_layers",
          "num_attention_heads", "num_key_value_heads", "rms_norm_eps", "rope_theta",
          "rope_scaling", "vocab_size", "tie_word_embeddings", "max_position_embeddings",
          "bos_token_id", "eos_token_id", "torch_dtype"]


def load(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    tensors = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".safetensors"):
            tensors.update(safetensors_np.read(os.path.join(d, f)))
    return cfg, tensors


def norm_rope(rs):
    if not rs:
        return None
    rs = dict(rs)
    rs["rope_type"] = rs.pop("type", rs.get("rope_type"))
    return rs


(ca, ta), (cb, tb) = load(sys.argv[1]), load(sys.argv[2])
ok = True
hd = lambda c: c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
for k in FIELDS:
    va, vb = ca.get(k), cb.get(k)
    if k == "rope_scaling":
        va, vb = norm_rope(va), norm_rope(vb)
    if k == "num_key_value_heads":
        va, vb = va or ca["num_attention_heads"], vb or cb["num_attention_heads"]
    if va != vb:
        print(f"config {k}: {va!r} != {vb!r}")
        ok = False
if hd(ca) != hd(cb):
    print(f"head_dim {hd(ca)} != {hd(cb)}")
    ok = False
if set(ta) != set(tb):
    print(f"tensor names differ: {sorted(set(ta) ^ set(tb))}")
    ok = False
for name in sorted(set(ta) & set(tb)):
    (da, a), (db, b) = ta[name], tb[name]
    if da != db or a.shape != b.shape or not np.array_equal(a, b):
        print(f"tensor {name}: {da} {a.shape} vs {db} {b.shape} differ")
        ok = False
print(f"{len(ta)} tensors compared: " + ("identical" if ok else "DIFFERENT"))
sys.exit(0 if ok else 1)
