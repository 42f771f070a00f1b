//===- CachingAllocator.h - a device's freed buffers kept for reuse -------===//
//
// A training step allocates the same buffers every step (its inputs, the
// results it returns, kernels' scratch). On a GPU cudaMalloc costs tens of
// microseconds to milliseconds and cudaFree waits for the whole device, so
// allocating per step would synchronise per step. This allocator keeps
// released buffers and hands them out again: the second step allocates
// nothing from the device. Reuse is safe on a device with one stream: a
// buffer's next user is ordered after its last one. A request takes the
// smallest kept buffer of at least its size and at most twice it; when the
// device is out of memory the kept buffers are freed and the request tried
// once more.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_CACHINGALLOCATOR_H
#define SHEAR_RUNTIME_CACHINGALLOCATOR_H

#include "shear/Runtime/Tensor.h"

#include <functional>
#include <memory>

namespace shear::rt {

/// How a CachingAllocator hands kept buffers out again. The defaults are
/// the GPU's; the CUDA emulation takes exact sizes only (so the guard page
/// after an allocation stays where a kernel overrunning its buffer meets
/// it) and refills each reused buffer (so a kernel reading memory it never
/// wrote reads NaN, not the previous user's values).
struct CacheReuse {
  bool exactSize = false;
  std::function<void(void *data, size_t bytes)> refill;
};

class CachingAllocator : public Allocator {
public:
  using Reuse = CacheReuse;
  /// Allocations go to `device` (which must outlive this allocator and every
  /// buffer it handed out).
  explicit CachingAllocator(Allocator &device, Reuse reuse = {});
  /// Frees the kept buffers; buffers still in use are freed when released.
  ~CachingAllocator() override;
  CachingAllocator(const CachingAllocator &) = delete;
  CachingAllocator &operator=(const CachingAllocator &) = delete;

  Device device() const override;
  Result<std::shared_ptr<Buffer>> allocate(size_t bytes) override;
  /// Frees every kept buffer.
  void trim();

  struct Stats {
    size_t deviceAllocations = 0; // requests the device served
    size_t reuses = 0;            // requests a kept buffer served
    size_t keptBuffers = 0, keptBytes = 0;
  };
  Stats stats() const;

private:
  struct State;
  Allocator &device_;
  Reuse reuse_;
  std::shared_ptr<State> state_; // shared with the buffers, which may outlive this
};

} // namespace shear::rt

#endif
