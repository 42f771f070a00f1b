"""Independent float64 reference of a LLaMA-family decoder (HF conventions:
rotate-half RoPE with linear/llama3 scaling, GQA by repeating kv heads, SwiGLU,
RMSNorm) and of the masked model of METHOD.md §2 (masks on layer, head,
kv_group, intermediate and hidden). Written with PyTorch from the formulas,
sharing no code with shear."""
import json
import math
import os

import numpy as np
import torch

import safetensors_np

torch.set_default_dtype(torch.float64)


def load_hf(directory):
    """config dict, {name: float64 tensor}, {name: dtype string}."""
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = sorted(x for x in os.listdir(directory) if x.endswith(".safetensors"))
    weights, dtypes = {}, {}
    for name in files:
        for k, (dt, arr) in safetensors_np.read(os.path.join(directory, name)).items():
            weights[k] = torch.tensor(np.asarray(arr, dtype=np.float64))
            dtypes[k] = dt
    return cfg, weights, dtypes


def inv_freq(cfg):
    heads = cfg["num_attention_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // heads
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        orig = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = orig / low, orig / high
        out = []
        for f in inv.tolist():
            wavelen = 2 * math.pi / f
            if wavelen < high_wavelen:
                out.append(f)
            elif wavelen > low_wavelen:
                out.append(f / factor)
            else:
                smooth = (orig / wavelen - low) / (high - low)
                out.append((1 - smooth) * f / factor + smooth * f)
        return torch.tensor(out)
    raise ValueError(kind)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rms_norm(x, w, eps, z=None):
    """Masked RMSNorm: mean of squares over kept dims, output times z."""
    if z is None:
        ms = (x * x).mean(-1, keepdim=True)
        return x / torch.sqrt(ms + eps) * w
    kept = (z != 0).to(x.dtype)
    ms = (x * x * kept).sum(-1, keepdim=True) / kept.sum()
    return x / torch.sqrt(ms + eps) * w * z


def forward(cfg, W, ids, masks=None):
    """Logits [B, T, V] in float64. masks: dict family -> float64 tensor
    (layer [L], head [L,H], kv_group [L,G], intermediate [L,M], hidden [D])."""
    masks = masks or {}
    ids = torch.as_tensor(ids, dtype=torch.long)
    B, T = ids.shape
    L = cfg["num_hidden_layers"]
    H = cfg["num_attention_heads"]
    G = cfg.get("num_key_value_heads") or H
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg["rms_norm_eps"]
    zD = masks.get("hidden")
    inv = inv_freq(cfg)
    pos = torch.arange(T, dtype=torch.float64)
    freqs = torch.outer(pos, inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)

    x = W["model.embed_tokens.weight"][ids]
    if zD is not None:
        x = x * zD
    for l in range(L):
        p = f"model.layers.{l}."
        zl = masks["layer"][l] if "layer" in masks else 1.0
        a = rms_norm(x, W[p + "input_layernorm.weight"], eps, zD)
        q = (a @ W[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
        k = (a @ W[p + "self_attn.k_proj.weight"].T).view(B, T, G, hd).transpose(1, 2)
        v = (a @ W[p + "self_attn.v_proj.weight"].T).view(B, T, G, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // G, dim=1)
        v = v.repeat_interleave(H // G, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + causal, dim=-1)
        ctx = att @ v  # [B, H, T, hd]
        gate = torch.ones(H)
        if "head" in masks:
            gate = gate * masks["head"][l]
        if "kv_group" in masks:
            gate = gate * masks["kv_group"][l].repeat_interleave(H // G)
        ctx = ctx * gate.view(1, H, 1, 1)
        o = ctx.transpose(1, 2).reshape(B, T, H * hd) @ W[p + "self_attn.o_proj.weight"].T
        o = o * zl
        x = x + (o * zD if zD is not None else o)
        b = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps, zD)
        up = b @ W[p + "mlp.up_proj.weight"].T
        if "intermediate" in masks:
            up = up * masks["intermediate"][l]
        h = torch.nn.functional.silu(b @ W[p + "mlp.gate_proj.weight"].T) * up
        m = (h @ W[p + "mlp.down_proj.weight"].T) * zl
        x = x + (m * zD if zD is not None else m)
    x = rms_norm(x, W["model.norm.weight"], eps, zD)
    tied = cfg.get("tie_word_embeddings", False)
    head = W["model.embed_tokens.weight" if tied else "lm_head.weight"]
    return x @ head.T


def load_masks(path):
    return {k[len("shear.mask."):]: torch.tensor(np.asarray(v, dtype=np.float64))
            for k, (dt, v) in safetensors_np.read(path).items()}


def relative_error(a, b):
    return (a - b).abs().max().item() / b.abs().max().item()
