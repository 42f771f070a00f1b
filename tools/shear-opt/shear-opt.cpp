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

#include <cstdio>
#include <unistd.h>

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
  // The module is written to a temporary file and renamed into place on
  // success, so a failed run never destroys an existing output.
  std::string written = output;
  if (output != "-")
    written = output + ".tmp." + std::to_string(::getpid());
  bool ok = mlir::succeeded(mlir::MlirOptMain(argc, argv, input, written, registry));
  if (output == "-")
    return ok ? 0 : 2;
  if (ok && std::rename(written.c_str(), output.c_str()) == 0)
    return 0;
  std::remove(written.c_str());
  return 2;
}
