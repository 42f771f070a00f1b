//===- Gate.cpp - hard-concrete gates: evaluation masks, samples, rows ----===//
#include "CpuBackend.h"
#include "shear/Support/GateMath.h"
#include "shear/Support/Philox.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
int64_t expectedSize(Span<const float> row) {
  double sum = 0;
  for (float v : row)
    sum += gate::probNonZero(v);
  return std::llround(sum);
}

// gate.eval(log_alpha [R, N] or [N] [, kv_log_alpha [R, G]]) {target_size,
//           size [, kv_target_size]} -> deterministic mask.
// size = target: keep target_size per row (the final mask); expected: keep
// round(Σ P(z≠0)) per row, as the reference code does for evaluations while
// pruning; none: all ones (the unpruned model). With kv_log_alpha (the head
// gate of a grouped-query model), whole groups are kept and the same number
// of heads in each (docs/masks.md); with "expected" the group count is the kv
// gate's expected size and the heads per group the head gate's expected size
// divided by it (at least 1).
Status gateEval(ExecContext &, const KernelParams &params, KernelIO &io) {
  const auto &p = std::get<GateEvalParams>(params);
  const Tensor &la = io.input(0);
  const Tensor *kv = io.optional(1);
  Tensor &mask = io.output(0);
  if (p.size == GateEvalParams::Size::None) {
    for (int64_t i = 0; i < mask.numel(); ++i)
      mask.f32()[i] = 1.0f;
    return Status();
  }
  bool expected = p.size == GateEvalParams::Size::Expected;
  int64_t n = la.dim(-1), rows = la.numel() / n;
  for (int64_t r = 0; r < rows; ++r) {
    Span<const float> row(la.f32() + r * n, n);
    std::vector<float> m;
    if (kv) {
      int64_t G = kv->dim(-1), groupSize = n / G;
      Span<const float> groups(kv->f32() + r * G, G);
      int64_t keepGroups = p.kvTargetSize;
      int64_t perGroup = keepGroups > 0 ? p.targetSize / keepGroups : 0;
      if (expected) {
        keepGroups = std::max<int64_t>(1, expectedSize(groups));
        perGroup = std::clamp<int64_t>(
            std::llround(static_cast<double>(expectedSize(row)) / keepGroups), 1, groupSize);
      }
      std::vector<float> groupMask;
      gate::deterministicGqaRow(row, groups, keepGroups, perGroup, m, groupMask);
    } else {
      m = gate::deterministicRow(row, expected ? expectedSize(row) : p.targetSize);
    }
    std::memcpy(mask.f32() + r * n, m.data(), n * sizeof(float));
  }
  return Status();
}

// mask_row(mask [L, N] or [L]) {index} -> row [N] or scalar
Status maskRow(ExecContext &, const KernelParams &params, KernelIO &io) {
  const Tensor &m = io.input(0);
  int64_t index = std::get<IndexParams>(params).index;
  int64_t n = m.rank() == 1 ? 1 : m.dim(1);
  if (index < 0 || index >= m.dim(0))
    return invalidInput("mask_row: row " + std::to_string(index) + " of a mask with " +
                        std::to_string(m.dim(0)) + " rows");
  std::memcpy(io.output(0).f32(), m.f32() + index * n, n * sizeof(float));
  return Status();
}

// mask_row.bwd(mask, row, drow) {index} -> dmask: drow at row `index`, 0 elsewhere.
Status maskRowBwd(ExecContext &, const KernelParams &params, KernelIO &io) {
  const Tensor &m = io.input(0), &drow = io.input(2);
  Tensor &dm = io.output(0);
  int64_t index = std::get<IndexParams>(params).index;
  int64_t n = m.rank() == 1 ? 1 : m.dim(1);
  std::memset(dm.data(), 0, dm.bytes());
  std::memcpy(dm.f32() + index * n, drow.f32(), n * sizeof(float));
  return Status();
}

// One training-mode draw (METHOD.md §2): u from Philox keyed by (seed, step,
// stream, element), z = clamp(sigmoid((ln u − ln(1−u) + log_alpha)/β)·(ζ−γ)+γ, 0, 1).
double stretched(double la, double u, double &s) {
  s = gate::sigmoid((std::log(u) - std::log(1.0 - u) + gate::clampLogAlpha(la)) / gate::kBeta);
  return s * (gate::kZeta - gate::kGamma) + gate::kGamma;
}

double noise(const GateSampleParams &p, int64_t step, int64_t i) {
  double u = philoxUniform(p.seed, static_cast<uint64_t>(step), p.stream, i);
  return std::clamp(u, gate::kEpsilon, 1.0 - gate::kEpsilon);
}

// gate.sample(log_alpha, step []) {seed, stream} -> z
Status gateSample(ExecContext &, const KernelParams &params, KernelIO &io) {
  const auto &p = std::get<GateSampleParams>(params);
  const Tensor &la = io.input(0);
  Tensor &z = io.output(0);
  int64_t step = io.input(1).i64()[0];
  for (int64_t i = 0; i < la.numel(); ++i) {
    double s;
    z.f32()[i] =
        static_cast<float>(std::clamp(stretched(la.f32()[i], noise(p, step, i), s), 0.0, 1.0));
  }
  return Status();
}

// gate.sample.bwd(log_alpha, step, z, dz) -> dlog_alpha. The clamp of z to
// [0, 1] passes no gradient where it is active; the clamp of log_alpha to
// ±ln 100 is a projection of the parameter (the reference code clamps it in
// place after every step), so the gradient passes straight through it.
Status gateSampleBwd(ExecContext &, const KernelParams &params, KernelIO &io) {
  const auto &p = std::get<GateSampleParams>(params);
  const Tensor &la = io.input(0), &dz = io.input(3);
  Tensor &dla = io.output(0);
  int64_t step = io.input(1).i64()[0];
  for (int64_t i = 0; i < la.numel(); ++i) {
    double s, v = la.f32()[i];
    double pre = stretched(v, noise(p, step, i), s);
    bool inside = pre > 0.0 && pre < 1.0;
    dla.f32()[i] = inside ? static_cast<float>(dz.f32()[i] * (gate::kZeta - gate::kGamma) * s *
                                               (1.0 - s) / gate::kBeta)
                          : 0.0f;
  }
  return Status();
}
} // namespace

void shear::rt::cpu::registerGate(const Define &define) {
  define(KernelId::GateEval, {gateEval});
  define(KernelId::GateSample, {gateSample});
  define(KernelId::GateSampleBwd, {gateSampleBwd});
  define(KernelId::MaskRow, {maskRow});
  define(KernelId::MaskRowBwd, {maskRowBwd});
}
