//===- Trainer.cpp - the training loop of shear-run prune and train -------===//
#include "shear/Runtime/Trainer.h"

#include "shear/Dialect/ShearOps.h"
#include "shear/Runtime/Executor.h"
#include "shear/Runtime/Parallel.h"
#include "shear/Target/ArtifactPaths.h"
#include "shear/Target/ModelView.h"
#include "shear/Transforms/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cblas.h>

#include <chrono>
#include <cmath>
#include <fcntl.h>
#include <unistd.h>

using namespace mlir;
using namespace shear;
using namespace shear::rt;

namespace {

int fail(int code, const llvm::Twine &msg) {
  llvm::errs() << "shear-run: error: " << msg << "\n";
  return code;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string dirOf(const std::string &path) {
  std::string d = llvm::sys::path::parent_path(path).str();
  return absolutePath(d.empty() ? "." : d, ".");
}

/// What makes two modules the same model: shape, configuration and masks.
std::string signature(ModuleOp m) {
  auto view = readModelView(m, ".");
  if (failed(view))
    return "";
  std::string s = view->shape().str() + " vocab=" + std::to_string(view->config.vocabSize) +
                  " head_dim=" + std::to_string(view->config.headDim) +
                  " tied=" + std::to_string(view->config.tieWordEmbeddings);
  for (int i = 0; i < kNumMaskFamilies; ++i)
    if (view->masks[i])
      s += " " + familyName(static_cast<MaskFamily>(i)).str() +
           (view->masks[i]->isGate ? "-gate" : "-mask") +
           shapeToString(view->masks[i]->tensor.shape);
  return s;
}

/// Mean next-token loss per domain on (at most `maxSeqs` of) its held-out set.
llvm::Expected<std::vector<double>> evaluate(const Program &forward, ParamStore &store,
                                             const Dataset &data, int64_t maxSeqs, int64_t batch,
                                             const KernelRegistry &registry) {
  const Manifest &m = data.manifest();
  int64_t n = m.seqLen + 1;
  const KernelFn *ce = registry.find("cross_entropy");
  KernelAttrs ceAttrs;
  ceAttrs.numbers["ignore_index"] = -100;
  std::string ceName = "cross_entropy";
  std::vector<double> losses;
  for (size_t d = 0; d < m.domains.size(); ++d) {
    int64_t count = m.domains[d].evalSequences;
    if (maxSeqs > 0)
      count = std::min(count, maxSeqs);
    double sum = 0;
    for (int64_t begin = 0; begin < count; begin += batch) {
      int64_t b = std::min(batch, count - begin);
      Tensor tokens = Tensor::empty({b, n}, ElemType::I64);
      for (int64_t i = 0; i < b; ++i)
        data.readEval(d, begin + i, tokens.i64() + i * n);
      auto [ids, labels] = splitInputsAndLabels(tokens);
      auto out = forward.run({ids}, store);
      if (!out)
        return out.takeError();
      KernelCall call;
      call.name = &ceName;
      call.attrs = &ceAttrs;
      call.args = {&(*out)[0], &labels};
      (*ce)(call);
      sum += call.results[0].f32()[0] * b;
    }
    losses.push_back(count ? sum / count : NAN);
  }
  return losses;
}

/// GFLOP/s of float32 GEMM on this machine with the run's threads: the peak
/// MFU is measured against.
double measurePeakGflops() {
  const int n = 768;
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
  double best = 0;
  for (int i = 0; i < 4; ++i) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(),
                n, 0.0f, c.data(), n);
    double dt = now() - t0;
    best = std::max(best, 2.0 * n * n * n / dt / 1e9);
  }
  return best;
}

