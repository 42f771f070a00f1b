//===- SharedScratch.cpp - one arena for functions that never run at once --===//
#include "shear/Runtime/SharedScratch.h"

using namespace shear;
using namespace shear::rt;

Result<std::shared_ptr<Buffer>> SharedScratch::reserve(size_t bytes) {
  if (buffer_ && buffer_->bytes() >= bytes)
    return buffer_;
  buffer_.reset(); // released before the larger one is asked for
  auto fresh = allocator_.allocate(bytes);
  if (!fresh.ok())
    return fresh.status();
  buffer_ = fresh.take();
  return buffer_;
}
