//===- TensorCoreAttention.cu - the attention core of bf16 calls on tensor cores
//
// The causal attention core of a bf16 program's attention(.train) and
// attention.bwd, with its products on tensor cores through CUDA's warp
// matrix functions (16x16x16 bf16 fragments, float32 accumulation): q, k
// and v (after RoPE) and the cotangent are rounded to bf16, as bf16
// autocast holds them. Each warp owns 16 rows; scores go through shared
// memory (a fragment's element order is not specified), where the softmax
// is taken per row.
//
// The forward takes two passes over the keys: the first finds each row's
// maximum and sum (the log-sum-exp), the second accumulates P v with P =
// exp(s - lse) already normalised. That costs one more q kᵀ per tile than
// an online softmax but keeps the output in accumulator fragments, which
// would otherwise need rescaling element by element. The backward is
// FlashAttention-2's: dq per query tile, dk and dv per key tile (summed over
// the heads of its kv group), P rebuilt from the log-sum-exp; no atomics,
// every sum in a fixed order, so results are deterministic.
//
// Head dims that are multiples of 16 up to 128 (check-device takes 16;
// LLaMA's are 64 and 128); SHEAR_CUDA_ATTENTION=tiled or naive selects the
// float32 kernels instead.
//
//===----------------------------------------------------------------------===//
#include "TensorCoreAttention.h"
#include "FlashAttention.h"

#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;
using namespace nvcuda;

