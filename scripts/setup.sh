#!/usr/bin/env bash
# Installs every Debian package shear needs. Idempotent and non-interactive:
# packages already present are not touched, apt-get runs only when one is missing.
set -euo pipefail

packages=(
  # compiler infrastructure (MLIR 22, lit, FileCheck) and a fast compiler/linker
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  # sanitizer and libFuzzer runtimes (make test-asan, fuzz/)
  libclang-rt-22-dev
  # build tools
  cmake ninja-build ccache g++ make bc
  # unit tests
  googletest libgtest-dev libgmock-dev
  # BLAS for the CPU runtime
  libopenblas-dev
  # MPI: launching and the CPU ranks' communicator (tested with mpirun -np 2, 3)
  libopenmpi-dev openmpi-bin
  # independent numerical references used by the tests (run with /usr/bin/python3);
  # psutil: lit's per-test --timeout
  python3 python3-numpy python3-torch python3-onnx python3-sentencepiece python3-psutil
  # tokenizer (in its own binary, shear-spm); gzip and zstd corpora (zstd: the
  # tests compress with it)
  libsentencepiece-dev zlib1g-dev libzstd-dev zstd
  # the demo: Debian text for its corpus, matplotlib for its report
  fortunes python3-matplotlib
  # onnxruntime for the ONNX tests comes from npm (below)
  nodejs npm
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# A machine may have node/npm from elsewhere (the build image does): only
# install Debian's when there is none.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    [ "$p" = nodejs ] || [ "$p" = npm ] || filtered+=("$p")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all Debian packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# onnxruntime (CPU) for the ONNX export tests, transformers.js (loads an
# exported ONNX folder as users do) and the JS port of HF tokenizers (an
# independent reader of the exported tokenizer.json). The
# onnxruntime postinstall would try to download GPU providers;
# ONNXRUNTIME_NODE_INSTALL=skip keeps the bundled CPU one.
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$root/test/onnx/node_modules/onnxruntime-node" ] ||
   [ ! -d "$root/test/onnx/node_modules/@huggingface/tokenizers" ] ||
   [ ! -d "$root/test/onnx/node_modules/@huggingface/transformers" ]; then
  echo "setup: installing onnxruntime-node, transformers.js and @huggingface/tokenizers into test/onnx"
  (cd "$root/test/onnx" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error)
fi
echo "setup: done"
