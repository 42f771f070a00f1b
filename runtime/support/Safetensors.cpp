//===- Safetensors.cpp - strict safetensors reader and streaming writer ---===//
#include "shear/Support/Safetensors.h"

#include "shear/Support/Files.h"
#include "shear/Support/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shear;

static std::string errnoText() { return std::strerror(errno); }

//===----------------------------------------------------------------------===//
// reading
//===----------------------------------------------------------------------===//

Result<std::vector<TensorInfo>>
SafetensorsFile::parseHeader(std::string_view pathView, const uint8_t *data, uint64_t size,
                             uint64_t &dataStart, std::map<std::string, std::string> &metadata) {
  std::string path(pathView);
  if (size < 8)
    return fileError(path, "not a safetensors file: " + std::to_string(size) +
                               " bytes, too short for the 8-byte header length");
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = headerLen << 8 | data[i];
  if (headerLen > size - 8)
    return fileError(path, "header length " + std::to_string(headerLen) +
                               " exceeds the file size (" + std::to_string(size) + " bytes)");
  std::string_view headerText(reinterpret_cast<const char *>(data + 8), headerLen);
  json::ParseOptions options;
  std::string duplicate;
  options.duplicateKey = &duplicate;
  Result<json::Value> parsed = json::parse(headerText, options);
  if (!parsed.ok()) {
    if (!duplicate.empty())
      return fileError(path, "tensor '" + duplicate + "': duplicate name in the header");
    return fileError(path, "invalid JSON header: " + parsed.status().message());
  }
  const json::Object *root = parsed->asObject();
  if (!root)
    return fileError(path, "the JSON header is not an object");

  dataStart = 8 + headerLen;
  uint64_t dataSize = size - dataStart;
  std::vector<TensorInfo> tensors;
  for (const auto &[name, value] : *root) {
    if (name == "__metadata__") {
      const json::Object *meta = value.asObject();
      if (!meta)
        return fileError(path, "__metadata__ is not an object");
      for (const auto &[key, entry] : *meta) {
        const std::string *s = entry.asString();
        if (!s)
          return fileError(path, "__metadata__ entry '" + key + "' is not a string");
        metadata[key] = *s;
      }
      continue;
    }
    const std::string &tensorName = name;
    auto tensorError = [&](const std::string &what) {
      return fileError(path, "tensor '" + tensorName + "': " + what);
    };
    if (!value.asObject())
      return tensorError("entry is not an object");
    TensorInfo t;
    t.name = name;
    const std::string *dtype = value.getString("dtype");
    if (!dtype)
      return tensorError("missing 'dtype'");
    auto parsedType = parseDType(*dtype);
    if (!parsedType)
      return tensorError("unknown dtype '" + *dtype + "'");
    t.dtype = *parsedType;
    const json::Array *shape = value.getArray("shape");
    if (!shape)
      return tensorError("missing 'shape'");
    for (const json::Value &d : *shape) {
      auto v = d.asInteger();
      if (!v || *v < 0)
        return tensorError("shape entries must be non-negative integers");
      t.shape.push_back(*v);
    }
    const json::Array *offsets = value.getArray("data_offsets");
    if (!offsets || offsets->size() != 2 || !(*offsets)[0].asInteger() ||
        !(*offsets)[1].asInteger())
      return tensorError("'data_offsets' must be [begin, end]");
    int64_t begin = *(*offsets)[0].asInteger(), end = *(*offsets)[1].asInteger();
    if (begin < 0 || end < begin)
      return tensorError("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                         "] are not an increasing range");
    if (static_cast<uint64_t>(end) > dataSize)
      return tensorError("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                         "] out of range: the data section has " + std::to_string(dataSize) +
                         " bytes");
    t.begin = begin;
    t.end = end;
    int64_t numel = t.numel();
    // The element count and byte count are checked for overflow before use.
    if (numel < 0 || static_cast<uint64_t>(numel) > UINT64_MAX / dtypeBytes(t.dtype))
      return tensorError("shape " + shapeToString(t.shape) + " has more elements than fit in 64 bits");
    uint64_t expected = static_cast<uint64_t>(numel) * dtypeBytes(t.dtype);
    if (expected != t.byteSize())
      return tensorError("shape " + shapeToString(t.shape) + " of " + dtypeName(t.dtype) +
                         " needs " + std::to_string(expected) + " bytes but data_offsets span " +
                         std::to_string(t.byteSize()));
    tensors.push_back(std::move(t));
  }

  // The data section must be covered exactly once, without gaps.
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo &a, const TensorInfo &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t cursor = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo &t = tensors[i];
    if (t.begin < cursor)
      return fileError(path, "tensor '" + t.name + "': data [" + std::to_string(t.begin) + ", " +
                                 std::to_string(t.end) + ") overlaps tensor '" +
                                 tensors[i - 1].name + "'");
    if (t.begin > cursor)
      return fileError(path, "tensor '" + t.name + "': data starts at " +
                                 std::to_string(t.begin) + " but the previous tensor ends at " +
                                 std::to_string(cursor) + " (non-contiguous data)");
    cursor = t.end;
  }
  if (cursor != dataSize)
    return fileError(path, "the tensors cover " + std::to_string(cursor) +
                               " bytes of data but the file holds " + std::to_string(dataSize) +
                               " (truncated header or trailing bytes)");
  return tensors;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(std::string_view pathView) {
  std::string path(pathView);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fileError(path, "cannot open: " + errnoText());
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fileError(path, "not a regular file");
  }
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->size_ = st.st_size;
  if (file->size_ > 0) {
    void *m = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      std::string why = errnoText();
      ::close(fd);
      return fileError(path, "cannot map: " + why);
    }
    file->base_ = static_cast<const uint8_t *>(m);
  }
  ::close(fd);
  auto tensors = parseHeader(path, file->base_, file->size_, file->dataStart_, file->metadata_);
  if (!tensors.ok())
    return tensors.status();
  file->tensors_ = tensors.take();
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (base_)
    munmap(const_cast<uint8_t *>(base_), size_);
}

