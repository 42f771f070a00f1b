//===- Residual.cpp - residual update with layer and hidden masks ---------===//
#include "CpuKernels.h"
#include "shear/Runtime/Parallel.h"

#include <vector>

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

// residual_add.bwd(x, u [, layer] [, hidden], y, dy) -> (dx, du [, dlayer] [, dhidden])
static void residualAddBwd(KernelCall &c) {
  const Tensor &x = c.arg(0), &u = c.arg(1);
  const Tensor *zl = c.mask("layer", 2), *zd = c.mask("hidden", 2);
  size_t n = 2 + (zl ? 1 : 0) + (zd ? 1 : 0);
  const Tensor &dy = c.arg(n + 1);
  int64_t D = x.dim(-1), rows = x.numel() / D;
  float layer = zl ? zl->f32()[0] : 1.0f;
  Tensor du = Tensor::empty(x.shape());
  std::vector<double> dhid(D, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < D; ++d) {
      int64_t i = r * D + d;
      du.f32()[i] = dy.f32()[i] * layer * (zd ? zd->f32()[d] : 1.0f);
      dhid[d] += static_cast<double>(dy.f32()[i]) * u.f32()[i];
    }
  c.results.push_back(dy); // dx = dy
  c.results.push_back(std::move(du));
  if (zl) {
    double s = 0;
    for (int64_t d = 0; d < D; ++d)
      s += dhid[d] * (zd ? zd->f32()[d] : 1.0f);
    c.results.push_back(Tensor::scalar(static_cast<float>(s)));
  }
  if (zd) {
    Tensor g = Tensor::empty({D});
    for (int64_t d = 0; d < D; ++d)
      g.f32()[d] = static_cast<float>(dhid[d] * layer);
    c.results.push_back(std::move(g));
  }
}

void shear::rt::cpu::registerResidual(KernelRegistry &r) {
  r.add("residual_add", residualAdd);
  r.add("residual_add.bwd", residualAddBwd);
}
