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
// mlp.train returns (y, g, u, h): the gate and up projections and down's input.

static float sigmoid(float a) { return 1.0f / (1.0f + std::exp(-a)); }

namespace {
struct Forward {
  Tensor y, g, u, h;
};

Forward forward(const KernelCall &c) {
  const Tensor &x = c.arg(0), &wg = c.arg(1), &wu = c.arg(2), &wd = c.arg(3);
  const Tensor *z = c.mask("intermediate", 4);
  int64_t D = x.dim(-1), rows = x.numel() / D, M = wg.dim(0);
  Forward f;
  f.g = Tensor::empty({rows, M});
  f.u = Tensor::empty({rows, M});
  f.h = Tensor::empty({rows, M});
  linear(x.f32(), wg.f32(), f.g.f32(), rows, D, M);
  linear(x.f32(), wu.f32(), f.u.f32(), rows, D, M);
  parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin * M; i < end * M; ++i) {
      float a = f.g.f32()[i];
      f.h.f32()[i] = a * sigmoid(a) * f.u.f32()[i] * (z ? z->f32()[i % M] : 1.0f);
    }
  });
  f.y = Tensor::empty(x.shape());
  linear(f.h.f32(), wd.f32(), f.y.f32(), rows, M, D);
  return f;
}
} // namespace

static void mlp(KernelCall &c) { c.results.push_back(forward(c).y); }

static void mlpTrain(KernelCall &c) {
  Forward f = forward(c);
  c.results.push_back(f.y);
  c.results.push_back(f.g);
  c.results.push_back(f.u);
  c.results.push_back(f.h);
}

// mlp.bwd(x, w_gate, w_up, w_down [, intermediate], y, g, u, h, dy)
//   -> (dx, dw_gate, dw_up, dw_down [, dintermediate])
static void mlpBwd(KernelCall &c) {
  const Tensor &x = c.arg(0), &wg = c.arg(1), &wu = c.arg(2), &wd = c.arg(3);
  const Tensor *z = c.mask("intermediate", 4);
  size_t n = 4 + (z ? 1 : 0);
  const Tensor &g = c.arg(n + 1), &u = c.arg(n + 2), &h = c.arg(n + 3), &dy = c.arg(n + 4);
  int64_t D = x.dim(-1), rows = x.numel() / D, M = wg.dim(0);
  Tensor dwd = Tensor::empty({D, M});
  gemm(true, false, D, M, rows, 1.0f, dy.f32(), D, h.f32(), M, 0.0f, dwd.f32(), M);
  std::vector<float> dh(rows * M);
  gemm(false, false, rows, M, D, 1.0f, dy.f32(), D, wd.f32(), M, 0.0f, dh.data(), M);
  std::vector<float> dg(rows * M), du(rows * M);
  int parts = numThreads();
  std::vector<std::vector<double>> dzPart(parts, std::vector<double>(z ? M : 0, 0.0));
  parallelFor(parts, [&](int64_t pBegin, int64_t pEnd) {
    for (int64_t part = pBegin; part < pEnd; ++part)
      for (int64_t r = rows * part / parts; r < rows * (part + 1) / parts; ++r)
        for (int64_t m = 0; m < M; ++m) {
          int64_t i = r * M + m;
          float a = g.f32()[i], s = sigmoid(a), silu = a * s;
          float zm = z ? z->f32()[m] : 1.0f;
          du[i] = dh[i] * silu * zm;
          dg[i] = dh[i] * u.f32()[i] * zm * s * (1.0f + a * (1.0f - s));
          if (z)
            dzPart[part][m] += static_cast<double>(dh[i]) * silu * u.f32()[i];
        }
  });
  Tensor dx = Tensor::empty(x.shape()), dwg = Tensor::empty({M, D}), dwu = Tensor::empty({M, D});
  gemm(false, false, rows, D, M, 1.0f, dg.data(), M, wg.f32(), D, 0.0f, dx.f32(), D);
  gemm(false, false, rows, D, M, 1.0f, du.data(), M, wu.f32(), D, 1.0f, dx.f32(), D);
  gemm(true, false, M, D, rows, 1.0f, dg.data(), M, x.f32(), D, 0.0f, dwg.f32(), D);
  gemm(true, false, M, D, rows, 1.0f, du.data(), M, x.f32(), D, 0.0f, dwu.f32(), D);
  c.results.push_back(std::move(dx));
  c.results.push_back(std::move(dwg));
  c.results.push_back(std::move(dwu));
  c.results.push_back(std::move(dwd));
  if (z) {
    Tensor dz = Tensor::empty({M});
    for (int64_t m = 0; m < M; ++m) {
      double s = 0;
      for (int p = 0; p < parts; ++p)
        s += dzPart[p][m];
      dz.f32()[m] = static_cast<float>(s);
    }
    c.results.push_back(std::move(dz));
  }
}

void shear::rt::cpu::registerMLP(KernelRegistry &r) {
  r.add("mlp", mlp);
  r.add("mlp.train", mlpTrain);
  r.add("mlp.bwd", mlpBwd);
}
