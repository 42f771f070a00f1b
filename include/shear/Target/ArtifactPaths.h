//===- ArtifactPaths.h - where a module's weight files live ---------------===//
//
// A module names its weight files relative to its own directory. The tools set
// the directory of the module they read and the path of the module they write;
// the model view resolves relative names against the first and writes names
// relative to the second, and passes put the files they create beside the
// output (`<output stem>.gates.safetensors`, ...). Path helpers themselves
// (absolutePath, joinPath, atomic writes) are in shear/Support/Files.h.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TARGET_ARTIFACTPATHS_H
#define SHEAR_TARGET_ARTIFACTPATHS_H

#include "shear/Support/Files.h"
#include "shear/Target/Errors.h"

#include "llvm/ADT/StringRef.h"
#include <string>

namespace shear {

struct ArtifactPaths {
  std::string moduleDir = "."; // directory the in-memory module's relative weight names refer to
  std::string outputPath;      // module being written; empty or "-" for stdout
};

ArtifactPaths &artifactPaths();

/// Directory that relative weight names of the output module refer to.
std::string outputDir();
/// `<output stem><suffix>` beside the output module, or "" without an output path.
std::string outputSibling(llvm::StringRef suffix);

} // namespace shear

#endif
