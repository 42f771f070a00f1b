//===- FlashAttention.h - the tiled attention core (FlashAttention.cu) ----===//
//
// q [B·T, H·hd], k and v [B·T, G·hd] (RoPE applied), a like q, lse [B, H, T],
// delta [B·T, H] (Σ_e da·a per row and head), da like q; float32.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELS_CUDA_FLASHATTENTION_H
#define SHEAR_RUNTIME_KERNELS_CUDA_FLASHATTENTION_H

#include "CudaBackend.h"

namespace shear::rt::cuda {

/// Whether the tiled kernels take head dim `hd` (a multiple of 4 up to 256)
/// and SHEAR_CUDA_ATTENTION does not ask for the row-per-warp ones.
bool flashAttentionTakes(int64_t hd);

/// a = softmax(q kᵀ · scale) v over each query's causal prefix; lse kept.
Status flashForward(CudaContext &ctx, const float *q, const float *k, const float *v, float *a, float *lse,
                    int64_t B, int64_t T, int64_t H, int64_t G, int64_t hd, float scale);

/// dq, dk, dv of the core from da (the cotangent of a, gates applied), lse and delta.
Status flashBackward(CudaContext &ctx, const float *q, const float *k, const float *v, const float *da,
                     const float *lse, const float *delta, float *dq, float *dk, float *dv, int64_t B, int64_t T,
                     int64_t H, int64_t G, int64_t hd, float scale);

} // namespace shear::rt::cuda

#endif
