//===- Optimizer.cu - the global gradient norm and AdamW -------------------===//
//
// Twins of runtime/kernels/cpu/Optimizer.cpp, in the same double-precision
// arithmetic: the norm from per-block partial sums added in a fixed order,
// AdamW reading the norm, lr and step from device memory (no host sync) and
// writing the bf16 working copy from the updated float32 value. Both take
// many tensors per launch: a 7B model's 291 parameters cost 3 launches of
// the norm and 10 of AdamW, not 292 and 291.
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

// Multi-tensor launches: the tensors' addresses travel in the kernel's
// parameters (under the 4 KiB every CUDA version takes), so a step's
// hundreds of tensors cost a few launches, with no table to upload.
constexpr int kNormTensors = 160;

struct NormTable {
  const float *g[kNormTensors];
  int64_t n[kNormTensors];
  unsigned firstBlock[kNormTensors + 1]; // tensor t: blocks [firstBlock[t], firstBlock[t + 1])
  int count;
};

// Up to kPartials blocks per tensor (one per 256 elements: a norm's 5
// values take one), each summing a fixed stride of its tensor's squares
// into its own partial: the same sums, in the same order, at every call.
__global__ void sumSquaresKernel(const NormTable table, double *partials) {
  __shared__ double shared[kBlock / 32];
  int t = 0;
  while (t + 1 < table.count && blockIdx.x >= table.firstBlock[t + 1])
    ++t;
  const float *g = table.g[t];
  int64_t n = table.n[t];
  int64_t stride = int64_t(table.firstBlock[t + 1] - table.firstBlock[t]) * blockDim.x;
  double s = 0;
  for (int64_t i = (blockIdx.x - table.firstBlock[t]) * int64_t(blockDim.x) + threadIdx.x; i < n; i += stride)
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
  int64_t used = 0; // partials written
  for (size_t first = 0; first < io.in.size(); first += kNormTensors) {
    NormTable table{};
    table.count = static_cast<int>(std::min<size_t>(kNormTensors, io.in.size() - first));
    for (int t = 0; t < table.count; ++t) {
      table.g[t] = io.in[first + t]->f32();
      table.n[t] = io.in[first + t]->numel();
      int64_t blocks = std::min<int64_t>(kPartials, std::max<int64_t>(1, (table.n[t] + kBlock - 1) / kBlock));
      table.firstBlock[t + 1] = table.firstBlock[t] + static_cast<unsigned>(blocks);
    }
    sumSquaresKernel<<<table.firstBlock[table.count], kBlock, 0, ctx.stream>>>(table, partials + used);
    used += table.firstBlock[table.count];
  }
  normKernel<<<1, kBlock, 0, ctx.stream>>>(partials, used, io.output(0).f32());
  return launched("global_norm");
}

constexpr int kAdamWTensors = 32;

// W: the working copies' element type (float or __nv_bfloat16; null: none).
template <typename W> struct AdamWTable {
  const float *g[kAdamWTensors];
  float *p[kAdamWTensors], *m[kAdamWTensors], *v[kAdamWTensors];
  W *w[kAdamWTensors];
  const float *norm[kAdamWTensors], *lr[kAdamWTensors];
  const int64_t *step[kAdamWTensors];
  int64_t n[kAdamWTensors];
  unsigned firstBlock[kAdamWTensors + 1]; // tensor t: blocks [firstBlock[t], firstBlock[t + 1])
  int count;
};

