//===- Emulator.cpp - the CUDA runtime, cuBLAS and device threads on the CPU ===//
//
// What lib/libshear-cuda-emulated.so runs the CUDA backend's sources on
// (docs/cuda.md, "The CUDA emulation"). It is a test instrument, not a
// backend: it shows that the kernels and the code around them compute what
// the CPU kernels compute, before a GPU has run them.
//
// - Threads: a launch runs its blocks one after another; a block's threads
//   are fibers, each run until it waits at __syncthreads() or at
//   a warp shuffle, so both keep CUDA's meaning. A barrier that not every
//   thread reaches (or that threads reach at different places), a shuffle
//   that not every lane of its warp joins, or a configuration a GPU would
//   refuse is a launch failure naming it. Shared memory holds 0xff bytes
//   at the start of every block after a kernel's first (never-written
//   shared memory reads as NaN), and a launch's arguments are evaluated
//   once, on the host, as CUDA evaluates them.
//   SHEAR_CUDA_EMULATION_ORDER=reverse runs blocks and threads in the other
//   order, =warps each warp as far as it goes before the next: a kernel
//   whose result depends on the order has a race.
// - Memory: each allocation is mapped between two inaccessible pages, its
//   end against the second, and filled with 0xff bytes (NaN floats), so a
//   read past its end or of memory never written shows; outside kernels
//   and copies it is inaccessible altogether (SHEAR_CUDA_EMULATION_PROTECT=0
//   turns that off), so host code that reads device memory faults, as it
//   would on a GPU. A fault says where it was.
// - GEMMs: the CPU backend's GEMM (cuBLAS is column-major: the row-major
//   call of the transposes); bf16 compute types round the inputs to bf16.
//   cuBLASLt's descriptors are kept and checked as cuBLASLt checks them.
//
//===----------------------------------------------------------------------===//
#include "cublasLt.h"
#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "mma.h"

#include "../../cpu/Blas.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace shear_emu {
const uint3 *gThreadIdx = nullptr;
uint3 gBlockIdx{0, 0, 0};
dim3 gBlockDim, gGridDim;
} // namespace shear_emu

using namespace shear_emu;

namespace {

// ---- Errors --------------------------------------------------------------

cudaError_t gLastError = cudaSuccess;
std::string gFailure; // what the last failed launch did
/// A fault as a GPU has one: once set, every later call fails with it (the
/// CUDA context is lost). SHEAR_CUDA_EMULATION_FAIL_AT=N makes the Nth
/// kernel launch fault, to test what a run does then.
cudaError_t gSticky = cudaSuccess;
uint64_t gLaunches = 0;
uint64_t gBytesToDevice = 0, gBytesToHost = 0; // cudaMemcpy between host and device memory
uint64_t gBytesPageable = 0; // of those, copied from or to host memory not from cudaHostAlloc
// Waits of the host for the work queued on the device (stream and device
// synchronizations, blocking copies) with kernels launched since the last
// one: a GPU would then idle until the host queues more. (A wait for a
// copy alone, such as reading one metric after another, costs the copy.)
uint64_t gWaits = 0;
bool gQueued = false; // kernels launched since the last wait
void waited() {
  gWaits += gQueued;
  gQueued = false;
}
std::map<const char *, size_t> gPinned; // cudaHostAlloc's blocks: start -> bytes

uint64_t failAt() {
  static const uint64_t n = [] {
    const char *v = std::getenv("SHEAR_CUDA_EMULATION_FAIL_AT");
    return v && *v ? std::strtoull(v, nullptr, 10) : 0ull;
  }();
  return n;
}

/// SHEAR_CUDA_EMULATION_STATS=1: the number of launches and the bytes
/// copied between host and device memory, at exit.
struct Stats {
  ~Stats() {
    const char *v = std::getenv("SHEAR_CUDA_EMULATION_STATS");
    if (v && std::strcmp(v, "1") == 0)
      std::fprintf(stderr, "shear CUDA emulation: %llu kernel launches, %llu bytes copied to the device, %llu to the host, "
                   "%llu of them through pageable host memory, %llu waits for the device\n",
                   static_cast<unsigned long long>(gLaunches), static_cast<unsigned long long>(gBytesToDevice),
                   static_cast<unsigned long long>(gBytesToHost), static_cast<unsigned long long>(gBytesPageable),
                   static_cast<unsigned long long>(gWaits));
  }
} gStats;

cudaError_t fail(cudaError_t e, const std::string &what = "") {
  gLastError = e;
  if (!what.empty())
    gFailure = what;
  return e;
}

bool envIs(const char *name, const char *value) {
  const char *v = std::getenv(name);
  return v && std::strcmp(v, value) == 0;
}

// ---- Device memory -------------------------------------------------------

const size_t kPage = static_cast<size_t>(::sysconf(_SC_PAGESIZE));

struct Allocation {
  char *base;       // the mapping, guard pages included
  char *data;       // what cudaMalloc handed out
  size_t mapped;    // its bytes
  char *body;       // between the guards: accessible while device memory is
  size_t bodyBytes;
  size_t bytes;     // what was asked for
};

std::recursive_mutex gMutex;
std::map<char *, Allocation> gAllocations; // by the mapping's start
size_t gAllocated = 0;
int gOpen = 0; // > 0: device memory accessible

bool protecting() {
  static const bool on = !envIs("SHEAR_CUDA_EMULATION_PROTECT", "0");
  return on;
}

void protectAll(int prot) {
  if (!protecting())
    return;
  for (auto &[p, a] : gAllocations)
    ::mprotect(a.body, a.bodyBytes, prot);
}

/// SHEAR_EMULATED_GPU_MEMORY=BYTES (K, M, G suffixes): the emulated
/// device's capacity; 16 GiB unless set.
size_t capacity() {
  static const size_t bytes = [] {
    const char *env = std::getenv("SHEAR_EMULATED_GPU_MEMORY");
    if (!env || !*env)
      return size_t(16) << 30;
    char *end = nullptr;
    double v = std::strtod(env, &end);
    char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(*end)));
    double scale = unit == 'K' ? 1024.0 : unit == 'M' ? 1048576.0 : unit == 'G' ? 1073741824.0 : 1.0;
    return v > 0 ? static_cast<size_t>(v * scale) : size_t(16) << 30;
  }();
  return bytes;
}

