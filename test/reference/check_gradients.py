#!/usr/bin/python3
"""check_gradients.py --hf SRC --gates G.safetensors [--lambdas L.safetensors]
       --tokens T.npy [--loss-mask M.npy] --grads OUT.safetensors --step N --seed S --warmup W [--tol 1e-4]
       [--teacher HF_DIR --temperature T --alpha A]

Independent float64 PyTorch reference of one pruning step (METHOD.md §2-3):
gates sampled with shear's Philox keying, the masked forward, cross-entropy
plus the Lagrangian; autograd gives the gradient of every weight, gate
parameter and multiplier, compared with what `shear-run gradients` wrote.
With --teacher the language-model term is knowledge distillation:
(1 - A) cross-entropy + A T^2 KL(softmax(teacher/T) || softmax(student/T)),
the KL averaged over the tokens whose label counts; the teacher is frozen
(no gradient of it may be written)."""
import argparse
import math
import sys

import numpy as np
import torch

import llama_ref
import philox
import safetensors_np

GAMMA, ZETA, BETA, EPS = -0.1, 1.1, 2.0 / 3.0, 1e-6
LIMIT = math.log(100.0)
STREAMS = {"layer": 0, "head": 1, "kv_group": 2, "intermediate": 3, "hidden": 4}

p = argparse.ArgumentParser()
p.add_argument("--hf", required=True)
p.add_argument("--gates")
p.add_argument("--lambdas")
p.add_argument("--tokens", required=True)
p.add_argument("--loss-mask", help="int array like --tokens: 0 where a token's label does not count")
p.add_argument("--grads", required=True)
p.add_argument("--step", type=int, default=0)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--warmup", type=int, default=0)
p.add_argument("--target", action="append", default=[], help="family=size (kept per row)")
p.add_argument("--tol", type=float, default=1e-4)
p.add_argument("--min-error", type=float, default=0.0,
               help="the worst gradient's error must be at least this (bf16 runs: proof of rounding)")
p.add_argument("--teacher")
p.add_argument("--temperature", type=float, default=1.0)
p.add_argument("--alpha", type=float, default=0.5)
a = p.parse_args()

cfg, W, _ = llama_ref.load_hf(a.hf)
for t in W.values():
    t.requires_grad_(True)
tokens = torch.tensor(np.load(a.tokens).astype(np.int64))
ids, labels = tokens[:, :-1], tokens[:, 1:].clone()
if a.loss_mask:
    labels[torch.tensor(np.load(a.loss_mask))[:, 1:] == 0] = -100  # cross_entropy's ignore_index
targets = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in a.target)

log_alpha, masks, lambdas = {}, {}, {}


def projected(la):
    """log_alpha clamped to ±ln 100 as a projection: value clamped, gradient
    straight through (the reference code clamps the parameter in place)."""
    return la + (torch.clamp(la, -LIMIT, LIMIT) - la).detach()


if a.gates:
    for name, (_, arr) in safetensors_np.read(a.gates).items():
        fam = name[len("shear.gate."):]
        la = torch.tensor(np.asarray(arr, dtype=np.float64), requires_grad=True)
        log_alpha[fam] = la
        u = torch.tensor(philox.uniform(a.seed, a.step, STREAMS[fam], la.numel())).clamp(EPS, 1 - EPS)
        s = torch.sigmoid((torch.log(u) - torch.log(1 - u) + projected(la).flatten()) / BETA)
        masks[fam] = torch.clamp(s * (ZETA - GAMMA) + GAMMA, 0, 1).view(la.shape)
    lam_file = safetensors_np.read(a.lambdas) if a.lambdas else {}
    for fam in log_alpha:
        for which in ("lambda1", "lambda2"):
            key = f"shear.{which}.{fam}"
            v = float(lam_file[key][1]) if key in lam_file else 0.0
            lambdas[key] = torch.tensor(v, requires_grad=True)

logits = llama_ref.forward(cfg, W, ids, masks if masks else None)
lm = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
base = lm
if a.teacher:
    tcfg, TW, _ = llama_ref.load_hf(a.teacher)
    with torch.no_grad():
        tlogits = llama_ref.forward(tcfg, TW, ids)
    T = a.temperature
    log_ps = torch.log_softmax(logits / T, -1)
    log_pt = torch.log_softmax(tlogits / T, -1)
    kl_tok = (log_pt.exp() * (log_pt - log_ps)).sum(-1)
    counted = labels != -100
    kd = kl_tok[counted].mean()
    base = (1 - a.alpha) * lm + a.alpha * T * T * kd
lag = torch.tensor(0.0)
for fam, la in log_alpha.items():
    n = la.shape[-1]
    prob = torch.sigmoid(projected(la) - BETA * math.log(-GAMMA / ZETA))
    s_hat = 1 - prob.reshape(-1, n).sum(-1) / n
    t = 1 - targets[fam] / n
    if a.warmup:
        t *= min(1.0, a.step / a.warmup)
    d = s_hat - t
    lag = lag + (lambdas[f"shear.lambda1.{fam}"] * d + lambdas[f"shear.lambda2.{fam}"] * d * d).mean()
loss = base + lag
loss.backward()

ref = {f"grad:{k}": v.grad for k, v in W.items()}
ref.update({f"grad:shear.gate.{f}": la.grad for f, la in log_alpha.items()})
ref.update({f"grad:{k}": v.grad for k, v in lambdas.items()})
got = {k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, (_, v) in safetensors_np.read(a.grads).items()}
ok = True
checks = [("metric.loss", loss), ("metric.lm_loss", lm)] + ([("metric.kd_loss", kd)] if a.teacher else [])
for name, want in checks:
    err = abs(got[name].item() - want.item()) / abs(want.item())
    print(f"{name}: {got[name].item():.6f} vs {want.item():.6f} (relative error {err:.1e})")
    ok &= err <= a.tol
missing = sorted(set(ref) - set(got))
if missing:
    print(f"missing gradients: {missing}")
    ok = False
extra = sorted(k for k in set(got) - set(ref) if k.startswith("grad:"))
if extra:
    print(f"unexpected gradients: {extra}")
    ok = False
worst = (0.0, "")
for name, want in sorted(ref.items()):
    if name not in got:
        continue
    g = got[name].reshape(want.shape)
    scale = want.abs().max().item()
    err = (g - want).abs().max().item() / scale if scale > 0 else g.abs().max().item()
    if err > a.tol:
        print(f"{name}: relative error {err:.3e} (max |ref| {scale:.3e})")
        ok = False
    worst = max(worst, (err, name))
print(f"{len(ref)} gradients compared; worst relative error {worst[0]:.3e} ({worst[1]})")
if worst[0] < a.min_error:
    print(f"worst relative error below {a.min_error:.0e}: not the expected precision")
    ok = False
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
