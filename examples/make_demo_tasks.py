#!/usr/bin/python3
"""make_demo_tasks.py OUT_DIR [N]: two small downstream tasks from Debian text
the demo does not train on (the same on every Debian 12 machine):
  code_completion.jsonl  (generic layout) the rest of a Python line after two
                         lines of context: the true rest against three rests
                         of other lines, from the Python sources the corpus
                         leaves out (past its byte budget, read in reverse);
  license_lambada.jsonl  (LAMBADA layout) the last word of sentences from
                         /usr/share/common-licenses (not a corpus directory).
Seeded; N items each (default 200)."""
import glob
import json
import os
import random
import re
import sys

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
os.makedirs(out, exist_ok=True)
rng = random.Random(2026)

# Python: files in reverse order (the corpus reads them in order up to its budget).
lines_by_file = []
for path in sorted(glob.glob("/usr/lib/python3.11/**/*.py", recursive=True), reverse=True)[:400]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except (UnicodeDecodeError, OSError):
        continue
    lines_by_file.append(lines)
candidates = []
for lines in lines_by_file:
    for i in range(2, len(lines)):
        s = lines[i].strip()
        if 30 <= len(s) <= 90 and " " in s and not s.startswith("#"):
            candidates.append((lines[i - 2] + "\n" + lines[i - 1] + "\n", lines[i]))
rng.shuffle(candidates)


def split(line):
    """The line cut at the last space before its middle (after the indent)."""
    indent = len(line) - len(line.lstrip())
    cut = line.rfind(" ", indent + 1, len(line) // 2 + indent // 2)
    return (line[:cut], line[cut:]) if cut > indent else None


items = []
pool = [r for r in (split(line) for _, line in candidates[n:]) if r]
for ctx, line in candidates[:n]:
    parts = split(line)
    if not parts:
        continue
    head, rest = parts
    wrong = []
    while len(wrong) < 3:
        r = rng.choice(pool)[1]
        if r != rest and r not in wrong:
            wrong.append(r)
    gold = rng.randrange(4)
    choices = wrong[:gold] + [rest] + wrong[gold:]
    items.append({"context": ctx + head, "choices": choices, "gold": gold})
with open(os.path.join(out, "code_completion.jsonl"), "w") as f:
    for it in items:
        f.write(json.dumps(it) + "\n")

# Licences: sentences of 12-60 words ending in a word of letters.
sentences = []
for path in sorted(glob.glob("/usr/share/common-licenses/*")):
    if os.path.isdir(path):
        continue
    text = re.sub(r"\s+", " ", open(path, encoding="utf-8", errors="replace").read())
    for s in re.split(r"(?<=[.;:])\s", text):
        s = s.strip().rstrip(".;:")
        words = s.split(" ")
        if 12 <= len(words) <= 60 and re.fullmatch(r"[A-Za-z]+", words[-1]):
            sentences.append(s)
sentences = sorted(set(sentences))
rng.shuffle(sentences)
with open(os.path.join(out, "license_lambada.jsonl"), "w") as f:
    for s in sentences[:n]:
        f.write(json.dumps({"text": s}) + "\n")
print(f"tasks: {len(items)} code completions, {min(n, len(sentences))} licence last words in {out}")
