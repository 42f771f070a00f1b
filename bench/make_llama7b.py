#!/usr/bin/python3
"""Writes a LLaMA2-7B-shaped HF checkpoint (32 layers, hidden 4096, 32 heads,
intermediate 11008, vocab 32000, bf16, two shards as HF publishes it) with
random weights, streaming one tensor at a time (13.5 GB on disk, ~200 MB in
memory)."""
import json
import os
import struct
import sys

import numpy as np

out = sys.argv[1]
L, D, M, V = 32, 4096, 11008, 32000
os.makedirs(out, exist_ok=True)
names = [("model.embed_tokens.weight", (V, D))]
for l in range(L):
    p = f"model.layers.{l}."
    names += [(p + "input_layernorm.weight", (D,)), (p + "self_attn.q_proj.weight", (D, D)),
              (p + "self_attn.k_proj.weight", (D, D)), (p + "self_attn.v_proj.weight", (D, D)),
              (p + "self_attn.o_proj.weight", (D, D)), (p + "post_attention_layernorm.weight", (D,)),
              (p + "mlp.gate_proj.weight", (M, D)), (p + "mlp.up_proj.weight", (M, D)),
              (p + "mlp.down_proj.weight", (D, M))]
names += [("model.norm.weight", (D,)), ("lm_head.weight", (V, D))]
half = len(names) // 2
shards = [names[:half], names[half:]]
rng = np.random.default_rng(0)
weight_map = {}
for i, shard in enumerate(shards):
    fname = f"model-{i + 1:05d}-of-00002.safetensors"
    header, offset = {}, 0
    for n, shape in shard:
        size = int(np.prod(shape)) * 2
        header[n] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
        weight_map[n] = fname
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(out, fname), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for n, shape in shard:
            a = rng.standard_normal(shape, dtype=np.float32) * (1.0 if n.endswith("norm.weight") else 0.02)
            if n.endswith("norm.weight"):
                a = 1.0 + 0.1 * a
            f.write((a.view(np.uint32) >> 16).astype(np.uint16).tobytes())
    print(f"wrote {fname} ({os.path.getsize(os.path.join(out, fname)) / 1e9:.2f} GB)", flush=True)
json.dump({"metadata": {"total_size": sum(int(np.prod(s)) * 2 for _, s in names)},
           "weight_map": weight_map}, open(os.path.join(out, "model.safetensors.index.json"), "w"))
json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": D,
           "intermediate_size": M, "num_hidden_layers": L, "num_attention_heads": 32,
           "num_key_value_heads": 32, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": V,
           "tie_word_embeddings": False, "max_position_embeddings": 4096, "hidden_act": "silu",
           "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16", "rope_scaling": None},
          open(os.path.join(out, "config.json"), "w"), indent=2)