namespace {
using bf16 = __nv_bfloat16;
constexpr int kKeys = 32;     // rows of the streamed side per shared tile
constexpr unsigned kFull = 0xffffffffu;

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragBRow = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragBCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

/// rows × HD of a [.., stride] bf16 layout from row `first` (of T) into
/// tile (zeros past T).
template <int HD>
__device__ void loadRows(bf16 *tile, const bf16 *src, int64_t first, int64_t T, int rows, int64_t stride) {
  for (int idx = threadIdx.x; idx < rows * HD; idx += blockDim.x) {
    int r = idx / HD, e = idx % HD;
    int64_t row = first + r;
    tile[idx] = row < T ? src[row * stride + e] : __float2bfloat16_rn(0.0f);
  }
}

/// out[16][kKeys] = A (16 × HD, row-major at a, leading dim HD) times Bᵀ
/// for B the kKeys × HD rows at b: scores of one warp's rows.
template <int HD> __device__ void rowsTimesRowsT(const bf16 *a, const bf16 *b, float *out) {
  for (int n = 0; n < kKeys / 16; ++n) {
    FragC acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int kk = 0; kk < HD / 16; ++kk) {
      FragA fa;
      FragBCol fb;
      wmma::load_matrix_sync(fa, a + kk * 16, HD);
      wmma::load_matrix_sync(fb, b + n * 16 * HD + kk * 16, HD);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(out + n * 16, acc, kKeys, wmma::mem_row_major);
  }
}

/// acc[n] += P (16 × kKeys bf16 at p) times the kKeys × HD rows at v.
template <int HD> __device__ void accumulate(FragC *acc, const bf16 *p, const bf16 *v) {
  for (int kk = 0; kk < kKeys / 16; ++kk) {
    FragA fp;
    wmma::load_matrix_sync(fp, p + kk * 16, kKeys);
    for (int n = 0; n < HD / 16; ++n) {
      FragBRow fv;
      wmma::load_matrix_sync(fv, v + kk * 16 * HD + n * 16, HD);
      wmma::mma_sync(acc[n], fp, fv, acc[n]);
    }
  }
}

/// Writes a warp's 16 × HD accumulators to rows first.. of dst [.., stride]
/// (rows past T skipped), through `stage` (16 × kKeys floats).
template <int HD>
__device__ void storeRows(const FragC *acc, float *stage, float *dst, int64_t first, int64_t T, int64_t stride) {
  int lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
  for (int n = 0; n < HD / 16; ++n) {
    __syncwarp();
    wmma::store_matrix_sync(stage, acc[n], kKeys, wmma::mem_row_major);
    __syncwarp();
    if (first + r < T)
      for (int c = half * 8; c < half * 8 + 8; ++c)
        dst[(first + r) * stride + n * 16 + c] = stage[r * kKeys + c];
  }
  __syncwarp();
}

// ---- Forward: block (64 queries, b·H + h), 4 warps ------------------------

constexpr int kForwardWarps = 4;

template <int HD>
__global__ void __launch_bounds__(32 * kForwardWarps)
    forwardKernel(const bf16 *q, const bf16 *k, const bf16 *v, float *a, float *lse, int64_t T, int64_t H,
                  int64_t per, int64_t qw, int64_t kw, float scale) {
  constexpr int kRows = 16 * kForwardWarps;
  __shared__ __align__(32) bf16 qs[kRows * HD];
  __shared__ __align__(32) bf16 ks[kKeys * HD];
  __shared__ __align__(32) bf16 vs[kKeys * HD];
  __shared__ __align__(32) float scores[kForwardWarps * 16 * kKeys];
  __shared__ __align__(32) bf16 probs[kForwardWarps * 16 * kKeys];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
  const int64_t bh = blockIdx.y, b = bh / H, h = bh % H, g = h / per, q0 = int64_t(blockIdx.x) * kRows;
  const int64_t i = q0 + warp * 16 + r; // this lane's query (two lanes a row)
  float *sw = scores + warp * 16 * kKeys;
  bf16 *pw = probs + warp * 16 * kKeys;
  loadRows<HD>(qs, q + b * T * qw + h * HD, q0, T, kRows, qw);
  const int64_t last = q0 + kRows - 1 < T - 1 ? q0 + kRows - 1 : T - 1;
  const bf16 *kb = k + b * T * kw + g * HD, *vb = v + b * T * kw + g * HD;

  // Pass 1: each row's maximum and sum of exp over its causal prefix.
  float m = -INFINITY, l = 0.0f;
  for (int64_t j0 = 0; j0 <= last; j0 += kKeys) {
    __syncthreads();
    loadRows<HD>(ks, kb, j0, T, kKeys, kw);
    __syncthreads();
    rowsTimesRowsT<HD>(qs + warp * 16 * HD, ks, sw);
    __syncwarp();
    float tileMax = -INFINITY;
    for (int c = half * 16; c < half * 16 + 16; ++c)
      if (j0 + c <= i && j0 + c < T)
        tileMax = fmaxf(tileMax, sw[r * kKeys + c] * scale);
    tileMax = fmaxf(tileMax, __shfl_xor_sync(kFull, tileMax, 1));
    float mNew = fmaxf(m, tileMax), sum = 0.0f;
    if (mNew != -INFINITY)
      for (int c = half * 16; c < half * 16 + 16; ++c)
        if (j0 + c <= i && j0 + c < T)
          sum += expf(sw[r * kKeys + c] * scale - mNew);
    sum += __shfl_xor_sync(kFull, sum, 1);
    if (mNew != -INFINITY) {
      l = (m == -INFINITY ? 0.0f : l * expf(m - mNew)) + sum;
      m = mNew;
    }
    __syncwarp();
  }
  const float rowLse = m + logf(l);

  // Pass 2: a = Σ_j exp(s_ij − lse_i) v_j.
  FragC acc[HD / 16];
  for (int n = 0; n < HD / 16; ++n)
    wmma::fill_fragment(acc[n], 0.0f);
  for (int64_t j0 = 0; j0 <= last; j0 += kKeys) {
    __syncthreads();
    loadRows<HD>(ks, kb, j0, T, kKeys, kw);
    loadRows<HD>(vs, vb, j0, T, kKeys, kw);
    __syncthreads();
    rowsTimesRowsT<HD>(qs + warp * 16 * HD, ks, sw);
    __syncwarp();
    for (int c = half * 16; c < half * 16 + 16; ++c) {
      bool on = i < T && j0 + c <= i && j0 + c < T;
      pw[r * kKeys + c] = __float2bfloat16_rn(on ? expf(sw[r * kKeys + c] * scale - rowLse) : 0.0f);
    }
    __syncwarp();
    accumulate<HD>(acc, pw, vs);
  }
  storeRows<HD>(acc, sw, a + b * T * qw + h * HD, q0 + warp * 16, T, qw);
  if (half == 0 && i < T)
    lse[bh * T + i] = rowLse;
}

// ---- Backward: dq per (32 queries, b·H + h), 2 warps ------------------------

constexpr int kBackwardWarps = 2;

template <int HD>
__global__ void __launch_bounds__(32 * kBackwardWarps)
    dqKernel(const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *da, const float *lse, const float *delta,
             float *dq, int64_t T, int64_t H, int64_t per, int64_t qw, int64_t kw, float scale) {
  constexpr int kRows = 16 * kBackwardWarps;
  __shared__ __align__(32) bf16 qs[kRows * HD];
  __shared__ __align__(32) bf16 das[kRows * HD];
  __shared__ __align__(32) bf16 ks[kKeys * HD];
  __shared__ __align__(32) bf16 vs[kKeys * HD];
  __shared__ __align__(32) float scores[kBackwardWarps * 16 * kKeys];
  __shared__ __align__(32) float dps[kBackwardWarps * 16 * kKeys];
  __shared__ __align__(32) bf16 dss[kBackwardWarps * 16 * kKeys];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
  const int64_t bh = blockIdx.y, b = bh / H, h = bh % H, g = h / per, q0 = int64_t(blockIdx.x) * kRows;
  const int64_t i = q0 + warp * 16 + r;
  float *sw = scores + warp * 16 * kKeys, *dpw = dps + warp * 16 * kKeys;
  bf16 *dsw = dss + warp * 16 * kKeys;
  loadRows<HD>(qs, q + b * T * qw + h * HD, q0, T, kRows, qw);
  loadRows<HD>(das, da + b * T * qw + h * HD, q0, T, kRows, qw);
  const float li = i < T ? lse[bh * T + i] : 0.0f, di = i < T ? delta[(b * T + i) * H + h] : 0.0f;
  const int64_t last = q0 + kRows - 1 < T - 1 ? q0 + kRows - 1 : T - 1;
  const bf16 *kb = k + b * T * kw + g * HD, *vb = v + b * T * kw + g * HD;
  FragC acc[HD / 16];
  for (int n = 0; n < HD / 16; ++n)
    wmma::fill_fragment(acc[n], 0.0f);
  for (int64_t j0 = 0; j0 <= last; j0 += kKeys) {
    __syncthreads();
    loadRows<HD>(ks, kb, j0, T, kKeys, kw);
    loadRows<HD>(vs, vb, j0, T, kKeys, kw);
    __syncthreads();
    rowsTimesRowsT<HD>(qs + warp * 16 * HD, ks, sw);   // s = q kᵀ
    rowsTimesRowsT<HD>(das + warp * 16 * HD, vs, dpw); // dp = da vᵀ
    __syncwarp();
    for (int c = half * 16; c < half * 16 + 16; ++c) {
      bool on = i < T && j0 + c <= i && j0 + c < T;
      float p = on ? expf(sw[r * kKeys + c] * scale - li) : 0.0f;
      dsw[r * kKeys + c] = __float2bfloat16_rn(on ? p * (dpw[r * kKeys + c] - di) * scale : 0.0f);
    }
    __syncwarp();
    accumulate<HD>(acc, dsw, ks); // dq += ds k
  }
  storeRows<HD>(acc, sw, dq + b * T * qw + h * HD, q0 + warp * 16, T, qw);
}

// ---- Backward: dk, dv per (32 keys, b·G + g), 2 warps, over the group's heads

template <int HD>
__global__ void __launch_bounds__(32 * kBackwardWarps)
    dkvKernel(const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *da, const float *lse, const float *delta,
              float *dk, float *dv, int64_t T, int64_t H, int64_t G, int64_t per, int64_t qw, int64_t kw,
              float scale) {
  constexpr int kRows = 16 * kBackwardWarps; // keys of the block
  __shared__ __align__(32) bf16 ks[kRows * HD];
  __shared__ __align__(32) bf16 vs[kRows * HD];
  __shared__ __align__(32) bf16 qs[kKeys * HD];
  __shared__ __align__(32) bf16 das[kKeys * HD];
  __shared__ __align__(32) float st[kBackwardWarps * 16 * kKeys];
  __shared__ __align__(32) float dpt[kBackwardWarps * 16 * kKeys];
  __shared__ __align__(32) bf16 pt[kBackwardWarps * 16 * kKeys];
  __shared__ __align__(32) bf16 dst[kBackwardWarps * 16 * kKeys];
  __shared__ float lses[kKeys], deltas[kKeys];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
  const int64_t bg = blockIdx.y, b = bg / G, g = bg % G, k0 = int64_t(blockIdx.x) * kRows;
  const int64_t j = k0 + warp * 16 + r; // this lane's key
  float *sw = st + warp * 16 * kKeys, *dpw = dpt + warp * 16 * kKeys;
  bf16 *pw = pt + warp * 16 * kKeys, *dsw = dst + warp * 16 * kKeys;
  loadRows<HD>(ks, k + b * T * kw + g * HD, k0, T, kRows, kw);
  loadRows<HD>(vs, v + b * T * kw + g * HD, k0, T, kRows, kw);
  FragC dkAcc[HD / 16], dvAcc[HD / 16];
  for (int n = 0; n < HD / 16; ++n) {
    wmma::fill_fragment(dkAcc[n], 0.0f);
    wmma::fill_fragment(dvAcc[n], 0.0f);
  }
  for (int64_t h = g * per; h < (g + 1) * per; ++h)
    for (int64_t i0 = k0; i0 < T; i0 += kKeys) { // queries before k0 see none of these keys
      __syncthreads();
      loadRows<HD>(qs, q + b * T * qw + h * HD, i0, T, kKeys, qw);
      loadRows<HD>(das, da + b * T * qw + h * HD, i0, T, kKeys, qw);
      for (int c = threadIdx.x; c < kKeys; c += blockDim.x) {
        int64_t i = i0 + c;
        lses[c] = i < T ? lse[(b * H + h) * T + i] : 0.0f;
        deltas[c] = i < T ? delta[(b * T + i) * H + h] : 0.0f;
      }
      __syncthreads();
      rowsTimesRowsT<HD>(ks + warp * 16 * HD, qs, sw);   // sᵀ = k qᵀ
      rowsTimesRowsT<HD>(vs + warp * 16 * HD, das, dpw); // dpᵀ = v daᵀ
      __syncwarp();
      for (int c = half * 16; c < half * 16 + 16; ++c) {
        int64_t i = i0 + c;
        bool on = j < T && i < T && i >= j;
        float p = on ? expf(sw[r * kKeys + c] * scale - lses[c]) : 0.0f;
        pw[r * kKeys + c] = __float2bfloat16_rn(p);
        dsw[r * kKeys + c] = __float2bfloat16_rn(on ? p * (dpw[r * kKeys + c] - deltas[c]) * scale : 0.0f);
      }
      __syncwarp();
      accumulate<HD>(dvAcc, pw, das); // dv += pᵀ da
      accumulate<HD>(dkAcc, dsw, qs); // dk += dsᵀ q
    }
  storeRows<HD>(dkAcc, sw, dk + b * T * kw + g * HD, k0 + warp * 16, T, kw);
  storeRows<HD>(dvAcc, sw, dv + b * T * kw + g * HD, k0 + warp * 16, T, kw);
}

bool selectedByEnv() {
  static const bool on = [] {
    const char *env = std::getenv("SHEAR_CUDA_ATTENTION");
    return !env || (std::strcmp(env, "naive") != 0 && std::strcmp(env, "tiled") != 0);
  }();
  return on;
}

dim3 gridFor(int64_t T, int rows, int64_t heads) {
  return dim3(static_cast<unsigned>((T + rows - 1) / rows), static_cast<unsigned>(heads));
}

template <int HD>
Status forwardFor(CudaContext &ctx, const void *q, const void *k, const void *v, float *a, float *lse, int64_t B,
                  int64_t T, int64_t H, int64_t G, float scale) {
  forwardKernel<HD><<<gridFor(T, 16 * kForwardWarps, B * H), 32 * kForwardWarps, 0, ctx.stream>>>(
      static_cast<const bf16 *>(q), static_cast<const bf16 *>(k), static_cast<const bf16 *>(v), a, lse, T, H, H / G,
      H * HD, G * HD, scale);
  return launched("attention (tensor cores)");
}

template <int HD>
Status backwardFor(CudaContext &ctx, const void *q, const void *k, const void *v, const void *da, const float *lse,
                   const float *delta, float *dq, float *dk, float *dv, int64_t B, int64_t T, int64_t H, int64_t G,
                   float scale) {
  auto *qb = static_cast<const bf16 *>(q), *kb = static_cast<const bf16 *>(k), *vb = static_cast<const bf16 *>(v),
       *dab = static_cast<const bf16 *>(da);
  dqKernel<HD><<<gridFor(T, 16 * kBackwardWarps, B * H), 32 * kBackwardWarps, 0, ctx.stream>>>(
      qb, kb, vb, dab, lse, delta, dq, T, H, H / G, H * HD, G * HD, scale);
  dkvKernel<HD><<<gridFor(T, 16 * kBackwardWarps, B * G), 32 * kBackwardWarps, 0, ctx.stream>>>(
      qb, kb, vb, dab, lse, delta, dk, dv, T, H, G, H / G, H * HD, G * HD, scale);
  return launched("attention.bwd (tensor cores)");
}
} // namespace

