//===- Safetensors.cpp - strict safetensors reader and streaming writer ---===//
#include "shear/Target/Safetensors.h"
#include "shear/Target/ArtifactPaths.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shear;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

Error shear::fileError(StringRef file, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 (file + ": " + what).str());
}

//===----------------------------------------------------------------------===//
// dtypes and conversions
//===----------------------------------------------------------------------===//

namespace {
struct DTypeEntry {
  DType dtype;
  const char *name;
  size_t bytes;
};
const DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8},  {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},  {DType::I8, "I8", 1},   {DType::U64, "U64", 8},
    {DType::U32, "U32", 4},  {DType::U16, "U16", 2}, {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1}};
} // namespace

StringRef shear::dtypeName(DType d) { return kDTypes[static_cast<int>(d)].name; }
size_t shear::dtypeBytes(DType d) { return kDTypes[static_cast<int>(d)].bytes; }
bool shear::isFloatDType(DType d) {
  return d == DType::F64 || d == DType::F32 || d == DType::F16 || d == DType::BF16;
}
std::optional<DType> shear::parseDType(StringRef name) {
  for (const auto &e : kDTypes)
    if (name == e.name)
      return e.dtype;
  return std::nullopt;
}

float shear::bf16ToF32(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t shear::f32ToBf16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a quiet NaN
    return static_cast<uint16_t>((u >> 16) | 0x40);
  uint32_t rounding = 0x7fffu + ((u >> 16) & 1u); // round to nearest even
  return static_cast<uint16_t>((u + rounding) >> 16);
}

float shear::f16ToF32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else { // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400u));
      u = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | mant << 13;
  } else {
    u = sign | (exp + 112) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t shear::f32ToF16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u)
    return sign | 0x7e00u; // NaN
  if (absu >= 0x477ff000u) // rounds to >= 65520: infinity
    return sign | 0x7c00u;
  if (absu < 0x38800000u) { // below the smallest normal half: subnormal or 0
    if (absu < 0x33000000u)
      return sign;
    uint32_t mant = (absu & 0x7fffffu) | 0x800000u;
    int shift = 113 - static_cast<int>(absu >> 23) + 13;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u)))
      ++half;
    return sign | static_cast<uint16_t>(half);
  }
  uint32_t rounded = absu + 0xfffu + ((absu >> 13) & 1u);
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
}

void shear::convertToF32(DType dtype, const uint8_t *src, size_t n, float *dst) {
  switch (dtype) {
  case DType::F32:
    std::memcpy(dst, src, n * 4);
    return;
  case DType::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b;
      std::memcpy(&b, src + 2 * i, 2);
      dst[i] = bf16ToF32(b);
    }
    return;
  case DType::F16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b;
      std::memcpy(&b, src + 2 * i, 2);
      dst[i] = f16ToF32(b);
    }
    return;
  case DType::F64:
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      dst[i] = static_cast<float>(d);
    }
    return;
  default:
    llvm::report_fatal_error("convertToF32 on a non-float dtype");
  }
}

void shear::convertFromF32(DType dtype, const float *src, size_t n, uint8_t *dst) {
  switch (dtype) {
  case DType::F32:
    std::memcpy(dst, src, n * 4);
    return;
  case DType::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b = f32ToBf16(src[i]);
      std::memcpy(dst + 2 * i, &b, 2);
    }
    return;
  case DType::F16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b = f32ToF16(src[i]);
      std::memcpy(dst + 2 * i, &b, 2);
    }
    return;
  case DType::F64:
    for (size_t i = 0; i < n; ++i) {
      double d = src[i];
      std::memcpy(dst + 8 * i, &d, 8);
    }
    return;
  default:
    llvm::report_fatal_error("convertFromF32 to a non-float dtype");
  }
}

