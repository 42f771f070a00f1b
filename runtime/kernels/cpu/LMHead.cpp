//===- LMHead.cpp - projection to vocabulary logits -----------------------===//
#include "Blas.h"
#include "CpuKernels.h"

using namespace shear::rt;

// lm_head(x [B, T, D], w [V, D]) -> logits [B, T, V]
static void lmHead(KernelCall &c) {
  const Tensor &x = c.arg(0), &w = c.arg(1);
  int64_t D = x.dim(-1), rows = x.numel() / D, V = w.dim(0);
  Tensor logits = Tensor::empty({x.dim(0), x.dim(1), V});
  cpu::linear(x.f32(), w.f32(), logits.f32(), rows, D, V);
  c.results.push_back(std::move(logits));
}

void shear::rt::cpu::registerLMHead(KernelRegistry &r) { r.add("lm_head", lmHead); }
