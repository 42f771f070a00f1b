//===- Attention.cpp - causal self-attention with RoPE and GQA ------------===//
#include "Blas.h"
#include "CpuBackend.h"
#include "Rope.h"

#include <cmath>
#include <cstring>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

// attention(x [B, T, D], wq [H*hd, D], wk [G*hd, D], wv [G*hd, D], wo [D, H*hd]
//           [, head [H]] [, kv_group [G]]) -> y [B, T, D]
// Query head h reads kv head h / (H/G); its context is scaled by
// head[h] · kv_group[h / (H/G)] before o_proj.
//
// attention.train also returns q, k (after RoPE), v, the ungated per-head
// attention output a = softmax(q kᵀ/√hd) v, and the log-sum-exp of every
// score row, from which attention.bwd recomputes the probabilities instead of
// storing them.

namespace {
enum { X, Wq, Wk, Wv, Wo, Head, KvGroup };
// attention.bwd's operands after the forward ones, and attention.decode's.
enum { BY = 7, BQ, BK, BV, BA, BLse, BDy };
enum { KCache = 7, VCache, Pos };

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

/// One query row attending to `count` keys and values (rows of head_dim at a
/// stride): out = softmax(q·kᵀ·scale) v. Returns the log-sum-exp of the
/// scaled scores; `p` is scratch of at least `count` floats.
float attendRow(const float *q, const float *keys, const float *values, int64_t stride,
                int64_t count, int64_t hd, float scale, float *p, float *out) {
  // Dot products over head_dim may be summed in any order, so they vectorize.
#pragma clang fp reassociate(on)
  float mx = -INFINITY;
  for (int64_t j = 0; j < count; ++j) {
    const float *kj = keys + j * stride;
    float s = 0;
    for (int64_t e = 0; e < hd; ++e)
      s += q[e] * kj[e];
    p[j] = s * scale;
    mx = std::max(mx, p[j]);
  }
  float sum = 0;
  for (int64_t j = 0; j < count; ++j) {
    p[j] = std::exp(p[j] - mx);
    sum += p[j];
  }
  for (int64_t e = 0; e < hd; ++e)
    out[e] = 0;
  float inv = 1.0f / sum;
  for (int64_t j = 0; j < count; ++j) {
    const float *vj = values + j * stride;
    float w = p[j] * inv;
    for (int64_t e = 0; e < hd; ++e)
      out[e] += w * vj[e];
  }
  return mx + std::log(sum);
}

float headGate(const Tensor *zHead, const Tensor *zGroup, const Dims &d, int64_t h) {
  return (zHead ? zHead->f32()[h] : 1.0f) * (zGroup ? zGroup->f32()[h / d.per] : 1.0f);
}

// Projections, RoPE and the attention core into q, k, v, a, lse; a is ungated.
void forwardCore(CpuContext &ctx, const KernelIO &io, const AttentionParams &p, const Dims &d,
                 float *q, float *k, float *v, float *a, float *lse) {
  const Tensor &x = io.input(X), &wq = io.input(Wq), &wk = io.input(Wk), &wv = io.input(Wv);
  linear(x.f32(), wq.f32(), q, d.B * d.T, d.D, d.qw);
  linear(x.f32(), wk.f32(), k, d.B * d.T, d.D, d.kw);
  linear(x.f32(), wv.f32(), v, d.B * d.T, d.D, d.kw);
  RopeTables rope = ropeTables(p.rope, d.T);
  applyRope(ctx, q, d.B, d.T, d.H, d.hd, d.qw, rope);
  applyRope(ctx, k, d.B, d.T, d.G, d.hd, d.kw, rope);
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  ctx.parallelFor(d.B * d.H, [&](int64_t begin, int64_t end) {
    std::vector<float> pr(d.T);
    for (int64_t bh = begin; bh < end; ++bh) {
      int64_t b = bh / d.H, h = bh % d.H, g = h / d.per;
      for (int64_t i = 0; i < d.T; ++i)
        lse[bh * d.T + i] =
            attendRow(q + (b * d.T + i) * d.qw + h * d.hd, k + b * d.T * d.kw + g * d.hd,
                      v + b * d.T * d.kw + g * d.hd, d.kw, i + 1, d.hd, scale, pr.data(),
                      a + (b * d.T + i) * d.qw + h * d.hd);
    }
  });
}

// gated = a ⊙ gate (o_proj's input), then y = gated woᵀ.
void project(CpuContext &ctx, const KernelIO &io, const Dims &d, const float *a, float *gated,
             float *y) {
  const Tensor *zHead = io.optional(Head), *zGroup = io.optional(KvGroup);
  int64_t rows = d.B * d.T;
  ctx.parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t h = 0; h < d.H; ++h) {
        float gh = headGate(zHead, zGroup, d, h);
        for (int64_t e = 0; e < d.hd; ++e)
          gated[r * d.qw + h * d.hd + e] = a[r * d.qw + h * d.hd + e] * gh;
      }
  });
  if (y)
    linear(gated, io.input(Wo).f32(), y, rows, d.qw, d.D);
}

