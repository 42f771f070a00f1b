//===- Gate.cpp - hard-concrete gates: evaluation masks, rows -------------===//
#include "CpuKernels.h"
#include "shear/Runtime/GateMath.h"
#include "shear/Runtime/Philox.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace shear::rt;
namespace gate = shear::gate;

static int64_t expectedSize(llvm::ArrayRef<float> row) {
  double sum = 0;
  for (float v : row)
    sum += gate::probNonZero(v);
  return std::llround(sum);
}

// gate.eval(log_alpha [R, N] or [N] [, kv_log_alpha [R, G]]) {target_size,
//           size [, kv_target_size]} -> deterministic mask.
// size = "target": keep target_size per row (the final mask); "expected": keep
// round(Σ P(z≠0)) per row, as the reference code does for evaluations while
// pruning. With kv_log_alpha (the head gate of a grouped-query model), whole
// groups are kept and the same number of heads in each (docs/masks.md); with
// "expected" the group count is the kv gate's expected size and the heads per
// group the head gate's expected size divided by it (at least 1).
static void gateEval(KernelCall &c) {
  const Tensor &la = c.arg(0);
  if (c.attrs->string("size", "target") == "none") { // the unpruned model
    Tensor ones = Tensor::empty(la.shape());
    for (int64_t i = 0; i < ones.numel(); ++i)
      ones.f32()[i] = 1.0f;
    c.results.push_back(std::move(ones));
    return;
  }
  int64_t n = la.dim(-1), rows = la.numel() / n;
  bool expected = c.attrs->string("size", "target") == "expected";
  int64_t target = c.attrs->integer("target_size");
  const Tensor *kv = c.args.size() > 1 ? c.args[1] : nullptr;
  Tensor mask = Tensor::empty(la.shape());
  for (int64_t r = 0; r < rows; ++r) {
    llvm::ArrayRef<float> row(la.f32() + r * n, n);
    std::vector<float> m;
    if (kv) {
      int64_t G = kv->dim(-1), groupSize = n / G;
      llvm::ArrayRef<float> groups(kv->f32() + r * G, G);
      int64_t keepGroups = c.attrs->integer("kv_target_size");
      int64_t perGroup = target / keepGroups;
      if (expected) {
        keepGroups = std::max<int64_t>(1, expectedSize(groups));
        perGroup = std::clamp<int64_t>(
            std::llround(static_cast<double>(expectedSize(row)) / keepGroups), 1, groupSize);
      }
      std::vector<float> groupMask;
      gate::deterministicGqaRow(row, groups, keepGroups, perGroup, m, groupMask);
    } else {
      m = gate::deterministicRow(row, expected ? expectedSize(row) : target);
    }
    std::memcpy(mask.f32() + r * n, m.data(), n * sizeof(float));
  }
  c.results.push_back(std::move(mask));
}

// mask_row(mask [L, N] or [L]) {index} -> row [N] or scalar
static void maskRow(KernelCall &c) {
  const Tensor &m = c.arg(0);
  int64_t index = c.attrs->integer("index");
  int64_t n = m.rank() == 1 ? 1 : m.dim(1);
  Tensor row = Tensor::empty(m.rank() == 1 ? std::vector<int64_t>{} : std::vector<int64_t>{n});
  std::memcpy(row.f32(), m.f32() + index * n, n * sizeof(float));
  c.results.push_back(std::move(row));
}

// mask_row.bwd(mask, row, drow) {index} -> dmask: drow at row `index`, 0 elsewhere.
static void maskRowBwd(KernelCall &c) {
  const Tensor &m = c.arg(0), &drow = c.arg(2);
  int64_t index = c.attrs->integer("index");
  int64_t n = m.rank() == 1 ? 1 : m.dim(1);
  Tensor dm = Tensor::zeros(m.shape());
  std::memcpy(dm.f32() + index * n, drow.f32(), n * sizeof(float));
  c.results.push_back(std::move(dm));
}

// One training-mode draw (METHOD.md §2): u from Philox keyed by (seed, step,
// stream, element), z = clamp(sigmoid((ln u − ln(1−u) + log_alpha)/β)·(ζ−γ)+γ, 0, 1).
static double stretched(double la, double u, double &s) {
  s = gate::sigmoid((std::log(u) - std::log(1.0 - u) + gate::clampLogAlpha(la)) / gate::kBeta);
  return s * (gate::kZeta - gate::kGamma) + gate::kGamma;
}

static double noise(const KernelCall &c, int64_t step, int64_t i) {
  double u = philoxUniform(static_cast<uint64_t>(c.attrs->integer("seed")),
                           static_cast<uint64_t>(step),
                           static_cast<uint32_t>(c.attrs->integer("stream")), i);
  return std::clamp(u, gate::kEpsilon, 1.0 - gate::kEpsilon);
}

// gate.sample(log_alpha, step []) {seed, stream} -> z
static void gateSample(KernelCall &c) {
  const Tensor &la = c.arg(0);
  int64_t step = c.arg(1).i64()[0];
  Tensor z = Tensor::empty(la.shape());
  for (int64_t i = 0; i < la.numel(); ++i) {
    double s;
    z.f32()[i] = static_cast<float>(std::clamp(stretched(la.f32()[i], noise(c, step, i), s), 0.0, 1.0));
  }
  c.results.push_back(std::move(z));
}

// gate.sample.bwd(log_alpha, step, z, dz) -> dlog_alpha. The clamp of z to
// [0, 1] passes no gradient where it is active; the clamp of log_alpha to
// ±ln 100 is a projection of the parameter (the reference code clamps it in
// place after every step), so the gradient passes straight through it.
static void gateSampleBwd(KernelCall &c) {
  const Tensor &la = c.arg(0), &dz = c.arg(3);
  int64_t step = c.arg(1).i64()[0];
  Tensor dla = Tensor::empty(la.shape());
  for (int64_t i = 0; i < la.numel(); ++i) {
    double s, v = la.f32()[i];
    double pre = stretched(v, noise(c, step, i), s);
    bool inside = pre > 0.0 && pre < 1.0;
    dla.f32()[i] = inside ? static_cast<float>(dz.f32()[i] * (gate::kZeta - gate::kGamma) *
                                               s * (1.0 - s) / gate::kBeta)
                          : 0.0f;
  }
  c.results.push_back(std::move(dla));
}

void shear::rt::cpu::registerGate(KernelRegistry &r) {
  r.add("gate.eval", gateEval);
  r.add("gate.sample", gateSample);
  r.add("gate.sample.bwd", gateSampleBwd);
  r.add("mask_row", maskRow);
  r.add("mask_row.bwd", maskRowBwd);
}
