//===- Precision.cpp - bf16 storage on the CPU: cast and the float32 adapter ===//
//
// A bf16 program (compiled with --precision bf16) holds weights and
// activations in bf16 and computes in float32. The CPU kernels are written
// for float32, so every CPU kernel is registered behind an adapter: a call
// whose float tensors are all float32 goes straight to the kernel; any other
// call runs the kernel on float32 copies of its operands and rounds each
// result to its declared type (round to nearest even). Rounding thus happens
// exactly where a value is stored, as on a GPU with bf16 storage and float32
// accumulation, which makes this the reference the CUDA backend's bf16
// kernels are checked against (docs/cuda.md).
//
//===----------------------------------------------------------------------===//
#include "CpuBackend.h"

#include <cstring>

using namespace shear;
using namespace shear::rt;
using namespace shear::rt::cpu;

namespace {

// cast(x) -> y: x converted to y's element type.
Status cast(ExecContext &, const KernelParams &, KernelIO &io) {
  const Tensor &x = io.input(0);
  Tensor &y = io.output(0);
  if (x.dtype() == y.dtype()) {
    if (!y.sameStorage(x))
      std::memcpy(y.data(), x.data(), x.bytes());
    return Status();
  }
  if (!isFloatDType(x.dtype()) || !isFloatDType(y.dtype()))
    return internalError(std::string("cast from ") + dtypeName(x.dtype()) + " to " +
                         dtypeName(y.dtype()) + ": only float types convert");
  size_t n = static_cast<size_t>(x.numel());
  if (x.dtype() == DType::F32) {
    convertFromF32(y.dtype(), x.f32(), n, static_cast<uint8_t *>(y.data()));
  } else if (y.dtype() == DType::F32) {
    convertToF32(x.dtype(), static_cast<const uint8_t *>(x.data()), n, y.f32());
  } else {
    std::vector<float> f(n);
    convertToF32(x.dtype(), static_cast<const uint8_t *>(x.data()), n, f.data());
    convertFromF32(y.dtype(), f.data(), n, static_cast<uint8_t *>(y.data()));
  }
  return Status();
}

bool needsFloat32Copy(const Tensor *t) {
  return t && t->defined() && isFloatDType(t->dtype()) && t->dtype() != DType::F32;
}

/// A float32 host tensor of `t`'s shape, holding `t`'s values when `copy`.
Result<Tensor> float32Of(const Tensor &t, bool copy) {
  auto f = Tensor::allocate(hostAllocator(), t.shape(), DType::F32);
  if (!f.ok())
    return f.status();
  if (copy)
    convertToF32(t.dtype(), static_cast<const uint8_t *>(t.data()), static_cast<size_t>(t.numel()),
                 f->f32());
  return f;
}

} // namespace

Status shear::rt::cpu::runInFloat32(KernelId id, KernelFn kernel, ExecContext &context,
                                    const KernelParams &params, KernelIO &io) {
  bool convert = false;
  for (const Tensor *t : io.in)
    convert |= needsFloat32Copy(t);
  for (const Tensor *t : io.out)
    convert |= needsFloat32Copy(t);
  if (!convert)
    return kernel(context, params, io);
  const KernelDecl &decl = kernelDecl(id);
  std::vector<Tensor> in(io.in.size()), out(io.out.size());
  KernelIO f32 = io;
  for (size_t i = 0; i < io.in.size(); ++i)
    if (needsFloat32Copy(io.in[i])) {
      auto f = float32Of(*io.in[i], true);
      if (!f.ok())
        return f.status();
      in[i] = f.take();
      f32.in[i] = &in[i];
    }
  for (size_t r = 0; r < io.out.size(); ++r) {
    if (!needsFloat32Copy(io.out[r]))
      continue;
    // A result that updates an operand in place starts from its contents.
    bool updates = r < decl.results.size() && decl.results[r].updates >= 0;
    auto f = float32Of(*io.out[r], updates);
    if (!f.ok())
      return f.status();
    out[r] = f.take();
    f32.out[r] = &out[r];
  }
  SHEAR_RETURN_IF_ERROR(kernel(context, params, f32));
  for (size_t r = 0; r < io.out.size(); ++r)
    if (out[r].defined())
      convertFromF32(io.out[r]->dtype(), out[r].f32(), static_cast<size_t>(out[r].numel()),
                     static_cast<uint8_t *>(io.out[r]->data()));
  return Status();
}

void shear::rt::cpu::registerPrecision(const Define &define) {
  define(KernelId::Cast, {cast});
}