const AttentionParams &attn(const KernelParams &p) { return std::get<AttentionParams>(p); }

size_t attentionWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  int64_t rows = d.B * d.T;
  return Scratch::bytesFor({rows * d.qw, rows * d.kw, rows * d.kw, rows * d.qw, d.B * d.H * d.T,
                            rows * d.qw});
}

Status attention(ExecContext &context, const KernelParams &params, KernelIO &io) {
  CpuContext &ctx = cpuContext(context);
  Dims d = dimsOf(io.input(X).shape(), attn(params));
  int64_t rows = d.B * d.T;
  Scratch s(io);
  float *q = s.floats(rows * d.qw), *k = s.floats(rows * d.kw), *v = s.floats(rows * d.kw),
        *a = s.floats(rows * d.qw), *lse = s.floats(d.B * d.H * d.T), *gated = s.floats(rows * d.qw);
  if (!gated)
    return internalError("attention: workspace too small");
  forwardCore(ctx, io, attn(params), d, q, k, v, a, lse);
  project(ctx, io, d, a, gated, io.output(0).f32());
  return Status();
}

size_t attentionTrainWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  return Scratch::bytesFor({d.B * d.T * d.qw});
}

Status attentionTrain(ExecContext &context, const KernelParams &params, KernelIO &io) {
  CpuContext &ctx = cpuContext(context);
  Dims d = dimsOf(io.input(X).shape(), attn(params));
  Scratch s(io);
  float *gated = s.floats(d.B * d.T * d.qw);
  if (!gated)
    return internalError("attention.train: workspace too small");
  forwardCore(ctx, io, attn(params), d, io.output(1).f32(), io.output(2).f32(),
              io.output(3).f32(), io.output(4).f32(), io.output(5).f32());
  project(ctx, io, d, io.output(4).f32(), gated, io.output(0).f32());
  return Status();
}

size_t attentionBwdWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  int64_t rows = d.B * d.T;
  return Scratch::bytesFor({rows * d.qw, rows * d.qw, rows * d.qw, rows * d.kw, rows * d.kw});
}

