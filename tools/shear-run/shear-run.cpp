//===- shear-run.cpp - execute shear models -------------------------------===//
//
//   shear-run eval MODEL.mlir --tokens T.npy --logits-out L.npy
//
// The module is lowered in-process (--lower-to-runtime) and the lowered
// program is executed by the runtime; there is no model loop here.
// Exit codes: 0 success, 1 a failed run, 2 bad usage or bad input.
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearDialect.h"
#include "shear/Runtime/Executor.h"
#include "shear/Runtime/Npy.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

namespace cl = llvm::cl;
using namespace shear;

static cl::SubCommand evalCommand("eval", "evaluate a model: logits for token arrays");
static cl::opt<std::string> modelPath(cl::Positional, cl::desc("MODEL.mlir"), cl::Required,
                                      cl::sub(evalCommand));
static cl::opt<std::string> tokensPath("tokens",
                                       cl::desc("int token array [batch, seq] (.npy)"),
                                       cl::value_desc("T.npy"), cl::sub(evalCommand));
static cl::opt<std::string> logitsPath("logits-out",
                                       cl::desc("write float32 logits [batch, seq, vocab] (.npy)"),
                                       cl::value_desc("L.npy"), cl::sub(evalCommand));
static cl::opt<std::string> evalMasks(
    "eval-masks",
    cl::desc("masked models: deterministic masks keep the expected number of entries per row "
             "(expected, as while pruning) or the target number (target)"),
    cl::init("expected"), cl::sub(evalCommand));
static cl::opt<int> threads("threads", cl::desc("CPU threads (default: 2)"), cl::init(2),
                            cl::sub(evalCommand));

static int fail(int code, const llvm::Twine &msg) {
  llvm::errs() << "shear-run: error: " << msg << "\n";
  return code;
}

/// Parses MODEL.mlir and lowers it for execution; diagnostics go to stderr.
static mlir::OwningOpRef<mlir::ModuleOp> loadLowered(mlir::MLIRContext &context,
                                                     const std::string &path,
                                                     const std::string &masks) {
  context.loadDialect<ShearDialect, mlir::func::FuncDialect>();
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    llvm::errs() << path << ": cannot read: " << buffer.getError().message() << "\n";
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return nullptr;
  mlir::PassManager pm(&context);
  LowerToRuntimeOptions options;
  options.evalMasks = masks;
  pm.addPass(createLowerToRuntime(options));
  if (mlir::failed(pm.run(*module)))
    return nullptr;
  return module;
}

static int evalTokens() {
  if (tokensPath.empty() || logitsPath.empty())
    return fail(2, "eval needs --tokens T.npy and --logits-out L.npy");
  rt::setNumThreads(threads);
  mlir::MLIRContext context;
  auto module = loadLowered(context, modelPath, evalMasks);
  if (!module)
    return 2;
  auto fn = module->lookupSymbol<mlir::func::FuncOp>("forward");
  if (!fn)
    return fail(2, modelPath + ": no func.func @forward");
  rt::KernelRegistry registry;
  rt::registerCpuKernels(registry);
  std::string dir = llvm::sys::path::parent_path(modelPath).str();
  auto program = rt::Program::compile(fn, registry, dir.empty() ? "." : dir);
  if (mlir::failed(program))
    return 2;

  auto tokens = rt::readNpyInt(tokensPath);
  if (!tokens)
    return fail(2, llvm::toString(tokens.takeError()));
  if (tokens->rank() != 2)
    return fail(2, tokensPath + ": token array must be [batch, seq], got " +
                       tokens->shapeString());
  auto idsType = llvm::cast<mlir::RankedTensorType>(fn.getArgumentTypes()[0]);
  (void)idsType;
  auto logitsType = llvm::cast<mlir::RankedTensorType>(fn.getResultTypes()[0]);
  int64_t vocab = logitsType.getDimSize(2);
  for (int64_t i = 0; i < tokens->numel(); ++i)
    if (tokens->i64()[i] < 0 || tokens->i64()[i] >= vocab)
      return fail(2, tokensPath + ": token " + llvm::Twine(tokens->i64()[i]) + " at index " +
                         llvm::Twine(i) + " is outside the vocabulary [0, " +
                         llvm::Twine(vocab) + ")");

  rt::WeightCache weights;
  auto out = program->run({*tokens}, weights);
  if (!out)
    return fail(2, llvm::toString(out.takeError()));
  if (llvm::Error e = rt::writeNpyF32(logitsPath, (*out)[0]))
    return fail(1, llvm::toString(std::move(e)));
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "shear-run: execute shear models (eval; prune and train follow)\n");
  if (evalCommand)
    return evalTokens();
  return fail(2, "give a command: eval (see --help)");
}
