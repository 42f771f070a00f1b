//===- Attention.cu - causal self-attention with RoPE and GQA (forward) ----===//
//
// Twins of attention and attention.train in runtime/kernels/cpu/Attention.cpp
// (which states the shapes and the gating): projections through cuBLAS,
// RoPE with the CPU's tables (computed once per parameters and length, kept
// on the device), then one warp per query row attending to its causal
// prefix with an online softmax, keeping the log-sum-exp for the backward.
// Version 1 is plain (no tiling in shared memory): correctness first.
// bf16 calls take x and the weights as they are (the projections on bf16
// tensor cores) and run RoPE and the core in float32: attention.train's
// q, k, v, a are rounded to bf16 when stored, attention.bwd widens them to
// float32 and rounds the cotangent and dq, dk, dv to bf16 for its GEMMs.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "FlashAttention.h"
#include "Storage.cuh"
#include "TensorCoreAttention.h"
#include "Reduce.cuh"
#include "../cpu/Rope.h"

#include <cmath>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
enum { X, Wq, Wk, Wv, Wo, Head, KvGroup };
constexpr int kMaxHeadDim = 256; // 8 values per lane

struct Dims {
  int64_t B, T, D, H, G, hd, per, qw, kw;
};

Dims dimsOf(const Shape &x, const AttentionParams &p) {
  Dims d;
  d.B = x[0];
  d.T = x[1];
  d.D = x[2];
  d.H = p.heads;
  d.G = p.kvHeads;
  d.hd = p.headDim;
  d.per = d.H / d.G;
  d.qw = d.H * d.hd;
  d.kw = d.G * d.hd;
  return d;
}

const AttentionParams &attn(const KernelParams &p) { return std::get<AttentionParams>(p); }

/// Whether the tiled core takes these dims (its grid's second dimension is
/// batch × heads: at most 65535; the row-per-warp kernels take any).
bool tiled(const Dims &d) { return flashAttentionTakes(d.hd) && d.B * d.H <= 65535; }

/// cos and sin tables [T, hd/2] on the device, made once per RoPE parameters and T.
/// The RoPE tables of positions [0, T) on the device: one table per RoPE
/// configuration, grown to the longest length asked (a shorter one reads
/// its prefix), so evaluating sequences of many lengths keeps one table,
/// not one per length.
Result<std::pair<const float *, const float *>> ropeOnDevice(CudaContext &ctx, Allocator &alloc,
                                                             const RopeParams &r, int64_t T) {
  std::string key = "rope:" + std::to_string(int(r.scaling)) + ":" + std::to_string(r.headDim) + ":" +
                    std::to_string(r.theta) + ":" + std::to_string(r.factor) + ":" +
                    std::to_string(r.lowFreqFactor) + ":" + std::to_string(r.highFreqFactor) + ":" +
                    std::to_string(r.originalMaxPositions);
  int64_t half = r.headDim / 2;
  auto it = ctx.cache.find(key);
  if (it == ctx.cache.end() || it->second.dim(1) < T * half) {
    // Twice the old length at least, so that lengths growing one at a time
    // rebuild it a logarithmic number of times.
    int64_t length = std::max(T, it == ctx.cache.end() ? T : 2 * it->second.dim(1) / std::max<int64_t>(half, 1));
    cpu::RopeTables t = cpu::ropeTables(r, length);
    int64_t n = length * t.half;
    auto dev = Tensor::allocate(alloc, {2, n}, DType::F32);
    if (!dev.ok())
      return dev.status();
    // On the kernels' stream (a blocking cudaMemcpy runs on the legacy
    // stream, which ours does not wait for), done before the host tables go.
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemcpyAsync(dev->f32(), t.cos.data(), n * sizeof(float),
                                                    cudaMemcpyHostToDevice, ctx.stream),
                                    "RoPE tables"));
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemcpyAsync(dev->f32() + n, t.sin.data(), n * sizeof(float),
                                                    cudaMemcpyHostToDevice, ctx.stream),
                                    "RoPE tables"));
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaStreamSynchronize(ctx.stream), "RoPE tables"));
    // A replaced table's memory goes back to the device cache, whose next
    // user is ordered after the kernels that read it.
    ctx.cache[key] = dev.take();
    it = ctx.cache.find(key);
  }
  const float *base = it->second.f32();
  return std::make_pair(base, base + it->second.dim(1));
}

/// Rotates `heads` heads of each row of x [B*T, stride] in place (HF
/// rotate-half); row t of a sequence is at position offset + t.
__global__ void ropeKernel(float *x, int64_t rowsCount, int64_t T, int64_t heads, int64_t hd,
                           int64_t stride, const float *cosT, const float *sinT, int64_t offset = 0) {
  int64_t half = hd / 2, n = rowsCount * heads * half;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t e = i % half, h = (i / half) % heads, r = i / (half * heads), p = offset + r % T;
    float *v = x + r * stride + h * hd;
    float c = cosT[p * half + e], s = sinT[p * half + e];
    float a = v[e], b = v[e + half];
    v[e] = a * c - b * s;
    v[e + half] = b * c + a * s;
  }
}

