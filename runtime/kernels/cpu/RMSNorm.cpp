//===- RMSNorm.cpp - RMSNorm over kept hidden dims ------------------------===//
#include "CpuKernels.h"
#include "shear/Runtime/Parallel.h"

#include <cmath>

using namespace shear::rt;

// rms_norm(x [B, T, D], w [D] [, hidden [D]]) {eps} -> y
// With a hidden mask the mean of squares runs over the dims where the mask is
// non-zero, and the output is multiplied by the mask (METHOD.md §2).
static void rmsNorm(KernelCall &c) {
  const Tensor &x = c.arg(0), &w = c.arg(1);
  const Tensor *z = c.mask("hidden", 2);
  double eps = c.attrs->number("eps");
  int64_t D = x.dim(-1), rows = x.numel() / D;
  int64_t kept = D;
  if (z) {
    kept = 0;
    for (int64_t d = 0; d < D; ++d)
      kept += z->f32()[d] != 0.0f;
  }
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

void shear::rt::cpu::registerRMSNorm(KernelRegistry &r) { r.add("rms_norm", rmsNorm); }
