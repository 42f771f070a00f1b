//===- CrossEntropy.cpp - mean next-token cross-entropy -------------------===//
#include "CpuKernels.h"

#include <cmath>

using namespace shear::rt;

// cross_entropy(logits [B, T, V], labels [B, T]) {ignore_index} -> loss []
static void crossEntropy(KernelCall &c) {
  const Tensor &logits = c.arg(0), &labels = c.arg(1);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  int64_t ignore = c.attrs->integer("ignore_index");
  double total = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t y = labels.i64()[r];
    if (y == ignore)
      continue;
    const float *l = logits.f32() + r * V;
    float mx = l[0];
    for (int64_t v = 1; v < V; ++v)
      mx = std::max(mx, l[v]);
    double sum = 0;
    for (int64_t v = 0; v < V; ++v)
      sum += std::exp(static_cast<double>(l[v] - mx));
    total += std::log(sum) + mx - l[y];
    ++count;
  }
  c.results.push_back(Tensor::scalar(count ? static_cast<float>(total / count) : 0.0f));
}

void shear::rt::cpu::registerCrossEntropy(KernelRegistry &r) {
  r.add("cross_entropy", crossEntropy);
}
