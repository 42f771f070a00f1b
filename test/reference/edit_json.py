#!/usr/bin/python3
"""edit_json.py FILE KEY=JSON ...: sets top-level keys (KEY may be a.b.c,
or a list index a.0) of a JSON file to JSON values, to make bad input."""
import json
import sys

path = sys.argv[1]
doc = json.load(open(path))
for assignment in sys.argv[2:]:
    key, value = assignment.split("=", 1)
    parts = key.split(".")
    node = doc
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = json.loads(value)
    else:
        node[last] = json.loads(value)
json.dump(doc, open(path, "w"), indent=2)
