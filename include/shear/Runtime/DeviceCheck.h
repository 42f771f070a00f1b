//===- DeviceCheck.h - every kernel of a device against its CPU twin -------===//
//
// `shear-run check-device --device cuda`: each kernel of the table on
// random inputs (masks present and absent, MHA and GQA, sequence lengths and
// head dims that are not multiples of a tile), forward and backward, on the
// device and on the CPU backend, the results compared with a stated
// tolerance per kernel: float32 storage, and bf16 storage as a bf16 program
// holds it. A device backend's first check on a new machine.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_DEVICECHECK_H
#define SHEAR_RUNTIME_DEVICECHECK_H

#include "shear/Runtime/Backend.h"

#include <functional>

namespace shear::rt {

struct DeviceCheckOptions {
  bool f32 = true, bf16 = true;
  /// Testing the check: this kernel's device results are perturbed (1%).
  std::string perturb;
  /// Only the cases whose name ("embed.bwd (f32, hidden mask)") holds this.
  std::string only;
};

/// The number of cases whose device results differ from the CPU's beyond
/// their tolerance (a kernel that fails to run counts as one); `say` gets a
/// line per case.
Result<int> checkDeviceKernels(Backend &device, Backend &cpu, const DeviceCheckOptions &options,
                               const std::function<void(const std::string &)> &say);

} // namespace shear::rt

#endif
