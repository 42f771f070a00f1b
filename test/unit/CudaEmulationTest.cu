// The CUDA emulation (runtime/kernels/cuda/emulation) keeps CUDA's meaning:
// launches as nvcc reads them (template kernels, default arguments, each
// thread its own parameters, 2D grids), __syncthreads() and warp shuffles
// as barriers, races made visible by the schedules, refusals where a GPU
// refuses, memory faults named, and cuBLAS's column-major GEMMs and CUB's
// radix sort. Built from this .cu file by shear-rewrite-launches, as the
// backend's own sources are; every expected value is computed by hand.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cub/device/device_radix_sort.cuh>
#include <cuda_bf16.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

namespace {

template <class T> std::vector<T> toHost(const T *device, size_t n) {
  std::vector<T> host(n);
  EXPECT_EQ(cudaMemcpy(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return host;
}

template <class T> T *toDevice(const std::vector<T> &host) {
  T *p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, host.size() * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return p;
}

struct Order {
  explicit Order(const char *o) { setenv("SHEAR_CUDA_EMULATION_ORDER", o, 1); }
  ~Order() { unsetenv("SHEAR_CUDA_EMULATION_ORDER"); }
};

// ---- Kernels -------------------------------------------------------------

// The block's sum of v: shuffles within warps, then the warps in order.
__device__ double blockSum(double v, double *shared) {
  for (int o = 16; o > 0; o /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0)
    shared[threadIdx.x / 32] = v;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < int(blockDim.x / 32); ++w)
    total += shared[w];
  __syncthreads();
  return total;
}

__global__ void sumsKernel(double *out) {
  __shared__ double shared[32];
  double first = blockSum(threadIdx.x + 1000.0 * blockIdx.x, shared);
  double second = blockSum(1.0, shared); // reuses shared: needs the second barrier
  if (threadIdx.x == 0) {
    out[2 * blockIdx.x] = first;
    out[2 * blockIdx.x + 1] = second;
  }
}

// The same without the barrier that protects `shared` from the next sum:
// a race, which only some schedules show.
__global__ void racySumsKernel(double *out) {
  __shared__ double shared[32];
  double v = threadIdx.x;
  for (int o = 16; o > 0; o /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0)
    shared[threadIdx.x / 32] = v;
  __syncthreads();
  double total = 0;
  for (int w = 0; w < int(blockDim.x / 32); ++w)
    total += shared[w];
  // (no __syncthreads() here): the next sum's shuffles, then its write.
  double again = __shfl_xor_sync(0xffffffffu, 1.0, 16);
  if (threadIdx.x % 32 == 0)
    shared[threadIdx.x / 32] = -again;
  out[threadIdx.x] = total;
}

// Each thread reads its neighbour's value: only a barrier makes it there.
__global__ void rotateKernel(int *out) {
  __shared__ int values[256];
  values[threadIdx.x] = int(threadIdx.x) * 3;
  __syncthreads();
  out[threadIdx.x] = values[(threadIdx.x + 1) % blockDim.x];
}

template <int kFactor> __global__ void scaleKernel(float *x, int n, float by = 2.0f) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    x[i] *= by * kFactor;
}

// A parameter is each thread's own copy.
__global__ void ownParameterKernel(int *out, int n) {
  n -= int(threadIdx.x);
  out[threadIdx.x] = n;
}

__global__ void coordinatesKernel(int *out) {
  int block = blockIdx.x + gridDim.x * blockIdx.y;
  int thread = threadIdx.x + blockDim.x * threadIdx.y;
  out[block * blockDim.x * blockDim.y + thread] = 10000 * blockIdx.y + 1000 * blockIdx.x + 10 * threadIdx.y + threadIdx.x;
}

// Lanes 16..31 leave before the shuffle: a GPU's result is undefined.
__global__ void divergentShuffleKernel(float *out) {
  if (threadIdx.x % 32 >= 16)
    return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

__global__ void readPastKernel(const float *x, float *y, int n) {
  y[threadIdx.x] = x[threadIdx.x + n]; // n past the end for the last threads
}

__global__ void nothingKernel() {}

// Threads 0..31 leave; the others wait at a barrier they cannot all reach.
__global__ void exitBeforeBarrierKernel(float *out) {
  if (threadIdx.x < 32)
    return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

// Reads shared memory it never wrote (block 0 writes it, later ones do not).
__global__ void unwrittenSharedKernel(float *out) {
  __shared__ float values[32];
  if (blockIdx.x == 0)
    values[threadIdx.x] = 7.0f;
  __syncthreads();
  out[blockIdx.x * 32 + threadIdx.x] = values[threadIdx.x];
}

__global__ void storeKernel(int *out, int v) { out[threadIdx.x] = v; }

// ---- Launches and barriers -------------------------------------------------

TEST(CudaEmulation, BlockSumsWithShufflesAndBarriers) {
  for (const char *o : {"forward", "reverse", "warps"}) {
    Order order(o);
    double *out = nullptr;
    ASSERT_EQ(cudaMalloc(&out, 6 * sizeof(double)), cudaSuccess);
    sumsKernel<<<3, 256>>>(out);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess) << o;
    std::vector<double> got = toHost(out, 6);
    for (int b = 0; b < 3; ++b) {
      EXPECT_EQ(got[2 * b], 255.0 * 256 / 2 + 1000.0 * b * 256) << o << " block " << b;
      EXPECT_EQ(got[2 * b + 1], 256.0) << o << " block " << b;
    }
    cudaFree(out);
  }
}

TEST(CudaEmulation, ASchedulePerWarpShowsAMissingBarrier) {
  double *out = nullptr;
  ASSERT_EQ(cudaMalloc(&out, 64 * sizeof(double)), cudaSuccess);
  const double total = 63.0 * 64 / 2;
  // Thread by thread, every thread reads before the shuffle that comes
  // before warp 0's overwrite.
  {
    Order order("forward");
    racySumsKernel<<<1, 64>>>(out);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    for (double v : toHost(out, 64))
      EXPECT_EQ(v, total);
  }
  // Warp by warp, warp 0 overwrites shared[0] before warp 1 reads it.
  {
    Order order("warps");
    racySumsKernel<<<1, 64>>>(out);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    std::vector<double> got = toHost(out, 64);
    EXPECT_EQ(got[0], total);
    EXPECT_EQ(got[32], -1.0 + (32.0 + 63.0) * 32 / 2);
  }
  cudaFree(out);
}

TEST(CudaEmulation, BarrierOrdersSharedMemory) {
  for (const char *o : {"forward", "reverse", "warps"}) {
    Order order(o);
    int *out = nullptr;
    ASSERT_EQ(cudaMalloc(&out, 200 * sizeof(int)), cudaSuccess);
    rotateKernel<<<1, 200>>>(out);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    std::vector<int> got = toHost(out, 200);
    for (int t = 0; t < 200; ++t)
      EXPECT_EQ(got[t], 3 * ((t + 1) % 200)) << o << " thread " << t;
    cudaFree(out);
  }
}

TEST(CudaEmulation, TemplateKernelsDefaultArgumentsAndGridStrides) {
  std::vector<float> x(1000);
  for (int i = 0; i < 1000; ++i)
    x[i] = float(i);
  float *d = toDevice(x);
  scaleKernel<3><<<2, 64>>>(d, 1000);
  scaleKernel<1><<<dim3(3), dim3(32), 0, nullptr>>>(
      d, 1000,
      0.5f);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<float> got = toHost(d, 1000);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(got[i], float(i) * 6.0f * 0.5f) << i;
  cudaFree(d);
}

TEST(CudaEmulation, EachThreadHasItsOwnParameters) {
  int *out = nullptr;
  ASSERT_EQ(cudaMalloc(&out, 64 * sizeof(int)), cudaSuccess);
  ownParameterKernel<<<1, 64>>>(out, 100);
  std::vector<int> got = toHost(out, 64);
  for (int t = 0; t < 64; ++t)
    EXPECT_EQ(got[t], 100 - t);
  cudaFree(out);
}

TEST(CudaEmulation, TwoDimensionalGridsAndBlocks) {
  int *out = nullptr;
  ASSERT_EQ(cudaMalloc(&out, 6 * 32 * sizeof(int)), cudaSuccess);
  coordinatesKernel<<<dim3(2, 3), dim3(8, 4)>>>(out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<int> got = toHost(out, 6 * 32);
  for (int by = 0; by < 3; ++by)
    for (int bx = 0; bx < 2; ++bx)
      for (int ty = 0; ty < 4; ++ty)
        for (int tx = 0; tx < 8; ++tx)
          EXPECT_EQ(got[(bx + 2 * by) * 32 + tx + 8 * ty], 10000 * by + 1000 * bx + 10 * ty + tx);
  cudaFree(out);
}

// ---- What a GPU refuses ----------------------------------------------------

TEST(CudaEmulation, AShuffleThatNotEveryLaneJoinsIsALaunchFailure) {
  float *out = nullptr;
  ASSERT_EQ(cudaMalloc(&out, 64 * sizeof(float)), cudaSuccess);
  divergentShuffleKernel<<<1, 64>>>(out);
  cudaError_t e = cudaGetLastError();
  ASSERT_EQ(e, cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(e)).find("a shuffle that 16 of its 32 lanes do not join"),
            std::string::npos)
      << cudaGetErrorString(e);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess); // read once
  cudaFree(out);
}

TEST(CudaEmulation, ConfigurationsAGpuRefuses) {
  nothingKernel<<<1, 1025>>>();
  cudaError_t e = cudaGetLastError();
  EXPECT_EQ(e, cudaErrorInvalidConfiguration);
  EXPECT_NE(std::string(cudaGetErrorString(e)).find("block 1025x1x1"), std::string::npos);
  nothingKernel<<<dim3(1, 65536), 32>>>();
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  nothingKernel<<<0, 32>>>();
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  nothingKernel<<<1, 1024>>>();
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(CudaEmulation, ABarrierThatExitedThreadsMissIsALaunchFailure) {
  float *out = nullptr;
  ASSERT_EQ(cudaMalloc(&out, 64 * sizeof(float)), cudaSuccess);
  exitBeforeBarrierKernel<<<1, 64>>>(out);
  cudaError_t e = cudaGetLastError();
  ASSERT_EQ(e, cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(e)).find("a __syncthreads() that 32 of its 64 threads do not reach"),
            std::string::npos)
      << cudaGetErrorString(e);
  cudaFree(out);
}

TEST(CudaEmulation, SharedMemoryStartsUnwrittenInEveryBlock) {
  float *out = nullptr;
  ASSERT_EQ(cudaMalloc(&out, 3 * 32 * sizeof(float)), cudaSuccess);
  unwrittenSharedKernel<<<3, 32>>>(out);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  std::vector<float> got = toHost(out, 96);
  for (int t = 0; t < 32; ++t) {
    EXPECT_EQ(got[t], 7.0f);
    EXPECT_TRUE(std::isnan(got[32 + t])) << "block 1 read block 0's shared memory";
    EXPECT_TRUE(std::isnan(got[64 + t]));
  }
  cudaFree(out);
}

TEST(CudaEmulation, ALaunchEvaluatesItsArgumentsOnce) {
  int *out = nullptr;
  ASSERT_EQ(cudaMalloc(&out, 64 * sizeof(int)), cudaSuccess);
  int evaluated = 0;
  storeKernel<<<1, 64>>>(out, ++evaluated * 5);
  EXPECT_EQ(evaluated, 1);
  for (int v : toHost(out, 64))
    EXPECT_EQ(v, 5);
  cudaFree(out);
}

// ---- Memory ----------------------------------------------------------------

TEST(CudaEmulation, AllocationsAreAlignedUnwrittenAndCounted) {
  size_t free0 = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free0, &total), cudaSuccess);
  float *p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 100 * sizeof(float)), cudaSuccess);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u);
  size_t free1 = 0;
  cudaMemGetInfo(&free1, &total);
  EXPECT_EQ(free0 - free1, 512u); // 400 bytes, in 256-byte units
  for (float v : toHost(p, 100))
    EXPECT_TRUE(std::isnan(v)); // never written
  ASSERT_EQ(cudaMemsetAsync(p, 0, 100 * sizeof(float)), cudaSuccess);
  for (float v : toHost(p, 100))
    EXPECT_EQ(v, 0.0f);
  ASSERT_EQ(cudaFree(p), cudaSuccess);
  cudaMemGetInfo(&free1, &total);
  EXPECT_EQ(free1, free0);
  int local = 0;
  EXPECT_EQ(cudaFree(&local), cudaErrorInvalidValue);
}

