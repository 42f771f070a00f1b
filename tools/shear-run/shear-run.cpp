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
#include "shear/Runtime/Philox.h"
#include "shear/Runtime/Trainer.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <chrono>
#include <cmath>

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

static cl::SubCommand gradientsCommand(
    "gradients", "one training step's loss, metrics and gradients (for checking and debugging)");
static cl::opt<std::string> gradModel(cl::Positional, cl::desc("MODEL.mlir"), cl::Required,
                                      cl::sub(gradientsCommand));
static cl::opt<std::string> gradTokens("tokens",
                                       cl::desc("int token array [batch, seq+1] (.npy): inputs "
                                                "are [:, :-1], labels [:, 1:]"),
                                       cl::value_desc("T.npy"), cl::sub(gradientsCommand));
static cl::opt<std::string> gradOut("out", cl::desc("write metrics and gradients (.safetensors)"),
                                    cl::value_desc("G.safetensors"), cl::sub(gradientsCommand));
static cl::opt<std::string> gradMode("mode", cl::desc("prune (default) or train"),
                                     cl::init("prune"), cl::sub(gradientsCommand));
static cl::opt<int64_t> gradStep("step", cl::desc("step number (gate noise, warm-up)"),
                                 cl::init(0), cl::sub(gradientsCommand));
static cl::opt<uint64_t> gradSeed("seed", cl::desc("seed of the gate noise"), cl::init(1),
                                  cl::sub(gradientsCommand));
static cl::opt<int64_t> gradWarmup("warmup-steps",
                                   cl::desc("target-sparsity warm-up steps"), cl::init(0),
                                   cl::sub(gradientsCommand));

// prune and train share their options (each command lists them in --help).
static cl::SubCommand pruneCommand("prune",
                                   "prune a masked model: learn weights, gates and multipliers");
