#!/usr/bin/python3
"""report.py DEMO_DIR: the demo's report, DEMO_DIR/report.md with PNG plots:
training loss of both arms (pruning + continued pre-training vs training the
same shape from scratch, on the same tokens), domain weights over time,
expected sparsity converging to its target; the table of held-out losses
(printed too); and one table and plot per comparison: shear's pruning
against the from-scratch and random sub-structure baselines, dynamic batch
loading against a fixed mix, distillation against none."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

root = sys.argv[1]
timings = json.load(open(os.path.join(root, "timings.json")))


def records(run):
    return [json.loads(line) for line in open(os.path.join(root, run, "metrics.jsonl"))]


def run_info(run):
    return json.load(open(os.path.join(root, run, "run.json")))


prune, cont, scratch = records("prune"), records("continue"), records("scratch")
tokens_per_step = {r: run_info(r)["batch"] * run_info(r)["seq_len"] for r in ("prune", "continue", "scratch")}


def smooth(values, k=10):
    out, acc = [], []
    for v in values:
        acc.append(v)
        acc = acc[-k:]
        out.append(sum(acc) / len(acc))
    return out


# 1. Training loss of both arms against tokens.
fig, ax = plt.subplots(figsize=(7, 4))
x1 = [r["step"] * tokens_per_step["prune"] for r in prune]
off = x1[-1]
x2 = [off + r["step"] * tokens_per_step["continue"] for r in cont]
ax.plot(x1, smooth([r["lm_loss"] for r in prune]), label="pruning (masked source)")
ax.plot(x2, smooth([r["lm_loss"] for r in cont]), label="continued pre-training (compact)")
ax.plot([r["step"] * tokens_per_step["scratch"] for r in scratch], smooth([r["lm_loss"] for r in scratch]),
        label="same shape from scratch")
ax.axvline(off, color="gray", lw=0.5)
ax.set_xlabel("tokens")
ax.set_ylabel("training LM loss (10-step mean)")
ax.legend()
ax.set_title("Pruning + continued pre-training vs from scratch")
fig.tight_layout()
fig.savefig(os.path.join(root, "loss.png"), dpi=110)

# 2. Domain weights over time (dynamic batch loading).
fig, ax = plt.subplots(figsize=(7, 4))
domains = sorted(prune[0]["domain_weights"])
for d in domains:
    ax.plot(x1 + x2, [r["domain_weights"][d] for r in prune] + [r["domain_weights"][d] for r in cont], label=d)
ax.axvline(off, color="gray", lw=0.5)
ax.set_xlabel("tokens")
ax.set_ylabel("sampling weight")
ax.set_title("Domain weights (dynamic batch loading)")
ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(root, "domain_weights.png"), dpi=110)

# 3. Expected sparsity per family vs its (warming-up) target.
fig, ax = plt.subplots(figsize=(7, 4))
steps = [r["step"] for r in prune]
for fam in sorted(prune[0]["expected_sparsity"]):
    line, = ax.plot(steps, [r["expected_sparsity"][fam] for r in prune], label=fam)
    ax.plot(steps, [r["target_sparsity"][fam] for r in prune], ls="--", color=line.get_color(), lw=0.8)
ax.set_xlabel("pruning step")
ax.set_ylabel("expected sparsity (dashed: target)")
ax.set_title("Expected sparsity converging to the target")
ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(root, "sparsity.png"), dpi=110)

rows = [("source (pre-trained)", "source"), ("pruned", "pruned"),
        ("pruned + continued", "continued"), ("from scratch (same shape, same tokens)", "scratch"),
        ("random sub-structure + continued (same tokens)", "random"),
        ("pruned + continued, fixed data mix", "fixed"),
        ("pruned + continued, no distillation", "nokd")]
rows = [r for r in rows if os.path.exists(os.path.join(root, f"eval-{r[1]}.json"))]
evals = {key: json.load(open(os.path.join(root, f"eval-{key}.json"))) for _, key in rows}
doms = sorted(evals["source"])
header = "| model | params | " + " | ".join(doms) + " | mean |"
lines = [header, "|" + "---|" * (len(doms) + 3)]
params = timings.get("params", {})
for name, key in rows:
    e = evals[key]
    mean = sum(e.values()) / len(e)
    lines.append(f"| {name} | {params.get(key, params.get('pruned', '') if key in ('random', 'fixed', 'nokd') else '')} | "
                 + " | ".join(f"{e[d]:.4f}" for d in doms) + f" | {mean:.4f} |")
table = "\n".join(lines)


def mean_of(key):
    return sum(evals[key].values()) / len(evals[key])


def comparison(png, title, arms):
    """A table (per domain, mean, wins of the first arm) and a grouped bar plot."""
    arms = [(label, key) for label, key in arms if key in evals]
    out = ["| arm | " + " | ".join(doms) + " | mean |", "|---|" + "---:|" * (len(doms) + 1)]
    for label, key in arms:
        out.append(f"| {label} | " + " | ".join(f"{evals[key][d]:.4f}" for d in doms) + f" | {mean_of(key):.4f} |")
    first = arms[0][1]
    notes = []
    for label, key in arms[1:]:
        wins = sum(evals[first][d] < evals[key][d] for d in doms)
        notes.append(f"{arms[0][0]} − {label}: {mean_of(first) - mean_of(key):+.4f} on the mean "
                     f"({arms[0][0]} lower on {wins} of {len(doms)} domains)")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(arms)
    for i, (label, key) in enumerate(arms):
        ax.bar([j + i * width for j in range(len(doms) + 1)], [evals[key][d] for d in doms] + [mean_of(key)],
               width, label=label)
    ax.set_xticks([j + width * (len(arms) - 1) / 2 for j in range(len(doms) + 1)])
    ax.set_xticklabels(doms + ["mean"])
    lo = min(min(evals[k].values()) for _, k in arms)
    ax.set_ylim(lo - 0.3, None)
    ax.set_ylabel("held-out loss")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(root, png), dpi=110)
    return "\n".join(out) + "\n\n" + "; ".join(notes) + f".\n\n![{title}]({png})\n"


sections = [
    ("Shear's pruning against the baselines at equal tokens", "baselines.png",
     [("pruned + continued", "continued"), ("from scratch", "scratch"),
      ("random sub-structure + continued", "random")]),
    ("Dynamic batch loading against a fixed data mix (continued pre-training)", "dbl.png",
     [("dynamic batch loading", "continued"), ("fixed mix", "fixed")]),
    ("Distillation from the source against none (continued pre-training)", "distillation.png",
     [("distillation", "continued"), ("no distillation", "nokd")]),
]
comparisons = "\n".join(f"### {title}\n\n" + comparison(png, title, arms) for title, png, arms in sections
                         if all(key in evals for _, key in arms[:2]))

# Downstream tasks (accuracy: higher is better; LAMBADA perplexity: lower).
task_lines = ["| model | " + " | ".join(["code completion acc", "acc_norm", "licence last-word acc",
                                         "perplexity"]) + " |", "|---|---:|---:|---:|---:|"]
for name, key in rows:
    path = os.path.join(root, f"tasks-{key}.json")
    if not os.path.exists(path):
        continue
    t = {x["task"]: x for x in json.load(open(path))["tasks"]}
    cc, lb = t["code_completion"], t["lambada_licenses"]
    task_lines.append(f"| {name} | {cc['acc']:.3f} ± {cc['acc_stderr']:.3f} | {cc['acc_norm']:.3f} | "
                      f"{lb['acc']:.3f} ± {lb['acc_stderr']:.3f} | {lb['perplexity']:.3g} |")
n_items = {x["task"]: x["count"] for x in json.load(open(os.path.join(root, "tasks-source.json")))["tasks"]} \
    if os.path.exists(os.path.join(root, "tasks-source.json")) else {}
task_table = "\n".join(task_lines)
last = prune[-1]
sparsity = ", ".join(f"{f} {last['expected_sparsity'][f]:.3f}/{last['target_sparsity'][f]:.3f}"
                     for f in sorted(last["expected_sparsity"]))
tokens_arm = x2[-1]
tokens_scratch = scratch[-1]["step"] * tokens_per_step["scratch"]
better = evals["continued"]
verdict = sum(better.values()) < sum(evals["scratch"].values())
report = f"""# shear demo report

