//===- ArtifactPaths.h - where a module's weight files live ---------------===//
//
// A module names its weight files relative to its own directory. The tools set
// the directory of the module they read and the path of the module they write;
// the model view resolves relative names against the first and writes names
// relative to the second, and passes put the files they create beside the
// output (`<output stem>.gates.safetensors`, ...).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TARGET_ARTIFACTPATHS_H
#define SHEAR_TARGET_ARTIFACTPATHS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include <string>

namespace shear {

struct ArtifactPaths {
  std::string moduleDir = "."; // directory the in-memory module's relative weight names refer to
  std::string outputPath;      // module being written; empty or "-" for stdout
};

ArtifactPaths &artifactPaths();

/// `path` made absolute (relative paths against `baseDir`) with dots removed.
std::string absolutePath(llvm::StringRef path, llvm::StringRef baseDir);
/// `path` relative to `dir` when both are absolute.
std::string relativePath(llvm::StringRef path, llvm::StringRef dir);
/// Directory that relative weight names of the output module refer to.
std::string outputDir();
/// `<output stem><suffix>` beside the output module, or "" without an output path.
std::string outputSibling(llvm::StringRef suffix);

/// `dir`/`name`.
std::string joinPath(llvm::StringRef dir, llvm::StringRef name);

/// Reads and parses a JSON file; errors name the file.
llvm::Expected<llvm::json::Value> readJsonFile(llvm::StringRef path);

/// Writes `contents` to `path` through a temporary file, fsync and rename, so
/// `path` holds either its old contents or the new ones, never a mix.
llvm::Error writeFileAtomically(llvm::StringRef path, llvm::StringRef contents);

} // namespace shear

#endif