/// One warp attends one query row qr to `keys` keys and values (rows `stride`
/// floats apart from kb and vb) with an online softmax: out = softmax(q kᵀ ·
/// scale) v; returns the log-sum-exp (to every lane).
__device__ float attendRow(const float *qr, const float *kb, const float *vb, int64_t stride, int64_t keys,
                           int64_t hd, float scale, float *out) {
  int lane = threadIdx.x % 32;
  float qv[kMaxHeadDim / 32], acc[kMaxHeadDim / 32];
  int per_lane = static_cast<int>((hd + 31) / 32);
  for (int t = 0; t < per_lane; ++t) {
    int64_t e = lane + 32 * t;
    qv[t] = e < hd ? qr[e] : 0.0f;
    acc[t] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = 0; j < keys; ++j) {
    const float *kj = kb + j * stride;
    float s = 0.0f;
    for (int t = 0; t < per_lane; ++t) {
      int64_t e = lane + 32 * t;
      if (e < hd)
        s += qv[t] * kj[e];
    }
    for (int o = 16; o > 0; o /= 2)
      s += __shfl_xor_sync(0xffffffffu, s, o);
    s *= scale;
    float mNew = fmaxf(m, s);
    float corr = expf(m - mNew), w = expf(s - mNew);
    l = l * corr + w;
    const float *vj = vb + j * stride;
    for (int t = 0; t < per_lane; ++t) {
      int64_t e = lane + 32 * t;
      if (e < hd)
        acc[t] = acc[t] * corr + w * vj[e];
    }
    m = mNew;
  }
  for (int t = 0; t < per_lane; ++t) {
    int64_t e = lane + 32 * t;
    if (e < hd)
      out[e] = acc[t] / l;
  }
  return m + logf(l);
}

/// One warp per (b, h, i): a[b, i, h] = softmax(q kᵀ · scale) v over keys
/// 0..i of kv head h / per; lse[(b·H + h)·T + i].
__global__ void attendKernel(const float *q, const float *k, const float *v, float *a, float *lse,
                             int64_t B, int64_t T, int64_t H, int64_t per, int64_t hd, int64_t qw,
                             int64_t kw, float scale) {
  int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  if (warp >= B * H * T)
    return;
  int64_t i = warp % T, bh = warp / T, b = bh / H, h = bh % H, g = h / per;
  float l = attendRow(q + (b * T + i) * qw + h * hd, k + b * T * kw + g * hd, v + b * T * kw + g * hd, kw, i + 1,
                      hd, scale, a + (b * T + i) * qw + h * hd);
  if (threadIdx.x % 32 == 0)
    lse[bh * T + i] = l;
}

/// gated = a ⊙ head[h] · kv_group[h / per] per head, stored as T.
template <class T>
__global__ void gateHeadsKernel(const float *a, const float *zHead, const float *zGroup, T *gated,
                                int64_t rows, int64_t H, int64_t per, int64_t hd) {
  int64_t qw = H * hd, n = rows * qw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t h = (i % qw) / hd;
    store(gated, i, a[i] * ((zHead ? zHead[h] : 1.0f) * (zGroup ? zGroup[h / per] : 1.0f)));
  }
}

/// gated (f32, or bf16 for the GEMMs of a bf16 call) from a.
Status gateHeads(CudaContext &ctx, const float *a, const float *zh, const float *zg, void *gated, DType type,
                 int64_t rows, int64_t H, int64_t per, int64_t hd) {
  if (type == DType::BF16)
    gateHeadsKernel<__nv_bfloat16><<<blocksFor(rows * H * hd), 256, 0, ctx.stream>>>(
        a, zh, zg, static_cast<__nv_bfloat16 *>(gated), rows, H, per, hd);
  else
    gateHeadsKernel<float><<<blocksFor(rows * H * hd), 256, 0, ctx.stream>>>(a, zh, zg, static_cast<float *>(gated),
                                                                            rows, H, per, hd);
  return launched("attention (gates)");
}

/// Whether a call's tensors are those of a bf16 program that the kernels
/// take as they are: x, the weights and the given bf16 tensors in bf16,
/// the gates and the listed float32 ones in float32.
bool bf16Call(const KernelIO &io, std::initializer_list<const Tensor *> bf16s,
              std::initializer_list<const Tensor *> f32s) {
  if (!all(DType::BF16, {&io.input(X), &io.input(Wq), &io.input(Wk), &io.input(Wv), &io.input(Wo)}) ||
      !all(DType::BF16, bf16s) || !all(DType::F32, f32s))
    return false;
  return all(DType::F32, {io.optional(Head), io.optional(KvGroup)});
}

/// q, k, v = x wqᵀ, x wkᵀ, x wvᵀ into float32 (x and the weights float32 or bf16).
Status projectQkv(CudaContext &ctx, const KernelIO &io, const Dims &d, float *q, float *k, float *v) {
  const Tensor &x = io.input(X);
  int64_t rows = d.B * d.T;
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, true, rows, d.qw, d.D, 1.0f, operand(x), d.D, operand(io.input(Wq)), d.D,
                               0.0f, q, DType::F32, d.qw));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, true, rows, d.kw, d.D, 1.0f, operand(x), d.D, operand(io.input(Wk)), d.D,
                               0.0f, k, DType::F32, d.kw));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, true, rows, d.kw, d.D, 1.0f, operand(x), d.D, operand(io.input(Wv)), d.D,
                               0.0f, v, DType::F32, d.kw));
  return Status();
}

