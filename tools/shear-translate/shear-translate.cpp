//===- shear-translate.cpp - between shear modules and other formats ------===//
//
//   shear-translate --import-hf HF_DIR -o model.mlir
//   shear-translate --export-hf MODEL.mlir -o HF_DIR [--max-shard-size 5GB]
//   shear-translate --export-onnx MODEL.mlir -o model.onnx [--dtype f32|bf16]
//   shear-translate --inspect FILE.safetensors
//
// Exit codes: 0 success, 1 internal failure, 2 bad usage or bad input.
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearDialect.h"
#include "shear/Target/ArtifactPaths.h"
#include "shear/Support/Nesting.h"
#include "shear/Support/Process.h"
#include "shear/Target/HF.h"
#include "shear/Target/ONNX.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

namespace cl = llvm::cl;
using namespace shear;

static cl::OptionCategory category("shear-translate options");
static cl::opt<std::string> importHFDir("import-hf", cl::desc("import an HF LLaMA/Mistral directory"),
                                        cl::value_desc("HF_DIR"), cl::cat(category));
static cl::opt<std::string> exportHFModel("export-hf",
                                          cl::desc("export a dense model to an HF directory (-o)"),
                                          cl::value_desc("MODEL.mlir"), cl::cat(category));
static cl::opt<std::string> exportOnnxModel(
    "export-onnx", cl::desc("export a dense model to ONNX (-o model.onnx)"),
    cl::value_desc("MODEL.mlir"), cl::cat(category));
static cl::opt<std::string> onnxDtype(
    "dtype",
    cl::desc("weights' dtype: --export-onnx f32 (default) or bf16; --export-hf source "
             "(default), f32, bf16 or f16"),
    cl::init(""), cl::cat(category));
static cl::opt<std::string> externalAbove(
    "external-data-above",
    cl::desc("with --export-onnx: weights go to MODEL.onnx_data above this size (default: 2000MB)"),
    cl::init("2000MB"), cl::cat(category));
static cl::opt<std::string> tokenizerPath(
    "tokenizer",
    cl::desc("--import-hf: the tokenizer the model carries (default: the HF directory's own "
             "files); --export-hf, --export-onnx: the tokenizer to write beside the weights "
             "(default: the model's); a tokenizer.model, a directory of HF tokenizer files, or "
             "none"),
    cl::value_desc("PATH"), cl::init(""), cl::cat(category));
static cl::opt<bool> noKvCache(
    "no-kv-cache",
    cl::desc("with --export-onnx: only input_ids -> logits (every call computes the whole "
             "sequence) instead of the decoder layout with past_key_values and present"),
    cl::cat(category));
static cl::opt<std::string> inspectFile("inspect",
                                        cl::desc("list the tensors of a safetensors file"),
                                        cl::value_desc("FILE.safetensors"), cl::cat(category));
static cl::opt<std::string> outputPath("o", cl::desc("output file or directory (default: stdout)"),
                                       cl::value_desc("PATH"), cl::init("-"), cl::cat(category));
static cl::opt<bool> printValues("values", cl::desc("with --inspect: also print every value"),
                                 cl::cat(category));
static cl::opt<std::string> maxShardSize("max-shard-size",
                                         cl::desc("largest safetensors shard --export-hf writes (default: 5GB)"),
                                         cl::init("5GB"), cl::cat(category));

static int fail(int code, const llvm::Twine &msg) {
  llvm::errs() << "shear-translate: error: " << msg << "\n";
  return code;
}

static int importHFCommand() {
  auto view = importHF(importHFDir);
  if (!view)
    return fail(2, llvm::toString(view.takeError()));
  if (tokenizerPath == "none")
    view->config.tokenizer.clear();
  else if (!tokenizerPath.empty()) {
    if (!pathExists(tokenizerPath))
      return fail(2, tokenizerPath + ": no such tokenizer file or directory");
    view->config.tokenizer = canonicalPath(tokenizerPath);
  }
  if (llvm::Error e = configureArtifactPaths("-", outputPath))
    return fail(2, llvm::toString(std::move(e)));
  mlir::MLIRContext context;
  context.printOpOnDiagnostic(false); // one-line errors, not the op they concern
  context.loadDialect<ShearDialect, mlir::func::FuncDialect>();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  emitModelView(*module, *view, namesRelativeTo());
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  os << "\n";
  if (outputPath == "-") {
    llvm::outs() << text;
    return 0;
  }
  if (llvm::Error e = toLlvm(writeFileAtomically(outputPath, text)))
    return fail(2, llvm::toString(std::move(e)));
  return 0;
}

static mlir::OwningOpRef<mlir::ModuleOp> parseModule(mlir::MLIRContext &context,
                                                     llvm::StringRef path) {
  context.loadDialect<ShearDialect, mlir::func::FuncDialect>();
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  std::string error;
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path);
  if (!buffer) {
    llvm::errs() << path << ": cannot read: " << buffer.getError().message() << "\n";
    return nullptr;
  }
  if (std::string deep = shear::moduleNestingError((*buffer)->getBuffer(), path.str()); !deep.empty()) {
    llvm::errs() << deep << "\n";
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  return mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
}

