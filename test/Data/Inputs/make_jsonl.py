#!/usr/bin/python3
"""make_jsonl.py DIR: the same documents twice, as SlimPajama-style JSON
lines (plain, gzip and zstd compressed; extra metadata fields, escapes,
astral characters) in DIR/jsonl and as one plain-text file per document in
DIR/text (sorted names keep the order); the same documents under the field
"content" in DIR/content; and broken inputs for the error paths."""
import gzip
import json
import os
import subprocess
import sys

root = sys.argv[1]
for d in ["jsonl", "text", "content", "bad"]:
    os.makedirs(os.path.join(root, d), exist_ok=True)
words = ("the quick brown fox jumps over the lazy dog while a gentle rain falls on old stone "
         "déjà vu naïve café 東京 😀 🇫🇷").split()
docs = []
for i in range(90):
    lines = []
    for j in range(3 + i % 5):
        lines.append(" ".join(words[(i * 7 + j * k) % len(words)] for k in range(1, 10 + i % 7)))
        if j % 3 == 2:
            lines.append("")  # a blank line inside a document
    if i % 11 == 0:
        lines.append("\tindented\tcode = {\"k\": [1, 2]}  \\ back\\slash")
    docs.append("\n".join(lines) + ("\n" if i % 2 else ""))

for i, doc in enumerate(docs):
    with open(os.path.join(root, "text", f"doc{i:03d}.txt"), "w", encoding="utf-8") as f:
        f.write(doc)


def lines(part, field="text"):
    out = []
    for i, doc in part:
        rec = {"meta": {"redpajama_set_name": "RedPajamaBook", "n": i}, field: doc}
        # Half the records escape everything non-ASCII (\u00e9, surrogate pairs).
        out.append(json.dumps(rec, ensure_ascii=bool(i % 2)))
    return "\n".join(out) + "\n"


numbered = list(enumerate(docs))
with open(os.path.join(root, "jsonl", "part-00.jsonl"), "w", encoding="utf-8") as f:
    f.write(lines(numbered[:30]).replace("\n", "\r\n", 3))  # a few CRLF line ends
with gzip.open(os.path.join(root, "jsonl", "part-01.jsonl.gz"), "wt", encoding="utf-8") as f:
    f.write(lines(numbered[30:60]))
plain = os.path.join(root, "jsonl", "part-02.jsonl")
with open(plain, "w", encoding="utf-8") as f:
    f.write(lines(numbered[60:]))
subprocess.run(["zstd", "-q", "--rm", "-19", plain, "-o", plain + ".zst"], check=True)
with open(os.path.join(root, "content", "all.jsonl"), "w", encoding="utf-8") as f:
    f.write(lines(numbered, "content"))

# Malformed lines among good ones: not JSON, no text field, a number as text.
with open(os.path.join(root, "bad", "mixed.jsonl"), "w", encoding="utf-8") as f:
    body = lines(numbered).splitlines()
    body.insert(5, '{"text": "unterminated')
    body.insert(9, '{"meta": {}}')
    body.insert(12, '{"text": 42}')
    f.write("\n".join(body) + "\n")
# Truncated compressed files.
data = open(plain + ".zst", "rb").read()
open(os.path.join(root, "bad", "cut.jsonl.zst"), "wb").write(data[: len(data) // 2])
data = gzip.compress(lines(numbered).encode())
open(os.path.join(root, "bad", "cut.jsonl.gz"), "wb").write(data[: len(data) // 2])
