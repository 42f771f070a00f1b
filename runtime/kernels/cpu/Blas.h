//===- Blas.h - row-major GEMM through OpenBLAS ---------------------------===//
#ifndef SHEAR_RUNTIME_KERNELS_CPU_BLAS_H
#define SHEAR_RUNTIME_KERNELS_CPU_BLAS_H

#include <cblas.h>
#include <cstdint>

namespace shear::rt::cpu {

/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major.
inline void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
              transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/// Y[rows, out] = X[rows, in] · Wᵀ for a weight W[out, in] (nn.Linear).
inline void linear(const float *X, const float *W, float *Y, int64_t rows, int64_t in,
                   int64_t out) {
  gemm(false, true, rows, out, in, 1.0f, X, in, W, in, 0.0f, Y, out);
}

} // namespace shear::rt::cpu

#endif
