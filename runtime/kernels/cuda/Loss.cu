//===- Loss.cu - next-token cross-entropy, distillation, their gradients ---===//
//
// Twins of cross_entropy, distill and their .bwd in
// runtime/kernels/cpu/CrossEntropy.cpp: one block per row, the log-sum-exp
// in double around the row's maximum; the mean over the counted rows summed
// in a fixed order. A label outside the vocabulary (other than the ignored
// index) is an error naming its position.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {

/// log Σ exp(l · scale) over a row of V values (scale > 0), to every thread.
__device__ double rowLogSumExp(const float *l, int64_t V, double scale, double *sums, float *maxes) {
  float mx = -INFINITY;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
    mx = fmaxf(mx, l[v]);
  mx = blockMax(mx, maxes);
  double s = 0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
    s += exp((double(l[v]) - mx) * scale);
  s = blockSum(s, sums);
  return double(mx) * scale + log(s);
}

/// Per row: the loss (0 for an ignored row) into rowLoss, whether it counts
/// into counted; a bad label's row into *bad (the smallest wins).
__global__ void rowLossKernel(const float *logits, const int64_t *labels, int64_t V,
                              int64_t ignore, double *rowLoss, double *counted,
                              unsigned long long *bad) {
  __shared__ double sums[kBlock / 32];
  __shared__ float maxes[kBlock / 32];
  int64_t r = blockIdx.x;
  int64_t y = labels[r];
  if (y == ignore || y < 0 || y >= V) {
    if (threadIdx.x == 0) {
      rowLoss[r] = 0;
      counted[r] = 0;
      if (y != ignore)
        atomicMin(bad, static_cast<unsigned long long>(r));
    }
    return;
  }
  const float *l = logits + r * V;
  double lse = rowLogSumExp(l, V, 1.0, sums, maxes);
  if (threadIdx.x == 0) {
    rowLoss[r] = lse - l[y];
    counted[r] = 1;
  }
}

/// loss = Σ rowLoss / Σ counted (0 without counted rows); also the count.
__global__ void meanKernel(const double *rowLoss, const double *counted, int64_t rows,
                           float *loss, double *count) {
  __shared__ double shared[kBlock / 32];
  double s = 0, c = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    s += rowLoss[r];
    c += counted[r];
  }
  s = blockSum(s, shared);
  c = blockSum(c, shared);
  if (threadIdx.x == 0) {
    if (loss)
      loss[0] = c > 0 ? static_cast<float>(s / c) : 0.0f;
    if (count)
      count[0] = c;
  }
}

// dlogits = (softmax − onehot(y)) · dloss / count on counted rows, 0 elsewhere.
__global__ void rowGradKernel(const float *logits, const int64_t *labels, int64_t V,
                              int64_t ignore, const float *dloss, const double *count,
                              float *dl) {
  __shared__ double sums[kBlock / 32];
  __shared__ float maxes[kBlock / 32];
  int64_t r = blockIdx.x;
  int64_t y = labels[r];
  const float *l = logits + r * V;
  float *o = dl + r * V;
  if (y == ignore || y < 0 || y >= V) {
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
      o[v] = 0.0f;
    return;
  }
  float scale = count[0] > 0 ? static_cast<float>(dloss[0] / count[0]) : 0.0f;
  double lse = rowLogSumExp(l, V, 1.0, sums, maxes);
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
    o[v] = static_cast<float>(exp(double(l[v]) - lse)) * scale - (v == y ? scale : 0.0f);
}

size_t workspaceFor(const KernelParams &, const std::vector<const Shape *> &in) {
  int64_t rows = 1;
  for (int64_t d : *in[1])
    rows *= d;
  return 2 * alignedBytes(static_cast<size_t>(rows) * sizeof(double)) + alignedBytes(sizeof(double));
}

/// Runs the per-row losses; a bad label is read at the next copy to the host.
Status rowLosses(CudaContext &ctx, const Tensor &logits, const Tensor &labels, int64_t ignore,
                 double *rowLoss, double *counted) {
  int64_t V = logits.dim(-1), rows = labels.numel();
  auto bad = checkSlot(ctx, V, "label", "cross_entropy");
  if (!bad.ok())
    return bad.status();
  if (rows > 0)
    rowLossKernel<<<static_cast<unsigned>(rows), kBlock, 0, ctx.stream>>>(
        logits.f32(), labels.i64(), V, ignore, rowLoss, counted, *bad);
  SHEAR_RETURN_IF_ERROR(launched("cross_entropy"));
  return keepCheckedValue(ctx, labels);
}

