//===- Storage.cuh - float32 or bf16 elements, read and written as float ---===//
//
// The device side of bf16 storage: kernels templated on an element type load
// it as float and store float results rounded to nearest even, as the CPU's
// bf16 storage rounds (kernels/cpu/Precision.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELS_CUDA_STORAGE_CUH
#define SHEAR_RUNTIME_KERNELS_CUDA_STORAGE_CUH

#include <cuda_bf16.h>

namespace shear::rt::cuda {

__device__ inline float load(const float *p, int64_t i) { return p[i]; }
__device__ inline float load(const __nv_bfloat16 *p, int64_t i) { return __bfloat162float(p[i]); }
__device__ inline void store(float *p, int64_t i, float v) { p[i] = v; }
__device__ inline void store(__nv_bfloat16 *p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }

} // namespace shear::rt::cuda

#endif