void readPastAnAllocation() {
  float *x = nullptr, *y = nullptr;
  cudaMalloc(&x, 64 * sizeof(float));
  cudaMalloc(&y, 64 * sizeof(float));
  readPastKernel<<<1, 64>>>(x, y, 64);
}

void readDeviceMemoryOnTheHost() {
  float *x = nullptr;
  cudaMalloc(&x, 64 * sizeof(float));
  volatile float v = x[3];
  (void)v;
}

TEST(CudaEmulationDeathTest, AKernelReadingPastAnAllocationIsNamed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(readPastAnAllocation(),
      "a kernel thread \\(block \\(0,0,0\\), thread \\(0,0,0\\)\\) touched .*: 0 bytes past the end of a "
      "device allocation of 256 bytes");
}

TEST(CudaEmulationDeathTest, HostCodeReadingDeviceMemoryIsNamed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(readDeviceMemoryOnTheHost(),
      "host code touched .*inside a device allocation of 256 bytes, outside a kernel or copy");
}

// ---- cuBLAS and CUB --------------------------------------------------------

// Column-major C = op(A) op(B) in double.
std::vector<double> reference(bool ta, bool tb, int m, int n, int k, const std::vector<float> &A, int lda,
                              const std::vector<float> &B, int ldb) {
  std::vector<double> C(size_t(m) * n);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double s = 0;
      for (int p = 0; p < k; ++p)
        s += double(ta ? A[p + i * lda] : A[i + p * lda]) * double(tb ? B[j + p * ldb] : B[p + j * ldb]);
      C[i + size_t(j) * m] = s;
    }
  return C;
}

