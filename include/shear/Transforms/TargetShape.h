//===- TargetShape.h - parsing and checking --target-shape ----------------===//
#ifndef SHEAR_TRANSFORMS_TARGETSHAPE_H
#define SHEAR_TRANSFORMS_TARGETSHAPE_H

#include "shear/Target/ModelView.h"

namespace shear {

/// Parses a preset (2.7b, 1.3b, 370m, tiny, tiny-gqa) or
/// `layers=L,heads=H,kv-heads=G,hidden=D,intermediate=M`. When kv-heads is not
/// given it is heads for an MHA source and heads / (source heads per group) for
/// a grouped-query source. Then checks the target against `source`
/// (head_dim `headDim`). Errors are sentences for the user.
llvm::Expected<ShapeSpec> parseTargetShape(llvm::StringRef spec, const ShapeSpec &source,
                                           int64_t headDim);

/// The names of the presets, for --help and errors.
std::string targetShapePresets();

} // namespace shear

#endif
