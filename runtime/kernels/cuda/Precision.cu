//===- Precision.cu - bf16 storage on the GPU: cast and the float32 adapter ===//
//
// cast is the CUDA twin of cast in kernels/cpu/Precision.cpp: round to
// nearest even, which __float2bfloat16_rn is, so both backends hold the same
// bf16 values. A native kernel that takes float32 tensors runs a call with
// bf16 tensors (a bf16 program) as the CPU backend does, but on the device:
// on float32 copies of the bf16 operands, each result cast back to its
// declared type, all on the stream (docs/precision.md).
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

bool needsFloat32Copy(const Tensor *t) {
  return t && t->defined() && isFloatDType(t->dtype()) && t->dtype() != DType::F32;
}

/// A float32 device tensor of `t`'s shape, from the device's cache (on the
/// one stream, the memory's next user is ordered after this call).
Result<Tensor> float32Like(CudaContext &ctx, const Tensor &t) {
  auto f = Tensor::allocate(*ctx.allocator, t.shape(), DType::F32);
  if (!f.ok())
    return f.status().prefixed("a float32 copy of " + t.shapeString() + ": ");
  return f;
}

Status convert(CudaContext &ctx, const Tensor &from, const Tensor &to) {
  KernelIO io;
  io.in = {&from};
  Tensor out = to;
  io.out = {&out};
  return cast(ctx, NoParams{}, io);
}

} // namespace

Status shear::rt::cuda::runInFloat32(KernelId id, KernelFn kernel, ExecContext &context,
                                     const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(context);
  const KernelDecl &decl = kernelDecl(id);
  std::vector<Tensor> in(io.in.size()), out(io.out.size());
  KernelIO f32 = io;
  for (size_t i = 0; i < io.in.size(); ++i)
    if (needsFloat32Copy(io.in[i])) {
      auto t = float32Like(ctx, *io.in[i]);
      if (!t.ok())
        return t.status();
      in[i] = t.take();
      SHEAR_RETURN_IF_ERROR(convert(ctx, *io.in[i], in[i]));
      f32.in[i] = &in[i];
    }
  for (size_t r = 0; r < io.out.size(); ++r) {
    if (!needsFloat32Copy(io.out[r]))
      continue;
    auto t = float32Like(ctx, *io.out[r]);
    if (!t.ok())
      return t.status();
    out[r] = t.take();
    // A result that updates an operand in place starts from its contents.
    if (r < decl.results.size() && decl.results[r].updates >= 0)
      SHEAR_RETURN_IF_ERROR(convert(ctx, *io.out[r], out[r]));
    f32.out[r] = &out[r];
  }
  // The call's GEMMs on bf16 tensor cores, as bf16 storage means.
  ctx.bf16Gemms = true;
  Status ran = kernel(context, params, f32);
  ctx.bf16Gemms = false;
  SHEAR_RETURN_IF_ERROR(ran);
  for (size_t r = 0; r < io.out.size(); ++r)
    if (out[r].defined())
      SHEAR_RETURN_IF_ERROR(convert(ctx, out[r], *io.out[r]));
  return Status();
}

Status shear::rt::cuda::roundToBf16(CudaContext &ctx, const float *x, void *y, int64_t n) {
  if (n == 0)
    return Status();
  toBf16Kernel<<<blocksFor(n), 256, 0, ctx.stream>>>(x, static_cast<__nv_bfloat16 *>(y), n);
  return launched("a bf16 copy");
}

Result<const void *> shear::rt::cuda::bf16Cotangent(CudaContext &ctx, const Tensor &t, void *scratch) {
  if (t.dtype() == DType::BF16)
    return t.data();
  SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, t.f32(), scratch, t.numel()));
  return static_cast<const void *>(scratch);
}

Status shear::rt::cuda::widenFromBf16(CudaContext &ctx, const void *x, float *y, int64_t n) {
  if (n == 0)
    return Status();
  fromBf16Kernel<<<blocksFor(n), 256, 0, ctx.stream>>>(static_cast<const __nv_bfloat16 *>(x), y, n);
  return launched("a float32 copy");
}

void shear::rt::cuda::registerPrecision(const Define &define) {
  define(KernelId::Cast, {cast});
  takesBf16(KernelId::Cast); // it converts between the types
}