TEST(CudaEmulation, SgemmIsColumnMajorWithEveryTranspose) {
  cublasHandle_t h;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  const int m = 5, n = 3, k = 4;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      int lda = (ta ? k : m) + 1, ldb = (tb ? n : k) + 2; // padded leading dimensions
      std::vector<float> A(size_t(lda) * (ta ? m : k)), B(size_t(ldb) * (tb ? k : n));
      for (size_t i = 0; i < A.size(); ++i)
        A[i] = float(int(i * 7 % 11) - 5);
      for (size_t i = 0; i < B.size(); ++i)
        B[i] = float(int(i * 5 % 13) - 6) / 4;
      float *dA = toDevice(A), *dB = toDevice(B), *dC = toDevice(std::vector<float>(size_t(m) * n, 1.0f));
      float alpha = 2.0f, beta = 0.5f;
      ASSERT_EQ(cublasSgemm_64(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha,
                               dA, lda, dB, ldb, &beta, dC, m),
                CUBLAS_STATUS_SUCCESS);
      std::vector<float> got = toHost(dC, size_t(m) * n);
      std::vector<double> want = reference(ta, tb, m, n, k, A, lda, B, ldb);
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_FLOAT_EQ(got[i], float(2.0 * want[i] + 0.5)) << ta << tb << " element " << i;
      cudaFree(dA);
      cudaFree(dB);
      cudaFree(dC);
    }
  float one = 1, zero = 0;
  EXPECT_EQ(cublasSgemm_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, nullptr, 3, nullptr, 4, &zero, nullptr, 4),
            CUBLAS_STATUS_INVALID_VALUE); // lda < m
  cublasDestroy(h);
}

