//===- ReadWorkingCopies.cpp - evaluations read the masters' bf16 copies --===//
#include "WorkingCopies.h"

#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SetVector.h"

namespace shear {
#define GEN_PASS_DEF_READWORKINGCOPIES
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
struct ReadWorkingCopiesPass : shear::impl::ReadWorkingCopiesBase<ReadWorkingCopiesPass> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn->hasAttr("shear.training"))
        continue; // build-optimizer makes the step's copies, written by AdamW
      Block &body = fn.getBody().front();
      // One master per (file, name): the first read stands for the others.
      llvm::SetVector<std::pair<Attribute, Attribute>> seen;
      SmallVector<WeightOp> masters;
      for (auto w : body.getOps<WeightOp>())
        if (cast<RankedTensorType>(w.getType()).getElementType().isF32() &&
            seen.insert({w.getFileAttr(), w.getNameAttr()}))
          masters.push_back(w);
      for (WeightOp w : masters) {
        if (!replaceCastsByWorkingCopy(body, w))
          continue;
        // The master itself is no longer read here.
        for (auto read : llvm::make_early_inc_range(body.getOps<WeightOp>()))
          if (read.getFileAttr() == w.getFileAttr() && read.getNameAttr() == w.getNameAttr() &&
              read->use_empty() && read != w)
            read.erase();
        if (w->use_empty())
          w.erase();
      }
    }
  }
};
} // namespace