Measured {timings['date']} on {timings['machine']}; the whole demo took {timings['total_s'] / 60:.1f} minutes.

Corpus: {", ".join(doms)} (Debian-installed text; see data/corpus.json), SentencePiece BPE vocabulary
{timings['vocab']}, sequences of {timings['seq']} tokens.

Source: {timings['source_shape']}, pre-trained from scratch for {timings['pretrain_steps']} steps.
Target: {timings['target_shape']}.

Held-out loss per domain (lower is better):

{table}

Downstream tasks (`shear-run eval --tasks`, zero-shot; made by examples/make_demo_tasks.py from Debian
text outside the corpus: {n_items.get('code_completion', 0)} Python line completions with four choices — chance
0.25 —, {n_items.get('lambada_licenses', 0)} last words of licence sentences):

{task_table}

Pruning ({len(prune)} steps) ended with expected/target sparsity {sparsity}.
Pruning + continued pre-training saw {tokens_arm:,} tokens; the from-scratch model {tokens_scratch:,}.
The pruned and continued model is {"better" if verdict else "not better"} than the from-scratch one on the mean held-out loss.

## Comparisons

""" + comparisons + """
| stage | seconds |
|---|---:|
""" + "\n".join(f"| {k} | {v:.0f} |" for k, v in timings["stages"].items()) + """

![training loss](loss.png)
![domain weights](domain_weights.png)
![expected sparsity](sparsity.png)
"""
open(os.path.join(root, "report.md"), "w").write(report)
print(table)
print()
print(task_table)
print()
print(comparisons)
print(f"\npruned + continued {'beats' if verdict else 'does not beat'} from scratch on mean held-out loss")
print(f"report: {os.path.join(root, 'report.md')}")
