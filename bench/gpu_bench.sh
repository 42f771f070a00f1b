#!/usr/bin/env bash
# shear against PyTorch on one GPU, in one invocation (not a test): the
# bf16 training step of the 1.3B shape (continued pre-training), the masked
# prune step of the 1.3B shape (toward 370m) and of the 2.7B shape toward
# 1.3B, each with shear (the programs of bench/gpu_bench_bundle.sh) and with
# PyTorch (bench/torch_llama_gpu.py: bf16 autocast, SDPA, fused AdamW; once
# eager, once with torch.compile). Prints one JSON line per run (tokens/s
# and MFU: the median over the steps after the first two; peak GPU memory
# as nvidia-smi sees the process) and writes them to $OUT/gpu_bench.jsonl
# when OUT is set. docs/benchmarks.md records the results.
#
# shear's weights are zeros (sparse files, written in a second; FILL=random
# writes random ones, about a minute): no kernel looks at the values, so
# the throughput is the same.
#   bench/gpu_bench.sh BUNDLE [BUILD_DIR (default: build-gpu)]
#   BATCH=8 RUNS="train-1.3b prune-2.7b" (default: the bundle's) TORCH="eager compile" FILL=zeros
#   MICRO=N: shear's runs take each batch as micro-batches of N sequences (--micro-batch;
#     e.g. BATCH=32 MICRO=8 RUNS=prune-7b, the paper's batch: 63.8 GiB planned by the CUDA backend, docs/benchmarks.md)
#   DEVICE=cpu checks the script without a GPU (a bundle made with SOURCES=tiny=...)
#   PROFILE=0 skips the kernel profile of each shear run ($OUT/profile-RUN.json)
# A run with variants in the bundle (programs/RUN@VARIANT.json: the same
# step compiled another way, e.g. @loss-chunk-65) times each after it, for a
# before/after in the same call ("variant" in its JSON line).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUNDLE=$(cd "$1" && pwd)
BUILD=${2:-$ROOT/build-gpu}
BATCH=${BATCH:-8}
MICRO=${MICRO:-0}
TORCH=${TORCH:-eager compile}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
ASKED=${RUNS:-}
# shellcheck disable=SC1091
source "$BUNDLE/bundle.env" # STEPS, SEQ, RUNS
RUNS=${ASKED:-$RUNS}
"$ROOT/bench/gpu_build.sh" "$BUILD" || exit 1
RUN=$BUILD/bin/shear-run
WORK=$(mktemp -d)
RESULTS=${OUT:+$OUT/gpu_bench.jsonl}
[ "$DEVICE" = cuda ] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
for src in "$BUNDLE"/src-*; do
  preset=${src##*/src-}
  [ -f "$src/model-00001-of-00002.safetensors" ] ||
    $PY "$BUNDLE/make_llama.py" "$src" --preset "$preset" --fill "${FILL:-zeros}" > /dev/null
done

# Peak memory: nvidia-smi every 100 ms while COMMAND runs, less the idle reading.
with_memory() { # OUTPUT_FILE COMMAND...
  local file=$1; shift
  if [ "$DEVICE" != cuda ]; then
    "$@"; local rc=$?; echo 0 > "$file"; return $rc
  fi
  local idle; idle=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$WORK/mem.log" 2> /dev/null &
  local poll=$!
  "$@"
  local rc=$?
  kill $poll 2> /dev/null; wait $poll 2> /dev/null
  sort -n "$WORK/mem.log" | tail -1 | awk -v idle="$idle" '{printf "%.2f", ($1 - idle) / 1024}' > "$file"
  return $rc
}
emit() { echo "$1"; [ -n "$RESULTS" ] && echo "$1" >> "$RESULTS"; }

# One timed shear run: RUN PROGRAM [VARIANT] (a variant is the same run
# compiled another way, programs/RUN@VARIANT.json, for a before/after).
shear_run() {
  local run=$1 program=$2 variant=${3:-}
  local mode=${run%%-*} tag=$run${3:+@$3}
  local out=$WORK/run-$tag
  if with_memory "$WORK/mem-$tag" "$RUN" "$mode" "$program" --data "$BUNDLE/data" --out "$out" \
      --steps "$STEPS" --batch "$BATCH" --micro-batch "$MICRO" --eval-every 0 --save-every 0 --log-every 1 --device "$DEVICE" \
      > "$WORK/log-$tag" 2>&1; then
    emit "$($PY - "$out/metrics.jsonl" "$run" "$BATCH" "$SEQ" "$(cat "$WORK/mem-$tag")" "$(grep -m1 " steps of " "$WORK/log-$tag")" "$variant" <<'PY'
import json, statistics, sys
path, run, batch, seq, mem, header, variant = sys.argv[1:8]
steps = [json.loads(l) for l in open(path)]
steps = [s for s in steps if "tokens_per_s" in s]
later = steps[2:] or steps
r = {"impl": "shear", "run": run, "batch": int(batch), "seq": int(seq),
     "tokens_per_s": statistics.median(s["tokens_per_s"] for s in later),
     "mfu": statistics.median(s["mfu"] for s in later), "peak_memory_gib": float(mem),
     "steps": len(steps), "header": header}
if variant:
    r["variant"] = variant
print(json.dumps(r))
PY
)"
  else
    emit "{\"impl\": \"shear\", \"run\": \"$run\", \"variant\": \"$variant\", \"failed\": true}"
    tail -20 "$WORK/log-$tag"
  fi
}

