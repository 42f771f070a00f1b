//===- Communicator.h - the collectives data-parallel training needs ------===//
//
// One interface, three worlds: a single process (no library initialized), MPI
// ranks (CPU tensors; launched by mpirun or srun), and NCCL (GPU tensors, its
// unique id bootstrapped over MPI; with the CUDA backend). Every collective
// has a deadline: when a rank dies or hangs, the others report which
// collective timed out and end the whole job instead of waiting forever.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_COMMUNICATOR_H
#define SHEAR_RUNTIME_COMMUNICATOR_H

#include "shear/Runtime/Tensor.h"

#include <memory>
#include <string>
#include <vector>

namespace shear::rt {

enum class ReduceOp : uint8_t { Sum, Max };

class Communicator {
public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "single process", "MPI rank 1 of 3".
  virtual std::string describe() const = 0;

  /// Combines `count` elements of `data` across ranks, in place (F32, F64, I64).
  virtual Status allReduce(void *data, size_t count, DType dtype, ReduceOp op) = 0;
  /// Rank `root`'s `bytes` at `data` on every rank.
  virtual Status broadcast(void *data, size_t bytes, int root) = 0;
  /// Every rank's `bytes` of `in`, in rank order, into `out` (size() × bytes).
  virtual Status allGather(const void *in, size_t bytes, void *out) = 0;
  /// Reduces `size() × count` elements of `in` and leaves block `rank()` in
  /// `out` (count elements).
  virtual Status reduceScatter(const void *in, void *out, size_t count, DType dtype,
                               ReduceOp op) = 0;
  virtual Status barrier() = 0;
  /// Ends every rank of the job at once (a failure the others cannot learn of).
  [[noreturn]] virtual void abort(int exitCode) = 0;

  /// Every rank learns whether any rank failed here. The lowest failing rank
  /// gets its own `local` back (and reports it); the other ranks get a failure
  /// with the same exit code and an empty message (nothing more to report).
  /// Succeeds on every rank when all succeeded.
  Status agree(const Status &local);
  /// Whether the last failure `agree` returned is known to every rank (a
  /// failing rank that did not agree must abort() the job instead of
  /// leaving the others waiting).
  bool failureAgreed() const { return failureAgreed_; }

  /// A host tensor's collectives (a device tensor is staged through the
  /// host by allReduceMean and broadcastTensor; given here, it is refused,
  /// not handed to MPI as a host pointer).
  Status allReduce(const Tensor &t, ReduceOp op = ReduceOp::Sum) {
    if (t.device().kind != DeviceKind::Cpu)
      return onDevice(t);
    return allReduce(t.data(), static_cast<size_t>(t.numel()), t.dtype(), op);
  }
  Status broadcast(const Tensor &t, int root) {
    if (t.device().kind != DeviceKind::Cpu)
      return onDevice(t);
    return broadcast(t.data(), t.bytes(), root);
  }

  /// Gradient averaging so far (allReduceMean): collectives, bytes and the
  /// seconds spent in them (packing included).
  uint64_t meanCalls = 0, meanBytes = 0;
  double meanSeconds = 0;
  /// Where allReduceMean packs tensors (kept between steps).
  std::vector<float> &packBuffer() { return packBuffer_; }

private:
  static Status onDevice(const Tensor &t);
  std::vector<float> packBuffer_;
  bool failureAgreed_ = false;
};

class Backend;

/// Replaces every tensor (float32) by its mean over the ranks, in one
/// collective: the tensors are packed into one host buffer first. Tensors
/// in device memory are copied there and back by `backend` (the collective
/// runs on the host until the communicators reach device memory, NCCL).
Status allReduceMean(Communicator &comm, const std::vector<Tensor *> &tensors, Backend *backend = nullptr);
/// comm.broadcast of a tensor that may live in device memory (`backend`
/// stages it through the host).
Status broadcastTensor(Communicator &comm, Backend &backend, const Tensor &t, int root);

/// The communicator of a process that runs alone.
std::unique_ptr<Communicator> createSingleCommunicator();

/// The world this process was launched into: MPI when a launcher (mpirun,
/// srun) started it with several ranks and this shear has MPI, a single
/// process otherwise. Collectives give up after `timeoutSeconds`.
Result<std::unique_ptr<Communicator>> createWorldCommunicator(double timeoutSeconds);

/// Whether the environment says a launcher started several ranks.
bool launchedWithRanks();

} // namespace shear::rt

#endif
