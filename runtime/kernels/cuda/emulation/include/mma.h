//===- mma.h - CUDA's warp matrix functions (WMMA), emulated ---------------===//
//
// 16x16x16 fragments of bf16 (and float accumulators) as the kernels use
// them. Each lane holds the whole tile, so the operations need no exchange
// between lanes; each one still waits for the warp as a collective would,
// and refuses a call that not every lane makes with the same pointer. A
// fragment's elements are not exposed: their order across lanes is not
// specified by CUDA, so code that reads them would be wrong on a GPU.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_CUDA_EMULATION_MMA_H
#define SHEAR_CUDA_EMULATION_MMA_H

#include "cuda_bf16.h"

#include <type_traits>

namespace shear_emu {
/// Waits for the warp and checks that every lane passed `p` (an error of
/// the launch otherwise); `what` names the call.
void warpCollective(const void *p, const char *what);
} // namespace shear_emu

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void> class fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulation has 16x16x16 fragments");

public:
  static constexpr int rows = 16, cols = 16;

private:
  float v_[16 * 16]; // element (r, c) at r * 16 + c, as float (bf16 values are exact in it)
  template <class U, int A, int B, int C, class E, class L> friend class fragment;
  template <class F> friend float &at(F &f, int r, int c);
  template <class F> friend float at(const F &f, int r, int c);
};

template <class F> float &at(F &f, int r, int c) { return f.v_[r * 16 + c]; }
template <class F> float at(const F &f, int r, int c) { return f.v_[r * 16 + c]; }

inline float toFloat(float v) { return v; }
inline float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class Use, class T, class Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout> &f, const T *p, unsigned ldm) {
  static_assert(!std::is_same_v<Use, accumulator>, "an accumulator's load takes a layout");
  ::shear_emu::warpCollective(p, "wmma::load_matrix_sync");
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      at(f, r, c) = toFloat(std::is_same_v<Layout, row_major> ? p[r * ldm + c] : p[c * ldm + r]);
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p, unsigned ldm,
                             layout_t layout) {
  ::shear_emu::warpCollective(p, "wmma::load_matrix_sync");
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      at(f, r, c) = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
}

inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f, unsigned ldm,
                              layout_t layout) {
  ::shear_emu::warpCollective(p, "wmma::store_matrix_sync");
  // Every lane writes the same values: the result is the one tile.
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = at(f, r, c);
  ::shear_emu::warpCollective(p, "wmma::store_matrix_sync");
}

template <class Use, class T, class Layout> void fill_fragment(fragment<Use, 16, 16, 16, T, Layout> &f, float v) {
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      at(f, r, c) = v;
}

/// d = a b + c with float accumulation (products of bf16 values are exact
/// in float; the sum's order within a tile is unspecified on a GPU too).
template <class LA, class LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d, const fragment<matrix_a, 16, 16, 16, __nv_bfloat16, LA> &a,
              const fragment<matrix_b, 16, 16, 16, __nv_bfloat16, LB> &b,
              const fragment<accumulator, 16, 16, 16, float> &c) {
  ::shear_emu::warpCollective(nullptr, "wmma::mma_sync"); // fragments are registers: nothing to compare
  float out[16 * 16];
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 16; ++n) {
      float s = at(c, r, n);
      for (int k = 0; k < 16; ++k)
        s += at(a, r, k) * at(b, k, n);
      out[r * 16 + n] = s;
    }
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 16; ++n)
      at(d, r, n) = out[r * 16 + n];
}
} // namespace wmma
} // namespace nvcuda

#endif
