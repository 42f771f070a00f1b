//===- RMSNorm.cpp - RMSNorm over kept hidden dims ------------------------===//
#include "CpuKernels.h"
#include "shear/Runtime/Parallel.h"

#include <cmath>
#include <vector>

using namespace shear::rt;

/// The number of hidden dims a mask keeps (all without one).
static int64_t keptDims(const Tensor *z, int64_t D) {
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
static void rmsNorm(KernelCall &c) {
  const Tensor &x = c.arg(0), &w = c.arg(1);
  const Tensor *z = c.mask("hidden", 2);
  double eps = c.attrs->number("eps");
  int64_t D = x.dim(-1), rows = x.numel() / D;
  int64_t kept = keptDims(z, D);
  Tensor y = Tensor::empty(x.shape());
  parallelFor(rows, [&](int64_t begin, int64_t end) {
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
  c.results.push_back(std::move(y));
}


// rms_norm.bwd(x, w [, hidden], y, dy) -> (dx, dw [, dhidden])
// y_d = x_d r w_d z_d with r = (Σ_K x²/n + eps)^-1/2 over the kept dims K:
//   dx_i = r w_i z_i dy_i − [i∈K] (r³/n) x_i Σ_j dy_j x_j w_j z_j
//   dw_d = Σ dy_d x_d r z_d,   dz_d = Σ dy_d x_d r w_d
static void rmsNormBwd(KernelCall &c) {
  const Tensor &x = c.arg(0), &w = c.arg(1);
  const Tensor *z = c.mask("hidden", 2);
  size_t nArgs = 2 + (z ? 1 : 0);
  const Tensor &dy = c.arg(nArgs + 1);
  double eps = c.attrs->number("eps");
  int64_t D = x.dim(-1), rows = x.numel() / D;
  int64_t kept = keptDims(z, D);
  auto zAt = [&](int64_t d) { return z ? z->f32()[d] : 1.0f; };
  Tensor dx = Tensor::empty(x.shape());
  int parts = numThreads();
  std::vector<std::vector<double>> dwPart(parts, std::vector<double>(D, 0.0)),
      dzPart(parts, std::vector<double>(D, 0.0));
  parallelFor(parts, [&](int64_t pBegin, int64_t pEnd) {
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
  Tensor dw = Tensor::empty({D}), dz;
  if (z)
    dz = Tensor::empty({D});
  for (int64_t d = 0; d < D; ++d) {
    double sw = 0, sz = 0;
    for (int p = 0; p < parts; ++p) {
      sw += dwPart[p][d];
      sz += dzPart[p][d];
    }
    dw.f32()[d] = static_cast<float>(sw);
    if (z)
      dz.f32()[d] = static_cast<float>(sz);
  }
  c.results.push_back(std::move(dx));
  c.results.push_back(std::move(dw));
  if (z)
    c.results.push_back(std::move(dz));
}


void shear::rt::cpu::registerRMSNorm(KernelRegistry &r) {
  r.add("rms_norm", rmsNorm);
  r.add("rms_norm.bwd", rmsNormBwd);
}
