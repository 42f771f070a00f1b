//===- Files.cpp - paths, whole-file reads and atomic writes --------------===//
#include "shear/Support/Files.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

using namespace shear;
namespace stdfs = std::filesystem;

static std::string errnoText() { return std::strerror(errno); }

std::string shear::absolutePath(std::string_view path, std::string_view baseDir) {
  stdfs::path p(path);
  if (!p.is_absolute()) {
    stdfs::path base(baseDir.empty() ? std::string_view(".") : baseDir);
    if (!base.is_absolute()) {
      std::error_code ec;
      base = stdfs::current_path(ec) / base;
    }
    p = base / p;
  }
  std::string s = p.lexically_normal().string();
  // lexically_normal keeps a trailing separator ("a/b/" for "a/b/."): drop it.
  while (s.size() > 1 && s.back() == '/')
    s.pop_back();
  return s;
}

std::string shear::canonicalPath(std::string_view path) {
  std::error_code ec;
  stdfs::path p = stdfs::weakly_canonical(stdfs::path(absolutePath(path, ".")), ec);
  if (ec)
    return absolutePath(path, ".");
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/')
    s.pop_back();
  return s;
}

std::string shear::relativePath(std::string_view path, std::string_view dir) {
  stdfs::path p(path), d(dir);
  if (!p.is_absolute() || !d.is_absolute())
    return std::string(path);
  stdfs::path rel = p.lexically_relative(d);
  return rel.empty() ? std::string(path) : rel.string();
}

std::string shear::joinPath(std::string_view dir, std::string_view name) {
  if (!name.empty() && name.front() == '/')
    return std::string(name);
  if (dir.empty())
    return std::string(name);
  std::string out(dir);
  if (out.back() != '/')
    out += '/';
  out += name;
  return out;
}

std::string shear::parentDirectory(std::string_view path) {
  std::string s(path);
  while (s.size() > 1 && s.back() == '/')
    s.pop_back();
  size_t slash = s.rfind('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return s.substr(0, slash);
}

std::string shear::fileName(std::string_view path) {
  std::string s(path);
  while (s.size() > 1 && s.back() == '/')
    s.pop_back();
  size_t slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

bool shear::pathExists(std::string_view path) {
  struct stat st;
  return ::stat(std::string(path).c_str(), &st) == 0;
}

bool shear::isDirectory(std::string_view path) {
  struct stat st;
  return ::stat(std::string(path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status shear::createDirectories(std::string_view path) {
  std::error_code ec;
  stdfs::create_directories(stdfs::path(path), ec);
  if (ec && !isDirectory(path))
    return ioError(std::string(path), "cannot create the directory: " + ec.message());
  return Status();
}

Status shear::removeAll(std::string_view path) {
  std::error_code ec;
  stdfs::remove_all(stdfs::path(path), ec);
  if (ec)
    return ioError(std::string(path), "cannot remove: " + ec.message());
  return Status();
}

Result<std::vector<std::string>> shear::listDirectory(std::string_view path) {
  std::error_code ec;
  std::vector<std::string> names;
  for (stdfs::directory_iterator it(stdfs::path(path), ec), end; !ec && it != end;
       it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec)
    return ioError(std::string(path), "cannot list the directory: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> shear::readFile(std::string_view pathView) {
  std::string path(pathView);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fileError(path, "cannot read: " + errnoText());
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fileError(path, "cannot read: not a regular file");
  }
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      std::string why = errnoText();
      ::close(fd);
      return fileError(path, "cannot read: " + why);
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<json::Value> shear::readJsonFile(std::string_view path) {
  Result<std::string> text = readFile(path);
  if (!text.ok())
    return text.status();
  Result<json::Value> value = json::parse(*text);
  if (!value.ok())
    return fileError(std::string(path), value.status().message());
  return value;
}

Status shear::writeAll(int fd, const void *data, size_t size, std::string_view pathForErrors) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    // Linux writes at most 0x7ffff000 bytes per call.
    size_t chunk = size < (size_t(1) << 30) ? size : (size_t(1) << 30);
    ssize_t n = ::write(fd, p, chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return ioError(std::string(pathForErrors), "write failed: " + errnoText());
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status();
}

void shear::syncDirectory(std::string_view path) {
  std::string dir(path.empty() ? std::string_view(".") : path);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    ::close(fd);
  }
}

Status shear::writeFileAtomically(std::string_view pathView, std::string_view contents) {
  std::string path(pathView);
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::string why = errnoText();
    std::string dir = parentDirectory(path);
    if (!isDirectory(dir))
      return ioError(path, "cannot write: the directory " + dir + " does not exist");
    return ioError(path, "cannot write: " + why);
  }
  Status written = writeAll(fd, contents.data(), contents.size(), path);
  if (written.ok() && fsync(fd) != 0)
    written = ioError(path, "fsync failed: " + errnoText());
  ::close(fd);
  if (written.ok() && std::rename(tmp.c_str(), path.c_str()) != 0)
    written = ioError(path, "cannot rename the temporary file into place: " + errnoText());
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written;
  }
  syncDirectory(parentDirectory(path));
  return Status();
}

Status shear::writeJsonFileAtomically(std::string_view path, const json::Value &value) {
  return writeFileAtomically(path, json::write(value, 2) + "\n");
}
