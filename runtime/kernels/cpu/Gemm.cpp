//===- Gemm.cpp - the built-in GEMM, for builds without BLAS ---------------===//
//
// Blocks of op(B) (kKc × kNc) and of alpha·op(A) (kMc × kKc) are packed
// row-major, so the inner loop runs over contiguous memory whatever the
// transposes; four rows of C are updated per pass over a packed row of B
// (the loop the compiler vectorizes). Single-threaded: correctness first,
// it is the reference backend on machines without BLAS.
//
//===----------------------------------------------------------------------===//
#include "Blas.h"

#include <algorithm>
#include <vector>

#ifdef SHEAR_HAVE_CBLAS
#include <cblas.h>
#endif

namespace shear::rt::cpu {
namespace {
constexpr int64_t kMc = 64, kKc = 256, kNc = 512;

/// c_r[j] += a_r · b[j] for four rows r, j < n.
void rank1Rows4(float *__restrict c0, float *__restrict c1, float *__restrict c2,
                float *__restrict c3, const float *__restrict b, float a0, float a1, float a2,
                float a3, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    float bj = b[j];
    c0[j] += a0 * bj;
    c1[j] += a1 * bj;
    c2[j] += a2 * bj;
    c3[j] += a3 * bj;
  }
}

void rank1Row(float *__restrict c, const float *__restrict b, float a, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    c[j] += a * b[j];
}
} // namespace

void portableGemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc) {
  if (M <= 0 || N <= 0)
    return;
  for (int64_t i = 0; i < M; ++i) {
    float *c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j)
      c[j] = beta == 0.0f ? 0.0f : beta * c[j];
  }
  if (K <= 0 || alpha == 0.0f)
    return;

  std::vector<float> ap(static_cast<size_t>(kMc * kKc)), bp(static_cast<size_t>(kKc * kNc));
  for (int64_t j0 = 0; j0 < N; j0 += kNc) {
    int64_t nc = std::min(kNc, N - j0);
    for (int64_t k0 = 0; k0 < K; k0 += kKc) {
      int64_t kc = std::min(kKc, K - k0);
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = 0; j < nc; ++j)
          bp[k * nc + j] = transB ? B[(j0 + j) * ldb + k0 + k] : B[(k0 + k) * ldb + j0 + j];
      for (int64_t i0 = 0; i0 < M; i0 += kMc) {
        int64_t mc = std::min(kMc, M - i0);
        for (int64_t i = 0; i < mc; ++i)
          for (int64_t k = 0; k < kc; ++k)
            ap[i * kc + k] =
                alpha * (transA ? A[(k0 + k) * lda + i0 + i] : A[(i0 + i) * lda + k0 + k]);
        int64_t i = 0;
        for (; i + 4 <= mc; i += 4) {
          float *c = C + (i0 + i) * ldc + j0;
          const float *a = ap.data() + i * kc;
          for (int64_t k = 0; k < kc; ++k)
            rank1Rows4(c, c + ldc, c + 2 * ldc, c + 3 * ldc, bp.data() + k * nc, a[k],
                       a[kc + k], a[2 * kc + k], a[3 * kc + k], nc);
        }
        for (; i < mc; ++i) {
          float *c = C + (i0 + i) * ldc + j0;
          for (int64_t k = 0; k < kc; ++k)
            rank1Row(c, bp.data() + k * nc, ap[i * kc + k], nc);
        }
      }
    }
  }
}

const char *gemmLibrary() {
#ifdef SHEAR_HAVE_CBLAS
  return "OpenBLAS";
#else
  return "built-in";
#endif
}

void setGemmThreads(int threads) {
#ifdef SHEAR_HAVE_CBLAS
  openblas_set_num_threads(threads);
#else
  (void)threads;
#endif
}

} // namespace shear::rt::cpu
