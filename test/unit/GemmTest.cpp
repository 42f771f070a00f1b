// The built-in GEMM (builds without BLAS) against a float64 triple loop:
// every transpose combination, sizes that are not multiples of its blocks,
// leading dimensions wider than the rows, alpha and beta (beta 0 overwrites
// NaN, as BLAS does).
#include "kernels/cpu/Blas.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using shear::rt::cpu::portableGemm;

namespace {
struct Case {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
};

void check(const Case &c) {
  std::mt19937 rng(static_cast<unsigned>(c.M * 131 + c.N * 17 + c.K + c.ta * 7 + c.tb * 3));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  // Stored shapes: A is [M,K] or [K,M]; B is [K,N] or [N,K]; 3 spare columns each.
  int64_t aRows = c.ta ? c.K : c.M, aCols = c.ta ? c.M : c.K;
  int64_t bRows = c.tb ? c.N : c.K, bCols = c.tb ? c.K : c.N;
  int64_t lda = aCols + 3, ldb = bCols + 3, ldc = c.N + 3;
  std::vector<float> A(aRows * lda), B(bRows * ldb), C(c.M * ldc);
  for (float &x : A) x = u(rng);
  for (float &x : B) x = u(rng);
  for (float &x : C) x = c.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : u(rng);
  std::vector<float> C0 = C;
  portableGemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double sum = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        double a = c.ta ? A[k * lda + i] : A[i * lda + k];
        double b = c.tb ? B[j * ldb + k] : B[k * ldb + j];
        sum += a * b;
        mag += std::fabs(a * b);
      }
      double want = c.alpha * sum + (c.beta == 0.0f ? 0.0 : c.beta * double(C0[i * ldc + j]));
      double tol = 1e-6 * (std::fabs(c.alpha) * mag + std::fabs(c.beta) + 1);
      ASSERT_NEAR(C[i * ldc + j], want, tol) << "C[" << i << "," << j << "] ta=" << c.ta
                                             << " tb=" << c.tb << " " << c.M << "x" << c.N << "x" << c.K;
    }
    for (int64_t j = c.N; j < ldc; ++j) // the spare columns are not touched
      ASSERT_TRUE(std::isnan(C0[i * ldc + j]) ? std::isnan(C[i * ldc + j]) : C[i * ldc + j] == C0[i * ldc + j]);
  }
}
} // namespace

TEST(PortableGemm, MatchesFloat64Reference) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check({ta, tb, 1, 1, 1, 1.0f, 0.0f});
      check({ta, tb, 7, 5, 3, 1.0f, 0.0f});
      check({ta, tb, 67, 523, 260, 1.0f, 0.0f}); // crosses every block edge
      check({ta, tb, 130, 37, 513, -0.5f, 1.0f});
      check({ta, tb, 5, 600, 9, 2.0f, 0.25f});
    }
}

TEST(PortableGemm, DegenerateSizes) {
  // K = 0: C = beta C; alpha 0 likewise; M or N 0: nothing is touched.
  std::vector<float> A(4, 1.0f), B(4, 1.0f), C{1, 2, 3, 4};
  portableGemm(false, false, 2, 2, 0, 1.0f, A.data(), 2, B.data(), 2, 0.5f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  portableGemm(false, false, 2, 2, 2, 0.0f, A.data(), 2, B.data(), 2, 2.0f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{1, 2, 3, 4}));
  portableGemm(false, false, 0, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{1, 2, 3, 4}));
}
