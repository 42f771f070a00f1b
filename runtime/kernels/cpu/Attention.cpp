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
static void attention(KernelCall &c) {
  const Tensor &x = c.arg(0), &wq = c.arg(1), &wk = c.arg(2), &wv = c.arg(3), &wo = c.arg(4);
  const Tensor *zHead = c.mask("head", 5), *zGroup = c.mask("kv_group", 5);
  const KernelAttrs &a = *c.attrs;
  int64_t B = x.dim(0), T = x.dim(1), D = x.dim(2);
  int64_t H = a.integer("num_heads"), G = a.integer("num_kv_heads"), hd = a.integer("head_dim");
  int64_t per = H / G, qw = H * hd, kw = G * hd;

  std::vector<float> q(B * T * qw), k(B * T * kw), v(B * T * kw), ctx(B * T * qw);
  linear(x.f32(), wq.f32(), q.data(), B * T, D, qw);
  linear(x.f32(), wk.f32(), k.data(), B * T, D, kw);
  linear(x.f32(), wv.f32(), v.data(), B * T, D, kw);
  RopeTables rope = ropeTables(a, T);
  applyRope(q.data(), B, T, H, hd, qw, rope);
  applyRope(k.data(), B, T, G, hd, kw, rope);

  float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  parallelFor(B * H, [&](int64_t begin, int64_t end) {
    std::vector<float> p(T);
    for (int64_t bh = begin; bh < end; ++bh) {
      int64_t b = bh / H, h = bh % H, g = h / per;
      float gate = (zHead ? zHead->f32()[h] : 1.0f) * (zGroup ? zGroup->f32()[g] : 1.0f);
      for (int64_t i = 0; i < T; ++i) {
        const float *qi = q.data() + (b * T + i) * qw + h * hd;
        float mx = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          const float *kj = k.data() + (b * T + j) * kw + g * hd;
          float s = 0;
          for (int64_t d = 0; d < hd; ++d)
            s += qi[d] * kj[d];
          p[j] = s * scale;
          mx = std::max(mx, p[j]);
        }
        float sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          p[j] = std::exp(p[j] - mx);
          sum += p[j];
        }
        float *out = ctx.data() + (b * T + i) * qw + h * hd;
        for (int64_t d = 0; d < hd; ++d)
          out[d] = 0;
        for (int64_t j = 0; j <= i; ++j) {
          const float *vj = v.data() + (b * T + j) * kw + g * hd;
          float w = p[j] / sum * gate;
          for (int64_t d = 0; d < hd; ++d)
            out[d] += w * vj[d];
        }
      }
    }
  });
  Tensor y = Tensor::empty({B, T, D});
  linear(ctx.data(), wo.f32(), y.f32(), B * T, qw, D);
  c.results.push_back(std::move(y));
}

void shear::rt::cpu::registerAttention(KernelRegistry &r) { r.add("attention", attention); }
