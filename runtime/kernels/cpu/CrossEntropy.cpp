//===- CrossEntropy.cpp - next-token losses: cross-entropy, distillation --===//
#include "CpuBackend.h"

#include <cmath>
#include <vector>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

Status shear::rt::cpu::checkLabels(const Tensor &labels, int64_t V, int64_t ignore) {
  for (int64_t r = 0; r < labels.numel(); ++r) {
    int64_t y = labels.i64()[r];
    if (y != ignore && (y < 0 || y >= V))
      return invalidInput("label " + std::to_string(y) + " at position " + std::to_string(r) +
                          " is outside the vocabulary [0, " + std::to_string(V) + ")");
  }
  return Status();
}

double shear::rt::cpu::logSumExp(const float *l, int64_t V, double scale) {
  float mx = l[0];
  for (int64_t v = 1; v < V; ++v)
    mx = std::max(mx, l[v]);
  double sum = 0;
  for (int64_t v = 0; v < V; ++v)
    sum += std::exp((static_cast<double>(l[v]) - mx) * scale);
  return mx * scale + std::log(sum);
}

namespace {


// cross_entropy(logits [B, T, V], labels [B, T]) {ignore_index} -> loss []
Status crossEntropy(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &logits = io.input(0), &labels = io.input(1);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  int64_t ignore = std::get<CrossEntropyParams>(params).ignoreIndex;
  SHEAR_RETURN_IF_ERROR(checkLabels(labels, V, ignore));
  std::vector<double> loss(rows, 0.0);
  cpuContext(context).parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t y = labels.i64()[r];
      if (y == ignore)
        continue;
      const float *l = logits.f32() + r * V;
      loss[r] = logSumExp(l, V) - l[y];
    }
  });
  double total = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    if (labels.i64()[r] != ignore) {
      total += loss[r];
      ++count;
    }
  io.output(0).f32()[0] = count ? static_cast<float>(total / count) : 0.0f;
  return Status();
}

// cross_entropy.bwd(logits, labels, loss, dloss) -> dlogits
Status crossEntropyBwd(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &logits = io.input(0), &labels = io.input(1), &dloss = io.input(3);
  Tensor &dl = io.output(0);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  int64_t ignore = std::get<CrossEntropyParams>(params).ignoreIndex;
  SHEAR_RETURN_IF_ERROR(checkLabels(labels, V, ignore));
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    count += labels.i64()[r] != ignore;
  float scale = count ? dloss.f32()[0] / count : 0.0f;
  cpuContext(context).parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *l = logits.f32() + r * V;
      float *o = dl.f32() + r * V;
      int64_t y = labels.i64()[r];
      if (y == ignore) {
        for (int64_t v = 0; v < V; ++v)
          o[v] = 0;
        continue;
      }
      double lse = logSumExp(l, V);
      for (int64_t v = 0; v < V; ++v)
        o[v] = static_cast<float>(std::exp(static_cast<double>(l[v]) - lse)) * scale;
      o[y] -= scale;
    }
  });
  return Status();
}

// distill(logits, teacher [B, T, V], labels [B, T]) {temperature τ, alpha α,
//   ignore_index} -> (loss, lm, kl): over the tokens whose label counts,
//   lm = mean cross-entropy, kl = mean KL(softmax(teacher/τ) ‖ softmax(logits/τ)),
//   loss = (1 − α) lm + α τ² kl (Hinton et al.: τ² keeps the gradient's scale).
Status distill(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &logits = io.input(0), &teacher = io.input(1), &labels = io.input(2);
  const auto &p = std::get<DistillParams>(params);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  SHEAR_RETURN_IF_ERROR(checkLabels(labels, V, p.ignoreIndex));
  double inv = 1.0 / p.temperature;
  std::vector<double> ce(rows, 0.0), kl(rows, 0.0);
  cpuContext(context).parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t y = labels.i64()[r];
      if (y == p.ignoreIndex)
        continue;
      const float *s = logits.f32() + r * V, *t = teacher.f32() + r * V;
      ce[r] = logSumExp(s, V) - s[y];
      double lseS = logSumExp(s, V, inv), lseT = logSumExp(t, V, inv), sum = 0;
      for (int64_t v = 0; v < V; ++v) {
        double logPt = t[v] * inv - lseT, logPs = s[v] * inv - lseS;
        sum += std::exp(logPt) * (logPt - logPs);
      }
      kl[r] = sum;
    }
  });
  double ceSum = 0, klSum = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    if (labels.i64()[r] != p.ignoreIndex) {
      ceSum += ce[r];
      klSum += kl[r];
      ++count;
    }
  double lm = count ? ceSum / count : 0, k = count ? klSum / count : 0;
  io.output(0).f32()[0] = static_cast<float>((1 - p.alpha) * lm + p.alpha * p.temperature * p.temperature * k);
  io.output(1).f32()[0] = static_cast<float>(lm);
  io.output(2).f32()[0] = static_cast<float>(k);
  return Status();
}

// distill.bwd(logits, teacher, labels, loss, lm, kl, dloss) -> dlogits
//   = dloss / count · ((1 − α)(softmax(logits) − onehot(label)) + α τ (softmax(logits/τ) − softmax(teacher/τ)))
// (the teacher gets no gradient: it is frozen).
Status distillBwd(ExecContext &context, const KernelParams &params, KernelIO &io) {
  const Tensor &logits = io.input(0), &teacher = io.input(1), &labels = io.input(2), &dloss = io.input(6);
  const auto &p = std::get<DistillParams>(params);
  Tensor &dl = io.output(0);
  int64_t V = logits.dim(-1), rows = logits.numel() / V;
  SHEAR_RETURN_IF_ERROR(checkLabels(labels, V, p.ignoreIndex));
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    count += labels.i64()[r] != p.ignoreIndex;
  double scale = count ? dloss.f32()[0] / static_cast<double>(count) : 0.0, inv = 1.0 / p.temperature;
  double wCe = (1 - p.alpha) * scale, wKd = p.alpha * p.temperature * scale;
  cpuContext(context).parallelFor(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *s = logits.f32() + r * V, *t = teacher.f32() + r * V;
      float *o = dl.f32() + r * V;
      int64_t y = labels.i64()[r];
      if (y == p.ignoreIndex) {
        for (int64_t v = 0; v < V; ++v)
          o[v] = 0;
        continue;
      }
      double lse = logSumExp(s, V), lseS = logSumExp(s, V, inv), lseT = logSumExp(t, V, inv);
      for (int64_t v = 0; v < V; ++v) {
        double ps = std::exp(s[v] - lse), psT = std::exp(s[v] * inv - lseS), ptT = std::exp(t[v] * inv - lseT);
        o[v] = static_cast<float>(wCe * (ps - (v == y ? 1.0 : 0.0)) + wKd * (psT - ptT));
      }
    }
  });
  return Status();
}
} // namespace

void shear::rt::cpu::registerCrossEntropy(const Define &define) {
  define(KernelId::CrossEntropy, {crossEntropy});
  define(KernelId::CrossEntropyBwd, {crossEntropyBwd});
  define(KernelId::Distill, {distill});
  define(KernelId::DistillBwd, {distillBwd});
}
