//===- CompileProgram.h - a model module to a program file ----------------===//
//
// The compiler's last step: run the pass pipeline a command needs on the
// model (build-train-step, lower-to-runtime, differentiate, build-optimizer;
// build-eval-step; build-decode-step) and translate the lowered functions
// into a ProgramFile, which the runtime executes without the compiler.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_PIPELINES_COMPILEPROGRAM_H
#define SHEAR_PIPELINES_COMPILEPROGRAM_H

#include "shear/Support/Program.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

namespace shear {

struct CompileOptions {
  /// eval (forward, eval_loss), prune or train (train_step, eval_loss,
  /// source_eval_loss), generate (decode), gradients (train_step without the
  /// optimizer), importance (activation statistics of a calibration batch).
  std::string mode = "eval";
  std::string gradientsOf = "prune"; // gradients: the step of prune or train
  uint64_t seed = 1;                 // gate noise
  int64_t targetWarmupSteps = 0;     // target sparsity warm-up
  double maxNorm = 1.0;              // gradient clipping
  std::string evalMasks = "expected"; // masked models in eval mode: expected, target, none
  // Knowledge distillation in training steps (empty: none).
  std::string distillFrom;
  double distillTemperature = 1.0, distillAlpha = 0.5;
  // Rows of logits per chunk of the fused lm_head + cross_entropy (0: the
  // backend's choice; testing sets it small).
  int64_t lossChunk = 0;
  bool fuseKernels = true; // off: the unfused kernels (benchmarks compare)
  // Training steps: kernels whose saved activations are recomputed in the
  // backward pass (attention, mlp, comma-separated; empty: none).
  std::string recompute;
  // The storage type of weights and activations: f32, or bf16 (float32
  // master weights, gradients and statistics; docs/precision.md).
  std::string precision = "f32";
  // Training steps: what is held in host memory instead of the device's
  // ("optimizer": AdamW's moments; empty: nothing).
  std::string offload;
};

/// Compiles `module` (a model: @forward), whose relative weight files resolve
/// against `moduleDir`. Pass diagnostics go to MLIR's handler; the error
/// names `sourcePath`.
llvm::Expected<ProgramFile> compileProgram(mlir::ModuleOp module, llvm::StringRef moduleDir,
                                           llvm::StringRef sourcePath,
                                           const CompileOptions &options);

/// Translates the lowered function `fn` into `program` under the name `as`,
/// adding the weights it reads.
llvm::Error emitProgramFunction(mlir::func::FuncOp fn, llvm::StringRef moduleDir,
                                ProgramFile &program, llvm::StringRef as);

} // namespace shear

#endif
