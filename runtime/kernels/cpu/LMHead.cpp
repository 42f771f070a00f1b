//===- LMHead.cpp - projection to vocabulary logits -----------------------===//
#include "Blas.h"
#include "CpuBackend.h"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
// lm_head(x [B, T, D], w [V, D]) -> logits [B, T, V]
Status lmHead(ExecContext &, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(0), &w = io.input(1);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  linear(x.f32(), w.f32(), io.output(0).f32(), rows, D, V);
  return Status();
}

// lm_head.bwd(x, w, logits, dlogits) -> (dx, dw)
Status lmHeadBwd(ExecContext &, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(0), &w = io.input(1), &dl = io.input(3);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  gemm(false, false, rows, D, V, 1.0f, dl.f32(), V, w.f32(), D, 0.0f, io.output(0).f32(), D);
  gemm(true, false, V, D, rows, 1.0f, dl.f32(), V, x.f32(), D, 0.0f, io.output(1).f32(), D);
  return Status();
}
} // namespace

void shear::rt::cpu::registerLMHead(const Define &define) {
  define(KernelId::LMHead, {lmHead});
  define(KernelId::LMHeadBwd, {lmHeadBwd});
}