int64_t shear::numElements(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string shear::shapeToString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

//===----------------------------------------------------------------------===//
// reading
//===----------------------------------------------------------------------===//

namespace {
// The keys of the top-level JSON object, in order, duplicates included
// (llvm::json keeps only one of a duplicated key). Assumes valid JSON.
std::vector<std::string> topLevelKeys(StringRef json) {
  std::vector<std::string> keys;
  int depth = 0;
  bool expectKey = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '"') {
      size_t j = i + 1;
      std::string s;
      while (j < json.size() && json[j] != '"') {
        if (json[j] == '\\' && j + 1 < json.size())
          s += json[j++];
        s += json[j++];
      }
      if (depth == 1 && expectKey) {
        keys.push_back(s);
        expectKey = false;
      }
      i = j;
    } else if (c == '{' || c == '[') {
      ++depth;
      if (depth == 1 && c == '{')
        expectKey = true;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expectKey = true;
    }
  }
  return keys;
}
} // namespace

Expected<std::vector<TensorInfo>>
SafetensorsFile::parseHeader(StringRef path, const uint8_t *data, uint64_t size,
                             uint64_t &dataStart,
                             std::map<std::string, std::string> &metadata) {
  if (size < 8)
    return fileError(path, "not a safetensors file: " + llvm::Twine(size) +
                               " bytes, too short for the 8-byte header length");
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = headerLen << 8 | data[i];
  if (headerLen > size - 8)
    return fileError(path, "header length " + llvm::Twine(headerLen) +
                               " exceeds the file size (" + llvm::Twine(size) +
                               " bytes)");
  StringRef headerText(reinterpret_cast<const char *>(data + 8), headerLen);
  Expected<llvm::json::Value> parsed = llvm::json::parse(headerText);
  if (!parsed)
    return fileError(path, "invalid JSON header: " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root)
    return fileError(path, "the JSON header is not an object");

  std::set<std::string> seen;
  for (const std::string &key : topLevelKeys(headerText))
    if (!seen.insert(key).second)
      return fileError(path, "tensor '" + key + "': duplicate name in the header");

  dataStart = 8 + headerLen;
  uint64_t dataSize = size - dataStart;
  std::vector<TensorInfo> tensors;
  for (const auto &kv : *root) {
    std::string name = kv.first.str();
    if (name == "__metadata__") {
      const llvm::json::Object *meta = kv.second.getAsObject();
      if (!meta)
        return fileError(path, "__metadata__ is not an object");
      for (const auto &m : *meta) {
        auto s = m.second.getAsString();
        if (!s)
          return fileError(path, "__metadata__ entry '" + m.first.str() +
                                     "' is not a string");
        metadata[m.first.str()] = s->str();
      }
      continue;
    }
    auto tensorError = [&](const llvm::Twine &what) {
      return fileError(path, "tensor '" + name + "': " + what);
    };
    const llvm::json::Object *entry = kv.second.getAsObject();
    if (!entry)
      return tensorError("entry is not an object");
    TensorInfo t;
    t.name = name;
    auto dtype = entry->getString("dtype");
    if (!dtype)
      return tensorError("missing 'dtype'");
    auto parsedType = parseDType(*dtype);
    if (!parsedType)
      return tensorError("unknown dtype '" + *dtype + "'");
    t.dtype = *parsedType;
    const llvm::json::Array *shape = entry->getArray("shape");
    if (!shape)
      return tensorError("missing 'shape'");
    for (const auto &d : *shape) {
      auto v = d.getAsInteger();
      if (!v || *v < 0)
        return tensorError("shape entries must be non-negative integers");
      t.shape.push_back(*v);
    }
    const llvm::json::Array *offsets = entry->getArray("data_offsets");
    if (!offsets || offsets->size() != 2 || !(*offsets)[0].getAsInteger() ||
        !(*offsets)[1].getAsInteger())
      return tensorError("'data_offsets' must be [begin, end]");
    int64_t begin = *(*offsets)[0].getAsInteger(), end = *(*offsets)[1].getAsInteger();
    if (begin < 0 || end < begin)
      return tensorError("data_offsets [" + llvm::Twine(begin) + ", " +
                         llvm::Twine(end) + "] are not an increasing range");
    if (static_cast<uint64_t>(end) > dataSize)
      return tensorError("data_offsets [" + llvm::Twine(begin) + ", " +
                         llvm::Twine(end) + "] out of range: the data section has " +
                         llvm::Twine(dataSize) + " bytes");
    t.begin = begin;
    t.end = end;
    uint64_t expected = static_cast<uint64_t>(t.numel()) * dtypeBytes(t.dtype);
    if (expected != t.byteSize())
      return tensorError("shape " + shapeToString(t.shape) + " of " +
                         dtypeName(t.dtype) + " needs " + llvm::Twine(expected) +
                         " bytes but data_offsets span " + llvm::Twine(t.byteSize()));
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
      return fileError(path, "tensor '" + t.name + "': data [" + llvm::Twine(t.begin) +
                                 ", " + llvm::Twine(t.end) + ") overlaps tensor '" +
                                 tensors[i - 1].name + "'");
    if (t.begin > cursor)
      return fileError(path, "tensor '" + t.name + "': data starts at " +
                                 llvm::Twine(t.begin) + " but the previous tensor ends at " +
                                 llvm::Twine(cursor) + " (non-contiguous data)");
    cursor = t.end;
  }
  if (cursor != dataSize)
    return fileError(path, "the tensors cover " + llvm::Twine(cursor) +
                               " bytes of data but the file holds " +
                               llvm::Twine(dataSize) +
                               " (truncated header or trailing bytes)");
  return tensors;
}

