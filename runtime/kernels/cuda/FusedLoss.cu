//===- FusedLoss.cu - lm_head and cross-entropy fused, chunk by chunk ------===//
//
// The twin of runtime/kernels/cpu/LMHeadLoss.cpp (which states the math):
// `chunk` rows of logits at a time (cuBLAS), their losses, and in training
// the unit gradients G = (softmax − onehot) / count turned at once into
// gx = G·W and gw = Σ Gᵀ·X; the backward kernel scales them by the
// cotangent. Sums in a fixed order; the label count stays on the device.
// A bf16 call (x and W in bf16) takes them as they are: the logits chunk as
// a bf16 GEMM into float32, its unit gradients rounded to bf16 for gx and gw.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"

#include <algorithm>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
// Rows per chunk when the program leaves it to the backend: 2^26 floats
// (256 MiB) of logits. The CPU takes 8 MiB; here that is 65 rows at a
// vocabulary of 32000, and each chunk's gw GEMM (K = the chunk's rows)
// reads and writes all of gw, V x D floats: 500 chunks of a 1.3B step
// would move ~250 GB for 4 TFLOP, the GEMM bound by memory ten times over.
// At ~2000 rows a chunk the three GEMMs run at the tensor cores' speed.
constexpr int64_t kChunkFloats = int64_t(1) << 26;

int64_t rowsPerChunk(const FusedLossParams &p, int64_t rows, int64_t V) {
  int64_t c = p.chunk > 0 ? p.chunk : std::max<int64_t>(1, kChunkFloats / std::max<int64_t>(V, 1));
  return std::max<int64_t>(1, std::min(c, rows));
}

// The workspace: a chunk of float32 logits (becoming its unit gradients),
// the rows' losses, the label count, and in training the chunk's unit
// gradients rounded to bf16 for a bf16 call's GEMMs (planned with the rest,
// not allocated per call).
struct Layout {
  int64_t rows, C, V;
  size_t logitsBytes, lossBytes, unit16Bytes;
  size_t countOffset() const { return logitsBytes + lossBytes; }
  size_t unit16Offset() const { return countOffset() + alignedBytes(sizeof(double)); }
  size_t total() const { return unit16Offset() + unit16Bytes; }
};

Layout layoutOf(const FusedLossParams &p, const Shape &x, const Shape &w, bool train) {
  Layout l;
  l.rows = x.size() == 3 ? x[0] * x[1] : 0;
  l.V = w.empty() ? 0 : w[0];
  l.C = rowsPerChunk(p, l.rows, l.V);
  l.logitsBytes = alignedBytes(static_cast<size_t>(l.C * l.V) * sizeof(float));
  l.lossBytes = alignedBytes(static_cast<size_t>(std::max<int64_t>(l.rows, 1)) * sizeof(double));
  l.unit16Bytes = train ? alignedBytes(static_cast<size_t>(l.C * l.V) * 2) : 0;
  return l;
}

size_t lossOnlyWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  return layoutOf(std::get<FusedLossParams>(params), *in[0], *in[1], false).total();
}
size_t trainWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  return layoutOf(std::get<FusedLossParams>(params), *in[0], *in[1], true).total();
}

/// The number of counted labels into *count; a label outside [0, V) (other
/// than the ignored index) records its position in *bad.
__global__ void countKernel(const int64_t *labels, int64_t rows, int64_t V, int64_t ignore,
                            double *count, unsigned long long *bad) {
  __shared__ double shared[kBlock / 32];
  double c = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    int64_t y = labels[r];
    if (y == ignore)
      continue;
    if (y < 0 || y >= V)
      atomicMin(bad, static_cast<unsigned long long>(r));
    c += 1;
  }
  c = blockSum(c, shared);
  if (threadIdx.x == 0)
    *count = c;
}

/// One block per row of the chunk: its loss into rowLoss; in training the
/// row of logits becomes the row of G (zeros for an ignored label, and for
/// one outside [0, V), which countKernel reported).
__global__ void chunkKernel(float *logits, const int64_t *labels, int64_t V, int64_t ignore,
                            const double *count, double *rowLoss, bool train) {
  __shared__ double sums[kBlock / 32];
  __shared__ float maxes[kBlock / 32];
  float *l = logits + blockIdx.x * V;
  int64_t y = labels[blockIdx.x];
  if (y == ignore || y < 0 || y >= V) {
    if (threadIdx.x == 0)
      rowLoss[blockIdx.x] = 0;
    if (train)
      for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
        l[v] = 0.0f;
    return;
  }
  float mx = -INFINITY;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
    mx = fmaxf(mx, l[v]);
  mx = blockMax(mx, maxes);
  double s = 0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
    s += exp(double(l[v]) - mx);
  s = blockSum(s, sums);
  double lse = mx + log(s);
  float ly = l[y];
  __syncthreads(); // every thread has read l[y] before it is overwritten
  if (threadIdx.x == 0)
    rowLoss[blockIdx.x] = lse - ly;
  if (!train)
    return;
  double scale = count[0] > 0 ? 1.0 / count[0] : 0.0;
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
    float g = static_cast<float>(exp(double(l[v]) - lse) * scale);
    l[v] = v == y ? g - static_cast<float>(scale) : g;
  }
}

/// loss = (Σ rowLoss in row order) / count.
__global__ void finishKernel(const double *rowLoss, int64_t rows, const double *count, float *loss) {
  __shared__ double shared[kBlock / 32];
  double s = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    s += rowLoss[r];
  s = blockSum(s, shared);
  if (threadIdx.x == 0)
    loss[0] = static_cast<float>(s * (count[0] > 0 ? 1.0 / count[0] : 0.0));
}

