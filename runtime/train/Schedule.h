//===- Schedule.h - the learning-rate schedule ----------------------------===//
#ifndef SHEAR_RUNTIME_TRAIN_SCHEDULE_H
#define SHEAR_RUNTIME_TRAIN_SCHEDULE_H

#include <cmath>
#include <cstdint>

namespace shear::rt {

/// Linear warm-up over `warmupFraction` of the steps to `peak`, then cosine
/// decay to `minRatio` · peak at the last step (METHOD.md §3).
inline double learningRate(double peak, int64_t steps, double warmupFraction, double minRatio,
                           int64_t step) {
  int64_t warmup = static_cast<int64_t>(std::llround(warmupFraction * steps));
  if (step < warmup)
    return peak * (step + 1) / warmup;
  double progress = steps > warmup ? static_cast<double>(step - warmup) / (steps - warmup) : 1;
  return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + std::cos(M_PI * progress)));
}

} // namespace shear::rt

#endif