/// Training FLOPs per token: 6 per matmul parameter, plus attention's
/// 12 · layers · seq · heads · head_dim (PaLM's estimate).
double flopsPerToken(ModuleOp module, int64_t seq) {
  auto view = readModelView(module, ".");
  if (failed(view))
    return 0;
  const ModelConfig &c = view->config;
  double perLayer = static_cast<double>(c.hiddenSize) *
                        (2 * c.numHeads * c.headDim + 2 * c.numKvHeads * c.headDim) +
                    3.0 * c.hiddenSize * c.intermediateSize;
  double matmul = c.numLayers * perLayer + static_cast<double>(c.vocabSize) * c.hiddenSize;
  return 6 * matmul + 12.0 * c.numLayers * seq * c.numHeads * c.headDim;
}

std::string formatDuration(double s) {
  if (!std::isfinite(s))
    return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600)
    return llvm::formatv("{0}h{1:2}m", t / 3600, (t / 60) % 60).str();
  if (t >= 60)
    return llvm::formatv("{0}m{1:2}s", t / 60, t % 60).str();
  return llvm::formatv("{0}s", t).str();
}

/// Which checkpoint file a stored tensor goes to.
std::string checkpointFile(llvm::StringRef name) {
  if (name.starts_with("shear.gate."))
    return "gates.safetensors";
  if (name.starts_with("shear.mask."))
    return "masks.safetensors";
  if (name.starts_with("shear.lambda"))
    return "lambdas.safetensors";
  if (name.starts_with("adam."))
    return "optimizer.safetensors";
  return "model.safetensors";
}

void fsyncPath(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    ::close(fd);
  }
}

/// Writes RUN_DIR/<name>/ atomically: a temporary directory holding the
/// forward module (weights renamed to checkpoint-local files), the weights,
/// gate parameters, multipliers and optimizer moments (float32), and
/// state.json, written last; then one rename.
llvm::Error writeCheckpoint(const std::string &runDirIn, const std::string &name,
                            ModuleOp forward, const std::string &moduleDir, ParamStore &store,
                            const llvm::json::Object &state) {
  std::string runDir = absolutePath(runDirIn, ".");
  std::string finalDir = joinPath(runDir, name);
  std::string tmp = joinPath(runDir, "." + name + ".tmp-" + std::to_string(getpid()));
  llvm::sys::fs::remove_directories(tmp);
  if (std::error_code ec = llvm::sys::fs::create_directories(tmp))
    return fileError(tmp, "cannot create: " + ec.message());

  OwningOpRef<ModuleOp> copy = forward.clone();
  std::map<std::string, std::vector<std::pair<TensorSpec, std::vector<float>>>> files;
  llvm::Error error = llvm::Error::success();
  copy->walk([&](WeightOp w) {
    if (error)
      return;
    auto type = cast<RankedTensorType>(w.getType());
    auto t = store.get(absolutePath(w.getFile(), moduleDir), w.getName().str(), type.getShape());
    if (!t) {
      error = t.takeError();
      return;
    }
    std::string file = checkpointFile(w.getName());
    auto &list = files[file];
    bool seen = false;
    for (auto &e : list)
      seen |= e.first.name == w.getName();
    if (!seen)
      list.push_back({TensorSpec{w.getName().str(), DType::F32, t->shape()},
                      std::vector<float>(t->f32(), t->f32() + t->numel())});
    w.setFileAttr(StringAttr::get(w.getContext(), file));
  });
  if (error)
    return error;
  for (const auto &[file, tensors] : store.tensors())
    for (const auto &[tname, t] : tensors) {
      std::string target = checkpointFile(tname);
      if (target != "optimizer.safetensors" && target != "lambdas.safetensors")
        continue;
      files[target].push_back({TensorSpec{tname, DType::F32, t.shape()},
                               std::vector<float>(t.f32(), t.f32() + t.numel())});
    }
  for (const auto &[file, tensors] : files)
    if (llvm::Error e = writeF32Tensors(joinPath(tmp, file), tensors))
      return e;
  // The checkpoint holds float32 master weights: re-emit the module with
  // float32 weight types.
  std::string text;
  {
    auto view = readModelView(*copy, tmp);
    if (failed(view))
      return fileError(finalDir, "internal error: checkpoint module is not a model");
    for (auto *w : {&view->embed, &view->finalNorm, &view->lmHead})
      w->dtype = DType::F32;
    for (LayerWeights &l : view->layers)
      for (WeightRef *w : {&l.inputNorm, &l.q, &l.k, &l.v, &l.o, &l.postNorm, &l.gate, &l.up,
                           &l.down})
        w->dtype = DType::F32;
    emitModelView(*copy, *view, tmp);
    llvm::raw_string_ostream os(text);
    copy->print(os);
    os << "\n";
  }
  if (llvm::Error e = writeFileAtomically(joinPath(tmp, "model.mlir"), text))
    return e;
  std::string stateText;
  llvm::raw_string_ostream sos(stateText);
  sos << llvm::formatv("{0:2}", llvm::json::Value(llvm::json::Object(state))) << "\n";
  if (llvm::Error e = writeFileAtomically(joinPath(tmp, "state.json"), stateText))
    return e;
  fsyncPath(tmp);
  llvm::sys::fs::remove_directories(finalDir);
  if (std::error_code ec = llvm::sys::fs::rename(tmp, finalDir))
    return fileError(finalDir, "cannot move the checkpoint into place: " + ec.message());
  fsyncPath(runDir);
  return llvm::Error::success();
}