for run in $RUNS; do
  mode=${run%%-*} preset=${run#*-}
  shear_run "$run" "$BUNDLE/programs/$run.json"
  for variant in "$BUNDLE/programs/$run@"*.json; do
    [ -f "$variant" ] || continue
    v=${variant##*@}
    shear_run "$run" "$variant" "${v%.json}"
  done
  # Where shear's step spends its time (--profile: the host waits for every
  # kernel, so this run is slower and is not the one timed above; all STEPS,
  # which the program was compiled for).
  if [ "${PROFILE:-1}" = 1 ]; then
    for program in "$BUNDLE/programs/$run.json" "$BUNDLE/programs/$run@"*.json; do
      [ -f "$program" ] || continue
      tag=$(basename "$program" .json)
      if "$RUN" "$mode" "$program" --data "$BUNDLE/data" --out "$WORK/profile-run-$tag" \
          --steps "$STEPS" --batch "$BATCH" --micro-batch "$MICRO" --eval-every 0 --save-every 0 --log-every 0 \
          --device "$DEVICE" --profile > "$WORK/profile-$tag" 2>&1; then
        echo "($tag)"
        sed -n '/^kernel profile of/,/all kernels/p' "$WORK/profile-$tag"
        [ -n "${OUT:-}" ] && cp "$WORK/profile-run-$tag/profile.json" "$OUT/profile-$tag.json"
      else
        echo "profiled run of $tag failed:"; tail -5 "$WORK/profile-$tag"
      fi
    done
  fi
  for how in $TORCH; do
    flag=$([ "$how" = compile ] && echo --compile)
    if with_memory "$WORK/tmem-$run" $PY "$BUNDLE/torch_llama_gpu.py" --preset "$preset" --mode "$mode" \
        --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" $flag > "$WORK/torch-$run-$how" 2> "$WORK/torch-$run-$how.err"; then
      emit "$($PY -c "import json, sys; r = json.loads(open(sys.argv[1]).read()); r['run'] = sys.argv[2]; r['process_memory_gib'] = float(sys.argv[3]); print(json.dumps(r))" \
        "$WORK/torch-$run-$how" "$run" "$(cat "$WORK/tmem-$run")")"
    else
      emit "{\"impl\": \"pytorch $how\", \"run\": \"$run\", \"failed\": true}"
      tail -5 "$WORK/torch-$run-$how.err"
    fi
  done
done
rm -rf "$WORK"
