//===- GuardedBackend.cpp - the CPU kernels on memory the host cannot touch ===//
//
// A test device (`--device guarded`) for the runtime's device discipline:
// a CUDA backend's memory cannot be read by host code, so everything outside
// the kernels must go through Backend::copy, zero and toHost. This backend
// runs the CPU kernels, but its buffers are mapped PROT_NONE except while a
// kernel or one of those calls runs: host code that reads or writes device
// memory directly faults here, at the line that does it, instead of on a GPU.
// Results are bit-identical to --device cpu (the same kernels).
//
// SHEAR_GUARDED_STAGED=all (or a comma-separated list of kernel names) runs
// those kernels the way a device backend runs a kernel it has no native
// version of: staged through host copies (HostStaged.h), never opening the
// guarded memory.
//
//===----------------------------------------------------------------------===//
#include "CpuBackend.h"
#include "shear/Runtime/CachingAllocator.h"
#include "shear/Runtime/HostStaged.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

using namespace shear;
using namespace shear::rt;

namespace {

/// Every live guarded mapping, and whether they are open to the host now.
class Guard {
public:
  static Guard &instance() {
    static Guard g;
    return g;
  }
  void add(void *p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    maps_.insert({p, bytes});
    protect(p, bytes, open_ > 0);
  }
  void remove(void *p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    maps_.erase({p, bytes});
  }
  /// Opens every mapping to the host until the matching close (nestable).
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_++ == 0)
      for (auto &[p, bytes] : maps_)
        protect(p, bytes, true);
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--open_ == 0)
      for (auto &[p, bytes] : maps_)
        protect(p, bytes, false);
  }

private:
  static void protect(void *p, size_t bytes, bool readWrite) {
    ::mprotect(p, bytes, readWrite ? PROT_READ | PROT_WRITE : PROT_NONE);
  }
  std::mutex mu_;
  std::set<std::pair<void *, size_t>> maps_;
  int open_ = 0;
};

struct Opened {
  Opened() { Guard::instance().open(); }
  ~Opened() { Guard::instance().close(); }
};

constexpr Device kGuarded{DeviceKind::Guarded, 0};

/// SHEAR_GUARDED_MEMORY=BYTES (K, M, G suffixes): the device's capacity, for
/// tests of what a run does on a device too small for it; unset: unlimited.
size_t guardedCapacity() {
  const char *env = std::getenv("SHEAR_GUARDED_MEMORY");
  if (!env || !*env)
    return 0;
  char *end = nullptr;
  double v = std::strtod(env, &end);
  double scale = *end == 'K' ? 1024.0 : *end == 'M' ? 1048576.0 : *end == 'G' ? 1073741824.0 : 1.0;
  return v > 0 ? static_cast<size_t>(v * scale) : 0;
}

class GuardedAllocator : public Allocator {
public:
  Device device() const override { return kGuarded; }
  Result<std::shared_ptr<Buffer>> allocate(size_t bytes) override {
    size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    size_t rounded = (std::max<size_t>(bytes, 1) + page - 1) / page * page;
    if (capacity_ && *used_ + rounded > capacity_)
      return runFailure("out of device memory: cannot allocate " + std::to_string(rounded) + " bytes on " +
                        kGuarded.str() + " (" + std::to_string(capacity_ - *used_) + " of " +
                        std::to_string(capacity_) + " free)");
    void *p = ::mmap(nullptr, rounded, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      return runFailure("out of memory: cannot map " + std::to_string(rounded) +
                        " bytes of guarded device memory");
    Guard::instance().add(p, rounded);
    *used_ += rounded;
    auto used = used_;
    return std::make_shared<Buffer>(p, rounded, kGuarded, [rounded, used](void *q) {
      Guard::instance().remove(q, rounded);
      ::munmap(q, rounded);
      *used -= rounded;
    });
  }
  size_t capacity() const { return capacity_; }
  size_t used() const { return *used_; }

private:
  size_t capacity_ = guardedCapacity();
  // Shared with the buffers, which may outlive the allocator.
  std::shared_ptr<std::atomic<size_t>> used_ = std::make_shared<std::atomic<size_t>>(0);
};

// Every kernel runs with the guarded memory open: trampolines, one per
// kernel id, that call the CPU backend's kernel of that id (or stage it).
const Backend *gCpu = nullptr;
Backend *gGuarded = nullptr;
HostKernels *gHost = nullptr;
std::vector<bool> gStaged;

/// A GPU kernel cannot read host memory: every operand and result must be
/// on the device, as the executor must arrange (inputs copied in).
Status checkOnDevice(KernelId id, const KernelIO &io, bool &placedOnHost) {
  auto where = [&](const char *what, size_t i, const Tensor *t) -> Status {
    if (t && t->defined() && t->device() == kHostPlacement) {
      placedOnHost = true; // kept on the host on purpose (--offload): run there
      return Status();
    }
    if (t && t->defined() && t->device().kind != DeviceKind::Guarded)
      return internalError("kernel '" + kernelDecl(id).name + "' got " + what + " " +
                           std::to_string(i) + " in " + t->device().str() +
                           " memory, not the device's");
    return Status();
  };
  for (size_t i = 0; i < io.in.size(); ++i)
    SHEAR_RETURN_IF_ERROR(where("operand", i, io.in[i]));
  for (size_t i = 0; i < io.out.size(); ++i)
    SHEAR_RETURN_IF_ERROR(where("result", i, io.out[i]));
  return Status();
}

template <size_t Id>
Status guardedKernel(ExecContext &context, const KernelParams &params, KernelIO &io) {
  bool placedOnHost = false;
  SHEAR_RETURN_IF_ERROR(checkOnDevice(static_cast<KernelId>(Id), io, placedOnHost));
  if (gStaged[Id] || placedOnHost)
    return gHost->run(*gGuarded, static_cast<KernelId>(Id), params, io);
  Opened opened;
  return gCpu->kernel(static_cast<KernelId>(Id))->run(context, params, io);
}
template <size_t Id>
size_t guardedWorkspace(const KernelParams &params, const std::vector<const Shape *> &operands) {
  return gCpu->kernel(static_cast<KernelId>(Id))->workspace(params, operands);
}

class GuardedBackend : public Backend {
public:
  explicit GuardedBackend(int threads) : cpu_(createCpuBackend(threads)), host_(threads) {
    gCpu = cpu_.get();
    gGuarded = this;
    gHost = &host_;
    gStaged = stagedKernels();
    addAll(std::make_index_sequence<static_cast<size_t>(KernelId::NumKernels)>());
  }
  ~GuardedBackend() override { gCpu = nullptr, gGuarded = nullptr, gHost = nullptr; }

