//===- ParamStore.cpp - the tensors programs read -------------------------===//
#include "shear/Runtime/ParamStore.h"

#include "shear/Support/Files.h"

#include <cmath>
#include <cstring>

using namespace shear;
using namespace shear::rt;

namespace {
Status mismatch(const std::string &file, const std::string &name, const TensorInfo &info,
                const std::vector<int64_t> &shape) {
  return fileError(file, "tensor '" + name + "' is " + dtypeName(info.dtype) + " " +
                             shapeToString(info.shape) + " but the model expects " +
                             shapeToString(shape) + " (the weights do not belong to this model)");
}
} // namespace

const Tensor *ParamStore::find(const std::string &name) const {
  auto it = held_.find(name);
  return it == held_.end() ? nullptr : &it->second;
}

Result<Tensor> ParamStore::get(const ProgramWeight &ref, const std::string &baseDir) {
  auto it = held_.find(ref.name);
  if (it != held_.end()) {
    if (it->second.shape() != ref.shape)
      return invalidInput("weight '" + ref.name + "' is held with shape " +
                          it->second.shapeString() + " but the program expects " +
                          shapeToString(ref.shape) + " (a checkpoint of another model?)");
    return it->second;
  }
  if (std::string master = workingCopyOf(ref.name); !master.empty()) {
    // The master rounded on the host (round to nearest even, as `cast`).
    auto found = held_.find(master);
    if (found == held_.end())
      return internalError("working copy '" + ref.name + "' is read before its master weight");
    if (found->second.shape() != ref.shape)
      return internalError("working copy '" + ref.name + "' has another shape than its master");
    auto host = backend_.toHost(found->second);
    if (!host.ok())
      return host.status();
    Tensor value = *host;
    if (value.dtype() != DType::F32) {
      auto f = Tensor::allocate(hostAllocator(), value.shape(), DType::F32);
      if (!f.ok())
        return f.status();
      convertToF32(value.dtype(), static_cast<const uint8_t *>(value.data()),
                   static_cast<size_t>(value.numel()), f->f32());
      value = f.take();
    }
    SHEAR_RETURN_IF_ERROR(put(ref.name, value, ref.dtype));
    workingCopies_[master].push_back(ref.name);
    return held_[ref.name];
  }
  bool onHost = ref.host && backend_.device().kind != DeviceKind::Cpu;
  Allocator &allocator = onHost ? hostPlacementAllocator() : backend_.allocator();
  std::string file = ref.file.empty() ? "" : absolutePath(ref.file, baseDir);
  bool fromFile = !ref.zeroInit;
  if (ref.zeroInit && !file.empty() && pathExists(file)) {
    auto f = files_.file(file);
    if (!f.ok())
      return f.status();
    fromFile = (*f)->find(ref.tensorName()) != nullptr;
  }
  if (!fromFile) {
    auto t = Tensor::allocate(allocator, ref.shape, ref.dtype);
    if (!t.ok())
      return t.status();
    if (onHost)
      std::memset(t->data(), 0, t->bytes());
    else
      SHEAR_RETURN_IF_ERROR(backend_.zero(*t));
    held_[ref.name] = *t;
    return t;
  }
  auto found = files_.tensor(file, ref.tensorName());
  if (!found.ok())
    return found.status();
  auto [f, info] = *found;
  if (!isFloatDType(info->dtype) || info->shape != ref.shape)
    return mismatch(file, ref.tensorName(), *info, ref.shape);
  // Converted to float32 on the host, then placed for the backend.
  auto t = Tensor::allocate(hostAllocator(), ref.shape, DType::F32);
  if (!t.ok())
    return t.status();
  convertToF32(info->dtype, f->data(*info), static_cast<size_t>(t->numel()), t->f32());
  f->release(*info);
  for (int64_t i = 0; i < t->numel(); ++i)
    if (!std::isfinite(t->f32()[i]))
      return fileError(file, "tensor '" + ref.tensorName() + "' holds a non-finite value at element " +
                                 std::to_string(i) + " (non-finite weights are refused)");
  SHEAR_RETURN_IF_ERROR(put(ref.name, *t, ref.dtype, ref.host));
  return held_[ref.name];
}

Status ParamStore::put(const std::string &name, const Tensor &host, std::optional<DType> dtype,
                       bool hostPlaced) {
  if (auto copies = workingCopies_.find(name); copies != workingCopies_.end()) {
    for (const std::string &copy : copies->second)
      held_.erase(copy);
    workingCopies_.erase(copies);
  }
  if (!dtype) {
    auto it = held_.find(name);
    dtype = it != held_.end() ? it->second.dtype() : host.dtype();
  }
  Tensor value = host;
  if (*dtype != host.dtype()) {
    // Converted on the host (a bf16 working copy of float32 values, say).
    if (host.dtype() != DType::F32 || !isFloatDType(*dtype))
      return internalError("weight '" + name + "': cannot hold " + dtypeName(host.dtype()) +
                           " values as " + dtypeName(*dtype));
    auto converted = Tensor::allocate(hostAllocator(), host.shape(), *dtype);
    if (!converted.ok())
      return converted.status();
    convertFromF32(*dtype, host.f32(), static_cast<size_t>(host.numel()),
                   static_cast<uint8_t *>(converted->data()));
    value = converted.take();
  }
  if (backend_.device().kind == DeviceKind::Cpu) {
    held_[name] = value;
    return Status();
  }
  if (hostPlaced) { // kept in host memory, in a buffer marked as placed there
    auto t = Tensor::allocate(hostPlacementAllocator(), value.shape(), value.dtype());
    if (!t.ok())
      return t.status();
    std::memcpy(t->data(), value.data(), value.bytes());
    held_[name] = *t;
    return Status();
  }
  auto t = Tensor::allocate(backend_.allocator(), value.shape(), value.dtype());
  if (!t.ok())
    return t.status();
  SHEAR_RETURN_IF_ERROR(backend_.copy(*t, value));
  held_[name] = *t;
  return Status();
}

Status shear::rt::validateProgramWeights(const ProgramFile &program) {
  WeightStore files;
  for (const ProgramWeight &w : program.weights) {
    if (w.zeroInit)
      continue;
    std::string file = absolutePath(w.file, program.baseDir);
    auto found = files.tensor(file, w.tensorName());
    if (!found.ok())
      return found.status();
    const TensorInfo &info = *found->second;
    if (!isFloatDType(info.dtype) || info.shape != w.shape)
      return mismatch(file, w.tensorName(), info, w.shape);
  }
  return Status();
}
