//===- InputChecks.cu - kernels' input checks, read without a sync --------===//
//
// embed, embed.bwd and the losses check their token ids and labels on the
// device. Reading the result at once would synchronise after every such
// kernel; instead each check has a slot, the value it found is copied
// beside it while the tensor still holds it, and the slots are read at the
// next copy to the host, which synchronises anyway (the step's metrics).
// A bad value is still refused before anything reads a result, with the
// CPU kernel's words and exit code 2.
//
//===----------------------------------------------------------------------===//
#include "CudaBackend.h"

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cuda;

namespace {
__global__ void keepValueKernel(const unsigned long long *slot, const int64_t *values, int64_t *value) {
  if (*slot != ~0ull)
    *value = values[*slot];
}
} // namespace

Result<unsigned long long *> shear::rt::cuda::checkSlot(CudaContext &ctx, int64_t V, const char *what,
                                                        const char *kernel) {
  if (ctx.pendingChecks.size() == kCheckSlots)
    SHEAR_RETURN_IF_ERROR(flushChecks(ctx));
  unsigned long long *slot = ctx.checkSlots + ctx.pendingChecks.size();
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaMemsetAsync(slot, 0xff, sizeof(*slot), ctx.stream), kernel));
  ctx.pendingChecks.push_back({V, what, kernel});
  return slot;
}

Status shear::rt::cuda::keepCheckedValue(CudaContext &ctx, const Tensor &values) {
  size_t i = ctx.pendingChecks.size() - 1;
  keepValueKernel<<<1, 1, 0, ctx.stream>>>(ctx.checkSlots + i, values.i64(), ctx.checkValues + i);
  return launched(ctx.pendingChecks[i].kernel);
}

Status shear::rt::cuda::flushChecks(CudaContext &ctx) {
  if (ctx.pendingChecks.empty())
    return Status();
  std::vector<CudaContext::PendingCheck> pending;
  pending.swap(ctx.pendingChecks);
  unsigned long long first[kCheckSlots];
  int64_t value[kCheckSlots];
  size_t n = pending.size();
  SHEAR_RETURN_IF_ERROR(cudaCheck(
      cudaMemcpyAsync(first, ctx.checkSlots, n * sizeof(first[0]), cudaMemcpyDeviceToHost, ctx.stream),
      pending[0].kernel));
  SHEAR_RETURN_IF_ERROR(cudaCheck(
      cudaMemcpyAsync(value, ctx.checkValues, n * sizeof(value[0]), cudaMemcpyDeviceToHost, ctx.stream),
      pending[0].kernel));
  SHEAR_RETURN_IF_ERROR(cudaCheck(cudaStreamSynchronize(ctx.stream), pending[0].kernel));
  for (size_t i = 0; i < n; ++i)
    if (first[i] != ~0ull)
      return invalidInput(std::string(pending[i].what) + " " + std::to_string(value[i]) + " at position " +
                          std::to_string(first[i]) + " is outside the vocabulary [0, " +
                          std::to_string(pending[i].V) + ") (found by '" + pending[i].kernel + "')");
  return Status();
}
