//===- FlashAttention.cu - the attention core in tiles (forward, backward) ===//
//
// The causal attention core of attention(.train) and attention.bwd, tiled as
// FlashAttention-2 does it: a block owns a tile of rows (queries in the
// forward and for dq, keys for dk and dv) and streams the other side through
// shared memory a tile at a time, so each K/V (or Q/dA) row is read from
// global memory once per tile instead of once per row. Four threads share a
// row, each holding every fourth element of it in registers (threads of a
// row read different shared-memory banks); dot products are summed across
// the four with shuffles. The softmax is online in the forward, rebuilt from
// the log-sum-exp in the backward. Every sum runs in a fixed order and
// nothing is accumulated with atomics: the results are deterministic.
// float32 arithmetic on CUDA cores; tensor cores are the next step (issue 9).
//
// The row-per-warp kernels in Attention.cu are the reference these replace;
// SHEAR_CUDA_ATTENTION=naive selects them (head dims that are not a multiple
// of 4 always use them).
//
//===----------------------------------------------------------------------===//
#include "FlashAttention.h"

#include <cstdlib>
#include <cstring>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
constexpr int kRowTile = 64;      // rows a block owns
constexpr int kThreads = 4 * kRowTile;
constexpr int kParts = 4;         // threads per row

/// Rows of the streamed side per shared-memory tile: two tiles of
/// kStreamTile × 4·kSlice floats stay under 48 KiB.
template <int kSlice> struct StreamTile {
  static constexpr int value = kSlice >= 64 ? 16 : 32;
};

/// Sum over the four threads of a row (lanes 4r .. 4r+3 of a warp).
__device__ inline float rowSum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  v += __shfl_xor_sync(0xffffffffu, v, 2);
  return v;
}

/// Copies `rows` rows (from `first`, of `T`) of a [.., stride] layout at
/// column `col` into tile[rows][hd] (zeros past T).
__device__ inline void loadTile(float *tile, const float *src, int64_t first, int64_t T, int rows, int64_t stride,
                                int64_t col, int hd) {
  for (int idx = threadIdx.x; idx < rows * hd; idx += blockDim.x) {
    int r = idx / hd, e = idx % hd;
    int64_t row = first + r;
    tile[r * hd + e] = row < T ? src[row * stride + col + e] : 0.0f;
  }
}

