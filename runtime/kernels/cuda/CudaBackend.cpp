//===- CudaBackend.cpp - the CUDA backend and the plugin's entry points ----===//
#include "CudaBackend.h"
#include "TensorCoreAttention.h"
#include "shear/Runtime/CachingAllocator.h"
#include "shear/Runtime/HostStaged.h"
#include "shear/Runtime/PluginInterface.h"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

Status shear::rt::cuda::cudaCheck(cudaError_t e, const std::string &what) {
  if (e == cudaSuccess)
    return Status();
  cudaGetLastError(); // clear a non-sticky error
  return runFailure(what + ": " + cudaGetErrorString(e));
}

Status shear::rt::cuda::launched(const char *kernel) {
  return cudaCheck(cudaGetLastError(), std::string("CUDA kernel of '") + kernel + "'");
}

Status shear::rt::cuda::gemm(CudaContext &ctx, bool transA, bool transB, int64_t M, int64_t N,
                             int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                             int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M == 0 || N == 0)
    return Status();
  // Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ.
  cublasOperation_t opA = transB ? CUBLAS_OP_T : CUBLAS_OP_N, opB = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasStatus_t s;
  if (ctx.bf16Gemms) {
    // A bf16 program: inputs rounded to bf16 on tensor cores, float32
    // accumulation (the operands that are bf16 values are exact there).
    cublasSetMathMode(ctx.blas, CUBLAS_DEFAULT_MATH);
    s = cublasGemmEx_64(ctx.blas, opA, opB, N, M, K, &alpha, B, CUDA_R_32F, ldb, A, CUDA_R_32F, lda, &beta, C,
                        CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT);
    cublasSetMathMode(ctx.blas, CUBLAS_PEDANTIC_MATH);
  } else {
    s = cublasSgemm_64(ctx.blas, opA, opB, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc);
  }
  if (s != CUBLAS_STATUS_SUCCESS)
    return runFailure("cuBLAS sgemm " + std::to_string(M) + "x" + std::to_string(N) + "x" +
                      std::to_string(K) + ": " + cublasGetStatusString(s));
  return Status();
}

namespace {

class CudaAllocator : public Allocator {
public:
  explicit CudaAllocator(Device device) : device_(device) {}
  Device device() const override { return device_; }
  Result<std::shared_ptr<Buffer>> allocate(size_t bytes) override {
    size_t rounded = alignedBytes(bytes ? bytes : 1);
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, rounded);
    if (e != cudaSuccess)
      return cudaCheck(e, "out of GPU memory: cannot allocate " + std::to_string(rounded) +
                              " bytes on " + device_.str());
    return std::make_shared<Buffer>(p, rounded, device_, [](void *q) { cudaFree(q); });
  }

private:
  Device device_;
};

