//===- BuildEvalStep.cpp - the evaluation loss of a batch -----------------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace shear {
#define GEN_PASS_DEF_BUILDEVALSTEP
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
struct BuildEvalStepPass : shear::impl::BuildEvalStepBase<BuildEvalStepPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("build-eval-step: no func.func @forward");
      return signalPassFailure();
    }
    if (auto old = module.lookupSymbol<func::FuncOp>("eval_loss"))
      old.erase();
    OpBuilder b(&getContext());
    b.setInsertionPointToEnd(module.getBody());
    Location loc = forward.getLoc();
    Type idsType = forward.getArgumentTypes()[0];
    auto scalarF32 = RankedTensorType::get({}, b.getF32Type());
    auto fn = func::FuncOp::create(b, loc, "eval_loss",
                                   b.getFunctionType({idsType, idsType}, {scalarF32}));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    IRMapping map;
    map.map(forward.getArgument(0), entry->getArgument(0));
    for (Operation &op : forward.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        Value logits = map.lookup(ret.getOperand(0));
        auto loss = CrossEntropyOp::create(b, loc, scalarF32, logits, entry->getArgument(1));
        loss.setIgnoreIndex(-100);
        func::ReturnOp::create(b, loc, ValueRange{loss});
        break;
      }
      b.clone(op, map);
    }
  }
};
} // namespace
