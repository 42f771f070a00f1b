//===- CrossEntropy.cpp - mean next-token cross-entropy -------------------===//
#include "CpuBackend.h"

#include <cmath>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
/// log Σ exp(l) of one row, computed stably around its maximum.
double logSumExp(const float *l, int64_t V) {
  float mx = l[0];
  for (int64_t v = 1; v < V; ++v)
    mx = std::max(mx, l[v]);
  double sum = 0;
  for (int64_t v = 0; v < V; ++v)
    sum += std::exp(static_cast<double>(l[v] - mx));
  return mx + std::log(sum);
}

/// Labels must be a vocabulary entry or the ignored index.
Status checkLabels(const Tensor &labels, int64_t V, int64_t ignore) {
  for (int64_t r = 0; r < labels.numel(); ++r) {
    int64_t y = labels.i64()[r];
    if (y != ignore && (y < 0 || y >= V))
      return invalidInput("label " + std::to_string(y) + " at position " + std::to_string(r) +
                          " is outside the vocabulary [0, " + std::to_string(V) + ")");
  }
  return Status();
}

// cross_entropy(logits [B, T, V], labels [B, T]) {ignore_index} -> loss []
Status crossEntropy(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &logits = io.input(0), &labels = io.input(1);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  int64_t ignore = std::get<CrossEntropyParams>(params).ignoreIndex;
  SHEAR_RETURN_IF_ERROR(checkLabels(labels, V, ignore));
  std::vector<double> loss(rows, 0.0);
  cpuContext(context).parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t y = labels.i64()[r];
      if (y == ignore)
        continue;
      const float *l = logits.f32() + r * V;
      loss[r] = logSumExp(l, V) - l[y];
    }
  });
  double total = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    if (labels.i64()[r] != ignore) {
      total += loss[r];
      ++count;
    }
  io.output(0).f32()[0] = count ? static_cast<float>(total / count) : 0.0f;
  return Status();
}

// cross_entropy.bwd(logits, labels, loss, dloss) -> dlogits
Status crossEntropyBwd(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &logits = io.input(0), &labels = io.input(1), &dloss = io.input(3);
  Tensor &dl = io.output(0);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  int64_t ignore = std::get<CrossEntropyParams>(params).ignoreIndex;
  SHEAR_RETURN_IF_ERROR(checkLabels(labels, V, ignore));
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    count += labels.i64()[r] != ignore;
  float scale = count ? dloss.f32()[0] / count : 0.0f;
  cpuContext(context).parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *l = logits.f32() + r * V;
      float *o = dl.f32() + r * V;
      int64_t y = labels.i64()[r];
      if (y == ignore) {
        for (int64_t v = 0; v < V; ++v)
          o[v] = 0;
        continue;
      }
      double lse = logSumExp(l, V);
      for (int64_t v = 0; v < V; ++v)
        o[v] = static_cast<float>(std::exp(static_cast<double>(l[v]) - lse)) * scale;
      o[y] -= scale;
    }
  });
  return Status();
}
} // namespace

void shear::rt::cpu::registerCrossEntropy(const Define &define) {
  define(KernelId::CrossEntropy, {crossEntropy});
  define(KernelId::CrossEntropyBwd, {crossEntropyBwd});
}