/// The model of a module file, its weights resolved beside it; diagnostics
/// on failure.
static mlir::FailureOr<ModelView> readModelFile(mlir::MLIRContext &context,
                                                const std::string &path) {
  auto module = parseModule(context, path);
  if (!module)
    return mlir::failure();
  std::string dir = llvm::sys::path::parent_path(path).str();
  return readModelView(*module, dir.empty() ? "." : dir);
}

static int exportHFCommand() {
  if (outputPath == "-")
    return fail(2, "--export-hf needs an output directory: -o HF_DIR");
  auto shardBytes = parseByteSize(maxShardSize);
  if (!shardBytes)
    return fail(2, "--max-shard-size: '" + maxShardSize + "' is not a size (e.g. 5GB, 500MB)");
  mlir::MLIRContext context;
  context.printOpOnDiagnostic(false); // one-line errors, not the op they concern
  auto view = readModelFile(context, exportHFModel);
  if (mlir::failed(view))
    return 2;
  std::optional<DType> dtype;
  if (onnxDtype == "f32")
    dtype = DType::F32;
  else if (onnxDtype == "bf16")
    dtype = DType::BF16;
  else if (onnxDtype == "f16")
    dtype = DType::F16;
  else if (!onnxDtype.empty() && onnxDtype != "source")
    return fail(2, "--dtype must be source, f32, bf16 or f16, got '" + onnxDtype + "'");
  std::string tokenizer = tokenizerPath;
  if (!tokenizer.empty() && tokenizer != "none") {
    if (!pathExists(tokenizer))
      return fail(2, tokenizer + ": no such tokenizer file or directory");
    tokenizer = canonicalPath(tokenizer);
  }
  if (llvm::Error e = exportHF(*view, outputPath, *shardBytes, dtype, tokenizer,
                               joinPath(executableDirectory(), "shear-spm")))
    return fail(2, llvm::toString(std::move(e)));
  return 0;
}

static int exportOnnxCommand() {
  if (outputPath == "-")
    return fail(2, "--export-onnx needs an output file: -o model.onnx");
  OnnxExportOptions options;
  if (onnxDtype == "bf16")
    options.weightDtype = DType::BF16;
  else if (onnxDtype != "f32" && !onnxDtype.empty())
    return fail(2, "--dtype must be f32 or bf16, got '" + onnxDtype + "'");
  auto limit = parseByteSize(externalAbove);
  if (!limit)
    return fail(2, "--external-data-above: '" + externalAbove + "' is not a size");
  options.externalDataAbove = *limit;
  options.kvCache = !noKvCache;
  options.tokenizer = tokenizerPath;
  if (!options.tokenizer.empty() && options.tokenizer != "none") {
    if (!pathExists(options.tokenizer))
      return fail(2, options.tokenizer + ": no such tokenizer file or directory");
    options.tokenizer = canonicalPath(options.tokenizer);
  }
  options.spmPath = joinPath(executableDirectory(), "shear-spm");
  mlir::MLIRContext context;
  context.printOpOnDiagnostic(false); // one-line errors, not the op they concern
  auto view = readModelFile(context, exportOnnxModel);
  if (mlir::failed(view))
    return 2;
  if (llvm::Error e = exportOnnx(*view, outputPath, options))
    return fail(2, llvm::toString(std::move(e)));
  return 0;
}

static int inspectCommand() {
  auto file = toLlvm(SafetensorsFile::open(inspectFile));
  if (!file)
    return fail(2, llvm::toString(file.takeError()));
  for (const TensorInfo &t : (*file)->tensors()) {
    llvm::outs() << t.name << " " << dtypeName(t.dtype) << " " << shapeToString(t.shape);
    if (isFloatDType(t.dtype) && t.numel() > 0) {
      std::vector<float> v = (*file)->readF32(t);
      double sum = 0, sq = 0, lo = v[0], hi = v[0];
      size_t nonzero = 0;
      for (float x : v) {
        sum += x;
        lo = std::min<double>(lo, x);
        hi = std::max<double>(hi, x);
        nonzero += x != 0.0f;
      }
      double mean = sum / v.size();
      for (float x : v)
        sq += (x - mean) * (x - mean);
      llvm::outs() << llvm::format(" mean=%.6g std=%.6g min=%.6g max=%.6g nonzero=%zu", mean,
                                   std::sqrt(sq / v.size()), lo, hi, nonzero);
      if (printValues) {
        llvm::outs() << "\n  values:";
        for (float x : v)
          llvm::outs() << llvm::format(" %.6g", x);
      }
    }
    llvm::outs() << "\n";
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  // Usage errors are bad input: exit code 2 (docs/exit-codes.md).
  if (!cl::ParseCommandLineOptions(argc, argv,
                              "shear-translate: import and export shear models\n", &llvm::errs()))
    return 2;
  int commands = !importHFDir.empty() + !exportHFModel.empty() + !exportOnnxModel.empty() +
                 !inspectFile.empty();
  if (commands != 1)
    return fail(2, "give exactly one of --import-hf, --export-hf, --export-onnx, --inspect "
                   "(see --help)");
  if (!exportOnnxModel.empty())
    return exportOnnxCommand();
  if (!importHFDir.empty())
    return importHFCommand();
  if (!exportHFModel.empty())
    return exportHFCommand();
  return inspectCommand();
}
