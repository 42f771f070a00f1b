//===- Linear.cu - the GEMM kernels: lm_head and the SwiGLU MLP -------------===//
//
// Twins of runtime/kernels/cpu/LMHead.cpp and MLP.cpp: cuBLAS GEMMs and the
// gating between them. float32 calls compute as the CPU does; bf16 calls
// (a bf16 program) take their bf16 tensors as they are: GEMMs of bf16
// operands on tensor cores with float32 accumulation, the SwiGLU in float32
// from float32 GEMM results, h stored in bf16 for the down projection, and
// a float32 cotangent rounded to bf16 for the backward's GEMMs (as bf16
// autocast does). Against the CPU's bf16 (float32 arithmetic, rounded where
// stored) that differs by bf16 roundings of h, dg, du and the cotangent.
// Calls that mix storage other ways run on float32 copies.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Storage.cuh"


using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {

/// The rows of an activation: every dimension but the last.
int64_t rowsOf(const Shape &x) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < x.size(); ++i)
    rows *= x[i];
  return rows;
}

/// Y[rows, out] = X[rows, in] · Wᵀ for W[out, in].
Status linear(CudaContext &ctx, const float *X, const float *W, float *Y, int64_t rows,
              int64_t in, int64_t out) {
  return gemm(ctx, false, true, rows, out, in, 1.0f, X, in, W, in, 0.0f, Y, out);
}

// h = silu(g) · u ⊙ intermediate; gOut and uOut (when given) take g and u
// in H's type (mlp.train's bf16 results).
template <class H>
__global__ void swigluKernel(const float *g, const float *u, const float *inter, H *h, H *gOut, H *uOut,
                             int64_t n, int64_t M) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float a = g[i];
    store(h, i, a * (1.0f / (1.0f + expf(-a))) * u[i] * (inter ? inter[i % M] : 1.0f)); // as the CPU
    if (gOut) {
      store(gOut, i, a);
      store(uOut, i, u[i]);
    }
  }
}

Status lmHeadF32(ExecContext &c, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(0), &w = io.input(1);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  return linear(cudaContext(c), x.f32(), w.f32(), io.output(0).f32(), rows, D, V);
}

Status lmHead(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(0), &w = io.input(1);
  Tensor &y = io.output(0);
  if (all(DType::F32, {&x, &w, &y}))
    return lmHeadF32(c, params, io);
  if (!all(DType::BF16, {&x, &w}) || (y.dtype() != DType::BF16 && y.dtype() != DType::F32))
    return runInFloat32(KernelId::LMHead, lmHeadF32, c, params, io);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  return gemmEx(cudaContext(c), false, true, rows, V, D, 1.0f, operand(x), D, operand(w), D, 0.0f, y.data(),
                y.dtype(), V);
}

// lm_head.bwd(x, w, logits, dlogits) -> (dx = dlogits w, dw = dlogitsᵀ x)
Status lmHeadBwdF32(ExecContext &c, const KernelParams &, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0), &w = io.input(1), &dl = io.input(3);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  SHEAR_RETURN_IF_ERROR(gemm(ctx, false, false, rows, D, V, 1.0f, dl.f32(), V, w.f32(), D, 0.0f,
                             io.output(0).f32(), D));
  return gemm(ctx, true, false, V, D, rows, 1.0f, dl.f32(), V, x.f32(), D, 0.0f, io.output(1).f32(), D);
}

Status lmHeadBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0), &w = io.input(1), &dl = io.input(3);
  Tensor &dx = io.output(0), &dw = io.output(1);
  if (all(DType::F32, {&x, &w, &dl, &dx, &dw}))
    return lmHeadBwdF32(c, params, io);
  if (!all(DType::BF16, {&x, &w}) || !all(DType::F32, {&dx, &dw}) ||
      (dl.dtype() != DType::F32 && dl.dtype() != DType::BF16))
    return runInFloat32(KernelId::LMHeadBwd, lmHeadBwdF32, c, params, io);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  if (io.workspaceBytes < bf16Bytes(rows * V))
    return internalError("lm_head.bwd: workspace too small");
  auto dl16 = bf16Cotangent(ctx, dl, io.workspace);
  if (!dl16.ok())
    return dl16.status();
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, rows, D, V, 1.0f, bf16(*dl16), V, operand(w), D, 0.0f, dx.data(),
                               DType::F32, D));
  return gemmEx(ctx, true, false, V, D, rows, 1.0f, bf16(*dl16), V, operand(x), D, 0.0f, dw.data(), DType::F32, D);
}