/// The allocation holding p, or null.
const Allocation *owner(const void *p) {
  const char *c = static_cast<const char *>(p);
  auto it = gAllocations.upper_bound(const_cast<char *>(c));
  if (it == gAllocations.begin())
    return nullptr;
  --it;
  const Allocation &a = it->second;
  return c >= a.base && c < a.base + a.mapped ? &a : nullptr;
}

/// Whether [p, p + bytes) lies in one block of cudaHostAlloc's.
bool pinned(const void *p, size_t bytes) {
  const char *c = static_cast<const char *>(p);
  auto it = gPinned.upper_bound(c);
  if (it == gPinned.begin())
    return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

// ---- Faults --------------------------------------------------------------

constexpr unsigned kMaxThreads = 1024;
constexpr size_t kStackBytes = 128 << 10;
char *gStacks = nullptr; // kMaxThreads stacks, each above a guard page

struct sigaction gPreviousSegv;
bool gInKernel = false;

void writeOut(const char *text) {
  size_t n = std::strlen(text);
  while (n > 0) {
    ssize_t w = ::write(2, text, n);
    if (w <= 0)
      return;
    text += w;
    n -= static_cast<size_t>(w);
  }
}

void onFault(int sig, siginfo_t *info, void *) {
  char text[512];
  const char *at = static_cast<const char *>(info->si_addr);
  const Allocation *a = owner(at);
  char where[200];
  if (a && at >= a->base + a->mapped - kPage)
    std::snprintf(where, sizeof where, "%zu bytes past the end of a device allocation of %zu bytes",
                  static_cast<size_t>(at - (a->data + a->bytes)), a->bytes);
  else if (a && at < a->body)
    std::snprintf(where, sizeof where, "before the start of a device allocation of %zu bytes", a->bytes);
  else if (a)
    std::snprintf(where, sizeof where, "inside a device allocation of %zu bytes, outside a kernel or copy", a->bytes);
  else if (gInKernel && gStacks && at >= gStacks && at < gStacks + kMaxThreads * (kStackBytes + kPage))
    std::snprintf(where, sizeof where, "the guard page of its stack (the kernel overflowed its %zu KiB stack)",
                  kStackBytes >> 10);
  else if (gInKernel)
    std::snprintf(where, sizeof where, "memory outside every device allocation");
  else {
    // Not device memory: not the emulation's to explain.
    ::sigaction(sig, &gPreviousSegv, nullptr);
    return;
  }
  if (gInKernel && gThreadIdx)
    std::snprintf(text, sizeof text,
                  "shear CUDA emulation: a kernel thread (block (%u,%u,%u), thread (%u,%u,%u)) touched %p: %s\n",
                  gBlockIdx.x, gBlockIdx.y, gBlockIdx.z, gThreadIdx->x, gThreadIdx->y, gThreadIdx->z, at, where);
  else
    std::snprintf(text, sizeof text, "shear CUDA emulation: host code touched %p: %s (device memory read from the host)\n",
                  at, where);
  writeOut(text);
  // The previous handler (or the default) takes the fault when it recurs.
  ::sigaction(sig, &gPreviousSegv, nullptr);
}

void installFaultHandler() {
  // Its own stack, on every thread that launches: a fiber that overflows
  // its stack faults on its guard page.
  static thread_local std::vector<char> altStack;
  if (altStack.empty()) {
    altStack.resize(1 << 18); // room for a sanitizer's handler too
    stack_t ss{};
    ss.ss_sp = altStack.data();
    ss.ss_size = altStack.size();
    ::sigaltstack(&ss, nullptr);
  }
  static bool installed = false;
  if (installed)
    return;
  installed = true;
  struct sigaction sa{};
  sa.sa_sigaction = onFault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGSEGV, &sa, &gPreviousSegv);
}

// ---- Device threads ------------------------------------------------------


// A fiber's context. On x86-64 a switch saves the callee-saved registers
// on the stack and swaps stack pointers (no system call, unlike
// swapcontext, which also saves the signal mask); elsewhere ucontext.
#if defined(__x86_64__)
extern "C" void shearEmuSwitch(void **saveSp, void *loadSp);
asm(R"(
  .text
  .p2align 4
  .type shearEmuSwitch, @function
shearEmuSwitch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size shearEmuSwitch, .-shearEmuSwitch
)");
struct Context {
  void *sp = nullptr;
};
#else
struct Context {
  ucontext_t uc;
};
#endif

struct Fiber {
  Context context;
  uint3 idx;
  unsigned linear;
  enum State : unsigned char { Ready, AtBarrier, AtShuffle, Done } state;
  const void *site; // the __syncthreads() it waits at
};