/// Page-locked host memory: the device copies from and to it at full
/// speed and without staging through the driver's own buffer. Where the
/// system refuses to lock more, pageable memory serves (slower, still right).
class PinnedHostAllocator : public Allocator {
public:
  Device device() const override { return Device{DeviceKind::Cpu, 0}; }
  Result<std::shared_ptr<Buffer>> allocate(size_t bytes) override {
    size_t rounded = alignedBytes(bytes ? bytes : 1);
    void *p = nullptr;
    if (cudaHostAlloc(&p, rounded, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError(); // not sticky: clear it
      return hostAllocator().allocate(bytes);
    }
    return std::make_shared<Buffer>(p, rounded, device(), [](void *q) { cudaFreeHost(q); });
  }
};

/// A GPU reuses kept buffers as they are; the emulation keeps its checks
/// (CachingAllocator::Reuse): exact sizes, reused memory refilled with 0xff.
CachingAllocator::Reuse reusePolicy() {
#ifdef SHEAR_CUDA_EMULATION
  return {true, [](void *p, size_t bytes) { cudaMemsetAsync(p, 0xff, bytes, nullptr); }};
#else
  return {};
#endif
}

class CudaBackend;
CudaBackend *gBackend = nullptr;
HostKernels *gHost = nullptr;
constexpr size_t kNumKernels = static_cast<size_t>(KernelId::NumKernels);
/// The native kernels, by id (run: null where there is none).
std::array<KernelImpl, kNumKernels> gNative{};
/// Those of them that take bf16 tensors as they are.
std::array<bool, kNumKernels> gTakesBf16{};

/// A table entry without a native kernel: the CPU kernel on host copies.
template <size_t Id>
Status staged(ExecContext &, const KernelParams &params, KernelIO &io);
/// A native kernel: directly for float32 calls, on float32 device copies for bf16 ones.
template <size_t Id>
Status native(ExecContext &context, const KernelParams &params, KernelIO &io);
/// A native kernel's calls run together: those it takes as they are in its
/// group launch, the others (host tensors, bf16 to convert) one by one.
template <size_t Id>
Status nativeGroup(ExecContext &context, const KernelParams &params, const std::vector<KernelIO *> &calls);

class CudaBackend : public Backend {
public:
  CudaBackend(int index, int threads)
      : allocator_(Device{DeviceKind::Cuda, index}), host_(threads) {
    context_.device = index;
  }
  ~CudaBackend() override {
    gBackend = nullptr;
    gHost = nullptr;
    context_.gemmPlans.reset(); // its descriptors, before the handle
    if (context_.lt)
      cublasLtDestroy(context_.lt);
    if (context_.blas)
      cublasDestroy(context_.blas);
    if (context_.checkSlots)
      cudaFree(context_.checkSlots);
    if (context_.checkValues)
      cudaFree(context_.checkValues);
    for (UploadSlot &slot : uploads_)
      if (slot.done) {
        cudaEventSynchronize(slot.done); // its copy has read the slot
        cudaEventDestroy(slot.done);
      }
    if (context_.stream)
      cudaStreamDestroy(context_.stream);
  }

