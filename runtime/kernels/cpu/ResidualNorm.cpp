//===- ResidualNorm.cpp - residual_add then rms_norm, and its gradient -----===//
//
// The CPU twin of the fused kernel fuse-kernels chooses for a residual
// update followed by the next sublayer's RMSNorm (a GPU reads the residual
// stream once for both): here the two kernels run one after the other, so a
// fused program computes exactly what the unfused one does. The backward
// adds the norm's cotangent, taken back through rms_norm.bwd, to the
// residual stream's, then runs residual_add.bwd; the hidden mask's gradient
// is the sum of both kernels'.
//
//===----------------------------------------------------------------------===//
#include "CpuBackend.h"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
enum { X, U, W, Layer, Hidden, Y, N, DY, DN };

/// A float32 view of `count` floats of the workspace at `offset` floats.
Tensor scratch(const KernelIO &io, size_t offset, std::vector<int64_t> shape) {
  auto buffer = std::make_shared<Buffer>(static_cast<float *>(io.workspace) + offset,
                                         io.workspaceBytes - offset * sizeof(float), Device{}, nullptr);
  return Tensor::view(buffer, 0, std::move(shape), DType::F32);
}

// residual_add_rms_norm(x, u, w [, layer] [, hidden]) {eps} -> (y, n)
Status residualNorm(ExecContext &context, const KernelParams &params, KernelIO &io) {
  KernelIO residual, norm;
  residual.in = {io.in[X], io.in[U], io.in[Layer], io.in[Hidden]};
  residual.out = {io.out[0]};
  SHEAR_RETURN_IF_ERROR(residualAddKernel(context, NoParams{}, residual));
  norm.in = {io.out[0], io.in[W], io.in[Hidden]};
  norm.out = {io.out[1]};
  return rmsNormKernel(context, params, norm);
}

size_t residualNormBwdWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  int64_t n = 1;
  for (int64_t d : *in[X])
    n *= d;
  int64_t D = in[X]->back();
  return static_cast<size_t>(n + 2 * D) * sizeof(float);
}

// residual_add_rms_norm.bwd(x, u, w [, layer] [, hidden], y, n, dy, dn)
//   -> (dx (holding dy), du, dw [, dlayer] [, dhidden])
Status residualNormBwd(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(X);
  const Tensor *hidden = io.optional(Hidden);
  int64_t D = x.dim(-1);
  Tensor dyNorm = scratch(io, 0, x.shape());
  Tensor dhNorm = scratch(io, static_cast<size_t>(x.numel()), {D});
  Tensor dhResidual = scratch(io, static_cast<size_t>(x.numel() + D), {D});
  KernelIO norm;
  norm.in = {io.in[Y], io.in[W], io.in[Hidden], io.in[N], io.in[DN]};
  norm.out = {&dyNorm, io.out[2], hidden ? &dhNorm : nullptr};
  SHEAR_RETURN_IF_ERROR(rmsNormBwdKernel(context, params, norm));
  // The residual stream's total cotangent, in dx (which holds dy).
  Tensor &dx = io.output(0);
  cpuContext(context).parallelFor(x.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      dx.f32()[i] += dyNorm.f32()[i];
  });
  KernelIO residual;
  residual.in = {io.in[X], io.in[U], io.in[Layer], io.in[Hidden], io.in[Y], &dx};
  residual.out = {&dx, io.out[1], io.out[3], hidden ? &dhResidual : nullptr};
  SHEAR_RETURN_IF_ERROR(residualAddBwdKernel(context, NoParams{}, residual));
  if (Tensor *dh = io.optionalOutput(4))
    for (int64_t d = 0; d < D; ++d)
      dh->f32()[d] = dhNorm.f32()[d] + dhResidual.f32()[d];
  return Status();
}
} // namespace

void shear::rt::cpu::registerResidualNorm(const Define &define) {
  define(KernelId::ResidualAddRMSNorm, {residualNorm});
  define(KernelId::ResidualAddRMSNormBwd, {residualNormBwd, residualNormBwdWorkspace});
}
