#!/usr/bin/env bash
# Pruning at equal tokens (issue 17's study; not a test). From one source and
# one target shape, every method gets the same number of training tokens:
#   scratch        the target shape from random initialization
#   random, magnitude, activation
#                  a one-shot sub-structure (--select-structure), then
#                  continued pre-training for the whole budget
#   activation-kd  the same with distillation from the source (alpha 0.5, T 1)
#   activation-kd-restart
#                  the same in two runs of the learned methods' lengths
#                  (SPLIT% then the rest), so that its learning rate warms up
#                  and decays twice, as prune + train does
#   paper          learned pruning as published (gates N(5, 0.01), the paper's
#                  Lagrangian), then continued pre-training
#   shear          shear's recipe: gates started from activation scores, the pi
#                  controller, gate learning rate 0.1, distillation from the source in pruning and in
#                  continued pre-training
# Learned methods spend SPLIT% of the budget pruning (both splits are run).
# Every run's held-out loss per domain goes to $WORK/results.jsonl; the
# summary (mean ± std over seeds, mean and worst domain) to summary.md and
# a plot to equal_tokens.png. docs/pruning-study.md records the results.
#   bench/equal_tokens.sh synthetic|demo [BUILD_DIR]
# synthetic: a 4-layer GQA model pre-trained on three synthetic domains,
#   pruned to 2 layers and half of everything else; 200 steps x 8 x 32 tokens.
# demo: the demo's source and target (run `make demo` first: it caches the
#   corpus and the source in BUILD_DIR/demo-cache/full); 80 steps x 16 x 128.
set -euo pipefail
PROBLEM=${1:?synthetic or demo}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${2:-$ROOT/build}" && pwd)
B=$BUILD/bin
R=$ROOT/test/reference
PY=/usr/bin/python3
WORK=${BENCH_DIR:-/tmp/shear-bench-equal-tokens-$PROBLEM}
SEEDS=${SEEDS:-"1 2 3"}
SPLITS=${SPLITS:-"20 50"}
METHODS=${METHODS:-"scratch random magnitude activation activation-kd activation-kd-restart paper shear"}
mkdir -p "$WORK" && cd "$WORK"

if [ "$PROBLEM" = synthetic ]; then
  N=${TOTAL_STEPS:-200} BATCH=8 LR=1e-3 VOCAB=61
  TARGET=layers=2,heads=2,kv-heads=1,hidden=32,intermediate=64
  TGT="--layers 2 --hidden 32 --heads 2 --kv-heads 1 --intermediate 64"
  if [ ! -f source/final/model.mlir ]; then
    $PY $R/make_domains.py tokens --vocab $VOCAB --tokens 20000 > /dev/null
    $B/shear-data pack --seq 32 --eval-seqs 8 -o data ramp=tokens/ramp.npy skewed=tokens/skewed.npy \
        uniform=tokens/uniform.npy > /dev/null
    $PY $R/make_tiny_hf.py --out source-hf --layers 4 --hidden 64 --heads 4 --kv-heads 2 \
        --intermediate 128 --vocab $VOCAB > /dev/null
    $B/shear-translate --import-hf source-hf -o source-init.mlir
    $B/shear-run train source-init.mlir --data data --out source --steps 800 --batch 8 --lr 3e-3 \
        --eval-every 0 --dbl off --log-every 0 > /dev/null
  fi
  SOURCE=$WORK/source/final/model.mlir
  ROPE=""
elif [ "$PROBLEM" = demo ]; then
  CACHE=$BUILD/demo-cache/full
  [ -f "$CACHE/pretrain/final/model.mlir" ] || { echo "run 'make demo' first (no $CACHE)" >&2; exit 2; }
  N=${TOTAL_STEPS:-80} BATCH=16 LR=1e-3 VOCAB=4096
  TARGET=layers=4,heads=4,kv-heads=2,hidden=128,intermediate=352
  TGT="--layers 4 --hidden 128 --heads 4 --kv-heads 2 --intermediate 352"
  ln -sfn "$CACHE/data" data
  SOURCE=$CACHE/pretrain/final/model.mlir
  ROPE="--rope llama3"
else
  echo "synthetic or demo, not '$PROBLEM'" >&2; exit 2