/// The newest complete checkpoint (one with state.json) of a run, or "".
std::string latestCheckpoint(const std::string &runDir) {
  std::string best;
  int64_t bestStep = -1;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(runDir, ec), end; it != end && !ec; it.increment(ec)) {
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    int64_t step;
    if (!name.consume_front("ckpt-") || name.getAsInteger(10, step))
      continue;
    if (!llvm::sys::fs::exists(joinPath(it->path(), "state.json")))
      continue;
    if (step > bestStep) {
      bestStep = step;
      best = it->path();
    }
  }
  return best;
}

template <typename T>
std::vector<T> jsonArray(const llvm::json::Object &o, llvm::StringRef key) {
  std::vector<T> out;
  if (const llvm::json::Array *a = o.getArray(key))
    for (const llvm::json::Value &v : *a) {
      if constexpr (std::is_same_v<T, double>)
        out.push_back(v.getAsNumber().value_or(NAN));
      else if constexpr (std::is_same_v<T, int64_t>)
        out.push_back(v.getAsInteger().value_or(0));
      else
        out.push_back(v.getAsString().value_or("").str());
    }
  return out;
}

double learningRate(const TrainOptions &o, int64_t step) {
  int64_t warmup = static_cast<int64_t>(std::llround(o.warmupFraction * o.steps));
  if (step < warmup)
    return o.lr * (step + 1) / warmup;
  double progress = o.steps > warmup ? static_cast<double>(step - warmup) / (o.steps - warmup) : 1;
  return o.lr * (o.minLrRatio + (1 - o.minLrRatio) * 0.5 * (1 + std::cos(M_PI * progress)));
}

} // namespace

//===----------------------------------------------------------------------===//