/// Projections, RoPE and the attention core into q, k, v, a, lse (float32),
/// then y: x, the weights and y float32, or bf16 (`gated` then holds bf16).
/// A bf16 call whose core runs on tensor cores rounds q, k, v to bf16 for
/// it: into qkv16 (three bf16 arrays) where given, and says so in *rounded.
Status forward(CudaContext &ctx, Allocator &alloc, const KernelIO &io, const AttentionParams &p,
               float *q, float *k, float *v, float *a, float *lse, void *gated, void *const *qkv16 = nullptr,
               bool *rounded = nullptr, void *round16 = nullptr) {
  const Tensor &x = io.input(X);
  Dims d = dimsOf(x.shape(), p);
  if (d.hd > kMaxHeadDim || d.hd % 2 != 0)
    return internalError("attention: head_dim " + std::to_string(d.hd) +
                         " (the CUDA kernel takes even head dims up to 256)");
  int64_t rows = d.B * d.T;
  SHEAR_RETURN_IF_ERROR(projectQkv(ctx, io, d, q, k, v));
  auto rope = ropeOnDevice(ctx, alloc, p.rope, d.T);
  if (!rope.ok())
    return rope.status();
  auto [cosT, sinT] = *rope;
  ropeKernel<<<blocksFor(rows * d.H * d.hd / 2), 256, 0, ctx.stream>>>(q, rows, d.T, d.H, d.hd, d.qw, cosT, sinT);
  ropeKernel<<<blocksFor(rows * d.G * d.hd / 2), 256, 0, ctx.stream>>>(k, rows, d.T, d.G, d.hd, d.kw, cosT, sinT);
  SHEAR_RETURN_IF_ERROR(launched("attention (RoPE)"));
  int64_t warps = d.B * d.H * d.T;
  int64_t blocks = (warps * 32 + 127) / 128;
  if (blocks > 0x7fffffff)
    return internalError("attention: too many query rows for one launch");
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  if (x.dtype() == DType::BF16 && tensorCoreAttentionTakes(d.hd, d.B * d.H)) {
    void *q16, *k16, *v16;
    if (qkv16) {
      q16 = qkv16[0], k16 = qkv16[1], v16 = qkv16[2];
    } else {
      if (!round16)
        return internalError("attention: no workspace for the rounded q, k, v");
      size_t bq = bf16Bytes(rows * d.qw), bk = bf16Bytes(rows * d.kw);
      q16 = round16, k16 = static_cast<char *>(round16) + bq, v16 = static_cast<char *>(round16) + bq + bk;
    }
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, q, q16, rows * d.qw));
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, k, k16, rows * d.kw));
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, v, v16, rows * d.kw));
    SHEAR_RETURN_IF_ERROR(tensorCoreForward(ctx, q16, k16, v16, a, lse, d.B, d.T, d.H, d.G, d.hd, scale));
    if (rounded)
      *rounded = qkv16 != nullptr;
  } else if (tiled(d))
    SHEAR_RETURN_IF_ERROR(flashForward(ctx, q, k, v, a, lse, d.B, d.T, d.H, d.G, d.hd, scale));
  else if (blocks > 0)
    attendKernel<<<static_cast<unsigned>(blocks), 128, 0, ctx.stream>>>(q, k, v, a, lse, d.B, d.T, d.H, d.per,
                                                                      d.hd, d.qw, d.kw, scale);
  SHEAR_RETURN_IF_ERROR(launched("attention"));
  const Tensor *zHead = io.optional(Head), *zGroup = io.optional(KvGroup);
  const Tensor &wo = io.input(Wo);
  SHEAR_RETURN_IF_ERROR(gateHeads(ctx, a, zHead ? zHead->f32() : nullptr, zGroup ? zGroup->f32() : nullptr, gated,
                                  wo.dtype(), rows, d.H, d.per, d.hd));
  Tensor &y = io.output(0);
  return gemmEx(ctx, false, true, rows, d.D, d.qw, 1.0f, {gated, wo.dtype()}, d.qw, operand(wo), d.qw, 0.0f, y.data(),
                y.dtype(), d.D);
}

/// Carves float arrays out of a workspace, aligned as the executor's arena.
struct Carve {
  char *p;
  float *take(int64_t n) {
    float *r = reinterpret_cast<float *>(p);
    p += alignedBytes(static_cast<size_t>(n) * sizeof(float));
    return r;
  }
};

size_t bytesOf(std::initializer_list<int64_t> counts) {
  size_t n = 0;
  for (int64_t c : counts)
    n += alignedBytes(static_cast<size_t>(c) * sizeof(float));
  return n;
}

/// bf16 copies of q, k and v for the tensor-core core.
size_t roundedQkvBytes(const Dims &d) {
  int64_t rows = d.B * d.T;
  return bf16Bytes(rows * d.qw) + 2 * bf16Bytes(rows * d.kw);
}

// q, k, v, a, lse, gated in float32, then (a bf16 call) q, k, v rounded.
size_t attentionWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  int64_t rows = d.B * d.T;
  return bytesOf({rows * d.qw, rows * d.kw, rows * d.kw, rows * d.qw, d.B * d.H * d.T, rows * d.qw}) +
         roundedQkvBytes(d);
}

// The backend whose allocator keeps the RoPE tables (set at registration).
Allocator *gAllocator = nullptr;

/// attention for float32 tensors, or bf16 ones as bf16Call takes them.
Status attentionBody(ExecContext &c, const KernelParams &params, KernelIO &io) {
  Dims d = dimsOf(io.input(X).shape(), attn(params));
  int64_t rows = d.B * d.T;
  if (io.workspaceBytes < attentionWorkspace(params, {&io.input(X).shape()}))
    return internalError("attention: workspace too small");
  Carve w{static_cast<char *>(io.workspace)};
  float *q = w.take(rows * d.qw), *k = w.take(rows * d.kw), *v = w.take(rows * d.kw),
        *a = w.take(rows * d.qw), *lse = w.take(d.B * d.H * d.T), *gated = w.take(rows * d.qw);
  return forward(cudaContext(c), *gAllocator, io, attn(params), q, k, v, a, lse, gated, nullptr, nullptr, w.p);
}

// gated, then (a bf16 call) q, k, v and a in float32 before their rounding.
size_t attentionTrainWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  int64_t rows = d.B * d.T;
  return bytesOf({rows * d.qw, rows * d.qw, rows * d.kw, rows * d.kw, rows * d.qw});
}