Context gScheduler;
Fiber *gCurrent = nullptr;
std::vector<Fiber> gFibers(kMaxThreads);
void (*gBody)(void *) = nullptr;
void *gArg = nullptr;
std::string gKernelError; // set by a thread: the launch fails with it
uint64_t gExchange[kMaxThreads / 32][32];

// Under AddressSanitizer every switch is announced, so that it knows which
// stack is live (the sanitizer builds run the emulation too).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHEAR_EMU_ASAN 1
#endif
#endif
#ifdef SHEAR_EMU_ASAN
extern "C" void __sanitizer_start_switch_fiber(void **fakeStackSave, const void *bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void *fakeStackSave, const void **bottomOld, size_t *sizeOld);
const void *gSchedulerStack = nullptr; // the launching thread's stack, learned by the first fiber
size_t gSchedulerStackBytes = 0;
#endif

void switchTo(Context &save, Context &load) {
#if defined(__x86_64__)
  shearEmuSwitch(&save.sp, load.sp);
#else
  ::swapcontext(&save.uc, &load.uc);
#endif
}

/// The scheduler runs `f` until it waits or ends.
void resume(Fiber &f, const void *stack, size_t bytes) {
#ifdef SHEAR_EMU_ASAN
  void *fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, stack, bytes);
  switchTo(gScheduler, f.context);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  (void)stack, (void)bytes;
  switchTo(gScheduler, f.context);
#endif
}

/// A fiber gives the thread back to the scheduler; `done`: for good.
void yieldToScheduler(bool done = false) {
#ifdef SHEAR_EMU_ASAN
  void *fake = nullptr;
  __sanitizer_start_switch_fiber(done ? nullptr : &fake, gSchedulerStack, gSchedulerStackBytes);
  switchTo(gCurrent->context, gScheduler);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  (void)done;
  switchTo(gCurrent->context, gScheduler);
#endif
}

[[noreturn]] void fiberMain() {
#ifdef SHEAR_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &gSchedulerStack, &gSchedulerStackBytes);
#endif
  gBody(gArg);
  gCurrent->state = Fiber::Done;
  yieldToScheduler(true);
  __builtin_unreachable(); // a finished fiber is never resumed
}

/// Makes `f` start at fiberMain on its own stack.
void prepare(Fiber &f, char *stack, size_t bytes) {
#if defined(__x86_64__)
  // fiberMain is entered by the switch's `ret`, with the stack as a call
  // leaves it (16-byte aligned before the return address was pushed).
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t(15);
  void **sp = reinterpret_cast<void **>(top);
  *--sp = nullptr;                                     // fiberMain's return address: none
  *--sp = reinterpret_cast<void *>(&fiberMain);        // where the switch returns to
  for (int r = 0; r < 6; ++r)
    *--sp = nullptr;                                   // rbp rbx r12 r13 r14 r15
  f.context.sp = sp;
#else
  ::getcontext(&f.context.uc);
  f.context.uc.uc_stack.ss_sp = stack;
  f.context.uc.uc_stack.ss_size = bytes;
  f.context.uc.uc_link = nullptr;
  ::makecontext(&f.context.uc, reinterpret_cast<void (*)()>(&fiberMain), 0);
#endif
}

void kernelError(const std::string &what) {
  if (gKernelError.empty())
    gKernelError = what;
}

std::string blockName() {
  return "block (" + std::to_string(gBlockIdx.x) + "," + std::to_string(gBlockIdx.y) + "," +
         std::to_string(gBlockIdx.z) + ")";
}

#if defined(__clang__)
constexpr bool kSitesReliable = true;
#else
constexpr bool kSitesReliable = false;
#endif

/// The order a block's threads run in (SHEAR_CUDA_EMULATION_ORDER), each a
/// schedule a GPU may choose: a result that differs between them comes
/// from a race.
enum class Order {
  Forward, // thread 0 first, each thread to its next wait, in turn
  Reverse, // the last thread first
  Warps,   // each warp on its own as far as it goes (through its shuffles)
           // before the next warp starts
};

/// Read at every launch (the tests change it).
Order order() {
  return envIs("SHEAR_CUDA_EMULATION_ORDER", "reverse") ? Order::Reverse
         : envIs("SHEAR_CUDA_EMULATION_ORDER", "warps") ? Order::Warps
                                                         : Order::Forward;
}

/// How many of warp w's lanes wait at a shuffle; an error (false) when some
/// but not all of its 32 lanes do.
bool shuffling(unsigned n, unsigned w, unsigned &count) {
  unsigned lanes = std::min(32u, n - 32 * w);
  count = 0;
  for (unsigned l = 0; l < lanes; ++l)
    count += gFibers[32 * w + l].state == Fiber::AtShuffle;
  if (count == 0 || count == 32)
    return true;
  kernelError("in " + blockName() + ", warp " + std::to_string(w) + ": a shuffle that " +
              std::to_string(32 - count) + " of its 32 lanes do not join (" +
              (lanes < 32 ? "the block's threads are not a multiple of 32"
                          : "lanes that exited or wait at __syncthreads()") +
              ")");
  return false;
}

void release(unsigned w) {
  for (unsigned l = 0; l < 32; ++l)
    gFibers[32 * w + l].state = Fiber::Ready;
}