int shear::rt::runTraining(const TrainOptions &o) {
  setNumThreads(o.threads);
  if (o.steps <= 0 || o.batch <= 0)
    return fail(2, "--steps and --batch must be positive");
  auto dataOr = Dataset::open(o.dataDir);
  if (!dataOr)
    return fail(2, llvm::toString(dataOr.takeError()));
  const Dataset &data = **dataOr;
  const Manifest &manifest = data.manifest();
  size_t k = manifest.domains.size();

  // Resume or start.
  std::string resumeDir;
  if (llvm::sys::fs::exists(o.outDir)) {
    std::string latest = latestCheckpoint(o.outDir);
    bool hasFinal = llvm::sys::fs::exists(joinPath(o.outDir, "final/state.json"));
    if (o.resume)
      resumeDir = latest;
    else if (!latest.empty() || hasFinal)
      return fail(2, o.outDir + " already holds a run (checkpoints or final/): pass --resume to "
                                "continue it, or choose another --out");
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(o.outDir))
    return fail(2, o.outDir + ": cannot create: " + ec.message());

  MLIRContext ctx;
  OwningOpRef<ModuleOp> original = parseModuleFile(ctx, o.modelPath);
  if (!original)
    return 2;
  if (signature(*original).empty())
    return 2;
  std::string modulePath = resumeDir.empty() ? o.modelPath : joinPath(resumeDir, "model.mlir");
  OwningOpRef<ModuleOp> module = resumeDir.empty() ? original->clone() : parseModuleFile(ctx, modulePath);
  if (!module)
    return 2;
  if (!resumeDir.empty() && signature(*module) != signature(*original))
    return fail(2, resumeDir + " does not belong to " + o.modelPath + ": the checkpoint is " +
                       signature(*module) + ", the model " + signature(*original));
  std::string moduleDir = dirOf(modulePath);
  OwningOpRef<ModuleOp> forwardOnly = module->clone();

  // State files: from the checkpoint, or nonexistent (zeros) for a new run.
  std::string stateDir = resumeDir.empty() ? joinPath(absolutePath(o.outDir, "."), ".new-run")
                                           : absolutePath(resumeDir, ".");
  int64_t targetWarmup = static_cast<int64_t>(std::llround(o.targetWarmupFraction * o.steps));
  OwningOpRef<ModuleOp> evalModule = module->clone();
  {
    PassManager pm(&ctx);
    BuildTrainStepOptions ts;
    ts.mode = o.mode;
    ts.seed = o.seed;
    ts.warmupSteps = targetWarmup;
    ts.lambdaState = joinPath(stateDir, "lambdas.safetensors");
    pm.addPass(createBuildTrainStep(ts));
    pm.addPass(createLowerToRuntime());
    pm.addPass(createDifferentiate());
    BuildOptimizerOptions opt;
    opt.optimizerState = joinPath(stateDir, "optimizer.safetensors");
    opt.maxNorm = o.maxNorm;
    pm.addPass(createBuildOptimizer(opt));
    if (failed(pm.run(*module)))
      return 2;
    PassManager epm(&ctx);
    epm.addPass(createLowerToRuntime());
    if (failed(epm.run(*evalModule)))
      return 2;
  }
  KernelRegistry registry;
  registerCpuKernels(registry);
  auto trainFn = module->lookupSymbol<func::FuncOp>("train_step");
  auto train = Program::compile(trainFn, registry, moduleDir);
  auto forward = Program::compile(evalModule->lookupSymbol<func::FuncOp>("forward"), registry,
                                  moduleDir);
  if (failed(train) || failed(forward))
    return 2;

  auto logitsType = cast<RankedTensorType>(
      forwardOnly->lookupSymbol<func::FuncOp>("forward").getResultTypes()[0]);
  int64_t vocab = logitsType.getDimSize(2);
  if (manifest.vocabSize > vocab)
    return fail(2, o.dataDir + "/manifest.json: tokens go up to " +
                       llvm::Twine(manifest.vocabSize - 1) + " but the model's vocabulary has " +
                       llvm::Twine(vocab) + " entries");
  bool needEval = o.evalEvery > 0 || o.dbl != DblMode::Off;
  for (const DomainInfo &d : manifest.domains)
    if (needEval && d.evalSequences == 0)
      return fail(2, o.dataDir + "/manifest.json: domain '" + d.name +
                         "' has no held-out sequences, which evaluation needs");

  auto metricNames = trainFn->getAttrOfType<ArrayAttr>("shear.metrics");
  auto updates = trainFn->getAttrOfType<ArrayAttr>("shear.updates");
  auto lrArgs = trainFn->getAttrOfType<ArrayAttr>("shear.lr_args");
  std::vector<std::pair<std::string, std::string>> updateKeys;
  for (Attribute a : updates) {
    auto pair = cast<ArrayAttr>(a);
    updateKeys.push_back({absolutePath(cast<StringAttr>(pair[0]).getValue(), moduleDir),
                          cast<StringAttr>(pair[1]).getValue().str()});
  }

  ParamStore store;
  LoaderState loader;
  std::vector<double> refLoss;
  int64_t start = 0;
  auto log = [](const std::string &line) { llvm::outs() << line << "\n"; llvm::outs().flush(); };

  if (!resumeDir.empty()) {
    auto stateJson = readJsonFile(joinPath(resumeDir, "state.json"));
    if (!stateJson)
      return fail(2, llvm::toString(stateJson.takeError()));
    const llvm::json::Object *s = stateJson->getAsObject();
    std::vector<std::string> names = s ? jsonArray<std::string>(*s, "domains") : std::vector<std::string>();
    std::vector<std::string> want;
    for (const DomainInfo &d : manifest.domains)
      want.push_back(d.name);
    if (!s || names != want)
      return fail(2, resumeDir + "/state.json: its domains do not match " + o.dataDir);
    start = s->getInteger("step").value_or(0);
    loader.position = jsonArray<int64_t>(*s, "positions");
    loader.epoch = jsonArray<int64_t>(*s, "epochs");
    loader.weights = jsonArray<double>(*s, "weights");
    refLoss = jsonArray<double>(*s, "ref_loss");
    if (loader.position.size() != k || loader.epoch.size() != k || loader.weights.size() != k)
      return fail(2, resumeDir + "/state.json: data positions or weights missing");
    log("resuming " + o.outDir + " from " + resumeDir + " at step " + std::to_string(start));
  } else {
    loader.position.assign(k, 0);
    loader.epoch.assign(k, 0);
    for (const DomainInfo &d : manifest.domains) {
      auto it = o.initialWeights.find(d.name);
      loader.weights.push_back(o.initialWeights.empty() ? d.weight
                                                        : (it == o.initialWeights.end() ? 0 : it->second));
    }
    double total = 0;
    for (double w : loader.weights)
      total += w;
    if (!(total > 0))
      return fail(2, "--weights: the initial domain weights must have a positive sum");
    for (double &w : loader.weights)
      w /= total;
    if (o.dbl != DblMode::Off) {
      if (o.refLoss == "source") {
        OwningOpRef<ModuleOp> sourceModule = forwardOnly->clone();
        PassManager spm(&ctx);
        LowerToRuntimeOptions lo;
        lo.evalMasks = "none";
        spm.addPass(createLowerToRuntime(lo));
        if (failed(spm.run(*sourceModule)))
          return 2;
        auto source = Program::compile(sourceModule->lookupSymbol<func::FuncOp>("forward"),
                                       registry, moduleDir);
        if (failed(source))
          return 2;
        auto losses = evaluate(*source, store, data, o.evalSequences, o.batch, registry);
        if (!losses)
          return fail(2, llvm::toString(losses.takeError()));
        refLoss = *losses;
      } else {
        auto json = readJsonFile(o.refLoss);
        if (!json)
          return fail(2, llvm::toString(json.takeError()));
        const llvm::json::Object *obj = json->getAsObject();
        for (const DomainInfo &d : manifest.domains) {
          auto v = obj ? obj->getNumber(d.name) : std::nullopt;
          if (!v)
            return fail(2, o.refLoss + ": no reference loss for domain '" + d.name + "'");
          refLoss.push_back(*v);
        }
      }
      std::string line = "reference losses:";
      for (size_t d = 0; d < k; ++d)
        line += llvm::formatv(" {0} {1:F4}", manifest.domains[d].name, refLoss[d]).str();
      log(line);
    }
    // run.json: what this run is, for people and plots.
    llvm::json::Object ref, initial;
    for (size_t d = 0; d < k; ++d) {
      if (d < refLoss.size())
        ref[manifest.domains[d].name] = refLoss[d];
      initial[manifest.domains[d].name] = loader.weights[d];
    }
    llvm::json::Object run{{"mode", o.mode},
                           {"model", o.modelPath},
                           {"data", o.dataDir},
                           {"steps", o.steps},
                           {"batch", o.batch},
                           {"seq_len", manifest.seqLen},
                           {"lr", o.lr},
                           {"lr_gate", o.lrGate},
                           {"lr_lambda", o.lrLambda},
                           {"seed", static_cast<int64_t>(o.seed)},
                           {"eval_every", o.evalEvery},
                           {"dbl", o.dbl == DblMode::Paper ? "paper"
                                   : o.dbl == DblMode::Code ? "code"
                                                            : "off"},
                           {"ref_loss", std::move(ref)},
                           {"initial_weights", std::move(initial)}};
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(run))) << "\n";
    if (llvm::Error e = writeFileAtomically(joinPath(o.outDir, "run.json"), text))
      return fail(1, llvm::toString(std::move(e)));
  }

  // metrics.jsonl: keep what the resumed checkpoint had seen.
  std::string metricsPath = joinPath(o.outDir, "metrics.jsonl");
  {
    std::string kept;
    if (auto buf = llvm::MemoryBuffer::getFile(metricsPath)) {
      llvm::SmallVector<llvm::StringRef> lines;
      (*buf)->getBuffer().split(lines, '\n', -1, false);
      for (llvm::StringRef line : lines) {
        auto v = llvm::json::parse(line);
        if (!v) {
          llvm::consumeError(v.takeError());
          continue;
        }
        auto *obj = v->getAsObject();
        if (obj && obj->getInteger("step").value_or(INT64_MAX) <= start && start > 0)
          kept += line.str() + "\n";
      }
    }
    if (llvm::Error e = writeFileAtomically(metricsPath, kept))
      return fail(1, llvm::toString(std::move(e)));
  }
  std::error_code ec;
  llvm::raw_fd_ostream metrics(metricsPath, ec, llvm::sys::fs::OF_Append);
  if (ec)
    return fail(1, metricsPath + ": " + ec.message());

  double peak = measurePeakGflops();
  double flopsTok = flopsPerToken(*forwardOnly, manifest.seqLen);
  int64_t tokensPerStep = o.batch * manifest.seqLen;
  log(llvm::formatv("{0} {1} steps of {2} x {3} tokens on {4} threads; measured sgemm peak "
                    "{5:F1} GFLOP/s",
                    o.mode, o.steps, o.batch, manifest.seqLen, o.threads, peak)
          .str());

  BatchLoader batches(data, o.seed, loader);
  auto stateObject = [&](int64_t step) {
    llvm::json::Array domains, weights, positions, epochs, ref;
    for (size_t d = 0; d < k; ++d) {
      domains.push_back(manifest.domains[d].name);
      weights.push_back(batches.state().weights[d]);
      positions.push_back(batches.state().position[d]);
      epochs.push_back(batches.state().epoch[d]);
      if (d < refLoss.size())
        ref.push_back(refLoss[d]);
    }
    return llvm::json::Object{{"step", step},          {"steps", o.steps},
                              {"mode", o.mode},         {"seed", static_cast<int64_t>(o.seed)},
                              {"domains", std::move(domains)}, {"weights", std::move(weights)},
                              {"positions", std::move(positions)}, {"epochs", std::move(epochs)},
                              {"ref_loss", std::move(ref)}, {"model", o.modelPath},
                              {"data", o.dataDir}};
  };

  double trainSeconds = 0;
  int64_t timedSteps = 0;
  for (int64_t step = start; step < o.steps; ++step) {
    if (o.stopAfter >= 0 && step - start >= o.stopAfter) {
      log("stopping after " + std::to_string(o.stopAfter) + " steps (--stop-after)");
      metrics.flush();
      std::_Exit(3);
    }
    double t0 = now();
    std::vector<int64_t> domains;
    Tensor tokens = batches.next(step, o.batch, domains, log);
    auto [ids, labels] = splitInputsAndLabels(tokens);
    std::vector<Tensor> inputs = {ids, labels, Tensor::scalarI64(step)};
    for (Attribute a : lrArgs) {
      llvm::StringRef which = cast<StringAttr>(a).getValue();
      inputs.push_back(Tensor::scalar(static_cast<float>(
          which == "lr" ? learningRate(o, step) : which == "lr_gate" ? o.lrGate : o.lrLambda)));
    }
    auto out = train->run(inputs, store);
    if (!out)
      return fail(2, llvm::toString(out.takeError()));
    size_t nm = metricNames.size();
    for (size_t i = 0; i < updateKeys.size(); ++i)
      store.set(updateKeys[i].first, updateKeys[i].second, (*out)[nm + i]);
    double dt = now() - t0;
    trainSeconds += dt;
    ++timedSteps;
    std::map<std::string, double> metric;
    for (size_t i = 0; i < nm; ++i)
      metric[cast<StringAttr>(metricNames[i]).getValue().str()] = (*out)[i].f32()[0];
    if (!std::isfinite(metric["loss"]))
      return fail(1, "the loss is " + std::to_string(metric["loss"]) + " at step " +
                         std::to_string(step + 1) + ": stopping (last checkpoint kept)");

    // Evaluation and dynamic batch loading.
    std::vector<double> evalLoss;
    if (o.evalEvery > 0 && (step + 1) % o.evalEvery == 0) {
      auto losses = evaluate(*forward, store, data, o.evalSequences, o.batch, registry);
      if (!losses)
        return fail(2, llvm::toString(losses.takeError()));
      evalLoss = *losses;
      if (o.dbl != DblMode::Off)
        batches.state().weights =
            updateDomainWeights(o.dbl, batches.state().weights, evalLoss, refLoss);
    }

    double tokPerS = tokensPerStep / dt;
    double mfu = peak > 0 ? flopsTok * tokPerS / (peak * 1e9) : 0;
    double eta = (o.steps - step - 1) * (trainSeconds / timedSteps);
    llvm::json::Object record{{"step", step + 1},
                              {"loss", metric["loss"]},
                              {"lm_loss", metric["lm_loss"]},
                              {"lr", learningRate(o, step)},
                              {"grad_norm", metric["grad_norm"]},
                              {"tokens_per_s", tokPerS},
                              {"mfu", mfu}};
    std::string line = llvm::formatv("step {0,5}/{1}  loss {2:F4}  lm {3:F4}", step + 1, o.steps,
                                     metric["loss"], metric["lm_loss"])
                           .str();
    if (o.mode == "prune") {
      record["lagrangian"] = metric["lagrangian"];
      line += llvm::formatv("  lag {0:F4}  sparsity", metric["lagrangian"]).str();
      llvm::json::Object expected, target, l1, l2;
      for (const char *f : {"layer", "head", "kv_group", "intermediate", "hidden"}) {
        auto e = metric.find(std::string("expected_sparsity.") + f);
        if (e == metric.end())
          continue;
        double t = metric[std::string("target_sparsity.") + f];
        expected[f] = e->second;
        target[f] = t;
        line += llvm::formatv(" {0} {1:F3}/{2:F3}", f, e->second, t).str();
        for (auto [which, obj] : {std::make_pair("lambda1", &l1), std::make_pair("lambda2", &l2)}) {
          auto v = store.get(joinPath(stateDir, "lambdas.safetensors"),
                             std::string("shear.") + which + "." + f, {}, true);
          if (v)
            (*obj)[f] = v->f32()[0];
          else
            llvm::consumeError(v.takeError());
        }
      }
      record["expected_sparsity"] = std::move(expected);
      record["target_sparsity"] = std::move(target);
      record["lambda1"] = std::move(l1);
      record["lambda2"] = std::move(l2);
    }
    llvm::json::Object weights;
    for (size_t d = 0; d < k; ++d)
      weights[manifest.domains[d].name] = batches.state().weights[d];
    record["domain_weights"] = std::move(weights);
    line += llvm::formatv("  | {0:F0} tok/s  MFU {1:P1}  ETA {2}", tokPerS, mfu,
                          formatDuration(eta))
                .str();
    if (!evalLoss.empty()) {
      llvm::json::Object el;
      std::string evalLine = "  eval:";
      for (size_t d = 0; d < k; ++d) {
        el[manifest.domains[d].name] = evalLoss[d];
        evalLine += llvm::formatv(" {0} {1:F4} (w {2:F3})", manifest.domains[d].name, evalLoss[d],
                                  batches.state().weights[d])
                        .str();
      }
      record["eval_loss"] = std::move(el);
      line += "\n" + evalLine;
    }
    metrics << llvm::json::Value(std::move(record)) << "\n";
    metrics.flush();
    if (o.logEvery > 0 && ((step + 1) % o.logEvery == 0 || !evalLoss.empty() || step + 1 == o.steps))
      log(line);

    if (o.saveEvery > 0 && (step + 1) % o.saveEvery == 0 && step + 1 < o.steps) {
      std::string name = "ckpt-" + std::to_string(step + 1);
      if (llvm::Error e = writeCheckpoint(o.outDir, name, *forwardOnly, moduleDir, store,
                                          stateObject(step + 1)))
        return fail(1, llvm::toString(std::move(e)));
      log("saved " + joinPath(o.outDir, name));
    }
  }
  if (llvm::Error e =
          writeCheckpoint(o.outDir, "final", *forwardOnly, moduleDir, store, stateObject(o.steps)))
    return fail(1, llvm::toString(std::move(e)));
  log("saved " + joinPath(o.outDir, "final") + " (model.mlir)");
  return 0;
}

