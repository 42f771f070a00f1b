#!/usr/bin/python3
"""spm_encode.py TOKENIZER.model TEXT_FILE: python3-sentencepiece's ids of the
file's text (newlines as the model's "⏎" symbol when it has one, as shear-data
encodes), as 'prompt: ID ID ...' and as a comma list on the second line."""
import sys

import sentencepiece as spm

sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
text = open(sys.argv[2], encoding="utf-8", newline="").read()
if sp.piece_to_id("\u23ce") != sp.unk_id():
    text = text.replace("\n", "\u23ce")
ids = sp.encode(text)
print("prompt: " + " ".join(map(str, ids)))
print(",".join(map(str, ids)))
