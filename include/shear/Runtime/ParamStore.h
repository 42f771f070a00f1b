//===- ParamStore.h - the tensors programs read through weight references -===//
//
// Keyed by weight name (a program names every weight once). A tensor is
// loaded on first use from its safetensors file, converted to the dtype the
// program holds it in (float32 master weights; bf16 for weights a bf16
// program only reads) and placed in the backend's memory; zero_init state (AdamW moments,
// Lagrange multipliers) starts as zeros. Training updates the tensors in
// place (or replaces them with set); checkpoints write them out and a resumed
// run puts a checkpoint's tensors back before the first step. A working
// copy ("work:P") is derived from its master P when first read, and again
// after P is put anew (a checkpoint restored); a step rewrites both.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_PARAMSTORE_H
#define SHEAR_RUNTIME_PARAMSTORE_H

#include "shear/Runtime/Backend.h"
#include "shear/Support/Program.h"
#include "shear/Support/Safetensors.h"

#include <map>
#include <optional>

namespace shear::rt {

class ParamStore {
public:
  explicit ParamStore(Backend &backend) : backend_(backend) {}

  /// The tensor for `ref` (files resolve against `baseDir`). A file tensor of
  /// another shape or a non-float dtype is an error naming the file, the
  /// tensor and both shapes: the weights do not belong to the program.
  Result<Tensor> get(const ProgramWeight &ref, const std::string &baseDir);
  /// Holds `value` (host float32) under `name` in `dtype` (default: the
  /// dtype of the tensor held under that name, else float32), in the
  /// backend's memory (in host memory when `hostPlaced`: ProgramWeight::host).
  /// Working copies of `name` held so far are dropped (derived again when read).
  Status put(const std::string &name, const Tensor &hostValue,
             std::optional<DType> dtype = std::nullopt, bool hostPlaced = false);
  /// Holds `value`, already in the backend's memory (a step's result).
  void set(const std::string &name, Tensor value) { held_[name] = std::move(value); }
  const Tensor *find(const std::string &name) const;
  const std::map<std::string, Tensor> &tensors() const { return held_; }
  Backend &backend() { return backend_; }

private:
  Backend &backend_;
  WeightStore files_;
  std::map<std::string, Tensor> held_;
  std::map<std::string, std::vector<std::string>> workingCopies_; // master -> its copies
};

/// Checks, without reading tensor data, that every file weight of `program`
/// exists with its name, a float dtype and its shape.
Status validateProgramWeights(const ProgramFile &program);

} // namespace shear::rt

#endif
