//===- Parallel.h - a small persistent thread pool ------------------------===//
#ifndef SHEAR_RUNTIME_PARALLEL_H
#define SHEAR_RUNTIME_PARALLEL_H

#include <cstdint>
#include <functional>

namespace shear::rt {

/// Calls fn(begin, end) on disjoint chunks covering [0, n), on up to
/// numThreads() threads (the caller is one of them). Returns when all are done.
void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn);

} // namespace shear::rt

#endif