int shear::rt::evaluateOnData(const std::string &modelPath, const std::string &dataDir,
                              const std::string &evalMasks, int64_t evalSequences, int64_t batch,
                              int threads) {
  setNumThreads(threads);
  auto data = Dataset::open(dataDir);
  if (!data)
    return fail(2, llvm::toString(data.takeError()));
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module = parseModuleFile(ctx, modelPath);
  if (!module)
    return 2;
  PassManager pm(&ctx);
  LowerToRuntimeOptions lo;
  lo.evalMasks = evalMasks;
  pm.addPass(createLowerToRuntime(lo));
  if (failed(pm.run(*module)))
    return 2;
  auto fn = module->lookupSymbol<func::FuncOp>("forward");
  int64_t vocab = cast<RankedTensorType>(fn.getResultTypes()[0]).getDimSize(2);
  if ((*data)->manifest().vocabSize > vocab)
    return fail(2, dataDir + "/manifest.json: tokens go up to " +
                       llvm::Twine((*data)->manifest().vocabSize - 1) +
                       " but the model's vocabulary has " + llvm::Twine(vocab) + " entries");
  KernelRegistry registry;
  registerCpuKernels(registry);
  auto program = Program::compile(fn, registry, dirOf(modelPath));
  if (failed(program))
    return 2;
  ParamStore store;
  auto losses = evaluate(*program, store, **data, evalSequences, batch, registry);
  if (!losses)
    return fail(2, llvm::toString(losses.takeError()));
  llvm::json::Object out;
  for (size_t d = 0; d < losses->size(); ++d)
    out[(*data)->manifest().domains[d].name] = (*losses)[d];
  llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(out))) << "\n";
  return 0;
}
