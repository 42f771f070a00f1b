#!/usr/bin/env bash
# A GPU session's whole pass in one call of the device tool, whose lease is
# short (15 minutes of device time, the machine's start included, at most
# 10 minutes a call): what the node has, then the build and the check of the
# CUDA backend against the CPU (bench/gpu_check.sh), then the measurements
# (bench/attention_bench.sh, bench/gpu_bench.sh). Each stage runs under its
# own time limit, so one that runs long leaves the others theirs, and writes
# to $OUT as it goes (session.log, each stage's log, the JSON lines and
# profiles the benchmarks write): a call cut off still brings back what it
# measured. Exits 1 when the check failed (the measurements still run:
# their own checks decide whether a timing counts).
#
# Here, first (the device has no LLVM/MLIR; both folders are git-ignored):
#   bench/gpu_bundle.sh && bench/gpu_bench_bundle.sh
# then one call, carry ["gpu-bundle", "gpu-bench"], timeout_s 600:
#   OUT=$OUT bench/gpu_session.sh
#   CHECK_S=270 ATTENTION_S=60 BENCH_S=240: the stages' limits (seconds; 0 skips a stage)
#   RUNS=train-1.3b TORCH="eager compile": what gpu_bench.sh runs (default: the 1.3B
#   training step and its @loss-chunk-65 variant, PyTorch eager and compiled)
#   DEVICE=emulated: the same on the CPU emulation (checks this script; no timing means anything)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:?set OUT to the folder that comes back}
BUILD=${BUILD:-$ROOT/build-gpu}
mkdir -p "$OUT"
LOG=$OUT/session.log
say() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }
# STAGE NAME LIMIT COMMAND...: the command's output to $OUT/NAME.log (and
# its last lines to the session log), killed at LIMIT seconds.
stage() {
  local name=$1 limit=$2; shift 2
  if [ "$limit" = 0 ]; then say "$name: skipped"; return 0; fi
  say "$name: start (limit ${limit}s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  tail -40 "$OUT/$name.log" | sed 's/^/    /' >> "$LOG"
  if [ $rc = 124 ] || [ $rc = 137 ]; then say "$name: CUT OFF after ${limit}s"; else
    say "$name: exit $rc after $((SECONDS - t0))s"; fi
  return $rc
}

say "node: $(hostname)"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1
  nvcc --version 2>&1 | tail -2
  ${PYTHON:-python3} -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" 2>&1
  ls -d /usr/lib/x86_64-linux-gnu/libnccl* /usr/local/cuda/lib64/libcudnn* 2>/dev/null | head -4
  nproc; free -g | head -2
} >> "$LOG" 2>&1

check=0
stage check "${CHECK_S:-270}" "$ROOT/bench/gpu_check.sh" "$ROOT/gpu-bundle" "$BUILD" || check=1
if [ "${DEVICE:-cuda}" = emulated ]; then
  export SHEAR_CUDA_PLUGIN=$BUILD/lib/libshear-cuda-emulated.so
  stage attention "${ATTENTION_S:-60}" env OUT="$OUT" SEQS=64 DIMS=16 TOKENS=128 TORCH=0 \
    "$ROOT/bench/attention_bench.sh" "$BUILD"
  stage bench "${BENCH_S:-240}" env OUT="$OUT" DEVICE=cpu TORCH="${TORCH:-eager}" BATCH="${BATCH:-2}" \
    ${RUNS:+RUNS="$RUNS"} "$ROOT/bench/gpu_bench.sh" "$ROOT/gpu-bench" "$BUILD"
else
  stage attention "${ATTENTION_S:-60}" env OUT="$OUT" "$ROOT/bench/attention_bench.sh" "$BUILD"
  stage bench "${BENCH_S:-240}" env OUT="$OUT" RUNS="${RUNS:-train-1.3b}" TORCH="${TORCH:-eager compile}" \
    "$ROOT/bench/gpu_bench.sh" "$ROOT/gpu-bench" "$BUILD"
fi
say "done: check $([ $check = 0 ] && echo passed || echo FAILED); $OUT holds the logs"
exit $check
