//===- shear-opt.cpp - run shear's passes on a model module ---------------===//
//
//   shear-opt --insert-masks --target-shape=2.7b MODEL.mlir > masked/masked.mlir
//   shear-opt MASKED.mlir --finalize-masks --materialize-shapes -o compact/compact.mlir
//
// Passes that create weight files put them beside the output module: the -o
// file, or the file stdout is redirected to; through a pipe, beside the input
// (named by absolute path in the printed module). Exit codes: 0 success,
// 2 bad input (with a diagnostic naming what is wrong).
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearDialect.h"
#include "shear/Target/ArtifactPaths.h"
#include "shear/Transforms/Passes.h"
#include "shear/Transforms/TargetShape.h"
#include "shear/Support/Nesting.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

static llvm::cl::opt<std::string, /*ExternalStorage=*/true> targetShapeOption(
    "target-shape",
    llvm::cl::desc("target shape for --insert-masks: a preset or "
                   "layers=L,heads=H,kv-heads=G,hidden=D,intermediate=M"),
    llvm::cl::location(shear::toolTargetShape()));

/// shear-opt's own help: its passes with their options and the few options
/// a user needs (MlirOptMain's --help lists hundreds of LLVM's internals,
/// which --help-hidden still shows).
static void printHelp() {
  std::printf("shear-opt: run shear's passes on a model module\n\n"
              "usage: shear-opt MODEL.mlir --PASS[=OPTIONS] ... [-o OUTPUT.mlir]\n\n"
              "options:\n"
              "  -o OUTPUT.mlir        the module to write (default: stdout); passes that write\n"
              "                        tensors put them beside it as OUTPUT.<kind>.safetensors,\n"
              "                        or beside the file stdout is redirected to; through a\n"
              "                        pipe, beside the input, named by absolute path\n"
              "  --target-shape=SPEC   target of --insert-masks: a preset (%s) or\n"
              "                        any of layers=L,heads=H,kv-heads=G,hidden=D,intermediate=M\n"
              "                        (unnamed dimensions keep the source's size)\n"
              "  --split-input-file, --verify-diagnostics   testing, as in mlir-opt\n"
              "  --mlir-print-op-generic, --mlir-print-debuginfo   printing, as in mlir-opt\n"
              "  --mlir-print-op-on-diagnostic   print the op an error concerns (off: one-line errors)\n"
              "  --help-hidden         every option of MLIR and LLVM as well\n\n"
              "passes (in the order given; options as --PASS=\"opt=value opt=value\"):\n",
              shear::targetShapePresets().c_str());
  std::fflush(stdout);
  mlir::printRegisteredPasses();
}

/// MlirOptMain on the input file, after checking that its brackets do not
/// nest deeper than MLIR's recursive parser can take.
static bool runOpt(const std::string &input, const std::string &output,
                   mlir::DialectRegistry &registry) {
  mlir::MlirOptMainConfig config = mlir::MlirOptMainConfig::createFromCLOptions();
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file = mlir::openInputFile(input, &error);
  if (!file) {
    llvm::errs() << "shear-opt: error: " << error << "\n";
    return false;
  }
  if (std::string deep = shear::moduleNestingError(file->getBuffer(), input); !deep.empty()) {
    llvm::errs() << "shear-opt: error: " << deep << "\n";
    return false;
  }
  std::unique_ptr<llvm::ToolOutputFile> out = mlir::openOutputFile(output, &error);
  if (!out) {
    llvm::errs() << "shear-opt: error: " << error << "\n";
    return false;
  }
  if (mlir::failed(mlir::MlirOptMain(out->os(), std::move(file), registry, config)))
    return false;
  out->keep();
  return true;
}

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<shear::ShearDialect, mlir::func::FuncDialect>();
  shear::registerShearPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-help") ||
        !std::strcmp(argv[i], "-h")) {
      printHelp();
      return 0;
    }

  // Errors are one line (or a few), not followed by the module they concern:
  // MLIR's printing of the op on a diagnostic is off unless asked for.
  std::vector<char *> args(argv, argv + argc);
  bool printOpChosen = false;
  for (int i = 1; i < argc; ++i)
    printOpChosen |= std::strstr(argv[i], "mlir-print-op-on-diagnostic") != nullptr;
  static char quiet[] = "--mlir-print-op-on-diagnostic=false";
  if (!printOpChosen)
    args.insert(args.begin() + 1, quiet);
  argc = static_cast<int>(args.size());
  argv = args.data();

  // MLIR's command-line parsing exits with code 1 on a usage error; shear's
  // tools use 2 for bad usage (docs/exit-codes.md). --help and --version exit
  // 0 from inside the parser too and are left alone.
  bool informational = false;
  for (int i = 1; i < argc; ++i)
    informational |= std::strstr(argv[i], "-help") == argv[i] ||
                     std::strstr(argv[i], "--help") == argv[i] ||
                     std::strstr(argv[i], "-version") != nullptr;
  static bool parsing = false;
  if (!informational) {
    parsing = true;
    std::atexit([] {
      if (parsing)
        std::_Exit(2);
    });
  }
  auto [input, output] = mlir::registerAndParseCLIOptions(
      argc, argv, "shear-opt: shear's passes (presets for --target-shape: " +
                      shear::targetShapePresets() + ")\n",
      registry);
  parsing = false;
  if (llvm::Error e = shear::configureArtifactPaths(input, output)) {
    llvm::errs() << "shear-opt: error: " << llvm::toString(std::move(e)) << "\n";
    return 2;
  }
  // The module is written to a temporary file and renamed into place on
  // success, so a failed run never destroys an existing output.
  std::string written = output;
  if (output != "-")
    written = output + ".tmp." + std::to_string(::getpid());
  bool ok = runOpt(input, written, registry);
  if (output == "-")
    return ok ? 0 : 2;
  if (ok && std::rename(written.c_str(), output.c_str()) == 0)
    return 0;
  std::remove(written.c_str());
  return 2;
}
