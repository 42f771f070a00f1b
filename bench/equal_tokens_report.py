#!/usr/bin/python3
"""equal_tokens_report.py RESULTS.jsonl SOURCE_EVAL.json PROBLEM: the study's
table (mean ± std over seeds of the mean held-out loss, of each domain's and
of the worst domain's), the verdict of shear's recipe against every one-shot
choice at each split (ahead when the ±1 std intervals do not overlap), and
equal_tokens.png."""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = [json.loads(l) for l in open(sys.argv[1])]
source = json.load(open(sys.argv[2]))
problem = sys.argv[3]
domains = sorted(source)
names = {"scratch": "from scratch", "random": "random + CPT", "magnitude": "magnitude + CPT",
         "activation": "activation + CPT", "activation-kd": "activation + CPT with distillation",
         "activation-kd-restart": "activation + CPT with distillation, two schedules",
         "paper": "learned, paper's recipe, + CPT", "shear": "learned, shear's recipe, + CPT"}
one_shot = ["random", "magnitude", "activation", "activation-kd", "activation-kd-restart"]
splits = sorted({r["split"] for r in rows if r["split"]})


def ms(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def cell(xs):
    m, s = ms(xs)
    return f"{m:.3f} ± {s:.3f}"


groups = {}
for r in rows:
    groups.setdefault((r["method"], r["split"]), []).append(r["loss"])
stats = {}
for key, runs in groups.items():
    mean = [sum(l.values()) / len(l) for l in runs]
    worst = [max(l.values()) for l in runs]
    stats[key] = {"mean": mean, "worst": worst, "n": len(runs),
                  **{d: [l[d] for l in runs] for d in domains}}

order = [m for m in names if any(k[0] == m for k in stats)]
print(f"Held-out loss at equal tokens ({problem}; mean ± std over seeds; lower is better)\n")
print("| method | pruning share | seeds | mean | worst domain | " + " | ".join(domains) + " |")
print("|---|---:|---:|---:|---:|" + "---:|" * len(domains))
print("| source (unpruned) | | | " + f"{sum(source.values()) / len(source):.3f} | {max(source.values()):.3f} | " +
      " | ".join(f"{source[d]:.3f}" for d in domains) + " |")
for m in order:
    for key in sorted(k for k in stats if k[0] == m):
        s = stats[key]
        share = f"{key[1]}%" if key[1] else "0%"
        print(f"| {names[m]} | {share} | {s['n']} | {cell(s['mean'])} | {cell(s['worst'])} | " +
              " | ".join(cell(s[d]) for d in domains) + " |")

print()
for split in splits:
    me = stats.get(("shear", split))
    if not me:
        continue
    for other in one_shot + ["paper"]:
        key = (other, split) if other in ("paper", "activation-kd-restart") else (other, 0)
        if key not in stats:
            continue
        verdicts = []
        for what in ["mean", "worst"]:
            a, sa = ms(me[what])
            b, sb = ms(stats[key][what])
            ahead = a + sa < b - sb
            verdicts.append(f"{what} {a:.3f} vs {b:.3f}: " +
                            ("ahead beyond 1 std" if ahead else ("ahead within 1 std" if a < b else "not ahead")))
        print(f"- shear's recipe at {split}% vs {names[other]}: " + "; ".join(verdicts))

fig, ax = plt.subplots(figsize=(9, 4))
labels, means, stds = [], [], []
for m in order:
    for key in sorted(k for k in stats if k[0] == m):
        labels.append(names[m].replace(" + CPT", "").replace(", ", "\n") + (f"\n{key[1]}%" if key[1] else ""))
        mm, ss = ms(stats[key]["mean"])
        means.append(mm)
        stds.append(ss)
ax.bar(range(len(labels)), means, yerr=stds, capsize=3,
       color=["tab:green" if "shear" in l else "tab:gray" for l in labels])
ax.set_xticks(range(len(labels)))
ax.set_xticklabels(labels, fontsize=7)
ax.set_ylim(min(means) - 0.2, max(means) + 0.1)
ax.set_ylabel("mean held-out loss")
ax.set_title(f"equal tokens, {problem}")
fig.tight_layout()
fig.savefig("equal_tokens.png", dpi=110)
print("\nplot: equal_tokens.png")
