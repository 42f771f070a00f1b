//===- Precision.cu - cast: float32 master weights to bf16 working copies --===//
//
// The CUDA twin of cast in kernels/cpu/Precision.cpp: round to nearest even,
// which __float2bfloat16_rn is, so both backends hold the same bf16 values.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"

#include <cuda_bf16.h>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {

__global__ void toBf16Kernel(const float *x, __nv_bfloat16 *y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __float2bfloat16_rn(x[i]);
}

__global__ void fromBf16Kernel(const __nv_bfloat16 *x, float *y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __bfloat162float(x[i]);
}

Status cast(ExecContext &c, const KernelParams &, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0);
  Tensor &y = io.output(0);
  int64_t n = x.numel();
  if (x.dtype() == y.dtype()) {
    if (y.sameStorage(x) || n == 0)
      return Status();
    return cudaCheck(cudaMemcpyAsync(y.data(), x.data(), x.bytes(), cudaMemcpyDeviceToDevice, ctx.stream),
                     "cast");
  }
  if (x.dtype() == DType::F32 && y.dtype() == DType::BF16)
    toBf16Kernel<<<blocksFor(n), 256, 0, ctx.stream>>>(x.f32(), static_cast<__nv_bfloat16 *>(y.data()), n);
  else if (x.dtype() == DType::BF16 && y.dtype() == DType::F32)
    fromBf16Kernel<<<blocksFor(n), 256, 0, ctx.stream>>>(static_cast<const __nv_bfloat16 *>(x.data()), y.f32(), n);
  else
    return internalError(std::string("cast from ") + dtypeName(x.dtype()) + " to " + dtypeName(y.dtype()) +
                         " has no CUDA kernel");
  return launched("cast");
}

} // namespace

void shear::rt::cuda::registerPrecision(const Define &define) {
  define(KernelId::Cast, {cast});
}
