//===- Clock.h - seconds on a monotonic clock -----------------------------===//
#ifndef SHEAR_SUPPORT_CLOCK_H
#define SHEAR_SUPPORT_CLOCK_H

#include <chrono>

namespace shear {

/// Seconds since an arbitrary start, never going back: for durations.
inline double monotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace shear

#endif
