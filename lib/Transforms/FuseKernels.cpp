//===- FuseKernels.cpp - fused kernels where they pay ---------------------===//
//
// lm_head + cross_entropy -> lm_head_cross_entropy(.train): the step's logits
// ([tokens, vocabulary]) and their gradient are never held whole.
// residual_add + rms_norm of its result (under the same hidden mask) ->
// residual_add_rms_norm: the residual stream read once for both.
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/KernelCall.h"
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace shear {
#define GEN_PASS_DEF_FUSEKERNELS
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {

struct FuseKernelsPass : shear::impl::FuseKernelsBase<FuseKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (lossChunk < 0) {
      getOperation().emitError() << "fuse-kernels: loss-chunk must be 0 or positive, got "
                               << static_cast<int64_t>(lossChunk);
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      fuseLoss(fn);
      fuseResidualNorm(fn);
    }
  }

  /// The optional operand `name` of kernel call `k` (null when absent).
  static Value optionalOperand(KernelOp k, StringRef name) {
    auto call = analyzeKernelCall(k);
    if (failed(call))
      return {};
    int slot = call->decl->operandIndex(name.str());
    int index = slot < 0 ? -1 : call->slots.operands[slot];
    return index < 0 ? Value() : k.getArgs()[index];
  }

  void fuseResidualNorm(func::FuncOp fn) {
    SmallVector<KernelOp> norms;
    fn.walk([&](KernelOp k) {
      if (k.getCallee() != "rms_norm")
        return;
      auto residual = k.getArgs()[0].getDefiningOp<KernelOp>();
      // The residual stream must go on past the norm (the last one, before
      // the final norm, does not: fused, it would need a zero cotangent).
      if (!residual || residual.getCallee() != "residual_add" || residual.getResult(0).hasOneUse() ||
          optionalOperand(k, "hidden") != optionalOperand(residual, "hidden"))
        return;
      // The fused kernel takes the residual's place: the norm's weight must be
      // there by then (a weight read moves; anything else stays unfused).
      Value w = k.getArgs()[1];
      Operation *def = w.getDefiningOp();
      if (def && def->getBlock() == residual->getBlock() && residual->isBeforeInBlock(def) &&
          !(isa<WeightOp>(def) && def->getNumOperands() == 0))
        return;
      norms.push_back(k);
    });
    for (KernelOp norm : norms) {
      auto residual = norm.getArgs()[0].getDefiningOp<KernelOp>();
      Value w = norm.getArgs()[1];
      if (Operation *def = w.getDefiningOp(); def && residual->isBeforeInBlock(def))
        def->moveBefore(residual);
      Value layer = optionalOperand(residual, "layer"), hidden = optionalOperand(residual, "hidden");
      SmallVector<Value> args = {residual.getArgs()[0], residual.getArgs()[1], w};
      SmallVector<Attribute> masks;
      OpBuilder b(residual);
      for (auto [name, v] : {std::pair{"layer", layer}, std::pair{"hidden", hidden}})
        if (v) {
          args.push_back(v);
          masks.push_back(b.getStringAttr(name));
        }
      Type t = residual.getResult(0).getType();
      auto fused = KernelOp::create(b, residual.getLoc(), TypeRange{t, norm.getResult(0).getType()},
                                    b.getStringAttr("residual_add_rms_norm"), args);
      fused->setAttr("eps", norm->getAttr("eps"));
      if (!masks.empty())
        fused->setAttr("masks", b.getArrayAttr(masks));
      residual.getResult(0).replaceAllUsesWith(fused.getResult(0));
      norm.getResult(0).replaceAllUsesWith(fused.getResult(1));
      norm.erase();
      residual.erase();
    }
  }

  void fuseLoss(func::FuncOp fn) {
    bool training = fn->hasAttr("shear.training");
    SmallVector<KernelOp> losses;
    fn.walk([&](KernelOp k) {
      if (k.getCallee() != "cross_entropy" || k.getArgs().size() != 2)
        return;
      auto head = k.getArgs()[0].getDefiningOp<KernelOp>();
      if (head && head.getCallee() == "lm_head" && head.getArgs().size() == 2 &&
          head.getResult(0).hasOneUse())
        losses.push_back(k);
    });
    for (KernelOp ce : losses) {
      auto head = ce.getArgs()[0].getDefiningOp<KernelOp>();
      Value x = head.getArgs()[0], w = head.getArgs()[1], labels = ce.getArgs()[1];
      OpBuilder b(ce);
      SmallVector<Type> types = {ce.getResult(0).getType()};
      if (training)
        types.append({gradientType(x), gradientType(w)});
      auto fused = KernelOp::create(
          b, ce.getLoc(), types,
          b.getStringAttr(training ? "lm_head_cross_entropy.train" : "lm_head_cross_entropy"),
          ValueRange{x, w, labels});
      fused->setAttr("ignore_index", ce->getAttr("ignore_index"));
      if (Attribute tied = head->getAttr("tied"))
        fused->setAttr("tied", tied);
      if (lossChunk > 0)
        fused->setAttr("chunk", b.getI64IntegerAttr(lossChunk));
      ce.getResult(0).replaceAllUsesWith(fused.getResult(0));
      ce.erase();
      head.erase();
    }
  }
};
} // namespace
