//===- Attention.cu - causal self-attention with RoPE and GQA (forward) ----===//
//
// Twins of attention and attention.train in runtime/kernels/cpu/Attention.cpp
// (which states the shapes and the gating): projections through cuBLAS,
// RoPE with the CPU's tables (computed once per parameters and length, kept
// on the device), then one warp per query row attending to its causal
// prefix with an online softmax, keeping the log-sum-exp for the backward.
// Version 1 is plain (no tiling in shared memory): correctness first.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
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

/// cos and sin tables [T, hd/2] on the device, made once per RoPE parameters and T.
Result<std::pair<const float *, const float *>> ropeOnDevice(CudaContext &ctx, Allocator &alloc,
                                                             const RopeParams &r, int64_t T) {
  std::string key = "rope:" + std::to_string(int(r.scaling)) + ":" + std::to_string(r.headDim) + ":" +
                    std::to_string(r.theta) + ":" + std::to_string(r.factor) + ":" +
                    std::to_string(r.lowFreqFactor) + ":" + std::to_string(r.highFreqFactor) + ":" +
                    std::to_string(r.originalMaxPositions) + ":" + std::to_string(T);
  auto it = ctx.cache.find(key);
  if (it == ctx.cache.end()) {
    cpu::RopeTables t = cpu::ropeTables(r, T);
    int64_t n = T * t.half;
    auto dev = Tensor::allocate(alloc, {2, n}, DType::F32);
    if (!dev.ok())
      return dev.status();
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemcpy(dev->f32(), t.cos.data(), n * sizeof(float), cudaMemcpyHostToDevice), "RoPE tables"));
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemcpy(dev->f32() + n, t.sin.data(), n * sizeof(float), cudaMemcpyHostToDevice), "RoPE tables"));
    it = ctx.cache.emplace(key, dev.take()).first;
  }
  const float *base = it->second.f32();
  return std::make_pair(base, base + T * (r.headDim / 2));
}

/// Rotates `heads` heads of each row of x [B*T, stride] in place (HF rotate-half).
__global__ void ropeKernel(float *x, int64_t rowsCount, int64_t T, int64_t heads, int64_t hd,
                           int64_t stride, const float *cosT, const float *sinT) {
  int64_t half = hd / 2, n = rowsCount * heads * half;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t e = i % half, h = (i / half) % heads, r = i / (half * heads), p = r % T;
    float *v = x + r * stride + h * hd;
    float c = cosT[p * half + e], s = sinT[p * half + e];
    float a = v[e], b = v[e + half];
    v[e] = a * c - b * s;
    v[e + half] = b * c + a * s;
  }
}

/// One warp per (b, h, i): a[b, i, h] = softmax(q kᵀ · scale) v over keys
/// 0..i of kv head h / per; lse[(b·H + h)·T + i].
__global__ void attendKernel(const float *q, const float *k, const float *v, float *a, float *lse,
                             int64_t B, int64_t T, int64_t H, int64_t per, int64_t hd, int64_t qw,
                             int64_t kw, float scale) {
  int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (warp >= B * H * T)
    return;
  int64_t i = warp % T, bh = warp / T, b = bh / H, h = bh % H, g = h / per;
  const float *qr = q + (b * T + i) * qw + h * hd;
  const float *kb = k + b * T * kw + g * hd, *vb = v + b * T * kw + g * hd;
  float qv[kMaxHeadDim / 32], acc[kMaxHeadDim / 32];
  int per_lane = static_cast<int>((hd + 31) / 32);
  for (int t = 0; t < per_lane; ++t) {
    int64_t e = lane + 32 * t;
    qv[t] = e < hd ? qr[e] : 0.0f;
    acc[t] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = 0; j <= i; ++j) {
    const float *kj = kb + j * kw;
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
    const float *vj = vb + j * kw;
    for (int t = 0; t < per_lane; ++t) {
      int64_t e = lane + 32 * t;
      if (e < hd)
        acc[t] = acc[t] * corr + w * vj[e];
    }
    m = mNew;
  }
  float *out = a + (b * T + i) * qw + h * hd;
  for (int t = 0; t < per_lane; ++t) {
    int64_t e = lane + 32 * t;
    if (e < hd)
      out[e] = acc[t] / l;
  }
  if (lane == 0)
    lse[bh * T + i] = m + logf(l);
}

/// gated = a ⊙ head[h] · kv_group[h / per] per head.
__global__ void gateHeadsKernel(const float *a, const float *zHead, const float *zGroup, float *gated,
                                int64_t rows, int64_t H, int64_t per, int64_t hd) {
  int64_t qw = H * hd, n = rows * qw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t h = (i % qw) / hd;
    gated[i] = a[i] * ((zHead ? zHead[h] : 1.0f) * (zGroup ? zGroup[h / per] : 1.0f));
  }
}

