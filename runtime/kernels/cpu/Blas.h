//===- Blas.h - row-major GEMM: OpenBLAS, or the built-in one without it --===//
//
// The CPU kernels' only dependency on BLAS. Built with SHEAR_HAVE_CBLAS (the
// default where OpenBLAS is installed) gemm is cblas_sgemm; without it (the
// GPU nodes, which have no BLAS headers) it is portableGemm, a cache-blocked
// single-threaded float32 GEMM: the CPU backend stays the reference the CUDA
// kernels are checked against, at a fraction of OpenBLAS's speed.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELS_CPU_BLAS_H
#define SHEAR_RUNTIME_KERNELS_CPU_BLAS_H

#ifdef SHEAR_HAVE_CBLAS
#include <cblas.h>
#endif
#include <cstdint>

namespace shear::rt::cpu {

/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, without BLAS. Where
/// beta is 0, C is overwritten (NaNs in it do not survive), as in BLAS.
void portableGemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc);

/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major.
inline void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc) {
#ifdef SHEAR_HAVE_CBLAS
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
              transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
  portableGemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

/// Y[rows, out] = X[rows, in] · Wᵀ for a weight W[out, in] (nn.Linear).
inline void linear(const float *X, const float *W, float *Y, int64_t rows, int64_t in,
                   int64_t out) {
  gemm(false, true, rows, out, in, 1.0f, X, in, W, in, 0.0f, Y, out);
}

/// The GEMM library the CPU backend uses ("OpenBLAS" or "built-in").
const char *gemmLibrary();
/// Tells the GEMM library how many threads it may use (no-op built-in).
void setGemmThreads(int threads);

} // namespace shear::rt::cpu

#endif
