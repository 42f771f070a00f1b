//===- Kernels.h - the kernel interface shared by the backends ------------===//
//
// A lowered program is a sequence of `shear.kernel "name"(args) {attrs}`
// calls. Each backend registers one function per kernel name; the executor
// looks them up once and calls them with the argument tensors, the op's
// attributes and room for the results. The CPU backend computes in float32;
// a CUDA backend registers the same names (bf16 storage, float32
// accumulation) and is tested against the CPU one.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELS_H
#define SHEAR_RUNTIME_KERNELS_H

#include "shear/Runtime/Tensor.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shear::rt {

/// A kernel's attributes: numbers (integers and floats), strings, and the
/// names of the optional mask arguments present, in argument order.
struct KernelAttrs {
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> strings;
  std::vector<std::string> masks;

  double number(const std::string &name, double fallback) const;
  double number(const std::string &name) const; // required
  int64_t integer(const std::string &name) const { return static_cast<int64_t>(number(name)); }
  std::string string(const std::string &name, const std::string &fallback = "") const;
};

struct KernelCall {
  const std::string *name = nullptr;
  std::vector<const Tensor *> args;
  const KernelAttrs *attrs = nullptr;
  std::vector<Tensor> results; // filled by the kernel

  const Tensor &arg(size_t i) const { return *args[i]; }
  /// The optional mask argument named `mask`, or nullptr. Masks follow the
  /// `numFixed` fixed arguments in the order attrs->masks lists them.
  const Tensor *mask(const std::string &mask, size_t numFixed) const;
};

using KernelFn = std::function<void(KernelCall &)>;

class KernelRegistry {
public:
  void add(const std::string &name, KernelFn fn) { kernels_[name] = std::move(fn); }
  const KernelFn *find(const std::string &name) const;
  std::vector<std::string> names() const;

private:
  std::map<std::string, KernelFn> kernels_;
};

/// Registers every CPU kernel.
void registerCpuKernels(KernelRegistry &registry);

/// Aborts with a message: kernels are reached only through verified IR, so a
/// violated precondition is a bug in shear, not bad input.
[[noreturn]] void kernelFailure(const KernelCall &call, const std::string &what);

/// Threads the CPU kernels (and OpenBLAS) use.
void setNumThreads(int threads);
int numThreads();

} // namespace shear::rt

#endif
