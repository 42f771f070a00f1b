//===- Sampler.cpp - greedy and temperature / top-p sampling --------------===//
#include "shear/Runtime/Generate.h"
#include "shear/Support/Philox.h"

#include <algorithm>
#include <cmath>
#include <functional>

using namespace shear;
using namespace shear::rt;

int64_t shear::rt::sampleToken(const float *last, int64_t vocab, const SamplingOptions &o,
                               int64_t step) {
  if (o.temperature <= 0)
    return std::max_element(last, last + vocab) - last;
  std::vector<std::pair<double, int64_t>> probs;
  double mx = *std::max_element(last, last + vocab), sum = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    double p = std::exp((last[v] - mx) / o.temperature);
    probs.push_back({p, v});
    sum += p;
  }
  std::sort(probs.begin(), probs.end(), std::greater<>());
  double mass = 0;
  size_t keep = 0;
  while (keep < probs.size() && (keep == 0 || mass < o.topP * sum))
    mass += probs[keep++].first;
  double u = philoxUniform(o.seed, static_cast<uint64_t>(step), 2000, 0) * mass;
  int64_t next = probs[keep - 1].second;
  for (size_t i = 0; i < keep; ++i) {
    if (u < probs[i].first) {
      next = probs[i].second;
      break;
    }
    u -= probs[i].first;
  }
  return next;
}
