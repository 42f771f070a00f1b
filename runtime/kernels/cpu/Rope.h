//===- Rope.h - rotary position embeddings (HF rotate-half) ---------------===//
#ifndef SHEAR_RUNTIME_KERNELS_CPU_ROPE_H
#define SHEAR_RUNTIME_KERNELS_CPU_ROPE_H

#include "CpuBackend.h"

#include <vector>

namespace shear::rt::cpu {

/// cos/sin tables [T, head_dim/2] for the attention op's RoPE parameters
/// (theta, head_dim, scaling none / linear / llama3).
struct RopeTables {
  int64_t half = 0;
  std::vector<float> cos, sin;
};
RopeTables ropeTables(const RopeParams &rope, int64_t seqLen);

/// Rotates `heads` heads of `headDim` at each of T positions of rows laid out
/// [B*T, stride] (head h at column h*headDim), in place; row t of a sequence
/// is at position offset + t (the tables must cover it). `inverse` applies
/// the transpose rotation (the backward pass).
void applyRope(CpuContext &ctx, float *x, int64_t B, int64_t T, int64_t heads, int64_t headDim, int64_t stride,
               const RopeTables &tables, bool inverse = false, int64_t offset = 0);

} // namespace shear::rt::cpu

#endif
