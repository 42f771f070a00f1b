//===- LMHeadLoss.cpp - lm_head and cross-entropy fused, chunk by chunk ---===//
//
// The logits of a step ([tokens, vocabulary], often its largest activation,
// and their gradient as large again) are never held whole: `chunk` rows at a
// time are projected, reduced to their losses and, in training, turned at
// once into the gradients of the mean loss for a unit cotangent,
//   G = (softmax(logits) − onehot(label)) / count,  gx = G·W,  gw = Σ Gᵀ·X,
// which the backward kernel only scales by the real cotangent. The FLOPs are
// those of lm_head, cross_entropy and their backward kernels; the memory is
// one chunk of logits.
//
//===----------------------------------------------------------------------===//
#include "Blas.h"
#include "CpuBackend.h"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
constexpr int64_t kChunkFloats = int64_t(1) << 21; // 8 MiB of logits at a time

int64_t rowsPerChunk(const FusedLossParams &p, int64_t rows, int64_t V) {
  int64_t c = p.chunk > 0 ? p.chunk : std::max<int64_t>(1, kChunkFloats / std::max<int64_t>(V, 1));
  return std::max<int64_t>(1, std::min(c, rows));
}

size_t fusedLossWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  const Shape &x = *in[0], &w = *in[1];
  int64_t rows = x.size() == 3 ? x[0] * x[1] : 0, V = w.empty() ? 0 : w[0];
  return Scratch::bytesFor({rowsPerChunk(std::get<FusedLossParams>(params), rows, V) * V});
}

/// The mean loss into output 0; with `train`, the unit gradients into
/// outputs 1 (gx) and 2 (gw).
Status fusedLoss(ExecContext &context, const KernelParams &params, KernelIO &io, bool train) {
  const Tensor &x = io.input(0), &w = io.input(1), &labels = io.input(2);
  const auto &p = std::get<FusedLossParams>(params);
  int64_t D = x.dim(-1), rows = x.numel() / std::max<int64_t>(D, 1), V = w.dim(0);
  SHEAR_RETURN_IF_ERROR(checkLabels(labels, V, p.ignoreIndex));
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    count += labels.i64()[r] != p.ignoreIndex;
  double scale = count ? 1.0 / static_cast<double>(count) : 0.0;
  int64_t C = rowsPerChunk(p, rows, V);
  Scratch scratch(io);
  float *logits = scratch.floats(C * V);
  if (!logits)
    return internalError("lm_head_cross_entropy: workspace too small");
  float *gx = train ? io.output(1).f32() : nullptr, *gw = train ? io.output(2).f32() : nullptr;
  std::vector<double> loss(C);
  double total = 0;
  for (int64_t r0 = 0; r0 < rows; r0 += C) {
    int64_t n = std::min(C, rows - r0);
    const float *xc = x.f32() + r0 * D;
    linear(xc, w.f32(), logits, n, D, V);
    cpuContext(context).parallelFor(n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float *l = logits + i * V;
        int64_t y = labels.i64()[r0 + i];
        loss[i] = 0;
        if (y == p.ignoreIndex) {
          if (train)
            std::fill(l, l + V, 0.0f);
          continue;
        }
        double lse = logSumExp(l, V);
        loss[i] = lse - l[y];
        if (!train)
          continue;
        for (int64_t v = 0; v < V; ++v)
          l[v] = static_cast<float>(std::exp(static_cast<double>(l[v]) - lse) * scale);
        l[y] -= static_cast<float>(scale);
      }
    });
    for (int64_t i = 0; i < n; ++i) // in row order: the same sum for any thread count
      total += loss[i];
    if (train) {
      gemm(false, false, n, D, V, 1.0f, logits, V, w.f32(), D, 0.0f, gx + r0 * D, D);
      gemm(true, false, V, D, n, 1.0f, logits, V, xc, D, r0 == 0 ? 0.0f : 1.0f, gw, D);
    }
  }
  if (train && rows == 0)
    std::fill(gw, gw + w.numel(), 0.0f);
  io.output(0).f32()[0] = static_cast<float>(total * scale);
  return Status();
}

// lm_head_cross_entropy(x [B, T, D], w [V, D], labels [B, T]) -> loss []
Status lmHeadCrossEntropy(ExecContext &context, const KernelParams &params, KernelIO &io) {
  return fusedLoss(context, params, io, false);
}

// lm_head_cross_entropy.train(x, w, labels) -> (loss, gx, gw)
Status lmHeadCrossEntropyTrain(ExecContext &context, const KernelParams &params, KernelIO &io) {
  return fusedLoss(context, params, io, true);
}

// lm_head_cross_entropy.bwd(x, w, labels, loss, gx, gw, dloss) -> (dx, dw) = dloss · (gx, gw)
Status lmHeadCrossEntropyBwd(ExecContext &context, const KernelParams &, KernelIO &io) {
  float d = io.input(6).f32()[0];
  for (int k = 0; k < 2; ++k) {
    const Tensor &g = io.input(4 + k);
    Tensor &out = io.output(k);
    cpuContext(context).parallelFor(g.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        out.f32()[i] = d * g.f32()[i];
    });
  }
  return Status();
}
} // namespace

void shear::rt::cpu::registerLMHeadLoss(const Define &define) {
  define(KernelId::LMHeadCrossEntropy, {lmHeadCrossEntropy, fusedLossWorkspace});
  define(KernelId::LMHeadCrossEntropyTrain, {lmHeadCrossEntropyTrain, fusedLossWorkspace});
  define(KernelId::LMHeadCrossEntropyBwd, {lmHeadCrossEntropyBwd});
}
