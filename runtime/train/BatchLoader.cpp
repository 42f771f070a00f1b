//===- BatchLoader.cpp - batches drawn across domains ---------------------===//
#include "shear/Runtime/BatchLoader.h"
#include "shear/Support/Philox.h"

#include <cmath>

using namespace shear;
using namespace shear::rt;

Tensor BatchLoader::next(int64_t step, int64_t batch, std::vector<int64_t> &domains,
                         const std::function<void(const std::string &)> &log) {
  const Manifest &m = data_.manifest();
  int64_t n = m.seqLen + 1, k = m.domains.size();
  Tensor tokens = Tensor::empty({batch, n}, DType::I64);
  domains.assign(batch, 0);
  double total = 0;
  for (double w : state_.weights)
    total += w;
  for (int64_t b = 0; b < batch; ++b) {
    double u = philoxUniform(seed_, static_cast<uint64_t>(step), /*stream=*/1000, b) * total;
    int64_t d = 0;
    for (double acc = state_.weights[0]; d + 1 < k && u >= acc; acc += state_.weights[++d])
      ;
    domains[b] = d;
    int64_t &pos = state_.position[d];
    if (pos >= m.domains[d].trainSequences) {
      pos = 0;
      ++state_.epoch[d];
      log("domain '" + m.domains[d].name + "' exhausted after " +
          std::to_string(m.domains[d].trainSequences) + " sequences: wrapping to its start (pass " +
          std::to_string(state_.epoch[d] + 1) + ")");
    }
    data_.readTrain(d, pos++, tokens.i64() + b * n);
  }
  return tokens;
}

static std::vector<double> normalized(std::vector<double> v) {
  double s = 0;
  for (double x : v)
    s += x;
  for (double &x : v)
    x /= s;
  return v;
}

std::vector<double> shear::rt::updateDomainWeights(DblMode mode,
                                                   const std::vector<double> &weights,
                                                   const std::vector<double> &loss,
                                                   const std::vector<double> &reference) {
  if (mode == DblMode::Off)
    return weights;
  size_t k = weights.size();
  std::vector<double> a(k);
  for (size_t i = 0; i < k; ++i) {
    double delta = loss[i] - reference[i];
    if (mode == DblMode::Paper)
      delta = std::max(delta, 0.0);
    a[i] = weights[i] * std::exp(delta);
  }
  a = normalized(a);
  if (mode == DblMode::Paper)
    return a;
  const double c = 1e-4;
  for (double &x : a)
    x = (1 - c) * x + c / k;
  return normalized(a);
}

std::pair<Tensor, Tensor> shear::rt::splitInputsAndLabels(const Tensor &t) {
  int64_t B = t.dim(0), T = t.dim(1) - 1;
  Tensor ids = Tensor::empty({B, T}, DType::I64), labels = Tensor::empty({B, T}, DType::I64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i) {
      int64_t in = t.i64()[b * (T + 1) + i], next = t.i64()[b * (T + 1) + i + 1];
      ids.i64()[b * T + i] = in & ~kNoLossBit;
      // A label the loss mask excludes: the cross-entropy's ignored index.
      labels.i64()[b * T + i] = next & kNoLossBit ? kIgnoredLabel : next;
    }
  return {ids, labels};
}