/// Runs one block's `n` threads to their end; false with gKernelError set
/// where they cannot all get there.
bool runBlock(unsigned n, Order o) {
  for (unsigned i = 0; i < n; ++i) {
    Fiber &f = gFibers[i];
    prepare(f, gStacks + i * (kStackBytes + kPage) + kPage, kStackBytes);
    f.linear = i;
    f.idx = {i % gBlockDim.x, (i / gBlockDim.x) % gBlockDim.y, i / (gBlockDim.x * gBlockDim.y)};
    f.state = Fiber::Ready;
  }
  const bool reverse = o == Order::Reverse;
  unsigned warps = (n + 31) / 32;
  for (;;) {
    for (unsigned wk = 0; wk < warps; ++wk) {
      unsigned w = reverse ? warps - 1 - wk : wk, lanes = std::min(32u, n - 32 * w);
      for (;;) {
        for (unsigned l = 0; l < lanes; ++l) {
          Fiber &f = gFibers[32 * w + (reverse ? lanes - 1 - l : l)];
          if (f.state != Fiber::Ready)
            continue;
          gCurrent = &f;
          gThreadIdx = &f.idx;
          resume(f, gStacks + f.linear * (kStackBytes + kPage) + kPage, kStackBytes);
          if (!gKernelError.empty())
            return false;
        }
        unsigned count = 0;
        if (o != Order::Warps || !shuffling(n, w, count) || count == 0)
          break;
        release(w);
      }
    }
    gCurrent = nullptr;
    // Every thread now waits or is done. Warps whose lanes all wait at a
    // shuffle go on first; then a barrier that every live thread reached.
    bool released = false;
    for (unsigned w = 0; w < warps; ++w) {
      unsigned count = 0;
      if (!shuffling(n, w, count))
        return false;
      if (count == 32) {
        release(w);
        released = true;
      }
    }
    if (released)
      continue;
    unsigned waiting = 0;
    const void *site = nullptr;
    bool oneSite = true;
    for (unsigned i = 0; i < n; ++i)
      if (gFibers[i].state == Fiber::AtBarrier) {
        oneSite &= !site || site == gFibers[i].site;
        site = gFibers[i].site;
        ++waiting;
      }
    if (waiting == 0)
      return true; // all done
    // Every thread of the block at one barrier: CUDA leaves anything else
    // undefined (threads that exited, or barriers at different places).
    if (waiting != n) {
      kernelError("in " + blockName() + ": a __syncthreads() that " + std::to_string(n - waiting) + " of its " +
                  std::to_string(n) + " threads do not reach (they exited)");
      return false;
    }
    // Where each thread waits is known only when the compiler keeps barrier
    // calls convergent (clang); g++ may duplicate them onto other paths.
    if (!oneSite && kSitesReliable) {
      kernelError("in " + blockName() + ": threads wait at different __syncthreads()");
      return false;
    }
    for (unsigned i = 0; i < n; ++i)
      gFibers[i].state = Fiber::Ready;
  }
}

} // namespace

// ---- Device code's built-ins ---------------------------------------------

void shear_emu::syncThreads() {
  if (!gCurrent) {
    writeOut("shear CUDA emulation: __syncthreads() outside a kernel\n");
    std::abort();
  }
  gCurrent->state = Fiber::AtBarrier;
  gCurrent->site = __builtin_return_address(0);
  yieldToScheduler();
}

void shear_emu::shuffleXor(unsigned mask, void *value, size_t bytes, int laneMask, int width) {
  if (!gCurrent) {
    writeOut("shear CUDA emulation: a shuffle outside a kernel\n");
    std::abort();
  }
  if (mask != 0xffffffffu || width != 32 || laneMask < 0 || laneMask > 31)
    kernelError("in " + blockName() + ": a shuffle with mask " + std::to_string(mask) + ", lane mask " +
                std::to_string(laneMask) + " and width " + std::to_string(width) +
                " (the emulation takes whole warps)");
  unsigned lane = gCurrent->linear % 32, warp = gCurrent->linear / 32;
  std::memcpy(&gExchange[warp][lane], value, bytes);
  gCurrent->state = Fiber::AtShuffle;
  yieldToScheduler();
  std::memcpy(value, &gExchange[warp][lane ^ unsigned(laneMask & 31)], bytes);
  // Every lane has read before any lane writes its next value.
  gCurrent->state = Fiber::AtShuffle;
  yieldToScheduler();
}

namespace {
struct SharedArray {
  void *p;
  size_t bytes;
};
/// The shared arrays of each launch site (by its thunk), filled at the
/// start of its blocks.
std::map<void (*)(void *), std::vector<SharedArray>> gShared;
} // namespace

void shear_emu::sharedArray(void *p, size_t bytes) {
  std::vector<SharedArray> &arrays = gShared[gBody];
  for (const SharedArray &a : arrays)
    if (a.p == p)
      return;
  arrays.push_back({p, bytes});
}

void shear_emu::warpCollective(const void *p, const char *what) {
  if (!gCurrent) {
    writeOut("shear CUDA emulation: a warp matrix function outside a kernel\n");
    std::abort();
  }
  uint64_t mine = reinterpret_cast<uintptr_t>(p), lane0 = mine;
  shuffleXor(0xffffffffu, &lane0, sizeof lane0, int(gCurrent->linear % 32), 32); // lane 0's
  if (lane0 != mine)
    kernelError("in " + blockName() + ": " + what + " with another pointer than lane 0's");
}

shear_emu::DeviceAccess::DeviceAccess() {
  gMutex.lock();
  if (gOpen++ == 0)
    protectAll(PROT_READ | PROT_WRITE);
}