static cl::SubCommand trainCommand("train", "continue pre-training a dense model");
static cl::opt<std::string> runModel(cl::Positional, cl::desc("MODEL.mlir"), cl::Required,
                                     cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<std::string> runData("data", cl::desc("data directory (shear-data pack)"),
                                    cl::value_desc("DATA_DIR"), cl::sub(pruneCommand),
                                    cl::sub(trainCommand), cl::sub(evalCommand));
static cl::opt<std::string> runOut("out", cl::desc("run directory (checkpoints, metrics.jsonl, final/)"),
                                   cl::value_desc("RUN_DIR"), cl::sub(pruneCommand),
                                   cl::sub(trainCommand));
static cl::opt<int64_t> runSteps("steps", cl::desc("optimizer steps (paper: 3200 pruning)"),
                                 cl::init(3200), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<int64_t> runBatch("batch", cl::desc("sequences per step (paper: 32)"),
                                 cl::init(32), cl::sub(pruneCommand), cl::sub(trainCommand),
                                 cl::sub(evalCommand));
static cl::opt<int64_t> runSeq("seq", cl::desc("sequence length: must equal the data's (0: the data's)"),
                               cl::init(0), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<double> runLr("lr", cl::desc("peak learning rate of the weights (cosine, 10% warm-up, "
                                            "decay to 0.1x)"),
                             cl::init(1e-4), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<double> runLrGate("lr-gate", cl::desc("learning rate of the gate parameters"),
                                 cl::init(1.0), cl::sub(pruneCommand));
static cl::opt<double> runLrLambda("lr-lambda",
                                   cl::desc("learning rate of the Lagrange multipliers (negative: ascent)"),
                                   cl::init(-1.0), cl::sub(pruneCommand));
static cl::opt<double> runWarmup("warmup", cl::desc("fraction of steps warming up the learning rate"),
                                 cl::init(0.1), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<double> runTargetWarmup(
    "target-warmup", cl::desc("fraction of steps over which the target sparsity grows from 0"),
    cl::init(0.2), cl::sub(pruneCommand));
static cl::opt<double> runMaxNorm("max-norm", cl::desc("gradient clipping norm"), cl::init(1.0),
                                  cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<int64_t> runEvalEvery(
    "eval-every",
    cl::desc("evaluate (and update domain weights) every N steps; 0: never "
             "(default: 50 for prune, 400 for train, as in the paper)"),
    cl::init(-1), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<int64_t> runEvalSeqs("eval-seqs",
                                    cl::desc("held-out sequences per domain to evaluate (0: all)"),
                                    cl::init(0), cl::sub(pruneCommand), cl::sub(trainCommand),
                                    cl::sub(evalCommand));
static cl::opt<int64_t> runSaveEvery("save-every", cl::desc("checkpoint every N steps (0: only final)"),
                                     cl::init(0), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<int64_t> runLogEvery("log-every", cl::desc("print a progress line every N steps"),
                                    cl::init(1), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<uint64_t> runSeed("seed", cl::desc("seed of gate noise and domain draws"), cl::init(1),
                                 cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<std::string> runDbl("dbl", cl::desc("dynamic batch loading: paper, code or off"),
                                   cl::init("paper"), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<std::string> runRefLoss(
    "ref-loss",
    cl::desc("reference losses for dynamic batch loading: 'source' (evaluate the unpruned model "
             "first) or a JSON file {domain: loss}"),
    cl::init("source"), cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<std::string> runWeights("weights",
                                       cl::desc("initial domain weights name=w,... (default: the data mix)"),
                                       cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<bool> runResume("resume", cl::desc("continue from the newest complete checkpoint in --out"),
                               cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<int> runThreads("threads", cl::desc("CPU threads (default: 2)"), cl::init(2),
                               cl::sub(pruneCommand), cl::sub(trainCommand));
static cl::opt<int64_t> runStopAfter("stop-after", cl::desc("testing: exit abruptly after N steps"),
                                     cl::init(-1), cl::Hidden, cl::sub(pruneCommand),
                                     cl::sub(trainCommand));

static cl::SubCommand generateCommand("generate", "generate text with a KV cache");
static cl::opt<std::string> genModel(cl::Positional, cl::desc("MODEL.mlir"), cl::Required,
                                     cl::sub(generateCommand));
static cl::opt<std::string> genTokenizer("tokenizer", cl::desc("SentencePiece tokenizer.model"),
                                         cl::sub(generateCommand));
static cl::opt<std::string> genPrompt("prompt", cl::desc("prompt text (needs --tokenizer)"),
                                      cl::sub(generateCommand));
static cl::opt<std::string> genPromptIds("prompt-ids", cl::desc("prompt as token ids a,b,c"),
                                         cl::sub(generateCommand));
static cl::opt<int64_t> genMaxNew("max-new-tokens", cl::desc("tokens to generate"), cl::init(64),
                                  cl::sub(generateCommand));
static cl::opt<double> genTemperature("temperature",
                                      cl::desc("0: greedy (default); > 0: sample"),
                                      cl::init(0.0), cl::sub(generateCommand));
static cl::opt<double> genTopP("top-p", cl::desc("nucleus sampling: smallest set with this mass"),
                               cl::init(1.0), cl::sub(generateCommand));
static cl::opt<uint64_t> genSeed("seed", cl::desc("seed of sampling"), cl::init(1),
                                 cl::sub(generateCommand));
static cl::opt<bool> genPrintIds("print-ids", cl::desc("also print the generated token ids"),
                                 cl::sub(generateCommand));
static cl::opt<bool> genNoBos("no-bos", cl::desc("do not start the prompt with BOS"),
                              cl::sub(generateCommand));
static cl::opt<int> genThreads("threads", cl::desc("CPU threads"), cl::init(2),
                               cl::sub(generateCommand));

static int fail(int code, const llvm::Twine &msg) {
  llvm::errs() << "shear-run: error: " << msg << "\n";
  return code;
}

/// Parses MODEL.mlir and runs `build` on it; diagnostics go to stderr.
static mlir::OwningOpRef<mlir::ModuleOp>
loadModule(mlir::MLIRContext &context, const std::string &path,
           const std::function<void(mlir::PassManager &)> &build) {
  auto module = rt::parseModuleFile(context, path);
  if (!module)
    return nullptr;
  mlir::PassManager pm(&context);
  build(pm);
  if (mlir::failed(pm.run(*module)))
    return nullptr;
  return module;
}

static std::string moduleDir(const std::string &path) {
  std::string dir = llvm::sys::path::parent_path(path).str();
  return dir.empty() ? "." : dir;
}

static int gradients() {
  if (gradTokens.empty() || gradOut.empty())
    return fail(2, "gradients needs --tokens T.npy and --out G.safetensors");
  mlir::MLIRContext context;
  auto module = loadModule(context, gradModel, [&](mlir::PassManager &pm) {
    BuildTrainStepOptions step;
    step.mode = gradMode;
    step.seed = gradSeed;
    step.warmupSteps = gradWarmup;
    pm.addPass(createBuildTrainStep(step));
    pm.addPass(createLowerToRuntime());
    pm.addPass(createDifferentiate());
  });
  if (!module)
    return 2;
  auto fn = module->lookupSymbol<mlir::func::FuncOp>("train_step");
  auto program = rt::compileForCpu(fn, moduleDir(gradModel));
  if (mlir::failed(program))
    return 2;
  auto tokens = rt::readNpyInt(gradTokens);
  if (!tokens)
    return fail(2, llvm::toString(tokens.takeError()));
  if (tokens->rank() != 2 || tokens->dim(1) < 2)
    return fail(2, gradTokens + ": token array must be [batch, seq+1], got " +
                       tokens->shapeString());
  auto [ids, labels] = rt::splitInputsAndLabels(*tokens);
  rt::ParamStore store;
  auto out = program->run({ids, labels, rt::Tensor::scalarI64(gradStep)}, store);
  if (!out)
    return fail(2, llvm::toString(out.takeError()));
  auto metrics = fn->getAttrOfType<mlir::ArrayAttr>("shear.metrics");
  auto keys = fn->getAttrOfType<mlir::ArrayAttr>("shear.gradients");
  std::vector<std::pair<TensorSpec, std::vector<float>>> tensors;
  for (size_t i = 0; i < out->size(); ++i) {
    const rt::Tensor &t = (*out)[i];
    std::string name =
        i < metrics.size()
            ? "metric." + llvm::cast<mlir::StringAttr>(metrics[i]).getValue().str()
            : "grad:" + llvm::cast<mlir::StringAttr>(
                            llvm::cast<mlir::ArrayAttr>(keys[i - metrics.size()])[1])
                            .getValue()
                            .str();
    tensors.push_back({TensorSpec{name, DType::F32, t.shape()},
                       std::vector<float>(t.f32(), t.f32() + t.numel())});
  }
  if (llvm::Error e = writeF32Tensors(gradOut, tensors))
    return fail(1, llvm::toString(std::move(e)));
  return 0;
}

static int runCommand(const std::string &mode) {
  rt::TrainOptions o;
  o.mode = mode;
  o.modelPath = runModel;
  o.dataDir = runData;
  o.outDir = runOut;
  if (o.dataDir.empty() || o.outDir.empty())
    return fail(2, mode + " needs --data DATA_DIR and --out RUN_DIR");
  o.steps = runSteps;
  o.batch = runBatch;
  o.lr = runLr;
  o.lrGate = runLrGate;
  o.lrLambda = runLrLambda;
  o.warmupFraction = runWarmup;
  o.targetWarmupFraction = runTargetWarmup;
  o.maxNorm = runMaxNorm;
  o.evalEvery = runEvalEvery >= 0 ? runEvalEvery.getValue() : (mode == "prune" ? 50 : 400);
  o.evalSequences = runEvalSeqs;
  o.saveEvery = runSaveEvery;
  o.logEvery = runLogEvery;
  o.seed = runSeed;
  o.refLoss = runRefLoss;
  o.resume = runResume;
  o.threads = runThreads;
  o.stopAfter = runStopAfter;
  if (runDbl == "paper")
    o.dbl = rt::DblMode::Paper;
  else if (runDbl == "code")
    o.dbl = rt::DblMode::Code;
  else if (runDbl == "off")
    o.dbl = rt::DblMode::Off;
  else
    return fail(2, "--dbl must be paper, code or off, got '" + runDbl + "'");
  if (!runWeights.empty()) {
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(runWeights).split(parts, ',');
    for (llvm::StringRef p : parts) {
      auto [name, value] = p.split('=');
      double w;
      if (name.empty() || value.getAsDouble(w) || w < 0)
        return fail(2, "--weights: '" + p + "' is not name=weight");
      o.initialWeights[name.str()] = w;
    }
  }
  if (runSeq != 0) {
    auto data = rt::Dataset::open(o.dataDir);
    if (!data)
      return fail(2, llvm::toString(data.takeError()));
    if ((*data)->manifest().seqLen != runSeq)
      return fail(2, "--seq " + llvm::Twine(runSeq.getValue()) + " differs from the data's " +
                         llvm::Twine((*data)->manifest().seqLen) +
                         " (repack with shear-data pack --seq)");
  }
  return rt::runTraining(o);
}

static int evalTokens() {
  if (!runData.empty())
    return rt::evaluateOnData(modelPath, runData, evalMasks, runEvalSeqs, runBatch, threads);
  if (tokensPath.empty() || logitsPath.empty())
    return fail(2, "eval needs --data DATA_DIR, or --tokens T.npy and --logits-out L.npy");
  rt::setNumThreads(threads);
  mlir::MLIRContext context;
  auto module = loadModule(context, modelPath, [&](mlir::PassManager &pm) {
    LowerToRuntimeOptions options;
    options.evalMasks = evalMasks;
    pm.addPass(createLowerToRuntime(options));
  });
  if (!module)
    return 2;
  auto fn = module->lookupSymbol<mlir::func::FuncOp>("forward");
  if (!fn)
    return fail(2, modelPath + ": no func.func @forward");
  auto program = rt::compileForCpu(fn, moduleDir(modelPath));
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

/// Runs shear-spm (beside this binary) and returns its stdout.
static llvm::Expected<std::string> runSpm(const char *argv0, std::vector<std::string> args) {
  std::string self = llvm::sys::fs::getMainExecutable(argv0, reinterpret_cast<void *>(&fail));
  std::string cmd = "'" + (llvm::sys::path::parent_path(self) + "/shear-spm").str() + "'";
  for (const std::string &a : args) {
    std::string quoted;
    for (char c : a)
      quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " '" + quoted + "'";
  }
  FILE *p = popen(cmd.c_str(), "r");
  if (!p)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot run shear-spm");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  if (pclose(p) != 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the tokenizer failed (see above)");
  return out;
}

static int generate(const char *argv0) {
  rt::setNumThreads(genThreads);
  std::vector<int64_t> prompt;
  int64_t eos = -1, bos = 1;
  if (!genTokenizer.empty()) {
    auto info = runSpm(argv0, {"info", "--model", genTokenizer});
    if (!info)
      return 2;
    auto json = llvm::json::parse(*info);
    if (!json)
      return fail(2, genTokenizer + ": unexpected tokenizer info");
    bos = json->getAsObject()->getInteger("bos_id").value_or(-1);
    eos = json->getAsObject()->getInteger("eos_id").value_or(-1);
  }
  if (!genPromptIds.empty()) {
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(genPromptIds).split(parts, ',', -1, false);
    for (llvm::StringRef p : parts) {
      int64_t id;
      if (p.trim().getAsInteger(10, id))
        return fail(2, "--prompt-ids: '" + p + "' is not a token id");
      prompt.push_back(id);
    }
  } else {
    if (genTokenizer.empty())
      return fail(2, "generate needs --tokenizer TOK with --prompt, or --prompt-ids");
    auto ids = runSpm(argv0, {"encode", "--model", genTokenizer, "--text", genPrompt});
    if (!ids)
      return 2;
    if (!genNoBos && bos >= 0)
      prompt.push_back(bos);
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(*ids).trim().split(parts, ' ', -1, false);
    for (llvm::StringRef p : parts)
      prompt.push_back(std::stoll(p.str()));
  }
  if (prompt.empty())
    return fail(2, "the prompt is empty");

  mlir::MLIRContext context;
  auto module = loadModule(context, genModel, [&](mlir::PassManager &pm) {
    pm.addPass(createBuildDecodeStep());
    LowerToRuntimeOptions lo;
    lo.evalMasks = "target";
    pm.addPass(createLowerToRuntime(lo));
  });
  if (!module)
    return 2;
  auto fn = module->lookupSymbol<mlir::func::FuncOp>("decode");
  auto program = rt::compileForCpu(fn, moduleDir(genModel));
  if (mlir::failed(program))
    return 2;
  int64_t vocab = llvm::cast<mlir::RankedTensorType>(fn.getResultTypes()[0]).getDimSize(2);
  for (int64_t id : prompt)
    if (id < 0 || id >= vocab)
      return fail(2, "prompt token " + llvm::Twine(id) + " is outside the vocabulary [0, " +
                         llvm::Twine(vocab) + ")");
  if (auto model = (*module)->getAttrOfType<mlir::DictionaryAttr>("shear.model"))
    if (auto e = model.getAs<mlir::IntegerAttr>("eos_token_id"); e && eos < 0)
      eos = e.getInt();

  // Caches sized for the whole generation.
  int64_t total = prompt.size() + genMaxNew;
  std::vector<rt::Tensor> caches;
  for (size_t i = 2; i < fn.getNumArguments(); ++i) {
    auto t = llvm::cast<mlir::RankedTensorType>(fn.getArgumentTypes()[i]);
    caches.push_back(rt::Tensor::zeros({1, t.getDimSize(1), total, t.getDimSize(3)}));
  }
  rt::ParamStore store;
  std::vector<int64_t> generated;
  std::vector<int64_t> input = prompt;
  int64_t pos = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < genMaxNew; ++step) {
    rt::Tensor ids = rt::Tensor::empty({1, static_cast<int64_t>(input.size())}, rt::ElemType::I64);
    std::copy(input.begin(), input.end(), ids.i64());
    std::vector<rt::Tensor> args = {ids, rt::Tensor::scalarI64(pos)};
    args.insert(args.end(), caches.begin(), caches.end());
    auto out = program->run(args, store);
    if (!out)
      return fail(2, llvm::toString(out.takeError()));
    for (size_t i = 0; i < caches.size(); ++i)
      caches[i] = (*out)[1 + i];
    pos += input.size();
    const float *last = (*out)[0].f32() + (input.size() - 1) * vocab;
    int64_t next = 0;
    if (genTemperature <= 0) {
      next = std::max_element(last, last + vocab) - last;
    } else {
      std::vector<std::pair<double, int64_t>> probs;
      double mx = *std::max_element(last, last + vocab), sum = 0;
      for (int64_t v = 0; v < vocab; ++v) {
        double p = std::exp((last[v] - mx) / genTemperature);
        probs.push_back({p, v});
        sum += p;
      }
      std::sort(probs.begin(), probs.end(), std::greater<>());
      double mass = 0;
      size_t keep = 0;
      while (keep < probs.size() && (keep == 0 || mass < genTopP * sum))
        mass += probs[keep++].first;
      double u = rt::philoxUniform(genSeed, step, 2000, 0) * mass;
      next = probs[keep - 1].second;
      for (size_t i = 0; i < keep; ++i) {
        if (u < probs[i].first) {
          next = probs[i].second;
          break;
        }
        u -= probs[i].first;
      }
    }
    generated.push_back(next);
    if (next == eos)
      break;
    input = {next};
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (genPrintIds) {
    llvm::outs() << "ids:";
    for (int64_t id : generated)
      llvm::outs() << " " << id;
    llvm::outs() << "\n";
  }
  if (!genTokenizer.empty()) {
    std::string list;
    for (int64_t id : generated)
      if (id != eos)
        list += (list.empty() ? "" : ",") + std::to_string(id);
    std::string text;
    if (!list.empty()) {
      auto decoded = runSpm(argv0, {"decode", "--model", genTokenizer, "--ids", list});
      if (!decoded)
        return 2;
      text = *decoded;
    }
    llvm::outs() << genPrompt << text << "\n";
  }
  llvm::errs() << llvm::format("[%zu tokens in %.2f s: %.1f tokens/s]\n", generated.size(), seconds,
                               generated.size() / seconds);
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "shear-run: run shear models (prune, train, eval, generate, gradients)\n");
  if (evalCommand)
    return evalTokens();
  if (gradientsCommand)
    return gradients();
  if (pruneCommand)
    return runCommand("prune");
  if (trainCommand)
    return runCommand("train");
  if (generateCommand)
    return generate(argv[0]);
  return fail(2, "give a command: eval (see --help)");
}
