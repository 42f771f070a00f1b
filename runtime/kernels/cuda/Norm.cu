//===- Norm.cu - RMSNorm over the kept hidden dims -------------------------===//
//
// The twin of runtime/kernels/cpu/RMSNorm.cpp: one block per row, the mean
// of squares (in double, as on the CPU) over the dims the hidden mask keeps.
// float32 or bf16 storage alike (Storage.cuh): a bf16 row is read as float
// and its result rounded when stored, as the CPU's bf16 storage does.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"
#include "Storage.cuh"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
constexpr int kThreads = kBlock;

template <class T>
__global__ void rmsNormKernel(const T *x, const T *w, const float *hidden, T *y, int64_t D, double eps) {
  __shared__ double shared[kThreads / 32];
  const T *in = x + blockIdx.x * D;
  T *out = y + blockIdx.x * D;
  double ss = 0, kept = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
    if (!hidden || hidden[d] != 0.0f) {
      float v = load(in, d);
      ss += double(v) * v;
      kept += 1;
    }
  ss = blockSum(ss, shared);
  kept = blockSum(kept, shared);
  float rstd = kept > 0 ? static_cast<float>(1.0 / sqrt(ss / kept + eps)) : 0.0f;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
    store(out, d, load(in, d) * rstd * load(w, d) * (hidden ? hidden[d] : 1.0f));
}

Status rmsNorm(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(0);
  const Tensor *z = io.optional(2);
  int64_t D = x.dim(-1), rows = x.numel() / D;
  if (rows == 0)
    return Status();
  if (rows > 0x7fffffff)
    return internalError("rms_norm: too many rows for one launch");
  Storage s = storageOf({&x, &io.input(1), &io.output(0)}, {z});
  if (s == Storage::Other)
    return runInFloat32(KernelId::RMSNorm, rmsNorm, c, params, io);
  double eps = std::get<NormParams>(params).eps;
  const float *hidden = z ? z->f32() : nullptr;
  auto grid = static_cast<unsigned>(rows);
  if (s == Storage::BF16)
    rmsNormKernel<__nv_bfloat16><<<grid, kThreads, 0, cudaContext(c).stream>>>(
        static_cast<const __nv_bfloat16 *>(x.data()), static_cast<const __nv_bfloat16 *>(io.input(1).data()), hidden,
        static_cast<__nv_bfloat16 *>(io.output(0).data()), D, eps);
  else
    rmsNormKernel<float><<<grid, kThreads, 0, cudaContext(c).stream>>>(x.f32(), io.input(1).f32(), hidden,
                                                                     io.output(0).f32(), D, eps);
  return launched("rms_norm");
}
} // namespace

void shear::rt::cuda::registerNorm(const Define &define) {
  define(KernelId::RMSNorm, {rmsNorm});
  takesBf16(KernelId::RMSNorm);
}
