#!/usr/bin/env bash
# Builds, on a GPU node, the runtime-only shear-run and the CUDA plugin (no
# LLVM/MLIR, no BLAS there: CMake, ninja and nvcc) into BUILD_DIR,
# incrementally (REBUILD=1 configures it again). Used by gpu_check.sh and gpu_bench.sh.
#   bench/gpu_build.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$1
if [ ! -f "$BUILD/build.ninja" ] || [ -n "${REBUILD:-}" ]; then
  mkdir -p "$BUILD"
  # On a GPU: only its architecture (nvidia-smi's compute capability, 9.0
  # -> 90) and no CPU emulation of the backend (for machines without a GPU,
  # where DEVICE=emulated tests these scripts): device time is short.
  ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .' || true)
  EMULATION=ON
  [ -n "$ARCH" ] && EMULATION=OFF
  cmake -G Ninja -S "$ROOT" -B "$BUILD" -DSHEAR_BUILD_COMPILER=OFF -DSHEAR_BLAS=OFF \
    -DSHEAR_CUDA_EMULATION=$EMULATION -DSHEAR_CUDA_ARCHS="${ARCH:-80;90}" \
    -DCMAKE_BUILD_TYPE=Release > "$BUILD/configure.log" 2>&1 || { cat "$BUILD/configure.log"; exit 1; }
fi
# Incremental: nothing to do when the tree has not changed since.
ninja -C "$BUILD" shear-run > "$BUILD/build.log" 2>&1 || { tail -50 "$BUILD/build.log"; exit 1; }
