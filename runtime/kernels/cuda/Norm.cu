//===- Norm.cu - RMSNorm over the kept hidden dims -------------------------===//
//
// The twin of runtime/kernels/cpu/RMSNorm.cpp: one block per row, the mean
// of squares (in double, as on the CPU) over the dims the hidden mask keeps.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
constexpr int kThreads = kBlock;

__global__ void rmsNormKernel(const float *x, const float *w, const float *hidden, float *y,
                              int64_t D, double eps) {
  __shared__ double shared[kThreads / 32];
  const float *in = x + blockIdx.x * D;
  float *out = y + blockIdx.x * D;
  double ss = 0, kept = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
    if (!hidden || hidden[d] != 0.0f) {
      ss += double(in[d]) * in[d];
      kept += 1;
    }
  ss = blockSum(ss, shared);
  kept = blockSum(kept, shared);
  float rstd = kept > 0 ? static_cast<float>(1.0 / sqrt(ss / kept + eps)) : 0.0f;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
    out[d] = in[d] * rstd * w[d] * (hidden ? hidden[d] : 1.0f);
}

Status rmsNorm(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(0);
  const Tensor *z = io.optional(2);
  int64_t D = x.dim(-1), rows = x.numel() / D;
  if (rows == 0)
    return Status();
  if (rows > 0x7fffffff)
    return internalError("rms_norm: too many rows for one launch");
  rmsNormKernel<<<static_cast<unsigned>(rows), kThreads, 0, cudaContext(c).stream>>>(
      x.f32(), io.input(1).f32(), z ? z->f32() : nullptr, io.output(0).f32(), D,
      std::get<NormParams>(params).eps);
  return launched("rms_norm");
}
} // namespace

void shear::rt::cuda::registerNorm(const Define &define) { define(KernelId::RMSNorm, {rmsNorm}); }
