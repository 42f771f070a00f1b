//===- Backend.cpp - backend selection and the kernel registry ------------===//
#include "shear/Runtime/Backend.h"

using namespace shear;
using namespace shear::rt;

const KernelImpl *Backend::kernel(KernelId id) const {
  const KernelImpl &k = kernels_[static_cast<size_t>(id)];
  return k.run ? &k : nullptr;
}

std::vector<std::string> Backend::missingKernels() const {
  std::vector<std::string> missing;
  for (const KernelDecl &d : kernelTable())
    if (!kernel(d.id))
      missing.push_back(d.name);
  return missing;
}

Result<std::unique_ptr<Backend>> shear::rt::createBackend(const std::string &device, int threads) {
  if (device == "cpu" || device == "auto")
    return createCpuBackend(threads);
  if (device == "guarded")
    return createGuardedBackend(threads);
  if (device == "cuda")
    return invalidInput("--device cuda: this shear-run was built without the CUDA backend "
                        "(use --device cpu or auto)");
  return invalidInput("--device must be cpu, cuda or auto, got '" + device + "'");
}
