//===- SplitAccumulation.cpp - a training step as micro-batches + update --===//
//
// @train_step = forward and backward of the batch, then the optimizer
// (all_reduce, global_norm, adamw). Split at the gradients into
// @train_micro, which adds a micro-batch's gradients to their step's sums,
// and @train_apply, which runs the optimizer on the sums: a step of N
// micro-batches is N runs of the first and one of the second, holding one
// micro-batch's activations at a time (Passes.td: split-accumulation).
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Support/Program.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"

namespace shear {
#define GEN_PASS_DEF_SPLITACCUMULATION
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {

bool isOptimizerKernel(Operation *op) {
  auto k = dyn_cast<KernelOp>(op);
  if (!k)
    return false;
  StringRef name = k.getCallee();
  return name == "adamw" || name == "global_norm" || name == "all_reduce";
}

struct SplitAccumulationPass : shear::impl::SplitAccumulationBase<SplitAccumulationPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto step = module.lookupSymbol<func::FuncOp>("train_step");
    if (!step)
      return; // nothing trains here
    if (!step->hasAttr("shear.updates") || step->hasAttr("shear.gradients")) {
      step.emitOpError("split-accumulation: run build-optimizer first");
      return signalPassFailure();
    }
    if (module.lookupSymbol("train_micro") || module.lookupSymbol("train_apply")) {
      step.emitOpError("split-accumulation: @train_micro or @train_apply exists already");
      return signalPassFailure();
    }
    if (failed(split(module, step)))
      signalPassFailure();
  }

  LogicalResult split(ModuleOp module, func::FuncOp step) {
    Block &body = step.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    auto metrics = step->getAttrOfType<ArrayAttr>("shear.metrics");
    auto updates = step->getAttrOfType<ArrayAttr>("shear.updates");
    auto lrArgs = step->getAttrOfType<ArrayAttr>("shear.lr_args");
    if (!metrics || !updates || !lrArgs || metrics.size() + updates.size() != ret.getNumOperands() ||
        step.getNumArguments() != 3 + lrArgs.size())
      return step.emitOpError("split-accumulation: a training step with (ids, labels, step, lr...) "
                              "arguments and (metrics..., updates...) results expected");

    // The optimizer: its kernels, and the weights only they read (moments).
    llvm::DenseSet<Operation *> optimizer;
    for (Operation &op : body)
      if (isOptimizerKernel(&op))
        optimizer.insert(&op);
    for (auto w : body.getOps<WeightOp>())
      if (!w->use_empty() &&
          llvm::all_of(w->getUsers(), [&](Operation *u) { return optimizer.contains(u); }))
        optimizer.insert(w);

    // The gradients: what the forward and backward compute and the
    // optimizer reads, each named after the parameter its adamw updates.
    llvm::MapVector<Value, WeightOp> gradientOf; // gradient -> its parameter's weight
    for (Operation &op : body) {
      auto k = dyn_cast<KernelOp>(op);
      if (!k || k.getCallee() != "adamw")
        continue;
      Value g = k.getArgs()[1];
      if (auto mean = g.getDefiningOp<KernelOp>(); mean && mean.getCallee() == "all_reduce")
        g = mean.getArgs()[0];
      auto param = k.getArgs()[0].getDefiningOp<WeightOp>();
      if (!param || !g.getDefiningOp() || optimizer.contains(g.getDefiningOp()))
        return k.emitOpError("split-accumulation: an adamw whose parameter is not a weight or "
                             "whose gradient is not computed by the backward pass");
      gradientOf.insert({g, param});
    }
    for (Operation *op : optimizer)
      for (Value v : op->getOperands()) {
        Operation *def = v.getDefiningOp();
        bool forward = def && !optimizer.contains(def) && !isa<WeightOp>(def);
        if (forward && !gradientOf.count(v))
          return op->emitOpError("split-accumulation: the optimizer reads a value that is not a "
                                 "parameter's gradient");
        auto arg = dyn_cast<BlockArgument>(v);
        if (arg && arg.getArgNumber() < 2)
          return op->emitOpError("split-accumulation: the optimizer reads the tokens");
      }
    for (Operation &op : body)
      if (!optimizer.contains(&op) && !isa<func::ReturnOp>(op))
        for (Value v : op.getOperands())
          if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.getArgNumber() >= 3)
            return op.emitOpError("split-accumulation: the forward reads a learning rate");

    MLIRContext *ctx = module.getContext();
    OpBuilder b(ctx);
    Location loc = step.getLoc();
    auto f32 = RankedTensorType::get({}, b.getF32Type());
    auto i64 = RankedTensorType::get({}, b.getI64Type());
    StringAttr stateFile = b.getStringAttr("optimizer.safetensors");
    for (Operation *op : optimizer)
      if (auto w = dyn_cast<WeightOp>(op))
        stateFile = w.getFileAttr(); // where the moments are
    auto sumName = [&](WeightOp param) {
      return b.getStringAttr((std::string(kGradientSumPrefix) + param.getName()).str());
    };
    auto sumOf = [&](OpBuilder &at, Value g, WeightOp param) {
      auto type = RankedTensorType::get(cast<RankedTensorType>(g.getType()).getShape(), at.getF32Type());
      auto w = WeightOp::create(at, loc, type, sumName(param), stateFile);
      w.setZeroInit(true);
      return w;
    };
    auto keyOf = [&](WeightOp w) { return b.getArrayAttr({w.getFileAttr(), w.getNameAttr()}); };

