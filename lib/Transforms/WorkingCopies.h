//===- WorkingCopies.h - master weights read through their bf16 copies ----===//
//
// A bf16 training program holds a float32 master of each parameter and reads
// it through a `cast` to bf16 (assign-precision). The master's working copy,
// the weight "work:<name>", stands for those casts: build-optimizer has the
// training step's AdamW rewrite it, read-working-copies has the program's
// evaluations read it. Shared by both passes.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_LIB_TRANSFORMS_WORKINGCOPIES_H
#define SHEAR_LIB_TRANSFORMS_WORKINGCOPIES_H

#include "shear/Dialect/ShearOps.h"

namespace shear {

/// Replaces every cast of weight `w` in `body` (of every read of it) by a
/// weight "work:<name>" of the cast's type, inserted after the first read;
/// it names the master's tensor in the master's file, so the runtime derives
/// it from the master as held. Null, changing nothing, when nothing casts
/// `w` or its casts are of several types.
WeightOp replaceCastsByWorkingCopy(mlir::Block &body, WeightOp w);

} // namespace shear

#endif
