//===- Embedding.cu - token embedding (× hidden mask) and its gradient -----===//
//
// Twins of embed and embed.bwd in runtime/kernels/cpu/Embed.cpp. The table's
// gradient sums the rows of the tokens with the same id in token order, as
// the CPU does, without atomics: the (id, position) pairs are sorted by id
// (a stable radix sort: equal ids keep their order), then one block sums
// each run of equal ids. Products and sums are rounded as the CPU's
// (no fused multiply-add), so both give the same bits.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Storage.cuh"

#include <cub/device/device_radix_sort.cuh>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {

// y[i, :] = table[ids[i], :] ⊙ hidden; an id outside [0, V) records its
// position in *bad (the smallest one wins) and writes zeros.
template <class T>
__global__ void embedKernel(const T *table, const int64_t *ids, const float *hidden, T *y, int64_t rows, int64_t D,
                            int64_t V, unsigned long long *bad) {
  int64_t n = rows * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = i / D, d = i % D, id = ids[r];
    if (id < 0 || id >= V) {
      atomicMin(bad, static_cast<unsigned long long>(r));
      store(y, i, 0.0f);
      continue;
    }
    store(y, i, load(table, id * D + d) * (hidden ? hidden[d] : 1.0f));
  }
}

/// Sort keys: the id (V for a bad one, sorted last and skipped) and the position.
__global__ void keysKernel(const int64_t *ids, int64_t n, int64_t V, uint32_t *keys, uint32_t *positions,
                           unsigned long long *bad) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t id = ids[i];
    if (id < 0 || id >= V) {
      atomicMin(bad, static_cast<unsigned long long>(i));
      id = V;
    }
    keys[i] = static_cast<uint32_t>(id);
    positions[i] = static_cast<uint32_t>(i);
  }
}

/// Block j sums the run of equal ids that starts at sorted position j into
/// that id's row of dtable (rows of ids that never occur stay zero).
__global__ void tableGradKernel(const uint32_t *keys, const uint32_t *positions, int64_t n, int64_t V,
                                int64_t D, const float *dy, const float *hidden, float *dtable) {
  int64_t j = blockIdx.x;
  uint32_t id = keys[j];
  if (id >= V || (j > 0 && keys[j - 1] == id))
    return;
  int64_t end = j;
  while (end < n && keys[end] == id)
    ++end;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float z = hidden ? hidden[d] : 1.0f, acc = 0.0f;
    for (int64_t k = j; k < end; ++k)
      acc = __fadd_rn(acc, __fmul_rn(dy[int64_t(positions[k]) * D + d], z));
    dtable[int64_t(id) * D + d] = acc;
  }
}

/// dhidden[d] = Σ_i dy[i, d] · table[ids[i], d], in token order (the
/// table float32 or bf16).
template <class T>
__global__ void hiddenGradKernel(const T *table, const int64_t *ids, int64_t rows, int64_t D, int64_t V,
                                 const float *dy, float *dhidden) {
  int64_t d = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (d >= D)
    return;
  float acc = 0.0f;
  for (int64_t i = 0; i < rows; ++i) {
    int64_t id = ids[i];
    if (id >= 0 && id < V)
      acc = __fadd_rn(acc, __fmul_rn(dy[i * D + d], load(table, id * D + d)));
  }
  dhidden[d] = acc;
}

const float *opt(const Tensor *t) { return t ? t->f32() : nullptr; }

// float32 or bf16 storage (the table and y of one type).
Status embed(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &table = io.input(0), &ids = io.input(1);
  int64_t V = table.dim(0), D = table.dim(1), rows = ids.numel();
  Storage s = storageOf({&table, &io.output(0)}, {io.optional(2)});
  if (s == Storage::Other)
    return runInFloat32(KernelId::Embed, embed, c, params, io);
  auto bad = checkSlot(ctx, V, "token id", "embed");
  if (!bad.ok())
    return bad.status();
  if (s == Storage::BF16)
    embedKernel<__nv_bfloat16><<<blocksFor(rows * D), 256, 0, ctx.stream>>>(
        static_cast<const __nv_bfloat16 *>(table.data()), ids.i64(), opt(io.optional(2)),
        static_cast<__nv_bfloat16 *>(io.output(0).data()), rows, D, V, *bad);
  else
    embedKernel<float><<<blocksFor(rows * D), 256, 0, ctx.stream>>>(table.f32(), ids.i64(), opt(io.optional(2)),
                                                                    io.output(0).f32(), rows, D, V, *bad);
  SHEAR_RETURN_IF_ERROR(launched("embed"));
  return keepCheckedValue(ctx, ids);
}

