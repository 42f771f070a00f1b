//===- Executor.h - runs a lowered program --------------------------------===//
//
// A lowered function is a straight line of shear.weight, shear.kernel and
// func.return. compile() resolves every kernel once and computes when each
// value dies; run() executes, freeing values after their last use.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_EXECUTOR_H
#define SHEAR_RUNTIME_EXECUTOR_H

#include "shear/Runtime/Kernels.h"
#include "shear/Target/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <map>

namespace shear::rt {

/// Weights referenced by programs, loaded once and converted to float32.
class WeightCache {
public:
  /// The tensor, which must have `shape` (else: an error naming the file,
  /// the tensor, and both shapes: a checkpoint that does not belong).
  llvm::Expected<Tensor> get(const std::string &file, const std::string &name,
                             llvm::ArrayRef<int64_t> shape);

private:
  WeightStore store_;
  std::map<std::string, Tensor> cache_;
};

class Program {
public:
  static mlir::FailureOr<Program> compile(mlir::func::FuncOp fn, const KernelRegistry &registry,
                                          llvm::StringRef moduleDir);
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> inputs,
                                          WeightCache &weights) const;

private:
  struct Instr {
    enum Kind { Weight, Kernel, Return } kind;
    std::string name, file;           // Weight: tensor and file; Kernel: callee
    std::vector<int64_t> shape;       // Weight
    const KernelFn *fn = nullptr;     // Kernel
    KernelAttrs attrs;                // Kernel
    std::vector<int> args, results;   // value slots
    std::vector<int> dead;            // slots whose last use is this instruction
  };
  std::vector<Instr> instrs_;
  int numArgs_ = 0, numSlots_ = 0;
};

} // namespace shear::rt

#endif
