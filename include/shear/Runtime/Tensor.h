//===- Tensor.h - the runtime's tensors -----------------------------------===//
//
// A dense row-major tensor in host memory, shared by reference. The CPU
// backend computes in float32; token ids are int64.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_TENSOR_H
#define SHEAR_RUNTIME_TENSOR_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shear::rt {

enum class ElemType : uint8_t { F32, I64 };

class Tensor {
public:
  Tensor() = default;
  /// Uninitialized storage of `shape`.
  static Tensor empty(std::vector<int64_t> shape, ElemType type = ElemType::F32);
  static Tensor zeros(std::vector<int64_t> shape, ElemType type = ElemType::F32);
  static Tensor scalar(float value);
  static Tensor scalarI64(int64_t value);

  bool defined() const { return data_ != nullptr; }
  ElemType type() const { return type_; }
  const std::vector<int64_t> &shape() const { return shape_; }
  int64_t rank() const { return shape_.size(); }
  int64_t dim(int64_t i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const;
  float *f32() { return static_cast<float *>(data_.get()); }
  const float *f32() const { return static_cast<const float *>(data_.get()); }
  int64_t *i64() { return static_cast<int64_t *>(data_.get()); }
  const int64_t *i64() const { return static_cast<const int64_t *>(data_.get()); }
  /// The same storage seen with another shape of the same size.
  Tensor reshaped(std::vector<int64_t> shape) const;
  std::string shapeString() const;

private:
  std::shared_ptr<void> data_;
  std::vector<int64_t> shape_;
  ElemType type_ = ElemType::F32;
};

} // namespace shear::rt

#endif
