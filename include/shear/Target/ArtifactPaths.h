//===- ArtifactPaths.h - where a module's weight files live ---------------===//
//
// A module names its weight files relative to its own directory. The tools
// say where the module they read is and where the one they write goes; the
// model view resolves relative names against the first and writes names
// relative to the second, and passes put the files they create beside the
// output (`<output stem>.gates.safetensors`, ...), never over a file the
// input module reads. When the output goes to stdout, its place is the file
// stdout is redirected to; through a pipe, the place is unknown: new files
// go beside the input and every weight is named by its absolute path. Path
// helpers (absolutePath, joinPath, atomic writes) are in shear/Support/Files.h.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TARGET_ARTIFACTPATHS_H
#define SHEAR_TARGET_ARTIFACTPATHS_H

#include "shear/Support/Files.h"
#include "shear/Target/Errors.h"

#include "llvm/ADT/StringRef.h"
#include <set>
#include <string>

namespace shear {

struct ArtifactPaths {
  std::string moduleDir = "."; // directory the in-memory module's relative weight names refer to
  std::string outputPath;      // module being written; empty or "-" for stdout
  std::string artifactStem;    // with no output file: where new files go (<stem><suffix>)
  bool absoluteNames = false;  // the output's place is unknown: name weights absolutely
  std::set<std::string> protectedFiles; // the input's weight files (absolute): never written
};

ArtifactPaths &artifactPaths();

/// Sets the paths for a tool reading `input` ("-": stdin) and writing
/// `output` ("-": stdout). Creates the output's directory; an error names it
/// when that is impossible.
llvm::Error configureArtifactPaths(llvm::StringRef input, llvm::StringRef output);

/// Directory new files go to (and, unless names are absolute, that the
/// output module's relative weight names refer to).
std::string outputDir();
/// The directory weight names of the output module are relative to; "" when
/// they are absolute.
std::string namesRelativeTo();
/// `<output stem><suffix>` beside the output module, made unique against the
/// input's own files (`<stem>.1<suffix>`, ...).
std::string outputSibling(llvm::StringRef suffix);

} // namespace shear

#endif
