//===- Elementwise.cu - add, fills, residual update, mask rows -----------===//
//
// Native CUDA twins of the CPU kernels of the same names (float32); the CPU
// files hold the formulas. Grid-stride loops over elements.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"
#include "Storage.cuh"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {

__global__ void addKernel(const float *a, const float *b, float *y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = a[i] + b[i];
}

// acc = (first ? 0 : acc) + scale · g, product and sum rounded separately
// (__fmul_rn, __fadd_rn: no contraction into an FMA), as on the CPU.
__global__ void accumulateKernel(float *acc, const float *g, const float *scale, const int64_t *first,
                                 int64_t n) {
  const float s = *scale;
  const bool fresh = *first != 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float scaled = __fmul_rn(s, g[i]);
    acc[i] = fresh ? scaled : __fadd_rn(acc[i], scaled);
  }
}

__global__ void fillKernel(float *y, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = value;
}

// y = x + u · layer ⊙ hidden (absent masks are ones); float32 or bf16 storage.
template <class T>
__global__ void residualKernel(const T *x, const T *u, const float *layer, const float *hidden, T *y, int64_t n,
                               int64_t D) {
  float l = layer ? layer[0] : 1.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store(y, i, load(x, i) + load(u, i) * l * (hidden ? hidden[i % D] : 1.0f));
}

__global__ void maskRowKernel(const float *mask, float *row, int64_t index, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    row[i] = mask[index * n + i];
}

const float *opt(const Tensor *t) { return t ? t->f32() : nullptr; }

Status add(ExecContext &c, const KernelParams &, KernelIO &io) {
  int64_t n = io.output(0).numel();
  addKernel<<<blocksFor(n), 256, 0, cudaContext(c).stream>>>(io.input(0).f32(), io.input(1).f32(),
                                                            io.output(0).f32(), n);
  return launched("add");
}

Status accumulate(ExecContext &c, const KernelParams &, KernelIO &io) {
  int64_t n = io.output(0).numel();
  accumulateKernel<<<blocksFor(n), 256, 0, cudaContext(c).stream>>>(
      io.output(0).f32(), io.input(1).f32(), io.input(2).f32(), io.input(3).i64(), n);
  return launched("accumulate");
}

Status scalar(ExecContext &c, const KernelParams &params, KernelIO &io) {
  fillKernel<<<1, 32, 0, cudaContext(c).stream>>>(
      io.output(0).f32(), static_cast<float>(std::get<ScalarParams>(params).value), 1);
  return launched("scalar");
}

Status zerosLike(ExecContext &c, const KernelParams &, KernelIO &io) {
  Tensor &y = io.output(0);
  return cudaCheck(cudaMemsetAsync(y.data(), 0, y.bytes(), cudaContext(c).stream), "zeros_like");
}

Status residualAdd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  const Tensor &x = io.input(0);
  int64_t n = x.numel(), D = x.dim(-1);
  Storage s = storageOf({&x, &io.input(1), &io.output(0)}, {io.optional(2), io.optional(3)});
  if (s == Storage::Other)
    return runInFloat32(KernelId::ResidualAdd, residualAdd, c, params, io);
  cudaStream_t stream = cudaContext(c).stream;
  if (s == Storage::BF16)
    residualKernel<__nv_bfloat16><<<blocksFor(n), 256, 0, stream>>>(
        static_cast<const __nv_bfloat16 *>(x.data()), static_cast<const __nv_bfloat16 *>(io.input(1).data()),
        opt(io.optional(2)), opt(io.optional(3)), static_cast<__nv_bfloat16 *>(io.output(0).data()), n, D);
  else
    residualKernel<float><<<blocksFor(n), 256, 0, stream>>>(x.f32(), io.input(1).f32(), opt(io.optional(2)),
                                                            opt(io.optional(3)), io.output(0).f32(), n, D);
  return launched("residual_add");
}

Status maskRow(ExecContext &c, const KernelParams &params, KernelIO &io) {
  Tensor &row = io.output(0);
  const Tensor &m = io.input(0);
  int64_t n = row.numel(), index = std::get<IndexParams>(params).index;
  if (index < 0 || index >= m.dim(0))
    return invalidInput("mask_row: row " + std::to_string(index) + " of a mask with " +
                        std::to_string(m.dim(0)) + " rows");
  maskRowKernel<<<blocksFor(n), 256, 0, cudaContext(c).stream>>>(
      m.f32(), row.f32(), index, n);
  return launched("mask_row");
}

// mask_row.bwd(mask, row, drow) {index} -> dmask: drow at row `index`, 0 elsewhere.
Status maskRowBwd(ExecContext &c, const KernelParams &params, KernelIO &io) {
  CudaContext &ctx = cudaContext(c);
  const Tensor &m = io.input(0), &drow = io.input(2);
  Tensor &dm = io.output(0);
  int64_t index = std::get<IndexParams>(params).index, n = m.rank() == 1 ? 1 : m.dim(1);
  if (index < 0 || index >= m.dim(0))
    return invalidInput("mask_row.bwd: row " + std::to_string(index) + " of a mask with " +
                        std::to_string(m.dim(0)) + " rows");
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemsetAsync(dm.data(), 0, dm.bytes(), ctx.stream), "mask_row.bwd"));
  return cudaCheck(cudaMemcpyAsync(dm.f32() + index * n, drow.f32(), n * sizeof(float),
                                   cudaMemcpyDeviceToDevice, ctx.stream),
                   "mask_row.bwd");
}

} // namespace

void shear::rt::cuda::registerElementwise(const Define &define) {
  define(KernelId::Add, {add});
  define(KernelId::Scalar, {scalar});
  define(KernelId::ZerosLike, {zerosLike});
  define(KernelId::Accumulate, {accumulate});
  define(KernelId::ResidualAdd, {residualAdd});
  takesBf16(KernelId::ResidualAdd);
  define(KernelId::MaskRow, {maskRow});
  define(KernelId::MaskRowBwd, {maskRowBwd});
}
