//===- ArtifactPaths.cpp --------------------------------------------------===//
#include "shear/Target/ArtifactPaths.h"

#include "llvm/Support/MemoryBuffer.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shear;

ArtifactPaths &shear::artifactPaths() {
  static ArtifactPaths paths;
  return paths;
}

namespace {
bool toStdout(llvm::StringRef output) { return output.empty() || output == "-"; }

/// The file stdout is redirected to, or "" (a terminal, a pipe).
std::string stdoutFile() {
  struct stat st;
  if (fstat(STDOUT_FILENO, &st) != 0 || !S_ISREG(st.st_mode))
    return "";
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/fd/1", buf, sizeof buf - 1);
  if (n <= 0)
    return "";
  buf[n] = '\0';
  return buf[0] == '/' ? std::string(buf) : "";
}

/// Files a module names (`from "FILE"`), resolved against its directory.
std::set<std::string> filesNamedBy(llvm::StringRef text, llvm::StringRef dir) {
  std::set<std::string> files;
  size_t at = 0;
  while ((at = text.find("from \"", at)) != llvm::StringRef::npos) {
    at += 6;
    size_t end = text.find('"', at);
    if (end == llvm::StringRef::npos)
      break;
    files.insert(canonicalPath(absolutePath(text.slice(at, end), dir)));
    at = end;
  }
  return files;
}

std::string stemOf(const std::string &path) {
  std::string name = fileName(path);
  size_t dot = name.rfind('.');
  std::string stem = path;
  if (dot != std::string::npos && dot > 0)
    stem.resize(path.size() - (name.size() - dot));
  return stem;
}
} // namespace

llvm::Error shear::configureArtifactPaths(llvm::StringRef input, llvm::StringRef output) {
  ArtifactPaths &a = artifactPaths();
  std::string inputDir = input == "-" ? canonicalPath(".") : canonicalPath(parentDirectory(input));
  a.moduleDir = inputDir;
  if (input != "-")
    if (auto text = llvm::MemoryBuffer::getFile(input))
      a.protectedFiles = filesNamedBy((*text)->getBuffer(), inputDir);
  std::string out = output.str();
  if (toStdout(output)) {
    out = stdoutFile();
    if (out.empty()) {
      // A pipe or a terminal: new files beside the input, absolute names.
      std::string base = input == "-" ? joinPath(inputDir, "stdin") : stemOf(canonicalPath(input));
      a.outputPath = "";
      a.artifactStem = base + "-out";
      a.absoluteNames = true;
      return llvm::Error::success();
    }
  }
  std::string dir = parentDirectory(absolutePath(out, "."));
  if (!isDirectory(dir))
    if (Status made = createDirectories(dir); !made.ok())
      return llvmFileError(dir, "cannot create the output directory: " + made.message());
  a.outputPath = canonicalPath(out);
  a.artifactStem = "";
  a.absoluteNames = false;
  return llvm::Error::success();
}

std::string shear::outputDir() {
  const ArtifactPaths &a = artifactPaths();
  if (!toStdout(a.outputPath))
    return parentDirectory(absolutePath(a.outputPath, "."));
  if (!a.artifactStem.empty())
    return parentDirectory(a.artifactStem);
  return absolutePath(".", ".");
}

std::string shear::namesRelativeTo() {
  return artifactPaths().absoluteNames ? std::string() : outputDir();
}

std::string shear::outputSibling(llvm::StringRef suffix) {
  const ArtifactPaths &a = artifactPaths();
  std::string stem;
  if (!toStdout(a.outputPath))
    stem = stemOf(absolutePath(a.outputPath, "."));
  else if (!a.artifactStem.empty())
    stem = a.artifactStem;
  else
    return "";
  std::string path = stem + suffix.str();
  for (int i = 1; a.protectedFiles.count(canonicalPath(path)); ++i)
    path = stem + "." + std::to_string(i) + suffix.str();
  return path;
}
