//===- Residual.cpp - residual update with layer and hidden masks ---------===//
#include "CpuBackend.h"

#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
enum { X, U, Layer, Hidden, Y, DY };

// residual_add(x, u [, layer []] [, hidden [D]]) -> x + u · layer ⊙ hidden
Status residualAdd(ExecContext &context, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(X), &u = io.input(U);
  const Tensor *zl = io.optional(Layer), *zd = io.optional(Hidden);
  Tensor &y = io.output(0);
  int64_t D = x.dim(-1), rows = x.numel() / D;
  float layer = zl ? zl->f32()[0] : 1.0f;
  cpuContext(context).parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t d = 0; d < D; ++d)
        y.f32()[r * D + d] =
            x.f32()[r * D + d] + u.f32()[r * D + d] * layer * (zd ? zd->f32()[d] : 1.0f);
  });
  return Status();
}

// residual_add.bwd(x, u [, layer] [, hidden], y, dy) -> (dx, du [, dlayer] [, dhidden])
// dx is dy itself: the table declares it an in-place result, so it already
// holds dy and nothing is written.
Status residualAddBwd(ExecContext &, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(X), &u = io.input(U), &dy = io.input(DY);
  const Tensor *zl = io.optional(Layer), *zd = io.optional(Hidden);
  Tensor &du = io.output(1);
  Tensor *dlayer = io.optionalOutput(2), *dhidden = io.optionalOutput(3);
  int64_t D = x.dim(-1), rows = x.numel() / D;
  float layer = zl ? zl->f32()[0] : 1.0f;
  std::vector<double> dhid(D, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < D; ++d) {
      int64_t i = r * D + d;
      float g = dy.f32()[i];
      dhid[d] += static_cast<double>(g) * u.f32()[i];
      du.f32()[i] = g * layer * (zd ? zd->f32()[d] : 1.0f);
    }
  if (dlayer) {
    double s = 0;
    for (int64_t d = 0; d < D; ++d)
      s += dhid[d] * (zd ? zd->f32()[d] : 1.0f);
    dlayer->f32()[0] = static_cast<float>(s);
  }
  if (dhidden)
    for (int64_t d = 0; d < D; ++d)
      dhidden->f32()[d] = static_cast<float>(dhid[d] * layer);
  return Status();
}
} // namespace

Status shear::rt::cpu::residualAddKernel(ExecContext &c, const KernelParams &p, KernelIO &io) {
  return residualAdd(c, p, io);
}
Status shear::rt::cpu::residualAddBwdKernel(ExecContext &c, const KernelParams &p, KernelIO &io) {
  return residualAddBwd(c, p, io);
}

void shear::rt::cpu::registerResidual(const Define &define) {
  define(KernelId::ResidualAdd, {residualAdd});
  define(KernelId::ResidualAddBwd, {residualAddBwd});
}
