//===- ResidualNorm.cu - residual_add then rms_norm in one pass, gradient ---===//
//
// The twin of runtime/kernels/cpu/ResidualNorm.cpp. The forward is fused:
// one block per row reads x and u once, writes the residual stream y and
// its norm n (the mean of squares in double over the kept dims, as
// rms_norm). The backward composes rms_norm.bwd and residual_add.bwd as the
// CPU does. Both take float32 or bf16 storage alike (the forward's norm from
// the unrounded sum, as the CPU computes it; the backward's gradients float32).
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"
#include "Storage.cuh"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
enum { X, U, W, Layer, Hidden, Y, N, DY, DN };

template <class T>
__global__ void residualNormKernel(const T *x, const T *u, const T *w, const float *layer, const float *hidden, T *y,
                                   T *n, int64_t D, double eps) {
  __shared__ double shared[kBlock / 32];
  int64_t r = blockIdx.x;
  float l = layer ? layer[0] : 1.0f;
  double ss = 0, kept = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float h = hidden ? hidden[d] : 1.0f, v = load(x, r * D + d) + load(u, r * D + d) * l * h;
    store(y, r * D + d, v);
    if (h != 0.0f) {
      ss += double(v) * v;
      kept += 1;
    }
  }
  ss = blockSum(ss, shared);
  kept = blockSum(kept, shared);
  float rstd = kept > 0 ? static_cast<float>(1.0 / sqrt(ss / kept + eps)) : 0.0f;
  // The sum again (not y, which bf16 storage has rounded), as the CPU.
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float h = hidden ? hidden[d] : 1.0f, v = load(x, r * D + d) + load(u, r * D + d) * l * h;
    store(n, r * D + d, v * rstd * load(w, d) * h);
  }
}

__global__ void addInPlaceKernel(float *a, const float *b, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    a[i] += b[i];
}

__global__ void sumKernel(const float *a, const float *b, float *out, int64_t count) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i];
}

const float *opt(const Tensor *t) { return t ? t->f32() : nullptr; }

Status residualNorm(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(X);
  int64_t D = x.dim(-1), rows = D ? x.numel() / D : 0;
  if (rows == 0)
    return Status();
  if (rows > 0x7fffffff)
    return internalError("residual_add_rms_norm: too many rows for one launch");
  Storage s = storageOf({&x, &io.input(U), &io.input(W), &io.output(0), &io.output(1)},
                        {io.optional(Layer), io.optional(Hidden)});
  if (s == Storage::Other)
    return runInFloat32(KernelId::ResidualAddRMSNorm, residualNorm, c, params, io);
  double eps = std::get<NormParams>(params).eps;
  auto grid = static_cast<unsigned>(rows);
  cudaStream_t stream = cudaContext(c).stream;
  if (s == Storage::BF16) {
    auto in = [&](int i) { return static_cast<const __nv_bfloat16 *>(io.input(i).data()); };
    auto out = [&](int i) { return static_cast<__nv_bfloat16 *>(io.output(i).data()); };
    residualNormKernel<__nv_bfloat16><<<grid, kBlock, 0, stream>>>(in(X), in(U), in(W), opt(io.optional(Layer)),
                                                                   opt(io.optional(Hidden)), out(0), out(1), D, eps);
  } else {
    residualNormKernel<float><<<grid, kBlock, 0, stream>>>(x.f32(), io.input(U).f32(), io.input(W).f32(),
                                                           opt(io.optional(Layer)), opt(io.optional(Hidden)),
                                                           io.output(0).f32(), io.output(1).f32(), D, eps);
  }
  return launched("residual_add_rms_norm");
}

/// The float arrays of the backward's workspace, then the composed kernels'.
struct Parts {
  size_t dyNorm, dh, inner;
};
Parts partsFor(const Shape &x) {
  int64_t n = 1;
  for (int64_t d : x)
    n *= d;
  return {alignedBytes(static_cast<size_t>(n) * sizeof(float)),
          alignedBytes(static_cast<size_t>(x.empty() ? 1 : x.back()) * sizeof(float)), rowBackwardWorkspace(x)};
}

size_t residualNormBwdWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  Parts p = partsFor(*in[X]);
  return p.dyNorm + 2 * p.dh + p.inner;
}

Tensor viewOf(void *p, std::vector<int64_t> shape, Device device) {
  return Tensor::view(std::make_shared<Buffer>(p, 0, device, nullptr), 0, std::move(shape), DType::F32);
}

// Its parts take bf16 activations as they are (Backward.cu); the cotangents
// and every gradient are float32 (other mixes run on float32 copies).
Status residualNormBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  bool f32Grads = all(DType::F32, {io.in[DY], io.in[DN]});
  for (const Tensor *t : io.out)
    f32Grads &= !t || !t->defined() || t->dtype() == DType::F32;
  if (!f32Grads)
    return runInFloat32(KernelId::ResidualAddRMSNormBwd, residualNormBwd, c, params, io);
  const Tensor &x = io.input(X);
  const Tensor *hidden = io.optional(Hidden);
  int64_t D = x.dim(-1), count = x.numel();
  Parts p = partsFor(x.shape());
  if (io.workspaceBytes < p.dyNorm + 2 * p.dh + p.inner)
    return internalError("residual_add_rms_norm.bwd: workspace too small");
  char *w = static_cast<char *>(io.workspace);
  Tensor dyNorm = viewOf(w, x.shape(), x.device()), dhNorm = viewOf(w + p.dyNorm, {D}, x.device()),
         dhResidual = viewOf(w + p.dyNorm + p.dh, {D}, x.device());
  KernelIO norm;
  norm.in = {io.in[Y], io.in[W], io.in[Hidden], io.in[N], io.in[DN]};
  norm.out = {&dyNorm, io.out[2], hidden ? &dhNorm : nullptr};
  norm.workspace = w + p.dyNorm + 2 * p.dh;
  norm.workspaceBytes = p.inner;
  SHEAR_RETURN_IF_ERROR(rmsNormBackward(c, params, norm));
  Tensor &dx = io.output(0); // holds dy: the residual stream's total cotangent
  addInPlaceKernel<<<blocksFor(count), 256, 0, ctx.stream>>>(dx.f32(), dyNorm.f32(), count);
  SHEAR_RETURN_IF_ERROR(launched("residual_add_rms_norm.bwd"));
  KernelIO residual;
  residual.in = {io.in[X], io.in[U], io.in[Layer], io.in[Hidden], io.in[Y], &dx};
  residual.out = {&dx, io.out[1], io.out[3], hidden ? &dhResidual : nullptr};
  residual.workspace = norm.workspace;
  residual.workspaceBytes = p.inner;
  SHEAR_RETURN_IF_ERROR(residualAddBackward(c, NoParams{}, residual));
  if (Tensor *dh = io.optionalOutput(4)) {
    sumKernel<<<blocksFor(D), 256, 0, ctx.stream>>>(dhNorm.f32(), dhResidual.f32(), dh->f32(), D);
    SHEAR_RETURN_IF_ERROR(launched("residual_add_rms_norm.bwd"));
  }
  return Status();
}
} // namespace

void shear::rt::cuda::registerResidualNorm(const Define &define) {
  define(KernelId::ResidualAddRMSNorm, {residualNorm});
  takesBf16(KernelId::ResidualAddRMSNorm);
  define(KernelId::ResidualAddRMSNormBwd, {residualNormBwd, residualNormBwdWorkspace});
  takesBf16(KernelId::ResidualAddRMSNormBwd);
}