TEST(CudaEmulation, Bf16ComputeRoundsTheInputs) {
  cublasHandle_t h;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  // 1 + 2^-10 is not a bf16 value (7 fraction bits): it rounds to 1.
  std::vector<float> A = {1.0f + 1.0f / 1024}, B = {3.0f};
  float *dA = toDevice(A), *dB = toDevice(B), *dC = toDevice(std::vector<float>{0.0f});
  float one = 1, zero = 0;
  ASSERT_EQ(cublasGemmEx_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, dA, CUDA_R_32F, 1, dB, CUDA_R_32F, 1, &zero,
                            dC, CUDA_R_32F, 1, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(toHost(dC, 1)[0], 3.0f);
  ASSERT_EQ(cublasGemmEx_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, dA, CUDA_R_32F, 1, dB, CUDA_R_32F, 1, &zero,
                            dC, CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(toHost(dC, 1)[0], 3.0f + 3.0f / 1024);
  // bf16 storage in and out: 1.5 · 2.5 = 3.75, a bf16 value.
  std::vector<__nv_bfloat16> a16 = {__float2bfloat16_rn(1.5f)}, b16 = {__float2bfloat16_rn(2.5f)},
                             c16 = {__float2bfloat16_rn(0.0f)};
  __nv_bfloat16 *da = toDevice(a16), *db = toDevice(b16), *dc = toDevice(c16);
  ASSERT_EQ(cublasGemmEx_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, da, CUDA_R_16BF, 1, db, CUDA_R_16BF, 1, &zero,
                            dc, CUDA_R_16BF, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(__bfloat162float(toHost(dc, 1)[0]), 3.75f);
  // Combinations cuBLAS does not list: FAST_16BF with bf16 inputs, mixed inputs.
  EXPECT_EQ(cublasGemmEx_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, da, CUDA_R_16BF, 1, db, CUDA_R_16BF, 1, &zero,
                            dc, CUDA_R_16BF, 1, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cublasGemmEx_64(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, da, CUDA_R_16BF, 1, dB, CUDA_R_32F, 1, &zero,
                            dC, CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_NOT_SUPPORTED);
  cublasDestroy(h);
}

TEST(CudaEmulation, RadixSortIsStableOverItsBits) {
  // Keys sorted by bits [0, 3) only: 9 (=1 mod 8) sorts with 1, after it.
  std::vector<uint32_t> keys = {5, 1, 9, 3, 1, 0}, values = {0, 1, 2, 3, 4, 5};
  uint32_t *kin = toDevice(keys), *vin = toDevice(values);
  uint32_t *kout = toDevice(std::vector<uint32_t>(6)), *vout = toDevice(std::vector<uint32_t>(6));
  size_t bytes = 0;
  ASSERT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, bytes, kin, kout, vin, vout, 6, 0, 3), cudaSuccess);
  void *temp = nullptr;
  ASSERT_EQ(cudaMalloc(&temp, bytes), cudaSuccess);
  ASSERT_EQ(cub::DeviceRadixSort::SortPairs(temp, bytes, kin, kout, vin, vout, 6, 0, 3), cudaSuccess);
  EXPECT_EQ(toHost(kout, 6), (std::vector<uint32_t>{0, 1, 9, 1, 3, 5}));
  EXPECT_EQ(toHost(vout, 6), (std::vector<uint32_t>{5, 1, 2, 4, 3, 0}));
}

} // namespace

namespace {
TEST(CudaEmulation, CublasLtChecksLayoutsAndAlignments) {
  cublasLtHandle_t lt;
  ASSERT_EQ(cublasLtCreate(&lt), CUBLAS_STATUS_SUCCESS);
  // D[2,3] = A[2,4] B[4,3], column-major float32.
  std::vector<float> A = {1, 2, 3, 4, 5, 6, 7, 8}, B = {1, 0, 0, 1, 1, 1, 1, 1, 2, 0, 0, 0};
  float *dA = toDevice(A), *dB = toDevice(B), *dD = toDevice(std::vector<float>(6, 0.0f));
  cublasLtMatmulDesc_t desc;
  ASSERT_EQ(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), CUBLAS_STATUS_SUCCESS);
  cublasLtMatrixLayout_t a, b, d, wrong;
  cublasLtMatrixLayoutCreate(&a, CUDA_R_32F, 2, 4, 2);
  cublasLtMatrixLayoutCreate(&b, CUDA_R_32F, 4, 3, 4);
  cublasLtMatrixLayoutCreate(&d, CUDA_R_32F, 2, 3, 2);
  cublasLtMatrixLayoutCreate(&wrong, CUDA_R_32F, 3, 3, 3);
  EXPECT_EQ(cublasLtMatrixLayoutCreate(&wrong, CUDA_R_32F, 3, 3, 2), CUBLAS_STATUS_INVALID_VALUE); // ld < rows
  cublasLtMatmulPreference_t pref;
  cublasLtMatmulPreferenceCreate(&pref);
  uint64_t workspaceBytes = 1 << 20;
  ASSERT_EQ(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspaceBytes,
                                                 sizeof workspaceBytes),
            CUBLAS_STATUS_SUCCESS);
  void *workspace = nullptr;
  ASSERT_EQ(cudaMalloc(&workspace, workspaceBytes), cudaSuccess);
  cublasLtMatmulHeuristicResult_t r;
  int found = 0;
  EXPECT_EQ(cublasLtMatmulAlgoGetHeuristic(lt, desc, a, wrong, d, d, pref, 1, &r, &found), CUBLAS_STATUS_INVALID_VALUE);
  ASSERT_EQ(cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b, d, d, pref, 1, &r, &found), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(found, 1);
  ASSERT_GT(r.workspaceSize, 0u);
  float one = 1, zero = 0;
  // The workspace the algorithm asked for must be given.
  EXPECT_EQ(cublasLtMatmul(lt, desc, &one, dA, a, dB, b, &zero, dD, d, dD, d, &r.algo, nullptr, 0, nullptr),
            CUBLAS_STATUS_INVALID_VALUE);
  ASSERT_EQ(cublasLtMatmul(lt, desc, &one, dA, a, dB, b, &zero, dD, d, dD, d, &r.algo, workspace, workspaceBytes,
                           nullptr),
            CUBLAS_STATUS_SUCCESS);
  // Columns of D: A·(1,0,0,1) = (1+7, 2+8), A·(1,1,1,1) = (16, 20), A·(2,0,0,0) = (2, 4).
  EXPECT_EQ(toHost(dD, 6), (std::vector<float>{8, 10, 16, 20, 2, 4}));
  // The algorithm was chosen for 256-byte alignment (the default): an
  // operand 4 bytes off is refused, as cuBLASLt refuses it.
  EXPECT_EQ(cublasLtMatmul(lt, desc, &one, dA + 1, a, dB, b, &zero, dD, d, dD, d, &r.algo, workspace,
                           workspaceBytes, nullptr),
            CUBLAS_STATUS_INVALID_VALUE);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(a);
  cublasLtMatrixLayoutDestroy(b);
  cublasLtMatrixLayoutDestroy(d);
  cublasLtMatrixLayoutDestroy(wrong);
  cublasLtMatmulDescDestroy(desc);
  cublasLtDestroy(lt);
}
} // namespace