shear_emu::DeviceAccess::~DeviceAccess() {
  if (--gOpen == 0)
    protectAll(PROT_NONE);
  gMutex.unlock();
}

void shear_emu::launch(dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t, void (*body)(void *), void *arg) {
  if (gSticky != cudaSuccess) {
    gLastError = gSticky;
    return;
  }
  gQueued = true;
  if (++gLaunches == failAt()) {
    gSticky = fail(cudaErrorLaunchFailure, "unspecified launch failure: an injected fault (SHEAR_CUDA_EMULATION_FAIL_AT=" +
                                               std::to_string(gLaunches) + ")");
    return;
  }
  uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > kMaxThreads || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535 || sharedBytes > 48 * 1024) {
    fail(cudaErrorInvalidConfiguration,
         "invalid configuration argument (grid " + std::to_string(grid.x) + "x" + std::to_string(grid.y) + "x" +
             std::to_string(grid.z) + ", block " + std::to_string(block.x) + "x" + std::to_string(block.y) + "x" +
             std::to_string(block.z) + ", " + std::to_string(sharedBytes) + " bytes of dynamic shared memory)");
    return;
  }
  DeviceAccess access;
  if (!gStacks) {
    size_t total = kMaxThreads * (kStackBytes + kPage);
    void *p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      fail(cudaErrorMemoryAllocation, "the emulation cannot map its threads' stacks");
      return;
    }
    gStacks = static_cast<char *>(p);
    for (unsigned i = 0; i < kMaxThreads; ++i)
      ::mprotect(gStacks + i * (kStackBytes + kPage), kPage, PROT_NONE);
    installFaultHandler();
  }
  gBody = body;
  gArg = arg;
  gBlockDim = block;
  gGridDim = grid;
  gKernelError.clear();
  gInKernel = true;
  bool ok = true;
  uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  const Order o = order();
  for (uint64_t b = 0; b < blocks && ok; ++b) {
    uint64_t i = o == Order::Reverse ? blocks - 1 - b : b;
    gBlockIdx = {unsigned(i % grid.x), unsigned(i / grid.x % grid.y), unsigned(i / (uint64_t(grid.x) * grid.y))};
    auto shared = gShared.find(body);
    if (shared != gShared.end())
      for (const SharedArray &a : shared->second)
        std::memset(a.p, 0xff, a.bytes);
    ok = runBlock(static_cast<unsigned>(threads), o);
  }
  gInKernel = false;
  gCurrent = nullptr;
  gThreadIdx = nullptr;
  if (!ok)
    fail(cudaErrorLaunchFailure, "unspecified launch failure: " + gKernelError);
}

// ---- The runtime API -----------------------------------------------------

struct CUstream_st {};
struct CUevent_st {
  std::chrono::steady_clock::time_point at;
};

cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device) {
  if (device != 0)
    return fail(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "CPU emulation of a CUDA GPU");
  prop->totalGlobalMem = capacity();
  prop->sharedMemPerBlock = 48 * 1024;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
  if (gSticky != cudaSuccess)
    return gSticky;
  std::lock_guard<std::recursive_mutex> lock(gMutex);
  *p = nullptr;
  size_t rounded = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
  size_t body = (rounded + kPage - 1) / kPage * kPage;
  if (gAllocated + rounded > capacity())
    return fail(cudaErrorMemoryAllocation);
  size_t mapped = body + 2 * kPage;
  void *m = ::mmap(nullptr, mapped, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return fail(cudaErrorMemoryAllocation);
  Allocation a{static_cast<char *>(m), nullptr, mapped, static_cast<char *>(m) + kPage, body, bytes};
  ::mprotect(a.body, body, PROT_READ | PROT_WRITE);
  std::memset(a.body, 0xff, body); // never-written memory reads as NaN
  if (protecting() && gOpen == 0)
    ::mprotect(a.body, body, PROT_NONE);
  a.data = a.body + (body - rounded); // its end against the guard page
  gAllocations[a.base] = a;
  gAllocated += rounded;
  *p = a.data;
  installFaultHandler();
  return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
  if (!p)
    return cudaSuccess;
  std::lock_guard<std::recursive_mutex> lock(gMutex);
  const Allocation *a = owner(p);
  if (!a || a->data != p)
    return fail(cudaErrorInvalidValue, "cudaFree of a pointer that is not a device allocation");
  gAllocated -= (std::max<size_t>(a->bytes, 1) + 255) / 256 * 256;
  char *base = a->base;
  ::munmap(base, a->mapped);
  gAllocations.erase(base);
  if (gSticky != cudaSuccess)
    return gSticky; // freed, and the fault reported, as a GPU reports it
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned) {
  if (gSticky != cudaSuccess)
    return gSticky;
  std::lock_guard<std::recursive_mutex> lock(gMutex);
  *p = std::aligned_alloc(4096, (std::max<size_t>(bytes, 1) + 4095) / 4096 * 4096);
  if (!*p)
    return fail(cudaErrorMemoryAllocation);
  gPinned[static_cast<const char *>(*p)] = bytes;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p) {
  if (!p)
    return cudaSuccess;
  std::lock_guard<std::recursive_mutex> lock(gMutex);
  if (!gPinned.erase(static_cast<const char *>(p)))
    return fail(cudaErrorInvalidValue, "cudaFreeHost of a pointer that is not from cudaHostAlloc");
  std::free(p);
  return gSticky;
}

cudaError_t cudaMemGetInfo(size_t *free, size_t *total) {
  if (gSticky != cudaSuccess)
    return gSticky;
  std::lock_guard<std::recursive_mutex> lock(gMutex);
  *total = capacity();
  *free = capacity() - gAllocated;
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  if (gSticky != cudaSuccess)
    return gSticky;
  if (bytes == 0)
    return cudaSuccess;
  {
    std::lock_guard<std::recursive_mutex> lock(gMutex);
    bool toDevice = owner(dst) != nullptr, fromDevice = owner(src) != nullptr;
    if (toDevice && !fromDevice)
      gBytesToDevice += bytes;
    else if (fromDevice && !toDevice)
      gBytesToHost += bytes;
    if (toDevice != fromDevice && !pinned(toDevice ? src : dst, bytes))
      gBytesPageable += bytes;
  }
  DeviceAccess access;
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
  cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
  waited();
  return e;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t) {
  if (gSticky != cudaSuccess)
    return gSticky;
  if (bytes == 0)
    return cudaSuccess;
  DeviceAccess access;
  if (!owner(p))
    return fail(cudaErrorInvalidValue, "cudaMemset of memory that is not a device allocation");
  std::memset(p, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
  *stream = new CUstream_st;
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned) { return cudaStreamCreate(stream); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  delete stream;
  return cudaSuccess;
}
// Everything ran when it was asked for: a stream is always idle.
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  waited();
  return gSticky;
}
cudaError_t cudaDeviceSynchronize() {
  waited();
  return gSticky;
}

cudaError_t cudaEventCreate(cudaEvent_t *event) {
  *event = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  if (gSticky != cudaSuccess)
    return gSticky;
  event->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return gSticky; } // waits for one earlier call, not the queue
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t stop) {
  *ms = std::chrono::duration<float, std::milli>(stop->at - start->at).count();
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  cudaError_t e = gLastError;
  gLastError = gSticky; // a fault stays
  return e;
}

