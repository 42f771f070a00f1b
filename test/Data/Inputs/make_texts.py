#!/usr/bin/python3
"""make_texts.py DIR: small text domains of different character (prose,
code with indentation and tabs, numbers) plus a binary file and an empty
file, for the shear-data text tests."""
import gzip
import os
import sys

root = sys.argv[1]
for d in ["prose", "code/sub", "numbers", "bad"]:
    os.makedirs(os.path.join(root, d), exist_ok=True)
words = "the quick brown fox jumps over the lazy dog while a gentle rain falls on old stone".split()
for i in range(4):
    with open(os.path.join(root, "prose", f"story{i}.txt"), "w") as f:
        for j in range(60):
            f.write(" ".join(words[(i * 7 + j * k) % len(words)] for k in range(1, 12)).capitalize() + ".\n")
            if j % 9 == 8:
                f.write("\n")
for i in range(3):
    with open(os.path.join(root, "code", "sub" if i else "", f"mod{i}.py"), "w") as f:
        for j in range(50):
            f.write(f"def f{i}_{j}(x, y):\n    if x > {j}:\n\treturn x * y + {i}\n    return y - x\n\n")
    with open(os.path.join(root, "code", f"notes{i}.md"), "w") as f:
        f.write("not matched by the *.py pattern\n")
with gzip.open(os.path.join(root, "numbers", "table.txt.gz"), "wt") as f:
    for j in range(400):
        f.write(f"{j:5d} {j * j:9d} {j * 3.25:10.2f}\n")
with open(os.path.join(root, "bad", "blob.bin"), "wb") as f:
    f.write(bytes(range(256)) * 4)
open(os.path.join(root, "empty.txt"), "w").close()