// embed.bwd(table, ids [, hidden], y, dy) -> (dtable [, dhidden]); the
// table (read only for dhidden) float32 or bf16, the cotangent and the
// gradients float32 (a bf16 table is not copied: at 7B it is 0.5 GiB).
Status embedBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &table = io.input(0), &ids = io.input(1), &dy = io.input(4);
  const Tensor *z = io.optional(2);
  Tensor &dtable = io.output(0);
  Tensor *dz = io.optionalOutput(1);
  if (storageOf({&table}, {z, &dy, &dtable, dz}) == Storage::Other)
    return runInFloat32(KernelId::EmbedBwd, embedBwd, c, params, io);
  int64_t V = table.dim(0), D = table.dim(1), n = ids.numel();
  if (n >= (int64_t(1) << 31) || V >= (int64_t(1) << 31))
    return internalError("embed.bwd: more than 2^31 tokens or ids in one call");
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemsetAsync(dtable.data(), 0, dtable.bytes(), ctx.stream), "embed.bwd"));
  if (n == 0) {
    if (dz)
      return cudaCheck(cudaMemsetAsync(dz->data(), 0, dz->bytes(), ctx.stream), "embed.bwd");
    return Status();
  }
  int bits = 1;
  while ((int64_t(1) << bits) <= V)
    ++bits;
  size_t part = alignedBytes(static_cast<size_t>(n) * sizeof(uint32_t)), sortBytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, sortBytes, static_cast<const uint32_t *>(nullptr),
                                  static_cast<uint32_t *>(nullptr), static_cast<const uint32_t *>(nullptr),
                                  static_cast<uint32_t *>(nullptr), static_cast<int>(n), 0, bits, ctx.stream);
  StreamBuffer buffer;
  SHEAR_RETURN_IF_ERROR(buffer.allocate(ctx, 4 * part + sortBytes, "embed.bwd's sort"));
  char *w = static_cast<char *>(buffer.p);
  auto *keys = reinterpret_cast<uint32_t *>(w), *positions = reinterpret_cast<uint32_t *>(w + part);
  auto *sortedKeys = reinterpret_cast<uint32_t *>(w + 2 * part), *sortedPositions = reinterpret_cast<uint32_t *>(w + 3 * part);
  auto bad = checkSlot(ctx, V, "token id", "embed.bwd");
  if (!bad.ok())
    return bad.status();
  keysKernel<<<blocksFor(n), 256, 0, ctx.stream>>>(ids.i64(), n, V, keys, positions, *bad);
  SHEAR_RETURN_IF_ERROR(launched("embed.bwd"));
  SHEAR_RETURN_IF_ERROR(keepCheckedValue(ctx, ids));
  SHEAR_RETURN_IF_ERROR(cudaCheck(cub::DeviceRadixSort::SortPairs(w + 4 * part, sortBytes, keys, sortedKeys, positions,
                                                                  sortedPositions, static_cast<int>(n), 0, bits, ctx.stream),
                                  "embed.bwd (sort)"));
  tableGradKernel<<<static_cast<unsigned>(n), 256, 0, ctx.stream>>>(sortedKeys, sortedPositions, n, V, D, dy.f32(),
                                                                    opt(z), dtable.f32());
  SHEAR_RETURN_IF_ERROR(launched("embed.bwd"));
  if (dz) {
    auto grid = static_cast<unsigned>((D + 255) / 256);
    if (table.dtype() == DType::BF16)
      hiddenGradKernel<__nv_bfloat16><<<grid, 256, 0, ctx.stream>>>(
          static_cast<const __nv_bfloat16 *>(table.data()), ids.i64(), n, D, V, dy.f32(), dz->f32());
    else
      hiddenGradKernel<float><<<grid, 256, 0, ctx.stream>>>(table.f32(), ids.i64(), n, D, V, dy.f32(), dz->f32());
    SHEAR_RETURN_IF_ERROR(launched("embed.bwd (hidden mask)"));
  }
  return Status();
}

} // namespace

void shear::rt::cuda::registerEmbedding(const Define &define) {
  define(KernelId::Embed, {embed});
  takesBf16(KernelId::Embed);
  define(KernelId::EmbedBwd, {embedBwd});
  takesBf16(KernelId::EmbedBwd);
}
