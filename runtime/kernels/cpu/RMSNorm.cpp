//===- RMSNorm.cpp - RMSNorm over kept hidden dims ------------------------===//
#include "CpuBackend.h"

#include <cmath>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
enum { X, W, Hidden, Y, DY };

/// The number of hidden dims a mask keeps (all without one).
int64_t keptDims(const Tensor *z, int64_t D) {
  if (!z)
    return D;
  int64_t kept = 0;
  for (int64_t d = 0; d < D; ++d)
    kept += z->f32()[d] != 0.0f;
  return kept;
}

// rms_norm(x [B, T, D], w [D] [, hidden [D]]) {eps} -> y
// With a hidden mask the mean of squares runs over the dims where the mask is
// non-zero, and the output is multiplied by the mask (METHOD.md §2).
Status rmsNorm(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(X), &w = io.input(W);
  const Tensor *z = io.optional(Hidden);
  Tensor &y = io.output(0);
  double eps = std::get<NormParams>(params).eps;
  int64_t D = x.dim(-1), rows = x.numel() / D;
  int64_t kept = keptDims(z, D);
  cpuContext(context).parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *in = x.f32() + r * D;
      float *out = y.f32() + r * D;
      double ss = 0;
      for (int64_t d = 0; d < D; ++d)
        if (!z || z->f32()[d] != 0.0f)
          ss += static_cast<double>(in[d]) * in[d];
      float rstd = kept ? static_cast<float>(1.0 / std::sqrt(ss / kept + eps)) : 0.0f;
      for (int64_t d = 0; d < D; ++d)
        out[d] = in[d] * rstd * w.f32()[d] * (z ? z->f32()[d] : 1.0f);
    }
  });
  return Status();
}

// rms_norm.bwd(x, w [, hidden], y, dy) -> (dx, dw [, dhidden])
// y_d = x_d r w_d z_d with r = (Σ_K x²/n + eps)^-1/2 over the kept dims K:
//   dx_i = r w_i z_i dy_i − [i∈K] (r³/n) x_i Σ_j dy_j x_j w_j z_j
//   dw_d = Σ dy_d x_d r z_d,   dz_d = Σ dy_d x_d r w_d
Status rmsNormBwd(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(X), &w = io.input(W), &dy = io.input(DY);
  const Tensor *z = io.optional(Hidden);
  Tensor &dx = io.output(0), &dw = io.output(1);
  Tensor *dz = io.optionalOutput(2);
  double eps = std::get<NormParams>(params).eps;
  int64_t D = x.dim(-1), rows = x.numel() / D;
  int64_t kept = keptDims(z, D);
  auto zAt = [&](int64_t d) { return z ? z->f32()[d] : 1.0f; };
  CpuContext &ctx = cpuContext(context);
  int parts = ctx.threads();
  std::vector<std::vector<double>> dwPart(parts, std::vector<double>(D, 0.0)),
      dzPart(parts, std::vector<double>(D, 0.0));
  ctx.parallelFor(parts, [&](int64_t pBegin, int64_t pEnd) {
    for (int64_t part = pBegin; part < pEnd; ++part) {
      int64_t begin = rows * part / parts, end = rows * (part + 1) / parts;
      for (int64_t r = begin; r < end; ++r) {
        const float *in = x.f32() + r * D, *g = dy.f32() + r * D;
        double ss = 0, dot = 0;
        for (int64_t d = 0; d < D; ++d)
          if (zAt(d) != 0.0f)
            ss += static_cast<double>(in[d]) * in[d];
        double rstd = kept ? 1.0 / std::sqrt(ss / kept + eps) : 0.0;
        for (int64_t d = 0; d < D; ++d) {
          dot += static_cast<double>(g[d]) * in[d] * w.f32()[d] * zAt(d);
          dwPart[part][d] += static_cast<double>(g[d]) * in[d] * rstd * zAt(d);
          dzPart[part][d] += static_cast<double>(g[d]) * in[d] * rstd * w.f32()[d];
        }
        double coef = kept ? rstd * rstd * rstd / kept * dot : 0.0;
        float *out = dx.f32() + r * D;
        for (int64_t d = 0; d < D; ++d)
          out[d] = static_cast<float>(rstd * w.f32()[d] * zAt(d) * g[d] -
                                      (zAt(d) != 0.0f ? coef * in[d] : 0.0));
      }
    }
  });
  for (int64_t d = 0; d < D; ++d) {
    double sw = 0, sz = 0;
    for (int p = 0; p < parts; ++p) {
      sw += dwPart[p][d];
      sz += dzPart[p][d];
    }
    dw.f32()[d] = static_cast<float>(sw);
    if (dz)
      dz->f32()[d] = static_cast<float>(sz);
  }
  return Status();
}
} // namespace

Status shear::rt::cpu::rmsNormKernel(ExecContext &c, const KernelParams &p, KernelIO &io) { return rmsNorm(c, p, io); }
Status shear::rt::cpu::rmsNormBwdKernel(ExecContext &c, const KernelParams &p, KernelIO &io) {
  return rmsNormBwd(c, p, io);
}

void shear::rt::cpu::registerRMSNorm(const Define &define) {
  define(KernelId::RMSNorm, {rmsNorm});
  define(KernelId::RMSNormBwd, {rmsNormBwd});
}
