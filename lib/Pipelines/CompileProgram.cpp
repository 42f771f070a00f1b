//===- CompileProgram.cpp - a model module to a program file --------------===//
#include "shear/Pipelines/CompileProgram.h"

#include "shear/Dialect/KernelCall.h"
#include "shear/Dialect/ShearOps.h"
#include "shear/Target/ArtifactPaths.h"
#include "shear/Target/ModelView.h"
#include "shear/Transforms/Passes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace mlir;
using namespace shear;

namespace {

llvm::Error compileError(StringRef source, const Twine &what) {
  return llvmFileError(source, what);
}

std::optional<DType> elementDType(Type t) {
  Type e = cast<RankedTensorType>(t).getElementType();
  if (e.isF32())
    return DType::F32;
  if (e.isBF16())
    return DType::BF16;
  if (e.isF16())
    return DType::F16;
  if (e.isF64())
    return DType::F64;
  if (e.isInteger(64))
    return DType::I64;
  if (e.isInteger(32))
    return DType::I32;
  return std::nullopt;
}

std::vector<int64_t> shapeOf(Type t) {
  std::vector<int64_t> s;
  for (int64_t d : cast<RankedTensorType>(t).getShape())
    s.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return s;
}

/// Whether a --recompute list (`layer`, or names separated by commas) makes
/// the working copies of the weights again before the backward.
bool recomputesWeights(StringRef recompute) {
  SmallVector<StringRef> names;
  recompute.split(names, ',', -1, false);
  for (StringRef n : names)
    if (n.trim() == "weights" || n.trim() == "layer")
      return true;
  return false;
}

std::string locString(Location loc) {
  if (auto f = dyn_cast<FileLineColLoc>(loc))
    return fileName(f.getFilename().getValue()) + ":" + std::to_string(f.getLine()) + ":" +
           std::to_string(f.getColumn());
  return "";
}

std::vector<std::string> namesOf(ArrayAttr list, bool pairs) {
  std::vector<std::string> out;
  if (!list)
    return out;
  for (Attribute a : list)
    out.push_back(pairs ? cast<StringAttr>(cast<ArrayAttr>(a)[1]).getValue().str()
                        : cast<StringAttr>(a).getValue().str());
  return out;
}

/// What makes two modules the same model: shape, configuration and masks.
std::string signatureOf(const ModelView &view) {
  std::string s = view.shape().str() + " vocab=" + std::to_string(view.config.vocabSize) +
                  " head_dim=" + std::to_string(view.config.headDim) +
                  " tied=" + std::to_string(view.config.tieWordEmbeddings);
  for (int i = 0; i < kNumMaskFamilies; ++i)
    if (view.masks[i])
      s += " " + familyName(static_cast<MaskFamily>(i)).str() +
           (view.masks[i]->isGate ? "-gate" : "-mask") + shapeToString(view.masks[i]->tensor.shape);
  return s;
}

/// The module a checkpoint writes as model.mlir: weights in the checkpoint's
/// own files, float32 (checkpoints hold the master weights).
FailureOr<std::string> checkpointModule(ModuleOp forward, StringRef moduleDir) {
  OwningOpRef<ModuleOp> copy = forward.clone();
  const char *dir = "/checkpoint";
  copy->walk([&](WeightOp w) {
    w.setFileAttr(StringAttr::get(w.getContext(), checkpointFileFor(w.getName().str())));
  });
  auto view = readModelView(*copy, dir);
  if (failed(view))
    return failure();
  for (auto *w : {&view->embed, &view->finalNorm, &view->lmHead})
    w->dtype = DType::F32;
  for (LayerWeights &l : view->layers)
    for (WeightRef *w : {&l.inputNorm, &l.q, &l.k, &l.v, &l.o, &l.postNorm, &l.gate, &l.up, &l.down})
      w->dtype = DType::F32;
  emitModelView(*copy, *view, dir);
  std::string text;
  llvm::raw_string_ostream os(text);
  copy->print(os);
  os << "\n";
  return text;
}

/// --offload optimizer: what only AdamW reads is held in host memory, where
/// its calls then run: the moments, and the float32 masters of a program
/// whose kernels read bf16 working copies (every other reader of a master,
/// a cast made again for --recompute weights, keeps it on the device).
void placeOptimizerStateOnHost(ProgramFile &p) {
  // adamw's operand w: the working copy, which the forward reads.
  const int copySlot = kernelDecl(KernelId::AdamW).operandIndex("w");
  std::vector<bool> others(p.weights.size(), false), read(p.weights.size(), false);
  for (const ProgramFunction &f : p.functions) {
    std::map<int, int> weightOf; // value -> weight index
    for (const ProgramInstr &in : f.body) {
      if (in.kind == ProgramInstr::Kind::Weight) {
        weightOf[in.results[0]] = in.weight;
        continue;
      }
      for (size_t s = 0; s < in.operands.size(); ++s) {
        auto w = weightOf.find(in.operands[s]);
        if (w == weightOf.end())
          continue;
        read[w->second] = true;
        if (in.kernel != KernelId::AdamW || static_cast<int>(s) == copySlot)
          others[w->second] = true;
      }
    }
  }
  for (size_t i = 0; i < p.weights.size(); ++i)
    p.weights[i].host = read[i] && !others[i];
}

LogicalResult runPasses(ModuleOp module, const std::function<void(PassManager &)> &build) {
  PassManager pm(module.getContext());
  build(pm);
  return pm.run(module);
}

} // namespace

