//===- Optimizer.cpp - gradient norm, AdamW, sums -------------------------===//
#include "CpuKernels.h"
#include "shear/Runtime/Parallel.h"

#include <algorithm>
#include <cmath>

using namespace shear::rt;

// add(a, b) -> a + b (accumulating cotangents, summing losses)
static void add(KernelCall &c) {
  const Tensor &a = c.arg(0), &b = c.arg(1);
  Tensor y = Tensor::empty(a.shape());
  parallelFor(a.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      y.f32()[i] = a.f32()[i] + b.f32()[i];
  });
  c.results.push_back(std::move(y));
}

// global_norm(g...) -> sqrt(Σ g²) over every element of every argument
static void globalNorm(KernelCall &c) {
  double sum = 0;
  for (const Tensor *g : c.args)
    for (int64_t i = 0; i < g->numel(); ++i)
      sum += static_cast<double>(g->f32()[i]) * g->f32()[i];
  c.results.push_back(Tensor::scalar(static_cast<float>(std::sqrt(sum))));
}

// adamw(p, g, m, v, norm [], lr [], step []) {beta1, beta2, eps, weight_decay,
//   max_norm, clamp?} -> (p', m', v')
// Gradients are first scaled by min(1, max_norm / (norm + 1e-6)) (clipping by
// the global norm); bias-corrected Adam with decoupled weight decay (PyTorch
// AdamW) at step t = step + 1; with `clamp`, p' is projected to [−clamp, clamp]
// (log_alpha's range). A negative lr ascends (the Lagrange multipliers).
static void adamw(KernelCall &c) {
  const Tensor &p = c.arg(0), &g = c.arg(1), &m = c.arg(2), &v = c.arg(3);
  double norm = c.arg(4).f32()[0], lr = c.arg(5).f32()[0];
  int64_t t = c.arg(6).i64()[0] + 1;
  const KernelAttrs &a = *c.attrs;
  double b1 = a.number("beta1"), b2 = a.number("beta2"), eps = a.number("eps");
  double wd = a.number("weight_decay", 0.0), maxNorm = a.number("max_norm", 0.0);
  double clamp = a.number("clamp", 0.0);
  double clip = maxNorm > 0 ? std::min(1.0, maxNorm / (norm + 1e-6)) : 1.0;
  double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
  Tensor p2 = Tensor::empty(p.shape()), m2 = Tensor::empty(p.shape()), v2 = Tensor::empty(p.shape());
  parallelFor(p.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double gi = g.f32()[i] * clip;
      double mi = b1 * m.f32()[i] + (1 - b1) * gi;
      double vi = b2 * v.f32()[i] + (1 - b2) * gi * gi;
      double pi = p.f32()[i] * (1 - lr * wd);
      pi -= lr * (mi / c1) / (std::sqrt(vi / c2) + eps);
      if (clamp > 0)
        pi = std::clamp(pi, -clamp, clamp);
      p2.f32()[i] = static_cast<float>(pi);
      m2.f32()[i] = static_cast<float>(mi);
      v2.f32()[i] = static_cast<float>(vi);
    }
  });
  c.results.push_back(std::move(p2));
  c.results.push_back(std::move(m2));
  c.results.push_back(std::move(v2));
}

void shear::rt::cpu::registerOptimizer(KernelRegistry &r) {
  r.add("add", add);
  r.add("global_norm", globalNorm);
  r.add("adamw", adamw);
}

// scalar() {value} -> tensor<f32> (the seed cotangent of the loss)
static void scalarKernel(KernelCall &c) {
  c.results.push_back(Tensor::scalar(static_cast<float>(c.attrs->number("value"))));
}

// zeros_like(t) -> zeros of t's shape (the gradient of a weight nothing reads)
static void zerosLike(KernelCall &c) { c.results.push_back(Tensor::zeros(c.arg(0).shape())); }

void shear::rt::cpu::registerConstants(KernelRegistry &r) {
  r.add("scalar", scalarKernel);
  r.add("zeros_like", zerosLike);
}
