//===- Safetensors.h - the weight store's file format ---------------------===//
//
// safetensors: 8-byte little-endian header length N, N bytes of JSON
// (`name: {dtype, shape, data_offsets: [begin, end]}`, optional
// `__metadata__`), then the raw little-endian row-major data. Files are
// memory-mapped for reading and written one tensor at a time, atomically
// (temporary file, fsync, rename), so a 7B model is never held in memory twice.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TARGET_SAFETENSORS_H
#define SHEAR_TARGET_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shear {

enum class DType : uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

llvm::StringRef dtypeName(DType dtype);
std::optional<DType> parseDType(llvm::StringRef name);
size_t dtypeBytes(DType dtype);
bool isFloatDType(DType dtype);

/// Conversions between float32 and the stored float types (round to nearest even).
void convertToF32(DType dtype, const uint8_t *src, size_t count, float *dst);
void convertFromF32(DType dtype, const float *src, size_t count, uint8_t *dst);
float bf16ToF32(uint16_t bits);
uint16_t f32ToBf16(float value);
float f16ToF32(uint16_t bits);
uint16_t f32ToF16(float value);

int64_t numElements(llvm::ArrayRef<int64_t> shape);
std::string shapeToString(llvm::ArrayRef<int64_t> shape);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // offsets from the end of the header
  int64_t numel() const { return numElements(shape); }
  uint64_t byteSize() const { return end - begin; }
};

/// A validated, memory-mapped safetensors file.
class SafetensorsFile {
public:
  /// Opens and validates `path`. Every defect (header length beyond the file,
  /// invalid JSON, unknown dtype, offsets out of range, overlapping or
  /// non-contiguous data, a shape that does not match its byte count, duplicate
  /// names) is an error naming the file, the tensor and the problem.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>> open(llvm::StringRef path);
  /// Validates an in-memory image (used by open and by tests).
  static llvm::Expected<std::vector<TensorInfo>>
  parseHeader(llvm::StringRef path, const uint8_t *data, uint64_t size,
              uint64_t &dataStart, std::map<std::string, std::string> &metadata);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  const std::string &path() const { return path_; }
  llvm::ArrayRef<TensorInfo> tensors() const { return tensors_; }
  const TensorInfo *find(llvm::StringRef name) const;
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  const uint8_t *data(const TensorInfo &t) const { return base_ + dataStart_ + t.begin; }
  /// The tensor converted to float32 (floating dtypes only).
  std::vector<float> readF32(const TensorInfo &t) const;
  /// Lets the kernel drop the tensor's pages: streaming a 7B model through
  /// a mapping must not keep it resident.
  void release(const TensorInfo &t) const;

private:
  SafetensorsFile() = default;
  std::string path_;
  const uint8_t *base_ = nullptr;
  uint64_t size_ = 0, dataStart_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t byteSize() const { return numElements(shape) * dtypeBytes(dtype); }
};

/// Streams tensors into a new safetensors file: the header is written from the
/// specs up front, then each tensor's bytes in spec order. Nothing appears at
/// `path` until commit() succeeds; a writer destroyed before that removes its
/// temporary file, so an existing file at `path` is never damaged.
class SafetensorsWriter {
public:
  static llvm::Expected<std::unique_ptr<SafetensorsWriter>>
  create(llvm::StringRef path, std::vector<TensorSpec> specs,
         const std::map<std::string, std::string> &metadata = {});
  ~SafetensorsWriter();

  /// Writes the next tensor's raw bytes (its dtype, its byte size).
  llvm::Error write(llvm::ArrayRef<uint8_t> bytes);
  /// Writes the next tensor from float32 values, converting to its dtype.
  llvm::Error writeF32(llvm::ArrayRef<float> values);
  /// fsync, rename into place, fsync the directory.
  llvm::Error commit();
  const std::string &path() const { return path_; }

private:
  SafetensorsWriter() = default;
  llvm::Error writeAll(const void *data, size_t size);
  std::string path_, tmpPath_;
  int fd_ = -1;
  std::vector<TensorSpec> specs_;
  size_t next_ = 0;
  bool committed_ = false;
};

/// Writes a whole file of float32 tensors at once (small files: gates, masks).
llvm::Error writeF32Tensors(
    llvm::StringRef path,
    const std::vector<std::pair<TensorSpec, std::vector<float>>> &tensors);

/// Opens each file once and keeps it mapped.
class WeightStore {
public:
  llvm::Expected<const SafetensorsFile *> file(llvm::StringRef path);
  /// The named tensor of `path`, or an error naming both.
  llvm::Expected<std::pair<const SafetensorsFile *, const TensorInfo *>>
  tensor(llvm::StringRef path, llvm::StringRef name);

private:
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files_;
};

/// Reads a `model.safetensors.index.json`: tensor name -> shard file name.
llvm::Expected<std::map<std::string, std::string>> readShardIndex(llvm::StringRef path);

/// An error whose message is "<file>: <what>".
llvm::Error fileError(llvm::StringRef file, const llvm::Twine &what);

} // namespace shear

#endif
