//===- HostStaged.h - running a kernel on the host for a device backend ---===//
//
// A device backend that has no native kernel for a table entry (yet) runs
// the CPU backend's kernel on host copies: its operands are brought to the
// host (Backend::toHost), the CPU kernel runs, and its results are copied
// back into the device outputs the executor allocated. Slow (a round trip
// per call) but exact: every program runs on a new backend from its first
// day, and native kernels replace staged ones one at a time, each checked
// against the CPU. The guarded test device runs any kernel this way on
// request (SHEAR_GUARDED_STAGED), which is how this path is tested without
// a GPU.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_HOSTSTAGED_H
#define SHEAR_RUNTIME_HOSTSTAGED_H

#include "shear/Runtime/Backend.h"

namespace shear::rt {

/// The CPU kernels a device backend falls back to, and the context they run in.
class HostKernels {
public:
  explicit HostKernels(int threads);
  ~HostKernels();
  /// Runs kernel `id` of the CPU backend on host copies of `io` (tensors of
  /// `device`'s memory or of the host), then writes its results into `io`'s
  /// outputs through `device`.
  Status run(Backend &device, KernelId id, const KernelParams &params, const KernelIO &io);
  /// run() for each of `calls` in order, pipelined: while the host computes
  /// call i, call i+1's operands come over and call i-1's results go back
  /// (--offload's AdamW over every parameter: the copies of a step's
  /// gradients and working copies overlap the host's arithmetic). The
  /// results are those of run() call by call; the device's copies are made
  /// by one thread at a time.
  Status runGroup(Backend &device, KernelId id, const KernelParams &params,
                  const std::vector<const KernelIO *> &calls);

private:
  struct Staged; // one call's host copies
  Status prepare(Backend &device, KernelId id, const KernelIO &io, Staged &call);
  Status compute(KernelId id, const KernelParams &params, Backend &device, Staged &call);
  Status publish(Backend &device, const KernelIO &io, Staged &call);

  std::unique_ptr<Backend> cpu_;
  std::vector<char> workspace_;
};

} // namespace shear::rt

#endif