// x and w float32, or both bf16 (the results float32 either way).
Status fusedLoss(ExecContext &c, const KernelParams &params, KernelIO &io, bool train) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0), &w = io.input(1), &labels = io.input(2);
  const auto &p = std::get<FusedLossParams>(params);
  Layout lay = layoutOf(p, x.shape(), w.shape(), train);
  if (io.workspaceBytes < lay.total())
    return internalError("lm_head_cross_entropy: workspace too small");
  int64_t D = x.dim(-1), rows = lay.rows, V = lay.V, C = lay.C;
  char *ws = static_cast<char *>(io.workspace);
  auto *logits = reinterpret_cast<float *>(ws);
  auto *rowLoss = reinterpret_cast<double *>(ws + lay.logitsBytes);
  auto *count = reinterpret_cast<double *>(ws + lay.countOffset());
  auto *unit16 = ws + lay.unit16Offset(); // a chunk's unit gradients in bf16 (bf16 training)

  auto bad = checkSlot(ctx, V, "label", "lm_head_cross_entropy");
  if (!bad.ok())
    return bad.status();
  countKernel<<<1, kBlock, 0, ctx.stream>>>(labels.i64(), rows, V, p.ignoreIndex, count, *bad);
  SHEAR_RETURN_IF_ERROR(launched("lm_head_cross_entropy"));
  SHEAR_RETURN_IF_ERROR(keepCheckedValue(ctx, labels));

  float *gx = train ? io.output(1).f32() : nullptr, *gw = train ? io.output(2).f32() : nullptr;
  const bool bf = x.dtype() == DType::BF16;
  const size_t elem = bf ? 2 : 4;
  for (int64_t r0 = 0; r0 < rows; r0 += C) {
    int64_t n = std::min(C, rows - r0);
    GemmOperand xc{static_cast<const char *>(x.data()) + r0 * D * elem, x.dtype()};
    SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, true, n, V, D, 1.0f, xc, D, operand(w), D, 0.0f, logits, DType::F32, V));
    chunkKernel<<<static_cast<unsigned>(n), kBlock, 0, ctx.stream>>>(
        logits, labels.i64() + r0, V, p.ignoreIndex, count, rowLoss + r0, train);
    SHEAR_RETURN_IF_ERROR(launched("lm_head_cross_entropy"));
    if (train) {
      GemmOperand unit{logits, DType::F32};
      if (bf) {
        SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, logits, unit16, n * V));
        unit = bf16(unit16);
      }
      SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, n, D, V, 1.0f, unit, V, operand(w), D, 0.0f, gx + r0 * D,
                                   DType::F32, D));
      SHEAR_RETURN_IF_ERROR(
          gemmEx(ctx, true, false, V, D, n, 1.0f, unit, V, xc, D, r0 == 0 ? 0.0f : 1.0f, gw, DType::F32, D));
    }
  }
  if (train && rows == 0)
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemsetAsync(gw, 0, io.output(2).bytes(), ctx.stream), "lm_head_cross_entropy"));
  finishKernel<<<1, kBlock, 0, ctx.stream>>>(rowLoss, rows, count, io.output(0).f32());
  return launched("lm_head_cross_entropy");
}

Status lossOnly(ExecContext &c, const KernelParams &params, KernelIO &io) { return fusedLoss(c, params, io, false); }
Status lossAndGradients(ExecContext &c, const KernelParams &params, KernelIO &io) {
  return fusedLoss(c, params, io, true);
}

/// Whether the call is float32, or bf16 x and W with float32 results.
bool takenAsIs(const KernelIO &io) {
  if (allFloat32(io))
    return true;
  bool f32Results = true;
  for (const Tensor *t : io.out)
    f32Results &= !t || !t->defined() || t->dtype() == DType::F32;
  return f32Results && all(DType::BF16, {&io.input(0), &io.input(1)});
}

Status lmHeadCrossEntropy(ExecContext &c, const KernelParams &params, KernelIO &io) {
  if (!takenAsIs(io))
    return runInFloat32(KernelId::LMHeadCrossEntropy, lossOnly, c, params, io);
  return lossOnly(c, params, io);
}

Status lmHeadCrossEntropyTrain(ExecContext &c, const KernelParams &params, KernelIO &io) {
  if (!takenAsIs(io))
    return runInFloat32(KernelId::LMHeadCrossEntropyTrain, lossAndGradients, c, params, io);
  return lossAndGradients(c, params, io);
}

__global__ void scaleKernel(const float *g, const float *d, float *out, int64_t n) {
  float s = d[0];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = s * g[i];
}

// (dx, dw) = dloss · (gx, gw)
Status lmHeadCrossEntropyBwd(ExecContext &c, const KernelParams &, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  for (int k = 0; k < 2; ++k) {
    const Tensor &g = io.input(4 + k);
    scaleKernel<<<blocksFor(g.numel()), kBlock, 0, ctx.stream>>>(g.f32(), io.input(6).f32(),
                                                                 io.output(k).f32(), g.numel());
  }
  return launched("lm_head_cross_entropy.bwd");
}
} // namespace

void shear::rt::cuda::registerFusedLoss(const Define &define) {
  define(KernelId::LMHeadCrossEntropy, {lmHeadCrossEntropy, lossOnlyWorkspace});
  define(KernelId::LMHeadCrossEntropyTrain, {lmHeadCrossEntropyTrain, trainWorkspace});
  takesBf16(KernelId::LMHeadCrossEntropy);
  takesBf16(KernelId::LMHeadCrossEntropyTrain);
  define(KernelId::LMHeadCrossEntropyBwd, {lmHeadCrossEntropyBwd});
}