// AdamW on up to kAdamWTensors tensors, each with its own blocks, norm, lr
// and step: element by element what one call per tensor computes.
template <typename W>
__global__ void adamwKernel(const AdamWTable<W> table, double b1, double b2, double eps, double wd,
                            double maxNorm, double clamp) {
  int t = 0;
  while (t + 1 < table.count && blockIdx.x >= table.firstBlock[t + 1])
    ++t;
  double norm = table.norm[t][0];
  const float *g = table.g[t];
  float *p = table.p[t], *m = table.m[t], *v = table.v[t];
  W *w = table.w[t];
  int64_t n = table.n[t];
  int64_t stride = int64_t(table.firstBlock[t + 1] - table.firstBlock[t]) * blockDim.x;
  int64_t first = (blockIdx.x - table.firstBlock[t]) * int64_t(blockDim.x) + threadIdx.x;
  if (!isfinite(norm)) { // non-finite gradients skip the step; w is written either way
    if (w)
      for (int64_t i = first; i < n; i += stride)
        store(w, i, p[i]);
    return;
  }
  double lr = table.lr[t][0];
  double step = double(table.step[t][0] + 1);
  double clip = maxNorm > 0 ? fmin(1.0, maxNorm / (norm + 1e-6)) : 1.0;
  double c1 = 1 - pow(b1, step), c2 = 1 - pow(b2, step);
  for (int64_t i = first; i < n; i += stride) {
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

Status checkAdamW(const KernelIO &io) {
  for (size_t i : {P, G, M, V})
    if (io.input(i).dtype() != DType::F32)
      return internalError("adamw: the parameter, its gradient and moments must be float32");
  return Status();
}

// The calls whose working copies (if any) are of type W, in launches of
// kAdamWTensors tensors.
template <typename W>
void launchAdamW(const AdamWParams &a, const std::vector<KernelIO *> &calls, cudaStream_t stream) {
  AdamWTable<W> table{};
  auto flush = [&] {
    if (table.count > 0)
      adamwKernel<<<table.firstBlock[table.count], kBlock, 0, stream>>>(table, a.beta1, a.beta2, a.eps,
                                                                          a.weightDecay, a.maxNorm, a.clamp);
    table = AdamWTable<W>{};
  };
  for (KernelIO *io : calls) {
    int t = table.count++;
    // The outputs hold p, m, v and the working copy (they update them in place).
    Tensor *w = io->optionalOutput(3);
    table.g[t] = io->input(G).f32();
    table.p[t] = io->output(0).f32();
    table.m[t] = io->output(1).f32();
    table.v[t] = io->output(2).f32();
    table.w[t] = w ? static_cast<W *>(w->data()) : nullptr;
    table.norm[t] = io->input(Norm).f32();
    table.lr[t] = io->input(LR).f32();
    table.step[t] = io->input(Step).i64();
    table.n[t] = io->input(G).numel();
    table.firstBlock[t + 1] = table.firstBlock[t] + blocksFor(table.n[t]);
    if (table.count == kAdamWTensors)
      flush();
  }
  flush();
}

// AdamW over all the calls' tensors in a few launches: those with a bf16
// working copy or none, then those with a float32 one.
Status adamwGroup(ExecContext &c, const KernelParams &params, const std::vector<KernelIO *> &calls) {
  std::vector<KernelIO *> bf16, f32;
  for (KernelIO *io : calls) {
    SHEAR_RETURN_IF_ERROR(checkAdamW(*io));
    Tensor *w = io->optionalOutput(3);
    (w && w->dtype() != DType::BF16 ? f32 : bf16).push_back(io);
  }
  const auto &a = std::get<AdamWParams>(params);
  cudaStream_t stream = cudaContext(c).stream;
  launchAdamW<__nv_bfloat16>(a, bf16, stream);
  launchAdamW<float>(a, f32, stream);
  return launched("adamw");
}

Status adamw(ExecContext &c, const KernelParams &params, KernelIO &io) {
  return adamwGroup(c, params, {&io});
}
} // namespace

void shear::rt::cuda::registerOptimizer(const Define &define) {
  define(KernelId::GlobalNorm, {globalNorm, globalNormWorkspace});
  define(KernelId::AdamW, {adamw, nullptr, adamwGroup});
  takesBf16(KernelId::AdamW); // a bf16 working copy is written as it is
}
