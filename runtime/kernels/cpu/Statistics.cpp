//===- Statistics.cpp - activation statistics for importance scores -------===//
//
// The reductions `shear-run importance` needs over a calibration batch:
// per-unit activation norms (heads, neurons, hidden channels) and the cosine
// between a layer's input and output (block influence). Sums over tokens are
// accumulated in double per thread and written as float32 sums; the host
// divides by the number of tokens.
//
//===----------------------------------------------------------------------===//
#include "CpuBackend.h"

#include <cmath>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
// unit_norms(x [..., N]) {group} -> s [N / group]: Σ_tokens ‖x_t[u·group : (u+1)·group]‖₂
Status unitNorms(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(0);
  int64_t group = std::get<GroupParams>(params).group;
  int64_t N = x.dim(-1), units = N / group, rows = x.numel() / N;
  CpuContext &cpu = cpuContext(context);
  int parts = cpu.threads();
  std::vector<std::vector<double>> partial(parts, std::vector<double>(units, 0.0));
  cpu.parallelFor(parts, [&](int64_t pb, int64_t pe) {
    for (int64_t part = pb; part < pe; ++part) {
      std::vector<double> &acc = partial[part];
      for (int64_t r = rows * part / parts; r < rows * (part + 1) / parts; ++r) {
        const float *row = x.f32() + r * N;
        for (int64_t u = 0; u < units; ++u) {
          double ss = 0;
          for (int64_t e = 0; e < group; ++e)
            ss += static_cast<double>(row[u * group + e]) * row[u * group + e];
          acc[u] += std::sqrt(ss);
        }
      }
    }
  });
  float *s = io.output(0).f32();
  for (int64_t u = 0; u < units; ++u) {
    double total = 0;
    for (const auto &p : partial)
      total += p[u];
    s[u] = static_cast<float>(total);
  }
  return Status();
}

// cosine_sum(x [..., D], y [..., D]) -> Σ_tokens x_t·y_t / (‖x_t‖ ‖y_t‖)
// (a token whose x or y is zero counts as cosine 1: nothing changed it).
Status cosineSum(ExecContext &context, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(0), &y = io.input(1);
  int64_t D = x.dim(-1), rows = x.numel() / D;
  CpuContext &cpu = cpuContext(context);
  int parts = cpu.threads();
  std::vector<double> partial(parts, 0.0);
  cpu.parallelFor(parts, [&](int64_t pb, int64_t pe) {
    for (int64_t part = pb; part < pe; ++part)
      for (int64_t r = rows * part / parts; r < rows * (part + 1) / parts; ++r) {
        const float *a = x.f32() + r * D, *b = y.f32() + r * D;
        double ab = 0, aa = 0, bb = 0;
        for (int64_t d = 0; d < D; ++d) {
          ab += static_cast<double>(a[d]) * b[d];
          aa += static_cast<double>(a[d]) * a[d];
          bb += static_cast<double>(b[d]) * b[d];
        }
        partial[part] += aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 1.0;
      }
  });
  double total = 0;
  for (double p : partial)
    total += p;
  io.output(0).f32()[0] = static_cast<float>(total);
  return Status();
}
} // namespace

void shear::rt::cpu::registerStatistics(const Define &define) {
  define(KernelId::UnitNorms, {unitNorms});
  define(KernelId::CosineSum, {cosineSum});
}
