#!/usr/bin/python3
"""check_hf_tokenizer.py HF_DIR TEXT_FILE: the exported tokenizer.json, read by
an independent implementation (@huggingface/tokenizers, test/onnx/tokenize.js),
encodes the text to the ids python3-sentencepiece gives with the directory's
tokenizer.model (newlines as the model's "⏎" symbol when it has one, as
shear-data encodes), and decodes them back to the text."""
import json
import os
import subprocess
import sys

import sentencepiece as spm

hf, text_file = sys.argv[1], sys.argv[2]
text = open(text_file, encoding="utf-8", newline="").read()  # \r\n kept
sp = spm.SentencePieceProcessor(model_file=os.path.join(hf, "tokenizer.model"))
newline = sp.piece_to_id("\u23ce") != sp.unk_id()
want = sp.encode(text.replace("\n", "\u23ce") if newline else text)
js = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx", "tokenize.js")
out = subprocess.run(["node", js, hf, text_file], capture_output=True, text=True, check=True)
lines = out.stdout.split("\n")
got = [int(x) for x in lines[0].split()]
decoded = json.loads(lines[1])
same = got == want
if not same:
    first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    print(f"ids differ at {first}: tokenizers.js {got[first:first + 8]} vs sentencepiece "
          f"{want[first:first + 8]} ({len(got)} vs {len(want)} ids)")
bytes_ids = sum(1 for i in want if sp.is_byte(i))
print(f"{len(text)} characters, {len(want)} ids ({bytes_ids} byte fallbacks): "
      f"{'the same ids' if same else 'DIFFERENT ids'}; decoded text "
      f"{'equals the input' if decoded == text else 'DIFFERS'}")
sys.exit(0 if same and decoded == text else 1)