const TensorInfo *SafetensorsFile::find(std::string_view name) const {
  for (const TensorInfo &t : tensors_)
    if (t.name == name)
      return &t;
  return nullptr;
}

std::vector<float> SafetensorsFile::readF32(const TensorInfo &t) const {
  std::vector<float> out(t.numel());
  convertToF32(t.dtype, data(t), out.size(), out.data());
  return out;
}

void SafetensorsFile::release(const TensorInfo &t) const {
  uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t start = reinterpret_cast<uintptr_t>(data(t)) & ~(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(data(t)) + t.byteSize();
  if (end > start)
    madvise(reinterpret_cast<void *>(start), end - start, MADV_DONTNEED);
}

Status shear::checkFinite(const SafetensorsFile &file, const TensorInfo &t) {
  if (!isFloatDType(t.dtype))
    return Status();
  const uint8_t *data = file.data(t);
  size_t n = static_cast<size_t>(t.numel());
  float chunk[4096];
  for (size_t begin = 0; begin < n; begin += 4096) {
    size_t count = std::min<size_t>(4096, n - begin);
    convertToF32(t.dtype, data + begin * dtypeBytes(t.dtype), count, chunk);
    for (size_t i = 0; i < count; ++i)
      if (!std::isfinite(chunk[i]))
        return fileError(file.path(), "tensor '" + t.name + "' holds " +
                                          (std::isnan(chunk[i]) ? "NaN" : "an infinity") +
                                          " at element " + std::to_string(begin + i) +
                                          " (non-finite weights are refused)");
  }
  return Status();
}

//===----------------------------------------------------------------------===//
// writing
//===----------------------------------------------------------------------===//

Result<std::unique_ptr<SafetensorsWriter>>
SafetensorsWriter::create(std::string_view pathView, std::vector<TensorSpec> specs,
                          const std::map<std::string, std::string> &metadata) {
  std::string path(pathView);
  std::unique_ptr<SafetensorsWriter> w(new SafetensorsWriter());
  w->path_ = path;
  w->tmpPath_ = path + ".tmp." + std::to_string(getpid());
  w->specs_ = std::move(specs);

  json::Object header;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorSpec &s : w->specs_) {
    if (!names.insert(s.name).second)
      return fileError(path, "tensor '" + s.name + "': written twice");
    if (numElements(s.shape) < 0)
      return fileError(path, "tensor '" + s.name + "': invalid shape " + shapeToString(s.shape));
    uint64_t bytes = s.byteSize();
    json::Array shape;
    for (int64_t d : s.shape)
      shape.push_back(d);
    header[s.name] = json::Object{{"dtype", dtypeName(s.dtype)},
                                  {"shape", std::move(shape)},
                                  {"data_offsets", json::Array{offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto &kv : metadata)
      meta[kv.first] = kv.second;
    header["__metadata__"] = std::move(meta);
  }
  std::string text = json::write(json::Value(std::move(header)));
  while (text.size() % 8) // keep the data 8-byte aligned, as other writers do
    text += ' ';

  w->fd_ = ::open(w->tmpPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) {
    std::string why = errnoText();
    std::string dir = parentDirectory(path);
    if (!isDirectory(dir))
      return ioError(path, "cannot write: the directory " + dir + " does not exist");
    return ioError(path, "cannot create " + w->tmpPath_ + ": " + why);
  }
  uint8_t len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(n >> (8 * i));
  SHEAR_RETURN_IF_ERROR(writeAll(w->fd_, len, 8, w->tmpPath_));
  SHEAR_RETURN_IF_ERROR(writeAll(w->fd_, text.data(), text.size(), w->tmpPath_));
  return w;
}

Status SafetensorsWriter::write(const uint8_t *bytes, size_t size) {
  if (next_ >= specs_.size())
    return internalError(path_ + ": more tensors written than declared");
  const TensorSpec &s = specs_[next_];
  if (size != s.byteSize())
    return internalError(path_ + ": tensor '" + s.name + "': " + std::to_string(size) +
                         " bytes given, " + std::to_string(s.byteSize()) + " expected");
  ++next_;
  return writeAll(fd_, bytes, size, tmpPath_);
}

Status SafetensorsWriter::writeF32(const float *values, size_t count) {
  if (next_ >= specs_.size())
    return internalError(path_ + ": more tensors written than declared");
  const TensorSpec &s = specs_[next_];
  if (!isFloatDType(s.dtype))
    return internalError(path_ + ": tensor '" + s.name + "': cannot convert float32 to " +
                         dtypeName(s.dtype));
  if (s.dtype == DType::F32)
    return write(reinterpret_cast<const uint8_t *>(values), count * 4);
  std::vector<uint8_t> bytes(count * dtypeBytes(s.dtype));
  convertFromF32(s.dtype, values, count, bytes.data());
  return write(bytes.data(), bytes.size());
}

Status SafetensorsWriter::commit() {
  if (next_ != specs_.size())
    return internalError(path_ + ": only " + std::to_string(next_) + " of " +
                         std::to_string(specs_.size()) + " tensors were written");
  if (fsync(fd_) != 0)
    return ioError(tmpPath_, "fsync failed: " + errnoText());
  ::close(fd_);
  fd_ = -1;
  if (std::rename(tmpPath_.c_str(), path_.c_str()) != 0)
    return ioError(path_, "cannot rename the temporary file into place: " + errnoText());
  committed_ = true;
  syncDirectory(parentDirectory(path_));
  return Status();
}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!committed_)
    ::unlink(tmpPath_.c_str());
}