// bf16: the same, with x, the weights and y as they are (the workspace's
// gated slot holds bf16).
Status attention(ExecContext &c, const KernelParams &params, KernelIO &io) {
  if (!allFloat32(io) && !bf16Call(io, {&io.output(0)}, {}))
    return runInFloat32(KernelId::Attention, attentionBody, c, params, io);
  return attentionBody(c, params, io); // its GEMMs and gates follow the tensors' types
}

// attention.train -> (y, q, k, v, a, lse)
Status attentionTrainF32(ExecContext &c, const KernelParams &params, KernelIO &io) {
  Dims d = dimsOf(io.input(X).shape(), attn(params));
  if (io.workspaceBytes < attentionTrainWorkspace(params, {&io.input(X).shape()}))
    return internalError("attention.train: workspace too small");
  float *gated = static_cast<float *>(io.workspace);
  (void)d;
  return forward(cudaContext(c), *gAllocator, io, attn(params), io.output(1).f32(), io.output(2).f32(),
                 io.output(3).f32(), io.output(4).f32(), io.output(5).f32(), gated);
}

// bf16: q, k, v, a computed in float32 scratch and rounded into the bf16
// results (lse stays float32).
Status attentionTrain(ExecContext &c, const KernelParams &params, KernelIO &io) {
  if (allFloat32(io))
    return attentionTrainF32(c, params, io);
  if (!bf16Call(io, {&io.output(0), &io.output(1), &io.output(2), &io.output(3), &io.output(4)}, {&io.output(5)}))
    return runInFloat32(KernelId::AttentionTrain, attentionTrainF32, c, params, io);
  CudaContext &ctx = cudaContext(c);
  Dims d = dimsOf(io.input(X).shape(), attn(params));
  if (io.workspaceBytes < attentionTrainWorkspace(params, {&io.input(X).shape()}))
    return internalError("attention.train: workspace too small");
  int64_t rows = d.B * d.T;
  Carve w{static_cast<char *>(io.workspace)};
  void *gated = w.take(rows * d.qw);
  float *q = w.take(rows * d.qw), *k = w.take(rows * d.kw), *v = w.take(rows * d.kw), *a = w.take(rows * d.qw);
  void *const qkv16[3] = {io.output(1).data(), io.output(2).data(), io.output(3).data()};
  bool rounded = false;
  SHEAR_RETURN_IF_ERROR(
      forward(ctx, *gAllocator, io, attn(params), q, k, v, a, io.output(5).f32(), gated, qkv16, &rounded));
  if (!rounded) {
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, q, qkv16[0], rows * d.qw));
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, k, qkv16[1], rows * d.kw));
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, v, qkv16[2], rows * d.kw));
  }
  return roundToBf16(ctx, a, io.output(4).data(), rows * d.qw);
}
// --- attention.bwd ----------------------------------------------------------
// (x, wq, wk, wv, wo [, head] [, kv_group], y, q, k, v, a, lse, dy)
//   -> (dx, dwq, dwk, dwv, dwo [, dhead] [, dkv_group]); the CPU twin's math,
// with every sum over rows or keys in a fixed order (no atomics).
enum { BY = 7, BQ, BK, BV, BA, BLse, BDy };

/// dots[r, h] = Σ_e dc · a over head h's dims (double); da = dc ⊙ gate in
/// place; delta[r, h] = Σ_e da · a (float, as the CPU).
__global__ void headDotsKernel(float *dc, const float *a, const float *zHead, const float *zGroup,
                               double *dots, float *delta, int64_t rows, int64_t H, int64_t per,
                               int64_t hd) {
  int64_t n = rows * H;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n; t += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = t / H, h = t % H;
    float *c = dc + r * H * hd + h * hd;
    const float *ah = a + r * H * hd + h * hd;
    float gh = (zHead ? zHead[h] : 1.0f) * (zGroup ? zGroup[h / per] : 1.0f);
    double dot = 0;
    float del = 0;
    for (int64_t e = 0; e < hd; ++e) {
      dot += double(c[e]) * ah[e];
      c[e] *= gh;
      del += c[e] * ah[e];
    }
    dots[t] = dot;
    delta[t] = del;
  }
}

/// sums[h] = Σ_r dots[r, h]: one block per head, each thread a strided share
/// of the rows, then the block's fixed-order sum (deterministic; a single
/// thread summing every row of every head took milliseconds a layer).
__global__ void headSumKernel(const double *dots, int64_t rows, int64_t H, double *sums) {
  __shared__ double shared[kBlock / 32];
  const int64_t h = blockIdx.x;
  double s = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x)
    s += dots[r * H + h];
  s = blockSum(s, shared);
  if (threadIdx.x == 0)
    sums[h] = s;
}

/// dhead[h] = sums[h] · kv_group[h/per]; dkv_group[g] = Σ over its heads of
/// sums[h] · head[h] (heads in order).
__global__ void gateGradKernel(const double *sums, int64_t H, int64_t per, const float *zHead,
                               const float *zGroup, float *dHead, float *dGroup) {
  if (threadIdx.x != 0)
    return;
  if (dGroup)
    for (int64_t g = 0; g < H / per; ++g)
      dGroup[g] = 0.0f;
  for (int64_t h = 0; h < H; ++h) {
    double s = sums[h];
    if (dHead)
      dHead[h] = static_cast<float>(s * (zGroup ? zGroup[h / per] : 1.0f));
    if (dGroup)
      dGroup[h / per] += static_cast<float>(s * (zHead ? zHead[h] : 1.0f));
  }
}