  std::string describe() const override {
    return "guarded (" + cpu_->describe() + " on memory closed to the host between kernels)";
  }
  Device device() const override { return kGuarded; }
  // Through a cache, as the CUDA backend's (freed buffers reused).
  Allocator &allocator() override { return cache_; }
  ExecContext &context() override { return cpu_->context(); }
  DType preferredDType() const override { return DType::F32; }
  Status copy(const Tensor &dst, const Tensor &src) override {
    if (dst.bytes() != src.bytes() || dst.dtype() != src.dtype())
      return internalError("copy of " + std::to_string(src.bytes()) + " bytes of " +
                           dtypeName(src.dtype()) + " into " + std::to_string(dst.bytes()) +
                           " bytes of " + dtypeName(dst.dtype()));
    Opened opened;
    if (!dst.sameStorage(src))
      std::memcpy(dst.data(), src.data(), src.bytes());
    return Status();
  }
  Status zero(const Tensor &t) override {
    Opened opened;
    std::memset(t.data(), 0, t.bytes());
    return Status();
  }
  Result<Tensor> toHost(const Tensor &t) override {
    if (t.device().kind == DeviceKind::Cpu)
      return t;
    auto host = Tensor::allocate(hostAllocator(), t.shape(), t.dtype());
    if (!host.ok())
      return host.status();
    Opened opened;
    std::memcpy(host->data(), t.data(), t.bytes());
    return host;
  }
  double peakFlops(DType storage) override { return cpu_->peakFlops(storage); }
  bool memoryInfo(size_t &free, size_t &total) override {
    if (!allocator_.capacity())
      return false;
    total = allocator_.capacity();
    free = total - std::min(total, allocator_.used()) + cache_.stats().keptBytes;
    return true;
  }

private:
  template <size_t... Ids> void addAll(std::index_sequence<Ids...>) {
    (addOne<Ids>(), ...);
  }
  template <size_t Id> void addOne() {
    const KernelImpl *k = cpu_->kernel(static_cast<KernelId>(Id));
    if (!k)
      return;
    add(static_cast<KernelId>(Id),
        KernelImpl{&guardedKernel<Id>, k->workspace ? &guardedWorkspace<Id> : nullptr});
  }

  /// The kernels SHEAR_GUARDED_STAGED names (unknown names are an error).
  static std::vector<bool> stagedKernels() {
    std::vector<bool> staged(static_cast<size_t>(KernelId::NumKernels), false);
    const char *env = std::getenv("SHEAR_GUARDED_STAGED");
    std::string list = env ? env : "";
    for (size_t at = 0; at < list.size();) {
      size_t comma = std::min(list.find(',', at), list.size());
      std::string name = list.substr(at, comma - at);
      at = comma + 1;
      if (name == "all") {
        staged.assign(staged.size(), true);
      } else if (const KernelDecl *d = findKernel(name)) {
        staged[static_cast<size_t>(d->id)] = true;
      } else if (!name.empty()) {
        std::fprintf(stderr, "shear: SHEAR_GUARDED_STAGED: no kernel '%s'\n", name.c_str());
        std::exit(2);
      }
    }
    return staged;
  }

  std::unique_ptr<Backend> cpu_;
  HostKernels host_;
  GuardedAllocator allocator_;
  CachingAllocator cache_{allocator_};
};
} // namespace

std::unique_ptr<Backend> shear::rt::createGuardedBackend(int threads) {
  return std::make_unique<GuardedBackend>(threads);
}
