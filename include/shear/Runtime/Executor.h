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

/// The tensors programs read through shear.weight, keyed by (absolute file,
/// name): loaded once from their file and converted to float32, or zeros for
/// `zero_init` state the file does not hold yet; training updates replace
/// them (set) and checkpoints write them back out.
class ParamStore {
public:
  /// The tensor, which must have `shape` (else: an error naming the file,
  /// the tensor, and both shapes: a checkpoint that does not belong).
  llvm::Expected<Tensor> get(const std::string &file, const std::string &name,
                             llvm::ArrayRef<int64_t> shape, bool zeroInit = false);
  void set(const std::string &file, const std::string &name, Tensor value);
  /// Every tensor held, by file then name.
  const std::map<std::string, std::map<std::string, Tensor>> &tensors() const { return held_; }

private:
  WeightStore files_;
  std::map<std::string, std::map<std::string, Tensor>> held_;
};
using WeightCache = ParamStore;

class Program {
public:
  static mlir::FailureOr<Program> compile(mlir::func::FuncOp fn, const KernelRegistry &registry,
                                          llvm::StringRef moduleDir);
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> inputs,
                                          ParamStore &weights) const;

private:
  struct Instr {
    enum Kind { Weight, Kernel, Return } kind;
    std::string name, file;           // Weight: tensor and file; Kernel: callee
    bool zeroInit = false;            // Weight
    std::vector<int64_t> shape;       // Weight
    const KernelFn *fn = nullptr;     // Kernel
    KernelAttrs attrs;                // Kernel
    std::vector<int> args, results;   // value slots
    std::vector<int> dead;            // slots whose last use is this instruction
  };
  std::vector<Instr> instrs_;
  int numArgs_ = 0, numSlots_ = 0;
};

/// Parses a module file with the shear and func dialects; diagnostics go to
/// stderr, naming the file. Null on failure.
mlir::OwningOpRef<mlir::ModuleOp> parseModuleFile(mlir::MLIRContext &context,
                                                  const std::string &path);

/// `fn` compiled against the CPU kernels, weights relative to `moduleDir`.
mlir::FailureOr<Program> compileForCpu(mlir::func::FuncOp fn, llvm::StringRef moduleDir);

} // namespace shear::rt

#endif
