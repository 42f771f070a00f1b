//===- CompileModel.cpp - shear-run compiles modules in-process -----------===//
#include "ModelCompiler.h"

#include "shear/Dialect/ShearDialect.h"
#include "shear/Pipelines/CompileProgram.h"
#include "shear/Support/Files.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/SourceMgr.h"

using namespace shear;

bool shear::hasCompiler() { return true; }

Result<ProgramFile> shear::compileModule(const std::string &path, const CompileRequest &r) {
  mlir::MLIRContext context;
  context.printOpOnDiagnostic(false); // one-line errors, not the op they concern
  context.loadDialect<ShearDialect, mlir::func::FuncDialect>();
  llvm::SourceMgr sources;
  mlir::SourceMgrDiagnosticHandler handler(sources, &context);
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return fileError(path, "cannot read: " + buffer.getError().message());
  sources.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceFile<mlir::ModuleOp>(sources, &context);
  if (!module)
    return fileError(path, "not a valid shear module (see the diagnostics above)");
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
  auto program = compileProgram(*module, parentDirectory(absolutePath(path, ".")), path, o);
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