  Status init() {
#ifndef SHEAR_CUDA_EMULATION // the emulation needs no driver
    // Without a driver the runtime's own message ("driver version is
    // insufficient") would mislead: say what is missing.
    void *driver = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!driver)
      return invalidInput("no CUDA driver on this machine (libcuda.so.1 cannot be loaded), so no GPU "
                          "to run on");
    ::dlclose(driver);
#endif
    int count = 0;
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaGetDeviceCount(&count), "no usable CUDA device"));
    if (context_.device >= count)
      return invalidInput("no CUDA device " + std::to_string(context_.device) + " (" +
                          std::to_string(count) + " present)");
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaSetDevice(context_.device), "cudaSetDevice"));
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaGetDeviceProperties(&props_, context_.device),
                                    "cudaGetDeviceProperties"));
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaStreamCreateWithFlags(&context_.stream, cudaStreamNonBlocking),
                                    "cudaStreamCreate"));
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMalloc(&context_.checkSlots, kCheckSlots * sizeof(unsigned long long)),
                                    "cudaMalloc"));
    SHEAR_RETURN_IF_ERROR(
        cudaCheck(cudaMalloc(&context_.checkValues, kCheckSlots * sizeof(int64_t)), "cudaMalloc"));
    if (cublasCreate(&context_.blas) != CUBLAS_STATUS_SUCCESS)
      return runFailure("cuBLAS could not be initialised on " + device().str());
    if (cublasLtCreate(&context_.lt) != CUBLAS_STATUS_SUCCESS)
      return runFailure("cuBLASLt could not be initialised on " + device().str());
    // float32 GEMMs stay float32 (no TF32): the CPU backend is the reference.
    cublasSetMathMode(context_.blas, CUBLAS_PEDANTIC_MATH);
    cublasSetStream(context_.blas, context_.stream);
    gBackend = this;
    gHost = &host_;
    Define define = [](KernelId id, KernelImpl impl) { gNative[static_cast<size_t>(id)] = impl; };
    registerElementwise(define);
    registerEmbedding(define);
    registerNorm(define);
    registerLinear(define);
    registerOptimizer(define);
    registerLoss(define);
    registerFusedLoss(define);
    registerBackward(define);
    registerAttention(define);
    registerPrecision(define);
    registerStatistics(define);
    registerGates(define);
    registerResidualNorm(define);
    setAttentionAllocator(cache_);
    context_.allocator = &cache_;
    addAll(std::make_index_sequence<kNumKernels>());
    return Status();
  }

  std::string describe() const override {
    return device().str() + " (" + props_.name + ", sm_" + std::to_string(props_.major) +
           std::to_string(props_.minor) + "; " + std::to_string(native_) + " of " +
           std::to_string(static_cast<int>(KernelId::NumKernels)) + " kernels native (" +
           std::to_string(bf16Native_) + " of them taking bf16 tensors as they are, the others "
           "through float32 copies), the others staged through the host)";
  }
  Device device() const override { return allocator_.device(); }
  // Buffers come from the cache: cudaMalloc and cudaFree (which waits for
  // the device) happen in the first step only.
  Allocator &allocator() override { return cache_; }
  // Staged calls' copies (--offload's gradients and working copies) from
  // page-locked buffers, kept: locking memory costs more than copying it.
  // The copies synchronise before returning, so a buffer released is free.
  Allocator &stagingAllocator() override { return staging_; }
  ExecContext &context() override { return context_; }
  // bf16: GEMMs on tensor cores (float32 ones run without TF32, ~10x slower).
  DType preferredDType() const override { return DType::BF16; }

  Status copy(const Tensor &dst, const Tensor &src) override {
    if (dst.bytes() != src.bytes() || dst.dtype() != src.dtype())
      return internalError("copy of " + std::to_string(src.bytes()) + " bytes of " +
                           dtypeName(src.dtype()) + " into " + std::to_string(dst.bytes()) +
                           " bytes of " + dtypeName(dst.dtype()));
    if (dst.sameStorage(src) || src.bytes() == 0)
      return Status();
    if (src.device().kind == DeviceKind::Cpu && dst.device().kind != DeviceKind::Cpu &&
        src.bytes() <= kUploadBytes)
      return upload(dst, src);
    SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemcpyAsync(dst.data(), src.data(), src.bytes(),
                                                    cudaMemcpyDefault, context_.stream),
                                    "copy to " + dst.device().str()));
    // Host memory may be reused as soon as this returns; the stream waited
    // for, the kernels' input checks are read too.
    if (dst.device().kind == DeviceKind::Cpu || src.device().kind == DeviceKind::Cpu) {
      SHEAR_RETURN_IF_ERROR(cudaCheck(cudaStreamSynchronize(context_.stream), "copy to " + dst.device().str()));
      return flushChecks(context_);
    }
    return Status();
  }
  Status zero(const Tensor &t) override {
    return cudaCheck(cudaMemsetAsync(t.data(), 0, t.bytes(), context_.stream), "zero");
  }
  bool memoryInfo(size_t &free, size_t &total) override {
    if (cudaMemGetInfo(&free, &total) != cudaSuccess)
      return false;
    free += cache_.stats().keptBytes; // kept for reuse, free to a plan
    return true;
  }
  Result<Tensor> toHost(const Tensor &t) override {
    if (t.device().kind == DeviceKind::Cpu)
      return t;
    auto host = Tensor::allocate(hostAllocator(), t.shape(), t.dtype());
    if (!host.ok())
      return host.status();
    SHEAR_RETURN_IF_ERROR(copy(*host, t));
    return host;
  }

  // GEMM throughput (4096³, best of 3) as a program of that storage runs
  // its GEMMs (float32 SGEMM; bf16 operands through cuBLASLt for bf16),
  // against which MFU is given.
  double peakFlops(DType storage) override {
    bool bf16 = storage == DType::BF16;
    double &peak = bf16 ? peakBf16_ : peak_;
    if (peak > 0)
      return peak;
#ifdef SHEAR_CUDA_EMULATION
    const int64_t n = 512; // the CPU's GEMM: a 4096³ one takes seconds
#else
    const int64_t n = 4096;
#endif
    DType in = bf16 ? DType::BF16 : DType::F32;
    auto a = Tensor::allocate(cache_, {n, n}, in);
    auto c = Tensor::allocate(cache_, {n, n}, DType::F32);
    if (!a.ok() || !c.ok() || !zero(*a).ok())
      return 0;
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    for (int i = 0; i < 4; ++i) {
      cudaEventRecord(start, context_.stream);
      // The GEMMs a bf16 layer runs: x wᵀ (the weight transposed).
      Status s = gemmEx(context_, false, true, n, n, n, 1.0f, operand(*a), n, operand(*a), n, 0.0f, c->data(),
                        DType::F32, n);
      cudaEventRecord(stop, context_.stream);
      cudaEventSynchronize(stop);
      float ms = 0;
      cudaEventElapsedTime(&ms, start, stop);
      if (s.ok() && i > 0 && ms > 0) // the first is a warm-up
        peak = std::max(peak, 2.0 * n * n * n / (ms * 1e-3));
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return peak;
  }

  Result<AttentionCoreTiming> timeAttentionCore(int64_t B, int64_t T, int64_t H, int64_t G, int64_t hd,
                                                int iters) override {
    return cuda::timeAttentionCore(context_, cache_, B, T, H, G, hd, iters);
  }

  HostKernels &host() { return host_; }

private:
  template <size_t... Ids> void addAll(std::index_sequence<Ids...>) {
    (addOne<Ids>(), ...);
  }
  template <size_t Id> void addOne() {
    const KernelImpl &k = gNative[Id];
    if (!k.run) {
      add(static_cast<KernelId>(Id), {&staged<Id>});
      return;
    }
    add(static_cast<KernelId>(Id), {&native<Id>, k.workspace, k.runGroup ? &nativeGroup<Id> : nullptr});
    ++native_;
    bf16Native_ += gTakesBf16[Id];
  }

  // A small upload (a batch's token ids and labels, a step's scalars) is
  // copied into a page-locked slot and queued without waiting for the
  // device: the host goes on queueing the step (or the next micro-batch)
  // while the kernels before it run. A slot is reused once the copy that
  // read it has run (its event): with 8 slots, after 8 later uploads.
  struct UploadSlot {
    std::shared_ptr<Buffer> buffer;
    cudaEvent_t done = nullptr;
  };
  static constexpr size_t kUploadSlots = 8, kUploadBytes = size_t(4) << 20;
  Status upload(const Tensor &dst, const Tensor &src) {
    const std::string what = "copy to " + dst.device().str();
    UploadSlot &slot = uploads_[nextUpload_++ % kUploadSlots];
    if (slot.done)
      SHEAR_RETURN_IF_ERROR(cudaCheck(cudaEventSynchronize(slot.done), what));
    else
      SHEAR_RETURN_IF_ERROR(cudaCheck(cudaEventCreate(&slot.done), what));
    if (!slot.buffer || slot.buffer->bytes() < src.bytes()) {
      slot.buffer.reset();
      auto b = pinned_.allocate(std::max(src.bytes(), size_t(64) << 10));
      if (!b.ok())
        return b.status();
      slot.buffer = b.take();
    }
    std::memcpy(slot.buffer->data(), src.data(), src.bytes());
    SHEAR_RETURN_IF_ERROR(cudaCheck(
        cudaMemcpyAsync(dst.data(), slot.buffer->data(), src.bytes(), cudaMemcpyHostToDevice, context_.stream),
        what));
    return cudaCheck(cudaEventRecord(slot.done, context_.stream), what);
  }

  CudaContext context_;
  std::array<UploadSlot, kUploadSlots> uploads_;
  size_t nextUpload_ = 0;
  CudaAllocator allocator_;
  CachingAllocator cache_{allocator_, reusePolicy()};
  PinnedHostAllocator pinned_;
  CachingAllocator staging_{pinned_};
  HostKernels host_;
  cudaDeviceProp props_{};
  int native_ = 0, bf16Native_ = 0;
  double peak_ = 0, peakBf16_ = 0;
};