bool shear::rt::cuda::tensorCoreAttentionTakes(int64_t hd, int64_t heads) {
  return selectedByEnv() && hd >= 16 && hd <= 128 && hd % 16 == 0 && heads <= 65535;
}

Status shear::rt::cuda::tensorCoreForward(CudaContext &ctx, const void *q, const void *k, const void *v, float *a,
                                          float *lse, int64_t B, int64_t T, int64_t H, int64_t G, int64_t hd,
                                          float scale) {
  if (B == 0 || T == 0)
    return Status();
  switch (hd) {
  case 16: return forwardFor<16>(ctx, q, k, v, a, lse, B, T, H, G, scale);
  case 32: return forwardFor<32>(ctx, q, k, v, a, lse, B, T, H, G, scale);
  case 48: return forwardFor<48>(ctx, q, k, v, a, lse, B, T, H, G, scale);
  case 64: return forwardFor<64>(ctx, q, k, v, a, lse, B, T, H, G, scale);
  case 80: return forwardFor<80>(ctx, q, k, v, a, lse, B, T, H, G, scale);
  case 96: return forwardFor<96>(ctx, q, k, v, a, lse, B, T, H, G, scale);
  case 112: return forwardFor<112>(ctx, q, k, v, a, lse, B, T, H, G, scale);
  case 128: return forwardFor<128>(ctx, q, k, v, a, lse, B, T, H, G, scale);
  }
  return internalError("attention: no tensor-core kernel for head_dim " + std::to_string(hd));
}

