#!/usr/bin/env bash
# Installs every Debian package shear needs. Idempotent and non-interactive:
# packages already present are not touched, apt-get runs only when one is missing.
set -euo pipefail

packages=(
  # compiler infrastructure (MLIR 22, lit, FileCheck) and a fast compiler/linker
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  # build tools
  cmake ninja-build ccache g++ make
  # unit tests
  googletest libgtest-dev libgmock-dev
  # BLAS for the CPU runtime
  libopenblas-dev
  # independent numerical references used by the tests (run with /usr/bin/python3)
  python3 python3-numpy python3-torch
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
