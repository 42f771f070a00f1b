#!/usr/bin/python3
"""check_corpus.py DATA_DIR/corpus.json RECORDED.json: says whether this
machine's demo corpus was made of the same files (paths and sizes) as the
recorded run's, and if not, how it differs: the demo's numbers in
docs/demo.md hold for the recorded corpus. --write records this one."""
import json
import sys

here = json.load(open(sys.argv[1]))
files = {d["domain"]: [(f["path"], f["bytes"]) for f in d.get("files", [])] for d in here["domains"]}
if len(sys.argv) > 3 and sys.argv[3] == "--write":
    json.dump({"domains": {d: [{"path": p, "bytes": b} for p, b in fs] for d, fs in files.items()}},
              open(sys.argv[2], "w"), indent=1)
    print(f"corpus: recorded {sum(len(f) for f in files.values())} files in {sys.argv[2]}")
    sys.exit(0)
try:
    recorded = {d: [(f["path"], f["bytes"]) for f in fs] for d, fs in json.load(open(sys.argv[2]))["domains"].items()}
except OSError:
    print(f"corpus: no recorded corpus ({sys.argv[2]}) to compare with")
    sys.exit(0)
diffs = []
for d in sorted(set(files) | set(recorded)):
    a, b = dict(files.get(d, [])), dict(recorded.get(d, []))
    missing = sorted(set(b) - set(a))
    extra = sorted(set(a) - set(b))
    changed = sorted(p for p in set(a) & set(b) if a[p] != b[p])
    if missing or extra or changed:
        diffs.append(f"{d}: {len(missing)} recorded files not read here, {len(extra)} other files read, "
                     f"{len(changed)} of another size" +
                     (f" (e.g. {(missing or extra or changed)[0]})" if missing or extra or changed else ""))
total = sum(len(f) for f in recorded.values())
if diffs:
    print(f"corpus: DIFFERS from the recorded run's {total} files, so the losses will differ from docs/demo.md:")
    for line in diffs:
        print("  " + line)
else:
    print(f"corpus: the same {total} files (paths and sizes) as the recorded run of docs/demo.md")
