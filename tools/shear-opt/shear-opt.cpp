//===- shear-opt.cpp - run shear's passes on a model module ---------------===//
//
//   shear-opt MODEL.mlir --insert-masks --target-shape=2.7b -o masked.mlir
//   shear-opt MASKED.mlir --finalize-masks --materialize-shapes -o compact.mlir
//
// Passes that create weight files put them beside the output module. Exit
// codes: 0 success, 2 bad input (with a diagnostic naming what is wrong).
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearDialect.h"
#include "shear/Target/ArtifactPaths.h"
#include "shear/Transforms/Passes.h"
#include "shear/Transforms/TargetShape.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Path.h"

static llvm::cl::opt<std::string, /*ExternalStorage=*/true> targetShapeOption(
    "target-shape",
    llvm::cl::desc("target shape for --insert-masks: a preset or "
                   "layers=L,heads=H,kv-heads=G,hidden=D,intermediate=M"),
    llvm::cl::location(shear::toolTargetShape()));

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<shear::ShearDialect, mlir::func::FuncDialect>();
  shear::registerShearPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();

  auto [input, output] = mlir::registerAndParseCLIOptions(
      argc, argv, "shear-opt: shear's passes (presets for --target-shape: " +
                      shear::targetShapePresets() + ")\n",
      registry);
  shear::artifactPaths().moduleDir =
      input == "-" ? "." : llvm::sys::path::parent_path(input).str();
  if (shear::artifactPaths().moduleDir.empty())
    shear::artifactPaths().moduleDir = ".";
  shear::artifactPaths().outputPath = output;
  if (mlir::failed(mlir::MlirOptMain(argc, argv, input, output, registry)))
    return 2;
  return 0;
}
