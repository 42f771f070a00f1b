//===- Lagrangian.cpp - the target-sparsity constraint (METHOD.md §3) -----===//
#include "CpuBackend.h"
#include "shear/Support/GateMath.h"

#include <algorithm>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

// For one mask family with log_alpha [R, n] (or [n]): expected sparsity per
// row ŝ_r = 1 − Σ_i P(z_ri ≠ 0) / n, target t = t_final · min(1, step / warmup),
//   term = mean_r( λ1 (ŝ_r − t) + λ2 (ŝ_r − t)² ).

namespace {
double targetAt(const LagrangianParams &p, int64_t step) {
  double warmup = static_cast<double>(p.warmupSteps);
  return warmup > 0 ? p.targetSparsity * std::min(1.0, step / warmup) : p.targetSparsity;
}

std::vector<double> rowSparsity(const Tensor &la) {
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
Status lagrangian(ExecContext &, const KernelParams &params, KernelIO &io) {
  const Tensor &la = io.input(0);
  double l1 = io.input(1).f32()[0], l2 = io.input(2).f32()[0];
  double t = targetAt(std::get<LagrangianParams>(params), io.input(3).i64()[0]);
  std::vector<double> s = rowSparsity(la);
  double term = 0, mean = 0;
  for (double sr : s) {
    term += l1 * (sr - t) + l2 * (sr - t) * (sr - t);
    mean += sr;
  }
  io.output(0).f32()[0] = static_cast<float>(term / s.size());
  io.output(1).f32()[0] = static_cast<float>(mean / s.size());
  io.output(2).f32()[0] = static_cast<float>(t);
  return Status();
}

// lagrangian.bwd(log_alpha, lambda1, lambda2, step, term, sparsity, target, dterm)
//   -> (dlog_alpha, dlambda1, dlambda2)
Status lagrangianBwd(ExecContext &, const KernelParams &params, KernelIO &io) {
  const Tensor &la = io.input(0);
  double l1 = io.input(1).f32()[0], l2 = io.input(2).f32()[0];
  double t = targetAt(std::get<LagrangianParams>(params), io.input(3).i64()[0]);
  double dterm = io.input(7).f32()[0];
  int64_t n = la.dim(-1), rows = la.numel() / n;
  std::vector<double> s = rowSparsity(la);
  Tensor &dla = io.output(0);
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
  io.output(1).f32()[0] = static_cast<float>(dterm * d1 / rows);
  io.output(2).f32()[0] = static_cast<float>(dterm * d2 / rows);
  return Status();
}
} // namespace

void shear::rt::cpu::registerLagrangian(const Define &define) {
  define(KernelId::Lagrangian, {lagrangian});
  define(KernelId::LagrangianBwd, {lagrangianBwd});
}
