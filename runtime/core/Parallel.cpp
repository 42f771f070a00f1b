//===- Parallel.cpp - a small persistent thread pool ----------------------===//
#include "shear/Runtime/Parallel.h"
#include "shear/Runtime/Kernels.h"

#include <cblas.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

using namespace shear::rt;

namespace {
class Pool {
public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i)
      workers_.emplace_back([this, i] { loop(i); });
    size_ = threads;
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto &t : workers_)
      t.join();
  }
  int size() const { return size_; }

  void run(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
    int parts = static_cast<int>(std::min<int64_t>(size_, n));
    if (parts <= 1) {
      if (n > 0)
        fn(0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    cv_.notify_all();
    chunk(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return pending_ == 0; });
    fn_ = nullptr;
  }

private:
  void chunk(int part) {
    int64_t begin = n_ * part / parts_, end = n_ * (part + 1) / parts_;
    if (begin < end)
      (*fn_)(begin, end);
  }
  void loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_)
        return;
      seen = generation_;
      if (index >= parts_)
        continue;
      lock.unlock();
      chunk(index);
      lock.lock();
      if (--pending_ == 0)
        done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  const std::function<void(int64_t, int64_t)> *fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0, pending_ = 0, size_ = 1;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

int gThreads = std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
std::unique_ptr<Pool> gPool;

Pool &pool() {
  if (!gPool || gPool->size() != gThreads)
    gPool = std::make_unique<Pool>(gThreads);
  return *gPool;
}
} // namespace

void shear::rt::setNumThreads(int threads) {
  gThreads = std::max(1, threads);
  openblas_set_num_threads(gThreads);
}

int shear::rt::numThreads() { return gThreads; }

void shear::rt::parallelFor(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  pool().run(n, fn);
}
