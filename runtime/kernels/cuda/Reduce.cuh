//===- Reduce.cuh - deterministic block reductions for the CUDA kernels ----===//
//
// Sums are taken in a fixed order (warp shuffles, then warps in order), so a
// kernel gives the same bits on every run: exact resume depends on it.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELS_CUDA_REDUCE_CUH
#define SHEAR_RUNTIME_KERNELS_CUDA_REDUCE_CUH

namespace shear::rt::cuda {

constexpr int kBlock = 256;

/// The sum of `v` over the block, returned to every thread. `shared` holds
/// blockDim.x / 32 doubles.
__device__ inline double blockSum(double v, double *shared) {
  for (int o = 16; o > 0; o /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0)
    shared[warp] = v;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < blockDim.x / 32; ++w)
    total += shared[w];
  __syncthreads();
  return total;
}

/// The maximum of `v` over the block, returned to every thread.
__device__ inline float blockMax(float v, float *shared) {
  for (int o = 16; o > 0; o /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0)
    shared[warp] = v;
  __syncthreads();
  float m = shared[0];
  for (int w = 1; w < blockDim.x / 32; ++w)
    m = fmaxf(m, shared[w]);
  __syncthreads();
  return m;
}

} // namespace shear::rt::cuda

#endif
