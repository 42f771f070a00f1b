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
// dg, du (and silu·u for the mask gradient) from dh, g, u.
__global__ void swigluBwdKernel(const float *dh, const float *g, const float *u, const float *inter,
                                float *dg, float *du, float *su, int64_t n, int64_t M) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float a = g[i], s = 1.0f / (1.0f + expf(-a)), silu = a * s;
    float zm = inter ? inter[i % M] : 1.0f;
    du[i] = dh[i] * silu * zm;
    dg[i] = dh[i] * u[i] * zm * s * (1.0f + a * (1.0f - s));
    if (su)
      su[i] = silu * u[i];
  }
}

__global__ void toFloatKernel(const double *in, float *out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<float>(in[i]);
}

struct MlpBwdLayout {
  int64_t rows, M;
  size_t part, partials, sums;
  size_t total() const { return 4 * part + partials + sums; }
};

MlpBwdLayout mlpBwdLayout(const Shape &x, const Shape &wg) {
  MlpBwdLayout l;
  l.rows = 1;
  for (size_t i = 0; i + 1 < x.size(); ++i)
    l.rows *= x[i];
  l.M = wg[0];
  l.part = alignedBytes(static_cast<size_t>(l.rows * l.M) * sizeof(float));
  l.partials = alignedBytes(static_cast<size_t>(columnPartialCount(l.rows) * l.M) * sizeof(double));
  l.sums = alignedBytes(static_cast<size_t>(l.M) * sizeof(double));
  return l;
}

size_t mlpBwdWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  return mlpBwdLayout(*in[0], *in[1]).total();
}

// mlp.bwd(x, w_gate, w_up, w_down [, intermediate], y, g, u, h, dy)
//   -> (dx, dw_gate, dw_up, dw_down [, dintermediate]); the GEMMs of the CPU twin.
Status mlpBwd(ExecContext &c, const KernelParams &, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0), &wg = io.input(1), &wu = io.input(2), &wd = io.input(3);
  const Tensor *z = io.optional(4);
  const Tensor &g = io.input(6), &u = io.input(7), &h = io.input(8), &dy = io.input(9);
  MlpBwdLayout lay = mlpBwdLayout(x.shape(), wg.shape());
  if (io.workspaceBytes < lay.total())
    return internalError("mlp.bwd: workspace too small");
  int64_t D = x.dim(-1), rows = lay.rows, M = lay.M;
  char *ws = static_cast<char *>(io.workspace);
  auto *dh = reinterpret_cast<float *>(ws), *dg = reinterpret_cast<float *>(ws + lay.part),
       *du = reinterpret_cast<float *>(ws + 2 * lay.part), *su = reinterpret_cast<float *>(ws + 3 * lay.part);
  auto *partials = reinterpret_cast<double *>(ws + 4 * lay.part);
  auto *sums = reinterpret_cast<double *>(ws + 4 * lay.part + lay.partials);
  Tensor *dz = io.optionalOutput(4);
  SHEAR_RETURN_IF_ERROR(gemm(ctx, true, false, D, M, rows, 1.0f, dy.f32(), D, h.f32(), M, 0.0f, io.output(3).f32(), M));
  SHEAR_RETURN_IF_ERROR(gemm(ctx, false, false, rows, M, D, 1.0f, dy.f32(), D, wd.f32(), M, 0.0f, dh, M));
  swigluBwdKernel<<<blocksFor(rows * M), 256, 0, ctx.stream>>>(dh, g.f32(), u.f32(), z ? z->f32() : nullptr,
                                                               dg, du, dz ? su : nullptr, rows * M, M);
  SHEAR_RETURN_IF_ERROR(launched("mlp.bwd"));
  float *dx = io.output(0).f32();
  SHEAR_RETURN_IF_ERROR(gemm(ctx, false, false, rows, D, M, 1.0f, dg, M, wg.f32(), D, 0.0f, dx, D));
  SHEAR_RETURN_IF_ERROR(gemm(ctx, false, false, rows, D, M, 1.0f, du, M, wu.f32(), D, 1.0f, dx, D));
  SHEAR_RETURN_IF_ERROR(gemm(ctx, true, false, M, D, rows, 1.0f, dg, M, x.f32(), D, 0.0f, io.output(1).f32(), D));
  SHEAR_RETURN_IF_ERROR(gemm(ctx, true, false, M, D, rows, 1.0f, du, M, x.f32(), D, 0.0f, io.output(2).f32(), D));
  if (dz) {
    SHEAR_RETURN_IF_ERROR(columnSums(ctx, dh, su, nullptr, rows, M, partials, sums));
    toFloatKernel<<<blocksFor(M), 256, 0, ctx.stream>>>(sums, dz->f32(), M);
    SHEAR_RETURN_IF_ERROR(launched("mlp.bwd"));
  }
  return Status();
}
} // namespace

void shear::rt::cuda::registerLinear(const Define &define) {
  define(KernelId::LMHead, {lmHead});
  define(KernelId::LMHeadBwd, {lmHeadBwd});
  define(KernelId::MLP, {mlp, mlpWorkspace});
  define(KernelId::MLPTrain, {mlpTrain});
  define(KernelId::MLPBwd, {mlpBwd, mlpBwdWorkspace});
}