/// One warp per (b, h, i): dq_i = Σ_{j ≤ i} ds_ij k_j.
__global__ void dqKernel(const float *q, const float *k, const float *v, const float *da,
                         const float *lse, const float *delta, float *dq, int64_t B, int64_t T,
                         int64_t H, int64_t per, int64_t hd, int64_t qw, int64_t kw, float scale) {
  int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (warp >= B * H * T)
    return;
  int64_t i = warp % T, bh = warp / T, b = bh / H, h = bh % H, g = h / per;
  int64_t ri = b * T + i;
  const float *qi = q + ri * qw + h * hd, *dai = da + ri * qw + h * hd;
  float l = lse[bh * T + i], del = delta[ri * H + h];
  float acc[kMaxHeadDim / 32];
  int perLane = static_cast<int>((hd + 31) / 32);
  for (int t = 0; t < perLane; ++t)
    acc[t] = 0.0f;
  for (int64_t j = 0; j <= i; ++j) {
    const float *kj = k + (b * T + j) * kw + g * hd, *vj = v + (b * T + j) * kw + g * hd;
    float sc = 0, dpv = 0;
    for (int t = 0; t < perLane; ++t) {
      int64_t e = lane + 32 * t;
      if (e < hd) {
        sc += qi[e] * kj[e];
        dpv += dai[e] * vj[e];
      }
    }
    for (int o = 16; o > 0; o /= 2) {
      sc += __shfl_xor_sync(0xffffffffu, sc, o);
      dpv += __shfl_xor_sync(0xffffffffu, dpv, o);
    }
    float p = expf(sc * scale - l), ds = p * (dpv - del) * scale;
    for (int t = 0; t < perLane; ++t) {
      int64_t e = lane + 32 * t;
      if (e < hd)
        acc[t] += ds * kj[e];
    }
  }
  float *out = dq + ri * qw + h * hd;
  for (int t = 0; t < perLane; ++t) {
    int64_t e = lane + 32 * t;
    if (e < hd)
      out[e] = acc[t];
  }
}

/// One warp per (b, g, j): over the group's heads h and queries i ≥ j,
/// dk_j = Σ ds_ij q_i and dv_j = Σ p_ij da_i.
__global__ void dkvKernel(const float *q, const float *k, const float *v, const float *da,
                          const float *lse, const float *delta, float *dk, float *dv, int64_t B,
                          int64_t T, int64_t H, int64_t G, int64_t per, int64_t hd, int64_t qw,
                          int64_t kw, float scale) {
  int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (warp >= B * G * T)
    return;
  int64_t j = warp % T, bg = warp / T, b = bg / G, g = bg % G;
  int64_t rj = b * T + j;
  const float *kj = k + rj * kw + g * hd, *vj = v + rj * kw + g * hd;
  float accK[kMaxHeadDim / 32], accV[kMaxHeadDim / 32];
  int perLane = static_cast<int>((hd + 31) / 32);
  for (int t = 0; t < perLane; ++t)
    accK[t] = accV[t] = 0.0f;
  for (int64_t h = g * per; h < (g + 1) * per; ++h)
    for (int64_t i = j; i < T; ++i) {
      int64_t ri = b * T + i;
      const float *qi = q + ri * qw + h * hd, *dai = da + ri * qw + h * hd;
      float sc = 0, dpv = 0;
      for (int t = 0; t < perLane; ++t) {
        int64_t e = lane + 32 * t;
        if (e < hd) {
          sc += qi[e] * kj[e];
          dpv += dai[e] * vj[e];
        }
      }
      for (int o = 16; o > 0; o /= 2) {
        sc += __shfl_xor_sync(0xffffffffu, sc, o);
        dpv += __shfl_xor_sync(0xffffffffu, dpv, o);
      }
      float p = expf(sc * scale - lse[(b * H + h) * T + i]);
      float ds = p * (dpv - delta[ri * H + h]) * scale;
      for (int t = 0; t < perLane; ++t) {
        int64_t e = lane + 32 * t;
        if (e < hd) {
          accK[t] += ds * qi[e];
          accV[t] += p * dai[e];
        }
      }
    }
  for (int t = 0; t < perLane; ++t) {
    int64_t e = lane + 32 * t;
    if (e < hd) {
      dk[rj * kw + g * hd + e] = accK[t];
      dv[rj * kw + g * hd + e] = accV[t];
    }
  }
}

/// The transpose of RoPE (rotation by −angle), in place.
__global__ void ropeInverseKernel(float *x, int64_t rowsCount, int64_t T, int64_t heads, int64_t hd,
                                  int64_t stride, const float *cosT, const float *sinT) {
  int64_t half = hd / 2, n = rowsCount * heads * half;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t e = i % half, h = (i / half) % heads, r = i / (half * heads), p = r % T;
    float *v = x + r * stride + h * hd;
    float c = cosT[p * half + e], s = sinT[p * half + e];
    float a = v[e], b = v[e + half];
    v[e] = a * c + b * s;
    v[e + half] = b * c - a * s;
  }
}

// The float32 arrays of every call, then a bf16 call's: its float32 copies
// of the saved tensors (a alone where the core runs on tensor cores, q, k,
// v and a otherwise), the cotangent, da and dq, dk, dv rounded to bf16.
struct BwdLayout {
  size_t gated, dc, dq, dk, dv, dots, delta, sums;
  size_t widened, dy16, da16, rounded;
  size_t total() const {
    return gated + dc + dq + dk + dv + dots + delta + sums + widened + dy16 + da16 + rounded;
  }
};

