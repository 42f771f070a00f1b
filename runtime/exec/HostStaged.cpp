//===- HostStaged.cpp - a device kernel run as the CPU kernel on copies ----===//
#include "shear/Runtime/HostStaged.h"

using namespace shear;
using namespace shear::rt;

HostKernels::HostKernels(int threads) : cpu_(createCpuBackend(threads)) {}
HostKernels::~HostKernels() = default;

Status HostKernels::run(Backend &device, KernelId id, const KernelParams &params,
                        const KernelIO &io) {
  const KernelDecl &decl = kernelDecl(id);
  const KernelImpl *impl = cpu_->kernel(id);
  if (!impl)
    return internalError("no CPU kernel '" + decl.name + "' to stage");
  // Operands on the host (host tensors are used as they are).
  std::vector<Tensor> in(io.in.size()), out(io.out.size());
  KernelIO host;
  std::vector<const Shape *> shapes;
  for (size_t i = 0; i < io.in.size(); ++i) {
    const Tensor *t = io.in[i];
    if (t && t->defined()) {
      auto h = device.toHost(*t);
      if (!h.ok())
        return h.status();
      in[i] = h.take();
    }
    host.in.push_back(in[i].defined() ? &in[i] : nullptr);
    shapes.push_back(in[i].defined() ? &in[i].shape() : nullptr);
  }
  // Results: an in-place one starts from the operand's contents (the device
  // output already holds them); the others are fresh host tensors.
  for (size_t r = 0; r < io.out.size(); ++r) {
    const Tensor *t = io.out[r];
    if (!t || !t->defined()) {
      host.out.push_back(nullptr);
      continue;
    }
    bool updates = r < decl.results.size() && decl.results[r].updates >= 0;
    if (updates && t->device().kind == DeviceKind::Cpu) {
      // Kept in host memory already (--offload): updated where it is.
      out[r] = *t;
      host.out.push_back(&out[r]);
      continue;
    }
    if (updates) {
      auto h = device.toHost(*t);
      if (!h.ok())
        return h.status();
      // toHost may hand back the tensor itself (host memory): work on a copy.
      out[r] = Tensor::empty(t->shape(), t->dtype());
      SHEAR_RETURN_IF_ERROR(cpu_->copy(out[r], *h));
    } else {
      out[r] = Tensor::empty(t->shape(), t->dtype());
    }
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
