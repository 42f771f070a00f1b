//===- Gates.cu - hard-concrete samples and the Lagrangian (METHOD.md §2-3) ===//
//
// Twins of gate.sample(.bwd) in runtime/kernels/cpu/Gate.cpp and of
// lagrangian(.bwd) in runtime/kernels/cpu/Lagrangian.cpp. The gate noise is
// the same Philox stream on both backends (shear/Support/Philox.h is one
// function for both): a seed and a step give the same noise on the CPU and
// the GPU, and samples equal to rounding (the device's log and exp may
// differ from glibc's in the last bit; this file is compiled without fused
// multiply-adds, as the CPU computes). Sums over a row run in a fixed order (block sums), once per
// row in row order. gate.eval (top-k per row, once per evaluation) stays
// staged through the host.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Reduce.cuh"
#include "shear/Support/GateMath.h"
#include "shear/Support/Philox.h"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
constexpr double kGamma = gate::kGamma, kZeta = gate::kZeta, kBeta = gate::kBeta, kEps = gate::kEpsilon;

__device__ double clampLogAlpha(double la) {
  double limit = log(100.0);
  return la < -limit ? -limit : la > limit ? limit : la;
}
__device__ double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
__device__ double probNonZero(double la) { return sigmoid(clampLogAlpha(la) - kBeta * log(-kGamma / kZeta)); }

/// The stretched sample before its clamp to [0, 1]; `s` the sigmoid.
__device__ double stretched(double la, uint64_t seed, uint64_t step, uint32_t stream, int64_t i, double &s) {
  double u = philoxUniform(seed, step, stream, static_cast<uint64_t>(i));
  u = u < kEps ? kEps : u > 1.0 - kEps ? 1.0 - kEps : u;
  s = sigmoid((log(u) - log(1.0 - u) + clampLogAlpha(la)) / kBeta);
  return s * (kZeta - kGamma) + kGamma;
}

__global__ void sampleKernel(const float *la, const int64_t *step, uint64_t seed, uint32_t stream, float *z,
                             int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    double s, pre = stretched(la[i], seed, static_cast<uint64_t>(step[0]), stream, i, s);
    z[i] = static_cast<float>(pre < 0.0 ? 0.0 : pre > 1.0 ? 1.0 : pre);
  }
}

// The clamp of z passes no gradient where active; log_alpha's clamp is a
// projection, passed straight through (as on the CPU).
__global__ void sampleBwdKernel(const float *la, const int64_t *step, uint64_t seed, uint32_t stream,
                                const float *dz, float *dla, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    double s, pre = stretched(la[i], seed, static_cast<uint64_t>(step[0]), stream, i, s);
    bool inside = pre > 0.0 && pre < 1.0;
    dla[i] = inside ? static_cast<float>(dz[i] * (kZeta - kGamma) * s * (1.0 - s) / kBeta) : 0.0f;
  }
}

__device__ double targetAt(double target, int64_t warmup, int64_t step) {
  return warmup > 0 ? target * fmin(1.0, double(step) / double(warmup)) : target;
}

/// One block: per row r the expected sparsity ŝ_r = 1 − Σ_i P(z ≠ 0) / n
/// into sparsity[r], then term, mean and target (the forward) and, with
/// dla, the gradients.
__global__ void lagrangianKernel(const float *la, int64_t rows, int64_t n, const float *l1p, const float *l2p,
                                 const int64_t *step, double targetFinal, int64_t warmup, double *sparsity,
                                 float *term, float *mean, float *target, const float *dterm, float *dla,
                                 float *dl1, float *dl2) {
  __shared__ double shared[kBlock / 32];
  double l1 = l1p[0], l2 = l2p[0], t = targetAt(targetFinal, warmup, step[0]);
  double sumTerm = 0, sumS = 0, d1 = 0, d2 = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double p = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
      p += probNonZero(la[r * n + i]);
    p = blockSum(p, shared);
    double s = 1.0 - p / n, d = s - t;
    if (threadIdx.x == 0)
      sparsity[r] = s;
    sumTerm += l1 * d + l2 * d * d;
    sumS += s;
    d1 += d;
    d2 += d * d;
  }
  __syncthreads();
  if (!dla) {
    if (threadIdx.x == 0) {
      term[0] = static_cast<float>(sumTerm / rows);
      mean[0] = static_cast<float>(sumS / rows);
      target[0] = static_cast<float>(t);
    }
    return;
  }
  double g = dterm[0];
  for (int64_t e = threadIdx.x; e < rows * n; e += blockDim.x) {
    int64_t r = e / n;
    double dS = g * (l1 + 2 * l2 * (sparsity[r] - t)) / rows, p = probNonZero(la[e]);
    dla[e] = static_cast<float>(-dS * p * (1 - p) / n);
  }
  if (threadIdx.x == 0) {
    dl1[0] = static_cast<float>(g * d1 / rows);
    dl2[0] = static_cast<float>(g * d2 / rows);
  }
}

