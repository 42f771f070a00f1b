//===- CrossEntropy.cpp - mean next-token cross-entropy -------------------===//
#include "CpuKernels.h"
#include "shear/Runtime/Parallel.h"

#include <cmath>
#include <vector>

using namespace shear::rt;

/// log Σ exp(l) of one row, computed stably around its maximum.
static double logSumExp(const float *l, int64_t V) {
  float mx = l[0];
  for (int64_t v = 1; v < V; ++v)
    mx = std::max(mx, l[v]);
  double sum = 0;
  for (int64_t v = 0; v < V; ++v)
    sum += std::exp(static_cast<double>(l[v] - mx));
  return mx + std::log(sum);
}

// cross_entropy(logits [B, T, V], labels [B, T]) {ignore_index} -> loss []
static void crossEntropy(KernelCall &c) {
  const Tensor &logits = c.arg(0), &labels = c.arg(1);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  int64_t ignore = c.attrs->integer("ignore_index");
  std::vector<double> loss(rows, 0.0);
  parallelFor(rows, [&](int64_t begin, int64_t end) {
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
  c.results.push_back(Tensor::scalar(count ? static_cast<float>(total / count) : 0.0f));
}

// cross_entropy.bwd(logits, labels, loss, dloss) -> dlogits
static void crossEntropyBwd(KernelCall &c) {
  const Tensor &logits = c.arg(0), &labels = c.arg(1), &dloss = c.arg(3);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  int64_t ignore = c.attrs->integer("ignore_index");
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    count += labels.i64()[r] != ignore;
  float scale = count ? dloss.f32()[0] / count : 0.0f;
  Tensor dl = Tensor::empty(logits.shape());
  parallelFor(rows, [&](int64_t begin, int64_t end) {
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
  c.results.push_back(std::move(dl));
}

void shear::rt::cpu::registerCrossEntropy(KernelRegistry &r) {
  r.add("cross_entropy", crossEntropy);
  r.add("cross_entropy.bwd", crossEntropyBwd);
}
