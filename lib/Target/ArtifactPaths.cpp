//===- ArtifactPaths.cpp --------------------------------------------------===//
#include "shear/Target/ArtifactPaths.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

using namespace shear;

ArtifactPaths &shear::artifactPaths() {
  static ArtifactPaths paths;
  return paths;
}

std::string shear::absolutePath(llvm::StringRef path, llvm::StringRef baseDir) {
  llvm::SmallString<256> p;
  if (llvm::sys::path::is_absolute(path)) {
    p = path;
  } else {
    p = baseDir.empty() ? "." : baseDir;
    llvm::sys::path::append(p, path);
    llvm::sys::fs::make_absolute(p);
  }
  llvm::sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  return std::string(p);
}

std::string shear::relativePath(llvm::StringRef path, llvm::StringRef dir) {
  std::filesystem::path rel =
      std::filesystem::path(path.str()).lexically_relative(dir.str());
  return rel.empty() ? path.str() : rel.string();
}

std::string shear::outputDir() {
  const std::string &out = artifactPaths().outputPath;
  if (out.empty() || out == "-")
    return absolutePath(".", ".");
  return std::string(llvm::sys::path::parent_path(absolutePath(out, ".")));
}

std::string shear::outputSibling(llvm::StringRef suffix) {
  const std::string &out = artifactPaths().outputPath;
  if (out.empty() || out == "-")
    return "";
  llvm::SmallString<256> p(absolutePath(out, "."));
  llvm::sys::path::replace_extension(p, "");
  return std::string(p) + suffix.str();
}

llvm::Error shear::writeFileAtomically(llvm::StringRef path, llvm::StringRef contents) {
  auto error = [&](const std::string &what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), path.str() + ": " + what);
  };
  std::string tmp = path.str() + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return error("cannot create " + tmp);
  bool ok = ::write(fd, contents.data(), contents.size()) ==
                static_cast<ssize_t>(contents.size()) &&
            fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.str().c_str()) != 0) {
    ::unlink(tmp.c_str());
    return error("cannot write");
  }
  return llvm::Error::success();
}

std::string shear::joinPath(llvm::StringRef dir, llvm::StringRef name) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, name);
  return std::string(p);
}

llvm::Expected<llvm::json::Value> shear::readJsonFile(llvm::StringRef path) {
  auto error = [&](const llvm::Twine &what) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), (path + ": " + what).str());
  };
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return error("cannot read: " + buffer.getError().message());
  auto parsed = llvm::json::parse((*buffer)->getBuffer());
  if (!parsed)
    return error("invalid JSON: " + llvm::toString(parsed.takeError()));
  return std::move(*parsed);
}
