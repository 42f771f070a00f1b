//===- HostStaged.cpp - a device kernel run as the CPU kernel on copies ----===//
#include "shear/Runtime/HostStaged.h"

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

Status HostKernels::run(Backend &device, KernelId id, const KernelParams &params,
                        const KernelIO &io) {
  const KernelDecl &decl = kernelDecl(id);
  const KernelImpl *impl = cpu_->kernel(id);
  if (!impl)
    return internalError("no CPU kernel '" + decl.name + "' to stage");
  std::vector<Tensor> in(io.in.size()), out(io.out.size());
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
  KernelIO host;
  std::vector<const Shape *> shapes;
  for (size_t i = 0; i < io.in.size(); ++i) {
    const Tensor *t = io.in[i];
    if (t && t->defined() && !in[i].defined()) {
      auto h = staged(device, *t);
      if (!h.ok())
        return h.status();
      in[i] = h.take();
    }
    host.in.push_back(in[i].defined() ? &in[i] : nullptr);
    shapes.push_back(in[i].defined() ? &in[i].shape() : nullptr);
  }
  // Results: an in-place one is its operand's staged copy (or, where the
  // executor gave it storage of its own, a copy of what it holds); the
  // others are fresh host tensors.
  for (size_t r = 0; r < io.out.size(); ++r) {
    const Tensor *t = io.out[r];
    if (!t || !t->defined()) {
      host.out.push_back(nullptr);
      continue;
    }
    if (out[r].defined()) { // overwritten: the fresh tensor made above
      host.out.push_back(&out[r]);
      continue;
    }
    bool updates = r < decl.results.size() && decl.results[r].updates >= 0;
    if (updates && t->device().kind == DeviceKind::Cpu) {
      // Kept in host memory already (--offload): updated where it is.
      out[r] = *t;
      host.out.push_back(&out[r]);
      continue;
    }
    int operand = updates ? decl.results[r].updates : -1;
    // (Only a staged copy: an operand kept on the host is not written.)
    if (operand >= 0 && in[operand].defined() && io.in[operand] &&
        io.in[operand]->device().kind != DeviceKind::Cpu) {
      out[r] = in[operand]; // the operand's staged copy: in place, as on the device
      host.out.push_back(&out[r]);
      continue;
    }
    auto h = updates ? staged(device, *t) : stagingTensor(device, *t);
    if (!h.ok())
      return h.status();
    out[r] = h.take();
    host.out.push_back(&out[r]);
  }
  size_t bytes = impl->workspace ? impl->workspace(params, shapes) : 0;
  if (workspace_.size() < bytes + 64)
    workspace_.resize(bytes + 64);
  host.workspace = reinterpret_cast<void *>(
      (reinterpret_cast<uintptr_t>(workspace_.data()) + 63) / 64 * 64);
  host.workspaceBytes = bytes;
  // all_reduce and friends reach the device backend's ranks.
  cpu_->context().communicator = device.context().communicator;
  SHEAR_RETURN_IF_ERROR(impl->run(cpu_->context(), params, host));
  for (size_t r = 0; r < io.out.size(); ++r)
    if (host.out[r] && !out[r].sameStorage(*io.out[r]))
      SHEAR_RETURN_IF_ERROR(device.copy(*io.out[r], out[r]));
  return Status();
}
