//===- Backward.cu - rms_norm.bwd and residual_add.bwd ---------------------===//
//
// Twins of the backward kernels in runtime/kernels/cpu/RMSNorm.cpp and
// Residual.cpp (which state the formulas). Per-row work takes one block per
// row; sums over rows (the weight and mask gradients) are column sums over
// fixed chunks of rows, then over the chunks in order: deterministic.
// The activations (x, u) and the norm's weight may be bf16 (a bf16 program:
// read as float, Storage.cuh); the cotangent and the gradients are float32.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"
#include "Storage.cuh"

#include <algorithm>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
constexpr int64_t kMaxChunks = 64;

int64_t chunksFor(int64_t rows) { return std::max<int64_t>(1, std::min(kMaxChunks, rows)); }

/// partial[c, d] = Σ over chunk c's rows r of a[r, d] · b[r, d] · scale[r]
/// (scale absent: 1).
template <class B>
__global__ void columnPartialKernel(const float *a, const B *b, const double *scale, int64_t rows, int64_t D,
                                    int64_t chunkRows, double *partial) {
  int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, c = blockIdx.y;
  if (d >= D)
    return;
  int64_t r0 = c * chunkRows, r1 = r0 + chunkRows < rows ? r0 + chunkRows : rows;
  double s = 0;
  for (int64_t r = r0; r < r1; ++r)
    s += double(a[r * D + d]) * load(b, r * D + d) * (scale ? scale[r] : 1.0);
  partial[c * D + d] = s;
}

/// sum[d] = Σ_c partial[c, d], in chunk order.
__global__ void columnFinishKernel(const double *partial, int64_t chunks, int64_t D, double *sum) {
  int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (d >= D)
    return;
  double s = 0;
  for (int64_t c = 0; c < chunks; ++c)
    s += partial[c * D + d];
  sum[d] = s;
}

} // namespace

int64_t shear::rt::cuda::columnPartialCount(int64_t rows) { return chunksFor(rows); }

/// sum[d] = Σ_r a[r, d] · b[r, d] · scale[r], deterministic (b float32 or bf16).
static Status columnSumsOf(CudaContext &ctx, const float *a, const void *b, DType bType, const double *scale, int64_t rows,
                    int64_t D, double *partial, double *sum) {
  int64_t chunks = chunksFor(rows), chunkRows = (rows + chunks - 1) / chunks;
  dim3 grid(static_cast<unsigned>((D + kBlock - 1) / kBlock), static_cast<unsigned>(chunks));
  if (bType == DType::BF16)
    columnPartialKernel<__nv_bfloat16><<<grid, kBlock, 0, ctx.stream>>>(
        a, static_cast<const __nv_bfloat16 *>(b), scale, rows, D, chunkRows, partial);
  else
    columnPartialKernel<float><<<grid, kBlock, 0, ctx.stream>>>(a, static_cast<const float *>(b), scale, rows, D,
                                                                chunkRows, partial);
  columnFinishKernel<<<static_cast<unsigned>((D + kBlock - 1) / kBlock), kBlock, 0, ctx.stream>>>(
      partial, chunks, D, sum);
  return launched("column sums");
}

Status shear::rt::cuda::columnSums(CudaContext &ctx, const float *a, const float *b, const double *scale,
                                   int64_t rows, int64_t D, double *partial, double *sum) {
  return columnSumsOf(ctx, a, b, DType::F32, scale, rows, D, partial, sum);
}

namespace {

struct Scratch {
  double *rowScale, *partial, *sum;
  static size_t bytes(int64_t rows, int64_t D) {
    return alignedBytes(sizeof(double) * static_cast<size_t>(std::max<int64_t>(rows, 1))) +
           alignedBytes(sizeof(double) * static_cast<size_t>(chunksFor(rows) * D)) +
           alignedBytes(sizeof(double) * static_cast<size_t>(D));
  }
  Scratch(const KernelIO &io, int64_t rows, int64_t D) {
    char *p = static_cast<char *>(io.workspace);
    rowScale = reinterpret_cast<double *>(p);
    p += alignedBytes(sizeof(double) * static_cast<size_t>(std::max<int64_t>(rows, 1)));
    partial = reinterpret_cast<double *>(p);
    p += alignedBytes(sizeof(double) * static_cast<size_t>(chunksFor(rows) * D));
    sum = reinterpret_cast<double *>(p);
  }
};

size_t rowsTimesLast(const Shape &x, int64_t &rows, int64_t &D) {
  D = x.empty() ? 1 : x.back();
  rows = 1;
  for (size_t i = 0; i + 1 < x.size(); ++i)
    rows *= x[i];
  return Scratch::bytes(rows, D);
}

size_t backwardWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  int64_t rows, D;
  return rowsTimesLast(*in[0], rows, D);
}