Status shear::rt::cuda::tensorCoreBackward(CudaContext &ctx, const void *q, const void *k, const void *v,
                                           const void *da, const float *lse, const float *delta, float *dq,
                                           float *dk, float *dv, int64_t B, int64_t T, int64_t H, int64_t G,
                                           int64_t hd, float scale) {
  if (B == 0 || T == 0)
    return Status();
  switch (hd) {
  case 16: return backwardFor<16>(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, scale);
  case 32: return backwardFor<32>(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, scale);
  case 48: return backwardFor<48>(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, scale);
  case 64: return backwardFor<64>(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, scale);
  case 80: return backwardFor<80>(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, scale);
  case 96: return backwardFor<96>(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, scale);
  case 112: return backwardFor<112>(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, scale);
  case 128: return backwardFor<128>(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, scale);
  }
  return internalError("attention.bwd: no tensor-core kernel for head_dim " + std::to_string(hd));
}

// ---- Timing the core alone (bench/attention_bench.sh) ----------------------

namespace {
/// x[i] = a bf16 value in [-scale, scale) from a hash of (seed, i).
__global__ void randomKernel(bf16 *x, float *f, int64_t n, uint32_t seed, float scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = seed ^ static_cast<uint32_t>(i * 2654435761u);
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    bf16 v = __float2bfloat16_rn(scale * (static_cast<float>(h >> 8) / 8388608.0f - 1.0f));
    x[i] = v;
    f[i] = __bfloat162float(v);
  }
}

