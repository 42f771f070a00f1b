//===- Attention.cpp - causal self-attention with RoPE and GQA ------------===//
#include "Blas.h"
#include "CpuKernels.h"
#include "Rope.h"
#include "shear/Runtime/Parallel.h"

#include <cmath>
#include <vector>

using namespace shear::rt;
using namespace shear::rt::cpu;

// attention(x [B, T, D], wq [H*hd, D], wk [G*hd, D], wv [G*hd, D], wo [D, H*hd]
//           [, head [H]] [, kv_group [G]]) {num_heads, num_kv_heads, head_dim,
//           rope_theta, rope_scaling.*} -> y [B, T, D]
// Query head h reads kv head h / (H/G); its context is scaled by
// head[h] · kv_group[h / (H/G)] before o_proj.
//
// attention.train returns (y, q, k, v, a, lse): q and k after RoPE, the
// ungated per-head attention output a = softmax(q kᵀ/√hd) v, and the
// log-sum-exp of every score row, from which attention.bwd recomputes the
// probabilities instead of storing them.

namespace {
struct Dims {
  int64_t B, T, D, H, G, hd, per, qw, kw;
};

Dims dimsOf(const KernelCall &c) {
  const Tensor &x = c.arg(0);
  const KernelAttrs &a = *c.attrs;
  Dims d;
  d.B = x.dim(0);
  d.T = x.dim(1);
  d.D = x.dim(2);
  d.H = a.integer("num_heads");
  d.G = a.integer("num_kv_heads");
  d.hd = a.integer("head_dim");
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

struct Forward {
  Tensor q, k, v, a, lse;
};

// Projections, RoPE and the attention core; a is ungated.
Forward forwardCore(const KernelCall &c, const Dims &d) {
  const Tensor &x = c.arg(0), &wq = c.arg(1), &wk = c.arg(2), &wv = c.arg(3);
  Forward f;
  f.q = Tensor::empty({d.B, d.T, d.qw});
  f.k = Tensor::empty({d.B, d.T, d.kw});
  f.v = Tensor::empty({d.B, d.T, d.kw});
  f.a = Tensor::empty({d.B, d.T, d.qw});
  f.lse = Tensor::empty({d.B, d.H, d.T});
  linear(x.f32(), wq.f32(), f.q.f32(), d.B * d.T, d.D, d.qw);
  linear(x.f32(), wk.f32(), f.k.f32(), d.B * d.T, d.D, d.kw);
  linear(x.f32(), wv.f32(), f.v.f32(), d.B * d.T, d.D, d.kw);
  RopeTables rope = ropeTables(*c.attrs, d.T);
  applyRope(f.q.f32(), d.B, d.T, d.H, d.hd, d.qw, rope);
  applyRope(f.k.f32(), d.B, d.T, d.G, d.hd, d.kw, rope);
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  const float *q = f.q.f32(), *k = f.k.f32(), *v = f.v.f32();
  float *a = f.a.f32(), *lse = f.lse.f32();
  parallelFor(d.B * d.H, [&](int64_t begin, int64_t end) {
    std::vector<float> p(d.T);
    for (int64_t bh = begin; bh < end; ++bh) {
      int64_t b = bh / d.H, h = bh % d.H, g = h / d.per;
      for (int64_t i = 0; i < d.T; ++i)
        lse[bh * d.T + i] =
            attendRow(q + (b * d.T + i) * d.qw + h * d.hd, k + b * d.T * d.kw + g * d.hd,
                      v + b * d.T * d.kw + g * d.hd, d.kw, i + 1, d.hd, scale, p.data(),
                      a + (b * d.T + i) * d.qw + h * d.hd);
    }
  });
  return f;
}

// y = (a ⊙ gate) woᵀ; returns the gated context too (o_proj's input).
Tensor project(const KernelCall &c, const Dims &d, const Tensor &a, const Tensor *zHead,
               const Tensor *zGroup, Tensor *gatedOut) {
  Tensor gated = Tensor::empty({d.B, d.T, d.qw});
  int64_t rows = d.B * d.T;
  parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t h = 0; h < d.H; ++h) {
        float gh = headGate(zHead, zGroup, d, h);
        for (int64_t e = 0; e < d.hd; ++e)
          gated.f32()[r * d.qw + h * d.hd + e] = a.f32()[r * d.qw + h * d.hd + e] * gh;
      }
  });
  Tensor y = Tensor::empty({d.B, d.T, d.D});
  linear(gated.f32(), c.arg(4).f32(), y.f32(), rows, d.qw, d.D);
  if (gatedOut)
    *gatedOut = gated;
  return y;
}
} // namespace