// Block (tile of 64 queries, b·H + h): a = softmax(q kᵀ · scale) v over the
// causal prefix, lse = m + log l.
template <int kSlice>
__global__ void __launch_bounds__(kThreads) forwardKernel(const float *q, const float *k, const float *v, float *a,
                                                          float *lse, int64_t T, int64_t H, int64_t per, int hd,
                                                          int64_t qw, int64_t kw, float scale) {
  constexpr int kTile = StreamTile<kSlice>::value;
  __shared__ float ks[kTile * 4 * kSlice], vs[kTile * 4 * kSlice];
  int64_t bh = blockIdx.y, b = bh / H, h = bh % H, g = h / per;
  int row = threadIdx.x / kParts, part = threadIdx.x % kParts, slice = hd / kParts;
  int64_t q0 = int64_t(blockIdx.x) * kRowTile, i = q0 + row;
  float qv[kSlice], acc[kSlice];
  const float *qi = q + (b * T + (i < T ? i : T - 1)) * qw + h * hd;
#pragma unroll
  for (int t = 0; t < kSlice; ++t) {
    qv[t] = t < slice ? qi[part + kParts * t] : 0.0f;
    acc[t] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  int64_t last = q0 + kRowTile - 1 < T - 1 ? q0 + kRowTile - 1 : T - 1;
  for (int64_t j0 = 0; j0 <= last; j0 += kTile) {
    __syncthreads();
    loadTile(ks, k + b * T * kw, j0, T, kTile, kw, g * hd, hd);
    loadTile(vs, v + b * T * kw, j0, T, kTile, kw, g * hd, hd);
    __syncthreads();
    for (int jj = 0; jj < kTile; ++jj) {
      int64_t j = j0 + jj;
      float s = 0.0f;
#pragma unroll
      for (int t = 0; t < kSlice; ++t)
        if (t < slice)
          s += qv[t] * ks[jj * hd + part + kParts * t];
      s = rowSum(s) * scale;
      if (j > i || j >= T)
        continue; // uniform across the row's four threads (the shuffles are done)
      float mNew = fmaxf(m, s), corr = expf(m - mNew), w = expf(s - mNew);
      l = l * corr + w;
#pragma unroll
      for (int t = 0; t < kSlice; ++t)
        if (t < slice)
          acc[t] = acc[t] * corr + w * vs[jj * hd + part + kParts * t];
      m = mNew;
    }
  }
  if (i >= T)
    return;
  float *out = a + (b * T + i) * qw + h * hd;
#pragma unroll
  for (int t = 0; t < kSlice; ++t)
    if (t < slice)
      out[part + kParts * t] = acc[t] / l;
  if (part == 0)
    lse[bh * T + i] = m + logf(l);
}

// Block (tile of 64 queries, b·H + h): dq_i = Σ_{j ≤ i} ds_ij k_j with
// p_ij = exp(s_ij − lse_i), ds_ij = p_ij (da_i·v_j − delta_i) · scale.
template <int kSlice>
__global__ void __launch_bounds__(kThreads) dqKernel(const float *q, const float *k, const float *v, const float *da,
                                                     const float *lse, const float *delta, float *dq, int64_t T,
                                                     int64_t H, int64_t per, int hd, int64_t qw, int64_t kw,
                                                     float scale) {
  constexpr int kTile = StreamTile<kSlice>::value;
  __shared__ float ks[kTile * 4 * kSlice], vs[kTile * 4 * kSlice];
  int64_t bh = blockIdx.y, b = bh / H, h = bh % H, g = h / per;
  int row = threadIdx.x / kParts, part = threadIdx.x % kParts, slice = hd / kParts;
  int64_t q0 = int64_t(blockIdx.x) * kRowTile, i = q0 + row, ic = i < T ? i : T - 1;
  const float *qi = q + (b * T + ic) * qw + h * hd, *dai = da + (b * T + ic) * qw + h * hd;
  float qv[kSlice], dav[kSlice], acc[kSlice];
#pragma unroll
  for (int t = 0; t < kSlice; ++t) {
    qv[t] = t < slice ? qi[part + kParts * t] : 0.0f;
    dav[t] = t < slice ? dai[part + kParts * t] : 0.0f;
    acc[t] = 0.0f;
  }
  float li = lse[bh * T + ic], del = delta[(b * T + ic) * H + h];
  int64_t last = q0 + kRowTile - 1 < T - 1 ? q0 + kRowTile - 1 : T - 1;
  for (int64_t j0 = 0; j0 <= last; j0 += kTile) {
    __syncthreads();
    loadTile(ks, k + b * T * kw, j0, T, kTile, kw, g * hd, hd);
    loadTile(vs, v + b * T * kw, j0, T, kTile, kw, g * hd, hd);
    __syncthreads();
    for (int jj = 0; jj < kTile; ++jj) {
      int64_t j = j0 + jj;
      float s = 0.0f, dpv = 0.0f;
#pragma unroll
      for (int t = 0; t < kSlice; ++t)
        if (t < slice) {
          s += qv[t] * ks[jj * hd + part + kParts * t];
          dpv += dav[t] * vs[jj * hd + part + kParts * t];
        }
      s = rowSum(s);
      dpv = rowSum(dpv);
      if (j > i || j >= T)
        continue;
      float p = expf(s * scale - li), ds = p * (dpv - del) * scale;
#pragma unroll
      for (int t = 0; t < kSlice; ++t)
        if (t < slice)
          acc[t] += ds * ks[jj * hd + part + kParts * t];
    }
  }
  if (i >= T)
    return;
  float *out = dq + (b * T + i) * qw + h * hd;
#pragma unroll
  for (int t = 0; t < kSlice; ++t)
    if (t < slice)
      out[part + kParts * t] = acc[t];
}

// Block (tile of 64 keys, b·G + g): over the group's heads h (in order) and
// the queries i ≥ j (in order), dk_j = Σ ds_ij q_i and dv_j = Σ p_ij da_i.
template <int kSlice>
__global__ void __launch_bounds__(kThreads) dkvKernel(const float *q, const float *k, const float *v, const float *da,
                                                      const float *lse, const float *delta, float *dk, float *dv,
                                                      int64_t T, int64_t H, int64_t G, int64_t per, int hd,
                                                      int64_t qw, int64_t kw, float scale) {
  constexpr int kTile = StreamTile<kSlice>::value;
  __shared__ float qs[kTile * 4 * kSlice], das[kTile * 4 * kSlice];
  __shared__ float lses[kTile], deltas[kTile];
  int64_t bg = blockIdx.y, b = bg / G, g = bg % G;
  int row = threadIdx.x / kParts, part = threadIdx.x % kParts, slice = hd / kParts;
  int64_t k0 = int64_t(blockIdx.x) * kRowTile, j = k0 + row, jc = j < T ? j : T - 1;
  const float *kj = k + (b * T + jc) * kw + g * hd, *vj = v + (b * T + jc) * kw + g * hd;
  float kv[kSlice], vv[kSlice], accK[kSlice], accV[kSlice];
#pragma unroll
  for (int t = 0; t < kSlice; ++t) {
    kv[t] = t < slice ? kj[part + kParts * t] : 0.0f;
    vv[t] = t < slice ? vj[part + kParts * t] : 0.0f;
    accK[t] = accV[t] = 0.0f;
  }
  for (int64_t h = g * per; h < (g + 1) * per; ++h)
    for (int64_t i0 = k0; i0 < T; i0 += kTile) { // queries before k0 see none of these keys
      __syncthreads();
      loadTile(qs, q + b * T * qw, i0, T, kTile, qw, h * hd, hd);
      loadTile(das, da + b * T * qw, i0, T, kTile, qw, h * hd, hd);
      for (int r = threadIdx.x; r < kTile; r += blockDim.x) {
        int64_t i = i0 + r;
        lses[r] = i < T ? lse[(b * H + h) * T + i] : 0.0f;
        deltas[r] = i < T ? delta[(b * T + i) * H + h] : 0.0f;
      }
      __syncthreads();
      for (int ii = 0; ii < kTile; ++ii) {
        int64_t i = i0 + ii;
        float s = 0.0f, dpv = 0.0f;
#pragma unroll
        for (int t = 0; t < kSlice; ++t)
          if (t < slice) {
            s += qs[ii * hd + part + kParts * t] * kv[t];
            dpv += das[ii * hd + part + kParts * t] * vv[t];
          }
        s = rowSum(s);
        dpv = rowSum(dpv);
        if (i < j || i >= T || j >= T)
          continue;
        float p = expf(s * scale - lses[ii]), ds = p * (dpv - deltas[ii]) * scale;
#pragma unroll
        for (int t = 0; t < kSlice; ++t)
          if (t < slice) {
            accK[t] += ds * qs[ii * hd + part + kParts * t];
            accV[t] += p * das[ii * hd + part + kParts * t];
          }
      }
    }
  if (j >= T)
    return;
#pragma unroll
  for (int t = 0; t < kSlice; ++t)
    if (t < slice) {
      dk[(b * T + j) * kw + g * hd + part + kParts * t] = accK[t];
      dv[(b * T + j) * kw + g * hd + part + kParts * t] = accV[t];
    }
}

template <int kSlice> constexpr size_t sharedBytes() { return 2 * StreamTile<kSlice>::value * 4 * kSlice * sizeof(float); }
static_assert(sharedBytes<64>() + 2 * 16 * sizeof(float) <= 48 * 1024, "tiles must fit in static shared memory");
static_assert(sharedBytes<32>() + 2 * 32 * sizeof(float) <= 48 * 1024, "tiles must fit in static shared memory");

/// The register slice (elements per thread) for head dim hd: the smallest
/// instantiated one that holds hd / 4.
int sliceFor(int64_t hd) {
  int64_t slice = hd / kParts;
  for (int s : {2, 4, 8, 16, 32})
    if (slice <= s)
      return s;
  return 64;
}

/// Runs LAUNCH<kSlice>(...) with the slice for hd.
#define SHEAR_WITH_SLICE(hd, LAUNCH, ...)                                                                  \
  switch (sliceFor(hd)) {                                                                                 \
  case 2: return LAUNCH<2>(__VA_ARGS__);                                                                  \
  case 4: return LAUNCH<4>(__VA_ARGS__);                                                                  \
  case 8: return LAUNCH<8>(__VA_ARGS__);                                                                  \
  case 16: return LAUNCH<16>(__VA_ARGS__);                                                                \
  case 32: return LAUNCH<32>(__VA_ARGS__);                                                                \
  default: return LAUNCH<64>(__VA_ARGS__);                                                                \
  }

dim3 gridFor(int64_t T, int64_t heads) {
  return dim3(static_cast<unsigned>((T + kRowTile - 1) / kRowTile), static_cast<unsigned>(heads));
}
template <int kSlice>
Status launchForward(CudaContext &ctx, const float *q, const float *k, const float *v, float *a, float *lse,
                     int64_t B, int64_t T, int64_t H, int64_t G, int64_t hd, float scale) {
  forwardKernel<kSlice><<<gridFor(T, B * H), kThreads, 0, ctx.stream>>>(
      q, k, v, a, lse, T, H, H / G, static_cast<int>(hd), H * hd, G * hd, scale);
  return launched("attention (tiled)");
}

template <int kSlice>
Status launchBackward(CudaContext &ctx, const float *q, const float *k, const float *v, const float *da,
                      const float *lse, const float *delta, float *dq, float *dk, float *dv, int64_t B, int64_t T,
                      int64_t H, int64_t G, int64_t hd, float scale) {
  dqKernel<kSlice><<<gridFor(T, B * H), kThreads, 0, ctx.stream>>>(q, k, v, da, lse, delta, dq, T, H, H / G,
                                                                  static_cast<int>(hd), H * hd, G * hd, scale);
  dkvKernel<kSlice><<<gridFor(T, B * G), kThreads, 0, ctx.stream>>>(q, k, v, da, lse, delta, dk, dv, T, H, G, H / G,
                                                                   static_cast<int>(hd), H * hd, G * hd, scale);
  return launched("attention.bwd (tiled)");
}
} // namespace