const char *cudaGetErrorString(cudaError_t error) {
  switch (error) {
  case cudaSuccess:
    return "no error";
  case cudaErrorInvalidValue:
    return gFailure.empty() ? "invalid argument" : gFailure.c_str();
  case cudaErrorMemoryAllocation:
    return "out of memory";
  case cudaErrorInvalidConfiguration:
  case cudaErrorLaunchFailure:
    return gFailure.c_str();
  case cudaErrorInvalidDevice:
    return "invalid device ordinal";
  }
  return "unknown error";
}

// ---- cuBLAS --------------------------------------------------------------

struct cublasContext {
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t) {
  return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle)
    return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
  case CUBLAS_STATUS_SUCCESS:
    return "CUBLAS_STATUS_SUCCESS";
  case CUBLAS_STATUS_NOT_INITIALIZED:
    return "CUBLAS_STATUS_NOT_INITIALIZED";
  case CUBLAS_STATUS_ALLOC_FAILED:
    return "CUBLAS_STATUS_ALLOC_FAILED";
  case CUBLAS_STATUS_INVALID_VALUE:
    return "CUBLAS_STATUS_INVALID_VALUE";
  case CUBLAS_STATUS_NOT_SUPPORTED:
    return "CUBLAS_STATUS_NOT_SUPPORTED";
  case CUBLAS_STATUS_EXECUTION_FAILED:
    return "CUBLAS_STATUS_EXECUTION_FAILED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

namespace {

/// The elements a column-major rows × cols matrix of leading dimension ld spans.
size_t span(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : static_cast<size_t>(ld * (cols - 1) + rows);
}

float roundToBf16(float f) { return __bfloat162float(__float2bfloat16_rn(f)); }

/// A column-major operand as float32 (rounded to bf16 where asked).
bool loadOperand(const void *p, cudaDataType_t type, size_t n, bool toBf16, std::vector<float> &out) {
  out.resize(n);
  if (type == CUDA_R_32F) {
    const float *f = static_cast<const float *>(p);
    for (size_t i = 0; i < n; ++i)
      out[i] = toBf16 ? roundToBf16(f[i]) : f[i];
    return true;
  }
  if (type == CUDA_R_16BF) {
    const __nv_bfloat16 *h = static_cast<const __nv_bfloat16 *>(p);
    for (size_t i = 0; i < n; ++i)
      out[i] = __bfloat162float(h[i]);
    return true;
  }
  return false;
}

/// Column-major C = alpha op(A) op(B) + beta C: the row-major Cᵀ = op(B)ᵀ op(A)ᵀ.
void columnMajorGemm(cublasOperation_t opA, cublasOperation_t opB, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (k == 0) {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < m; ++i)
        C[j * ldc + i] = beta == 0.0f ? 0.0f : beta * C[j * ldc + i];
    return;
  }
  shear::rt::cpu::gemm(opB != CUBLAS_OP_N, opA != CUBLAS_OP_N, n, m, k, alpha, B, ldb, A, lda, beta, C, ldc);
}

cublasStatus_t checkGemm(cublasHandle_t handle, cublasOperation_t opA, cublasOperation_t opB, int64_t m, int64_t n,
                         int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
  if (!handle)
    return CUBLAS_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || k < 0 || opA == CUBLAS_OP_C || opB == CUBLAS_OP_C)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < std::max<int64_t>(1, opA == CUBLAS_OP_N ? m : k) || ldb < std::max<int64_t>(1, opB == CUBLAS_OP_N ? k : n) ||
      ldc < std::max<int64_t>(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

} // namespace

