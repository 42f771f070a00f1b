#!/usr/bin/python3
"""importance_ref.py --hf DIR (--tokens T.npy | --data DIR --calib-seqs N [--split train|eval])
                     [--scores S.safetensors] [--tol 1e-4]

An independent float64 reference of activation importance (Minitron) and
block influence (ShortGPT) on calibration tokens, from the HF weights:
  head [L, H]         mean over tokens of ||softmax(q k^T / sqrt(hd)) v||_2 per head
  kv_group [L, G]     the sum of its query heads' scores
  intermediate [L, M] mean over tokens of |silu(x Wg^T) * (x Wu^T)|
  hidden [D]          sum over every RMSNorm output of the mean |y_d|
  layer [L]           1 - mean over tokens of cos(layer input, layer output)
With --scores, compares shear's file with these (largest error relative to
the family's largest score) and exits 1 beyond --tol. The calibration
sequences of --data are taken as the docs say: shared among the domains by
the manifest's weights (largest remainders), the first of each domain."""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

import llama_ref
import safetensors_np

torch.set_default_dtype(torch.float64)


def activation_scores(cfg, W, ids):
    ids = torch.as_tensor(ids, dtype=torch.long)
    B, T = ids.shape
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    G = cfg.get("num_key_value_heads") or H
    D = cfg["hidden_size"]
    hd = cfg.get("head_dim") or D // H
    eps = cfg["rms_norm_eps"]
    inv = llama_ref.inv_freq(cfg)
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
    n = B * T
    hidden = torch.zeros(D)
    out = {"head": [], "kv_group": [], "intermediate": [], "layer": []}
    x = W["model.embed_tokens.weight"][ids]
    for l in range(L):
        p = f"model.layers.{l}."
        x_in = x
        a = llama_ref.rms_norm(x, W[p + "input_layernorm.weight"], eps)
        hidden += a.abs().sum((0, 1)) / n
        q = (a @ W[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
        k = (a @ W[p + "self_attn.k_proj.weight"].T).view(B, T, G, hd).transpose(1, 2)
        v = (a @ W[p + "self_attn.v_proj.weight"].T).view(B, T, G, hd).transpose(1, 2)
        q = q * cos + llama_ref.rotate_half(q) * sin
        k = k * cos + llama_ref.rotate_half(k) * sin
        k = k.repeat_interleave(H // G, dim=1)
        v = v.repeat_interleave(H // G, dim=1)
        ctx = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + causal, dim=-1) @ v  # [B, H, T, hd]
        head = ctx.norm(dim=-1).sum((0, 2)) / n
        out["head"].append(head)
        out["kv_group"].append(head.view(G, H // G).sum(1))
        x = x + ctx.transpose(1, 2).reshape(B, T, H * hd) @ W[p + "self_attn.o_proj.weight"].T
        b = llama_ref.rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        hidden += b.abs().sum((0, 1)) / n
        h = torch.nn.functional.silu(b @ W[p + "mlp.gate_proj.weight"].T) * (b @ W[p + "mlp.up_proj.weight"].T)
        out["intermediate"].append(h.abs().sum((0, 1)) / n)
        x = x + h @ W[p + "mlp.down_proj.weight"].T
        cosine = (x_in * x).sum(-1) / (x_in.norm(dim=-1) * x.norm(dim=-1))
        out["layer"].append(1 - cosine.sum() / n)
    hidden += llama_ref.rms_norm(x, W["model.norm.weight"], eps).abs().sum((0, 1)) / n
    scores = {k: torch.stack(v) for k, v in out.items()}
    scores["hidden"] = hidden
    return scores


def calibration_ids(data, count, split):
    """The sequences' inputs (first seq_len tokens), by the documented rule."""
    with open(os.path.join(data, "manifest.json")) as f:
        m = json.load(f)
    seq = m["seq_len"]
    dtype = np.uint16 if m.get("token_dtype", "uint16") == "uint16" else np.uint32
    doms = m["domains"]
    avail = [d["train_sequences" if split == "train" else "eval_sequences"] for d in doms]
    weights = [float(d.get("weight", 0)) for d in doms]
    if sum(weights) == 0:
        weights = [float(d["train_sequences"]) for d in doms]
    count = min(count, sum(avail))
    take = [0] * len(doms)
    left = count
    while left > 0:
        open_ = [i for i in range(len(doms)) if take[i] < avail[i]]
        wsum = sum(weights[i] for i in open_)
        given, rem = 0, []
        for i in open_:
            share = (weights[i] / wsum if wsum > 0 else 1 / len(doms)) * left
            whole = min(int(math.floor(share)), avail[i] - take[i])
            take[i] += whole
            given += whole
            rem.append((share - math.floor(share), i))
        rest = left - given
        for r, i in sorted(rem, key=lambda t: -t[0]):
            if rest > 0 and take[i] < avail[i]:
                take[i] += 1
                rest -= 1
        if rest == left:
            break
        left = rest
    rows = []
    for i, d in enumerate(doms):
        arr = np.fromfile(os.path.join(data, d["train_file" if split == "train" else "eval_file"]), dtype=dtype)
        arr = arr.reshape(-1, seq + 1)
        rows.extend(arr[:take[i], :seq].astype(np.int64))
    return np.stack(rows)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--hf", required=True)
    p.add_argument("--tokens")
    p.add_argument("--data")
    p.add_argument("--calib-seqs", type=int, default=128)
    p.add_argument("--split", default="train")
    p.add_argument("--scores")
    p.add_argument("--tol", type=float, default=1e-4)
    a = p.parse_args()
    cfg, W, _ = llama_ref.load_hf(a.hf)
    ids = np.load(a.tokens) if a.tokens else calibration_ids(a.data, a.calib_seqs, a.split)
    want = activation_scores(cfg, W, ids)
    print(f"calibration: {ids.shape[0]} sequences, {ids.size} tokens")
    if a.scores:
        got = {k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, (_, v) in safetensors_np.read(a.scores).items()}
        ok = True
        for f in ["head", "kv_group", "intermediate", "hidden", "layer"]:
            w = want[f]
            g = got[f].reshape(w.shape)
            err = (g - w).abs().max().item() / w.abs().max().item()
            good = err <= a.tol
            ok &= good
            print(f"{f} {list(w.shape)}: {'within' if good else 'BEYOND'} {a.tol:g} of the reference (max rel err {err:.1e})")
        sys.exit(0 if ok else 1)
