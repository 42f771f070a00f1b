#!/usr/bin/env bash
# The embedded-default demo (`make demo`): the whole method on this machine.
#   1. a corpus of five domains of Debian-installed text (fortunes, licence
#      texts, C headers, Python sources, LLVM TableGen), a SentencePiece BPE
#      tokenizer trained on it, held-out sets split off first;
#   2. a small LLaMA-3-style source model (GQA) pre-trained from scratch, the
#      stand-in for a strong public model (cached: a second run skips it);
#   3. pruning to a smaller target shape with shear's recipe, shear-run prune's default
#      (docs/pruning-study.md): gates started from activation importance,
#      weights, gates and multipliers (pi controller) learned together with
#      dynamic batch loading and distillation from the source;
#   4. finalize + materialize (logits checked against the masked model);
#   5. continued pre-training of the compact model (DBL, distillation);
#   6. baselines on as many tokens as pruning + continued pre-training
#      together: the target shape trained from scratch (the paper's), and a
#      random sub-structure of the source continued for the whole budget;
#      and the two additions measured on continued pre-training: a fixed data
#      mix instead of dynamic batch loading, no distillation instead of it;
#   7. every model evaluated on every domain's held-out set and on two small
#      downstream tasks made from Debian text outside the corpus; the final model
#      exported to HF (checked against float64 PyTorch) and ONNX (checked with
#      onnxruntime), a sample generated; report.md with plots.
# DEMO_SCALE=tiny runs every stage on tiny sizes (the CI test does).
set -euo pipefail
# OpenBLAS picks its kernels from the CPU; an OPENBLAS_CORETYPE inherited
# from the environment (this project's build machines set Haswell, half the
# sgemm speed of their AVX-512 cores) would make the demo slower than on a
# user's machine.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
BUILD=${1:-build}
BIN=$(cd "$BUILD/bin" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCALE=${DEMO_SCALE:-full}
OUT=${DEMO_OUT:-$ROOT/$BUILD/demo}
CACHE=${DEMO_CACHE:-$ROOT/$BUILD/demo-cache/$SCALE}
PY=/usr/bin/python3
REF=$ROOT/test/reference
export PATH="$BIN:$PATH"

if [ "$SCALE" = tiny ]; then
  SEQ=32 BATCH=4 VOCAB=400 MAXB=60000 SAMPLE=40000 EVAL=4
  SRC="--layers 2 --hidden 64 --heads 4 --kv-heads 2 --intermediate 96"
  TGT="--layers 1 --hidden 32 --heads 2 --kv-heads 1 --intermediate 48"
  TARGET="layers=1,heads=2,kv-heads=1,hidden=32,intermediate=48"
  PRE=20 PRUNE=20 CPT=10 EVERY=5 TASK_ITEMS=20 TASK_LEN=128
else
  SEQ=128 BATCH=16 VOCAB=4096 MAXB=2000000 SAMPLE=1000000 EVAL=32
  SRC="--layers 6 --hidden 256 --heads 8 --kv-heads 4 --intermediate 704"
  TGT="--layers 4 --hidden 128 --heads 4 --kv-heads 2 --intermediate 352"
  TARGET="layers=4,heads=4,kv-heads=2,hidden=128,intermediate=352"
  PRE=400 PRUNE=80 CPT=80 EVERY=20 TASK_ITEMS=200 TASK_LEN=$SEQ
fi
SCRATCH=$((PRUNE + CPT))
RUN_OPTS="--batch $BATCH --threads 2"

rm -rf "$OUT" && mkdir -p "$OUT/masked" "$OUT/compact" "$OUT/random" "$CACHE"
cd "$OUT"
declare -A STAGE
START=$(date +%s.%N)
stage_start() { printf '\n== %s\n' "$*"; T0=$(date +%s.%N); }
stage_end() { STAGE[$1]=$(echo "$(date +%s.%N) - $T0" | bc); }

stage_start "1. corpus and tokenizer (cached in $CACHE)"
if [ ! -f "$CACHE/data/manifest.json" ]; then
  shear-data text --seq $SEQ --eval-seqs $EVAL --vocab-size $VOCAB --max-bytes $MAXB \
      --sample-bytes $SAMPLE -o "$CACHE/data" \
      fortunes=/usr/share/games/fortunes:!*.dat,!*.u8 \
      licenses=/usr/share/doc:copyright \
      c=/usr/include:*.h \
      python=/usr/lib/python3.11:*.py \
      tablegen=/usr/lib/llvm-22/include:*.td
fi
ln -s "$CACHE/data" data
# The numbers in docs/demo.md hold for the recorded corpus: say whether this
# machine's Debian files are the same.
[ "$SCALE" = full ] && $PY "$ROOT/examples/check_corpus.py" data/corpus.json "$ROOT/examples/demo-corpus.json"
stage_end data

stage_start "2. source model: pre-training from scratch (cached)"
if [ ! -f "$CACHE/pretrain/final/model.mlir" ]; then
  rm -rf "$CACHE/pretrain" "$CACHE/source-init"
  $PY "$REF/make_tiny_hf.py" --out "$CACHE/source-init" $SRC --vocab $VOCAB --rope llama3 --seed 1 > /dev/null
  shear-translate --import-hf "$CACHE/source-init" -o "$CACHE/source-init.mlir"
  shear-run train "$CACHE/source-init.mlir" --data data --out "$CACHE/pretrain" --steps $PRE \
      --lr 3e-3 --eval-every 0 --dbl off --log-every $((PRE / 4)) $RUN_OPTS
else
  echo "reusing $CACHE/pretrain"
fi
SOURCE=$CACHE/pretrain/final/model.mlir
# The source's held-out losses are the reference losses of dynamic batch
# loading in every later run: domains the small model lags the source on
# are sampled more.
shear-run eval "$SOURCE" --data data > eval-source.json
stage_end pretrain

stage_start "3. prune to $TARGET (shear's recipe)"
shear-opt "$SOURCE" --insert-masks --target-shape=$TARGET -o masked/masked.mlir
# shear-run prune's default recipe (docs/user-guide.md): gates start at the
# sub-structure activation importance on the training data picks (64
# calibration sequences), the pi controller holds the target, the source
# teaches (distillation).
shear-run prune masked/masked.mlir --data data --out prune --steps $PRUNE --lr 1e-3 --calib-seqs 64 \
    --ref-loss eval-source.json --eval-every $EVERY --log-every $EVERY $RUN_OPTS
KD="--distill-from $SOURCE"
stage_end prune

stage_start "4. finalize and materialize"
shear-opt prune/final/model.mlir --finalize-masks --materialize-shapes -o compact/compact.mlir
shear-opt prune/final/model.mlir --finalize-masks -o masked/final.mlir
$PY "$REF/make_tokens.py" check.npy --vocab $VOCAB --shape 2,$SEQ
shear-run eval masked/final.mlir --tokens check.npy --logits-out masked.npy
shear-run eval compact/compact.mlir --tokens check.npy --logits-out compact.npy
printf 'masked model vs compact model logits: '
$PY "$REF/compare_npy.py" compact.npy masked.npy --tol 1e-5
stage_end materialize

stage_start "5. continued pre-training of the compact model"
shear-run train compact/compact.mlir --data data --out continue --steps $CPT --lr 1e-3 $KD \
    --ref-loss eval-source.json \
    --eval-every $EVERY --log-every $EVERY $RUN_OPTS
stage_end continue

stage_start "6. baseline: the target shape from scratch, $SCRATCH steps"
$PY "$REF/make_tiny_hf.py" --out scratch-init $TGT --vocab $VOCAB --rope llama3 --seed 2 > /dev/null
shear-translate --import-hf scratch-init -o scratch-init.mlir
shear-run train scratch-init.mlir --data data --out scratch --steps $SCRATCH --lr 3e-3 \
    --ref-loss eval-source.json \
    --eval-every $EVERY --log-every $EVERY $RUN_OPTS
stage_end scratch

stage_start "6b. baseline: a random sub-structure of the source, $SCRATCH steps"
shear-opt masked/masked.mlir "--select-structure=method=random seed=1" -o random/random.mlir
shear-opt random/random.mlir --materialize-shapes -o random/compact.mlir
shear-run train random/compact.mlir --data data --out random-run --steps $SCRATCH --lr 1e-3 \
    --ref-loss eval-source.json --eval-every $EVERY --log-every $EVERY $RUN_OPTS
stage_end random

stage_start "6c. continued pre-training with a fixed data mix, and without distillation"
shear-run train compact/compact.mlir --data data --out continue-fixed --steps $CPT --lr 1e-3 $KD \
    --dbl off --eval-every $EVERY --log-every $EVERY $RUN_OPTS
shear-run train compact/compact.mlir --data data --out continue-nokd --steps $CPT --lr 1e-3 \
    --ref-loss eval-source.json --eval-every $EVERY --log-every $EVERY $RUN_OPTS
stage_end ablations

stage_start "7. evaluation, export, checks, report"
for s in pruned:compact/compact.mlir continued:continue/final/model.mlir \
         scratch:scratch/final/model.mlir random:random-run/final/model.mlir \
         fixed:continue-fixed/final/model.mlir nokd:continue-nokd/final/model.mlir; do
  shear-run eval "${s#*:}" --data data > "eval-${s%%:*}.json"
done
# Downstream tasks from Debian text outside the corpus (docs/evaluation.md).
$PY "$ROOT/examples/make_demo_tasks.py" tasks $TASK_ITEMS
for s in source:$SOURCE pruned:compact/compact.mlir continued:continue/final/model.mlir \
         scratch:scratch/final/model.mlir; do
  shear-run eval "${s#*:}" --tokenizer data/tokenizer.model --max-length $TASK_LEN \
      --tasks code_completion=tasks/code_completion.jsonl,lambada_licenses=tasks/license_lambada.jsonl \
      > "tasks-${s%%:*}.json"
done
shear-translate --export-hf continue/final/model.mlir -o final-hf
shear-translate --export-onnx continue/final/model.mlir -o final.onnx
shear-run eval continue/final/model.mlir --tokens check.npy --logits-out final.npy
printf 'HF export vs float64 PyTorch: '
$PY "$REF/check_logits.py" --hf final-hf --tokens check.npy --logits final.npy --tol 1e-5
$PY "$REF/check_onnx.py" final.onnx
node "$ROOT/test/onnx/run_onnx.js" final.onnx check.npy final.ort.npy
printf 'ONNX (onnxruntime) vs shear-run eval: '
$PY "$REF/compare_npy.py" final.ort.npy final.npy --tol 1e-4
shear-run generate continue/final/model.mlir --tokenizer data/tokenizer.model \
    --prompt "#include <" --max-new-tokens 40 --temperature 0.7 --top-p 0.9 --seed 3 > sample.txt
echo "sample (prompt '#include <'):"; cat sample.txt
stage_end report

params() { $PY -c "
import json, sys
c = json.load(open(sys.argv[1] + '/config.json'))
D, M, L, V = c['hidden_size'], c['intermediate_size'], c['num_hidden_layers'], c['vocab_size']
H, G, hd = c['num_attention_heads'], c['num_key_value_heads'], c['head_dim']
print((1 if c['tie_word_embeddings'] else 2) * V * D + L * (2 * D * H * hd + 2 * D * G * hd + 3 * D * M + 2 * D) + D)" "$1"; }
shear-translate --export-hf "$SOURCE" -o source-hf
shear-translate --export-hf scratch/final/model.mlir -o scratch-hf
TOTAL=$(echo "$(date +%s.%N) - $START" | bc)
$PY - "$TOTAL" "$(params source-hf)" "$(params final-hf)" "$(params scratch-hf)" <<PYEOF
import json, subprocess, sys, datetime
stages = {$(for k in data pretrain prune materialize continue scratch random ablations report; do printf '"%s": %s, ' $k "${STAGE[$k]}"; done)}
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
json.dump({"date": datetime.date.today().isoformat(), "total_s": float(sys.argv[1]),
           "machine": f"{len(cpu)} x {cpu[0]}", "stages": stages, "vocab": $VOCAB, "seq": $SEQ,
           "source_shape": "$SRC".replace("--", "").strip(), "target_shape": "$TARGET",
           "pretrain_steps": $PRE,
           "params": {"source": sys.argv[2], "pruned": sys.argv[3], "continued": sys.argv[3],
                      "scratch": sys.argv[4]}},
          open("timings.json", "w"), indent=2)
PYEOF
$PY "$ROOT/examples/report.py" "$OUT"
printf '\ndemo finished in %.0f s; outputs in %s\n' "$TOTAL" "$OUT"