Expected<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(StringRef path) {
  int fd = ::open(path.str().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fileError(path, "cannot open: " + llvm::Twine(std::strerror(errno)));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fileError(path, "not a regular file");
  }
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path.str();
  file->size_ = st.st_size;
  if (file->size_ > 0) {
    void *m = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      ::close(fd);
      return fileError(path, "cannot map: " + llvm::Twine(std::strerror(errno)));
    }
    file->base_ = static_cast<const uint8_t *>(m);
  }
  ::close(fd);
  auto tensors = parseHeader(path, file->base_, file->size_, file->dataStart_,
                             file->metadata_);
  if (!tensors)
    return tensors.takeError();
  file->tensors_ = std::move(*tensors);
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (base_)
    munmap(const_cast<uint8_t *>(base_), size_);
}

const TensorInfo *SafetensorsFile::find(StringRef name) const {
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

//===----------------------------------------------------------------------===//
// writing
//===----------------------------------------------------------------------===//

Expected<std::unique_ptr<SafetensorsWriter>>
SafetensorsWriter::create(StringRef path, std::vector<TensorSpec> specs,
                          const std::map<std::string, std::string> &metadata) {
  std::unique_ptr<SafetensorsWriter> w(new SafetensorsWriter());
  w->path_ = path.str();
  w->tmpPath_ = path.str() + ".tmp." + std::to_string(getpid());
  w->specs_ = std::move(specs);

  llvm::json::Object header;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorSpec &s : w->specs_) {
    if (!names.insert(s.name).second)
      return fileError(path, "tensor '" + s.name + "': written twice");
    uint64_t bytes = s.byteSize();
    llvm::json::Array shape;
    for (int64_t d : s.shape)
      shape.push_back(d);
    header[s.name] = llvm::json::Object{
        {"dtype", dtypeName(s.dtype)},
        {"shape", std::move(shape)},
        {"data_offsets", llvm::json::Array{offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) {
    llvm::json::Object meta;
    for (const auto &kv : metadata)
      meta[kv.first] = kv.second;
    header["__metadata__"] = std::move(meta);
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(header));
  os.flush();
  while (text.size() % 8) // keep the data 8-byte aligned, as other writers do
    text += ' ';

  w->fd_ = ::open(w->tmpPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0)
    return fileError(w->tmpPath_, "cannot create: " + llvm::Twine(std::strerror(errno)));
  uint8_t len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(n >> (8 * i));
  if (Error e = w->writeAll(len, 8))
    return std::move(e);
  if (Error e = w->writeAll(text.data(), text.size()))
    return std::move(e);
  return w;
}

Error SafetensorsWriter::writeAll(const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fileError(tmpPath_, "write failed: " + llvm::Twine(std::strerror(errno)));
    p += n;
    size -= n;
  }
  return Error::success();
}

Error SafetensorsWriter::write(llvm::ArrayRef<uint8_t> bytes) {
  if (next_ >= specs_.size())
    return fileError(path_, "more tensors written than declared");
  const TensorSpec &s = specs_[next_];
  if (bytes.size() != s.byteSize())
    return fileError(path_, "tensor '" + s.name + "': " + llvm::Twine(bytes.size()) +
                                " bytes given, " + llvm::Twine(s.byteSize()) +
                                " expected");
  ++next_;
  return writeAll(bytes.data(), bytes.size());
}

Error SafetensorsWriter::writeF32(llvm::ArrayRef<float> values) {
  if (next_ >= specs_.size())
    return fileError(path_, "more tensors written than declared");
  const TensorSpec &s = specs_[next_];
  if (!isFloatDType(s.dtype))
    return fileError(path_, "tensor '" + s.name + "': cannot convert float32 to " +
                                dtypeName(s.dtype));
  std::vector<uint8_t> bytes(values.size() * dtypeBytes(s.dtype));
  convertFromF32(s.dtype, values.data(), values.size(), bytes.data());
  return write(bytes);
}

Error SafetensorsWriter::commit() {
  if (next_ != specs_.size())
    return fileError(path_, "only " + llvm::Twine(next_) + " of " +
                                llvm::Twine(specs_.size()) + " tensors were written");
  if (fsync(fd_) != 0)
    return fileError(tmpPath_, "fsync failed: " + llvm::Twine(std::strerror(errno)));
  ::close(fd_);
  fd_ = -1;
  if (std::rename(tmpPath_.c_str(), path_.c_str()) != 0)
    return fileError(path_, "cannot rename the temporary file into place: " +
                                llvm::Twine(std::strerror(errno)));
  committed_ = true;
  llvm::SmallString<256> dir(path_);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    ::close(dfd);
  }
  return Error::success();
}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!committed_)
    ::unlink(tmpPath_.c_str());
}

