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

inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(M0) * c[0], p1 = static_cast<uint64_t>(M1) * c[2];
    uint32_t hi0 = p0 >> 32, lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = p1 >> 32, lo1 = static_cast<uint32_t>(p1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += W0;
    k[1] += W1;
  }
  return c;
}

/// A uniform draw in (0, 1) for element `index` of stream `stream` at `step`.
inline double philoxUniform(uint64_t seed, uint64_t step, uint32_t stream, uint64_t index) {
  std::array<uint32_t, 4> counter = {static_cast<uint32_t>(index >> 2), stream,
                                     static_cast<uint32_t>(step),
                                     static_cast<uint32_t>(step >> 32)};
  std::array<uint32_t, 2> key = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  uint32_t word = philox4x32(counter, key)[index & 3];
  return (static_cast<double>(word) + 0.5) / 4294967296.0;
}

} // namespace shear

#endif
