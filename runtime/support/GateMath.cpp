//===- GateMath.cpp - hard-concrete gates (METHOD.md §2) ------------------===//
#include "shear/Support/GateMath.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace shear;

double gate::logAlphaLimit() { return std::log(100.0); }

double gate::clampLogAlpha(double la) {
  return std::clamp(la, -logAlphaLimit(), logAlphaLimit());
}

double gate::sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double gate::probNonZero(double la) {
  return sigmoid(clampLogAlpha(la) - kBeta * std::log(-kGamma / kZeta));
}

double gate::softValue(double la) { return sigmoid(clampLogAlpha(la) * 0.8 / kBeta); }

double gate::sample(double la, double u) {
  u = std::clamp(u, kEpsilon, 1.0 - kEpsilon);
  double s = sigmoid((std::log(u) - std::log(1.0 - u) + clampLogAlpha(la)) / kBeta);
  return std::clamp(s * (kZeta - kGamma) + kGamma, 0.0, 1.0);
}

std::vector<int64_t> gate::topK(Span<const float> values, int64_t k) {
  std::vector<int64_t> idx(values.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  });
  idx.resize(std::min<size_t>(k, idx.size()));
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<float> gate::deterministicRow(Span<const float> logAlpha, int64_t keep) {
  // Rank on clamped values: entries beyond ±ln 100 tie, and the lower index wins.
  std::vector<float> clamped(logAlpha.size());
  for (size_t i = 0; i < logAlpha.size(); ++i)
    clamped[i] = static_cast<float>(clampLogAlpha(logAlpha[i]));
  std::vector<float> mask(logAlpha.size(), 0.0f);
  for (int64_t i : topK(Span<const float>(clamped), keep))
    mask[i] = static_cast<float>(softValue(clamped[i]));
  return mask;
}

void gate::deterministicGqaRow(Span<const float> headLA, Span<const float> groupLA,
                               int64_t keepGroups, int64_t headsPerGroup,
                               std::vector<float> &headMask, std::vector<float> &groupMask) {
  int64_t groups = groupLA.size();
  int64_t groupSize = headLA.size() / groups;
  groupMask = deterministicRow(groupLA, keepGroups);
  headMask.assign(headLA.size(), 0.0f);
  for (int64_t g = 0; g < groups; ++g) {
    if (groupMask[g] == 0.0f)
      continue;
    std::vector<float> inGroup = deterministicRow(headLA.slice(g * groupSize, groupSize),
                                                  headsPerGroup);
    std::copy(inGroup.begin(), inGroup.end(), headMask.begin() + g * groupSize);
  }
}

namespace {
uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
double uniformOpen(uint64_t &state) { // (0, 1)
  return (static_cast<double>(splitmix64(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
} // namespace

std::vector<float> gate::normalInit(uint64_t seed, uint64_t stream, size_t count,
                                    double mean, double std) {
  uint64_t state = seed * 0x2545f4914f6cdd1dULL + stream * 0x9e3779b97f4a7c15ULL + 1;
  std::vector<float> out(count);
  for (size_t i = 0; i < count; i += 2) {
    double u1 = uniformOpen(state), u2 = uniformOpen(state);
    double r = std::sqrt(-2.0 * std::log(u1)), t = 2.0 * M_PI * u2;
    out[i] = static_cast<float>(mean + std * r * std::cos(t));
    if (i + 1 < count)
      out[i + 1] = static_cast<float>(mean + std * r * std::sin(t));
  }
  return out;
}