/// Projections, RoPE and the attention core into q, k, v, a, lse, then y.
Status forward(CudaContext &ctx, Allocator &alloc, const KernelIO &io, const AttentionParams &p,
               float *q, float *k, float *v, float *a, float *lse, float *gated) {
  const Tensor &x = io.input(X);
  Dims d = dimsOf(x.shape(), p);
  if (d.hd > kMaxHeadDim || d.hd % 2 != 0)
    return internalError("attention: head_dim " + std::to_string(d.hd) +
                         " (the CUDA kernel takes even head dims up to 256)");
  int64_t rows = d.B * d.T;
  SHEAR_RETURN_IF_ERROR(gemm(ctx, false, true, rows, d.qw, d.D, 1.0f, x.f32(), d.D, io.input(Wq).f32(), d.D, 0.0f, q, d.qw));
  SHEAR_RETURN_IF_ERROR(gemm(ctx, false, true, rows, d.kw, d.D, 1.0f, x.f32(), d.D, io.input(Wk).f32(), d.D, 0.0f, k, d.kw));
  SHEAR_RETURN_IF_ERROR(gemm(ctx, false, true, rows, d.kw, d.D, 1.0f, x.f32(), d.D, io.input(Wv).f32(), d.D, 0.0f, v, d.kw));
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
  if (blocks > 0)
    attendKernel<<<static_cast<unsigned>(blocks), 128, 0, ctx.stream>>>(q, k, v, a, lse, d.B, d.T, d.H, d.per,
                                                                      d.hd, d.qw, d.kw, scale);
  SHEAR_RETURN_IF_ERROR(launched("attention"));
  const Tensor *zHead = io.optional(Head), *zGroup = io.optional(KvGroup);
  gateHeadsKernel<<<blocksFor(rows * d.qw), 256, 0, ctx.stream>>>(
      a, zHead ? zHead->f32() : nullptr, zGroup ? zGroup->f32() : nullptr, gated, rows, d.H, d.per, d.hd);
  SHEAR_RETURN_IF_ERROR(launched("attention (gates)"));
  return gemm(ctx, false, true, rows, d.D, d.qw, 1.0f, gated, d.qw, io.input(Wo).f32(), d.qw, 0.0f,
              io.output(0).f32(), d.D);
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

size_t attentionWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  int64_t rows = d.B * d.T;
  return bytesOf({rows * d.qw, rows * d.kw, rows * d.kw, rows * d.qw, d.B * d.H * d.T, rows * d.qw});
}

// The backend whose allocator keeps the RoPE tables (set at registration).
Allocator *gAllocator = nullptr;

Status attention(ExecContext &c, const KernelParams &params, KernelIO &io) {
  Dims d = dimsOf(io.input(X).shape(), attn(params));
  int64_t rows = d.B * d.T;
  if (io.workspaceBytes < attentionWorkspace(params, {&io.input(X).shape()}))
    return internalError("attention: workspace too small");
  Carve w{static_cast<char *>(io.workspace)};
  float *q = w.take(rows * d.qw), *k = w.take(rows * d.kw), *v = w.take(rows * d.kw),
        *a = w.take(rows * d.qw), *lse = w.take(d.B * d.H * d.T), *gated = w.take(rows * d.qw);
  return forward(cudaContext(c), *gAllocator, io, attn(params), q, k, v, a, lse, gated);
}

size_t attentionTrainWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  return bytesOf({d.B * d.T * d.qw});
}

// attention.train -> (y, q, k, v, a, lse)
Status attentionTrain(ExecContext &c, const KernelParams &params, KernelIO &io) {
  Dims d = dimsOf(io.input(X).shape(), attn(params));
  if (io.workspaceBytes < attentionTrainWorkspace(params, {&io.input(X).shape()}))
    return internalError("attention.train: workspace too small");
  float *gated = static_cast<float *>(io.workspace);
  (void)d;
  return forward(cudaContext(c), *gAllocator, io, attn(params), io.output(1).f32(), io.output(2).f32(),
                 io.output(3).f32(), io.output(4).f32(), io.output(5).f32(), gated);
}
} // namespace

void shear::rt::cuda::setAttentionAllocator(Allocator &allocator) { gAllocator = &allocator; }

void shear::rt::cuda::registerAttention(const Define &define) {
  define(KernelId::Attention, {attention, attentionWorkspace});
  define(KernelId::AttentionTrain, {attentionTrain, attentionTrainWorkspace});
}
