//===- KernelCall.h - a shear.kernel op read against the kernel table -----===//
//
// The one place that interprets a `shear.kernel` op: which table entry it
// calls, which declared slot each operand and result fills, and its
// attributes flattened (`rope_scaling = {factor = ..}` becomes
// `rope_scaling.factor`) and typed. The op's verifier and the program
// emitter both use it, so what verifies is exactly what a program can hold.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_DIALECT_KERNELCALL_H
#define SHEAR_DIALECT_KERNELCALL_H

#include "shear/Support/Program.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "mlir/Support/LogicalResult.h"

#include <map>
#include <string>

namespace shear {
class KernelOp;

struct KernelCall {
  const KernelDecl *decl = nullptr;
  SlotMapping slots;
  std::map<std::string, AttrValue> attrs;
};

/// The call `op` makes, or failure with a diagnostic on `op`.
mlir::FailureOr<KernelCall> analyzeKernelCall(KernelOp op);

/// `v`'s tensor type with float32 elements: the type of its gradient (kernels
/// compute and return gradients in float32).
mlir::RankedTensorType gradientType(mlir::Value v);

} // namespace shear

#endif