Status gateSample(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const auto &p = std::get<GateSampleParams>(params);
  int64_t n = io.input(0).numel();
  sampleKernel<<<blocksFor(n), 256, 0, cudaContext(c).stream>>>(io.input(0).f32(), io.input(1).i64(), p.seed,
                                                               p.stream, io.output(0).f32(), n);
  return launched("gate.sample");
}

// gate.sample.bwd(log_alpha, step, z, dz) -> dlog_alpha
Status gateSampleBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const auto &p = std::get<GateSampleParams>(params);
  int64_t n = io.input(0).numel();
  sampleBwdKernel<<<blocksFor(n), 256, 0, cudaContext(c).stream>>>(
      io.input(0).f32(), io.input(1).i64(), p.seed, p.stream, io.input(3).f32(), io.output(0).f32(), n);
  return launched("gate.sample.bwd");
}

size_t lagrangianWorkspace(const KernelParams &, const std::vector<const Shape *> &in) {
  const Shape &la = *in[0];
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < la.size(); ++i)
    rows *= la[i];
  return alignedBytes(static_cast<size_t>(rows) * sizeof(double));
}

// lagrangian(log_alpha, lambda1, lambda2, step) -> (term, expected sparsity, target)
Status lagrangian(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const auto &p = std::get<LagrangianParams>(params);
  const Tensor &la = io.input(0);
  int64_t n = la.dim(-1), rows = n ? la.numel() / n : 0;
  if (rows == 0)
    return internalError("lagrangian: an empty gate");
  lagrangianKernel<<<1, kBlock, 0, cudaContext(c).stream>>>(
      la.f32(), rows, n, io.input(1).f32(), io.input(2).f32(), io.input(3).i64(), p.targetSparsity, p.warmupSteps,
      static_cast<double *>(io.workspace), io.output(0).f32(), io.output(1).f32(), io.output(2).f32(), nullptr,
      nullptr, nullptr, nullptr);
  return launched("lagrangian");
}

// lagrangian.bwd(log_alpha, lambda1, lambda2, step, term, sparsity, target, dterm)
//   -> (dlog_alpha, dlambda1, dlambda2)
Status lagrangianBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const auto &p = std::get<LagrangianParams>(params);
  const Tensor &la = io.input(0);
  int64_t n = la.dim(-1), rows = n ? la.numel() / n : 0;
  if (rows == 0)
    return internalError("lagrangian.bwd: an empty gate");
  lagrangianKernel<<<1, kBlock, 0, cudaContext(c).stream>>>(
      la.f32(), rows, n, io.input(1).f32(), io.input(2).f32(), io.input(3).i64(), p.targetSparsity, p.warmupSteps,
      static_cast<double *>(io.workspace), nullptr, nullptr, nullptr, io.input(7).f32(), io.output(0).f32(),
      io.output(1).f32(), io.output(2).f32());
  return launched("lagrangian.bwd");
}

} // namespace

void shear::rt::cuda::registerGates(const Define &define) {
  define(KernelId::GateSample, {gateSample});
  define(KernelId::GateSampleBwd, {gateSampleBwd});
  define(KernelId::Lagrangian, {lagrangian, lagrangianWorkspace});
  define(KernelId::LagrangianBwd, {lagrangianBwd, lagrangianWorkspace});
}