BwdLayout bwdLayout(const Dims &d) {
  int64_t rows = d.B * d.T;
  auto f = [](int64_t n) { return alignedBytes(static_cast<size_t>(n) * sizeof(float)); };
  bool tc = tensorCoreAttentionTakes(d.hd, d.B * d.H);
  return {f(rows * d.qw), f(rows * d.qw), f(rows * d.qw), f(rows * d.kw), f(rows * d.kw),
          alignedBytes(static_cast<size_t>(rows * d.H) * sizeof(double)), f(rows * d.H),
          alignedBytes(static_cast<size_t>(d.H) * sizeof(double)),
          tc ? f(rows * d.qw) : bytesOf({rows * d.qw, rows * d.kw, rows * d.kw, rows * d.qw}),
          bf16Bytes(rows * d.D), tc ? bf16Bytes(rows * d.qw) : 0, roundedQkvBytes(d)};
}

size_t attentionBwdWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  return bwdLayout(dimsOf(*in[X], attn(params))).total();
}

// float32 tensors, or bf16 ones (x, the weights, q, k, v, a): these are
// widened to float32 for the core, and the cotangent, gated, dq, dk and dv
// go into the GEMMs in bf16.
Status attentionBwdBody(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const AttentionParams &p = attn(params);
  const Tensor &x = io.input(X);
  Dims d = dimsOf(x.shape(), p);
  if (d.hd > kMaxHeadDim || d.hd % 2 != 0)
    return internalError("attention.bwd: head_dim " + std::to_string(d.hd) +
                         " (the CUDA kernel takes even head dims up to 256)");
  BwdLayout lay = bwdLayout(d);
  if (io.workspaceBytes < lay.total())
    return internalError("attention.bwd: workspace too small");
  int64_t rows = d.B * d.T;
  char *w = static_cast<char *>(io.workspace);
  void *gated = w;
  auto *dc = reinterpret_cast<float *>(w += lay.gated);
  auto *dq = reinterpret_cast<float *>(w += lay.dc);
  auto *dk = reinterpret_cast<float *>(w += lay.dq);
  auto *dv = reinterpret_cast<float *>(w += lay.dk);
  auto *dots = reinterpret_cast<double *>(w += lay.dv);
  auto *delta = reinterpret_cast<float *>(w += lay.dots);
  auto *headSums = reinterpret_cast<double *>(w += lay.delta);
  char *widened = w += lay.sums, *dy16 = w += lay.widened, *da16 = w += lay.dy16, *rounded = w += lay.da16;
  const Tensor *zHead = io.optional(Head), *zGroup = io.optional(KvGroup);
  const float *zh = zHead ? zHead->f32() : nullptr, *zg = zGroup ? zGroup->f32() : nullptr;
  const Tensor &q = io.input(BQ), &k = io.input(BK), &v = io.input(BV), &a = io.input(BA),
               &lse = io.input(BLse), &dy = io.input(BDy);
  const bool bf = x.dtype() == DType::BF16;
  const DType gemmType = bf ? DType::BF16 : DType::F32;
  // A bf16 call's core on tensor cores takes q, k, v as they are (the
  // forward rounded them so); only a is widened, for the gates.
  const bool tc = bf && tensorCoreAttentionTakes(d.hd, d.B * d.H);
  // The core's float32 q, k, v, a: the tensors, or copies of bf16 ones.
  const float *qf = nullptr, *kf = nullptr, *vf = nullptr, *af;
  if (tc) {
    SHEAR_RETURN_IF_ERROR(widenFromBf16(ctx, a.data(), reinterpret_cast<float *>(widened), rows * d.qw));
    af = reinterpret_cast<float *>(widened);
  } else if (bf) {
    Carve cw{widened};
    float *qw = cw.take(rows * d.qw), *kw = cw.take(rows * d.kw), *vw = cw.take(rows * d.kw),
          *aw = cw.take(rows * d.qw);
    SHEAR_RETURN_IF_ERROR(widenFromBf16(ctx, q.data(), qw, rows * d.qw));
    SHEAR_RETURN_IF_ERROR(widenFromBf16(ctx, k.data(), kw, rows * d.kw));
    SHEAR_RETURN_IF_ERROR(widenFromBf16(ctx, v.data(), vw, rows * d.kw));
    SHEAR_RETURN_IF_ERROR(widenFromBf16(ctx, a.data(), aw, rows * d.qw));
    qf = qw, kf = kw, vf = vw, af = aw;
  } else {
    qf = q.f32(), kf = k.f32(), vf = v.f32(), af = a.f32();
  }
  GemmOperand dyOp = operand(dy);
  if (bf) {
    auto r = bf16Cotangent(ctx, dy, dy16);
    if (!r.ok())
      return r.status();
    dyOp = bf16(*r);
  }

  // o_proj: dwo = dyᵀ (a ⊙ gate), dc = dy wo.
  SHEAR_RETURN_IF_ERROR(gateHeads(ctx, af, zh, zg, gated, gemmType, rows, d.H, d.per, d.hd));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, true, false, d.D, d.qw, rows, 1.0f, dyOp, d.D, {gated, gemmType}, d.qw, 0.0f,
                               io.output(4).data(), DType::F32, d.qw));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, rows, d.qw, d.D, 1.0f, dyOp, d.D, operand(io.input(Wo)), d.qw,
                               0.0f, dc, DType::F32, d.qw));
  // Gate gradients; dc becomes da = dc ⊙ gate; delta per row and head.
  headDotsKernel<<<blocksFor(rows * d.H), 256, 0, ctx.stream>>>(dc, af, zh, zg, dots, delta, rows, d.H,
                                                                d.per, d.hd);
  Tensor *dHead = io.optionalOutput(5), *dGroup = io.optionalOutput(6);
  if (dHead || dGroup) {
    headSumKernel<<<static_cast<unsigned>(d.H), kBlock, 0, ctx.stream>>>(dots, rows, d.H, headSums);
    gateGradKernel<<<1, 32, 0, ctx.stream>>>(headSums, d.H, d.per, zh, zg, dHead ? dHead->f32() : nullptr,
                                             dGroup ? dGroup->f32() : nullptr);
  }
  SHEAR_RETURN_IF_ERROR(launched("attention.bwd"));
  // The attention core.
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  int64_t qBlocks = (d.B * d.H * d.T * 32 + 127) / 128, kvBlocks = (d.B * d.G * d.T * 32 + 127) / 128;
  if (qBlocks > 0x7fffffff)
    return internalError("attention.bwd: too many query rows for one launch");
  if (tc) {
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, dc, da16, rows * d.qw));
    SHEAR_RETURN_IF_ERROR(tensorCoreBackward(ctx, q.data(), k.data(), v.data(), da16, lse.f32(), delta, dq, dk, dv,
                                             d.B, d.T, d.H, d.G, d.hd, scale));
  } else if (tiled(d))
    SHEAR_RETURN_IF_ERROR(flashBackward(ctx, qf, kf, vf, dc, lse.f32(), delta, dq, dk, dv, d.B, d.T,
                                        d.H, d.G, d.hd, scale));
  else if (qBlocks > 0)
    dqKernel<<<static_cast<unsigned>(qBlocks), 128, 0, ctx.stream>>>(
        qf, kf, vf, dc, lse.f32(), delta, dq, d.B, d.T, d.H, d.per, d.hd, d.qw, d.kw, scale);
  if (!tc && !tiled(d) && kvBlocks > 0)
    dkvKernel<<<static_cast<unsigned>(kvBlocks), 128, 0, ctx.stream>>>(
        qf, kf, vf, dc, lse.f32(), delta, dk, dv, d.B, d.T, d.H, d.G, d.per, d.hd, d.qw, d.kw, scale);
  SHEAR_RETURN_IF_ERROR(launched("attention.bwd"));
  // Undo RoPE, then the projections.
  auto rope = ropeOnDevice(ctx, *gAllocator, p.rope, d.T);
  if (!rope.ok())
    return rope.status();
  auto [cosT, sinT] = *rope;
  ropeInverseKernel<<<blocksFor(rows * d.H * d.hd / 2), 256, 0, ctx.stream>>>(dq, rows, d.T, d.H, d.hd, d.qw, cosT, sinT);
  ropeInverseKernel<<<blocksFor(rows * d.G * d.hd / 2), 256, 0, ctx.stream>>>(dk, rows, d.T, d.G, d.hd, d.kw, cosT, sinT);
  SHEAR_RETURN_IF_ERROR(launched("attention.bwd (RoPE)"));
  GemmOperand dqOp{dq, DType::F32}, dkOp{dk, DType::F32}, dvOp{dv, DType::F32};
  if (bf) {
    size_t bq = bf16Bytes(rows * d.qw), bk = bf16Bytes(rows * d.kw);
    char *r = rounded;
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, dq, r, rows * d.qw));
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, dk, r + bq, rows * d.kw));
    SHEAR_RETURN_IF_ERROR(roundToBf16(ctx, dv, r + bq + bk, rows * d.kw));
    dqOp = bf16(r), dkOp = bf16(r + bq), dvOp = bf16(r + bq + bk);
  }
  void *dx = io.output(0).data();
  GemmOperand wq = operand(io.input(Wq)), wk = operand(io.input(Wk)), wv = operand(io.input(Wv)), xo = operand(x);
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, rows, d.D, d.qw, 1.0f, dqOp, d.qw, wq, d.D, 0.0f, dx, DType::F32, d.D));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, rows, d.D, d.kw, 1.0f, dkOp, d.kw, wk, d.D, 1.0f, dx, DType::F32, d.D));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, false, false, rows, d.D, d.kw, 1.0f, dvOp, d.kw, wv, d.D, 1.0f, dx, DType::F32, d.D));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, true, false, d.qw, d.D, rows, 1.0f, dqOp, d.qw, xo, d.D, 0.0f,
                               io.output(1).data(), DType::F32, d.D));
  SHEAR_RETURN_IF_ERROR(gemmEx(ctx, true, false, d.kw, d.D, rows, 1.0f, dkOp, d.kw, xo, d.D, 0.0f,
                               io.output(2).data(), DType::F32, d.D));
  return gemmEx(ctx, true, false, d.kw, d.D, rows, 1.0f, dvOp, d.kw, xo, d.D, 0.0f, io.output(3).data(), DType::F32,
                d.D);
}

