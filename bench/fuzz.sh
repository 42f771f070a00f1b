#!/usr/bin/env bash
# Fuzzes every parser of untrusted input (libFuzzer + ASan + UBSan), not a
# test: builds fuzz/ in FUZZ_BUILD (-DSHEAR_FUZZ=ON, clang), seeds each
# target's corpus from files the normal build makes (a tiny model, a data
# directory, a run's checkpoint, program files), then runs each target for
# SECONDS with its dictionary. Prints executions and findings per target;
# docs/fuzzing.md records them. Crashes are left in $WORK/<target>/.
#   bench/fuzz.sh [SECONDS per target (default 60)] [BUILD_DIR of the normal build]
#   FUZZ_RUNS=10000000 bench/fuzz.sh 5400     # stop each target at 10M executions
#   FUZZ_TARGETS="FuzzJson FuzzNpy" bench/fuzz.sh  # only these targets
# Do not pause a running fuzzer (SIGSTOP): its per-input timeout counts wall
# time, and the pause is reported as a timeout finding.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${1:-60}
BIN=$(cd "${2:-$ROOT/build}/bin" && pwd)
FUZZ_BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
WORK=${FUZZ_DIR:-/tmp/shear-fuzz}
PY=/usr/bin/python3

cmake -G Ninja -S "$ROOT" -B "$FUZZ_BUILD" -DSHEAR_FUZZ=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 > /dev/null
ninja -C "$FUZZ_BUILD" shear-fuzzers > /dev/null

# Seeds: real files of every kind.
mkdir -p "$WORK" && cd "$WORK"
rm -rf seeds && mkdir -p seeds && cd seeds
$PY "$ROOT/test/reference/make_tiny_hf.py" --out hf --layers 2 --hidden 16 --heads 4 --kv-heads 2 \
  --intermediate 24 --vocab 30 --shards 2 --rope llama3 > /dev/null
"$BIN/shear-translate" --import-hf hf -o model.mlir
"$BIN/shear-opt" model.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1 -o masked.mlir
$PY "$ROOT/test/reference/make_domains.py" tokens --vocab 30 --tokens 2000
"$BIN/shear-data" pack --seq 8 --eval-seqs 2 -o data ramp=tokens/ramp.npy skewed=tokens/skewed.npy > /dev/null
"$BIN/shear-run" prune masked.mlir --data data --out run --steps 4 --batch 2 --save-every 2 \
  --eval-every 2 --log-every 0 > /dev/null
"$BIN/shear-run" compile masked.mlir --mode eval -o eval.json > /dev/null
"$BIN/shear-run" compile model.mlir --mode generate -o generate.json > /dev/null
"$BIN/shear-run" compile masked.mlir --mode prune --precision bf16 --steps 4 -o prune-bf16.json > /dev/null
corpus() { local t=$1; shift; rm -rf "../corpus-$t"; mkdir -p "../corpus-$t"; local i=0
  for f in "$@"; do cp "$f" "../corpus-$t/seed-$i"; i=$((i + 1)); done; }
corpus FuzzSafetensors hf/model-00001-of-00002.safetensors masked.gates.safetensors run/ckpt-2/optimizer.safetensors
corpus FuzzJson hf/config.json hf/model.safetensors.index.json data/manifest.json run/ckpt-2/state.json run/run.json
corpus FuzzProgram eval.json generate.json prune-bf16.json
corpus FuzzNpy tokens/ramp.npy tokens/skewed.npy
corpus FuzzManifest data/manifest.json
corpus FuzzTrainState run/ckpt-2/state.json
printf '2.7b' > spec1; printf 'layers=24' > spec2; printf 'heads=16,kv-heads=4,hidden=2048' > spec3
corpus FuzzTargetShape spec1 spec2 spec3
corpus FuzzHFConfig hf/config.json hf/model.safetensors.index.json
corpus FuzzModule model.mlir masked.mlir run/final/model.mlir
node "$ROOT/test/onnx/bpe_train.js" --style llama3 --merges 200 --out tok-llama3 \
  "$ROOT/test/Data/Inputs/tokenizer-torture.txt" 2> /dev/null
node "$ROOT/test/onnx/bpe_train.js" --style gpt2 --merges 200 --out tok-gpt2 \
  "$ROOT/test/Data/Inputs/tokenizer-torture.txt" 2> /dev/null
corpus FuzzTokenizer tok-llama3/tokenizer.json tok-gpt2/tokenizer.json "$ROOT"/test/Data/Inputs/handmade/*.json
corpus FuzzTokenizerText "$ROOT/test/Data/Inputs/tokenizer-torture.txt" "$ROOT/test/Data/Inputs/tokenizer-invalid-utf8.bin"
cd "$WORK"

declare -A DICT=([FuzzSafetensors]=json [FuzzJson]=json [FuzzProgram]=program [FuzzNpy]=npy
                 [FuzzManifest]=json [FuzzTrainState]=json [FuzzTargetShape]=target
                 [FuzzHFConfig]=json [FuzzModule]=mlir [FuzzTokenizer]=json [FuzzTokenizerText]=text)
# Inputs up to 64 KiB, but the byte-level BPE's text: the tokenizer works on
# pre-tokens (runs of one kind of character), so longer inputs add length,
# not new behaviour, at a cost linear in it; 1 KiB keeps 10M executions to
# hours instead of days. Long runs are covered by the unit test
# SplitPattern.LongRunsTileTheText (docs/fuzzing.md).
declare -A MAXLEN=([FuzzTokenizerText]=1024)
printf "%-16s %12s %10s %8s  %s\n" target executions exec/s cov result
for t in ${FUZZ_TARGETS:-FuzzSafetensors FuzzJson FuzzProgram FuzzNpy FuzzManifest FuzzTrainState \
                         FuzzTargetShape FuzzHFConfig FuzzModule FuzzTokenizer FuzzTokenizerText}; do
  mkdir -p "$t" && cd "$t"
  set +e
  "$FUZZ_BUILD/bin/$t" "../corpus-$t" -dict="$ROOT/fuzz/dict/${DICT[$t]}.dict" \
    -max_total_time="$SECONDS_EACH" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -timeout=10 \
    -rss_limit_mb=2048 -max_len="${MAXLEN[$t]:-65536}" \
    -print_final_stats=1 > log.txt 2>&1
  status=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' log.txt | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' log.txt | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' log.txt | tail -1 | grep -o '[0-9]*' || echo 0)
  result=$([ $status -eq 0 ] && echo "no finding" || echo "FINDING (exit $status): see $WORK/$t")
  printf "%-16s %12s %10s %8s  %s\n" "$t" "$execs" "$rate" "$cov" "$result"
  cd "$WORK"
done
