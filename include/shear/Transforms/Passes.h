//===- Passes.h - shear's passes ------------------------------------------===//
#ifndef SHEAR_TRANSFORMS_PASSES_H
#define SHEAR_TRANSFORMS_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <string>

namespace shear {

#define GEN_PASS_DECL
#include "shear/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "shear/Transforms/Passes.h.inc"

/// The tool-level `--target-shape`, used by insert-masks when its own option
/// is empty (so `shear-opt --insert-masks --target-shape=2.7b` works).
std::string &toolTargetShape();

} // namespace shear

#endif