Status attentionBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  if (!allFloat32(io)) {
    bool outputsF32 = true;
    for (const Tensor *t : io.out)
      outputsF32 &= !t || !t->defined() || t->dtype() == DType::F32;
    const Tensor &dy = io.input(BDy);
    bool native = outputsF32 && (dy.dtype() == DType::F32 || dy.dtype() == DType::BF16) &&
                  bf16Call(io, {&io.input(BQ), &io.input(BK), &io.input(BV), &io.input(BA)}, {&io.input(BLse)});
    if (!native)
      return runInFloat32(KernelId::AttentionBwd, attentionBwdBody, c, params, io);
  }
  return attentionBwdBody(c, params, io);
}
// --- attention.decode -------------------------------------------------------
// (x [B, t, D], wq, wk, wv, wo [, head] [, kv_group], k_cache, v_cache
// [B, G, S, hd], pos) -> (y, k_cache', v_cache'): the new tokens' keys and
// values written into the caches at pos.., each new query attending to the
// cached keys 0..pos+i.
enum { KCache = 7, VCache, Pos };

/// k, v [B*t, kw] into the caches at positions pos + i.
__global__ void appendCacheKernel(const float *k, const float *v, float *kc, float *vc, int64_t B, int64_t T,
                                  int64_t G, int64_t hd, int64_t S, int64_t pos) {
  int64_t n = B * T * G * hd;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t e = i % hd, g = (i / hd) % G, t = (i / (hd * G)) % T, b = i / (hd * G * T);
    int64_t from = (b * T + t) * G * hd + g * hd + e, to = ((b * G + g) * S + pos + t) * hd + e;
    kc[to] = k[from];
    vc[to] = v[from];
  }
}

