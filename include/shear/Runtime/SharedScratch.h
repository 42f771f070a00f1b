//===- SharedScratch.h - one arena for functions that never run at once ----===//
//
// A function holds its intermediates (its arena) and its kernels' scratch
// (its workspace) only while it runs: nothing of either survives the run,
// whose results are allocated apart. Functions that one host thread runs one
// after another on one stream (a trainer's step, its micro-batches, its
// evaluations) can therefore use the same memory: the largest of their plans,
// not their sum. At 7B with micro-batches of 8 x 4096 tokens that is the
// evaluation's 5 GiB of arena and workspace not held beside the step's.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_SHAREDSCRATCH_H
#define SHEAR_RUNTIME_SHAREDSCRATCH_H

#include "shear/Runtime/Tensor.h"

#include <memory>

namespace shear::rt {

class SharedScratch {
public:
  /// Buffers come from `allocator` (a backend's), which must outlive this.
  explicit SharedScratch(Allocator &allocator) : allocator_(allocator) {}
  /// A buffer of at least `bytes`: the one held when it is large enough,
  /// else a new one (the old one goes back to the allocator when the runs
  /// that took it have released it). Reserving the largest plan before the
  /// first run allocates once.
  Result<std::shared_ptr<Buffer>> reserve(size_t bytes);
  size_t capacity() const { return buffer_ ? buffer_->bytes() : 0; }

private:
  Allocator &allocator_;
  std::shared_ptr<Buffer> buffer_;
};

} // namespace shear::rt

#endif
