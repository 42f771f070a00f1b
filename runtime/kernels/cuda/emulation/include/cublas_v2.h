//===- cublas_v2.h - the cuBLAS calls of the CUDA backend, emulated --------===//
//
// GEMMs of the CPU emulation (Emulator.cpp): column-major as in cuBLAS,
// computed by the CPU backend's GEMM; the bf16 compute types round their
// inputs to bf16 first, as tensor cores take them.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_CUDA_EMULATION_CUBLAS_V2_H
#define SHEAR_CUDA_EMULATION_CUBLAS_V2_H

#include "cuda_runtime.h"

struct cublasContext;
typedef cublasContext *cublasHandle_t;

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum cublasMath_t {
  CUBLAS_DEFAULT_MATH = 0,
  CUBLAS_TENSOR_OP_MATH = 1,
  CUBLAS_PEDANTIC_MATH = 2,
  CUBLAS_TF32_TENSOR_OP_MATH = 3,
};
enum cublasComputeType_t {
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_PEDANTIC = 69,
  CUBLAS_COMPUTE_32F_FAST_16F = 74,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
};
enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 };
typedef cudaDataType_t cudaDataType;
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT = -1 };

cublasStatus_t cublasCreate(cublasHandle_t *handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
const char *cublasGetStatusString(cublasStatus_t status);
cublasStatus_t cublasSgemm_64(cublasHandle_t handle, cublasOperation_t opA, cublasOperation_t opB, int64_t m,
                              int64_t n, int64_t k, const float *alpha, const float *A, int64_t lda,
                              const float *B, int64_t ldb, const float *beta, float *C, int64_t ldc);
cublasStatus_t cublasGemmEx_64(cublasHandle_t handle, cublasOperation_t opA, cublasOperation_t opB, int64_t m,
                               int64_t n, int64_t k, const void *alpha, const void *A, cudaDataType_t typeA,
                               int64_t lda, const void *B, cudaDataType_t typeB, int64_t ldb, const void *beta,
                               void *C, cudaDataType_t typeC, int64_t ldc, cublasComputeType_t compute,
                               cublasGemmAlgo_t algo);

#endif