struct Scratch {
  double *rowLoss, *counted, *count;
  Scratch(const KernelIO &io, int64_t rows) {
    char *p = static_cast<char *>(io.workspace);
    size_t part = alignedBytes(static_cast<size_t>(rows) * sizeof(double));
    rowLoss = reinterpret_cast<double *>(p);
    counted = reinterpret_cast<double *>(p + part);
    count = reinterpret_cast<double *>(p + 2 * part);
  }
};

Status crossEntropy(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &logits = io.input(0), &labels = io.input(1);
  int64_t rows = labels.numel(), ignore = std::get<CrossEntropyParams>(params).ignoreIndex;
  Scratch s(io, rows);
  SHEAR_RETURN_IF_ERROR(rowLosses(ctx, logits, labels, ignore, s.rowLoss, s.counted));
  meanKernel<<<1, kBlock, 0, ctx.stream>>>(s.rowLoss, s.counted, rows, io.output(0).f32(), nullptr);
  return launched("cross_entropy");
}

Status crossEntropyBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &logits = io.input(0), &labels = io.input(1), &dloss = io.input(3);
  int64_t V = logits.dim(-1), rows = labels.numel();
  int64_t ignore = std::get<CrossEntropyParams>(params).ignoreIndex;
  Scratch s(io, rows);
  SHEAR_RETURN_IF_ERROR(rowLosses(ctx, logits, labels, ignore, s.rowLoss, s.counted));
  meanKernel<<<1, kBlock, 0, ctx.stream>>>(s.rowLoss, s.counted, rows, nullptr, s.count);
  if (rows > 0)
    rowGradKernel<<<static_cast<unsigned>(rows), kBlock, 0, ctx.stream>>>(
        logits.f32(), labels.i64(), V, ignore, dloss.f32(), s.count, io.output(0).f32());
  return launched("cross_entropy.bwd");
}
// Distillation (distill, distill.bwd): the CPU twin's formulas, one block
// per row, every log-sum-exp in double around the row's maximum.

/// Per row: cross-entropy and KL(teacher || student) at temperature 1/inv
/// (0 for an ignored row), whether it counts; a bad label's row into *bad.
__global__ void distillRowKernel(const float *logits, const float *teacher, const int64_t *labels,
                                 int64_t V, int64_t ignore, double inv, double *ce, double *kl,
                                 double *counted, unsigned long long *bad) {
  __shared__ double sums[kBlock / 32];
  __shared__ float maxes[kBlock / 32];
  int64_t r = blockIdx.x;
  int64_t y = labels[r];
  if (y == ignore || y < 0 || y >= V) {
    if (threadIdx.x == 0) {
      ce[r] = kl[r] = counted[r] = 0;
      if (y != ignore)
        atomicMin(bad, static_cast<unsigned long long>(r));
    }
    return;
  }
  const float *s = logits + r * V, *t = teacher + r * V;
  double lse = rowLogSumExp(s, V, 1.0, sums, maxes);
  double lseS = rowLogSumExp(s, V, inv, sums, maxes), lseT = rowLogSumExp(t, V, inv, sums, maxes);
  double sum = 0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
    double logPt = t[v] * inv - lseT, logPs = s[v] * inv - lseS;
    sum += exp(logPt) * (logPt - logPs);
  }
  sum = blockSum(sum, sums);
  if (threadIdx.x == 0) {
    ce[r] = lse - s[y];
    kl[r] = sum;
    counted[r] = 1;
  }
}

/// loss = (1 − α)·lm + α·τ²·kl with lm, kl the means over counted rows.
__global__ void distillMeanKernel(const double *ce, const double *kl, const double *counted, int64_t rows,
                                  double alpha, double tau, float *loss, float *lm, float *klMean) {
  __shared__ double shared[kBlock / 32];
  double a = 0, b = 0, c = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    a += ce[r];
    b += kl[r];
    c += counted[r];
  }
  a = blockSum(a, shared);
  b = blockSum(b, shared);
  c = blockSum(c, shared);
  if (threadIdx.x == 0) {
    double m = c > 0 ? a / c : 0, k = c > 0 ? b / c : 0;
    loss[0] = static_cast<float>((1 - alpha) * m + alpha * tau * tau * k);
    lm[0] = static_cast<float>(m);
    klMean[0] = static_cast<float>(k);
  }
}

