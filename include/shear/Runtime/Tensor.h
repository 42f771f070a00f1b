//===- Tensor.h - the runtime's tensors, buffers and allocators -----------===//
//
// A tensor is a typed, shaped view into a buffer that lives on one device.
// Buffers come from the backend's allocator; the executor carves one arena
// per program out of a single buffer and hands kernels views into it, so
// kernels write into memory their caller owns.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_TENSOR_H
#define SHEAR_RUNTIME_TENSOR_H

#include "shear/Support/DType.h"
#include "shear/Support/Status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace shear::rt {

/// Guarded: host memory closed to the host between kernels, a test device
/// standing in for a GPU's (see createGuardedBackend).
enum class DeviceKind : uint8_t { Cpu, Cuda, Guarded };

struct Device {
  DeviceKind kind = DeviceKind::Cpu;
  int index = 0;
  std::string str() const;
  bool operator==(const Device &o) const { return kind == o.kind && index == o.index; }
};

/// Memory on one device, released by its allocator when the last tensor
/// viewing it goes.
class Buffer {
public:
  Buffer(void *data, size_t bytes, Device device, std::function<void(void *)> release)
      : data_(data), bytes_(bytes), device_(device), release_(std::move(release)) {}
  ~Buffer() {
    if (release_)
      release_(data_);
  }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  void *data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

private:
  void *data_;
  size_t bytes_;
  Device device_;
  std::function<void(void *)> release_;
};

class Allocator {
public:
  virtual ~Allocator() = default;
  virtual Device device() const = 0;
  /// `bytes` of device memory (64-byte aligned); failure is an error, not an abort.
  virtual Result<std::shared_ptr<Buffer>> allocate(size_t bytes) = 0;
};

/// The process's host allocator.
Allocator &hostAllocator();
/// Host memory a device program keeps there on purpose (--offload: AdamW's
/// moments): device backends run the kernels that read it on the host.
constexpr Device kHostPlacement{DeviceKind::Cpu, 1};
Allocator &hostPlacementAllocator();

/// Bytes `n` rounds up to for placement in an arena.
inline size_t alignedBytes(size_t n) { return (n + 63) / 64 * 64; }

class Tensor {
public:
  Tensor() = default;
  /// Host tensors for inputs, tests and small host-side values. An
  /// allocation failure here ends the process with a message.
  static Tensor empty(std::vector<int64_t> shape, DType dtype = DType::F32);
  static Tensor zeros(std::vector<int64_t> shape, DType dtype = DType::F32);
  static Tensor scalar(float value);
  static Tensor scalarI64(int64_t value);
  /// A tensor allocated by `allocator` (errors instead of aborting).
  static Result<Tensor> allocate(Allocator &allocator, std::vector<int64_t> shape, DType dtype);
  /// A view of `bytes(shape, dtype)` bytes of `buffer` at `offset`.
  static Tensor view(std::shared_ptr<Buffer> buffer, size_t offset, std::vector<int64_t> shape,
                     DType dtype);

  bool defined() const { return buffer_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const;
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const;
  size_t bytes() const { return static_cast<size_t>(numel()) * dtypeBytes(dtype_); }
  void *data() const { return static_cast<char *>(buffer_->data()) + offset_; }
  float *f32() const { return static_cast<float *>(data()); }
  int64_t *i64() const { return static_cast<int64_t *>(data()); }
  /// The same storage seen with another shape of the same size.
  Tensor reshaped(std::vector<int64_t> shape) const;
  std::string shapeString() const;
  const std::shared_ptr<Buffer> &buffer() const { return buffer_; }
  /// Whether both view the same bytes.
  bool sameStorage(const Tensor &o) const { return buffer_ == o.buffer_ && offset_ == o.offset_; }

private:
  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;
  std::vector<int64_t> shape_;
  DType dtype_ = DType::F32;
};

} // namespace shear::rt

#endif
