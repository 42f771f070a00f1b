//===- CachingAllocator.cpp - a device's freed buffers kept for reuse -----===//
#include "shear/Runtime/CachingAllocator.h"

#include <map>
#include <mutex>

using namespace shear;
using namespace shear::rt;

struct CachingAllocator::State {
  std::mutex mutex;
  bool open = true;
  std::multimap<size_t, std::shared_ptr<Buffer>> kept; // by size
  Stats stats;

  /// Takes the kept buffers out (freed by the caller, outside the lock).
  std::multimap<size_t, std::shared_ptr<Buffer>> takeAll() {
    std::lock_guard<std::mutex> lock(mutex);
    std::multimap<size_t, std::shared_ptr<Buffer>> out;
    out.swap(kept);
    stats.keptBuffers = stats.keptBytes = 0;
    return out;
  }
};

CachingAllocator::CachingAllocator(Allocator &device, Reuse reuse)
    : device_(device), reuse_(std::move(reuse)), state_(std::make_shared<State>()) {}

CachingAllocator::~CachingAllocator() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->open = false; // buffers released from now on go straight back
  }
  state_->takeAll();
}

Device CachingAllocator::device() const { return device_.device(); }

void CachingAllocator::trim() { state_->takeAll(); }

CachingAllocator::Stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stats;
}

Result<std::shared_ptr<Buffer>> CachingAllocator::allocate(size_t bytes) {
  size_t want = alignedBytes(bytes ? bytes : 1);
  std::shared_ptr<Buffer> block;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto it = state_->kept.lower_bound(want);
    if (it != state_->kept.end() && (reuse_.exactSize ? it->first == want : it->first / 2 <= want)) {
      block = std::move(it->second);
      state_->kept.erase(it);
      state_->stats.keptBuffers -= 1;
      state_->stats.keptBytes -= block->bytes();
      state_->stats.reuses += 1;
    }
  }
  if (block && reuse_.refill)
    reuse_.refill(block->data(), block->bytes());
  if (!block) {
    auto fresh = device_.allocate(want);
    if (!fresh.ok()) { // what is kept may be what the device lacks
      if (state_->takeAll().empty())
        return fresh.status();
      fresh = device_.allocate(want);
      if (!fresh.ok())
        return fresh.status();
    }
    block = fresh.take();
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stats.deviceAllocations += 1;
  }
  // The caller's buffer views the block and gives it back when released.
  void *data = block->data();
  std::weak_ptr<State> weak = state_;
  return std::make_shared<Buffer>(data, want, block->device(), [weak, block](void *) mutable {
    std::shared_ptr<Buffer> giveBack = std::move(block);
    if (std::shared_ptr<State> state = weak.lock()) {
      std::lock_guard<std::mutex> lock(state->mutex);
      if (state->open) {
        state->stats.keptBuffers += 1;
        state->stats.keptBytes += giveBack->bytes();
        size_t size = giveBack->bytes();
        state->kept.emplace(size, std::move(giveBack));
        return;
      }
    }
    // giveBack frees the block here, outside any lock.
  });
}
