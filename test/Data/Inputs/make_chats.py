#!/usr/bin/python3
"""make_chats.py: conversations for the shear-data chat tests in the current
directory: share.jsonl (ShareGPT: multi-turn, system turns, a line that is
not JSON, an answer with no question) and openai.jsonl (messages)."""
import json, random, sys
rng = random.Random(1)
w = "the quick brown fox jumps over lazy dog while rain falls on old stone def return value".split()
ph = lambda n: " ".join(rng.choice(w) for _ in range(n))
with open("share.jsonl", "w") as f:
    for i in range(30):
        conv = [{"from": "human", "value": ph(5) + "?"}, {"from": "gpt", "value": ph(8) + ".\n" + ph(3)}]
        if i % 7 == 0:  # an answer before any question, then two questions in a row
            conv = [{"from": "gpt", "value": "hello"}, {"from": "human", "value": ph(2)}] + conv
        if i % 3 == 0:
            conv += [{"from": "human", "value": ph(4)}, {"from": "gpt", "value": ph(6)}]
        if i % 5 == 0:
            conv = [{"from": "system", "value": "Be brief."}] + conv
        f.write(json.dumps({"id": str(i), "conversations": conv}) + "\n")
    f.write("not json\n")
    f.write(json.dumps({"conversations": [{"from": "gpt", "value": "orphan"}]}) + "\n")
with open("openai.jsonl", "w") as f:
    for i in range(20):
        f.write(json.dumps({"messages": [{"role": "user", "content": ph(6)}, {"role": "assistant", "content": ph(7)}]}) + "\n")