Status shear::writeF32Tensors(std::string_view path,
                              const std::vector<std::pair<TensorSpec, std::vector<float>>> &tensors) {
  std::vector<TensorSpec> specs;
  for (const auto &t : tensors)
    specs.push_back(t.first);
  auto writer = SafetensorsWriter::create(path, specs);
  if (!writer.ok())
    return writer.status();
  for (const auto &t : tensors)
    SHEAR_RETURN_IF_ERROR((*writer)->writeF32(t.second));
  return (*writer)->commit();
}

//===----------------------------------------------------------------------===//
// stores and shard indexes
//===----------------------------------------------------------------------===//

Result<const SafetensorsFile *> WeightStore::file(std::string_view path) {
  auto it = files_.find(path);
  if (it != files_.end())
    return static_cast<const SafetensorsFile *>(it->second.get());
  auto opened = SafetensorsFile::open(path);
  if (!opened.ok())
    return opened.status();
  const SafetensorsFile *raw = opened->get();
  files_.emplace(std::string(path), opened.take());
  return raw;
}

Result<std::pair<const SafetensorsFile *, const TensorInfo *>>
WeightStore::tensor(std::string_view path, std::string_view name) {
  auto f = file(path);
  if (!f.ok())
    return f.status();
  const TensorInfo *t = (*f)->find(name);
  if (!t)
    return fileError(std::string(path), "no tensor named '" + std::string(name) + "'");
  return std::make_pair(*f, t);
}

Result<std::map<std::string, std::string>> shear::readShardIndex(std::string_view path) {
  auto text = readFile(path);
  if (!text.ok())
    return text.status();
  return parseShardIndex(*text, path);
}

Result<std::map<std::string, std::string>> shear::parseShardIndex(std::string_view text,
                                                                  std::string_view path) {
  auto parsed = json::parse(text);
  if (!parsed.ok())
    return fileError(std::string(path), parsed.status().message());
  const json::Object *map = parsed->getObject("weight_map");
  if (!map)
    return fileError(std::string(path), "missing object 'weight_map'");
  std::map<std::string, std::string> result;
  for (const auto &[key, value] : *map) {
    const std::string *file = value.asString();
    if (!file || file->empty() || file->find('/') != std::string::npos)
      return fileError(std::string(path), "weight_map entry '" + key +
                                              "' is not a file name in the same directory");
    result[key] = *file;
  }
  return result;
}
