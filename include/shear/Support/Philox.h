//===- Philox.h - counter-based random numbers (Philox4x32-10) ------------===//
//
// Gate noise must be reproducible across runs, resumes and backends: each
// draw is a pure function of (seed, step, stream, index), computed with the
// Philox4x32-10 generator (Salmon et al., SC'11), which a CUDA kernel
// computes identically.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_PHILOX_H
#define SHEAR_SUPPORT_PHILOX_H

#include <array>
#include <cstdint>

namespace shear {

#if defined(__CUDACC__)
#define SHEAR_HOST_DEVICE __host__ __device__
#else
#define SHEAR_HOST_DEVICE
#endif

/// The ten rounds of Philox4x32 on counter `c` with key (k0, k1), in place:
/// one function for the CPU and the CUDA kernels.
SHEAR_HOST_DEVICE inline void philoxRounds(uint32_t c[4], uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(M0) * c[0], p1 = static_cast<uint64_t>(M1) * c[2];
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
    k0 += W0;
    k1 += W1;
  }
}

inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  philoxRounds(c.data(), k[0], k[1]);
  return c;
}

/// A uniform draw in (0, 1) for element `index` of stream `stream` at `step`.
SHEAR_HOST_DEVICE inline double philoxUniform(uint64_t seed, uint64_t step, uint32_t stream, uint64_t index) {
  uint32_t counter[4] = {static_cast<uint32_t>(index >> 2), stream, static_cast<uint32_t>(step),
                         static_cast<uint32_t>(step >> 32)};
  philoxRounds(counter, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  uint32_t word = counter[index & 3];
  return (static_cast<double>(word) + 0.5) / 4294967296.0;
}

} // namespace shear

#endif
