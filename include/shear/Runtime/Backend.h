//===- Backend.h - a device's kernels, memory and execution context -------===//
//
// A backend implements every entry of the kernel table for one device, owns
// the allocator its buffers come from and the execution context its kernels
// share (the CPU backend's thread pool; a CUDA backend's stream, library
// handles and workspace). Kernels write into outputs the executor allocated
// and report failure as a Status: a precondition the input broke (a token id
// outside the vocabulary) is InvalidInput, never an abort.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_BACKEND_H
#define SHEAR_RUNTIME_BACKEND_H

#include "shear/Runtime/KernelParams.h"
#include "shear/Runtime/Tensor.h"

#include <array>

namespace shear::rt {

/// What a backend's kernels share; each backend derives its own.
class Communicator;

class ExecContext {
public:
  virtual ~ExecContext() = default;
  /// The data-parallel ranks (all_reduce); null: a single process.
  Communicator *communicator = nullptr;
};

/// One call's operands and results, by declared slot. Outputs are allocated
/// with their inferred shapes; an output that updates an operand in place
/// (KernelDecl::results[i].updates) already holds that operand's contents and
/// may be the very same memory.
struct KernelIO {
  std::vector<const Tensor *> in; // per operand slot (nullptr: absent), then the variadic tail
  std::vector<Tensor *> out;      // per result slot (nullptr: absent)
  void *workspace = nullptr;      // scratch of the size the kernel asked for
  size_t workspaceBytes = 0;

  const Tensor &input(size_t i) const { return *in[i]; }
  const Tensor *optional(size_t i) const { return in[i]; }
  Tensor &output(size_t i) const { return *out[i]; }
  Tensor *optionalOutput(size_t i) const { return out[i]; }
};

using KernelFn = Status (*)(ExecContext &context, const KernelParams &params, KernelIO &io);
/// Scratch bytes a call needs (operand shapes as for inferShapes).
using WorkspaceFn = size_t (*)(const KernelParams &params, const std::vector<const Shape *> &operands);

/// Several calls of one kernel with the same parameters, run together (in
/// one launch where the device gains by it: AdamW over all tensors). The
/// executor hands over only calls that follow one another in the program,
/// with no other kernel between them and none reading another's results,
/// so any order of running them is the program's.
using KernelGroupFn = Status (*)(ExecContext &context, const KernelParams &params,
                                 const std::vector<KernelIO *> &calls);

struct KernelImpl {
  KernelFn run = nullptr;
  WorkspaceFn workspace = nullptr; // nullptr: none
  KernelGroupFn runGroup = nullptr; // nullptr: one call at a time (kernels without workspace only)
};

class Backend {
public:
  virtual ~Backend() = default;
  /// "cpu (2 threads)".
  virtual std::string describe() const = 0;
  virtual Device device() const = 0;
  virtual Allocator &allocator() = 0;
  virtual ExecContext &context() = 0;
  /// The element type of weights and activations (float32 or bf16) that
  /// `--precision auto` compiles for on this backend: the one its native
  /// kernels take. Any backend runs programs of either precision.
  virtual DType preferredDType() const = 0;
  /// Copies `src` into `dst` (same shape and dtype, either device).
  virtual Status copy(const Tensor &dst, const Tensor &src) = 0;
  /// Sets every byte of `t` to zero.
  virtual Status zero(const Tensor &t) = 0;
  /// A tensor's values on the host (the tensor itself on the CPU).
  virtual Result<Tensor> toHost(const Tensor &t) = 0;
  /// Host memory for the copies of a kernel run on the host (HostStaged,
  /// --offload's AdamW: every gradient, every step): page-locked where the
  /// device copies faster from and to it, and kept for reuse.
  virtual Allocator &stagingAllocator() { return hostAllocator(); }
  /// The device's free and total memory in bytes; false where there is no
  /// fixed budget to plan against (the host).
  virtual bool memoryInfo(size_t &free, size_t &total) {
    (void)free, (void)total;
    return false;
  }
  /// Measured peak FLOP/s of a matrix multiply on `storage` inputs (a bf16
  /// program's GEMMs may run on bf16 tensor cores), against which MFU is given.
  virtual double peakFlops(DType storage = DType::F32) = 0;

  /// The causal attention core alone (no projections, no RoPE) of bf16
  /// q, k, v: B sequences of T tokens, H query heads and G kv heads of head
  /// dim hd, on random values, first checked against the device's float32
  /// core, then timed (the best of `iters` calls). For bench/attention_bench.sh.
  struct AttentionCoreTiming {
    std::string kernel;               // which core ran
    double forwardMs = 0, backwardMs = 0;
    double maxError = 0;              // max |Δ| / max |float32 core| over a, dq, dk, dv
  };
  virtual Result<AttentionCoreTiming> timeAttentionCore(int64_t B, int64_t T, int64_t H, int64_t G, int64_t hd,
                                                        int iters) {
    (void)B, (void)T, (void)H, (void)G, (void)hd, (void)iters;
    return invalidInput(describe() + " has no attention core of its own to time (--device cuda has)");
  }

  const KernelImpl *kernel(KernelId id) const;
  /// Table entries this backend has no implementation for.
  std::vector<std::string> missingKernels() const;

protected:
  void add(KernelId id, KernelImpl impl) { kernels_[static_cast<size_t>(id)] = impl; }

private:
  std::array<KernelImpl, static_cast<size_t>(KernelId::NumKernels)> kernels_{};
};

/// The CPU backend: float32, OpenBLAS GEMMs (a built-in one without it),
/// `threads` threads.
std::unique_ptr<Backend> createCpuBackend(int threads);
/// The CPU kernels on memory the host may touch only through copy, zero and
/// toHost: a test device that makes host code reading device memory fault
/// (`--device guarded`, for the runtime's tests; docs/testing.md).
std::unique_ptr<Backend> createGuardedBackend(int threads);
/// `device` is cpu, cuda or auto (the best available); guarded for tests.
/// `threads` 0: the default, kDefaultCpuThreads on the CPU; on a GPU, whose
/// host threads run only the kernels staged there (--offload's AdamW: every
/// parameter every step), the machine's hardware threads shared among the
/// ranks on it (defaultHostThreads).
Result<std::unique_ptr<Backend>> createBackend(const std::string &device, int threads);
constexpr int kDefaultCpuThreads = 2;
/// The hardware threads over the ranks on this machine (Open MPI's, MPICH's
/// or Slurm's local rank count; 1 without them), at least 1.
int defaultHostThreads();

} // namespace shear::rt

#endif