// --- rms_norm.bwd(x, w [, hidden], y, dy) -> (dx, dw [, dhidden]) ----------

/// One block per row: dx, and the row's rstd into rowScale.
template <class T>
__global__ void rmsNormRowKernel(const T *x, const T *w, const float *z, const float *dy, float *dx,
                                 double *rowScale, int64_t D, double eps) {
  __shared__ double shared[kBlock / 32];
  int64_t r = blockIdx.x;
  const T *in = x + r * D;
  const float *g = dy + r * D;
  double ss = 0, kept = 0, dot = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float zd = z ? z[d] : 1.0f, xd = load(in, d);
    if (zd != 0.0f) {
      ss += double(xd) * xd;
      kept += 1;
    }
    dot += double(g[d]) * xd * load(w, d) * zd;
  }
  ss = blockSum(ss, shared);
  kept = blockSum(kept, shared);
  dot = blockSum(dot, shared);
  double rstd = kept > 0 ? 1.0 / sqrt(ss / kept + eps) : 0.0;
  double coef = kept > 0 ? rstd * rstd * rstd / kept * dot : 0.0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float zd = z ? z[d] : 1.0f;
    dx[r * D + d] = static_cast<float>(rstd * load(w, d) * zd * g[d] - (zd != 0.0f ? coef * load(in, d) : 0.0));
  }
  if (threadIdx.x == 0)
    rowScale[r] = rstd;
}

/// dw[d] = S[d] · z[d], dz[d] = S[d] · w[d] for S = Σ dy · x · rstd.
template <class T>
__global__ void rmsNormColumnsKernel(const double *S, const T *w, const float *z, float *dw, float *dz, int64_t D) {
  int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (d >= D)
    return;
  dw[d] = static_cast<float>(S[d] * (z ? z[d] : 1.0f));
  if (dz)
    dz[d] = static_cast<float>(S[d] * load(w, d));
}

Status rmsNormBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0), &w = io.input(1), &dy = io.input(4);
  const Tensor *z = io.optional(2);
  Tensor *dz = io.optionalOutput(2);
  int64_t rows, D;
  if (io.workspaceBytes < rowsTimesLast(x.shape(), rows, D))
    return internalError("rms_norm.bwd: workspace too small");
  // x and w float32 or bf16; the cotangent and the gradients float32.
  Storage st = storageOf({&x, &w}, {z, &dy, &io.output(0), &io.output(1), dz});
  if (st == Storage::Other)
    return runInFloat32(KernelId::RMSNormBwd, rmsNormBwd, c, params, io);
  Scratch s(io, rows, D);
  const float *zp = z ? z->f32() : nullptr;
  double eps = std::get<NormParams>(params).eps;
  auto cols = static_cast<unsigned>((D + kBlock - 1) / kBlock);
  if (st == Storage::BF16) {
    auto *xb = static_cast<const __nv_bfloat16 *>(x.data()), *wb = static_cast<const __nv_bfloat16 *>(w.data());
    if (rows > 0)
      rmsNormRowKernel<__nv_bfloat16><<<static_cast<unsigned>(rows), kBlock, 0, ctx.stream>>>(
          xb, wb, zp, dy.f32(), io.output(0).f32(), s.rowScale, D, eps);
    SHEAR_RETURN_IF_ERROR(launched("rms_norm.bwd"));
    SHEAR_RETURN_IF_ERROR(columnSumsOf(ctx, dy.f32(), xb, DType::BF16, s.rowScale, rows, D, s.partial, s.sum));
    rmsNormColumnsKernel<__nv_bfloat16><<<cols, kBlock, 0, ctx.stream>>>(s.sum, wb, zp, io.output(1).f32(),
                                                                         dz ? dz->f32() : nullptr, D);
    return launched("rms_norm.bwd");
  }
  if (rows > 0)
    rmsNormRowKernel<float><<<static_cast<unsigned>(rows), kBlock, 0, ctx.stream>>>(
        x.f32(), w.f32(), zp, dy.f32(), io.output(0).f32(), s.rowScale, D, eps);
  SHEAR_RETURN_IF_ERROR(launched("rms_norm.bwd"));
  SHEAR_RETURN_IF_ERROR(columnSums(ctx, dy.f32(), x.f32(), s.rowScale, rows, D, s.partial, s.sum));
  rmsNormColumnsKernel<float><<<cols, kBlock, 0, ctx.stream>>>(s.sum, w.f32(), zp, io.output(1).f32(),
                                                               dz ? dz->f32() : nullptr, D);
  return launched("rms_norm.bwd");
}

