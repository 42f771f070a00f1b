//===- Embed.cpp - token embedding (× hidden mask) ------------------------===//
#include "CpuKernels.h"
#include "shear/Runtime/Parallel.h"

#include <cstring>

using namespace shear::rt;

// embed(table [V, D], ids [B, T] [, hidden [D]]) -> x [B, T, D]
static void embed(KernelCall &c) {
  const Tensor &table = c.arg(0), &ids = c.arg(1);
  const Tensor *z = c.mask("hidden", 2);
  int64_t V = table.dim(0), D = table.dim(1), B = ids.dim(0), T = ids.dim(1);
  Tensor x = Tensor::empty({B, T, D});
  for (int64_t i = 0; i < B * T; ++i)
    if (ids.i64()[i] < 0 || ids.i64()[i] >= V)
      kernelFailure(c, "token id " + std::to_string(ids.i64()[i]) + " outside [0, " +
                           std::to_string(V) + ")");
  parallelFor(B * T, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float *row = table.f32() + ids.i64()[i] * D;
      float *out = x.f32() + i * D;
      if (z)
        for (int64_t d = 0; d < D; ++d)
          out[d] = row[d] * z->f32()[d];
      else
        std::memcpy(out, row, D * sizeof(float));
    }
  });
  c.results.push_back(std::move(x));
}


// embed.bwd(table, ids [, hidden], x, dx) -> (dtable [, dhidden])
static void embedBwd(KernelCall &c) {
  const Tensor &table = c.arg(0), &ids = c.arg(1);
  const Tensor *z = c.mask("hidden", 2);
  size_t nArgs = 2 + (z ? 1 : 0);
  const Tensor &dx = c.arg(nArgs + 1);
  int64_t V = table.dim(0), D = table.dim(1), rows = ids.numel();
  Tensor dtable = Tensor::zeros({V, D});
  Tensor dz;
  if (z)
    dz = Tensor::zeros({D});
  // Rows of the table are shared by repeated ids: one thread owns the table,
  // the other (if any) computes the mask gradient.
  parallelFor(z ? 2 : 1, [&](int64_t begin, int64_t end) {
    for (int64_t part = begin; part < end; ++part) {
      if (part == 0) {
        for (int64_t i = 0; i < rows; ++i) {
          float *out = dtable.f32() + ids.i64()[i] * D;
          const float *g = dx.f32() + i * D;
          for (int64_t d = 0; d < D; ++d)
            out[d] += g[d] * (z ? z->f32()[d] : 1.0f);
        }
      } else {
        for (int64_t i = 0; i < rows; ++i) {
          const float *row = table.f32() + ids.i64()[i] * D;
          const float *g = dx.f32() + i * D;
          for (int64_t d = 0; d < D; ++d)
            dz.f32()[d] += g[d] * row[d];
        }
      }
    }
  });
  c.results.push_back(std::move(dtable));
  if (z)
    c.results.push_back(std::move(dz));
}


void shear::rt::cpu::registerEmbed(KernelRegistry &r) {
  r.add("embed", embed);
  r.add("embed.bwd", embedBwd);
}