template <size_t Id>
Status staged(ExecContext &, const KernelParams &params, KernelIO &io) {
  return gHost->run(*gBackend, static_cast<KernelId>(Id), params, io);
}

} // namespace

bool shear::rt::cuda::allFloat32(const KernelIO &io) {
  auto f32 = [](const Tensor *t) { return !t || !t->defined() || !isFloatDType(t->dtype()) || t->dtype() == DType::F32; };
  for (const Tensor *t : io.in)
    if (!f32(t))
      return false;
  for (const Tensor *t : io.out)
    if (!f32(t))
      return false;
  return true;
}

namespace {

/// Whether a tensor of the call lives in host memory (--offload's moments).
bool anyOnHost(const KernelIO &io) {
  auto host = [](const Tensor *t) { return t && t->defined() && t->device().kind == DeviceKind::Cpu; };
  for (const Tensor *t : io.in)
    if (host(t))
      return true;
  for (const Tensor *t : io.out)
    if (host(t))
      return true;
  return false;
}

template <size_t Id>
Status native(ExecContext &context, const KernelParams &params, KernelIO &io) {
  // A call with tensors kept in host memory runs there (the CPU kernel).
  if (anyOnHost(io))
    return gHost->run(*gBackend, static_cast<KernelId>(Id), params, io);
  // Kernels that take bf16 tensors get every call (cast converts between
  // types); the others read float32, so a bf16 call runs on copies.
  if (gTakesBf16[Id] || allFloat32(io))
    return gNative[Id].run(context, params, io);
  return runInFloat32(static_cast<KernelId>(Id), gNative[Id].run, context, params, io);
}

// A group's calls read none of each other's results: the device's are
// queued first, then those with tensors in host memory (--offload's AdamW)
// run on the host, pipelined with their copies (HostKernels::runGroup).
template <size_t Id>
Status nativeGroup(ExecContext &context, const KernelParams &params, const std::vector<KernelIO *> &calls) {
  std::vector<KernelIO *> direct;
  std::vector<const KernelIO *> onHost;
  for (KernelIO *io : calls)
    if (anyOnHost(*io))
      onHost.push_back(io);
    else if (!(gTakesBf16[Id] || allFloat32(*io)))
      SHEAR_RETURN_IF_ERROR(native<Id>(context, params, *io));
    else
      direct.push_back(io);
  if (!direct.empty())
    SHEAR_RETURN_IF_ERROR(gNative[Id].runGroup(context, params, direct));
  return onHost.empty() ? Status() : gHost->runGroup(*gBackend, static_cast<KernelId>(Id), params, onHost);
}

} // namespace

void shear::rt::cuda::takesBf16(KernelId id) { gTakesBf16[static_cast<size_t>(id)] = true; }

// The plugin's entry points (C names, looked up with dlsym).
extern "C" {
/// The interface this plugin was built against (PluginInterface.h):
/// shear-run refuses a plugin of another build.
__attribute__((visibility("default"))) uint64_t shearCudaPluginAbi() {
  return pluginInterfaceStamp();
}

/// A backend on device 0, or null with the reason in `error`.
__attribute__((visibility("default"))) Backend *shearCudaCreateBackend(int threads, char *error,
                                                                       size_t errorBytes) {
  auto backend = std::make_unique<CudaBackend>(0, threads);
  if (Status s = backend->init(); !s.ok()) {
    std::snprintf(error, errorBytes, "%s", s.message().c_str());
    return nullptr;
  }
  return backend.release();
}
}
