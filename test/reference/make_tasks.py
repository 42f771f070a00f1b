#!/usr/bin/python3
"""make_tasks.py DIR: small task files in the layouts the datasets ship
(ARC, HellaSwag, PIQA, BoolQ, WinoGrande, LAMBADA, generic), seeded, for the
task-evaluation tests; plus malformed files for the error paths."""
import json
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(7)
words = ("the quick brown fox jumps over lazy dog while a gentle rain falls on old stone "
         "def return if else for x y value table number").split()


def phrase(n):
    return " ".join(rng.choice(words) for _ in range(n))


def write(name, rows):
    with open(os.path.join(out, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


write("arc.jsonl", [{"id": f"q{i}", "question": phrase(6) + "?",
                     "choices": {"text": [phrase(2 + j) for j in range(4)], "label": list("ABCD")},
                     "answerKey": "ABCD"[i % 4]} for i in range(5)]
      + [{"question": phrase(5), "choices": {"text": [phrase(3) for _ in range(3)], "label": ["1", "2", "3"]},
          "answerKey": "2"}])
write("hellaswag.jsonl", [{"activity_label": "Making tea", "ctx": phrase(7) + " [title] " + phrase(3),
                           "endings": [phrase(4) + " [step] " + phrase(2) for _ in range(4)], "label": i % 4}
                          for i in range(4)]
      + [{"ctx_a": phrase(5), "ctx_b": "then " + phrase(3), "endings": [phrase(3) for _ in range(4)],
          "label": "2"}])
write("piqa.jsonl", [{"goal": phrase(6), "sol1": phrase(5), "sol2": phrase(5), "label": i % 2} for i in range(5)])
write("boolq.jsonl", [{"passage": phrase(20) + ".\n" + phrase(10), "question": phrase(5),
                       "answer": bool(i % 2)} for i in range(4)])
write("winogrande.jsonl", [{"sentence": phrase(4) + " _ " + phrase(5) + ".", "option1": phrase(1),
                            "option2": phrase(2), "answer": str(1 + i % 2)} for i in range(5)])
write("lambada.jsonl", [{"text": phrase(12)} for _ in range(4)])
write("generic.jsonl", [{"context": phrase(5) + ":", "choices": [" " + phrase(2), " " + phrase(3), " yes"],
                         "gold": i % 3} for i in range(4)])
# Two items: with one shot each sees exactly the other.
write("two.jsonl", [{"context": "Q: first?\nA:", "choices": [" one", " two"], "gold": 0},
                    {"context": "Q: second?\nA:", "choices": [" three", " four"], "gold": 1}])
# Malformed.
with open(os.path.join(out, "bad-json.jsonl"), "w") as f:
    f.write(json.dumps({"goal": "g", "sol1": "a", "sol2": "b", "label": 0}) + "\n{\"goal\": \n")
write("bad-field.jsonl", [{"question": "q", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "A"},
                          {"question": "q", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "E"}])
write("bad-missing.jsonl", [{"passage": "p", "question": "q"}])
