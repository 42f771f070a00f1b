//===- BuildOptimizer.cpp - clipping and AdamW as kernels -----------------===//
#include "WorkingCopies.h"

#include "shear/Dialect/ShearOps.h"
#include "shear/Support/GateMath.h"
#include "shear/Support/Program.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace shear {
#define GEN_PASS_DEF_BUILDOPTIMIZER
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
enum Group { Theta = 0, Gate = 1, Lambda = 2 };
const char *const kGroupArg[] = {"lr", "lr_gate", "lr_lambda"};

Group groupOf(StringRef name) {
  if (name.starts_with("shear.gate."))
    return Gate;
  if (name.starts_with("shear.lambda"))
    return Lambda;
  return Theta;
}

struct BuildOptimizerPass : shear::impl::BuildOptimizerBase<BuildOptimizerPass> {
  using Base::Base;

  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (fn->hasAttr("shear.gradients") && failed(build(fn)))
        return signalPassFailure();
  }

  LogicalResult build(func::FuncOp fn) {
    Block &body = fn.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    auto keys = fn->getAttrOfType<ArrayAttr>("shear.gradients");
    auto metrics = fn->getAttrOfType<ArrayAttr>("shear.metrics");
    size_t numMetrics = ret.getNumOperands() - keys.size();
    if (!metrics || metrics.size() != numMetrics)
      return fn.emitOpError("build-optimizer: shear.metrics must name every non-gradient result");

    // The weight each gradient belongs to.
    SmallVector<WeightOp> params;
    for (Attribute key : keys) {
      auto pair = cast<ArrayAttr>(key);
      WeightOp found;
      for (auto w : body.getOps<WeightOp>())
        if (w.getFileAttr() == pair[0] && w.getNameAttr() == pair[1])
          found = w;
      if (!found)
        return fn.emitOpError() << "build-optimizer: no weight for gradient " << pair;
      params.push_back(found);
    }

    OpBuilder b(ret);
    Location loc = fn.getLoc();
    auto scalarF32 = RankedTensorType::get({}, b.getF32Type());
    ValueRange grads = ret.getOperands().drop_front(numMetrics);
    Value norm = KernelOp::create(b, loc, TypeRange{scalarF32}, b.getStringAttr("global_norm"),
                                  grads)
                     .getResult(0);

    // One learning-rate argument per group present, in group order.
    bool present[3] = {};
    for (WeightOp w : params)
      present[groupOf(w.getName())] = true;
    Value lr[3];
    SmallVector<Type> argTypes(fn.getArgumentTypes());
    SmallVector<Attribute> lrNames;
    for (int g = 0; g < 3; ++g)
      if (present[g]) {
        lr[g] = body.addArgument(scalarF32, loc);
        argTypes.push_back(scalarF32);
        lrNames.push_back(b.getStringAttr(kGroupArg[g]));
      }
    Value step = fn.getArgument(2);

    SmallVector<Value> newParams, moments1, moments2, copies;
    SmallVector<Attribute> paramKeys, m1Keys, m2Keys, copyKeys;
    for (auto [param, g] : llvm::zip(params, grads)) {
      auto w = param; // a lambda below captures it (structured bindings: C++20)
      auto type = RankedTensorType::get(cast<RankedTensorType>(w.getType()).getShape(),
                                        b.getF32Type());
      auto state = [&](StringRef prefix) {
        auto s = WeightOp::create(b, loc, type, b.getStringAttr((prefix + w.getName()).str()),
                                  b.getStringAttr(optimizerState));
        s.setZeroInit(true);
        return s;
      };
      WeightOp m = state("adam.m:"), v = state("adam.v:");
      Group group = groupOf(w.getName());
      SmallVector<Value> operands = {w, g, m, v, norm, lr[group], step};
      SmallVector<Type> types = {type, type, type};
      WeightOp copy = workingCopies ? replaceCastsByWorkingCopy(body, w) : nullptr;
      if (copy) {
        operands.push_back(copy);
        types.push_back(copy.getType());
      }
      auto update = KernelOp::create(b, loc, types, b.getStringAttr("adamw"), operands);
      if (copy) {
        update->setAttr("masks", b.getStrArrayAttr({"w"})); // the optional operand given
        copies.push_back(update.getResult(3));
        copyKeys.push_back(b.getArrayAttr({copy.getFileAttr(), copy.getNameAttr()}));
      }
      update->setAttr("beta1", b.getF64FloatAttr(beta1));
      update->setAttr("beta2", b.getF64FloatAttr(beta2));
      update->setAttr("eps", b.getF64FloatAttr(epsilon));
      update->setAttr("weight_decay", b.getF64FloatAttr(group == Theta ? weightDecay : 0.0));
      update->setAttr("max_norm", b.getF64FloatAttr(maxNorm));
      if (group == Gate)
        update->setAttr("clamp", b.getF64FloatAttr(gate::logAlphaLimit()));
      newParams.push_back(update.getResult(0));
      moments1.push_back(update.getResult(1));
      moments2.push_back(update.getResult(2));
      paramKeys.push_back(b.getArrayAttr({w.getFileAttr(), w.getNameAttr()}));
      m1Keys.push_back(b.getArrayAttr({m.getFileAttr(), m.getNameAttr()}));
      m2Keys.push_back(b.getArrayAttr({v.getFileAttr(), v.getNameAttr()}));
    }

    SmallVector<Value> results(ret.getOperands().take_front(numMetrics));
    results.push_back(norm);
    results.append(newParams);
    results.append(moments1);
    results.append(moments2);
    results.append(copies);
    SmallVector<Attribute> updates(paramKeys);
    updates.append(m1Keys);
    updates.append(m2Keys);
    updates.append(copyKeys);
    SmallVector<Attribute> names(metrics.begin(), metrics.end());
    names.push_back(b.getStringAttr("grad_norm"));

    func::ReturnOp::create(b, loc, results);
    ret.erase();
    fn.setType(b.getFunctionType(argTypes, ValueRange(results).getTypes()));
    fn->removeAttr("shear.gradients");
    fn->setAttr("shear.metrics", b.getArrayAttr(names));
    fn->setAttr("shear.updates", b.getArrayAttr(updates));
    fn->setAttr("shear.lr_args", b.getArrayAttr(lrNames));
    return success();
  }
};
} // namespace
