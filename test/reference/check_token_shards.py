#!/usr/bin/python3
"""check_token_shards.py DATA_DIR DOMAIN BOS EOS IDS_FILE...: the domain's
eval and train shards hold exactly BOS + ids + EOS of each document in turn
(BOS and EOS: token names, looked up in DATA_DIR/tokenizer.json's added tokens)
(each IDS_FILE: one line of a document's token ids from an independent
tokenizer), cut into sequences of seq_len + 1, eval first."""
import json
import os
import sys

import numpy as np

data, name = sys.argv[1], sys.argv[2]
added = {t["content"]: t["id"] for t in json.load(open(os.path.join(data, "tokenizer.json")))["added_tokens"]}
bos, eos = added[sys.argv[3]], added[sys.argv[4]]
manifest = json.load(open(os.path.join(data, "manifest.json")))
dom = next(d for d in manifest["domains"] if d["name"] == name)
dtype = np.uint16 if manifest["token_dtype"] == "uint16" else np.uint32
n = manifest["seq_len"] + 1
stream = []
for f in sys.argv[5:]:
    stream += [bos] + [int(x) for x in open(f).read().split()] + [eos]
seqs = len(stream) // n
want = np.array(stream[:seqs * n], dtype=dtype).reshape(seqs, n)
ev = np.fromfile(os.path.join(data, dom["eval_file"]), dtype=dtype).reshape(-1, n)
tr = np.fromfile(os.path.join(data, dom["train_file"]), dtype=dtype).reshape(-1, n)
k = dom["eval_sequences"]
if not (np.array_equal(ev, want[:k]) and np.array_equal(tr, want[k:])):
    sys.exit(f"{name}: the shards differ from the reference stream")
print(f"{name}: {k} eval + {len(tr)} train sequences match the reference tokens")
