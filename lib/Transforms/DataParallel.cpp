//===- DataParallel.cpp - average gradients over the ranks ----------------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace shear {
#define GEN_PASS_DEF_DATAPARALLEL
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
struct DataParallelPass : shear::impl::DataParallelBase<DataParallelPass> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (!fn->hasAttr("shear.training"))
        continue;
      auto keys = fn->getAttrOfType<ArrayAttr>("shear.gradients");
      if (!keys) {
        fn.emitOpError() << "data-parallel: @" << fn.getName()
                         << " has no gradients: run --differentiate first";
        return signalPassFailure();
      }
      if (fn->hasAttr("shear.data_parallel"))
        continue;
      auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
      size_t first = ret.getNumOperands() - keys.size();
      llvm::DenseMap<Value, Value> averaged;
      for (size_t i = first; i < ret.getNumOperands(); ++i) {
        Value g = ret.getOperand(i);
        Value &mean = averaged[g];
        if (!mean) {
          OpBuilder b(fn.getContext());
          if (Operation *def = g.getDefiningOp())
            b.setInsertionPointAfter(def);
          else
            b.setInsertionPointToStart(&fn.getBody().front());
          mean = KernelOp::create(b, g.getLoc(), TypeRange{g.getType()},
                                  b.getStringAttr("all_reduce"), ValueRange{g})
                     .getResult(0);
        }
        ret.setOperand(i, mean);
      }
      fn->setAttr("shear.data_parallel", UnitAttr::get(fn.getContext()));
    }
  }
};
} // namespace
