#!/usr/bin/env python3
"""make_llama.py OUT [--preset 7b|2.7b|1.3b|370m] [--layers L --hidden D --heads H
--kv-heads G --intermediate M --vocab V] [--fill random|zeros] [--shards N]

Writes a LLaMA-shaped HF checkpoint (config.json, bf16 safetensors shards
and their index), one tensor at a time (a few hundred MB of memory whatever
the size). --fill random: weights ~ N(0, 0.02), norms ~ 1 + N(0, 0.002);
--fill zeros: the files are sparse (a header, then a hole), which is enough
for everything that reads shapes only (import, insert-masks, compile) and
takes no disk. The presets are LLaMA2-7B and the paper's targets (vocab
32000, untied, MHA)."""
import argparse
import json
import os
import struct

import numpy as np

PRESETS = {  # layers, hidden, heads, intermediate
    "7b": (32, 4096, 32, 11008),
    "2.7b": (32, 2560, 20, 6912),
    "1.3b": (24, 2048, 16, 5504),
    "370m": (24, 1024, 8, 2816),
    "tiny": (2, 64, 4, 128),  # for checking the benchmark scripts
}

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--preset", choices=list(PRESETS))
p.add_argument("--layers", type=int)
p.add_argument("--hidden", type=int)
p.add_argument("--heads", type=int)
p.add_argument("--kv-heads", type=int)
p.add_argument("--intermediate", type=int)
p.add_argument("--vocab", type=int, default=32000)
p.add_argument("--fill", choices=["random", "zeros"], default="random")
p.add_argument("--shards", type=int, default=2)
a = p.parse_args()
L, D, H, M = PRESETS[a.preset] if a.preset else (None, None, None, None)
L, D, H, M = a.layers or L, a.hidden or D, a.heads or H, a.intermediate or M
if None in (L, D, H, M):
    p.error("give --preset or every one of --layers --hidden --heads --intermediate")
G, V, hd = a.kv_heads or H, a.vocab, D // H

os.makedirs(a.out, exist_ok=True)
names = [("model.embed_tokens.weight", (V, D))]
for l in range(L):
    q = f"model.layers.{l}."
    names += [(q + "input_layernorm.weight", (D,)), (q + "self_attn.q_proj.weight", (H * hd, D)),
              (q + "self_attn.k_proj.weight", (G * hd, D)), (q + "self_attn.v_proj.weight", (G * hd, D)),
              (q + "self_attn.o_proj.weight", (D, H * hd)), (q + "post_attention_layernorm.weight", (D,)),
              (q + "mlp.gate_proj.weight", (M, D)), (q + "mlp.up_proj.weight", (M, D)),
              (q + "mlp.down_proj.weight", (D, M))]
names += [("model.norm.weight", (D,)), ("lm_head.weight", (V, D))]
per = -(-len(names) // a.shards)
shards = [names[i:i + per] for i in range(0, len(names), per)]
rng = np.random.default_rng(0)
weight_map = {}
for i, shard in enumerate(shards):
    fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
    header, offset = {}, 0
    for n, shape in shard:
        size = int(np.prod(shape)) * 2
        header[n] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
        weight_map[n] = fname
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path = os.path.join(a.out, fname)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        if a.fill == "zeros":
            f.truncate(8 + len(text) + offset)
            continue
        for n, shape in shard:
            norm = n.endswith("norm.weight")
            x = rng.standard_normal(shape, dtype=np.float32) * (0.002 if norm else 0.02)
            if norm:
                x += 1.0
            f.write((x.view(np.uint32) >> 16).astype(np.uint16).tobytes())
    print(f"wrote {fname} ({os.path.getsize(path) / 1e9:.2f} GB, {a.fill})", flush=True)
json.dump({"metadata": {"total_size": sum(int(np.prod(s)) * 2 for _, s in names)},
           "weight_map": weight_map}, open(os.path.join(a.out, "model.safetensors.index.json"), "w"))
json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": D,
           "intermediate_size": M, "num_hidden_layers": L, "num_attention_heads": H,
           "num_key_value_heads": G, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": V,
           "tie_word_embeddings": False, "max_position_embeddings": 4096, "hidden_act": "silu",
           "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16", "rope_scaling": None},
          open(os.path.join(a.out, "config.json"), "w"), indent=2)
