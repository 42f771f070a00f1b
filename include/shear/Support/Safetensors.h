//===- Safetensors.h - the weight store's file format ---------------------===//
//
// safetensors: 8-byte little-endian header length N, N bytes of JSON
// (`name: {dtype, shape, data_offsets: [begin, end]}`, optional
// `__metadata__`), then the raw little-endian row-major data. Files are
// memory-mapped for reading and written one tensor at a time, atomically
// (temporary file, fsync, rename), so a 7B model is never held in memory twice.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_SAFETENSORS_H
#define SHEAR_SUPPORT_SAFETENSORS_H

#include "shear/Support/DType.h"
#include "shear/Support/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shear {

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
  static Result<std::unique_ptr<SafetensorsFile>> open(std::string_view path);
  /// Validates an in-memory image (used by open and by tests).
  static Result<std::vector<TensorInfo>>
  parseHeader(std::string_view path, const uint8_t *data, uint64_t size, uint64_t &dataStart,
              std::map<std::string, std::string> &metadata);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  const std::string &path() const { return path_; }
  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  const TensorInfo *find(std::string_view name) const;
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
  static Result<std::unique_ptr<SafetensorsWriter>>
  create(std::string_view path, std::vector<TensorSpec> specs,
         const std::map<std::string, std::string> &metadata = {});
  ~SafetensorsWriter();

  /// Writes the next tensor's raw bytes (its dtype, its byte size).
  Status write(const uint8_t *bytes, size_t size);
  /// Writes the next tensor from float32 values, converting to its dtype.
  Status writeF32(const float *values, size_t count);
  Status writeF32(const std::vector<float> &values) {
    return writeF32(values.data(), values.size());
  }
  /// fsync, rename into place, fsync the directory.
  Status commit();
  const std::string &path() const { return path_; }

private:
  SafetensorsWriter() = default;
  std::string path_, tmpPath_;
  int fd_ = -1;
  std::vector<TensorSpec> specs_;
  size_t next_ = 0;
  bool committed_ = false;
};

/// Writes a whole file of float32 tensors at once (small files: gates, masks).
Status writeF32Tensors(std::string_view path,
                       const std::vector<std::pair<TensorSpec, std::vector<float>>> &tensors);

/// An error naming the file and the tensor when `t` holds a NaN or an
/// infinity (the first one's index); weights like that are never used.
Status checkFinite(const SafetensorsFile &file, const TensorInfo &t);

/// Opens each file once and keeps it mapped.
class WeightStore {
public:
  Result<const SafetensorsFile *> file(std::string_view path);
  /// The named tensor of `path`, or an error naming both.
  Result<std::pair<const SafetensorsFile *, const TensorInfo *>> tensor(std::string_view path,
                                                                        std::string_view name);

private:
  std::map<std::string, std::unique_ptr<SafetensorsFile>, std::less<>> files_;
};

/// Reads a `model.safetensors.index.json`: tensor name -> shard file name.
Result<std::map<std::string, std::string>> readShardIndex(std::string_view path);
/// The same from the index's text (`path` names it in errors).
Result<std::map<std::string, std::string>> parseShardIndex(std::string_view text,
                                                           std::string_view path);

} // namespace shear

#endif
