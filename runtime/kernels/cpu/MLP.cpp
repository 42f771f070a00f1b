//===- MLP.cpp - SwiGLU with the intermediate mask ------------------------===//
#include "Blas.h"
#include "CpuBackend.h"

#include <cmath>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

// mlp(x [B, T, D], w_gate [M, D], w_up [M, D], w_down [D, M] [, intermediate [M]])
//   -> down(silu(gate(x)) * (up(x) ⊙ intermediate))
// mlp.train also returns (g, u, h): the gate and up projections and down's input.

namespace {
enum { X, WGate, WUp, WDown, Inter, Y, Gp, Up, H, DY };

float sigmoid(float a) { return 1.0f / (1.0f + std::exp(-a)); }

int64_t rowsOf(const Shape &x) { return x[0] * (x.size() == 3 ? x[1] : 1); }

// g, u, h into the given arrays, then y.
void forward(CpuContext &ctx, const KernelIO &io, float *g, float *u, float *h) {
  const Tensor &x = io.input(X), &wg = io.input(WGate), &wu = io.input(WUp),
               &wd = io.input(WDown);
  const Tensor *z = io.optional(Inter);
  int64_t D = x.dim(-1), rows = x.numel() / D, M = wg.dim(0);
  linear(x.f32(), wg.f32(), g, rows, D, M);
  linear(x.f32(), wu.f32(), u, rows, D, M);
  ctx.parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin * M; i < end * M; ++i) {
      float a = g[i];
      h[i] = a * sigmoid(a) * u[i] * (z ? z->f32()[i % M] : 1.0f);
    }
  });
  linear(h, wd.f32(), io.output(0).f32(), rows, M, D);
}

size_t mlpWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  int64_t n = rowsOf(*in[X]) * (*in[WGate])[0];
  return Scratch::bytesFor({n, n, n});
}

Status mlp(ExecContext &context, const KernelParams &, KernelIO &io) {
  int64_t n = io.input(X).numel() / io.input(X).dim(-1) * io.input(WGate).dim(0);
  Scratch scratch(io);
  float *g = scratch.floats(n), *u = scratch.floats(n), *h = scratch.floats(n);
  if (!h)
    return internalError("mlp: workspace too small");
  forward(cpuContext(context), io, g, u, h);
  return Status();
}

Status mlpTrain(ExecContext &context, const KernelParams &, KernelIO &io) {
  forward(cpuContext(context), io, io.output(1).f32(), io.output(2).f32(), io.output(3).f32());
  return Status();
}

size_t mlpBwdWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  return mlpWorkspace(params, in);
}

// mlp.bwd(x, w_gate, w_up, w_down [, intermediate], y, g, u, h, dy)
//   -> (dx, dw_gate, dw_up, dw_down [, dintermediate])
Status mlpBwd(ExecContext &context, const KernelParams &, KernelIO &io) {
  CpuContext &ctx = cpuContext(context);
  const Tensor &x = io.input(X), &wg = io.input(WGate), &wu = io.input(WUp),
               &wd = io.input(WDown);
  const Tensor *z = io.optional(Inter);
  const Tensor &g = io.input(Gp), &u = io.input(Up), &h = io.input(H), &dy = io.input(DY);
  int64_t D = x.dim(-1), rows = x.numel() / D, M = wg.dim(0);
  Scratch scratch(io);
  float *dh = scratch.floats(rows * M), *dg = scratch.floats(rows * M),
        *du = scratch.floats(rows * M);
  if (!du)
    return internalError("mlp.bwd: workspace too small");
  gemm(true, false, D, M, rows, 1.0f, dy.f32(), D, h.f32(), M, 0.0f, io.output(3).f32(), M);
  gemm(false, false, rows, M, D, 1.0f, dy.f32(), D, wd.f32(), M, 0.0f, dh, M);
  int parts = ctx.threads();
  std::vector<std::vector<double>> dzPart(parts, std::vector<double>(z ? M : 0, 0.0));
  ctx.parallelFor(parts, [&](int64_t pBegin, int64_t pEnd) {
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
  float *dx = io.output(0).f32();
  gemm(false, false, rows, D, M, 1.0f, dg, M, wg.f32(), D, 0.0f, dx, D);
  gemm(false, false, rows, D, M, 1.0f, du, M, wu.f32(), D, 1.0f, dx, D);
  gemm(true, false, M, D, rows, 1.0f, dg, M, x.f32(), D, 0.0f, io.output(1).f32(), D);
  gemm(true, false, M, D, rows, 1.0f, du, M, x.f32(), D, 0.0f, io.output(2).f32(), D);
  if (Tensor *dz = io.optionalOutput(4))
    for (int64_t m = 0; m < M; ++m) {
      double s = 0;
      for (int p = 0; p < parts; ++p)
        s += dzPart[p][m];
      dz->f32()[m] = static_cast<float>(s);
    }
  return Status();
}
} // namespace

void shear::rt::cpu::registerMLP(const Define &define) {
  define(KernelId::MLP, {mlp, mlpWorkspace});
  define(KernelId::MLPTrain, {mlpTrain});
  define(KernelId::MLPBwd, {mlpBwd, mlpBwdWorkspace});
}
