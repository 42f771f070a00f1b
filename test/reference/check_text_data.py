#!/usr/bin/python3
"""check_text_data.py DATA_DIR name=FILE[,FILE...] ...

Re-encodes each domain's files (each smaller than 64 KiB: one document per
file, in sorted order) with Debian's python3-sentencepiece and the data's
tokenizer.model, independently of shear: BOS + ids + EOS per document, cut
into sequences of seq_len + 1. Checks that the eval file holds exactly the
first eval_sequences sequences and the train file the rest (so they never
overlap), and that decoding a document's tokens gives back its text."""
import json
import os
import sys

import numpy as np
import sentencepiece as spm

NEWLINE = "\u23ce"
data = sys.argv[1]
manifest = json.load(open(os.path.join(data, "manifest.json")))
sp = spm.SentencePieceProcessor(model_file=os.path.join(data, "tokenizer.model"))
has_newline = sp.piece_to_id(NEWLINE) != sp.unk_id()
dtype = np.uint16 if manifest["token_dtype"] == "uint16" else np.uint32
n = manifest["seq_len"] + 1
ok = True
for arg in sys.argv[2:]:
    name, files = arg.split("=")
    dom = next(d for d in manifest["domains"] if d["name"] == name)
    stream, roundtrip = [], True
    for f in sorted(files.split(",")):
        text = open(f, encoding="utf-8").read()
        ids = sp.encode(text.replace("\n", NEWLINE) if has_newline else text)
        back = sp.decode(ids)
        back = back.replace(NEWLINE, "\n") if has_newline else back
        roundtrip &= back == text
        stream += [sp.bos_id()] + ids + [sp.eos_id()]
    seqs = len(stream) // n
    want = np.array(stream[:seqs * n], dtype=dtype).reshape(seqs, n)
    ev = np.fromfile(os.path.join(data, dom["eval_file"]), dtype=dtype).reshape(-1, n)
    tr = np.fromfile(os.path.join(data, dom["train_file"]), dtype=dtype).reshape(-1, n)
    k = dom["eval_sequences"]
    same = (len(ev) == k and np.array_equal(ev, want[:k]) and np.array_equal(tr, want[k:]))
    print(f"{name}: {len(ev)} eval + {len(tr)} train sequences {'match' if same else 'DIFFER'}; "
          f"text round trip {'exact' if roundtrip else 'DIFFERS'}")
    ok &= same and roundtrip
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