llvm::Error shear::emitProgramFunction(func::FuncOp fn, StringRef moduleDir, ProgramFile &program,
                                       StringRef as) {
  ProgramFunction f;
  f.name = as.str();
  llvm::DenseMap<Value, int> ids;
  auto define = [&](Value v) -> llvm::Expected<int> {
    auto dtype = elementDType(v.getType());
    if (!dtype) {
      std::string type;
      llvm::raw_string_ostream os(type);
      os << v.getType();
      return compileError(fn.getName(), "a value of type " + type + " cannot be run");
    }
    int id = static_cast<int>(f.values.size());
    f.values.push_back(ValueType{*dtype, shapeOf(v.getType())});
    ids[v] = id;
    return id;
  };
  Block &body = fn.getBody().front();
  for (BlockArgument a : body.getArguments()) {
    auto id = define(a);
    if (!id)
      return id.takeError();
    f.args.push_back(*id);
  }
  for (Operation &op : body) {
    ProgramInstr in;
    in.loc = locString(op.getLoc());
    if (auto w = dyn_cast<WeightOp>(op)) {
      ProgramWeight pw;
      pw.name = w.getName().str();
      pw.zeroInit = w.getZeroInit();
      pw.tensor = w.getTensor().value_or("").str();
      pw.frozen = w.getFrozen();
      pw.file = absolutePath(w.getFile(), moduleDir);
      pw.dtype = *elementDType(w.getType());
      pw.shape = shapeOf(w.getType());
      int index = -1;
      for (size_t i = 0; i < program.weights.size(); ++i)
        if (program.weights[i].name == pw.name)
          index = static_cast<int>(i);
      if (index < 0) {
        index = static_cast<int>(program.weights.size());
        program.weights.push_back(pw);
      } else {
        const ProgramWeight &old = program.weights[index];
        if (old.shape != pw.shape || old.file != pw.file || old.zeroInit != pw.zeroInit ||
            old.tensor != pw.tensor || old.dtype != pw.dtype)
          return compileError(pw.file, "weight '" + pw.name +
                                           "' is read with two different files, shapes or types");
      }
      in.kind = ProgramInstr::Kind::Weight;
      in.weight = index;
      auto id = define(w.getResult());
      if (!id)
        return id.takeError();
      in.results.push_back(*id);
    } else if (auto k = dyn_cast<KernelOp>(op)) {
      auto call = analyzeKernelCall(k);
      if (failed(call))
        return compileError(fn.getName(), "a kernel call does not match the kernel table");
      in.kind = ProgramInstr::Kind::Kernel;
      in.kernel = call->decl->id;
      in.attrs = call->attrs;
      for (size_t s = 0; s < call->decl->operands.size(); ++s) {
        if (call->decl->operands[s].arity == OperandDecl::Variadic)
          continue;
        int index = call->slots.operands[s];
        in.operands.push_back(index < 0 ? -1 : ids.lookup(k.getArgs()[index]));
      }
      for (int index : call->slots.variadic)
        in.operands.push_back(ids.lookup(k.getArgs()[index]));
      for (int index : call->slots.results) {
        if (index < 0) {
          in.results.push_back(-1);
          continue;
        }
        auto id = define(k.getResult(index));
        if (!id)
          return id.takeError();
        in.results.push_back(*id);
      }
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        f.returns.push_back(ids.lookup(v));
      continue;
    } else {
      op.emitOpError("cannot be run: lower the module with --lower-to-runtime first");
      return compileError(fn.getName(), "the function is not lowered to kernels");
    }
    f.body.push_back(std::move(in));
  }
  f.metrics = namesOf(fn->getAttrOfType<ArrayAttr>("shear.metrics"), false);
  f.updates = namesOf(fn->getAttrOfType<ArrayAttr>("shear.updates"), true);
  f.gradients = namesOf(fn->getAttrOfType<ArrayAttr>("shear.gradients"), true);
  f.lrArgs = namesOf(fn->getAttrOfType<ArrayAttr>("shear.lr_args"), false);
  // A returned value that a kernel wrote in place into an argument: the
  // argument is updated in place (the decode step's KV caches).
  std::map<int, std::pair<int, int>> writtenInto; // value -> (argument value, kernel)
  for (const ProgramInstr &in : f.body) {
    if (in.kind != ProgramInstr::Kind::Kernel)
      continue;
    const KernelDecl &decl = kernelDecl(in.kernel);
    for (size_t r = 0; r < decl.results.size(); ++r)
      if (decl.results[r].updates >= 0 && in.results[r] >= 0)
        writtenInto[in.results[r]] = {in.operands[decl.results[r].updates], 0};
  }
  for (size_t r = 0; r < f.returns.size(); ++r) {
    auto it = writtenInto.find(f.returns[r]);
    if (it == writtenInto.end())
      continue;
    for (size_t a = 0; a < f.args.size(); ++a)
      if (f.args[a] == it->second.first)
        f.inouts.push_back({static_cast<int>(a), static_cast<int>(r)});
  }
  program.functions.push_back(std::move(f));
  return llvm::Error::success();
}

