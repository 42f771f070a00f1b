//===- CpuBackend.cpp - the CPU backend: float32, BLAS GEMMs, threads -----===//
#include "CpuBackend.h"
#include "Blas.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <utility>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

ThreadPool::ThreadPool(int threads) {
  size_ = std::max(1, threads);
  for (int i = 1; i < size_; ++i)
    workers_.emplace_back([this, i] { loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto &t : workers_)
    t.join();
}

void ThreadPool::parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  int parts = static_cast<int>(std::min<int64_t>(size_, n));
  if (parts <= 1) {
    if (n > 0)
      fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    parts_ = parts;
    pending_ = parts - 1;
    ++generation_;
  }
  cv_.notify_all();
  chunk(0);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return pending_ == 0; });
  fn_ = nullptr;
}

void ThreadPool::chunk(int part) {
  int64_t begin = n_ * part / parts_, end = n_ * (part + 1) / parts_;
  if (begin < end)
    (*fn_)(begin, end);
}

void ThreadPool::loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_)
      return;
    seen = generation_;
    if (index >= parts_)
      continue;
    lock.unlock();
    chunk(index);
    lock.lock();
    if (--pending_ == 0)
      done_.notify_one();
  }
}

namespace {
constexpr size_t kNumKernels = static_cast<size_t>(KernelId::NumKernels);

/// The CPU kernels as written: for float32 tensors.
const std::array<KernelImpl, kNumKernels> &float32Kernels() {
  static const std::array<KernelImpl, kNumKernels> table = [] {
    std::array<KernelImpl, kNumKernels> t{};
    Define define = [&t](KernelId id, KernelImpl impl) { t[static_cast<size_t>(id)] = impl; };
    registerEmbed(define);
    registerRMSNorm(define);
    registerAttention(define);
    registerMLP(define);
    registerResidual(define);
    registerLMHead(define);
    registerGate(define);
    registerCrossEntropy(define);
    registerLMHeadLoss(define);
    registerLagrangian(define);
    registerOptimizer(define);
    registerStatistics(define);
    registerPrecision(define);
    registerResidualNorm(define);
    return t;
  }();
  return table;
}

/// What the backend registers for kernel `Id`: the float32 kernel behind
/// the precision adapter (bf16 operands and results; Precision.cpp).
template <size_t Id>
Status adaptedKernel(ExecContext &context, const KernelParams &params, KernelIO &io) {
  return runInFloat32(static_cast<KernelId>(Id), float32Kernels()[Id].run, context, params, io);
}
template <size_t... Ids>
std::array<KernelFn, kNumKernels> adaptedKernels(std::index_sequence<Ids...>) {
  return {&adaptedKernel<Ids>...};
}

class CpuBackend : public Backend {
public:
  explicit CpuBackend(int threads) : context_(threads) {
    setGemmThreads(context_.threads());
    static const std::array<KernelFn, kNumKernels> adapted =
        adaptedKernels(std::make_index_sequence<kNumKernels>());
    for (size_t id = 0; id < kNumKernels; ++id)
      if (const KernelImpl &k = float32Kernels()[id]; k.run)
        add(static_cast<KernelId>(id), KernelImpl{adapted[id], k.workspace});
  }

  std::string describe() const override {
    return "cpu (" + std::to_string(context_.threads()) + " thread" +
           (context_.threads() == 1 ? "" : "s") + ", float32" +
           (std::string(gemmLibrary()) == "OpenBLAS" ? "" : ", built-in GEMM") + ")";
  }
  Device device() const override { return Device{}; }
  Allocator &allocator() override { return hostAllocator(); }
  ExecContext &context() override { return context_; }
  DType preferredDType() const override { return DType::F32; }
  Status copy(const Tensor &dst, const Tensor &src) override {
    if (dst.bytes() != src.bytes())
      return internalError("copy of " + std::to_string(src.bytes()) + " bytes into " +
                           std::to_string(dst.bytes()));
    if (!dst.sameStorage(src))
      std::memcpy(dst.data(), src.data(), src.bytes());
    return Status();
  }
  Status zero(const Tensor &t) override {
    std::memset(t.data(), 0, t.bytes());
    return Status();
  }
  Result<Tensor> toHost(const Tensor &t) override { return t; }

  // float32 GEMM throughput with this backend's threads (768³, best of 4).
  // bf16 programs compute in float32 here too: one peak.
  double peakFlops(DType) override {
    if (peak_ > 0)
      return peak_;
    const int n = 768;
    std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
    for (int i = 0; i < 4; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
      double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      peak_ = std::max(peak_, 2.0 * n * n * n / dt);
    }
    return peak_;
  }

private:
  CpuContext context_;
  double peak_ = 0;
};
} // namespace

std::unique_ptr<Backend> shear::rt::createCpuBackend(int threads) {
  return std::make_unique<CpuBackend>(threads);
}
