//===- TargetShape.h - parsing and checking --target-shape ----------------===//
#ifndef SHEAR_TRANSFORMS_TARGETSHAPE_H
#define SHEAR_TRANSFORMS_TARGETSHAPE_H

#include "shear/Target/ModelView.h"

namespace shear {

/// The mask families a target prunes: those whose dimension it names (a
/// preset names all; a grouped-query source's heads and kv groups go
/// together).
struct TargetFamilies {
  bool layer = false, head = false, kvGroup = false, intermediate = false, hidden = false;
};

/// Parses a preset (2.7b, 1.3b, 370m, tiny, tiny-gqa) or a spec naming any
/// of `layers=L,heads=H,kv-heads=G,hidden=D,intermediate=M`; a dimension it
/// does not name stays at the source's size. When kv-heads is not given it is
/// heads for an MHA source and heads / (source heads per group) for a
/// grouped-query source. Then checks the target against `source` (head_dim
/// `headDim`). Errors are sentences for the user.
llvm::Expected<ShapeSpec> parseTargetShape(llvm::StringRef spec, const ShapeSpec &source,
                                           int64_t headDim, TargetFamilies *families = nullptr);

/// The names of the presets, for --help and errors.
std::string targetShapePresets();

} // namespace shear

#endif
