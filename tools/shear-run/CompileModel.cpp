//===- CompileModel.cpp - shear-run compiles modules in-process -----------===//
#include "ModelCompiler.h"

#include "shear/Dialect/ShearDialect.h"
#include "shear/Pipelines/CompileProgram.h"
#include "shear/Support/Files.h"
#include "shear/Support/Nesting.h"
#include "shear/Target/ArtifactPaths.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace shear;

bool shear::hasCompiler() { return true; }

namespace {
/// A module read for shear-run: diagnostics are one line each.
struct ModuleReader {
  mlir::MLIRContext context;
  llvm::SourceMgr sources;
  mlir::SourceMgrDiagnosticHandler handler{sources, &context};

  ModuleReader() {
    context.printOpOnDiagnostic(false); // one-line errors, not the op they concern
    context.loadDialect<ShearDialect, mlir::func::FuncDialect>();
  }
  Result<mlir::OwningOpRef<mlir::ModuleOp>> read(const std::string &path) {
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer)
      return fileError(path, "cannot read: " + buffer.getError().message());
    if (std::string deep = moduleNestingError((*buffer)->getBuffer(), path); !deep.empty())
      return invalidInput(deep);
    sources.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
    mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceFile<mlir::ModuleOp>(sources, &context);
    if (!module)
      return fileError(path, "not a valid shear module (see the diagnostics above)");
    return std::move(module);
  }
};
} // namespace

Result<ProgramFile> shear::compileModule(const std::string &path, const CompileRequest &r) {
  ModuleReader reader;
  auto module = reader.read(path);
  if (!module.ok())
    return module.status();
  CompileOptions o;
  o.mode = r.mode;
  o.gradientsOf = r.gradientsOf;
  o.evalMasks = r.evalMasks;
  o.seed = r.seed;
  o.targetWarmupSteps = r.targetWarmupSteps;
  o.maxNorm = r.maxNorm;
  o.distillFrom = r.distillFrom;
  o.distillTemperature = r.distillTemperature;
  o.distillAlpha = r.distillAlpha;
  o.lossChunk = r.lossChunk;
  o.fuseKernels = r.fuseKernels;
  o.recompute = r.recompute;
  o.precision = r.precision;
  o.offload = r.offload;
  auto program = compileProgram(**module, parentDirectory(absolutePath(path, ".")), path, o);
  if (!program) {
    std::string message = llvm::toString(program.takeError());
    return invalidInput(message);
  }
  if (r.mode == "prune" || r.mode == "train") {
    program->compiledWith["steps"] = r.steps;
    program->compiledWith["target_warmup"] = r.targetWarmup;
  }
  return std::move(*program);
}

Status shear::startGatesFromScores(const std::string &masked, const std::string &scores,
                                   const std::string &output) {
  ModuleReader reader;
  auto module = reader.read(masked);
  if (!module.ok())
    return module.status();
  if (llvm::Error e = configureArtifactPaths(masked, output))
    return invalidInput(llvm::toString(std::move(e)));
  SelectStructureOptions select;
  select.method = "activation";
  select.scores = absolutePath(scores, ".");
  select.write = "gates";
  mlir::PassManager pm(&reader.context);
  pm.addPass(createSelectStructure(select));
  if (mlir::failed(pm.run(**module)))
    return invalidInput(masked + ": the gates cannot start from " + scores + " (see above)");
  std::string text;
  llvm::raw_string_ostream os(text);
  (*module)->print(os);
  os << "\n";
  return writeFileAtomically(output, text);
}
