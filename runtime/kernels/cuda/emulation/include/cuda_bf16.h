//===- cuda_bf16.h - bf16 storage as the CUDA emulation provides it --------===//
#ifndef SHEAR_CUDA_EMULATION_CUDA_BF16_H
#define SHEAR_CUDA_EMULATION_CUDA_BF16_H

#include "cuda_runtime.h"

struct __nv_bfloat16 {
  unsigned short __x;
};

/// Round to nearest even; a NaN becomes the canonical NaN, as CUDA's does.
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return {0x7fff};
  u += 0x7fffu + ((u >> 16) & 1u);
  return {static_cast<unsigned short>(u >> 16)};
}

inline float __bfloat162float(__nv_bfloat16 h) {
  uint32_t u = uint32_t(h.__x) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

#endif
