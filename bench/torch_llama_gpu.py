#!/usr/bin/env python3
"""torch_llama_gpu.py --preset 1.3b [--mode train|prune] [--batch B --seq T --steps N --compile]

The PyTorch side of bench/gpu_bench.sh: a training step of the LLaMA shape
shear runs (untied, MHA, RMSNorm, RoPE, SwiGLU), as a PyTorch user would
write it for speed: float32 master weights, bf16 autocast,
scaled_dot_product_attention (causal; the flash backend on a GPU), fused
AdamW, torch.compile with --compile. --mode prune adds what LLM-Shearing's
pruning step adds: hard-concrete gates over layers, heads, intermediate
neurons and hidden channels, their masks multiplied in, and the Lagrangian
term. Prints one JSON object: tokens/s (median of the steps after the
first two), MFU (the formula of shear's progress line, against the measured
bf16 GEMM peak), peak memory. Runs on the CPU too (torch 1.13 without SDPA
or compile) so the script itself can be checked there."""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

PRESETS = {"7b": (32, 4096, 32, 11008), "2.7b": (32, 2560, 20, 6912), "1.3b": (24, 2048, 16, 5504),
           "370m": (24, 1024, 8, 2816), "tiny": (2, 64, 4, 128)}
p = argparse.ArgumentParser()
p.add_argument("--preset", choices=sorted(PRESETS), default="1.3b")
p.add_argument("--vocab", type=int, default=32000)
p.add_argument("--mode", choices=["train", "prune"], default="train")
p.add_argument("--batch", type=int, default=8)
p.add_argument("--seq", type=int, default=2048)
p.add_argument("--steps", type=int, default=8)
p.add_argument("--compile", action="store_true")
a = p.parse_args()
L, D, H, M = PRESETS[a.preset]
V, T, hd = a.vocab, a.seq, D // H
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(0)
sdpa = getattr(F, "scaled_dot_product_attention", None)


def attention(q, k, v):
    if sdpa is not None:
        return sdpa(q, k, v, is_causal=True)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(s.shape[-2:], dtype=torch.bool, device=s.device).triu(1)
    return s.masked_fill(mask, float("-inf")).softmax(-1) @ v


class Gates(torch.nn.Module):
    """Hard-concrete gates (METHOD.md §2): training-mode samples."""

    def __init__(self, shape):
        super().__init__()
        self.log_alpha = torch.nn.Parameter(torch.full(shape, 5.0))

    def forward(self):
        u = torch.rand_like(self.log_alpha).clamp(1e-6, 1 - 1e-6)
        s = torch.sigmoid((u.log() - (1 - u).log() + self.log_alpha) / (2 / 3))
        return (s * 1.2 - 0.1).clamp(0, 1)

    def expected_sparsity(self):
        return 1 - torch.sigmoid(self.log_alpha - (2 / 3) * math.log(0.1 / 1.1)).mean()


class Model(torch.nn.Module):
    def __init__(self, prune):
        super().__init__()
        self.embed = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            layer = torch.nn.Module()
            layer.n1, layer.n2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
            layer.qkv = torch.nn.Linear(D, 3 * D, bias=False)
            layer.o = torch.nn.Linear(D, D, bias=False)
            layer.gate_up = torch.nn.Linear(D, 2 * M, bias=False)
            layer.down = torch.nn.Linear(M, D, bias=False)
            self.layers.append(layer)
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.head = torch.nn.Linear(D, V, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(T).float(), inv)
        self.register_buffer("cos", torch.cat([ang, ang], -1).cos(), persistent=False)
        self.register_buffer("sin", torch.cat([ang, ang], -1).sin(), persistent=False)
        self.prune = prune
        if prune:
            self.gates = torch.nn.ModuleDict({"layer": Gates((L,)), "head": Gates((L, H)),
                                              "intermediate": Gates((L, M)), "hidden": Gates((D,))})

    @staticmethod
    def rms(x, w, z=None):
        y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-5).to(x.dtype) * w
        return y if z is None else y * z

    def rope(self, x):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * self.cos + torch.cat([-x2, x1], -1) * self.sin

    def forward(self, ids):
        B = ids.shape[0]
        z = {f: g() for f, g in self.gates.items()} if self.prune else {}
        zh = z.get("hidden")
        x = self.embed(ids)
        if zh is not None:
            x = x * zh
        for i, l in enumerate(self.layers):
            h = self.rms(x, l.n1, zh)
            q, k, v = l.qkv(h).view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)
            o = attention(self.rope(q), self.rope(k), v)
            if self.prune:
                o = o * z["head"][i].view(1, H, 1, 1)
            u = l.o(o.transpose(1, 2).reshape(B, T, D))
            x = x + (u * z["layer"][i] * zh if self.prune else u)
            h = self.rms(x, l.n2, zh)
            g, up = l.gate_up(h).chunk(2, -1)
            m = F.silu(g) * up
            if self.prune:
                m = m * z["intermediate"][i]
            u = l.down(m)
            x = x + (u * z["layer"][i] * zh if self.prune else u)
        return self.head(self.rms(x, self.norm, zh))


model = Model(a.mode == "prune").to(dev)
params = [p for n, p in model.named_parameters() if "log_alpha" not in n]
groups = [{"params": params, "lr": 1e-4, "weight_decay": 0.0}]
if a.mode == "prune":
    groups.append({"params": [g.log_alpha for g in model.gates.values()], "lr": 0.1})
    lambdas = torch.zeros(2, len(model.gates), device=dev, requires_grad=True)
    groups.append({"params": [lambdas], "lr": -1.0})
opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), **({"fused": True} if dev == "cuda" else {}))


def step(ids, labels):
    with torch.autocast(dev, dtype=torch.bfloat16):
        logits = model(ids)
    loss = F.cross_entropy(logits.float().reshape(-1, V), labels.reshape(-1))
    if a.mode == "prune":
        for f, (name, g) in enumerate(model.gates.items()):
            d = g.expected_sparsity() - 0.5
            loss = loss + lambdas[0, f] * d + lambdas[1, f] * d * d
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


run = torch.compile(step) if a.compile and hasattr(torch, "compile") else step
ids = torch.randint(0, V, (a.batch, T + 1), device=dev)
inputs, labels = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
times = []
for s in range(a.steps):
    if dev == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    loss = run(inputs, labels)
    loss.item()  # waits for the step
    times.append(time.perf_counter() - t0)


def gemm_peak():
    if dev != "cuda":
        return None
    n = 8192
    x = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    best = 0.0
    for _ in range(5):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        x @ x
        torch.cuda.synchronize()
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0))
    return best


per_layer = D * (2 * H * hd + 2 * H * hd) + 3 * D * M
flops_token = 6 * (L * per_layer + V * D) + 12 * L * T * H * hd
tok_s = a.batch * T / statistics.median(times[2:] if len(times) > 2 else times)
peak = gemm_peak()
print(json.dumps({"impl": "pytorch " + torch.__version__ + (" + compile" if run is not step else ""),
                  "mode": a.mode, "preset": a.preset, "batch": a.batch, "seq": T, "device": dev,
                  "gpu": torch.cuda.get_device_name() if dev == "cuda" else None,
                  "tokens_per_s": tok_s, "mfu": tok_s * flops_token / peak if peak else None,
                  "bf16_gemm_peak_tflops": peak / 1e12 if peak else None,
                  "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if dev == "cuda" else None,
                  "step_s": times, "final_loss": float(loss)}))