/// dlogits = dloss / count · ((1 − α)(softmax(s) − onehot(y)) + α τ (softmax(s/τ) − softmax(t/τ)))
/// on counted rows, 0 elsewhere.
__global__ void distillGradKernel(const float *logits, const float *teacher, const int64_t *labels,
                                  int64_t V, int64_t ignore, double inv, double alpha, double tau,
                                  const float *dloss, const double *count, float *dl) {
  __shared__ double sums[kBlock / 32];
  __shared__ float maxes[kBlock / 32];
  int64_t r = blockIdx.x;
  int64_t y = labels[r];
  float *o = dl + r * V;
  if (y == ignore || y < 0 || y >= V) {
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
      o[v] = 0.0f;
    return;
  }
  const float *s = logits + r * V, *t = teacher + r * V;
  double scale = count[0] > 0 ? dloss[0] / count[0] : 0.0;
  double wCe = (1 - alpha) * scale, wKd = alpha * tau * scale;
  double lse = rowLogSumExp(s, V, 1.0, sums, maxes);
  double lseS = rowLogSumExp(s, V, inv, sums, maxes), lseT = rowLogSumExp(t, V, inv, sums, maxes);
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
    double ps = exp(s[v] - lse), psT = exp(s[v] * inv - lseS), ptT = exp(t[v] * inv - lseT);
    o[v] = static_cast<float>(wCe * (ps - (v == y ? 1.0 : 0.0)) + wKd * (psT - ptT));
  }
}

size_t distillWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  int64_t rows = 1;
  for (int64_t d : *in[2])
    rows *= d;
  return 3 * alignedBytes(static_cast<size_t>(rows) * sizeof(double)) + alignedBytes(sizeof(double));
}

/// The per-row terms into the workspace's first three arrays; a bad label
/// is read at the next copy to the host, as for cross_entropy.
Status distillRows(CudaContext &ctx, const KernelIO &io, const DistillParams &p, double **ce, double **kl,
                   double **counted, double **count) {
  const Tensor &logits = io.input(0), &teacher = io.input(1), &labels = io.input(2);
  int64_t V = logits.dim(-1), rows = labels.numel();
  char *w = static_cast<char *>(io.workspace);
  size_t part = alignedBytes(static_cast<size_t>(rows) * sizeof(double));
  *ce = reinterpret_cast<double *>(w);
  *kl = reinterpret_cast<double *>(w + part);
  *counted = reinterpret_cast<double *>(w + 2 * part);
  *count = reinterpret_cast<double *>(w + 3 * part);
  auto bad = checkSlot(ctx, V, "label", "distill");
  if (!bad.ok())
    return bad.status();
  if (rows > 0)
    distillRowKernel<<<static_cast<unsigned>(rows), kBlock, 0, ctx.stream>>>(
        logits.f32(), teacher.f32(), labels.i64(), V, p.ignoreIndex, 1.0 / p.temperature, *ce, *kl, *counted, *bad);
  SHEAR_RETURN_IF_ERROR(launched("distill"));
  return keepCheckedValue(ctx, labels);
}

// distill(logits, teacher, labels) -> (loss, lm, kl)
Status distill(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const auto &p = std::get<DistillParams>(params);
  double *ce, *kl, *counted, *count;
  SHEAR_RETURN_IF_ERROR(distillRows(ctx, io, p, &ce, &kl, &counted, &count));
  distillMeanKernel<<<1, kBlock, 0, ctx.stream>>>(ce, kl, counted, io.input(2).numel(), p.alpha, p.temperature,
                                                  io.output(0).f32(), io.output(1).f32(), io.output(2).f32());
  return launched("distill");
}

// distill.bwd(logits, teacher, labels, loss, lm, kl, dloss) -> dlogits
Status distillBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const auto &p = std::get<DistillParams>(params);
  const Tensor &logits = io.input(0), &labels = io.input(2);
  int64_t V = logits.dim(-1), rows = labels.numel();
  double *ce, *kl, *counted, *count;
  SHEAR_RETURN_IF_ERROR(distillRows(ctx, io, p, &ce, &kl, &counted, &count));
  meanKernel<<<1, kBlock, 0, ctx.stream>>>(ce, counted, rows, nullptr, count);
  if (rows > 0)
    distillGradKernel<<<static_cast<unsigned>(rows), kBlock, 0, ctx.stream>>>(
        logits.f32(), io.input(1).f32(), labels.i64(), V, p.ignoreIndex, 1.0 / p.temperature, p.alpha,
        p.temperature, io.input(6).f32(), count, io.output(0).f32());
  return launched("distill.bwd");
}
} // namespace

void shear::rt::cuda::registerLoss(const Define &define) {
  define(KernelId::CrossEntropy, {crossEntropy, workspaceFor});
  define(KernelId::CrossEntropyBwd, {crossEntropyBwd, workspaceFor});
  define(KernelId::Distill, {distill, distillWorkspace});
  define(KernelId::DistillBwd, {distillBwd, distillWorkspace});
}
