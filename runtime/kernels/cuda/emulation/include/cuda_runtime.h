//===- cuda_runtime.h - the CUDA runtime as the CPU emulation provides it --===//
//
// The part of the CUDA runtime API and of CUDA C++'s device built-ins that
// the CUDA backend uses, implemented on the CPU (Emulator.cpp), so that the
// backend's own sources (kernels/cuda/*.cu, rewritten by RewriteLaunches.cpp
// only where `k<<<grid, block>>>(...)` is not C++) build and run without a
// GPU: lib/libshear-cuda-emulated.so (docs/cuda.md, "The CUDA emulation").
//
// A kernel launch runs its blocks one after another; the threads of a block
// are fibers, switched at __syncthreads() and at warp shuffles, so barriers
// and shuffles keep their meaning. Everything runs synchronously on the
// calling thread: streams are in order by construction.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_CUDA_EMULATION_CUDA_RUNTIME_H
#define SHEAR_CUDA_EMULATION_CUDA_RUNTIME_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- Types of the runtime API -------------------------------------------

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorLaunchFailure = 719,
};
typedef cudaError_t cudaError;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

struct CUstream_st;
typedef CUstream_st *cudaStream_t;
struct CUevent_st;
typedef CUevent_st *cudaEvent_t;
constexpr unsigned cudaStreamNonBlocking = 1;

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major, minor;
  int multiProcessorCount;
};

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaMalloc(void **p, size_t bytes);
template <class T> cudaError_t cudaMalloc(T **p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void **>(p), bytes);
}
cudaError_t cudaFree(void *p);
constexpr unsigned cudaHostAllocDefault = 0;
/// Page-locked host memory (the emulation counts copies from and to it apart).
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemGetInfo(size_t *free, size_t *total);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreate(cudaStream_t *stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaEventCreate(cudaEvent_t *event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t stop);
cudaError_t cudaGetLastError();
const char *cudaGetErrorString(cudaError_t error);

// ---- Device code ---------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Blocks run one at a time, so a function's static is its block's shared memory.
#define __shared__ static

// A barrier's calls must not be duplicated onto thread-dependent paths by
// the host compiler (as nvcc treats them), or threads at one barrier would
// seem to wait at different ones: clang's `convergent` says so.
#if defined(__clang__)
#define SHEAR_EMU_CONVERGENT __attribute__((convergent))
#else
#define SHEAR_EMU_CONVERGENT
#endif

namespace shear_emu {
extern const uint3 *gThreadIdx;
extern uint3 gBlockIdx;
extern dim3 gBlockDim, gGridDim;

/// Waits for every thread of the block (a fiber switch).
SHEAR_EMU_CONVERGENT void syncThreads();
/// Registers a __shared__ array (RewriteLaunches.cpp adds the call after
/// its declaration): it is filled with 0xff bytes at the start of each block.
void sharedArray(void *p, size_t bytes);
/// Exchanges `bytes` of `value` across the calling thread's warp: each lane
/// gets lane ^ laneMask's value.
SHEAR_EMU_CONVERGENT void shuffleXor(unsigned mask, void *value, size_t bytes, int laneMask, int width);

/// Makes device memory readable and writable for the scope (emulated
/// library calls that touch it outside a kernel, such as the sort).
class DeviceAccess {
public:
  DeviceAccess();
  ~DeviceAccess();
  DeviceAccess(const DeviceAccess &) = delete;
  DeviceAccess &operator=(const DeviceAccess &) = delete;
};

/// Runs body(arg) for every thread of the grid.
void launch(dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream, void (*body)(void *), void *arg);

/// `kernel<<<grid, block, shared, stream>>>(args...)` as RewriteLaunches.cpp
/// writes it: `Launch(grid, block, shared, stream).run([&](auto... a) {
/// kernel(a...); }, args...)`: the arguments evaluated once, on the host,
/// and every thread calling the kernel with its own copies of them.
struct Launch {
  dim3 grid, block;
  size_t shared;
  cudaStream_t stream;
  Launch(dim3 g, dim3 b, size_t s = 0, cudaStream_t st = nullptr) : grid(g), block(b), shared(s), stream(st) {}

  template <class F, class... A> void run(F &&kernel, A &&...args) {
    struct Call {
      std::remove_reference_t<F> *kernel;
      std::tuple<std::decay_t<A>...> args;
    } call{&kernel, std::tuple<std::decay_t<A>...>(std::forward<A>(args)...)};
    launch(grid, block, shared, stream, [](void *p) {
      Call &c = *static_cast<Call *>(p);
      std::apply(*c.kernel, c.args); // the kernel takes copies
    }, &call);
  }
};
} // namespace shear_emu

#define threadIdx (*::shear_emu::gThreadIdx)
#define blockIdx (::shear_emu::gBlockIdx)
#define blockDim (::shear_emu::gBlockDim)
#define gridDim (::shear_emu::gGridDim)

SHEAR_EMU_CONVERGENT inline void __syncthreads() { ::shear_emu::syncThreads(); }
// Waits for the warp's lanes (the emulation takes whole warps only).
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  int token = 0;
  ::shear_emu::shuffleXor(mask, &token, sizeof token, 0, 32);
}

template <class T> inline T __shfl_xor_sync(unsigned mask, T value, int laneMask, int width = 32) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "a shuffle moves at most 8 bytes");
  ::shear_emu::shuffleXor(mask, &value, sizeof(T), laneMask, width);
  return value;
}

// One host thread runs every device thread: atomics need no more than this.
template <class T> inline T atomicMin(T *address, T value) {
  T old = *address;
  if (value < old)
    *address = value;
  return old;
}
template <class T> inline T atomicAdd(T *address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}

// CUDA's device math functions are global names.
using std::isfinite;
using std::isinf;
using std::isnan;

inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fdividef(float a, float b) { return a / b; }

#endif