cublasStatus_t cublasSgemm_64(cublasHandle_t handle, cublasOperation_t opA, cublasOperation_t opB, int64_t m,
                              int64_t n, int64_t k, const float *alpha, const float *A, int64_t lda,
                              const float *B, int64_t ldb, const float *beta, float *C, int64_t ldc) {
  if (gSticky != cudaSuccess)
    return CUBLAS_STATUS_EXECUTION_FAILED;
  if (cublasStatus_t s = checkGemm(handle, opA, opB, m, n, k, lda, ldb, ldc); s != CUBLAS_STATUS_SUCCESS)
    return s;
  if (m == 0 || n == 0)
    return CUBLAS_STATUS_SUCCESS;
  DeviceAccess access;
  columnMajorGemm(opA, opB, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx_64(cublasHandle_t handle, cublasOperation_t opA, cublasOperation_t opB, int64_t m,
                               int64_t n, int64_t k, const void *alpha, const void *A, cudaDataType_t typeA,
                               int64_t lda, const void *B, cudaDataType_t typeB, int64_t ldb, const void *beta,
                               void *C, cudaDataType_t typeC, int64_t ldc, cublasComputeType_t compute,
                               cublasGemmAlgo_t) {
  if (gSticky != cudaSuccess)
    return CUBLAS_STATUS_EXECUTION_FAILED;
  if (cublasStatus_t s = checkGemm(handle, opA, opB, m, n, k, lda, ldb, ldc); s != CUBLAS_STATUS_SUCCESS)
    return s;
  if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_PEDANTIC &&
      compute != CUBLAS_COMPUTE_32F_FAST_16BF)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  // The combinations cuBLAS lists for these compute types: float32 A, B and
  // C (any of them); bf16 A and B into bf16 or float32 C with float32 compute.
  bool f32 = typeA == CUDA_R_32F && typeB == CUDA_R_32F && typeC == CUDA_R_32F;
  bool bf = typeA == CUDA_R_16BF && typeB == CUDA_R_16BF && (typeC == CUDA_R_16BF || typeC == CUDA_R_32F) &&
            compute != CUBLAS_COMPUTE_32F_FAST_16BF;
  if (!f32 && !bf)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  if (m == 0 || n == 0)
    return CUBLAS_STATUS_SUCCESS;
  DeviceAccess access;
  bool fast = compute == CUBLAS_COMPUTE_32F_FAST_16BF;
  std::vector<float> a, b, c;
  loadOperand(A, typeA, span(opA == CUBLAS_OP_N ? m : k, opA == CUBLAS_OP_N ? k : m, lda), fast, a);
  loadOperand(B, typeB, span(opB == CUBLAS_OP_N ? k : n, opB == CUBLAS_OP_N ? n : k, ldb), fast, b);
  float al = *static_cast<const float *>(alpha), be = *static_cast<const float *>(beta);
  if (typeC == CUDA_R_32F) {
    columnMajorGemm(opA, opB, m, n, k, al, a.data(), lda, b.data(), ldb, be, static_cast<float *>(C), ldc);
    return CUBLAS_STATUS_SUCCESS;
  }
  size_t cn = span(m, n, ldc);
  if (be != 0.0f)
    loadOperand(C, CUDA_R_16BF, cn, false, c);
  else
    c.assign(cn, 0.0f);
  columnMajorGemm(opA, opB, m, n, k, al, a.data(), lda, b.data(), ldb, be, c.data(), ldc);
  __nv_bfloat16 *out = static_cast<__nv_bfloat16 *>(C);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i)
      out[j * ldc + i] = __float2bfloat16_rn(c[static_cast<size_t>(j * ldc + i)]);
  return CUBLAS_STATUS_SUCCESS;
}

// ---- cuBLASLt ------------------------------------------------------------

struct cublasLtContext {};
struct cublasLtMatmulDescOpaque_t {
  cublasComputeType_t compute;
  cudaDataType_t scale;
  int32_t transA = CUBLAS_OP_N, transB = CUBLAS_OP_N;
};
struct cublasLtMatrixLayoutOpaque_t {
  cudaDataType_t type;
  uint64_t rows, cols;
  int64_t ld;
};
struct cublasLtMatmulPreferenceOpaque_t {
  uint64_t workspace = 0;
  uint32_t reductions = CUBLASLT_REDUCTION_SCHEME_MASK;
  uint32_t align[4] = {256, 256, 256, 256}; // A, B, C, D
};

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
  *handle = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t compute, cudaDataType_t scale) {
  *desc = new cublasLtMatmulDescOpaque_t{compute, scale};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete desc;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t bytes) {
  if (!desc || !buf || bytes != sizeof(int32_t))
    return CUBLAS_STATUS_INVALID_VALUE;
  int32_t v;
  std::memcpy(&v, buf, sizeof v);
  if (v != CUBLAS_OP_N && v != CUBLAS_OP_T)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (attr == CUBLASLT_MATMUL_DESC_TRANSA)
    desc->transA = v;
  else if (attr == CUBLASLT_MATMUL_DESC_TRANSB)
    desc->transB = v;
  else
    return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
  if (ld < int64_t(std::max<uint64_t>(rows, 1)))
    return CUBLAS_STATUS_INVALID_VALUE;
  *layout = new cublasLtMatrixLayoutOpaque_t{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
  *pref = new cublasLtMatmulPreferenceOpaque_t;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
  delete pref;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
                                                    size_t bytes) {
  if (!pref || !buf)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
    if (bytes != sizeof(uint64_t))
      return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&pref->workspace, buf, bytes);
    return CUBLAS_STATUS_SUCCESS;
  }
  if (attr == CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK) {
    if (bytes != sizeof(uint32_t))
      return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&pref->reductions, buf, bytes);
    return CUBLAS_STATUS_SUCCESS;
  }
  int i = int(attr) - int(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES);
  if (i < 0 || i > 3 || bytes != sizeof(uint32_t))
    return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(&pref->align[i], buf, bytes);
  return CUBLAS_STATUS_SUCCESS;
}

