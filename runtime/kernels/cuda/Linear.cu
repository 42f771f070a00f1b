//===- Linear.cu - the GEMM kernels: lm_head and the SwiGLU MLP -------------===//
//
// Twins of runtime/kernels/cpu/LMHead.cpp and MLP.cpp: cuBLAS float32 GEMMs
// and the gating between them.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {

/// Y[rows, out] = X[rows, in] · Wᵀ for W[out, in].
Status linear(CudaContext &ctx, const float *X, const float *W, float *Y, int64_t rows,
              int64_t in, int64_t out) {
  return gemm(ctx, false, true, rows, out, in, 1.0f, X, in, W, in, 0.0f, Y, out);
}

// h = silu(g) · u ⊙ intermediate
__global__ void swigluKernel(const float *g, const float *u, const float *inter, float *h,
                             int64_t n, int64_t M) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float a = g[i];
    h[i] = a * (1.0f / (1.0f + expf(-a))) * u[i] * (inter ? inter[i % M] : 1.0f); // as the CPU
  }
}

Status lmHead(ExecContext &c, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(0), &w = io.input(1);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  return linear(cudaContext(c), x.f32(), w.f32(), io.output(0).f32(), rows, D, V);
}

// lm_head.bwd(x, w, logits, dlogits) -> (dx = dlogits w, dw = dlogitsᵀ x)
Status lmHeadBwd(ExecContext &c, const KernelParams &, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0), &w = io.input(1), &dl = io.input(3);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  SHEAR_RETURN_IF_ERROR(gemm(ctx, false, false, rows, D, V, 1.0f, dl.f32(), V, w.f32(), D, 0.0f,
                             io.output(0).f32(), D));
  return gemm(ctx, true, false, V, D, rows, 1.0f, dl.f32(), V, x.f32(), D, 0.0f, io.output(1).f32(), D);
}

// g, u, h into the given arrays, then y.
Status mlpForward(CudaContext &ctx, const KernelIO &io, float *g, float *u, float *h) {
  const Tensor &x = io.input(0), &wg = io.input(1), &wu = io.input(2), &wd = io.input(3);
  const Tensor *z = io.optional(4);
  int64_t D = x.dim(-1), rows = x.numel() / D, M = wg.dim(0);
  SHEAR_RETURN_IF_ERROR(linear(ctx, x.f32(), wg.f32(), g, rows, D, M));
  SHEAR_RETURN_IF_ERROR(linear(ctx, x.f32(), wu.f32(), u, rows, D, M));
  swigluKernel<<<blocksFor(rows * M), 256, 0, ctx.stream>>>(g, u, z ? z->f32() : nullptr, h,
                                                            rows * M, M);
  SHEAR_RETURN_IF_ERROR(launched("mlp"));
  return linear(ctx, h, wd.f32(), io.output(0).f32(), rows, M, D);
}

size_t mlpWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  const Shape &x = *in[0];
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < x.size(); ++i)
    rows *= x[i];
  return 3 * alignedBytes(static_cast<size_t>(rows * (*in[1])[0]) * sizeof(float));
}

Status mlp(ExecContext &c, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(0);
  size_t n = static_cast<size_t>(x.numel() / x.dim(-1) * io.input(1).dim(0));
  char *ws = static_cast<char *>(io.workspace);
  size_t part = alignedBytes(n * sizeof(float));
  if (io.workspaceBytes < 3 * part)
    return internalError("mlp: workspace too small");
  return mlpForward(cudaContext(c), io, reinterpret_cast<float *>(ws),
                    reinterpret_cast<float *>(ws + part), reinterpret_cast<float *>(ws + 2 * part));
}

Status mlpTrain(ExecContext &c, const KernelParams &, KernelIO &io) {
  return mlpForward(cudaContext(c), io, io.output(1).f32(), io.output(2).f32(), io.output(3).f32());
}
} // namespace

void shear::rt::cuda::registerLinear(const Define &define) {
  define(KernelId::LMHead, {lmHead});
  define(KernelId::LMHeadBwd, {lmHeadBwd});
  define(KernelId::MLP, {mlp, mlpWorkspace});
  define(KernelId::MLPTrain, {mlpTrain});
}
