//===- Gate.cpp - hard-concrete gates: evaluation masks, rows -------------===//
#include "CpuKernels.h"
#include "shear/Runtime/GateMath.h"

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

void shear::rt::cpu::registerGate(KernelRegistry &r) {
  r.add("gate.eval", gateEval);
  r.add("mask_row", maskRow);
}