bool shear::rt::cuda::flashAttentionTakes(int64_t hd) {
  static const bool naive = [] {
    const char *env = std::getenv("SHEAR_CUDA_ATTENTION");
    return env && std::strcmp(env, "naive") == 0;
  }();
  return !naive && hd >= 4 && hd <= 256 && hd % kParts == 0;
}

Status shear::rt::cuda::flashForward(CudaContext &ctx, const float *q, const float *k, const float *v, float *a,
                                     float *lse, int64_t B, int64_t T, int64_t H, int64_t G, int64_t hd,
                                     float scale) {
  if (B == 0 || T == 0)
    return Status();
  if (B * H > 65535)
    return internalError("attention: too many heads for one launch");
  SHEAR_WITH_SLICE(hd, launchForward, ctx, q, k, v, a, lse, B, T, H, G, hd, scale)
}

Status shear::rt::cuda::flashBackward(CudaContext &ctx, const float *q, const float *k, const float *v,
                                      const float *da, const float *lse, const float *delta, float *dq, float *dk,
                                      float *dv, int64_t B, int64_t T, int64_t H, int64_t G, int64_t hd,
                                      float scale) {
  if (B == 0 || T == 0)
    return Status();
  if (B * H > 65535)
    return internalError("attention.bwd: too many heads for one launch");
  SHEAR_WITH_SLICE(hd, launchBackward, ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, hd, scale)
}
