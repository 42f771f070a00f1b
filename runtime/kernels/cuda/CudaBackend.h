//===- CudaBackend.h - the CUDA backend's context and native kernels ------===//
//
// The CUDA backend lives in a plugin (lib/libshear-cuda.so) that shear-run
// loads for --device cuda|auto, so shear-run itself starts where there is no
// driver. Its tensors live in device memory; kernels run on one stream.
// Every table entry has a kernel: a native CUDA one where this directory
// has it, otherwise the CPU kernel staged through host copies
// (HostStaged.h), exact but slow; docs/cuda.md lists which are which.
// Version 1's native kernels take float32 tensors (cuBLAS without TF32):
// the CPU backend is their reference to float32 rounding. A call with bf16
// tensors (a bf16 program) runs them on float32 device copies, until the
// bf16 kernels exist.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELS_CUDA_CUDABACKEND_H
#define SHEAR_RUNTIME_KERNELS_CUDA_CUDABACKEND_H

#include "shear/Runtime/Backend.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <vector>
#include <string>

namespace shear::rt::cuda {

struct GemmPlans; // GemmLt.cpp: cuBLASLt's choices, by shape

class CudaContext : public ExecContext {
public:
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  /// The GEMMs of bf16 operands: each shape's cuBLASLt algorithm, chosen
  /// the first time the shape is seen (GemmLt.cpp).
  std::shared_ptr<GemmPlans> gemmPlans;
  /// The device's allocator (the backend's cache), for kernels' scratch:
  /// reuse is safe on the one stream.
  Allocator *allocator = nullptr;
  /// Input checks of kernels (a token id or label outside the vocabulary),
  /// read without a sync of their own (InputChecks.cu): a kernel that
  /// checks takes a slot, its threads atomicMin the position of a bad
  /// element into it, the bad value is copied beside it right after, and
  /// the slots are read at the next copy to the host, which waits for the
  /// stream anyway.
  unsigned long long *checkSlots = nullptr; // kCheckSlots on the device
  int64_t *checkValues = nullptr;           // the value at each slot's position
  struct PendingCheck {
    int64_t V;
    const char *what, *kernel;
  };
  std::vector<PendingCheck> pendingChecks;
  /// Device tensors kept across calls (RoPE tables per parameters and length).
  std::map<std::string, Tensor> cache;
  /// Set while a call of a bf16 program runs: GEMMs take bf16 tensor cores
  /// (inputs rounded to bf16, float32 accumulation) instead of float32.
  bool bf16Gemms = false;
};

inline CudaContext &cudaContext(ExecContext &c) { return static_cast<CudaContext &>(c); }

/// An error Status naming what failed, or OK for cudaSuccess.
Status cudaCheck(cudaError_t e, const std::string &what);
/// The launch of `kernel` just made (cudaGetLastError).
Status launched(const char *kernel);
constexpr size_t kCheckSlots = 64;
/// A slot for the kernel about to check token ids or labels against [0, V),
/// set to "none" (all ones) on the stream; when every slot is taken, they
/// are read first (flushChecks: a sync once per 64 checks).
Result<unsigned long long *> checkSlot(CudaContext &ctx, int64_t V, const char *what, const char *kernel);
/// After the checking kernel: copies the value at the slot's position of
/// `values` beside the slot (on the stream, while it is still the value the
/// kernel saw).
Status keepCheckedValue(CudaContext &ctx, const Tensor &values);
/// Reads the slots taken since the last time (synchronising the stream):
/// an error naming the first bad value of the earliest check that found one
/// in the CPU kernels' words ("token id 7 at position 3 is outside the
/// vocabulary [0, 5)"), then the kernel; or OK. Every copy to the host
/// calls it.
Status flushChecks(CudaContext &ctx);

/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major float32 (cuBLAS;
/// on bf16 tensor cores while ctx.bf16Gemms).
Status gemm(CudaContext &ctx, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
            float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
            float *C, int64_t ldc);

/// A GEMM operand in device memory: float32 or bf16 elements.
struct GemmOperand {
  const void *p;
  DType type;
};
/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, for A and B of one
/// type and C float32 or bf16: bf16 operands as they are on tensor cores
/// with float32 accumulation (C rounded once, when stored), through
/// cuBLASLt with the algorithm chosen once per shape and kept
/// (SHEAR_CUDA_GEMM=cublas: cublasGemmEx instead); float32 ones as gemm()
/// computes them (GemmLt.cpp).
Status gemmEx(CudaContext &ctx, bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
              GemmOperand A, int64_t lda, GemmOperand B, int64_t ldb, float beta, void *C, DType cType,
              int64_t ldc);

inline GemmOperand operand(const Tensor &t) { return {t.data(), t.dtype()}; }
inline GemmOperand bf16(const void *p) { return {p, DType::BF16}; }

/// Whether every tensor given (null or undefined ones aside) is of `type`.
inline bool all(DType type, std::initializer_list<const Tensor *> tensors) {
  for (const Tensor *t : tensors)
    if (t && t->defined() && t->dtype() != type)
      return false;
  return true;
}
/// Whether every float tensor of the call is float32 (the float32 kernels').
bool allFloat32(const KernelIO &io);

/// The storage of a call of a kernel written for float32 and bf16 alike:
/// F32 or BF16 when every tensor of `stored` is of that type and every one
/// of `f32s` (masks, statistics) float32; Other when the call mixes them
/// some other way (it then runs on float32 copies, runInFloat32).
enum class Storage { F32, BF16, Other };
inline Storage storageOf(std::initializer_list<const Tensor *> stored, std::initializer_list<const Tensor *> f32s) {
  if (!all(DType::F32, f32s))
    return Storage::Other;
  if (all(DType::F32, stored))
    return Storage::F32;
  return all(DType::BF16, stored) ? Storage::BF16 : Storage::Other;
}

/// y[i] = x[i] rounded to bf16 (to nearest even), on the stream (Precision.cu).
Status roundToBf16(CudaContext &ctx, const float *x, void *y, int64_t n);
/// y[i] = bf16 x[i] as float32, on the stream (Precision.cu).
Status widenFromBf16(CudaContext &ctx, const void *x, float *y, int64_t n);

struct StreamBuffer;
/// A bf16 view of a cotangent for bf16 GEMMs: itself when bf16, else a
/// rounded copy in `scratch` (bf16Bytes(t.numel()) of the kernel's planned
/// workspace; Precision.cu).
Result<const void *> bf16Cotangent(CudaContext &ctx, const Tensor &t, void *scratch);
/// The bytes of n bf16 values, aligned as the executor's arena.
inline size_t bf16Bytes(int64_t n) { return alignedBytes(static_cast<size_t>(n) * 2); }

/// Scratch device memory from the context's allocator, released when this
/// goes out of scope: on the one stream its next user runs after the
/// kernels that use it now.
struct StreamBuffer {
  void *p = nullptr;
  std::shared_ptr<Buffer> buffer;
  Status allocate(CudaContext &ctx, size_t bytes, const char *what) {
    auto b = ctx.allocator->allocate(bytes);
    if (!b.ok())
      return b.status().prefixed(std::string("scratch of ") + what + ": ");
    buffer = b.take();
    p = buffer->data();
    return Status();
  }
};

/// sum[d] = Σ_r a[r, d] · b[r, d] · scale[r] (scale null: 1) over a
/// [rows, D] layout, in double and in a fixed order (Backward.cu).
/// `partial` holds columnPartialCount(rows) · D doubles.
Status columnSums(CudaContext &ctx, const float *a, const float *b, const double *scale,
                  int64_t rows, int64_t D, double *partial, double *sum);
int64_t columnPartialCount(int64_t rows);

/// Blocks of 256 threads covering n elements (a grid-stride loop does the rest).
inline unsigned blocksFor(int64_t n) {
  int64_t b = (n + 255) / 256;
  return static_cast<unsigned>(b < 1 ? 1 : b > 65535 ? 65535 : b);
}

using Define = std::function<void(KernelId, KernelImpl)>;
/// Marks a native kernel that takes bf16 tensors as they are (it runs its
/// own float32 copies where it needs them); the others get every call with
/// bf16 tensors on float32 copies (runInFloat32).
void takesBf16(KernelId id);
void registerElementwise(const Define &define);
void registerEmbedding(const Define &define);
void registerNorm(const Define &define);
void registerLinear(const Define &define);
void registerOptimizer(const Define &define);
void registerLoss(const Define &define);
void registerFusedLoss(const Define &define);
void registerBackward(const Define &define);
void registerAttention(const Define &define);
void registerPrecision(const Define &define);
void registerStatistics(const Define &define);
void registerGates(const Define &define);
void registerResidualNorm(const Define &define);
// What residual_add_rms_norm.bwd composes (Backward.cu): rms_norm.bwd and
// residual_add.bwd, and the workspace either takes for rows of x.
Status rmsNormBackward(ExecContext &context, const KernelParams &params, KernelIO &io);
Status residualAddBackward(ExecContext &context, const KernelParams &params, KernelIO &io);
size_t rowBackwardWorkspace(const std::vector<int64_t> &x);
/// Runs `kernel` (a native kernel for float32 tensors) on a call with bf16
/// tensors: on float32 device copies, each result cast back (Precision.cu).
Status runInFloat32(KernelId id, KernelFn kernel, ExecContext &context, const KernelParams &params,
                    KernelIO &io);
/// The allocator attention keeps its RoPE tables in.
void setAttentionAllocator(Allocator &allocator);

} // namespace shear::rt::cuda

#endif