llvm::Expected<ProgramFile> shear::compileProgram(ModuleOp module, StringRef moduleDir,
                                                  StringRef sourcePath, const CompileOptions &o) {
  auto failed = [&](StringRef what) {
    return compileError(sourcePath, "cannot be compiled for " + o.mode + ": " + what);
  };
  auto view = readModelView(module, moduleDir);
  if (mlir::failed(view))
    return failed("not a shear model (see above)");
  ProgramFile p;
  p.mode = o.mode;
  p.source = sourcePath.str();
  p.baseDir = absolutePath(moduleDir, ".");
  const ModelConfig &c = view->config;
  p.model = ProgramModel{c.numLayers, c.hiddenSize, c.numHeads, c.numKvHeads, c.headDim,
                         c.intermediateSize, c.vocabSize, c.bosTokenId.value_or(-1),
                         c.eosTokenId.value_or(-1), view->hasMasks(), signatureOf(*view)};

  auto lowered = [&](const std::function<void(PassManager &)> &build)
      -> FailureOr<OwningOpRef<ModuleOp>> {
    OwningOpRef<ModuleOp> copy = module.clone();
    if (mlir::failed(runPasses(*copy, build)))
      return failure();
    return copy;
  };
  auto add = [&](ModuleOp m, StringRef name, StringRef as) -> llvm::Error {
    auto fn = m.lookupSymbol<func::FuncOp>(name);
    if (!fn)
      return failed(("no function @" + name).str());
    return emitProgramFunction(fn, moduleDir, p, as);
  };
  // lm_head + cross_entropy fused: the logits of a step never held whole.
  FuseKernelsOptions fuse;
  fuse.lossChunk = o.lossChunk;
  if (o.lossChunk != 0)
    p.compiledWith["loss_chunk"] = o.lossChunk;
  if (!o.fuseKernels)
    p.compiledWith["fuse_kernels"] = false;
  auto addFuse = [&](PassManager &pm) {
    if (o.fuseKernels)
      pm.addPass(createFuseKernels(fuse));
  };
  // Every function holds its weights and activations in the program's
  // precision; programs that train keep float32 masters of what they train.
  if (o.precision != "f32" && o.precision != "bf16")
    return compileError(sourcePath, "unknown precision '" + o.precision + "' (expected f32 or bf16)");
  p.compiledWith["precision"] = o.precision;
  bool trains = o.mode == "prune" || o.mode == "train" || o.mode == "gradients";
  auto addPrecision = [&](PassManager &pm) {
    AssignPrecisionOptions ap;
    ap.dtype = o.precision;
    ap.masterWeights = trains;
    pm.addPass(createAssignPrecision(ap));
  };
  // A bf16 training step keeps working copies of its weights, written by
  // AdamW, which the evaluations between steps read too (unless --recompute
  // weights asks for the casts to be made again: then there are none).
  bool workingCopies = (o.mode == "prune" || o.mode == "train") && o.precision == "bf16" &&
                       !recomputesWeights(o.recompute);
  auto evalLoss = [&](StringRef masks, StringRef as) -> llvm::Error {
    auto m = lowered([&](PassManager &pm) {
      pm.addPass(createBuildEvalStep());
      LowerToRuntimeOptions lo;
      lo.evalMasks = masks.str();
      pm.addPass(createLowerToRuntime(lo));
      addFuse(pm);
      addPrecision(pm);
      if (workingCopies)
        pm.addPass(createReadWorkingCopies());
    });
    if (mlir::failed(m))
      return failed("lowering the evaluation failed (see above)");
    return add(**m, "eval_loss", as);
  };

  if (o.mode == "eval") {
    p.compiledWith["eval_masks"] = o.evalMasks;
    auto m = lowered([&](PassManager &pm) {
      pm.addPass(createBuildEvalStep());
      LowerToRuntimeOptions lo;
      lo.evalMasks = o.evalMasks;
      pm.addPass(createLowerToRuntime(lo));
      addFuse(pm);
      addPrecision(pm);
    });
    if (mlir::failed(m))
      return failed("lowering failed (see above)");
    if (llvm::Error e = add(**m, "forward", "forward"))
      return std::move(e);
    if (llvm::Error e = add(**m, "eval_loss", "eval_loss"))
      return std::move(e);
  } else if (o.mode == "importance") {
    // The source model's statistics: a masked model runs with every mask 1.
    auto m = lowered([&](PassManager &pm) {
      LowerToRuntimeOptions lo;
      lo.evalMasks = "none";
      pm.addPass(createLowerToRuntime(lo));
      pm.addPass(createBuildImportanceStep());
      addPrecision(pm);
    });
    if (mlir::failed(m))
      return failed("lowering failed (see above)");
    if (llvm::Error e = add(**m, "importance", "importance"))
      return std::move(e);
  } else if (o.mode == "generate") {
    auto m = lowered([&](PassManager &pm) {
      pm.addPass(createBuildDecodeStep());
      LowerToRuntimeOptions lo;
      lo.evalMasks = "target";
      pm.addPass(createLowerToRuntime(lo));
      addPrecision(pm);
    });
    if (mlir::failed(m))
      return failed("lowering failed (see above)");
    if (llvm::Error e = add(**m, "decode", "decode"))
      return std::move(e);
  } else if (o.mode == "prune" || o.mode == "train" || o.mode == "gradients") {
    std::string stepMode = o.mode == "gradients" ? o.gradientsOf : o.mode;
    p.compiledWith["seed"] = static_cast<int64_t>(o.seed);
    p.compiledWith["target_warmup_steps"] = o.targetWarmupSteps;
    if (o.mode != "gradients")
      p.compiledWith["max_norm"] = o.maxNorm;
    else
      p.compiledWith["step_of"] = stepMode;
    if (!o.recompute.empty())
      p.compiledWith["recompute"] = o.recompute;
    if (!o.distillFrom.empty()) {
      p.compiledWith["distill_from"] = absolutePath(o.distillFrom, ".");
      p.compiledWith["distill_temperature"] = o.distillTemperature;
      p.compiledWith["distill_alpha"] = o.distillAlpha;
    }
    auto m = lowered([&](PassManager &pm) {
      BuildTrainStepOptions ts;
      ts.mode = stepMode;
      ts.seed = o.seed;
      ts.warmupSteps = o.targetWarmupSteps;
      ts.distillFrom = o.distillFrom.empty() ? "" : absolutePath(o.distillFrom, ".");
      ts.distillTemperature = o.distillTemperature;
      ts.distillAlpha = o.distillAlpha;
      pm.addPass(createBuildTrainStep(ts));
      pm.addPass(createLowerToRuntime());
      addFuse(pm);
      addPrecision(pm);
      pm.addPass(createDifferentiate());
      if (!o.recompute.empty()) {
        RecomputeOptions rc;
        rc.kernels = o.recompute;
        pm.addPass(createRecompute(rc));
      }
      if (o.mode != "gradients") {
        pm.addPass(createDataParallel()); // a no-op on one rank
        BuildOptimizerOptions opt;
        opt.maxNorm = o.maxNorm;
        // bf16 working copies written by AdamW, unless they are to be cast
        // again before the backward (memory over the cast's traffic).
        opt.workingCopies = workingCopies;
        pm.addPass(createBuildOptimizer(opt));
        // The same step as micro-batches and one update (--micro-batch).
        pm.addPass(createSplitAccumulation());
      }
    });
    if (mlir::failed(m))
      return failed("building the training step failed (see above)");
    if (llvm::Error e = add(**m, "train_step", "train_step"))
      return std::move(e);
    if (o.mode != "gradients")
      for (const char *name : {"train_micro", "train_apply"})
        if (llvm::Error e = add(**m, name, name))
          return std::move(e);
    if (!o.offload.empty()) {
      if (o.offload != "optimizer" || o.mode == "gradients")
        return failed("--offload takes optimizer (the moments of a run's AdamW), got '" + o.offload + "'");
      p.compiledWith["offload"] = o.offload;
    }
    if (o.mode != "gradients") {
      // A run's multipliers and moments start at zero (or come from the
      // checkpoint it resumes), never from files that happen to lie beside
      // the model.
      for (ProgramWeight &w : p.weights)
        if (w.zeroInit)
          w.file.clear();
      if (llvm::Error e = evalLoss("expected", "eval_loss"))
        return std::move(e);
      if (view->hasMasks())
        if (llvm::Error e = evalLoss("none", "source_eval_loss"))
          return std::move(e);
      if (!o.offload.empty())
        placeOptimizerStateOnHost(p);
      // A working copy the step does not rewrite would be read stale.
      const ProgramFunction &step = p.functions.front();
      for (const ProgramFunction &f : p.functions)
        for (const ProgramInstr &in : f.body)
          if (in.kind == ProgramInstr::Kind::Weight &&
              !workingCopyOf(p.weights[in.weight].name).empty() &&
              std::find(step.updates.begin(), step.updates.end(), p.weights[in.weight].name) ==
                  step.updates.end())
            return failed("@" + f.name + " reads the working copy '" + p.weights[in.weight].name +
                          "' that the training step does not update");
      auto text = checkpointModule(module, moduleDir);
      if (mlir::failed(text))
        return failed("the checkpoint module cannot be written");
      p.checkpointModule = *text;
      module.walk([&](WeightOp w) {
        std::string name = w.getName().str();
        if (std::find(p.checkpointWeights.begin(), p.checkpointWeights.end(), name) ==
            p.checkpointWeights.end())
          p.checkpointWeights.push_back(name);
      });
    }
  } else {
    return compileError(sourcePath, "unknown mode '" + o.mode +
                                        "' (expected eval, prune, train, generate, gradients or importance)");
  }
  Status verified = verifyProgram(p);
  if (!verified.ok())
    return compileError(sourcePath, "internal error: the compiled program is invalid: " +
                                        verified.message());
  return p;
}