static void attention(KernelCall &c) {
  Dims d = dimsOf(c);
  const Tensor *zHead = c.mask("head", 5), *zGroup = c.mask("kv_group", 5);
  Forward f = forwardCore(c, d);
  c.results.push_back(project(c, d, f.a, zHead, zGroup, nullptr));
}

static void attentionTrain(KernelCall &c) {
  Dims d = dimsOf(c);
  const Tensor *zHead = c.mask("head", 5), *zGroup = c.mask("kv_group", 5);
  Forward f = forwardCore(c, d);
  c.results.push_back(project(c, d, f.a, zHead, zGroup, nullptr));
  c.results.push_back(f.q);
  c.results.push_back(f.k);
  c.results.push_back(f.v);
  c.results.push_back(f.a);
  c.results.push_back(f.lse);
}

// attention.bwd(x, wq, wk, wv, wo [, head] [, kv_group], y, q, k, v, a, lse, dy)
//   -> (dx, dwq, dwk, dwv, dwo [, dhead] [, dkv_group])
static void attentionBwd(KernelCall &c) {
#pragma clang fp reassociate(on)
  Dims d = dimsOf(c);
  const Tensor &x = c.arg(0), &wq = c.arg(1), &wk = c.arg(2), &wv = c.arg(3), &wo = c.arg(4);
  const Tensor *zHead = c.mask("head", 5), *zGroup = c.mask("kv_group", 5);
  size_t n = 5 + (zHead ? 1 : 0) + (zGroup ? 1 : 0);
  const Tensor &q = c.arg(n + 1), &k = c.arg(n + 2), &v = c.arg(n + 3), &a = c.arg(n + 4),
               &lse = c.arg(n + 5), &dy = c.arg(n + 6);
  int64_t rows = d.B * d.T;

  // o_proj: dwo = dyᵀ (a ⊙ gate), dc = dy wo.
  Tensor gated;
  project(c, d, a, zHead, zGroup, &gated);
  Tensor dwo = Tensor::empty({d.D, d.qw});
  gemm(true, false, d.D, d.qw, rows, 1.0f, dy.f32(), d.D, gated.f32(), d.qw, 0.0f, dwo.f32(),
       d.qw);
  std::vector<float> dc(rows * d.qw);
  gemm(false, false, rows, d.qw, d.D, 1.0f, dy.f32(), d.D, wo.f32(), d.qw, 0.0f, dc.data(), d.qw);

  // Gate gradients, then da = dc ⊙ gate.
  std::vector<double> dgate(d.H, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < d.H; ++h) {
      double s = 0;
      for (int64_t e = 0; e < d.hd; ++e)
        s += static_cast<double>(dc[r * d.qw + h * d.hd + e]) * a.f32()[r * d.qw + h * d.hd + e];
      dgate[h] += s;
    }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < d.H; ++h) {
      float gh = headGate(zHead, zGroup, d, h);
      for (int64_t e = 0; e < d.hd; ++e)
        dc[r * d.qw + h * d.hd + e] *= gh;
    }

  // Attention core, one (batch, kv group) per task so that dk and dv of the
  // group are written by one thread.
  std::vector<float> dq(rows * d.qw, 0.0f), dk(rows * d.kw, 0.0f), dv(rows * d.kw, 0.0f);
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  parallelFor(d.B * d.G, [&](int64_t begin, int64_t end) {
    std::vector<float> p(d.T), dp(d.T);
    for (int64_t bg = begin; bg < end; ++bg) {
      int64_t b = bg / d.G, g = bg % d.G;
      for (int64_t h = g * d.per; h < (g + 1) * d.per; ++h)
        for (int64_t i = 0; i < d.T; ++i) {
          int64_t ri = b * d.T + i;
          const float *qi = q.f32() + ri * d.qw + h * d.hd;
          const float *dai = dc.data() + ri * d.qw + h * d.hd;
          const float *ai = a.f32() + ri * d.qw + h * d.hd;
          float l = lse.f32()[(b * d.H + h) * d.T + i];
          float delta = 0;
          for (int64_t e = 0; e < d.hd; ++e)
            delta += dai[e] * ai[e];
          float *dqi = dq.data() + ri * d.qw + h * d.hd;
          for (int64_t j = 0; j <= i; ++j) {
            int64_t rj = b * d.T + j;
            const float *kj = k.f32() + rj * d.kw + g * d.hd;
            const float *vj = v.f32() + rj * d.kw + g * d.hd;
            float s = 0, dpv = 0;
            for (int64_t e = 0; e < d.hd; ++e) {
              s += qi[e] * kj[e];
              dpv += dai[e] * vj[e];
            }
            float pij = std::exp(s * scale - l);
            float ds = pij * (dpv - delta) * scale;
            float *dkj = dk.data() + rj * d.kw + g * d.hd;
            float *dvj = dv.data() + rj * d.kw + g * d.hd;
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
  RopeTables rope = ropeTables(*c.attrs, d.T);
  applyRope(dq.data(), d.B, d.T, d.H, d.hd, d.qw, rope, /*inverse=*/true);
  applyRope(dk.data(), d.B, d.T, d.G, d.hd, d.kw, rope, /*inverse=*/true);
  Tensor dx = Tensor::empty({d.B, d.T, d.D});
  gemm(false, false, rows, d.D, d.qw, 1.0f, dq.data(), d.qw, wq.f32(), d.D, 0.0f, dx.f32(), d.D);
  gemm(false, false, rows, d.D, d.kw, 1.0f, dk.data(), d.kw, wk.f32(), d.D, 1.0f, dx.f32(), d.D);
  gemm(false, false, rows, d.D, d.kw, 1.0f, dv.data(), d.kw, wv.f32(), d.D, 1.0f, dx.f32(), d.D);
  Tensor dwq = Tensor::empty({d.qw, d.D}), dwk = Tensor::empty({d.kw, d.D}),
         dwv = Tensor::empty({d.kw, d.D});
  gemm(true, false, d.qw, d.D, rows, 1.0f, dq.data(), d.qw, x.f32(), d.D, 0.0f, dwq.f32(), d.D);
  gemm(true, false, d.kw, d.D, rows, 1.0f, dk.data(), d.kw, x.f32(), d.D, 0.0f, dwk.f32(), d.D);
  gemm(true, false, d.kw, d.D, rows, 1.0f, dv.data(), d.kw, x.f32(), d.D, 0.0f, dwv.f32(), d.D);

  c.results.push_back(std::move(dx));
  c.results.push_back(std::move(dwq));
  c.results.push_back(std::move(dwk));
  c.results.push_back(std::move(dwv));
  c.results.push_back(std::move(dwo));
  if (zHead) {
    Tensor dh = Tensor::empty({d.H});
    for (int64_t h = 0; h < d.H; ++h)
      dh.f32()[h] = static_cast<float>(dgate[h] * (zGroup ? zGroup->f32()[h / d.per] : 1.0f));
    c.results.push_back(std::move(dh));
  }
  if (zGroup) {
    Tensor dg = Tensor::zeros({d.G});
    for (int64_t h = 0; h < d.H; ++h)
      dg.f32()[h / d.per] += static_cast<float>(dgate[h] * (zHead ? zHead->f32()[h] : 1.0f));
    c.results.push_back(std::move(dg));
  }
}

// attention.decode(x [B, t, D], wq, wk, wv, wo [, head] [, kv_group],
//                  k_cache [B, G, S, hd], v_cache [B, G, S, hd], pos [])
//   -> (y, k_cache, v_cache)
// Incremental decoding: the t new tokens sit at positions pos .. pos+t-1;
// their keys and values are written into the caches (in place: the results
// share the caches' storage) and each attends to positions 0 .. its own.
static void attentionDecode(KernelCall &c) {
  Dims d = dimsOf(c);
  const Tensor &x = c.arg(0), &wq = c.arg(1), &wk = c.arg(2), &wv = c.arg(3);
  const Tensor *zHead = c.mask("head", 5), *zGroup = c.mask("kv_group", 5);
  size_t n = 5 + (zHead ? 1 : 0) + (zGroup ? 1 : 0);
  Tensor kc = c.arg(n), vc = c.arg(n + 1);
  int64_t pos = c.arg(n + 2).i64()[0], S = kc.dim(2);
  if (pos + d.T > S)
    kernelFailure(c, "the KV cache holds " + std::to_string(S) + " positions, " +
                         std::to_string(pos + d.T) + " needed");
  std::vector<float> q(d.B * d.T * d.qw), k(d.B * d.T * d.kw), v(d.B * d.T * d.kw);
  linear(x.f32(), wq.f32(), q.data(), d.B * d.T, d.D, d.qw);
  linear(x.f32(), wk.f32(), k.data(), d.B * d.T, d.D, d.kw);
  linear(x.f32(), wv.f32(), v.data(), d.B * d.T, d.D, d.kw);
  RopeTables rope = ropeTables(*c.attrs, pos + d.T);
  applyRope(q.data(), d.B, d.T, d.H, d.hd, d.qw, rope, false, pos);
  applyRope(k.data(), d.B, d.T, d.G, d.hd, d.kw, rope, false, pos);
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t i = 0; i < d.T; ++i)
      for (int64_t g = 0; g < d.G; ++g)
        for (int64_t e = 0; e < d.hd; ++e) {
          int64_t cacheAt = ((b * d.G + g) * S + pos + i) * d.hd + e;
          kc.f32()[cacheAt] = k[(b * d.T + i) * d.kw + g * d.hd + e];
          vc.f32()[cacheAt] = v[(b * d.T + i) * d.kw + g * d.hd + e];
        }
  Tensor a = Tensor::empty({d.B, d.T, d.qw});
  float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
  parallelFor(d.B * d.H, [&](int64_t begin, int64_t end) {
    std::vector<float> p(pos + d.T);
    for (int64_t bh = begin; bh < end; ++bh) {
      int64_t b = bh / d.H, h = bh % d.H, g = h / d.per;
      const float *kg = kc.f32() + (b * d.G + g) * S * d.hd;
      const float *vg = vc.f32() + (b * d.G + g) * S * d.hd;
      for (int64_t i = 0; i < d.T; ++i)
        attendRow(q.data() + (b * d.T + i) * d.qw + h * d.hd, kg, vg, d.hd, pos + i + 1, d.hd,
                  scale, p.data(), a.f32() + (b * d.T + i) * d.qw + h * d.hd);
    }
  });
  c.results.push_back(project(c, d, a, zHead, zGroup, nullptr));
  c.results.push_back(kc);
  c.results.push_back(vc);
}

void shear::rt::cpu::registerAttention(KernelRegistry &r) {
  r.add("attention.decode", attentionDecode);
  r.add("attention", attention);
  r.add("attention.train", attentionTrain);
  r.add("attention.bwd", attentionBwd);
}