Error shear::writeF32Tensors(
    StringRef path, const std::vector<std::pair<TensorSpec, std::vector<float>>> &tensors) {
  std::vector<TensorSpec> specs;
  for (const auto &t : tensors)
    specs.push_back(t.first);
  auto writer = SafetensorsWriter::create(path, specs);
  if (!writer)
    return writer.takeError();
  for (const auto &t : tensors)
    if (Error e = (*writer)->writeF32(t.second))
      return e;
  return (*writer)->commit();
}

//===----------------------------------------------------------------------===//
// stores and shard indexes
//===----------------------------------------------------------------------===//

Expected<const SafetensorsFile *> WeightStore::file(StringRef path) {
  auto it = files_.find(path.str());
  if (it != files_.end())
    return it->second.get();
  auto opened = SafetensorsFile::open(path);
  if (!opened)
    return opened.takeError();
  const SafetensorsFile *raw = opened->get();
  files_[path.str()] = std::move(*opened);
  return raw;
}

Expected<std::pair<const SafetensorsFile *, const TensorInfo *>>
WeightStore::tensor(StringRef path, StringRef name) {
  auto f = file(path);
  if (!f)
    return f.takeError();
  const TensorInfo *t = (*f)->find(name);
  if (!t)
    return fileError(path, "no tensor named '" + name + "'");
  return std::make_pair(*f, t);
}

Expected<std::map<std::string, std::string>> shear::readShardIndex(StringRef path) {
  auto parsed = readJsonFile(path);
  if (!parsed)
    return parsed.takeError();
  const llvm::json::Object *root = parsed->getAsObject();
  const llvm::json::Object *map = root ? root->getObject("weight_map") : nullptr;
  if (!map)
    return fileError(path, "missing object 'weight_map'");
  std::map<std::string, std::string> result;
  for (const auto &kv : *map) {
    auto file = kv.second.getAsString();
    if (!file)
      return fileError(path, "weight_map entry '" + kv.first.str() + "' is not a file name");
    result[kv.first.str()] = file->str();
  }
  return result;
}
