#!/usr/bin/python3
"""check_select_structure.py --hf DIR --masks M.safetensors --keep layer=L,head=H,kv_group=G,intermediate=I,hidden=D
                            [--activation-tokens T.npy]

An independent float64 reference of one-shot magnitude selection: the sum
of squares of each unit's weights (a head: its q_proj rows and o_proj
columns; a kv group: its k_proj and v_proj rows plus its heads; an
intermediate channel: gate/up rows and the down column; a hidden channel:
its embedding / lm_head / q,k,v,gate,up column, o/down row and norm entries;
a layer: all its weights), the top entries kept per row (ties: the lower
index), kv groups before heads. Checks that the masks shear wrote are
exactly these 0/1 masks. With --activation-tokens the scores are instead
activation importance and block influence on those tokens (importance_ref)."""
import argparse
import sys

import numpy as np
import torch

import llama_ref
import safetensors_np

p = argparse.ArgumentParser()
p.add_argument("--hf", required=True)
p.add_argument("--masks", required=True)
p.add_argument("--keep", required=True)
p.add_argument("--activation-tokens")
a = p.parse_args()
keep = {k: int(v) for k, v in (x.split("=") for x in a.keep.split(","))}
cfg, W, _ = llama_ref.load_hf(a.hf)
L, H, G = cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
D = cfg["hidden_size"]
hd = cfg.get("head_dim") or D // H
sq = lambda t: t.double() ** 2
hidden = sq(W["model.embed_tokens.weight"]).sum(0)
if "lm_head.weight" in W and not cfg.get("tie_word_embeddings", False):
    hidden += sq(W["lm_head.weight"]).sum(0)
hidden += sq(W["model.norm.weight"])
layer, head, group, inter = [], [], [], []
for l in range(L):
    w = {n: W[f"model.layers.{l}.{n}.weight"] for n in ["input_layernorm", "post_attention_layernorm",
         "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
         "mlp.up_proj", "mlp.down_proj"]}
    layer.append(sum(sq(t).sum() for t in w.values()))
    for n in ["input_layernorm", "post_attention_layernorm"]:
        hidden += sq(w[n])
    for n in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"]:
        hidden += sq(w[n]).sum(0)
    for n in ["self_attn.o_proj", "mlp.down_proj"]:
        hidden += sq(w[n]).sum(1)
    h = sq(w["self_attn.q_proj"]).sum(1).view(H, hd).sum(1) + sq(w["self_attn.o_proj"]).sum(0).view(H, hd).sum(1)
    g = (sq(w["self_attn.k_proj"]).sum(1) + sq(w["self_attn.v_proj"]).sum(1)).view(G, hd).sum(1)
    g = g + h.view(G, H // G).sum(1)
    head.append(h), group.append(g)
    inter.append(sq(w["mlp.gate_proj"]).sum(1) + sq(w["mlp.up_proj"]).sum(1) + sq(w["mlp.down_proj"]).sum(0))

if a.activation_tokens:
    import importance_ref
    s = importance_ref.activation_scores(cfg, W, np.load(a.activation_tokens))
    layer, hidden = list(s["layer"]), s["hidden"]
    head, group, inter = list(s["head"]), list(s["kv_group"]), list(s["intermediate"])


def top(scores, k):
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    m = np.zeros(len(scores), np.float32)
    m[order[:k]] = 1
    return m


want = {"layer": top(torch.stack(layer), keep["layer"]), "hidden": top(hidden, keep["hidden"]),
        "intermediate": np.stack([top(x, keep["intermediate"]) for x in inter])}
if G != H or "kv_group" in keep:
    gm = np.stack([top(g, keep["kv_group"]) for g in group])
    hm = np.zeros((L, H), np.float32)
    per = keep["head"] // keep["kv_group"]
    for l in range(L):
        for gi in range(G):
            if gm[l, gi]:
                hm[l, gi * (H // G):(gi + 1) * (H // G)] = top(head[l][gi * (H // G):(gi + 1) * (H // G)], per)
    want["kv_group"], want["head"] = gm, hm
else:
    want["head"] = np.stack([top(h, keep["head"]) for h in head])
got = {k[len("shear.mask."):]: np.asarray(v) for k, (_, v) in safetensors_np.read(a.masks).items()}
ok = True
for f, m in want.items():
    same = np.array_equal(got[f].reshape(m.shape), m)
    print(f"{f}: {int(m.sum())} of {m.size} kept, {'equal to the reference' if same else 'DIFFERENT'}")
    ok &= same
sys.exit(0 if ok else 1)
