//===- Embed.cpp - token embedding (× hidden mask) ------------------------===//
#include "CpuBackend.h"

#include <cstring>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {
enum { Table, Ids, Hidden, Y, DY };

/// Every id in [0, V): the first that is not is named.
Status checkIds(const Tensor &ids, int64_t V) {
  for (int64_t i = 0; i < ids.numel(); ++i)
    if (ids.i64()[i] < 0 || ids.i64()[i] >= V)
      return invalidInput("token id " + std::to_string(ids.i64()[i]) + " at position " +
                          std::to_string(i) + " is outside the vocabulary [0, " +
                          std::to_string(V) + ")");
  return Status();
}

// embed(table [V, D], ids [B, T] [, hidden [D]]) -> y [B, T, D]
Status embed(ExecContext &context, const KernelParams &, KernelIO &io) {
  const Tensor &table = io.input(Table), &ids = io.input(Ids);
  const Tensor *z = io.optional(Hidden);
  Tensor &y = io.output(0);
  int64_t D = table.dim(1), n = ids.numel();
  SHEAR_RETURN_IF_ERROR(checkIds(ids, table.dim(0)));
  cpuContext(context).parallelFor(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float *row = table.f32() + ids.i64()[i] * D;
      float *out = y.f32() + i * D;
      if (z)
        for (int64_t d = 0; d < D; ++d)
          out[d] = row[d] * z->f32()[d];
      else
        std::memcpy(out, row, D * sizeof(float));
    }
  });
  return Status();
}

// embed.bwd(table, ids [, hidden], y, dy) -> (dtable [, dhidden])
Status embedBwd(ExecContext &context, const KernelParams &, KernelIO &io) {
  const Tensor &table = io.input(Table), &ids = io.input(Ids), &dx = io.input(DY);
  const Tensor *z = io.optional(Hidden);
  Tensor &dtable = io.output(0);
  Tensor *dz = io.optionalOutput(1);
  int64_t D = table.dim(1), rows = ids.numel();
  SHEAR_RETURN_IF_ERROR(checkIds(ids, table.dim(0)));
  std::memset(dtable.data(), 0, dtable.bytes());
  if (dz)
    std::memset(dz->data(), 0, dz->bytes());
  // Rows of the table are shared by repeated ids: one thread owns the table,
  // the other (if any) computes the mask gradient.
  cpuContext(context).parallelFor(z ? 2 : 1, [&](int64_t begin, int64_t end) {
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
            dz->f32()[d] += g[d] * row[d];
        }
      }
    }
  });
  return Status();
}
} // namespace

void shear::rt::cpu::registerEmbed(const Define &define) {
  define(KernelId::Embed, {embed});
  define(KernelId::EmbedBwd, {embedBwd});
}
