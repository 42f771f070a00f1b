//===- GateMath.h - hard-concrete gates (METHOD.md §2) --------------------===//
#ifndef SHEAR_SUPPORT_GATEMATH_H
#define SHEAR_SUPPORT_GATEMATH_H

#include "shear/Support/Span.h"

#include <cstdint>
#include <vector>

namespace shear::gate {

constexpr double kGamma = -0.1, kZeta = 1.1, kBeta = 2.0 / 3.0, kEpsilon = 1e-6;
constexpr double kInitMean = 5.0, kInitStd = 0.01;

/// ln 100: log_alpha is clamped to ±this before every use.
double logAlphaLimit();
double clampLogAlpha(double logAlpha);
double sigmoid(double x);
/// P(z ≠ 0) = sigmoid(log_alpha − β·ln(−γ/ζ)): a gate's score.
double probNonZero(double logAlpha);
/// The value a kept entry takes in a deterministic mask: sigmoid(1.2·log_alpha).
double softValue(double logAlpha);
/// A training-mode draw for uniform noise u in (0, 1).
double sample(double logAlpha, double u);

/// Indices of the k largest values, ties broken towards the lower index,
/// returned in increasing index order.
std::vector<int64_t> topK(Span<const float> values, int64_t k);

/// Deterministic mask of one row: the `keep` largest log_alpha take their soft
/// value, the others 0.
std::vector<float> deterministicRow(Span<const float> logAlpha, int64_t keep);

/// Deterministic masks of one layer of a grouped-query model: the `keepGroups`
/// groups with the largest kv_group log_alpha, and in each kept group the
/// `headsPerGroup` heads with the largest head log_alpha. Heads of dropped
/// groups are 0.
void deterministicGqaRow(Span<const float> headLogAlpha,
                         Span<const float> groupLogAlpha, int64_t keepGroups,
                         int64_t headsPerGroup, std::vector<float> &headMask,
                         std::vector<float> &groupMask);

/// Reproducible N(mean, std) draws (splitmix64 + Box-Muller), the same on every
/// platform.
std::vector<float> normalInit(uint64_t seed, uint64_t stream, size_t count,
                              double mean, double std);

} // namespace shear::gate

#endif
