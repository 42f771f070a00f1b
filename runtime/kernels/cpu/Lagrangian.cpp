//===- Lagrangian.cpp - the target-sparsity constraint (METHOD.md §3) -----===//
#include "CpuKernels.h"
#include "shear/Runtime/GateMath.h"

#include <algorithm>
#include <vector>

using namespace shear::rt;
namespace gate = shear::gate;

// For one mask family with log_alpha [R, n] (or [n]): expected sparsity per
// row ŝ_r = 1 − Σ_i P(z_ri ≠ 0) / n, target t = t_final · min(1, step / warmup),
//   term = mean_r( λ1 (ŝ_r − t) + λ2 (ŝ_r − t)² ).

static double targetAt(const KernelCall &c, int64_t step) {
  double t = c.attrs->number("target_sparsity");
  double warmup = c.attrs->number("warmup_steps", 0);
  return warmup > 0 ? t * std::min(1.0, step / warmup) : t;
}

static std::vector<double> rowSparsity(const Tensor &la) {
  int64_t n = la.dim(-1), rows = la.numel() / n;
  std::vector<double> s(rows);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
      sum += gate::probNonZero(la.f32()[r * n + i]);
    s[r] = 1.0 - sum / n;
  }
  return s;
}

// lagrangian(log_alpha, lambda1 [], lambda2 [], step []) {target_sparsity,
//   warmup_steps} -> (term [], expected_sparsity [], target [])
static void lagrangian(KernelCall &c) {
  const Tensor &la = c.arg(0);
  double l1 = c.arg(1).f32()[0], l2 = c.arg(2).f32()[0];
  double t = targetAt(c, c.arg(3).i64()[0]);
  std::vector<double> s = rowSparsity(la);
  double term = 0, mean = 0;
  for (double sr : s) {
    term += l1 * (sr - t) + l2 * (sr - t) * (sr - t);
    mean += sr;
  }
  c.results.push_back(Tensor::scalar(static_cast<float>(term / s.size())));
  c.results.push_back(Tensor::scalar(static_cast<float>(mean / s.size())));
  c.results.push_back(Tensor::scalar(static_cast<float>(t)));
}

// lagrangian.bwd(log_alpha, lambda1, lambda2, step, term, sparsity, target, dterm)
//   -> (dlog_alpha, dlambda1, dlambda2)
static void lagrangianBwd(KernelCall &c) {
  const Tensor &la = c.arg(0);
  double l1 = c.arg(1).f32()[0], l2 = c.arg(2).f32()[0];
  double t = targetAt(c, c.arg(3).i64()[0]);
  double dterm = c.arg(7).f32()[0];
  int64_t n = la.dim(-1), rows = la.numel() / n;
  std::vector<double> s = rowSparsity(la);
  Tensor dla = Tensor::empty(la.shape());
  double d1 = 0, d2 = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double d = s[r] - t;
    d1 += d;
    d2 += d * d;
    double dS = dterm * (l1 + 2 * l2 * d) / rows; // d term / d ŝ_r
    for (int64_t i = 0; i < n; ++i) {
      // At the clamped value, straight through the clamp (a projection).
      double p = gate::probNonZero(la.f32()[r * n + i]);
      dla.f32()[r * n + i] = static_cast<float>(-dS * p * (1 - p) / n);
    }
  }
  c.results.push_back(std::move(dla));
  c.results.push_back(Tensor::scalar(static_cast<float>(dterm * d1 / rows)));
  c.results.push_back(Tensor::scalar(static_cast<float>(dterm * d2 / rows)));
}

void shear::rt::cpu::registerLagrangian(KernelRegistry &r) {
  r.add("lagrangian", lagrangian);
  r.add("lagrangian.bwd", lagrangianBwd);
}
