//===- Rope.cpp - rotary position embeddings ------------------------------===//
#include "Rope.h"

#include <cmath>

using namespace shear::rt;
using namespace shear::rt::cpu;

RopeTables shear::rt::cpu::ropeTables(const RopeParams &r, int64_t T) {
  int64_t hd = r.headDim;
  double theta = r.theta;
  RopeTables t;
  t.half = hd / 2;
  std::vector<double> inv(t.half);
  for (int64_t i = 0; i < t.half; ++i)
    inv[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / hd);
  if (r.scaling == RopeParams::Scaling::Linear) {
    for (double &f : inv)
      f /= r.factor;
  } else if (r.scaling == RopeParams::Scaling::Llama3) {
    // HF's _compute_llama3_parameters: low frequencies are divided by the
    // factor, high ones kept, the band between interpolated smoothly.
    double factor = r.factor, low = r.lowFreqFactor, high = r.highFreqFactor;
    double orig = r.originalMaxPositions;
    double lowWavelen = orig / low, highWavelen = orig / high;
    for (double &f : inv) {
      double wavelen = 2 * M_PI / f;
      if (wavelen < highWavelen)
        continue;
      if (wavelen > lowWavelen) {
        f /= factor;
        continue;
      }
      double smooth = (orig / wavelen - low) / (high - low);
      f = (1 - smooth) * f / factor + smooth * f;
    }
  }
  t.cos.resize(T * t.half);
  t.sin.resize(T * t.half);
  for (int64_t p = 0; p < T; ++p)
    for (int64_t i = 0; i < t.half; ++i) {
      double angle = p * inv[i];
      t.cos[p * t.half + i] = static_cast<float>(std::cos(angle));
      t.sin[p * t.half + i] = static_cast<float>(std::sin(angle));
    }
  return t;
}

void shear::rt::cpu::applyRope(CpuContext &ctx, float *x, int64_t B, int64_t T, int64_t heads, int64_t hd,
                               int64_t stride, const RopeTables &t, bool inverse,
                               int64_t offset) {
  int64_t half = hd / 2;
  float sign = inverse ? -1.0f : 1.0f;
  ctx.parallelFor(B * T, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t p = offset + r % T;
      const float *c = t.cos.data() + p * half, *s = t.sin.data() + p * half;
      for (int64_t h = 0; h < heads; ++h) {
        float *v = x + r * stride + h * hd;
        for (int64_t i = 0; i < half; ++i) {
          float a = v[i], b = v[i + half];
          v[i] = a * c[i] - sign * b * s[i];
          v[i + half] = b * c[i] + sign * a * s[i];
        }
      }
    }
  });
}
