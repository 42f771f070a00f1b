#!/usr/bin/python3
"""check_chat_data.py DATA_DIR --spm TOKENIZER.model [--pad] [--system S] FILE...
                     [--hf DIR --eval-loss JSON]

An independent reference of shear-data chat: parses ShareGPT / OpenAI
conversations (system turns, answers before any question skipped, two user
turns in a row joined by a newline), renders the Vicuna v1.1 template,
tokenizes every turn's prompt and prompt + " " + answer with
python3-sentencepiece, and builds BOS + prompt (no loss) + answer tokens and
EOS (loss) per conversation, packed (or one per padded sequence). Checks the
shards and loss masks byte for byte. With --hf, also checks that the
held-out loss shear-run eval printed equals the float64 reference's
cross-entropy over the eval sequences with the masked labels ignored."""
import argparse
import json
import os
import sys

import numpy as np
import sentencepiece as spm

SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
          "helpful, detailed, and polite answers to the user's questions.")
p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("files", nargs="+")
p.add_argument("--spm", required=True)
p.add_argument("--pad", action="store_true")
p.add_argument("--system", default=SYSTEM)
p.add_argument("--hf")
p.add_argument("--eval-loss")
a = p.parse_args()

sp = spm.SentencePieceProcessor(model_file=a.spm)
newline = sp.piece_to_id("\u23ce") != sp.unk_id()
enc = lambda t: sp.encode(t.replace("\n", "\u23ce") if newline else t)

convs = []
for f in a.files:
    for line in open(f, encoding="utf-8"):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            continue
        msgs = d.get("conversations")
        rk, tk = "from", "value"
        if msgs is None:
            msgs, rk, tk = d.get("messages"), "role", "content"
        if not isinstance(msgs, list):
            continue
        system, turns, user = a.system, [], None
        for m in msgs:
            role, text = m[rk], m[tk]
            if role == "system":
                system = text
            elif role in ("human", "user"):
                user = text if user is None else user + "\n" + text
            elif user is not None:
                turns.append((user, text))
                user = None
        if turns:
            convs.append((system, turns))

n = json.load(open(os.path.join(a.data, "manifest.json")))["seq_len"] + 1
tokens, mask = [], []
for system, turns in convs:
    start = len(tokens)
    tokens.append(sp.bos_id()); mask.append(0)
    for i, (user, answer) in enumerate(turns):
        prompt = (system + " " if i == 0 and system else "") + "USER: " + user + " ASSISTANT:"
        pi, wi = enc(prompt), enc(prompt + " " + answer)
        tokens += pi + wi[len(pi):] + [sp.eos_id()]
        mask += [0] * len(pi) + [1] * (len(wi) - len(pi) + 1)
    if a.pad:
        del tokens[start + n:], mask[start + n:]
        while (len(tokens) - start) % n:
            tokens.append(sp.eos_id()); mask.append(0)
m = json.load(open(os.path.join(a.data, "manifest.json")))
dom = m["domains"][0]
k = dom["eval_sequences"]
seqs = len(tokens) // n
want_t = np.array(tokens[:seqs * n], dtype=np.uint16).reshape(seqs, n)
want_m = np.array(mask[:seqs * n], dtype=np.uint8).reshape(seqs, n)
rd = lambda f, dt: np.fromfile(os.path.join(a.data, dom[f]), dtype=dt).reshape(-1, n)
ok = (np.array_equal(rd("eval_file", np.uint16), want_t[:k]) and np.array_equal(rd("train_file", np.uint16), want_t[k:])
      and np.array_equal(rd("eval_mask_file", np.uint8), want_m[:k])
      and np.array_equal(rd("train_mask_file", np.uint8), want_m[k:]))
print(f"{len(convs)} conversations: {k} eval + {seqs - k} train sequences and masks "
      f"{'match' if ok else 'DIFFER'} ({int(want_m.sum())} loss tokens)")
if a.hf:
    import torch
    import llama_ref
    cfg, W, _ = llama_ref.load_hf(a.hf)
    ev = torch.tensor(want_t[:k].astype(np.int64))
    labels = ev[:, 1:].clone()
    labels[torch.tensor(want_m[:k])[:, 1:] == 0] = -100
    logits = llama_ref.forward(cfg, W, ev[:, :-1])
    ref = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)).item()
    got = json.loads(a.eval_loss)[dom["name"]]
    err = abs(got - ref) / abs(ref)
    print(f"held-out conversation loss {got:.6f} vs float64 reference {ref:.6f}: relative error {err:.1e}")
    ok = ok and err < 1e-5
sys.exit(0 if ok else 1)
