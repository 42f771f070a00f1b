#!/usr/bin/python3
"""PyTorch CPU training step of the same LLaMA as bench/train_step.sh (fp32,
AdamW, causal attention with RoPE, SwiGLU), for a side-by-side throughput
comparison. Prints tokens/s per step as JSON lines."""
import argparse
import json
import math
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--layers", type=int, default=6)
p.add_argument("--hidden", type=int, default=384)
p.add_argument("--heads", type=int, default=6)
p.add_argument("--intermediate", type=int, default=1024)
p.add_argument("--vocab", type=int, default=4096)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--steps", type=int, default=12)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
D, H, hd = a.hidden, a.heads, a.hidden // a.heads


class RMSNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(D))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.w


inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
ang = torch.outer(torch.arange(a.seq).float(), inv)
cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()


def rope(x):
    h = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(), RMSNorm()
        self.q, self.k, self.v, self.o = (torch.nn.Linear(D, D, bias=False) for _ in range(4))
        self.g = torch.nn.Linear(D, a.intermediate, bias=False)
        self.u = torch.nn.Linear(D, a.intermediate, bias=False)
        self.d = torch.nn.Linear(a.intermediate, D, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        y = self.n1(x)
        q, k, v = (f(y).view(B, T, H, hd).transpose(1, 2) for f in (self.q, self.k, self.v))
        q, k = rope(q), rope(k)
        s = q @ k.transpose(-1, -2) / math.sqrt(hd)
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        ctx = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.o(ctx)
        y = self.n2(x)
        return x + self.d(torch.nn.functional.silu(self.g(y)) * self.u(y))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(a.vocab, D)
        self.layers = torch.nn.ModuleList(Layer() for _ in range(a.layers))
        self.norm = RMSNorm()
        self.head = torch.nn.Linear(D, a.vocab, bias=False)

    def forward(self, ids):
        x = self.emb(ids)
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x))


model = Model()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0)
params = sum(p.numel() for p in model.parameters())
for step in range(a.steps):
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq + 1))
    t0 = time.perf_counter()
    logits = model(tokens[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, a.vocab), tokens[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    dt = time.perf_counter() - t0
    print(json.dumps({"step": step + 1, "loss": loss.item(), "tokens_per_s": a.batch * a.seq / dt,
                      "params": params}), flush=True)
