//===- Optimizer.cpp - gradient norm, AdamW, sums, constants --------------===//
#include "CpuBackend.h"
#include "shear/Runtime/Communicator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
// add(a, b) -> a + b (accumulating cotangents, summing losses)
Status add(ExecContext &context, const KernelParams &, KernelIO &io) {
  const Tensor &a = io.input(0), &b = io.input(1);
  Tensor &y = io.output(0);
  cpuContext(context).parallelFor(a.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      y.f32()[i] = a.f32()[i] + b.f32()[i];
  });
  return Status();
}

// global_norm(g...) -> sqrt(Σ g²) over every element of every argument
Status globalNorm(ExecContext &, const KernelParams &, KernelIO &io) {
  double sum = 0;
  for (const Tensor *g : io.in)
    for (int64_t i = 0; i < g->numel(); ++i)
      sum += static_cast<double>(g->f32()[i]) * g->f32()[i];
  io.output(0).f32()[0] = static_cast<float>(std::sqrt(sum));
  return Status();
}

enum { P, G, M, V, Norm, LR, Step, W };

// adamw(p, g, m, v, norm [], lr [], step [], w?) {beta1, beta2, eps,
//   weight_decay, max_norm, clamp?} -> (p', m', v', w'?), each updating its
//   operand in place; w' (the bf16 working copy) is p' rounded once where it
//   is stored, as `cast` would round it at the next step.
// Gradients are first scaled by min(1, max_norm / (norm + 1e-6)) (clipping by
// the global norm); bias-corrected Adam with decoupled weight decay (PyTorch
// AdamW) at step t = step + 1; with `clamp`, p' is projected to [−clamp, clamp]
// (log_alpha's range). A negative lr ascends (the Lagrange multipliers). A
// non-finite norm leaves p, m and v as they are.
Status adamw(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const auto &a = std::get<AdamWParams>(params);
  const Tensor &g = io.input(G);
  // The outputs hold p, m and v (they update them in place).
  float *p = io.output(0).f32(), *m = io.output(1).f32(), *v = io.output(2).f32();
  float *w = io.optionalOutput(3) ? io.output(3).f32() : nullptr;
  double norm = io.input(Norm).f32()[0], lr = io.input(LR).f32()[0];
  int64_t t = io.input(Step).i64()[0] + 1;
  // Non-finite gradients (their global norm is then non-finite) skip the
  // step: parameter and moments keep their values (the trainer counts it).
  // The working copy is written either way (adamw overwrites it: its old
  // contents are not read, nor copied over where the call is staged).
  if (!std::isfinite(norm)) {
    if (w)
      std::copy(p, p + g.numel(), w);
    return Status();
  }
  double b1 = a.beta1, b2 = a.beta2, eps = a.eps, wd = a.weightDecay;
  double clip = a.maxNorm > 0 ? std::min(1.0, a.maxNorm / (norm + 1e-6)) : 1.0;
  double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
  double clamp = a.clamp;
  cpuContext(context).parallelFor(g.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double gi = g.f32()[i] * clip;
      double mi = b1 * m[i] + (1 - b1) * gi;
      double vi = b2 * v[i] + (1 - b2) * gi * gi;
      double pi = p[i] * (1 - lr * wd);
      pi -= lr * (mi / c1) / (std::sqrt(vi / c2) + eps);
      if (clamp > 0)
        pi = std::clamp(pi, -clamp, clamp);
      p[i] = static_cast<float>(pi);
      m[i] = static_cast<float>(mi);
      v[i] = static_cast<float>(vi);
      if (w)
        w[i] = p[i];
    }
  });
  return Status();
}

// accumulate(acc, g, scale [], first [] int) -> acc': acc + scale·g in place,
// a micro-batch's gradient added to its step's sum (scale is 1 / the number
// of micro-batches); where first is nonzero, scale·g: whatever acc held (the
// last step's sum, non-finite values included) is not read. Product and sum
// rounded separately, as the CUDA twin computes them (no fused multiply-add).
Status accumulate(ExecContext &context, const KernelParams &, KernelIO &io) {
  const float *g = io.input(1).f32();
  float *acc = io.output(0).f32();
  const float s = io.input(2).f32()[0];
  const bool first = io.input(3).i64()[0] != 0;
  cpuContext(context).parallelFor(io.output(0).numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float scaled = s * g[i];
      if (first) {
        acc[i] = scaled;
      } else {
        float sum = acc[i];
        sum += scaled;
        acc[i] = sum;
      }
    }
  });
  return Status();
}

// all_reduce(g) -> g': the mean over the data-parallel ranks, in place.
Status allReduce(ExecContext &context, const KernelParams &, KernelIO &io) {
  Communicator *comm = context.communicator;
  return comm ? allReduceMean(*comm, {&io.output(0)}) : Status();
}

// scalar() {value} -> tensor<f32> (the seed cotangent of the loss)
Status scalar(ExecContext &, const KernelParams &params, KernelIO &io) {
  io.output(0).f32()[0] = static_cast<float>(std::get<ScalarParams>(params).value);
  return Status();
}

// zeros_like(t) -> zeros of t's shape (the gradient of a weight nothing reads)
Status zerosLike(ExecContext &, const KernelParams &, KernelIO &io) {
  std::memset(io.output(0).data(), 0, io.output(0).bytes());
  return Status();
}
} // namespace

void shear::rt::cpu::registerOptimizer(const Define &define) {
  define(KernelId::Add, {add});
  define(KernelId::GlobalNorm, {globalNorm});
  define(KernelId::AllReduce, {allReduce});
  define(KernelId::AdamW, {adamw});
  define(KernelId::Scalar, {scalar});
  define(KernelId::ZerosLike, {zerosLike});
  define(KernelId::Accumulate, {accumulate});
}
