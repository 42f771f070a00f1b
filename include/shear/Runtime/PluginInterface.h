//===- PluginInterface.h - what a backend plugin and shear-run must share --===//
//
// A backend plugin (the CUDA backend) runs inside shear-run on its tensors,
// kernel parameters and kernel table. Both sides compute this stamp at
// compile time from the kernel table's names and the layouts they exchange;
// shear-run refuses a plugin whose stamp differs (a plugin of another build).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_PLUGININTERFACE_H
#define SHEAR_RUNTIME_PLUGININTERFACE_H

#include "shear/Runtime/Backend.h"

#include <cstdint>

namespace shear::rt {

constexpr uint64_t fnv1a(uint64_t h, const char *s) {
  for (; *s; ++s)
    h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ull;
  return h;
}

constexpr uint64_t fnv1a(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  return h;
}

/// Bump when the plugin entry points or the meaning of a kernel's slots change.
// 4: adamw's working copy a result; KernelImpl::runGroup. 5: adamw
// overwrites w (also on a skipped step); Backend::stagingAllocator.
// 6: accumulate (micro-batches). 7: the plugin runs a group's host calls
// through HostKernels::runGroup (pipelined --offload AdamW).
constexpr uint64_t kPluginInterfaceVersion = 7;

constexpr uint64_t pluginInterfaceStamp() {
  uint64_t h = fnv1a(1469598103934665603ull, kPluginInterfaceVersion);
#define SHEAR_KERNEL(id, name) h = fnv1a(h, name);
#include "shear/Support/Kernels.def"
  for (uint64_t size : {sizeof(Tensor), sizeof(KernelIO), sizeof(KernelParams), sizeof(KernelImpl),
                        sizeof(ExecContext), sizeof(Buffer)})
    h = fnv1a(h, size);
  return h >> 1; // positive as a signed 64-bit number, for messages
}

} // namespace shear::rt

#endif
