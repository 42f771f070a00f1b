//===- HostStaged.cpp - a device kernel run as the CPU kernel on copies ----===//
#include "shear/Runtime/HostStaged.h"

#include <future>

using namespace shear;
using namespace shear::rt;

namespace {
/// Host memory for a staged copy of `t` (the device's staging memory).
Result<Tensor> stagingTensor(Backend &device, const Tensor &t) {
  return Tensor::allocate(device.stagingAllocator(), t.shape(), t.dtype());
}

/// `t`'s values in the device's staging memory (`t` itself if on the host).
Result<Tensor> staged(Backend &device, const Tensor &t) {
  if (t.device().kind == DeviceKind::Cpu)
    return t;
  auto host = stagingTensor(device, t);
  if (!host.ok())
    return host.status();
  SHEAR_RETURN_IF_ERROR(device.copy(*host, t));
  return host;
}
} // namespace

HostKernels::HostKernels(int threads) : cpu_(createCpuBackend(threads)) {}
HostKernels::~HostKernels() = default;

// A call's host copies: the operands and results the CPU kernel reads and
// writes, and the KernelIO pointing at them.
struct HostKernels::Staged {
  std::vector<Tensor> in, out;
  KernelIO host;
  std::vector<const Shape *> shapes;
};

Status HostKernels::prepare(Backend &device, KernelId id, const KernelIO &io, Staged &call) {
  const KernelDecl &decl = kernelDecl(id);
  std::vector<Tensor> &in = call.in, &out = call.out;
  in.assign(io.in.size(), Tensor());
  out.assign(io.out.size(), Tensor());
  KernelIO &host = call.host;
  host = KernelIO();
  call.shapes.clear();
  // A result that overwrites its operand (adamw's working copy): one fresh
  // host tensor is both, nothing of the device's old contents copied over.
  for (size_t r = 0; r < io.out.size() && r < decl.results.size(); ++r) {
    const Tensor *t = io.out[r];
    int operand = decl.results[r].updates;
    if (decl.results[r].overwrites && t && t->defined() && t->device().kind != DeviceKind::Cpu &&
        operand >= 0 && static_cast<size_t>(operand) < io.in.size()) {
      auto fresh = stagingTensor(device, *t);
      if (!fresh.ok())
        return fresh.status();
      out[r] = fresh.take();
      in[operand] = out[r];
    }
  }
  // Operands on the host (host tensors are used as they are).
  for (size_t i = 0; i < io.in.size(); ++i) {
    const Tensor *t = io.in[i];
    if (t && t->defined() && !in[i].defined()) {
      auto h = staged(device, *t);
      if (!h.ok())
        return h.status();
      in[i] = h.take();
    }
  }
  for (size_t i = 0; i < io.in.size(); ++i) {
    host.in.push_back(in[i].defined() ? &in[i] : nullptr);
    call.shapes.push_back(in[i].defined() ? &in[i].shape() : nullptr);
  }
  // Results: an in-place one is its operand's staged copy (or, where the
  // executor gave it storage of its own, a copy of what it holds); the
  // others are fresh host tensors.
  for (size_t r = 0; r < io.out.size(); ++r) {
    const Tensor *t = io.out[r];
    if (!t || !t->defined())
      continue;
    if (out[r].defined()) // overwritten: the fresh tensor made above
      continue;
    bool updates = r < decl.results.size() && decl.results[r].updates >= 0;
    if (updates && t->device().kind == DeviceKind::Cpu) {
      // Kept in host memory already (--offload): updated where it is.
      out[r] = *t;
      continue;
    }
    int operand = updates ? decl.results[r].updates : -1;
    // (Only a staged copy: an operand kept on the host is not written.)
    if (operand >= 0 && in[operand].defined() && io.in[operand] &&
        io.in[operand]->device().kind != DeviceKind::Cpu) {
      out[r] = in[operand]; // the operand's staged copy: in place, as on the device
      continue;
    }
    auto h = updates ? staged(device, *t) : stagingTensor(device, *t);
    if (!h.ok())
      return h.status();
    out[r] = h.take();
  }
  for (size_t r = 0; r < io.out.size(); ++r)
    host.out.push_back(io.out[r] && io.out[r]->defined() ? &out[r] : nullptr);
  return Status();
}

Status HostKernels::compute(KernelId id, const KernelParams &params, Backend &device, Staged &call) {
  const KernelImpl *impl = cpu_->kernel(id);
  size_t bytes = impl->workspace ? impl->workspace(params, call.shapes) : 0;
  if (workspace_.size() < bytes + 64)
    workspace_.resize(bytes + 64);
  call.host.workspace = reinterpret_cast<void *>(
      (reinterpret_cast<uintptr_t>(workspace_.data()) + 63) / 64 * 64);
  call.host.workspaceBytes = bytes;
  // all_reduce and friends reach the device backend's ranks.
  cpu_->context().communicator = device.context().communicator;
  return impl->run(cpu_->context(), params, call.host);
}

Status HostKernels::publish(Backend &device, const KernelIO &io, Staged &call) {
  for (size_t r = 0; r < io.out.size(); ++r)
    if (call.host.out[r] && !call.out[r].sameStorage(*io.out[r]))
      SHEAR_RETURN_IF_ERROR(device.copy(*io.out[r], call.out[r]));
  return Status();
}

Status HostKernels::run(Backend &device, KernelId id, const KernelParams &params, const KernelIO &io) {
  if (!cpu_->kernel(id))
    return internalError("no CPU kernel '" + kernelDecl(id).name + "' to stage");
  Staged call;
  SHEAR_RETURN_IF_ERROR(prepare(device, id, io, call));
  SHEAR_RETURN_IF_ERROR(compute(id, params, device, call));
  return publish(device, io, call);
}

Status HostKernels::runGroup(Backend &device, KernelId id, const KernelParams &params,
                             const std::vector<const KernelIO *> &calls) {
  if (!cpu_->kernel(id))
    return internalError("no CPU kernel '" + kernelDecl(id).name + "' to stage");
  const size_t n = calls.size();
  if (n == 0)
    return Status();
  // Three calls in flight at most: i-1's results going back, i computing,
  // i+1's operands coming over. The copies run on a second thread, the
  // only one touching the device meanwhile; the host's arithmetic on this
  // one (with the CPU backend's threads).
  std::vector<Staged> ring(3);
  SHEAR_RETURN_IF_ERROR(prepare(device, id, *calls[0], ring[0]));
  for (size_t i = 0; i < n; ++i) {
    Staged &now = ring[i % 3];
    auto copies = std::async(std::launch::async, [&, i]() -> Status {
      if (i > 0)
        SHEAR_RETURN_IF_ERROR(publish(device, *calls[i - 1], ring[(i - 1) % 3]));
      if (i + 1 < n)
        return prepare(device, id, *calls[i + 1], ring[(i + 1) % 3]);
      return Status();
    });
    Status computed = compute(id, params, device, now);
    Status copied = copies.get();
    SHEAR_RETURN_IF_ERROR(computed);
    SHEAR_RETURN_IF_ERROR(copied);
    if (i > 0)
      ring[(i - 1) % 3] = Staged(); // its staging buffers back to the cache
  }
  return publish(device, *calls[n - 1], ring[(n - 1) % 3]);
}