/// delta[r, h] = Σ_e da · a over head h's elements (the backward's input).
__global__ void deltaKernel(const float *da, const float *a, float *delta, int64_t rows, int64_t H, int64_t hd) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < rows * H; t += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int64_t e = 0; e < hd; ++e)
      s += da[t * hd + e] * a[t * hd + e];
    delta[t] = s;
  }
}

struct Arrays {
  std::vector<Tensor> keep;
  Status status;
  template <class T> T *take(Allocator &alloc, int64_t n, DType type) {
    auto t = Tensor::allocate(alloc, {std::max<int64_t>(n, 1)}, type);
    if (!t.ok()) {
      if (status.ok())
        status = t.status();
      return nullptr;
    }
    keep.push_back(t.take());
    return static_cast<T *>(keep.back().data());
  }
};

Result<std::vector<float>> hostCopy(CudaContext &ctx, const float *p, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemcpyAsync(v.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream),
                                  "attention timing"));
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaStreamSynchronize(ctx.stream), "attention timing"));
  return v;
}

double relativeDifference(const std::vector<float> &a, const std::vector<float> &b) {
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::isfinite(a[i]) ? double(std::fabs(a[i] - b[i])) : INFINITY);
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return diff / scale;
}
} // namespace

Result<Backend::AttentionCoreTiming> shear::rt::cuda::timeAttentionCore(CudaContext &ctx, Allocator &alloc, int64_t B,
                                                                       int64_t T, int64_t H, int64_t G, int64_t hd,
                                                                       int iters) {
  if (B < 1 || T < 1 || H < 1 || G < 1 || H % G != 0 || hd < 4 || hd % 4 != 0 || hd > 256 || iters < 1)
    return invalidInput("attention timing: want B, T, H, G >= 1 with G dividing H, a head dim that is a multiple "
                        "of 4 up to 256, and iterations >= 1");
  const bool tc = tensorCoreAttentionTakes(hd, B * H);
  if (!tc && !flashAttentionTakes(hd))
    return invalidInput("attention timing: SHEAR_CUDA_ATTENTION=naive has no core to time on its own");
  int64_t rows = B * T, qn = rows * H * hd, kn = rows * G * hd;
  Arrays m;
  // (bf16 here is CudaBackend.h's operand helper: the type is spelled out.)
  using Bf16 = __nv_bfloat16;
  Bf16 *q16 = m.take<Bf16>(alloc, qn, DType::BF16), *k16 = m.take<Bf16>(alloc, kn, DType::BF16),
       *v16 = m.take<Bf16>(alloc, kn, DType::BF16), *da16 = m.take<Bf16>(alloc, qn, DType::BF16);
  float *q = m.take<float>(alloc, qn, DType::F32), *k = m.take<float>(alloc, kn, DType::F32),
        *v = m.take<float>(alloc, kn, DType::F32), *da = m.take<float>(alloc, qn, DType::F32);
  float *a = m.take<float>(alloc, qn, DType::F32), *aRef = m.take<float>(alloc, qn, DType::F32);
  float *lse = m.take<float>(alloc, B * H * T, DType::F32), *lseRef = m.take<float>(alloc, B * H * T, DType::F32);
  float *delta = m.take<float>(alloc, rows * H, DType::F32);
  float *dq = m.take<float>(alloc, qn, DType::F32), *dk = m.take<float>(alloc, kn, DType::F32),
        *dv = m.take<float>(alloc, kn, DType::F32);
  float *dqRef = m.take<float>(alloc, qn, DType::F32), *dkRef = m.take<float>(alloc, kn, DType::F32),
        *dvRef = m.take<float>(alloc, kn, DType::F32);
  if (!m.status.ok())
    return m.status.prefixed("attention timing: ");
  randomKernel<<<blocksFor(qn), 256, 0, ctx.stream>>>(q16, q, qn, 1u, 1.0f);
  randomKernel<<<blocksFor(kn), 256, 0, ctx.stream>>>(k16, k, kn, 2u, 1.0f);
  randomKernel<<<blocksFor(kn), 256, 0, ctx.stream>>>(v16, v, kn, 3u, 1.0f);
  randomKernel<<<blocksFor(qn), 256, 0, ctx.stream>>>(da16, da, qn, 4u, 0.1f);
  SHEAR_RETURN_IF_ERROR(launched("attention timing (inputs)"));
  float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto forward = [&]() -> Status {
    if (tc)
      return tensorCoreForward(ctx, q16, k16, v16, a, lse, B, T, H, G, hd, scale);
    return flashForward(ctx, q, k, v, a, lse, B, T, H, G, hd, scale);
  };
  auto backward = [&]() -> Status {
    if (tc)
      return tensorCoreBackward(ctx, q16, k16, v16, da16, lse, delta, dq, dk, dv, B, T, H, G, hd, scale);
    return flashBackward(ctx, q, k, v, da, lse, delta, dq, dk, dv, B, T, H, G, hd, scale);
  };
  // The check: the same inputs (bf16 values) through the float32 core.
  SHEAR_RETURN_IF_ERROR(forward());
  SHEAR_RETURN_IF_ERROR(flashForward(ctx, q, k, v, aRef, lseRef, B, T, H, G, hd, scale));
  deltaKernel<<<blocksFor(rows * H), 256, 0, ctx.stream>>>(da, aRef, delta, rows, H, hd);
  SHEAR_RETURN_IF_ERROR(launched("attention timing (delta)"));
  SHEAR_RETURN_IF_ERROR(backward());
  SHEAR_RETURN_IF_ERROR(flashBackward(ctx, q, k, v, da, lseRef, delta, dqRef, dkRef, dvRef, B, T, H, G, hd, scale));
  Backend::AttentionCoreTiming timing;
  timing.kernel = tc ? "tensor cores, bf16 (TensorCoreAttention.cu)" : "CUDA cores, float32 (FlashAttention.cu)";
  std::pair<const float *, const float *> pairs[] = {{a, aRef}, {dq, dqRef}, {dk, dkRef}, {dv, dvRef}};
  int64_t counts[] = {qn, qn, kn, kn};
  for (int i = 0; i < 4; ++i) {
    auto got = hostCopy(ctx, pairs[i].first, counts[i]);
    auto want = hostCopy(ctx, pairs[i].second, counts[i]);
    if (!got.ok() || !want.ok())
      return !got.ok() ? got.status() : want.status();
    timing.maxError = std::max(timing.maxError, relativeDifference(*got, *want));
  }
  // The timing: the best of `iters` calls of each, after a warm-up call.
  cudaEvent_t start, stop;
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaEventCreate(&start), "attention timing"));
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaEventCreate(&stop), "attention timing"));
  auto best = [&](const std::function<Status()> &call, double &ms) -> Status {
    SHEAR_RETURN_IF_ERROR(call());
    ms = INFINITY;
    for (int i = 0; i < iters; ++i) {
      cudaEventRecord(start, ctx.stream);
      SHEAR_RETURN_IF_ERROR(call());
      cudaEventRecord(stop, ctx.stream);
      SHEAR_RETURN_IF_ERROR(cudaCheck(cudaEventSynchronize(stop), "attention timing"));
      float t = 0;
      cudaEventElapsedTime(&t, start, stop);
      ms = std::min(ms, double(t));
    }
    return Status();
  };
  Status f = best(forward, timing.forwardMs);
  Status b = f.ok() ? best(backward, timing.backwardMs) : Status();
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  SHEAR_RETURN_IF_ERROR(f);
  SHEAR_RETURN_IF_ERROR(b);
  return timing;
}