// A bf16 call's cotangent rounded to bf16 for its GEMMs.
size_t lmHeadBwdWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  return bf16Bytes(rowsOf(*in[0]) * (*in[1])[0]);
}

// g, u, h into the given arrays, then y.
Status mlpForward(CudaContext &ctx, const KernelIO &io, float *g, float *u, float *h) {
  const Tensor &x = io.input(0), &wg = io.input(1), &wu = io.input(2), &wd = io.input(3);
  const Tensor *z = io.optional(4);
  int64_t D = x.dim(-1), rows = x.numel() / D, M = wg.dim(0);
  SHEAR_RETURN_IF_ERROR(linear(ctx, x.f32(), wg.f32(), g, rows, D, M));
  SHEAR_RETURN_IF_ERROR(linear(ctx, x.f32(), wu.f32(), u, rows, D, M));
  swigluKernel<float><<<blocksFor(rows * M), 256, 0, ctx.stream>>>(g, u, z ? z->f32() : nullptr, h, nullptr,
                                                                   nullptr, rows * M, M);
  SHEAR_RETURN_IF_ERROR(launched("mlp"));
  return linear(ctx, h, wd.f32(), io.output(0).f32(), rows, M, D);
}

// bf16: g and u into float32 scratch, h (and for mlp.train g and u) stored
// in bf16, y = h w_downᵀ in bf16.
Status mlpForwardBf16(CudaContext &ctx, const KernelIO &io, float *g, float *u, __nv_bfloat16 *h,
                      __nv_bfloat16 *gOut, __nv_bfloat16 *uOut) {
  const Tensor &x = io.input(0), &wg = io.input(1), &wu = io.input(2), &wd = io.input(3);
  const Tensor *z = io.optional(4);
  int64_t D = x.dim(-1), rows = x.numel() / D, M = wg.dim(0);
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, true, rows, M, D, 1.0f, operand(x), D, operand(wg), D, 0.0f, g,
                               DType::F32, M));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, true, rows, M, D, 1.0f, operand(x), D, operand(wu), D, 0.0f, u,
                               DType::F32, M));
  swigluKernel<__nv_bfloat16><<<blocksFor(rows * M), 256, 0, ctx.stream>>>(g, u, z ? z->f32() : nullptr, h, gOut,
                                                                           uOut, rows * M, M);
  SHEAR_RETURN_IF_ERROR(launched("mlp"));
  return gemmEx(ctx, false, true, rows, D, M, 1.0f, bf16(h), M, operand(wd), M, 0.0f, io.output(0).data(),
                DType::BF16, D);
}

bool bf16Forward(const KernelIO &io) {
  const Tensor *z = io.optional(4);
  if (z && z->dtype() != DType::F32)
    return false;
  for (size_t i = 0; i < 4; ++i)
    if (io.input(i).dtype() != DType::BF16)
      return false;
  for (const Tensor *t : io.out)
    if (t && t->defined() && t->dtype() != DType::BF16)
      return false;
  return true;
}

size_t mlpWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  return 3 * alignedBytes(static_cast<size_t>(rowsOf(*in[0]) * (*in[1])[0]) * sizeof(float));
}

/// The bytes of each of mlp's three workspace arrays (rows × intermediate floats).
Status mlpWorkspaceParts(const KernelIO &io, size_t &part) {
  const Tensor &x = io.input(0);
  size_t n = static_cast<size_t>(x.numel() / x.dim(-1) * io.input(1).dim(0));
  part = alignedBytes(n * sizeof(float));
  if (io.workspaceBytes < 3 * part)
    return internalError("mlp: workspace too small");
  return Status();
}

Status mlpF32(ExecContext &c, const KernelParams &, KernelIO &io) {
  size_t part = 0;
  SHEAR_RETURN_IF_ERROR(mlpWorkspaceParts(io, part));
  char *ws = static_cast<char *>(io.workspace);
  return mlpForward(cudaContext(c), io, reinterpret_cast<float *>(ws),
                    reinterpret_cast<float *>(ws + part), reinterpret_cast<float *>(ws + 2 * part));
}

