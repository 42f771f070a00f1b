//===- LMHead.cpp - projection to vocabulary logits -----------------------===//
#include "Blas.h"
#include "CpuKernels.h"

using namespace shear::rt;
using namespace shear::rt::cpu;

// lm_head(x [B, T, D], w [V, D]) -> logits [B, T, V]
static void lmHead(KernelCall &c) {
  const Tensor &x = c.arg(0), &w = c.arg(1);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  Tensor logits = Tensor::empty({x.dim(0), x.dim(1), V});
  linear(x.f32(), w.f32(), logits.f32(), rows, D, V);
  c.results.push_back(std::move(logits));
}

// lm_head.bwd(x, w, logits, dlogits) -> (dx, dw)
static void lmHeadBwd(KernelCall &c) {
  const Tensor &x = c.arg(0), &w = c.arg(1), &dl = c.arg(3);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  Tensor dx = Tensor::empty(x.shape()), dw = Tensor::empty({V, D});
  gemm(false, false, rows, D, V, 1.0f, dl.f32(), V, w.f32(), D, 0.0f, dx.f32(), D);
  gemm(true, false, V, D, rows, 1.0f, dl.f32(), V, x.f32(), D, 0.0f, dw.f32(), D);
  c.results.push_back(std::move(dx));
  c.results.push_back(std::move(dw));
}

void shear::rt::cpu::registerLMHead(KernelRegistry &r) {
  r.add("lm_head", lmHead);
  r.add("lm_head.bwd", lmHeadBwd);
}
