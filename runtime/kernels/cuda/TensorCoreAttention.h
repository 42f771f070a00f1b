//===- TensorCoreAttention.h - the bf16 attention core on tensor cores -----===//
//
// q [B·T, H·hd], k and v [B·T, G·hd] in bf16 (RoPE applied), a [B·T, H·hd]
// and lse [B, H, T] float32; the backward's da (gates applied) in bf16,
// delta [B·T, H] and the results dq, dk, dv float32 (TensorCoreAttention.cu).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELS_CUDA_TENSORCOREATTENTION_H
#define SHEAR_RUNTIME_KERNELS_CUDA_TENSORCOREATTENTION_H

#include "CudaBackend.h"

namespace shear::rt::cuda {

/// Whether a bf16 call's core runs on tensor cores: head dims that are
/// multiples of 16 up to 128, batch × heads up to 65535, and
/// SHEAR_CUDA_ATTENTION not naming the float32 kernels (tiled, naive).
bool tensorCoreAttentionTakes(int64_t hd, int64_t heads);

/// a = softmax(q kᵀ · scale) v over each query's causal prefix; lse kept.
Status tensorCoreForward(CudaContext &ctx, const void *q, const void *k, const void *v, float *a, float *lse,
                         int64_t B, int64_t T, int64_t H, int64_t G, int64_t hd, float scale);

/// dq, dk, dv of the core from da, lse and delta.
Status tensorCoreBackward(CudaContext &ctx, const void *q, const void *k, const void *v, const void *da,
                          const float *lse, const float *delta, float *dq, float *dk, float *dv, int64_t B,
                          int64_t T, int64_t H, int64_t G, int64_t hd, float scale);

/// Backend::timeAttentionCore for the CUDA backend: the tensor-core core
/// where it takes hd, else the float32 tiled one, checked against the
/// float32 tiled core on the same (bf16-valued) inputs, then timed.
Result<Backend::AttentionCoreTiming> timeAttentionCore(CudaContext &ctx, Allocator &alloc, int64_t B, int64_t T,
                                                       int64_t H, int64_t G, int64_t hd, int iters);

} // namespace shear::rt::cuda

#endif
