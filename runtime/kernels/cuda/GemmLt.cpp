//===- GemmLt.cpp - GEMMs of bf16 operands through cuBLASLt, planned once --===//
//
// A bf16 program's GEMMs have a handful of shapes, each met every step: the
// first call of a shape builds its cuBLASLt descriptors and asks the
// heuristic for an algorithm (for the operands' alignments and a 32 MiB
// workspace); every later call of that shape runs it directly. A shape the
// heuristic has no algorithm for takes cublasGemmEx, as does every call
// under SHEAR_CUDA_GEMM=cublas.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
constexpr size_t kWorkspaceBytes = size_t(32) << 20;

struct Key {
  bool transA, transB;
  int64_t M, N, K, lda, ldb, ldc;
  DType ab, c;
  uint32_t alignA, alignB, alignC;
  auto tie() const { return std::tie(transA, transB, M, N, K, lda, ldb, ldc, ab, c, alignA, alignB, alignC); }
  bool operator<(const Key &o) const { return tie() < o.tie(); }
};

struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  bool found = false; // false: the heuristic had none (cublasGemmEx)
};

uint32_t alignmentOf(const void *p) {
  auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 2 && a % align != 0)
    align /= 2;
  return align;
}

cudaDataType_t cudaType(DType t) { return t == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F; }

bool useCublas() {
  static const bool cublas = [] {
    const char *v = std::getenv("SHEAR_CUDA_GEMM");
    return v && std::strcmp(v, "cublas") == 0;
  }();
  return cublas;
}

Status gemmWithCublas(CudaContext &ctx, cublasOperation_t opA, cublasOperation_t opB, const Key &k, float alpha,
                      const void *A, const void *B, float beta, void *C) {
  cublasComputeType_t compute = k.ab == DType::BF16 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_16BF;
  cublasSetMathMode(ctx.blas, CUBLAS_DEFAULT_MATH);
  cublasStatus_t s = cublasGemmEx_64(ctx.blas, opA, opB, k.N, k.M, k.K, &alpha, B, cudaType(k.ab), k.ldb, A,
                                     cudaType(k.ab), k.lda, &beta, C, cudaType(k.c), k.ldc, compute,
                                     CUBLAS_GEMM_DEFAULT);
  cublasSetMathMode(ctx.blas, CUBLAS_PEDANTIC_MATH);
  if (s != CUBLAS_STATUS_SUCCESS)
    return runFailure("cuBLAS gemm " + std::to_string(k.M) + "x" + std::to_string(k.N) + "x" + std::to_string(k.K) +
                      " (" + dtypeName(k.ab) + " into " + dtypeName(k.c) + "): " + cublasGetStatusString(s));
  return Status();
}

Status ltFailure(const char *what, const Key &k, cublasStatus_t s) {
  return runFailure(std::string("cuBLASLt ") + what + " for a " + std::to_string(k.M) + "x" + std::to_string(k.N) +
                    "x" + std::to_string(k.K) + " GEMM (" + dtypeName(k.ab) + " into " + dtypeName(k.c) +
                    "): " + cublasGetStatusString(s));
}
} // namespace

struct shear::rt::cuda::GemmPlans {
  std::map<Key, Plan> plans;
  std::shared_ptr<Buffer> workspace;
  ~GemmPlans() {
    for (auto &[key, p] : plans) {
      cublasLtMatrixLayoutDestroy(p.a);
      cublasLtMatrixLayoutDestroy(p.b);
      cublasLtMatrixLayoutDestroy(p.c);
      cublasLtMatmulDescDestroy(p.desc);
    }
  }
};