// --- residual_add.bwd(x, u [, layer] [, hidden], y, dy) -> (dx=dy, du [, dlayer] [, dhidden])

__global__ void residualDuKernel(const float *dy, const float *layer, const float *hidden,
                                 float *du, int64_t n, int64_t D) {
  float l = layer ? layer[0] : 1.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    du[i] = dy[i] * l * (hidden ? hidden[i % D] : 1.0f);
}

/// dhidden[d] = S[d] · layer; dlayer = Σ_d S[d] · hidden[d] (one block).
__global__ void residualMasksKernel(const double *S, const float *layer, const float *hidden,
                                    float *dlayer, float *dhidden, int64_t D) {
  __shared__ double shared[kBlock / 32];
  float l = layer ? layer[0] : 1.0f;
  double s = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    s += S[d] * (hidden ? hidden[d] : 1.0f);
    if (dhidden)
      dhidden[d] = static_cast<float>(S[d] * l);
  }
  s = blockSum(s, shared);
  if (dlayer && threadIdx.x == 0)
    dlayer[0] = static_cast<float>(s);
}

Status residualAddBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0), &u = io.input(1), &dy = io.input(5);
  const Tensor *zl = io.optional(2), *zd = io.optional(3);
  Tensor *dlayer = io.optionalOutput(2), *dhidden = io.optionalOutput(3);
  int64_t n = x.numel(), rows, D;
  if (io.workspaceBytes < rowsTimesLast(x.shape(), rows, D))
    return internalError("residual_add.bwd: workspace too small");
  // x and u float32 or bf16 (only u is read, for the mask gradients); the
  // cotangent and the gradients float32.
  Storage st = storageOf({&x, &u}, {zl, zd, &dy, &io.output(0), &io.output(1), dlayer, dhidden});
  if (st == Storage::Other)
    return runInFloat32(KernelId::ResidualAddBwd, residualAddBwd, c, params, io);
  const float *lp = zl ? zl->f32() : nullptr, *hp = zd ? zd->f32() : nullptr;
  // dx is dy itself (in place): nothing to write.
  residualDuKernel<<<blocksFor(n), kBlock, 0, ctx.stream>>>(dy.f32(), lp, hp, io.output(1).f32(), n, D);
  SHEAR_RETURN_IF_ERROR(launched("residual_add.bwd"));
  if (!dlayer && !dhidden)
    return Status();
  Scratch s(io, rows, D);
  SHEAR_RETURN_IF_ERROR(columnSumsOf(ctx, dy.f32(), u.data(), u.dtype(), nullptr, rows, D, s.partial, s.sum));
  residualMasksKernel<<<1, kBlock, 0, ctx.stream>>>(s.sum, lp, hp, dlayer ? dlayer->f32() : nullptr,
                                                    dhidden ? dhidden->f32() : nullptr, D);
  return launched("residual_add.bwd");
}
} // namespace

Status shear::rt::cuda::rmsNormBackward(ExecContext &c, const KernelParams &p, KernelIO &io) { return rmsNormBwd(c, p, io); }
Status shear::rt::cuda::residualAddBackward(ExecContext &c, const KernelParams &p, KernelIO &io) {
  return residualAddBwd(c, p, io);
}
size_t shear::rt::cuda::rowBackwardWorkspace(const Shape &x) {
  int64_t rows, D;
  return rowsTimesLast(x, rows, D);
}

void shear::rt::cuda::registerBackward(const Define &define) {
  define(KernelId::RMSNormBwd, {rmsNormBwd, backwardWorkspace});
  define(KernelId::ResidualAddBwd, {residualAddBwd, backwardWorkspace});
  takesBf16(KernelId::RMSNormBwd);
  takesBf16(KernelId::ResidualAddBwd);
}
