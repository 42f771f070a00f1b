#!/usr/bin/python3
"""check_tasks.py --hf DIR --spm TOKENIZER.model --loglik L.jsonl --result R.json [--masks M] NAME=FILE...

An independent reference of zero-shot multiple-choice scoring as
lm-evaluation-harness does it: builds each layout's prompts from the task
files (harness formats), tokenizes with python3-sentencepiece (BOS first;
trailing context spaces moved to the continuation; the continuation's tokens
are those of context + continuation past the context's), scores the
continuation tokens with the float64 PyTorch reference of the model, and
derives acc / acc_norm (log-likelihood over the choice's UTF-8 length) and
their standard errors. Compares with shear-run eval --tasks: the same
context and continuation strings, log-likelihoods within 1e-5 relative, the
same greedy flags and metrics."""
import argparse
import json
import math
import re
import sys

import numpy as np
import sentencepiece as spm
import torch

import llama_ref

p = argparse.ArgumentParser()
p.add_argument("--hf", required=True)
p.add_argument("--spm", required=True)
p.add_argument("--loglik", required=True)
p.add_argument("--result", required=True)
p.add_argument("--masks")
p.add_argument("tasks", nargs="+")
a = p.parse_args()

sp = spm.SentencePieceProcessor(model_file=a.spm)
newline = sp.piece_to_id("\u23ce") != sp.unk_id()


def encode(text):
    return sp.encode(text.replace("\n", "\u23ce") if newline else text)


def hs_pre(text):
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def items_of(name, path):
    """[(contexts, continuations, choice_texts, gold)] per the harness."""
    out = []
    for line in open(path):
        if not line.strip():
            continue
        d = json.loads(line)
        if name.startswith("arc"):
            ch = d["choices"]["text"]
            out.append(([f"Question: {d['question']}\nAnswer:"] * len(ch), [" " + c for c in ch], ch,
                        d["choices"]["label"].index(d["answerKey"])))
        elif name.startswith("hellaswag"):
            ctx = d["ctx"] if "ctx" in d else d["ctx_a"] + " " + d["ctx_b"].capitalize()
            if "activity_label" in d:
                ctx = d["activity_label"] + ": " + ctx
            ends = [hs_pre(e) for e in d["endings"]]
            out.append(([hs_pre(ctx)] * len(ends), [" " + e for e in ends], ends, int(d["label"])))
        elif name.startswith("piqa"):
            sols = [d["sol1"], d["sol2"]]
            out.append(([f"Question: {d['goal']}\nAnswer:"] * 2, [" " + s for s in sols], sols, d["label"]))
        elif name.startswith("boolq"):
            ctx = f"{d['passage']}\nQuestion: {d['question']}?\nAnswer:"
            out.append(([ctx] * 2, [" no", " yes"], ["no", "yes"], 1 if d["answer"] else 0))
        elif name.startswith("winogrande"):
            i = d["sentence"].index("_")
            rest = " " + d["sentence"][i + 1:].strip()
            out.append(([d["sentence"][:i] + d["option1"], d["sentence"][:i] + d["option2"]], [rest, rest],
                        [rest, rest], int(d["answer"]) - 1))
        elif name.startswith("lambada"):
            ctx, last = d["text"].rsplit(" ", 1)
            out.append(([ctx], [" " + last], [last], 0))
        else:
            ch = d["choices"]
            out.append(([d["context"]] * len(ch), ch, ch, d["gold"]))
    return out


cfg, W, _ = llama_ref.load_hf(a.hf)
masks = llama_ref.load_masks(a.masks) if a.masks else None
got = [json.loads(l) for l in open(a.loglik)]
result = json.load(open(a.result))
k, worst, ok = 0, 0.0, True
for spec in a.tasks:
    name, path = spec.split("=")
    items = items_of(name, path)
    scores = []
    for ctxs, conts, texts, gold in items:
        row = []
        for ctx, cont in zip(ctxs, conts):
            g = got[k]
            k += 1
            if (g["task"], g["context"], g["continuation"]) != (name, ctx, cont):
                print(f"{name}: prompt differs: {g['context']!r} + {g['continuation']!r} vs {ctx!r} + {cont!r}")
                ok = False
            n = len(ctx) - len(ctx.rstrip(" "))
            if n:
                cont, ctx = ctx[-n:] + cont, ctx[:-n]
            ce = [sp.bos_id()] + encode(ctx)
            we = [sp.bos_id()] + encode(ctx + cont)
            targets = we[len(ce):]
            logits = llama_ref.forward(cfg, W, np.array([we[:-1]]), masks)[0]
            logp = torch.log_softmax(logits, dim=-1)
            first = len(we) - 1 - len(targets)
            ll = sum(logp[first + t, targets[t]].item() for t in range(len(targets)))
            greedy = all(int(logits[first + t].argmax()) == targets[t] for t in range(len(targets)))
            worst = max(worst, abs(g["loglik"] - ll) / max(1.0, abs(ll)))
            if g["greedy"] != greedy or g["tokens"] != len(targets):
                print(f"{name}: greedy/tokens differ for {ctx!r}")
                ok = False
            row.append(ll)
        scores.append((row, texts, gold))
    m = next(t for t in result["tasks"] if t["task"] == name)
    if name.startswith("lambada"):
        continue
    acc = [float(int(np.argmax(r)) == g) for r, _, g in scores]
    accn = [float(int(np.argmax([x / len(t.encode()) for x, t in zip(r, ts)])) == g) for r, ts, g in scores]
    se = lambda x: math.sqrt(np.var(x, ddof=1) / len(x))
    for key, want in [("acc", np.mean(acc)), ("acc_norm", np.mean(accn)), ("acc_stderr", se(acc)),
                      ("acc_norm_stderr", se(accn))]:
        if abs(m[key] - want) > 1e-12:
            print(f"{name}: {key} {m[key]} vs reference {want}")
            ok = False
    print(f"{name}: {len(items)} items, acc {np.mean(acc):.3f} acc_norm {np.mean(accn):.3f} match")
if k != len(got):
    print(f"{len(got)} scored choices, the reference has {k}")
    ok = False
print(f"log-likelihoods vs float64 reference: worst relative error {worst:.2e}")
sys.exit(0 if ok and worst < 1e-5 else 1)
