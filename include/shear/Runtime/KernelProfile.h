//===- KernelProfile.h - where a function's time goes, kernel by kernel ---===//
//
// `--profile`: every kernel call of a function's runs timed from its launch
// until the device has finished it (with gradients averaged in buckets
// across ranks, all_reduce counts the bucketed collectives). On a device the host waits after every
// call (a copy of one value to the host), so a profiled run is slower than
// an unprofiled one and its kernels do not overlap; the shares are what it
// is for: profile before optimizing.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELPROFILE_H
#define SHEAR_RUNTIME_KERNELPROFILE_H

#include "shear/Support/Json.h"
#include "shear/Support/KernelTable.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace shear::rt {

class KernelProfile {
public:
  void addCall(KernelId kernel, double seconds);
  /// A whole run of the function (wall time, its kernels included).
  void addRun(double seconds);
  /// Kernels by total time, the largest first: calls, seconds, share.
  std::string table(const std::string &function) const;
  /// {"function", "runs", "run_seconds", "kernels": [{"kernel", "calls", "seconds"}]}.
  json::Value toJson(const std::string &function) const;

private:
  std::vector<size_t> byTime() const; // kernels called, by total time
  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
  };
  std::array<Entry, static_cast<size_t>(KernelId::NumKernels)> kernels_{};
  int64_t runs_ = 0;
  double runSeconds_ = 0;
};

} // namespace shear::rt

#endif
