//===- Residual.cpp - residual update with layer and hidden masks ---------===//
#include "CpuKernels.h"
#include "shear/Runtime/Parallel.h"

using namespace shear::rt;

// residual_add(x, u [, layer []] [, hidden [D]]) -> x + u · layer ⊙ hidden
static void residualAdd(KernelCall &c) {
  const Tensor &x = c.arg(0), &u = c.arg(1);
  const Tensor *zl = c.mask("layer", 2), *zd = c.mask("hidden", 2);
  int64_t D = x.dim(-1), rows = x.numel() / D;
  float layer = zl ? zl->f32()[0] : 1.0f;
  Tensor y = Tensor::empty(x.shape());
  parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t d = 0; d < D; ++d)
        y.f32()[r * D + d] =
            x.f32()[r * D + d] + u.f32()[r * D + d] * layer * (zd ? zd->f32()[d] : 1.0f);
  });
  c.results.push_back(std::move(y));
}

void shear::rt::cpu::registerResidual(KernelRegistry &r) { r.add("residual_add", residualAdd); }
