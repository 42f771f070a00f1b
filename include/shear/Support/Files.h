//===- Files.h - paths, whole-file reads and atomic writes ----------------===//
//
// Every file shear writes goes through a temporary file in the same
// directory, fsync, rename and an fsync of the directory: a reader (or a
// crash) sees the old contents or the new ones, never a mix. Writes loop on
// short writes and EINTR, so no single write() limit (about 2 GiB on Linux)
// truncates a file.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_FILES_H
#define SHEAR_SUPPORT_FILES_H

#include "shear/Support/Json.h"
#include "shear/Support/Status.h"

#include <string>
#include <string_view>
#include <vector>

namespace shear {

/// `path` made absolute (relative paths against `baseDir`, itself made
/// absolute against the working directory) with `.` and `..` removed.
std::string absolutePath(std::string_view path, std::string_view baseDir);
/// `path` made absolute with symbolic links resolved (as far as it exists):
/// the physical location, against which relative names stay right whatever
/// link the user went through.
std::string canonicalPath(std::string_view path);
/// `path` relative to `dir` when both are absolute (lexically); `path` itself
/// otherwise.
std::string relativePath(std::string_view path, std::string_view dir);
/// `dir`/`name` (`name` itself when it is absolute).
std::string joinPath(std::string_view dir, std::string_view name);
/// The directory part of `path`: "." when there is none.
std::string parentDirectory(std::string_view path);
/// The last component of `path`.
std::string fileName(std::string_view path);

bool pathExists(std::string_view path);
bool isDirectory(std::string_view path);
Status createDirectories(std::string_view path);
/// Removes a file or a directory tree; a missing path is not an error.
Status removeAll(std::string_view path);
/// Names of the entries of a directory (not . or ..), sorted.
Result<std::vector<std::string>> listDirectory(std::string_view path);

/// The whole file. Errors name the file.
Result<std::string> readFile(std::string_view path);
/// Reads and parses a JSON file; errors name the file.
Result<json::Value> readJsonFile(std::string_view path);

/// Writes all of `data` to `fd`, looping on short writes and EINTR.
Status writeAll(int fd, const void *data, size_t size, std::string_view pathForErrors);
/// `path` gets `contents` through a temporary file, fsync and rename.
Status writeFileAtomically(std::string_view path, std::string_view contents);
/// Pretty-printed JSON (and a final newline), atomically.
Status writeJsonFileAtomically(std::string_view path, const json::Value &value);
/// fsync of a directory (makes a rename inside it durable).
void syncDirectory(std::string_view path);

} // namespace shear

#endif
