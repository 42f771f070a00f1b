//===- Optimizer.cu - the global gradient norm and AdamW -------------------===//
//
// Twins of runtime/kernels/cpu/Optimizer.cpp, in the same double-precision
// arithmetic: the norm from per-block partial sums added in a fixed order,
// AdamW reading the norm, lr and step from device memory (no host sync) and
// writing the bf16 working copy from the updated float32 value.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"
#include "Storage.cuh"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
constexpr int kPartials = 128; // blocks per tensor of the norm

__global__ void sumSquaresKernel(const float *g, int64_t n, double *partials) {
  __shared__ double shared[kBlock / 32];
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    s += double(g[i]) * g[i];
  s = blockSum(s, shared);
  if (threadIdx.x == 0)
    partials[blockIdx.x] = s;
}

__global__ void normKernel(const double *partials, int64_t count, float *norm) {
  __shared__ double shared[kBlock / 32];
  double s = 0;
  // Each thread sums a fixed stride of partials, then the block in order.
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x)
    s += partials[i];
  s = blockSum(s, shared);
  if (threadIdx.x == 0)
    norm[0] = static_cast<float>(sqrt(s));
}

size_t globalNormWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  return alignedBytes(in.size() * kPartials * sizeof(double));
}

Status globalNorm(ExecContext &c, const KernelParams &, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  auto *partials = static_cast<double *>(io.workspace);
  if (io.workspaceBytes < io.in.size() * kPartials * sizeof(double))
    return internalError("global_norm: workspace too small");
  for (size_t t = 0; t < io.in.size(); ++t) {
    const Tensor &g = *io.in[t];
    sumSquaresKernel<<<kPartials, kBlock, 0, ctx.stream>>>(g.f32(), g.numel(), partials + t * kPartials);
  }
  normKernel<<<1, kBlock, 0, ctx.stream>>>(partials, static_cast<int64_t>(io.in.size()) * kPartials,
                                           io.output(0).f32());
  return launched("global_norm");
}

// W: the working copy's element type (float or __nv_bfloat16; w null: none).
template <typename W>
__global__ void adamwKernel(const float *g, float *p, float *m, float *v, W *w, const float *normp,
                            const float *lrp, const int64_t *stepp, double b1, double b2,
                            double eps, double wd, double maxNorm, double clamp, int64_t n) {
  double norm = normp[0];
  if (!isfinite(norm)) // non-finite gradients skip the step
    return;
  double lr = lrp[0];
  double t = double(stepp[0] + 1);
  double clip = maxNorm > 0 ? fmin(1.0, maxNorm / (norm + 1e-6)) : 1.0;
  double c1 = 1 - pow(b1, t), c2 = 1 - pow(b2, t);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    double gi = g[i] * clip;
    double mi = b1 * m[i] + (1 - b1) * gi;
    double vi = b2 * v[i] + (1 - b2) * gi * gi;
    double pi = p[i] * (1 - lr * wd);
    pi -= lr * (mi / c1) / (sqrt(vi / c2) + eps);
    if (clamp > 0)
      pi = fmin(fmax(pi, -clamp), clamp);
    float pf = static_cast<float>(pi);
    p[i] = pf;
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    if (w)
      store(w, i, pf); // rounded once, as the next step's cast would
  }
}

enum { P, G, M, V, Norm, LR, Step, W };

Status adamw(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const auto &a = std::get<AdamWParams>(params);
  const Tensor &g = io.input(G);
  int64_t n = g.numel();
  for (size_t i : {P, G, M, V})
    if (io.input(i).dtype() != DType::F32)
      return internalError("adamw: the parameter, its gradient and moments must be float32");
  // The outputs hold p, m, v and the working copy (they update them in place).
  Tensor *w = io.optionalOutput(3);
  cudaStream_t stream = cudaContext(c).stream;
  auto launch = [&](auto *copy) {
    adamwKernel<<<blocksFor(n), kBlock, 0, stream>>>(
        g.f32(), io.output(0).f32(), io.output(1).f32(), io.output(2).f32(), copy,
        io.input(Norm).f32(), io.input(LR).f32(), io.input(Step).i64(), a.beta1, a.beta2, a.eps,
        a.weightDecay, a.maxNorm, a.clamp, n);
  };
  if (w && w->dtype() == DType::BF16)
    launch(static_cast<__nv_bfloat16 *>(w->data()));
  else
    launch(w ? w->f32() : static_cast<float *>(nullptr));
  return launched("adamw");
}
} // namespace

void shear::rt::cuda::registerOptimizer(const Define &define) {
  define(KernelId::GlobalNorm, {globalNorm, globalNormWorkspace});
  define(KernelId::AdamW, {adamw});
  takesBf16(KernelId::AdamW); // a bf16 working copy is written as it is
}