/// One warp per (b, h, i): a[b, i, h] = softmax(q kᵀ · scale) v over the
/// cached keys 0..pos+i of kv head h / per.
__global__ void attendCacheKernel(const float *q, const float *kc, const float *vc, float *a, int64_t B,
                                  int64_t T, int64_t H, int64_t per, int64_t hd, int64_t qw, int64_t G,
                                  int64_t S, int64_t pos, float scale) {
  int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  if (warp >= B * H * T)
    return;
  int64_t i = warp % T, bh = warp / T, b = bh / H, h = bh % H, g = h / per;
  attendRow(q + (b * T + i) * qw + h * hd, kc + (b * G + g) * S * hd, vc + (b * G + g) * S * hd, hd, pos + i + 1,
            hd, scale, a + (b * T + i) * qw + h * hd);
}

size_t attentionDecodeWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  int64_t rows = d.B * d.T;
  return bytesOf({rows * d.qw, rows * d.kw, rows * d.kw, rows * d.qw, rows * d.qw});
}

Status attentionDecode(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const AttentionParams &p = attn(params);
  const Tensor &x = io.input(X);
  Dims d = dimsOf(x.shape(), p);
  if (d.hd > kMaxHeadDim || d.hd % 2 != 0)
    return internalError("attention.decode: head_dim " + std::to_string(d.hd) +
                         " (the CUDA kernel takes even head dims up to 256)");
  Tensor &kc = io.output(1), &vc = io.output(2);
  int64_t S = kc.dim(2), pos = 0;
  // The position decides the launch: read it (a host sync, once per decode step).
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemcpyAsync(&pos, io.input(Pos).i64(), sizeof(pos), cudaMemcpyDeviceToHost,
                                                  ctx.stream),
                                  "attention.decode"));
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaStreamSynchronize(ctx.stream), "attention.decode"));
  if (pos < 0 || pos + d.T > S)
    return invalidInput("attention.decode: the KV cache holds " + std::to_string(S) + " positions, " +
                        std::to_string(pos + d.T) + " needed");
  if (io.workspaceBytes < attentionDecodeWorkspace(params, {&x.shape()}))
    return internalError("attention.decode: workspace too small");
  int64_t rows = d.B * d.T;
  Carve w{static_cast<char *>(io.workspace)};
  float *q = w.take(rows * d.qw), *k = w.take(rows * d.kw), *v = w.take(rows * d.kw), *a = w.take(rows * d.qw),
        *gated = w.take(rows * d.qw);
  SHEAR_RETURN_IF_ERROR(projectQkv(ctx, io, d, q, k, v));
  // Tables for the whole cache (values do not depend on the length), made once.
  auto rope = ropeOnDevice(ctx, *gAllocator, p.rope, S);
  if (!rope.ok())
    return rope.status();
  auto [cosT, sinT] = *rope;
  ropeKernel<<<blocksFor(rows * d.H * d.hd / 2), 256, 0, ctx.stream>>>(q, rows, d.T, d.H, d.hd, d.qw, cosT, sinT, pos);
  ropeKernel<<<blocksFor(rows * d.G * d.hd / 2), 256, 0, ctx.stream>>>(k, rows, d.T, d.G, d.hd, d.kw, cosT, sinT, pos);
  appendCacheKernel<<<blocksFor(rows * d.kw), 256, 0, ctx.stream>>>(k, v, kc.f32(), vc.f32(), d.B, d.T, d.G, d.hd, S, pos);
  SHEAR_RETURN_IF_ERROR(launched("attention.decode (cache)"));
  int64_t blocks = (d.B * d.H * d.T * 32 + 127) / 128;
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  if (blocks > 0)
    attendCacheKernel<<<static_cast<unsigned>(blocks), 128, 0, ctx.stream>>>(q, kc.f32(), vc.f32(), a, d.B, d.T, d.H,
                                                                           d.per, d.hd, d.qw, d.G, S, pos, scale);
  SHEAR_RETURN_IF_ERROR(launched("attention.decode"));
  const Tensor *zHead = io.optional(Head), *zGroup = io.optional(KvGroup);
  gateHeadsKernel<float><<<blocksFor(rows * d.qw), 256, 0, ctx.stream>>>(
      a, zHead ? zHead->f32() : nullptr, zGroup ? zGroup->f32() : nullptr, gated, rows, d.H, d.per, d.hd);
  SHEAR_RETURN_IF_ERROR(launched("attention.decode (gates)"));
  return gemm(ctx, false, true, rows, d.D, d.qw, 1.0f, gated, d.qw, io.input(Wo).f32(), d.qw, 0.0f,
              io.output(0).f32(), d.D);
}
} // namespace

void shear::rt::cuda::setAttentionAllocator(Allocator &allocator) { gAllocator = &allocator; }

void shear::rt::cuda::registerAttention(const Define &define) {
  define(KernelId::Attention, {attention, attentionWorkspace});
  define(KernelId::AttentionTrain, {attentionTrain, attentionTrainWorkspace});
  define(KernelId::AttentionBwd, {attentionBwd, attentionBwdWorkspace});
  for (KernelId id : {KernelId::Attention, KernelId::AttentionTrain, KernelId::AttentionBwd})
    takesBf16(id);
  define(KernelId::AttentionDecode, {attentionDecode, attentionDecodeWorkspace});
}