// attention.bwd(x, wq, wk, wv, wo [, head] [, kv_group], y, q, k, v, a, lse, dy)
//   -> (dx, dwq, dwk, dwv, dwo [, dhead] [, dkv_group])
Status attentionBwd(ExecContext &context, const KernelParams &params, KernelIO &io) {
#pragma clang fp reassociate(on)
  CpuContext &ctx = cpuContext(context);
  Dims d = dimsOf(io.input(X).shape(), attn(params));
  const Tensor &x = io.input(X), &wq = io.input(Wq), &wk = io.input(Wk), &wv = io.input(Wv),
               &wo = io.input(Wo);
  const Tensor *zHead = io.optional(Head), *zGroup = io.optional(KvGroup);
  const Tensor &q = io.input(BQ), &k = io.input(BK), &v = io.input(BV), &a = io.input(BA),
               &lse = io.input(BLse), &dy = io.input(BDy);
  int64_t rows = d.B * d.T;
  Scratch s(io);
  float *gated = s.floats(rows * d.qw), *dc = s.floats(rows * d.qw), *dq = s.floats(rows * d.qw),
        *dk = s.floats(rows * d.kw), *dv = s.floats(rows * d.kw);
  if (!dv)
    return internalError("attention.bwd: workspace too small");

  // o_proj: dwo = dyᵀ (a ⊙ gate), dc = dy wo.
  project(ctx, io, d, a.f32(), gated, nullptr);
  gemm(true, false, d.D, d.qw, rows, 1.0f, dy.f32(), d.D, gated, d.qw, 0.0f, io.output(4).f32(),
       d.qw);
  gemm(false, false, rows, d.qw, d.D, 1.0f, dy.f32(), d.D, wo.f32(), d.qw, 0.0f, dc, d.qw);

  // Gate gradients, then da = dc ⊙ gate.
  std::vector<double> dgate(d.H, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < d.H; ++h) {
      double sum = 0;
      for (int64_t e = 0; e < d.hd; ++e)
        sum += static_cast<double>(dc[r * d.qw + h * d.hd + e]) * a.f32()[r * d.qw + h * d.hd + e];
      dgate[h] += sum;
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < d.H; ++h) {
      float gh = headGate(zHead, zGroup, d, h);
      for (int64_t e = 0; e < d.hd; ++e)
        dc[r * d.qw + h * d.hd + e] *= gh;
    }

  // Attention core, one (batch, kv group) per task so that dk and dv of the
  // group are written by one thread.
  std::memset(dq, 0, rows * d.qw * sizeof(float));
  std::memset(dk, 0, rows * d.kw * sizeof(float));
  std::memset(dv, 0, rows * d.kw * sizeof(float));
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  ctx.parallelFor(d.B * d.G, [&](int64_t begin, int64_t end) {
    for (int64_t bg = begin; bg < end; ++bg) {
      int64_t b = bg / d.G, g = bg % d.G;
      for (int64_t h = g * d.per; h < (g + 1) * d.per; ++h)
        for (int64_t i = 0; i < d.T; ++i) {
          int64_t ri = b * d.T + i;
          const float *qi = q.f32() + ri * d.qw + h * d.hd;
          const float *dai = dc + ri * d.qw + h * d.hd;
          const float *ai = a.f32() + ri * d.qw + h * d.hd;
          float l = lse.f32()[(b * d.H + h) * d.T + i];
          float delta = 0;
          for (int64_t e = 0; e < d.hd; ++e)
            delta += dai[e] * ai[e];
          float *dqi = dq + ri * d.qw + h * d.hd;
          for (int64_t j = 0; j <= i; ++j) {
            int64_t rj = b * d.T + j;
            const float *kj = k.f32() + rj * d.kw + g * d.hd;
            const float *vj = v.f32() + rj * d.kw + g * d.hd;
            float sc = 0, dpv = 0;
            for (int64_t e = 0; e < d.hd; ++e) {
              sc += qi[e] * kj[e];
              dpv += dai[e] * vj[e];
            }
            float pij = std::exp(sc * scale - l);
            float ds = pij * (dpv - delta) * scale;
            float *dkj = dk + rj * d.kw + g * d.hd;
            float *dvj = dv + rj * d.kw + g * d.hd;
            for (int64_t e = 0; e < d.hd; ++e) {
              dqi[e] += ds * kj[e];
              dkj[e] += ds * qi[e];
              dvj[e] += pij * dai[e];
            }
          }
        }
    }
  });

  // Undo RoPE (its transpose), then the projections.
  RopeTables rope = ropeTables(attn(params).rope, d.T);
  applyRope(ctx, dq, d.B, d.T, d.H, d.hd, d.qw, rope, /*inverse=*/true);
  applyRope(ctx, dk, d.B, d.T, d.G, d.hd, d.kw, rope, /*inverse=*/true);
  float *dx = io.output(0).f32();
  gemm(false, false, rows, d.D, d.qw, 1.0f, dq, d.qw, wq.f32(), d.D, 0.0f, dx, d.D);
  gemm(false, false, rows, d.D, d.kw, 1.0f, dk, d.kw, wk.f32(), d.D, 1.0f, dx, d.D);
  gemm(false, false, rows, d.D, d.kw, 1.0f, dv, d.kw, wv.f32(), d.D, 1.0f, dx, d.D);
  gemm(true, false, d.qw, d.D, rows, 1.0f, dq, d.qw, x.f32(), d.D, 0.0f, io.output(1).f32(), d.D);
  gemm(true, false, d.kw, d.D, rows, 1.0f, dk, d.kw, x.f32(), d.D, 0.0f, io.output(2).f32(), d.D);
  gemm(true, false, d.kw, d.D, rows, 1.0f, dv, d.kw, x.f32(), d.D, 0.0f, io.output(3).f32(), d.D);
  if (Tensor *dh = io.optionalOutput(5))
    for (int64_t h = 0; h < d.H; ++h)
      dh->f32()[h] = static_cast<float>(dgate[h] * (zGroup ? zGroup->f32()[h / d.per] : 1.0f));
  if (Tensor *dg = io.optionalOutput(6)) {
    std::memset(dg->data(), 0, dg->bytes());
    for (int64_t h = 0; h < d.H; ++h)
      dg->f32()[h / d.per] += static_cast<float>(dgate[h] * (zHead ? zHead->f32()[h] : 1.0f));
  }
  return Status();
}

