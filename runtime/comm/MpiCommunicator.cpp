//===- MpiCommunicator.cpp - CPU ranks over MPI, with deadlines -----------===//
//
// Every collective is started non-blocking and polled: past the deadline the
// rank says which collective on which rank timed out and aborts the job
// (MPI_Abort ends every rank), so a dead or hung rank never leaves the
// others waiting forever.
//
//===----------------------------------------------------------------------===//
#include "shear/Runtime/Communicator.h"

// The C API only: OpenMPI's and MPICH's C++ bindings need a library shear
// does not link.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <thread>

using namespace shear;
using namespace shear::rt;

namespace {
MPI_Datatype mpiType(DType d) {
  switch (d) {
  case DType::F32:
    return MPI_FLOAT;
  case DType::F64:
    return MPI_DOUBLE;
  case DType::I64:
    return MPI_INT64_T;
  case DType::I32:
    return MPI_INT32_T;
  default:
    return MPI_BYTE;
  }
}

class MpiCommunicator : public Communicator {
public:
  explicit MpiCommunicator(double timeout) : timeout_(timeout) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
      MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string describe() const override {
    return "MPI rank " + std::to_string(rank_) + " of " + std::to_string(size_);
  }

  // MPI counts are ints: larger buffers go in pieces.
  static constexpr size_t kPiece = size_t(1) << 30;

  Status allReduce(void *data, size_t count, DType dtype, ReduceOp op) override {
    char *at = static_cast<char *>(data);
    for (size_t done = 0; done < count; done += kPiece) {
      size_t n = std::min(kPiece, count - done);
      MPI_Request r;
      MPI_Iallreduce(MPI_IN_PLACE, at + done * dtypeBytes(dtype), static_cast<int>(n),
                     mpiType(dtype), op == ReduceOp::Sum ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD, &r);
      SHEAR_RETURN_IF_ERROR(wait(r, "all-reduce"));
    }
    return Status();
  }
  Status broadcast(void *data, size_t bytes, int root) override {
    char *at = static_cast<char *>(data);
    for (size_t done = 0; done < bytes; done += kPiece) {
      MPI_Request r;
      MPI_Ibcast(at + done, static_cast<int>(std::min(kPiece, bytes - done)), MPI_BYTE, root,
                 MPI_COMM_WORLD, &r);
      SHEAR_RETURN_IF_ERROR(wait(r, "broadcast"));
    }
    return Status();
  }
  Status allGather(const void *in, size_t bytes, void *out) override {
    if (bytes > kPiece)
      return internalError("all-gather of more than 1 GiB per rank");
    MPI_Request r;
    MPI_Iallgather(in, static_cast<int>(bytes), MPI_BYTE, out, static_cast<int>(bytes), MPI_BYTE,
                   MPI_COMM_WORLD, &r);
    return wait(r, "all-gather");
  }
  Status reduceScatter(const void *in, void *out, size_t count, DType dtype, ReduceOp op) override {
    if (count > kPiece)
      return internalError("reduce-scatter of more than 2^30 values per rank");
    MPI_Request r;
    MPI_Ireduce_scatter_block(in, out, static_cast<int>(count), mpiType(dtype),
                              op == ReduceOp::Sum ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD, &r);
    return wait(r, "reduce-scatter");
  }
  Status barrier() override {
    MPI_Request r;
    MPI_Ibarrier(MPI_COMM_WORLD, &r);
    return wait(r, "barrier");
  }
  [[noreturn]] void abort(int exitCode) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exitCode);
    std::_Exit(exitCode);
  }

private:
  Status wait(MPI_Request &r, const char *what) {
    auto start = std::chrono::steady_clock::now();
    for (;;) {
      int done = 0;
      MPI_Test(&r, &done, MPI_STATUS_IGNORE);
      if (done)
        return Status();
      double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > timeout_) {
        std::fprintf(stderr,
                     "shear-run: error: rank %d of %d: %s did not complete within %.0f s "
                     "(another rank died or hangs): ending the job\n",
                     rank_, size_, what, timeout_);
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
      // Large collectives advance only inside MPI calls: test again at once,
      // but let a rank that shares this core run first. A long wait is
      // another rank's work (a checkpoint, an evaluation): sleep through it.
      if (waited < 1.0)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  double timeout_;
  int rank_ = 0, size_ = 1;
};
} // namespace

Result<std::unique_ptr<Communicator>> shear::rt::createWorldCommunicator(double timeoutSeconds) {
  if (!launchedWithRanks())
    return createSingleCommunicator();
  int initialized = 0;
  MPI_Initialized(&initialized);
  // Only the thread that runs the program calls MPI (kernels' worker
  // threads never do).
  int provided = 0;
  if (!initialized && MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    return runFailure("MPI_Init failed");
  return std::unique_ptr<Communicator>(new MpiCommunicator(timeoutSeconds));
}