Status mlp(ExecContext &c, const KernelParams &params, KernelIO &io) {
  if (allFloat32(io))
    return mlpF32(c, params, io);
  if (!bf16Forward(io))
    return runInFloat32(KernelId::MLP, mlpF32, c, params, io);
  size_t part = 0;
  SHEAR_RETURN_IF_ERROR(mlpWorkspaceParts(io, part));
  char *ws = static_cast<char *>(io.workspace);
  return mlpForwardBf16(cudaContext(c), io, reinterpret_cast<float *>(ws), reinterpret_cast<float *>(ws + part),
                        reinterpret_cast<__nv_bfloat16 *>(ws + 2 * part), nullptr, nullptr);
}

// A bf16 call's g and u in float32, from which h is computed.
size_t mlpTrainWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  return 2 * alignedBytes(static_cast<size_t>(rowsOf(*in[0]) * (*in[1])[0]) * sizeof(float));
}

Status mlpTrainF32(ExecContext &c, const KernelParams &, KernelIO &io) {
  return mlpForward(cudaContext(c), io, io.output(1).f32(), io.output(2).f32(), io.output(3).f32());
}

Status mlpTrain(ExecContext &c, const KernelParams &params, KernelIO &io) {
  if (allFloat32(io))
    return mlpTrainF32(c, params, io);
  if (!bf16Forward(io))
    return runInFloat32(KernelId::MLPTrain, mlpTrainF32, c, params, io);
  CudaContext &ctx = cudaContext(c);
  size_t part = alignedBytes(static_cast<size_t>(io.output(1).numel()) * sizeof(float));
  if (io.workspaceBytes < 2 * part)
    return internalError("mlp.train: workspace too small");
  auto *g = static_cast<float *>(io.workspace);
  auto *u = reinterpret_cast<float *>(static_cast<char *>(io.workspace) + part);
  auto bf = [](Tensor &t) { return static_cast<__nv_bfloat16 *>(t.data()); };
  return mlpForwardBf16(ctx, io, g, u, bf(io.output(3)), bf(io.output(1)), bf(io.output(2)));
}
// dg, du (and silu·u for the mask gradient) from dh, g, u: g and u in T's
// type, dg and du stored in D's.
template <class T, class D>
__global__ void swigluBwdKernel(const float *dh, const T *g, const T *u, const float *inter, D *dg, D *du,
                                float *su, int64_t n, int64_t M) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float a = load(g, i), s = 1.0f / (1.0f + expf(-a)), silu = a * s, ui = load(u, i);
    float zm = inter ? inter[i % M] : 1.0f;
    store(du, i, dh[i] * silu * zm);
    store(dg, i, dh[i] * ui * zm * s * (1.0f + a * (1.0f - s)));
    if (su)
      su[i] = silu * ui;
  }
}

__global__ void toFloatKernel(const double *in, float *out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<float>(in[i]);
}

struct MlpBwdLayout {
  int64_t rows, M;
  size_t part, partials, sums, dy16; // dy16: a bf16 call's cotangent rounded
  size_t total() const { return 4 * part + partials + sums + dy16; }
};

MlpBwdLayout mlpBwdLayout(const Shape &x, const Shape &wg) {
  MlpBwdLayout l;
  l.rows = rowsOf(x);
  l.M = wg[0];
  l.part = alignedBytes(static_cast<size_t>(l.rows * l.M) * sizeof(float));
  l.partials = alignedBytes(static_cast<size_t>(columnPartialCount(l.rows) * l.M) * sizeof(double));
  l.sums = alignedBytes(static_cast<size_t>(l.M) * sizeof(double));
  l.dy16 = bf16Bytes(l.rows * x.back());
  return l;
}

size_t mlpBwdWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  return mlpBwdLayout(*in[0], *in[1]).total();
}