size_t attentionDecodeWorkspace(const KernelParams &params, const std::vector<const Shape *> &in) {
  Dims d = dimsOf(*in[X], attn(params));
  int64_t rows = d.B * d.T;
  return Scratch::bytesFor({rows * d.qw, rows * d.kw, rows * d.kw, rows * d.qw, rows * d.qw});
}

// attention.decode(x [B, t, D], wq, wk, wv, wo [, head] [, kv_group],
//                  k_cache [B, G, S, hd], v_cache [B, G, S, hd], pos [])
//   -> (y, k_cache', v_cache')
// Incremental decoding: the t new tokens sit at positions pos .. pos+t-1;
// their keys and values are written into the caches (k_cache' and v_cache'
// update the caches in place) and each attends to positions 0 .. its own.
Status attentionDecode(ExecContext &context, const KernelParams &params, KernelIO &io) {
  CpuContext &ctx = cpuContext(context);
  const AttentionParams &p = attn(params);
  Dims d = dimsOf(io.input(X).shape(), p);
  const Tensor &x = io.input(X), &wq = io.input(Wq), &wk = io.input(Wk), &wv = io.input(Wv);
  Tensor &kc = io.output(1), &vc = io.output(2);
  int64_t pos = io.input(Pos).i64()[0], S = kc.dim(2);
  if (pos < 0 || pos + d.T > S)
    return invalidInput("attention.decode: the KV cache holds " + std::to_string(S) +
                        " positions, " + std::to_string(pos + d.T) + " needed");
  int64_t rows = d.B * d.T;
  Scratch s(io);
  float *q = s.floats(rows * d.qw), *k = s.floats(rows * d.kw), *v = s.floats(rows * d.kw),
        *a = s.floats(rows * d.qw), *gated = s.floats(rows * d.qw);
  if (!gated)
    return internalError("attention.decode: workspace too small");
  linear(x.f32(), wq.f32(), q, rows, d.D, d.qw);
  linear(x.f32(), wk.f32(), k, rows, d.D, d.kw);
  linear(x.f32(), wv.f32(), v, rows, d.D, d.kw);
  RopeTables rope = ropeTables(p.rope, pos + d.T);
  applyRope(ctx, q, d.B, d.T, d.H, d.hd, d.qw, rope, false, pos);
  applyRope(ctx, k, d.B, d.T, d.G, d.hd, d.kw, rope, false, pos);
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t i = 0; i < d.T; ++i)
      for (int64_t g = 0; g < d.G; ++g)
        for (int64_t e = 0; e < d.hd; ++e) {
          int64_t cacheAt = ((b * d.G + g) * S + pos + i) * d.hd + e;
          kc.f32()[cacheAt] = k[(b * d.T + i) * d.kw + g * d.hd + e];
          vc.f32()[cacheAt] = v[(b * d.T + i) * d.kw + g * d.hd + e];
        }
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  ctx.parallelFor(d.B * d.H, [&](int64_t begin, int64_t end) {
    std::vector<float> pr(pos + d.T);
    for (int64_t bh = begin; bh < end; ++bh) {
      int64_t b = bh / d.H, h = bh % d.H, g = h / d.per;
      const float *kg = kc.f32() + (b * d.G + g) * S * d.hd;
      const float *vg = vc.f32() + (b * d.G + g) * S * d.hd;
      for (int64_t i = 0; i < d.T; ++i)
        attendRow(q + (b * d.T + i) * d.qw + h * d.hd, kg, vg, d.hd, pos + i + 1, d.hd, scale,
                  pr.data(), a + (b * d.T + i) * d.qw + h * d.hd);
    }
  });
  project(ctx, io, d, a, gated, io.output(0).f32());
  return Status();
}
} // namespace

void shear::rt::cpu::registerAttention(const Define &define) {
  define(KernelId::Attention, {attention, attentionWorkspace});
  define(KernelId::AttentionTrain, {attentionTrain, attentionTrainWorkspace});
  define(KernelId::AttentionBwd, {attentionBwd, attentionBwdWorkspace});
  define(KernelId::AttentionDecode, {attentionDecode, attentionDecodeWorkspace});
}
