#!/usr/bin/python3
"""compare_tokenizers.py NAME TOKENIZER_DIR FILE... : shear's tokenizer.json
implementation (shear-data encode/decode) against @huggingface/tokenizers
(test/onnx/bpe_encode.js, bpe_decode.js) on each file: line by line, the
whole file as one text, and line by line with the post-processor's special
tokens; then decoding. Prints one summary line per check; exits 1 on the
first difference, showing it."""
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
js = os.path.join(here, "..", "onnx")
name, tok = sys.argv[1], sys.argv[2]


def lines(out):
    """Output lines split at newlines only (not at U+2028, \\r, ...)."""
    parts = out.decode().split("\n")
    return parts[:-1] if parts and parts[-1] == "" else parts


def run(cmd, stdin=None):
    r = subprocess.run(cmd, input=stdin, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return r.stdout


for path in sys.argv[3:]:
    data = open(path, "rb").read()
    base = os.path.basename(path)
    for mode, js_flags, shear_flags in [("lines", [], []), ("whole", ["--whole"], ["--whole"]),
                                        ("special", ["--special"], ["--bos"])]:
        ref = lines(run(["node", os.path.join(js, "bpe_encode.js"), tok, path] + js_flags))
        got = lines(run(["shear-data", "encode", "--tokenizer", os.path.join(tok, "tokenizer.json")] + shear_flags,
                  data))
        if ref != got:
            for i, (a, b) in enumerate(zip(ref, got)):
                if a != b:
                    sys.exit(f"{name} {base} {mode}: line {i + 1} differs\n  reference: {a}\n  shear:     {b}")
            sys.exit(f"{name} {base} {mode}: {len(ref)} reference lines, {len(got)} from shear")
        ids = sum(len(line.split()) for line in ref)
        print(f"{name} {base} {mode}: {len(ref)} lines, {ids} ids, equal")
    # Decoding the reference's ids: the same text as the reference decoder.
    ids = run(["node", os.path.join(js, "bpe_encode.js"), tok, path])
    ref = [json.loads(l) for l in lines(run(["node", os.path.join(js, "bpe_decode.js"), tok], ids))]
    got = [json.loads(l) for l in lines(run(["shear-data", "decode", "--json", "--tokenizer", tok], ids))]
    if ref != got:
        bad = next(i for i, (a, b) in enumerate(zip(ref, got)) if a != b) if len(ref) == len(got) else -1
        sys.exit(f"{name} {base} decode: line {bad + 1} differs: {ref[bad]!r} vs {got[bad]!r}")
    text = data.decode("utf-8", errors="replace").split("\n")
    same = sum(a == b for a, b in zip(text, got))
    print(f"{name} {base} decode: {len(got)} lines equal to the reference's, {same} give the line back")
