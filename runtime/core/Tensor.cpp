//===- Tensor.cpp - tensors, buffers and the host allocator ---------------===//
#include "shear/Runtime/Tensor.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace shear;
using namespace shear::rt;

std::string Device::str() const {
  switch (kind) {
  case DeviceKind::Cpu:
    return index == kHostPlacement.index ? "host" : "cpu";
  case DeviceKind::Cuda:
    return "cuda:" + std::to_string(index);
  case DeviceKind::Guarded:
    return "guarded";
  }
  return "?";
}

namespace {
class HostAllocator : public Allocator {
public:
  explicit HostAllocator(Device device = Device{}) : device_(device) {}
  Device device() const override { return device_; }
  Result<std::shared_ptr<Buffer>> allocate(size_t bytes) override {
    size_t rounded = alignedBytes(bytes ? bytes : 1);
    void *p = std::aligned_alloc(64, rounded);
    if (!p)
      return runFailure("out of memory: cannot allocate " + std::to_string(rounded) +
                        " bytes of host memory");
    return std::make_shared<Buffer>(p, rounded, device_, [](void *q) { std::free(q); });
  }

private:
  Device device_;
};
} // namespace

Allocator &shear::rt::hostAllocator() {
  static HostAllocator allocator;
  return allocator;
}

Allocator &shear::rt::hostPlacementAllocator() {
  static HostAllocator allocator(kHostPlacement);
  return allocator;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_)
    n *= d;
  return n;
}

Device Tensor::device() const { return buffer_ ? buffer_->device() : Device{}; }

Tensor Tensor::view(std::shared_ptr<Buffer> buffer, size_t offset, std::vector<int64_t> shape,
                    DType dtype) {
  Tensor t;
  t.buffer_ = std::move(buffer);
  t.offset_ = offset;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  return t;
}

Result<Tensor> Tensor::allocate(Allocator &allocator, std::vector<int64_t> shape, DType dtype) {
  int64_t n = numElements(shape);
  if (n < 0)
    return invalidInput("tensor shape " + shapeToString(shape) + " is too large");
  auto buffer = allocator.allocate(static_cast<size_t>(n) * dtypeBytes(dtype));
  if (!buffer.ok())
    return buffer.status();
  return view(buffer.take(), 0, std::move(shape), dtype);
}

Tensor Tensor::empty(std::vector<int64_t> shape, DType dtype) {
  auto t = allocate(hostAllocator(), std::move(shape), dtype);
  if (!t.ok()) {
    std::fprintf(stderr, "shear: %s\n", t.status().message().c_str());
    std::exit(1);
  }
  return t.take();
}

Tensor Tensor::zeros(std::vector<int64_t> shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  std::memset(t.data(), 0, t.bytes());
  return t;
}

Tensor Tensor::scalar(float value) {
  Tensor t = empty({});
  t.f32()[0] = value;
  return t;
}

Tensor Tensor::scalarI64(int64_t value) {
  Tensor t = empty({}, DType::I64);
  t.i64()[0] = value;
  return t;
}

Tensor Tensor::reshaped(std::vector<int64_t> shape) const {
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

std::string Tensor::shapeString() const { return shapeToString(shape_); }
