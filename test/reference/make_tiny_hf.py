#!/usr/bin/python3
"""Writes a small random LLaMA/Mistral checkpoint in the HF layout
(config.json + safetensors, optionally sharded with an index)."""
import argparse
import json
import os

import numpy as np

import safetensors_np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=None)
    p.add_argument("--head-dim", type=int, default=None)
    p.add_argument("--intermediate", type=int, default=96)
    p.add_argument("--vocab", type=int, default=61)
    p.add_argument("--dtype", default="F32", choices=["F32", "BF16", "F16"])
    p.add_argument("--tied", action="store_true")
    p.add_argument("--rope", default="none", choices=["none", "linear", "llama3"])
    p.add_argument("--arch", default="LlamaForCausalLM")
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-positions", type=int, default=128)
    a = p.parse_args()
    kv = a.kv_heads or a.heads
    hd = a.head_dim or a.hidden // a.heads
    rng = np.random.default_rng(a.seed)
    D, M, V = a.hidden, a.intermediate, a.vocab

    def w(*shape, scale=None):
        scale = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    t = {"model.embed_tokens.weight": w(V, D, scale=1.0)}
    for l in range(a.layers):
        pre = f"model.layers.{l}."
        t[pre + "input_layernorm.weight"] = (1 + 0.2 * rng.standard_normal(D)).astype(np.float32)
        t[pre + "self_attn.q_proj.weight"] = w(a.heads * hd, D)
        t[pre + "self_attn.k_proj.weight"] = w(kv * hd, D)
        t[pre + "self_attn.v_proj.weight"] = w(kv * hd, D)
        t[pre + "self_attn.o_proj.weight"] = w(D, a.heads * hd)
        t[pre + "post_attention_layernorm.weight"] = (1 + 0.2 * rng.standard_normal(D)).astype(np.float32)
        t[pre + "mlp.gate_proj.weight"] = w(M, D)
        t[pre + "mlp.up_proj.weight"] = w(M, D)
        t[pre + "mlp.down_proj.weight"] = w(D, M)
    t["model.norm.weight"] = (1 + 0.2 * rng.standard_normal(D)).astype(np.float32)
    if not a.tied:
        t["lm_head.weight"] = w(V, D)

    os.makedirs(a.out, exist_ok=True)
    cfg = {
        "architectures": [a.arch],
        "model_type": "mistral" if a.arch.startswith("Mistral") else "llama",
        "hidden_size": D, "intermediate_size": M, "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads, "num_key_value_heads": kv,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0 if a.rope == "none" else 500000.0,
        "vocab_size": V, "tie_word_embeddings": a.tied, "max_position_embeddings": a.max_positions,
        "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2,
        "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[a.dtype],
        "rope_scaling": None,
    }
    if a.head_dim:
        cfg["head_dim"] = hd
    if a.rope == "linear":
        cfg["rope_scaling"] = {"type": "linear", "factor": 2.0}
    elif a.rope == "llama3":
        cfg["rope_scaling"] = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    names = list(t)
    dtypes = {n: a.dtype for n in names}
    if a.shards == 1:
        safetensors_np.write(os.path.join(a.out, "model.safetensors"), t, dtypes, {"format": "pt"})
        return
    chunks = np.array_split(np.arange(len(names)), a.shards)
    weight_map = {}
    for i, idx in enumerate(chunks):
        fname = f"model-{i + 1:05d}-of-{a.shards:05d}.safetensors"
        part = {names[j]: t[names[j]] for j in idx}
        safetensors_np.write(os.path.join(a.out, fname), part, dtypes, {"format": "pt"})
        weight_map.update({n: fname for n in part})
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f)


if __name__ == "__main__":
    main()