// mlp.bwd(x, w_gate, w_up, w_down [, intermediate], y, g, u, h, dy)
//   -> (dx, dw_gate, dw_up, dw_down [, dintermediate]); the GEMMs of the CPU twin.
Status mlpBwdF32(ExecContext &c, const KernelParams &, KernelIO &io) {
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
  swigluBwdKernel<float, float><<<blocksFor(rows * M), 256, 0, ctx.stream>>>(
      dh, g.f32(), u.f32(), z ? z->f32() : nullptr, dg, du, dz ? su : nullptr, rows * M, M);
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
// bf16: the GEMMs on bf16 operands (the cotangent rounded to bf16, dg and
// du stored in bf16), float32 results; the mask gradient from float32 dh.
Status mlpBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  if (allFloat32(io))
    return mlpBwdF32(c, params, io);
  const Tensor &x = io.input(0), &wg = io.input(1), &wu = io.input(2), &wd = io.input(3);
  const Tensor *z = io.optional(4);
  const Tensor &g = io.input(6), &u = io.input(7), &h = io.input(8), &dy = io.input(9);
  Tensor *dz = io.optionalOutput(4);
  bool native = all(DType::BF16, {&x, &wg, &wu, &wd, &g, &u, &h}) && (!z || z->dtype() == DType::F32) &&
                (dy.dtype() == DType::F32 || dy.dtype() == DType::BF16);
  for (const Tensor *t : io.out)
    native &= !t || !t->defined() || t->dtype() == DType::F32;
  if (!native)
    return runInFloat32(KernelId::MLPBwd, mlpBwdF32, c, params, io);
  CudaContext &ctx = cudaContext(c);
  MlpBwdLayout lay = mlpBwdLayout(x.shape(), wg.shape());
  if (io.workspaceBytes < lay.total())
    return internalError("mlp.bwd: workspace too small");
  int64_t D = x.dim(-1), rows = lay.rows, M = lay.M;
  char *ws = static_cast<char *>(io.workspace);
  auto *dh = reinterpret_cast<float *>(ws);
  auto *dg = reinterpret_cast<__nv_bfloat16 *>(ws + lay.part), *du = reinterpret_cast<__nv_bfloat16 *>(ws + 2 * lay.part);
  auto *su = reinterpret_cast<float *>(ws + 3 * lay.part);
  auto *partials = reinterpret_cast<double *>(ws + 4 * lay.part);
  auto *sums = reinterpret_cast<double *>(ws + 4 * lay.part + lay.partials);
  auto dy16 = bf16Cotangent(ctx, dy, ws + 4 * lay.part + lay.partials + lay.sums);
  if (!dy16.ok())
    return dy16.status();
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, true, false, D, M, rows, 1.0f, bf16(*dy16), D, operand(h), M, 0.0f,
                               io.output(3).data(), DType::F32, M));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, rows, M, D, 1.0f, bf16(*dy16), D, operand(wd), M, 0.0f, dh,
                               DType::F32, M));
  swigluBwdKernel<__nv_bfloat16, __nv_bfloat16><<<blocksFor(rows * M), 256, 0, ctx.stream>>>(
      dh, static_cast<const __nv_bfloat16 *>(g.data()), static_cast<const __nv_bfloat16 *>(u.data()),
      z ? z->f32() : nullptr, dg, du, dz ? su : nullptr, rows * M, M);
  SHEAR_RETURN_IF_ERROR(launched("mlp.bwd"));
  void *dx = io.output(0).data();
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, rows, D, M, 1.0f, bf16(dg), M, operand(wg), D, 0.0f, dx,
                               DType::F32, D));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, rows, D, M, 1.0f, bf16(du), M, operand(wu), D, 1.0f, dx,
                               DType::F32, D));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, true, false, M, D, rows, 1.0f, bf16(dg), M, operand(x), D, 0.0f,
                               io.output(1).data(), DType::F32, D));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, true, false, M, D, rows, 1.0f, bf16(du), M, operand(x), D, 0.0f,
                               io.output(2).data(), DType::F32, D));
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
  define(KernelId::LMHeadBwd, {lmHeadBwd, lmHeadBwdWorkspace});
  define(KernelId::MLP, {mlp, mlpWorkspace});
  define(KernelId::MLPTrain, {mlpTrain, mlpTrainWorkspace});
  define(KernelId::MLPBwd, {mlpBwd, mlpBwdWorkspace});
  for (KernelId id : {KernelId::LMHead, KernelId::LMHeadBwd, KernelId::MLP, KernelId::MLPTrain, KernelId::MLPBwd})
    takesBf16(id);
}
