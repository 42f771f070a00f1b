//===- CpuBackend.h - the CPU backend's context and kernel registration ---===//
#ifndef SHEAR_RUNTIME_KERNELS_CPU_CPUBACKEND_H
#define SHEAR_RUNTIME_KERNELS_CPU_CPUBACKEND_H

#include "shear/Runtime/Backend.h"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace shear::rt::cpu {

/// A small persistent pool: parallelFor splits [0, n) into one chunk per
/// thread (the caller is one of them) and returns when all are done.
class ThreadPool {
public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int size() const { return size_; }
  void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn);

private:
  void chunk(int part);
  void loop(int index);
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  const std::function<void(int64_t, int64_t)> *fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0, pending_ = 0, size_ = 1;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

/// What the CPU kernels share: the thread pool (OpenBLAS uses as many threads).
class CpuContext : public ExecContext {
public:
  explicit CpuContext(int threads) : pool_(threads) {}
  int threads() const { return pool_.size(); }
  void parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
    pool_.parallelFor(n, fn);
  }

private:
  ThreadPool pool_;
};

inline CpuContext &cpuContext(ExecContext &c) { return static_cast<CpuContext &>(c); }

/// Carves float arrays out of a kernel's workspace, 64-byte aligned.
class Scratch {
public:
  explicit Scratch(const KernelIO &io) : next_(static_cast<char *>(io.workspace)), end_(next_ + io.workspaceBytes) {}
  float *floats(int64_t count) {
    char *p = next_;
    next_ += alignedBytes(static_cast<size_t>(count) * sizeof(float));
    return next_ <= end_ ? reinterpret_cast<float *>(p) : nullptr;
  }
  /// The bytes `floats` takes for these counts, in order.
  static size_t bytesFor(std::initializer_list<int64_t> counts) {
    size_t n = 0;
    for (int64_t c : counts)
      n += alignedBytes(static_cast<size_t>(c) * sizeof(float));
    return n;
  }

private:
  char *next_, *end_;
};

/// Labels must be a vocabulary entry or the ignored index.
Status checkLabels(const Tensor &labels, int64_t V, int64_t ignore);
/// log Σ exp(l · scale) of one row of V values, computed stably around its
/// maximum (in double).
double logSumExp(const float *l, int64_t V, double scale = 1.0);

using Define = std::function<void(KernelId, KernelImpl)>;
void registerEmbed(const Define &define);
void registerRMSNorm(const Define &define);
void registerAttention(const Define &define);
void registerMLP(const Define &define);
void registerResidual(const Define &define);
void registerLMHead(const Define &define);
void registerGate(const Define &define);
void registerCrossEntropy(const Define &define);
void registerLMHeadLoss(const Define &define);
void registerLagrangian(const Define &define);
void registerOptimizer(const Define &define);
void registerStatistics(const Define &define);
void registerPrecision(const Define &define);
void registerResidualNorm(const Define &define);

// Kernels that residual_add_rms_norm composes (RMSNorm.cpp, Residual.cpp).
Status rmsNormKernel(ExecContext &context, const KernelParams &params, KernelIO &io);
Status rmsNormBwdKernel(ExecContext &context, const KernelParams &params, KernelIO &io);
Status residualAddKernel(ExecContext &context, const KernelParams &params, KernelIO &io);
Status residualAddBwdKernel(ExecContext &context, const KernelParams &params, KernelIO &io);

/// Runs `kernel` (written for float32) on `io`: directly when every float
/// tensor is float32, otherwise on float32 copies of the others, rounding
/// each result to its declared type (Precision.cpp).
Status runInFloat32(KernelId id, KernelFn kernel, ExecContext &context, const KernelParams &params,
                    KernelIO &io);

} // namespace shear::rt::cpu

#endif
