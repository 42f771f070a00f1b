//===- Communicator.cpp - a single process, and choosing the world --------===//
#include "shear/Runtime/Communicator.h"
#include "shear/Runtime/Backend.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace shear;
using namespace shear::rt;

namespace {
class SingleCommunicator : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string describe() const override { return "single process"; }
  Status allReduce(void *, size_t, DType, ReduceOp) override { return Status(); }
  Status broadcast(void *, size_t, int) override { return Status(); }
  Status allGather(const void *in, size_t bytes, void *out) override {
    if (in != out)
      std::memmove(out, in, bytes);
    return Status();
  }
  Status reduceScatter(const void *in, void *out, size_t count, DType dtype, ReduceOp) override {
    if (in != out)
      std::memmove(out, in, count * dtypeBytes(dtype));
    return Status();
  }
  Status barrier() override { return Status(); }
  void abort(int exitCode) override { std::_Exit(exitCode); }
};
} // namespace

Status Communicator::agree(const Status &local) {
  // [exit code, size - rank of a failure]: the maximum names the lowest failing rank.
  int64_t v[2] = {local.exitCode(), local.ok() ? 0 : size() - rank()};
  SHEAR_RETURN_IF_ERROR(allReduce(v, 2, DType::I64, ReduceOp::Max));
  if (v[0] == 0)
    return Status();
  failureAgreed_ = true;
  if (!local.ok() && size() - rank() == v[1])
    return local;
  return v[0] == 2 ? invalidInput("") : runFailure("");
}

Status Communicator::onDevice(const Tensor &t) {
  return internalError("a collective of a tensor in " + t.device().str() +
                       " memory (stage it through the host: allReduceMean, broadcastTensor)");
}

namespace {
/// A float32 host tensor over `count` floats at p (no ownership).
Tensor hostView(float *p, const std::vector<int64_t> &shape) {
  size_t bytes = sizeof(float);
  for (int64_t d : shape)
    bytes *= static_cast<size_t>(d);
  return Tensor::view(std::make_shared<Buffer>(p, bytes, Device{DeviceKind::Cpu, 0}, nullptr), 0, shape,
                      DType::F32);
}
} // namespace

Status shear::rt::allReduceMean(Communicator &comm, const std::vector<Tensor *> &tensors, Backend *backend) {
  if (comm.size() == 1 || tensors.empty())
    return Status();
  size_t total = 0;
  bool device = false;
  for (const Tensor *t : tensors) {
    if (t->dtype() != DType::F32)
      return internalError("all-reduce of a " + std::string(dtypeName(t->dtype())) + " tensor");
    total += static_cast<size_t>(t->numel());
    device |= t->device().kind != DeviceKind::Cpu;
  }
  if (device && !backend)
    return internalError("all-reduce of tensors in device memory without their backend to stage them");
  float scale = 1.0f / static_cast<float>(comm.size());
  ++comm.meanCalls;
  comm.meanBytes += total * sizeof(float);
  auto start = std::chrono::steady_clock::now();
  struct Timer {
    Communicator &comm;
    std::chrono::steady_clock::time_point start;
    ~Timer() {
      comm.meanSeconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  } timer{comm, start};
  if (tensors.size() == 1 && !device) { // already one buffer
    SHEAR_RETURN_IF_ERROR(comm.allReduce(*tensors[0]));
    float *p = tensors[0]->f32();
    for (size_t i = 0; i < total; ++i)
      p[i] *= scale;
    return Status();
  }
  // One buffer for the life of the communicator: a fresh one would be
  // faulted in page by page at every step.
  std::vector<float> &packed = comm.packBuffer();
  if (packed.size() < total)
    packed.resize(total);
  size_t at = 0;
  for (const Tensor *t : tensors) {
    if (t->device().kind == DeviceKind::Cpu)
      std::memcpy(packed.data() + at, t->f32(), t->bytes());
    else
      SHEAR_RETURN_IF_ERROR(backend->copy(hostView(packed.data() + at, t->shape()), *t));
    at += static_cast<size_t>(t->numel());
  }
  SHEAR_RETURN_IF_ERROR(comm.allReduce(packed.data(), total, DType::F32, ReduceOp::Sum));
  at = 0;
  for (const Tensor *t : tensors) {
    if (t->device().kind == DeviceKind::Cpu) {
      float *p = t->f32();
      for (int64_t i = 0; i < t->numel(); ++i)
        p[i] = packed[at + static_cast<size_t>(i)] * scale;
    } else {
      for (int64_t i = 0; i < t->numel(); ++i)
        packed[at + static_cast<size_t>(i)] *= scale;
      SHEAR_RETURN_IF_ERROR(backend->copy(*t, hostView(packed.data() + at, t->shape())));
    }
    at += static_cast<size_t>(t->numel());
  }
  return Status();
}

Status shear::rt::broadcastTensor(Communicator &comm, Backend &backend, const Tensor &t, int root) {
  if (t.device().kind == DeviceKind::Cpu)
    return comm.broadcast(t, root);
  auto host = backend.toHost(t);
  if (!host.ok())
    return host.status();
  SHEAR_RETURN_IF_ERROR(comm.broadcast(*host, root));
  return backend.copy(t, *host);
}

std::unique_ptr<Communicator> shear::rt::createSingleCommunicator() {
  return std::make_unique<SingleCommunicator>();
}

bool shear::rt::launchedWithRanks() {
  // mpirun (OpenMPI), MPICH's hydra and srun --mpi=pmi2 give the size; srun
  // --mpi=pmix names this process's rank. (SLURM_NTASKS alone is also set in
  // a batch script that did not launch ranks.)
  for (const char *var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"}) {
    const char *v = std::getenv(var);
    if (v && std::atoi(v) > 1)
      return true;
  }
  return std::getenv("PMIX_RANK") != nullptr;
}

#ifndef SHEAR_HAS_MPI
Result<std::unique_ptr<Communicator>> shear::rt::createWorldCommunicator(double) {
  if (launchedWithRanks())
    return invalidInput("started as one of several ranks, but this shear-run was built "
                        "without MPI (install libopenmpi-dev and rebuild)");
  return createSingleCommunicator();
}
#endif
