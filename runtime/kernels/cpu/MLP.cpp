//===- MLP.cpp - SwiGLU with the intermediate mask ------------------------===//
#include "Blas.h"
#include "CpuKernels.h"
#include "shear/Runtime/Parallel.h"

#include <cmath>
#include <vector>

using namespace shear::rt;
using namespace shear::rt::cpu;

// mlp(x [B, T, D], w_gate [M, D], w_up [M, D], w_down [D, M] [, intermediate [M]])
//   -> down(silu(gate(x)) * (up(x) ⊙ intermediate))
static void mlp(KernelCall &c) {
  const Tensor &x = c.arg(0), &wg = c.arg(1), &wu = c.arg(2), &wd = c.arg(3);
  const Tensor *z = c.mask("intermediate", 4);
  int64_t D = x.dim(-1), rows = x.numel() / D, M = wg.dim(0);
  std::vector<float> g(rows * M), u(rows * M);
  linear(x.f32(), wg.f32(), g.data(), rows, D, M);
  linear(x.f32(), wu.f32(), u.data(), rows, D, M);
  parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t m = 0; m < M; ++m) {
        float a = g[r * M + m];
        float silu = a / (1.0f + std::exp(-a));
        g[r * M + m] = silu * u[r * M + m] * (z ? z->f32()[m] : 1.0f);
      }
  });
  Tensor y = Tensor::empty(x.shape());
  linear(g.data(), wd.f32(), y.f32(), rows, M, D);
  c.results.push_back(std::move(y));
}

void shear::rt::cpu::registerMLP(KernelRegistry &r) { r.add("mlp", mlp); }