namespace {
/// The plan of `k`'s shape, made the first time: cuBLASLt's column-major
/// view of the row-major call (Cᵀ = op(B)ᵀ op(A)ᵀ, so A there is our B).
Result<Plan *> planFor(CudaContext &ctx, const Key &k, cublasOperation_t opA, cublasOperation_t opB) {
  GemmPlans &plans = *ctx.gemmPlans;
  auto it = plans.plans.find(k);
  if (it != plans.plans.end())
    return &it->second;
  Plan p;
  cublasStatus_t s = cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  int32_t ta = opA, tb = opB;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
  uint64_t aRows = opA == CUBLAS_OP_N ? k.N : k.K, aCols = opA == CUBLAS_OP_N ? k.K : k.N;
  uint64_t bRows = opB == CUBLAS_OP_N ? k.K : k.M, bCols = opB == CUBLAS_OP_N ? k.M : k.K;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatrixLayoutCreate(&p.a, cudaType(k.ab), aRows, aCols, k.ldb);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatrixLayoutCreate(&p.b, cudaType(k.ab), bRows, bCols, k.lda);
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatrixLayoutCreate(&p.c, cudaType(k.c), uint64_t(k.N), uint64_t(k.M), k.ldc);
  cublasLtMatmulPreference_t pref = nullptr;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulPreferenceCreate(&pref);
  uint64_t bytes = kWorkspaceBytes;
  uint32_t align[4] = {k.alignB, k.alignA, k.alignC, k.alignC}; // its A is our B
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &bytes, sizeof bytes);
  // A bf16 result is rounded once: no split-K reduction in bf16.
  uint32_t reductions = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
  if (s == CUBLAS_STATUS_SUCCESS && k.c == DType::BF16)
    s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &reductions,
                                             sizeof reductions);
  for (int i = 0; i < 4 && s == CUBLAS_STATUS_SUCCESS; ++i)
    s = cublasLtMatmulPreferenceSetAttribute(
        pref, cublasLtMatmulPreferenceAttributes_t(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES + i), &align[i],
        sizeof align[i]);
  if (s != CUBLAS_STATUS_SUCCESS) {
    if (pref)
      cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.desc);
    return ltFailure("descriptors", k, s);
  }
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  s = cublasLtMatmulAlgoGetHeuristic(ctx.lt, p.desc, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  // Descriptors that do not fit together are this code's error; a shape
  // without an algorithm is cuBLASLt's limit (cublasGemmEx takes it). The
  // emulation, which models cuBLASLt's checks, fails on the first; a GPU
  // warns once and lets cublasGemmEx take the shape (a run that starts is
  // worth more there than the error, which the warning still reports).
  if (s == CUBLAS_STATUS_INVALID_VALUE) {
#ifdef SHEAR_CUDA_EMULATION
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.desc);
    return ltFailure("heuristic", k, s);
#else
    static bool warned = false;
    if (!warned) {
      warned = true;
      std::fprintf(stderr, "shear: warning: %s; cublasGemmEx takes this shape and any other so refused\n",
                   ltFailure("heuristic", k, s).message().c_str());
    }
#endif
  }
  if (s == CUBLAS_STATUS_SUCCESS && found > 0 && result.state == CUBLAS_STATUS_SUCCESS) {
    p.found = true;
    p.algo = result.algo;
    p.workspace = result.workspaceSize;
  }
  return &plans.plans.emplace(k, p).first->second;
}
} // namespace

Status shear::rt::cuda::gemmEx(CudaContext &ctx, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                               float alpha, GemmOperand A, int64_t lda, GemmOperand B, int64_t ldb, float beta,
                               void *C, DType cType, int64_t ldc) {
  auto known = [](DType t) { return t == DType::F32 || t == DType::BF16; };
  if (A.type != B.type || !known(A.type) || !known(cType))
    return internalError(std::string("a GEMM of ") + dtypeName(A.type) + " and " + dtypeName(B.type) + " into " +
                         dtypeName(cType) + " (operands of one type, float32 or bf16)");
  if (A.type == DType::F32 && cType == DType::F32)
    return gemm(ctx, transA, transB, M, N, K, alpha, static_cast<const float *>(A.p), lda,
                static_cast<const float *>(B.p), ldb, beta, static_cast<float *>(C), ldc);
  if (A.type == DType::F32)
    return internalError("a GEMM of float32 operands into bf16 (cuBLAS has no such combination)");
  if (M == 0 || N == 0)
    return Status();
  cublasOperation_t opA = transB ? CUBLAS_OP_T : CUBLAS_OP_N, opB = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  Key k{transA, transB, M, N, K, lda, ldb, ldc, A.type, cType, alignmentOf(A.p), alignmentOf(B.p), alignmentOf(C)};
  // bf16 operands from here on (float32 ones went to gemm() above).
  if (useCublas() || K == 0)
    return gemmWithCublas(ctx, opA, opB, k, alpha, A.p, B.p, beta, C);
  if (!ctx.gemmPlans)
    ctx.gemmPlans = std::make_shared<GemmPlans>();
  auto plan = planFor(ctx, k, opA, opB);
  if (!plan.ok())
    return plan.status();
  Plan &p = **plan;
  if (!p.found)
    return gemmWithCublas(ctx, opA, opB, k, alpha, A.p, B.p, beta, C);
  GemmPlans &plans = *ctx.gemmPlans;
  if (p.workspace > 0 && !plans.workspace) {
    auto w = ctx.allocator->allocate(kWorkspaceBytes);
    if (!w.ok())
      return w.status().prefixed("cuBLASLt's workspace: ");
    plans.workspace = w.take();
  }
  void *ws = p.workspace > 0 ? plans.workspace->data() : nullptr;
  cublasStatus_t s = cublasLtMatmul(ctx.lt, p.desc, &alpha, B.p, p.a, A.p, p.b, &beta, C, p.c, C, p.c, &p.algo, ws,
                                    p.workspace, ctx.stream);
  if (s != CUBLAS_STATUS_SUCCESS)
    return ltFailure("matmul", k, s);
  return Status();
}
