//===- ArtifactPaths.cpp --------------------------------------------------===//
#include "shear/Target/ArtifactPaths.h"

using namespace shear;

ArtifactPaths &shear::artifactPaths() {
  static ArtifactPaths paths;
  return paths;
}

std::string shear::outputDir() {
  const std::string &out = artifactPaths().outputPath;
  if (out.empty() || out == "-")
    return absolutePath(".", ".");
  return parentDirectory(absolutePath(out, "."));
}

std::string shear::outputSibling(llvm::StringRef suffix) {
  const std::string &out = artifactPaths().outputPath;
  if (out.empty() || out == "-")
    return "";
  std::string p = absolutePath(out, ".");
  std::string name = fileName(p);
  size_t dot = name.rfind('.');
  if (dot != std::string::npos && dot > 0)
    p.resize(p.size() - (name.size() - dot));
  return p + suffix.str();
}
