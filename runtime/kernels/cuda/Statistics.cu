//===- Statistics.cu - activation statistics for importance scores --------===//
//
// Twins of unit_norms and cosine_sum in runtime/kernels/cpu/Statistics.cpp:
// sums over tokens in double, in a fixed order (deterministic block sums).
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {

/// Block u: s[u] = Σ_r ‖x_r[u·group : (u+1)·group]‖₂.
__global__ void unitNormsKernel(const float *x, int64_t rows, int64_t N, int64_t group, float *s) {
  __shared__ double shared[kBlock / 32];
  int64_t u = blockIdx.x;
  double acc = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    const float *v = x + r * N + u * group;
    double ss = 0;
    for (int64_t e = 0; e < group; ++e)
      ss += double(v[e]) * v[e];
    acc += sqrt(ss);
  }
  acc = blockSum(acc, shared);
  if (threadIdx.x == 0)
    s[u] = static_cast<float>(acc);
}

/// Block r: the cosine of row r of x and y (1 when either is zero).
__global__ void rowCosineKernel(const float *x, const float *y, int64_t D, double *cosine) {
  __shared__ double shared[kBlock / 32];
  int64_t r = blockIdx.x;
  const float *a = x + r * D, *b = y + r * D;
  double ab = 0, aa = 0, bb = 0;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    ab += double(a[d]) * b[d];
    aa += double(a[d]) * a[d];
    bb += double(b[d]) * b[d];
  }
  ab = blockSum(ab, shared);
  aa = blockSum(aa, shared);
  bb = blockSum(bb, shared);
  if (threadIdx.x == 0)
    cosine[r] = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 1.0;
}

__global__ void sumKernel(const double *v, int64_t n, float *out) {
  __shared__ double shared[kBlock / 32];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    acc += v[i];
  acc = blockSum(acc, shared);
  if (threadIdx.x == 0)
    out[0] = static_cast<float>(acc);
}

Status unitNorms(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(0);
  int64_t group = std::get<GroupParams>(params).group, N = x.dim(-1), units = N / group;
  int64_t rows = N ? x.numel() / N : 0;
  if (units > 0x7fffffff)
    return internalError("unit_norms: too many units for one launch");
  if (units > 0)
    unitNormsKernel<<<static_cast<unsigned>(units), kBlock, 0, cudaContext(c).stream>>>(x.f32(), rows, N, group,
                                                                                     io.output(0).f32());
  return launched("unit_norms");
}

size_t cosineWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  const Shape &x = *in[0];
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < x.size(); ++i)
    rows *= x[i];
  return alignedBytes(static_cast<size_t>(rows) * sizeof(double));
}

Status cosineSum(ExecContext &c, const KernelParams &, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &x = io.input(0), &y = io.input(1);
  int64_t D = x.dim(-1), rows = D ? x.numel() / D : 0;
  auto *cosine = static_cast<double *>(io.workspace);
  if (rows > 0x7fffffff)
    return internalError("cosine_sum: too many rows for one launch");
  if (rows > 0)
    rowCosineKernel<<<static_cast<unsigned>(rows), kBlock, 0, ctx.stream>>>(x.f32(), y.f32(), D, cosine);
  sumKernel<<<1, kBlock, 0, ctx.stream>>>(cosine, rows, io.output(0).f32());
  return launched("cosine_sum");
}

} // namespace

void shear::rt::cuda::registerStatistics(const Define &define) {
  define(KernelId::UnitNorms, {unitNorms});
  define(KernelId::CosineSum, {cosineSum, cosineWorkspace});
}