fi
COMMON="--data data --batch $BATCH --lr $LR --dbl off --log-every 0 --eval-every 0 --threads 2"
KD="--distill-from $SOURCE"
$B/shear-run eval "$SOURCE" --data data > source-eval.json
rm -rf masked && $B/shear-opt "$SOURCE" --insert-masks --target-shape=$TARGET -o masked/masked.mlir
$B/shear-run importance "$SOURCE" --data data --calib-seqs 64 --out scores.safetensors > /dev/null
rm -rf init && $B/shear-opt masked/masked.mlir \
    "--select-structure=method=activation scores=scores.safetensors write=gates" -o init/init.mlir

record() { # METHOD SPLIT SEED MODEL
  $B/shear-run eval "$4" --data data > eval.json
  $PY -c "import json, sys; print(json.dumps({'method': sys.argv[1], 'split': int(sys.argv[2]), 'seed': int(sys.argv[3]), 'loss': json.load(open('eval.json'))}))" \
      "$1" "$2" "$3" >> results.jsonl
}
: > results.jsonl
for seed in $SEEDS; do
  for method in $METHODS; do
    d=runs/$method-$seed
    case $method in
      scratch)
        rm -rf $d && mkdir -p $d
        $PY $R/make_tiny_hf.py --out $d/init-hf $TGT --vocab $VOCAB $ROPE --seed $((100 + seed)) > /dev/null
        $B/shear-translate --import-hf $d/init-hf -o $d/init.mlir
        $B/shear-run train $d/init.mlir $COMMON --steps $N --seed $seed --out $d/train > /dev/null
        record $method 0 $seed $d/train/final/model.mlir ;;
      random|magnitude|activation|activation-kd)
        rm -rf $d && mkdir -p $d
        sel=${method%-kd}; opts=""; extra=""
        [ $sel = random ] && opts=" seed=$seed"
        [ $sel = activation ] && opts=" scores=scores.safetensors"
        [ $method = activation-kd ] && extra=$KD
        $B/shear-opt masked/masked.mlir "--select-structure=method=$sel$opts" -o $d/sel/sel.mlir
        $B/shear-opt $d/sel/sel.mlir --materialize-shapes -o $d/compact/compact.mlir
        $B/shear-run train $d/compact/compact.mlir $COMMON --steps $N --seed $seed --out $d/train $extra > /dev/null
        record $method 0 $seed $d/train/final/model.mlir ;;
      activation-kd-restart)
        for split in $SPLITS; do
          d=runs/$method-$split-$seed; rm -rf $d && mkdir -p $d
          P=$((N * split / 100)); T=$((N - P))
          $B/shear-opt masked/masked.mlir "--select-structure=method=activation scores=scores.safetensors" -o $d/sel/sel.mlir
          $B/shear-opt $d/sel/sel.mlir --materialize-shapes -o $d/compact/compact.mlir
          $B/shear-run train $d/compact/compact.mlir $COMMON --steps $P --seed $seed --out $d/first $KD > /dev/null
          $B/shear-run train $d/first/final/model.mlir $COMMON --steps $T --seed $seed --out $d/train $KD > /dev/null
          record $method $split $seed $d/train/final/model.mlir
        done ;;
      paper|shear)
        for split in $SPLITS; do
          d=runs/$method-$split-$seed; rm -rf $d && mkdir -p $d
          P=$((N * split / 100)); T=$((N - P))
          # paper: --recipe paper; shear: the default recipe, its gates
          # started from the same 64-sequence scores (init/init.mlir).
          if [ $method = paper ]; then
            model=masked/masked.mlir; popts="--recipe paper"; topts=""
          else
            model=init/init.mlir; popts="--init module --distill-from $SOURCE"; topts=$KD
          fi
          $B/shear-run prune $model $COMMON --steps $P --seed $seed --out $d/prune $popts > /dev/null
          $B/shear-opt $d/prune/final/model.mlir --finalize-masks --materialize-shapes -o $d/compact/compact.mlir
          $B/shear-run train $d/compact/compact.mlir $COMMON --steps $T --seed $seed --out $d/train $topts > /dev/null
          record $method $split $seed $d/train/final/model.mlir
        done ;;
    esac
    echo "seed $seed: $method done"
  done
done
$PY "$ROOT/bench/equal_tokens_report.py" results.jsonl source-eval.json "$PROBLEM" > summary.md
cat summary.md