    // @train_micro(ids, labels, step, grad_scale, first): the forward and
    // backward, each gradient added to its sum where it is computed (so it
    // lives no longer than that).
    SmallVector<Type> microArgs = {step.getArgumentTypes()[0], step.getArgumentTypes()[1],
                                   step.getArgumentTypes()[2], f32, i64};
    b.setInsertionPointAfter(step);
    auto micro = func::FuncOp::create(b, loc, "train_micro", b.getFunctionType(microArgs, {}));
    Block *mb = micro.addEntryBlock();
    IRMapping toMicro;
    for (unsigned a = 0; a < 3; ++a)
      toMicro.map(body.getArgument(a), mb->getArgument(a));
    OpBuilder mbld = OpBuilder::atBlockEnd(mb);
    SmallVector<Value> sums;
    SmallVector<Attribute> sumKeys;
    for (Operation &op : body) {
      if (optimizer.contains(&op) || isa<func::ReturnOp>(op))
        continue;
      Operation *copy = mbld.clone(op, toMicro);
      for (auto [orig, now] : llvm::zip(op.getResults(), copy->getResults())) {
        auto it = gradientOf.find(orig);
        if (it == gradientOf.end())
          continue;
        WeightOp sum = sumOf(mbld, now, it->second);
        auto add = KernelOp::create(mbld, loc, TypeRange{sum.getType()}, mbld.getStringAttr("accumulate"),
                                    ValueRange{sum, now, mb->getArgument(3), mb->getArgument(4)});
        sums.push_back(add.getResult(0));
        sumKeys.push_back(keyOf(sum));
      }
    }
    SmallVector<Value> microResults;
    SmallVector<Attribute> microMetrics, applyMetrics;
    SmallVector<Value> applyMetricValues;
    for (size_t i = 0; i < metrics.size(); ++i) {
      Value v = ret.getOperand(i);
      Operation *def = v.getDefiningOp();
      if (def && optimizer.contains(def)) {
        applyMetrics.push_back(metrics[i]);
        applyMetricValues.push_back(v);
      } else {
        microMetrics.push_back(metrics[i]);
        microResults.push_back(toMicro.lookup(v));
      }
    }
    microResults.append(sums);
    func::ReturnOp::create(mbld, loc, microResults);
    micro.setType(b.getFunctionType(microArgs, ValueRange(microResults).getTypes()));
    micro->setAttr("shear.metrics", b.getArrayAttr(microMetrics));
    micro->setAttr("shear.updates", b.getArrayAttr(sumKeys));
    micro->setAttr("shear.micro_batch", b.getUnitAttr());

    // @train_apply(step, lr...): the optimizer on the sums. A sum averaged
    // over the ranks in place is returned as an update of itself (the
    // executor then averages it where it lies).
    SmallVector<Type> applyArgs(step.getArgumentTypes().drop_front(2));
    b.setInsertionPointAfter(micro);
    auto apply = func::FuncOp::create(b, loc, "train_apply", b.getFunctionType(applyArgs, {}));
    Block *ab = apply.addEntryBlock();
    IRMapping toApply;
    for (unsigned a = 2; a < body.getNumArguments(); ++a)
      toApply.map(body.getArgument(a), ab->getArgument(a - 2));
    OpBuilder abld = OpBuilder::atBlockEnd(ab);
    SmallVector<Value> averagedSums;
    SmallVector<Attribute> averagedKeys;
    for (Operation &op : body) {
      if (!optimizer.contains(&op))
        continue;
      for (Value v : op.getOperands()) {
        if (toApply.contains(v))
          continue;
        Operation *def = v.getDefiningOp();
        if (auto it = gradientOf.find(v); it != gradientOf.end())
          toApply.map(v, sumOf(abld, v, it->second).getResult());
        else if (def && isa<WeightOp>(def)) // a parameter or its working copy
          toApply.map(v, abld.clone(*def)->getResult(0));
      }
      Operation *copy = abld.clone(op, toApply);
      auto k = dyn_cast<KernelOp>(copy);
      if (k && k.getCallee() == "all_reduce")
        if (auto sum = k.getArgs()[0].getDefiningOp<WeightOp>()) {
          averagedSums.push_back(k.getResult(0));
          averagedKeys.push_back(keyOf(sum));
        }
    }
    SmallVector<Value> applyResults;
    for (Value v : applyMetricValues)
      applyResults.push_back(toApply.lookup(v));
    for (size_t i = metrics.size(); i < ret.getNumOperands(); ++i) {
      Value v = ret.getOperand(i);
      if (!v.getDefiningOp() || !optimizer.contains(v.getDefiningOp()))
        return step.emitOpError("split-accumulation: an update that the optimizer does not compute");
      applyResults.push_back(toApply.lookup(v));
    }
    applyResults.append(averagedSums);
    SmallVector<Attribute> applyUpdates(updates.begin(), updates.end());
    applyUpdates.append(averagedKeys);
    func::ReturnOp::create(abld, loc, applyResults);
    apply.setType(b.getFunctionType(applyArgs, ValueRange(applyResults).getTypes()));
    apply->setAttr("shear.metrics", b.getArrayAttr(applyMetrics));
    apply->setAttr("shear.updates", b.getArrayAttr(applyUpdates));
    apply->setAttr("shear.lr_args", lrArgs);
    return success();
  }
};
} // namespace