namespace {
/// Whether the layouts make a matmul D = op(A) op(B) + C of this library's types.
cublasStatus_t checkMatmul(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                           cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D) {
  if (!desc || !A || !B || !C || !D)
    return CUBLAS_STATUS_INVALID_VALUE;
  uint64_t m = desc->transA == CUBLAS_OP_N ? A->rows : A->cols, k = desc->transA == CUBLAS_OP_N ? A->cols : A->rows;
  uint64_t kb = desc->transB == CUBLAS_OP_N ? B->rows : B->cols, n = desc->transB == CUBLAS_OP_N ? B->cols : B->rows;
  if (k != kb || D->rows != m || D->cols != n || C->rows != m || C->cols != n || C->type != D->type)
    return CUBLAS_STATUS_INVALID_VALUE;
  bool f32 = A->type == CUDA_R_32F && B->type == CUDA_R_32F && D->type == CUDA_R_32F;
  bool bf = A->type == CUDA_R_16BF && B->type == CUDA_R_16BF && (D->type == CUDA_R_16BF || D->type == CUDA_R_32F) &&
            desc->compute == CUBLAS_COMPUTE_32F;
  if ((!f32 && !bf) || desc->scale != CUDA_R_32F)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  if (desc->compute != CUBLAS_COMPUTE_32F && desc->compute != CUBLAS_COMPUTE_32F_FAST_16BF)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  return CUBLAS_STATUS_SUCCESS;
}

uint32_t alignmentOf(const void *p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0)
    align /= 2;
  return align;
}
} // namespace

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                                              cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[], int *returned) {
  if (!handle || !pref || requested < 1 || !results || !returned)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (cublasStatus_t s = checkMatmul(desc, A, B, C, D); s != CUBLAS_STATUS_SUCCESS)
    return s;
  // One algorithm: it remembers the alignments it was chosen for, as a real
  // one depends on them, and asks for up to 1 MiB of the workspace allowed.
  results[0] = cublasLtMatmulHeuristicResult_t{};
  for (int i = 0; i < 4; ++i)
    results[0].algo.data[i] = pref->align[i];
  results[0].algo.data[4] = 0x5eau; // chosen by this heuristic
  results[0].algo.data[5] = results[0].workspaceSize = std::min<uint64_t>(pref->workspace, 1 << 20);
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
                              const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo, void *workspace,
                              size_t workspaceBytes, cudaStream_t) {
  if (gSticky != cudaSuccess)
    return CUBLAS_STATUS_EXECUTION_FAILED;
  if (!handle || !algo || algo->data[4] != 0x5eau)
    return CUBLAS_STATUS_INVALID_VALUE;
  // The workspace the algorithm asked for: device memory, 256-byte aligned.
  if (algo->data[5] > 0) {
    std::lock_guard<std::recursive_mutex> lock(gMutex);
    const Allocation *a = owner(workspace);
    if (workspaceBytes < algo->data[5] || alignmentOf(workspace) < 256 || !a ||
        static_cast<char *>(workspace) + workspaceBytes > a->data + a->bytes)
      return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (cublasStatus_t s = checkMatmul(desc, Adesc, Bdesc, Cdesc, Ddesc); s != CUBLAS_STATUS_SUCCESS)
    return s;
  const void *pointers[4] = {A, B, C, D};
  for (int i = 0; i < 4; ++i)
    if (alignmentOf(pointers[i]) < algo->data[i])
      return CUBLAS_STATUS_INVALID_VALUE; // less aligned than the algorithm was chosen for
  uint64_t m = Ddesc->rows, n = Ddesc->cols, k = desc->transA == CUBLAS_OP_N ? Adesc->cols : Adesc->rows;
  if (m == 0 || n == 0)
    return CUBLAS_STATUS_SUCCESS;
  // D = alpha op(A) op(B) + beta C: C copied into D first (D may be C).
  float be = *static_cast<const float *>(beta);
  size_t elem = Ddesc->type == CUDA_R_16BF ? 2 : 4;
  {
    DeviceAccess access;
    if (be != 0.0f && C != D)
      for (uint64_t j = 0; j < n; ++j)
        std::memcpy(static_cast<char *>(D) + j * Ddesc->ld * elem,
                    static_cast<const char *>(C) + j * Cdesc->ld * elem, m * elem);
  }
  static cublasHandle_t blas = [] {
    cublasHandle_t h;
    cublasCreate(&h);
    return h;
  }();
  return cublasGemmEx_64(blas, cublasOperation_t(desc->transA), cublasOperation_t(desc->transB), int64_t(m),
                         int64_t(n), int64_t(k), alpha, A, Adesc->type, Adesc->ld, B, Bdesc->type, Bdesc->ld, beta,
                         D, Ddesc->type, Ddesc->ld, desc->compute, CUBLAS_GEMM_DEFAULT);
}
