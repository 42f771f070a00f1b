//===- Tensor.cpp ---------------------------------------------------------===//
#include "shear/Runtime/Tensor.h"

#include <cstdlib>
#include <cstring>
#include <cstdio>

using namespace shear::rt;

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_)
    n *= d;
  return n;
}

Tensor Tensor::empty(std::vector<int64_t> shape, ElemType type) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.type_ = type;
  size_t bytes = static_cast<size_t>(t.numel()) * (type == ElemType::F32 ? 4 : 8);
  size_t rounded = (bytes + 63) / 64 * 64;
  void *p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (!p) {
    std::fprintf(stderr, "shear: out of memory allocating %zu bytes for a tensor\n", rounded);
    std::abort();
  }
  t.data_ = std::shared_ptr<void>(p, std::free);
  return t;
}

Tensor Tensor::zeros(std::vector<int64_t> shape, ElemType type) {
  Tensor t = empty(std::move(shape), type);
  std::memset(t.data_.get(), 0, static_cast<size_t>(t.numel()) * (type == ElemType::F32 ? 4 : 8));
  return t;
}

Tensor Tensor::scalar(float value) {
  Tensor t = empty({});
  t.f32()[0] = value;
  return t;
}

Tensor Tensor::scalarI64(int64_t value) {
  Tensor t = empty({}, ElemType::I64);
  t.i64()[0] = value;
  return t;
}

Tensor Tensor::reshaped(std::vector<int64_t> shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

std::string Tensor::shapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape_.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape_[i]);
  return s + "]";
}
