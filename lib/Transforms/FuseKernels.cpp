//===- FuseKernels.cpp - fused kernels where they pay ---------------------===//
//
// lm_head + cross_entropy -> lm_head_cross_entropy(.train): the step's logits
// ([tokens, vocabulary]) and their gradient are never held whole.
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
    for (auto fn : getOperation().getOps<func::FuncOp>())
      fuseLoss(fn);
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
