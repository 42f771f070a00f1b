#!/usr/bin/python3
"""Checks a materialized (compact) HF export against the masked source model.

  check_materialize.py --source SRC_HF --masks M.safetensors --compact OUT_HF
      [--tol 1e-4] [--fold-tol 1e-4] [--expect-shape L,H,G,D,M]

1. masked equivalence: logits of the compact model == logits of the source
   model under the final masks (METHOD.md §2 forward), relative error <= --tol.
2. fold check (--fold-tol): the compact weights == an independent float64
   fold-and-slice of the source weights (METHOD.md §5) rounded to the
   exported dtype, compared through the logits, relative error <= --fold-tol.
"""
import argparse
import sys

import numpy as np
import torch

import llama_ref
import safetensors_np


def reference_fold(cfg, W, masks):
    """METHOD.md §5 in float64: name -> tensor, plus the compact shape."""
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    G = cfg.get("num_key_value_heads") or H
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    D, M = cfg["hidden_size"], cfg["intermediate_size"]
    zL = masks.get("layer", torch.ones(L))
    zH = masks.get("head", torch.ones(L, H))
    zG = masks.get("kv_group", torch.ones(L, G))
    zI = masks.get("intermediate", torch.ones(L, M))
    zD = masks.get("hidden", torch.ones(D))
    hid = torch.nonzero(zD).flatten()
    out = {"model.embed_tokens.weight": W["model.embed_tokens.weight"][:, hid] * zD[hid]}
    n = 0
    for l in range(L):
        if zL[l] == 0:
            continue
        p, q = f"model.layers.{l}.", f"model.layers.{n}."
        n += 1
        head_gate = zH[l] * zG[l].repeat_interleave(H // G)
        heads = torch.nonzero(head_gate).flatten()
        groups = torch.nonzero(zG[l]).flatten() if G != H else heads
        rows = lambda idx: (idx.view(-1, 1) * hd + torch.arange(hd)).flatten()
        inter = torch.nonzero(zI[l]).flatten()
        out[q + "input_layernorm.weight"] = W[p + "input_layernorm.weight"][hid] * zD[hid]
        out[q + "self_attn.q_proj.weight"] = W[p + "self_attn.q_proj.weight"][rows(heads)][:, hid]
        out[q + "self_attn.k_proj.weight"] = W[p + "self_attn.k_proj.weight"][rows(groups)][:, hid]
        out[q + "self_attn.v_proj.weight"] = W[p + "self_attn.v_proj.weight"][rows(groups)][:, hid]
        col_scale = head_gate[heads].repeat_interleave(hd)
        out[q + "self_attn.o_proj.weight"] = (W[p + "self_attn.o_proj.weight"][hid][:, rows(heads)]
                                              * col_scale * zL[l] * zD[hid].view(-1, 1))
        out[q + "post_attention_layernorm.weight"] = W[p + "post_attention_layernorm.weight"][hid] * zD[hid]
        out[q + "mlp.gate_proj.weight"] = W[p + "mlp.gate_proj.weight"][inter][:, hid]
        out[q + "mlp.up_proj.weight"] = W[p + "mlp.up_proj.weight"][inter][:, hid] * zI[l][inter].view(-1, 1)
        out[q + "mlp.down_proj.weight"] = (W[p + "mlp.down_proj.weight"][hid][:, inter]
                                           * zL[l] * zD[hid].view(-1, 1))
    out["model.norm.weight"] = W["model.norm.weight"][hid] * zD[hid]
    tied = cfg.get("tie_word_embeddings", False)
    out["lm_head.weight"] = W["model.embed_tokens.weight" if tied else "lm_head.weight"][:, hid]
    return out


def round_to(t, dtype):
    a = t.numpy().astype(np.float32)
    if dtype == "BF16":
        a = safetensors_np.bf16_bits_to_f32(safetensors_np.f32_to_bf16_bits(a))
    elif dtype == "F16":
        a = a.astype(np.float16).astype(np.float32)
    return torch.tensor(a.astype(np.float64))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source", required=True)
    p.add_argument("--masks", required=True)
    p.add_argument("--compact", required=True)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--fold-tol", type=float, default=None)
    p.add_argument("--expect-shape", default=None, help="L,H,G,D,M")
    a = p.parse_args()

    src_cfg, src_W, _ = llama_ref.load_hf(a.source)
    cmp_cfg, cmp_W, cmp_dtypes = llama_ref.load_hf(a.compact)
    masks = llama_ref.load_masks(a.masks)
    ok = True

    if a.expect_shape:
        want = [int(x) for x in a.expect_shape.split(",")]
        got = [cmp_cfg["num_hidden_layers"], cmp_cfg["num_attention_heads"],
               cmp_cfg["num_key_value_heads"], cmp_cfg["hidden_size"], cmp_cfg["intermediate_size"]]
        print(f"compact shape {got}, expected {want}")
        ok &= got == want
        hd = cmp_cfg["head_dim"]
        for name, t in cmp_W.items():
            if name.endswith("q_proj.weight"):
                ok &= list(t.shape) == [want[1] * hd, want[3]]
            if name.endswith("k_proj.weight"):
                ok &= list(t.shape) == [want[2] * hd, want[3]]
            if name.endswith("down_proj.weight"):
                ok &= list(t.shape) == [want[3], want[4]]

    ids = torch.tensor(np.random.default_rng(0).integers(0, src_cfg["vocab_size"], size=(2, 9)))
    masked = llama_ref.forward(src_cfg, src_W, ids, masks)
    compact = llama_ref.forward(cmp_cfg, cmp_W, ids)
    err = llama_ref.relative_error(compact, masked)
    print(f"masked vs compact: relative error {err:.3e} (tolerance {a.tol:.0e})")
    ok &= err <= a.tol

    if a.fold_tol is not None:
        ref = reference_fold(src_cfg, src_W, masks)
        if cmp_cfg.get("tie_word_embeddings"):
            ref.pop("lm_head.weight")
        extra = set(cmp_W) ^ set(ref)
        fold_ok = not extra
        if extra:
            print(f"tensor names differ from the reference fold: {sorted(extra)}")
        else:
            dt = cmp_dtypes["model.embed_tokens.weight"]
            ref_W = {k: round_to(v, dt) for k, v in ref.items()}
            for k in ref_W:
                if list(ref_W[k].shape) != list(cmp_W[k].shape):
                    print(f"{k}: shape {list(cmp_W[k].shape)} != reference {list(ref_W[k].shape)}")
                    fold_ok = False
            if fold_ok:
                fold_err = llama_ref.relative_error(llama_ref.forward(cmp_cfg, cmp_W, ids),
                                                    llama_ref.forward(cmp_cfg, ref_W, ids))
                worst = max((cmp_W[k] - ref_W[k]).abs().max().item() /
                            max(ref_W[k].abs().max().item(), 1e-30) for k in ref_W)
                print(f"fold check ({dt}): logits relative error {fold_err:.3e}, "
                      f"worst tensor relative error {worst:.3e} (tolerance {a.fold_tol:.0e})")
                fold_ok = fold_err <= a.fold_tol
        ok &= fold_ok
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
