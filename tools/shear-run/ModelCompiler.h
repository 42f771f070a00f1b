//===- ModelCompiler.h - how shear-run turns a module into a program ------===//
//
// shear-run runs program files. Given a model module instead, the full build
// compiles it in-process with shear's pass pipelines (CompileModel.cpp); the
// runtime-only build (SHEAR_BUILD_COMPILER=OFF, for machines without
// LLVM/MLIR) says how to compile it elsewhere (NoCompiler.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TOOLS_SHEAR_RUN_MODELCOMPILER_H
#define SHEAR_TOOLS_SHEAR_RUN_MODELCOMPILER_H

#include "shear/Support/Program.h"

namespace shear {

struct CompileRequest {
  std::string mode;                  // eval, prune, train, generate, gradients
  std::string gradientsOf = "prune"; // gradients: the step of prune or train
  std::string evalMasks = "expected";
  uint64_t seed = 1;
  int64_t steps = 0;              // recorded; with targetWarmup gives the warm-up steps
  double targetWarmup = 0.2;      // fraction of steps
  int64_t targetWarmupSteps = 0;
  double maxNorm = 1.0;
  std::string distillFrom;          // teacher module (empty: no distillation)
  double distillTemperature = 1.0, distillAlpha = 0.5;
  int64_t lossChunk = 0; // rows per chunk of the fused loss (0: automatic)
  bool fuseKernels = true;
  std::string recompute; // kernels recomputed in the backward (empty: none)
  std::string precision = "f32"; // f32 or bf16 storage
  std::string offload;           // "optimizer": AdamW's moments in host memory
};

/// Whether this shear-run can compile modules.
bool hasCompiler();
/// The program for the module at `path`.
Result<ProgramFile> compileModule(const std::string &path, const CompileRequest &request);

/// Writes `output` (a module, its gates beside it as
/// <stem>.gates.safetensors): the masked module at `masked` with its gates
/// started at the sub-structure the activation scores at `scores` choose
/// (--select-structure=method=activation write=gates).
Status startGatesFromScores(const std::string &masked, const std::string &scores,
                            const std::string &output);

} // namespace shear

#endif
