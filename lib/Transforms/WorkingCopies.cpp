//===- WorkingCopies.cpp - master weights read through their bf16 copies --===//
#include "WorkingCopies.h"

#include "shear/Support/Program.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace shear;

namespace {
/// The casts of every read of weight `w`, and the first of those reads
/// (which the others follow in the block).
SmallVector<KernelOp> castsOf(Block &body, WeightOp w, WeightOp &first) {
  SmallVector<KernelOp> casts;
  first = nullptr;
  for (auto other : body.getOps<WeightOp>()) {
    if (other.getFileAttr() != w.getFileAttr() || other.getNameAttr() != w.getNameAttr())
      continue;
    if (!first)
      first = other;
    for (Operation *user : other->getUsers())
      if (auto k = dyn_cast<KernelOp>(user); k && k.getCallee() == "cast")
        casts.push_back(k);
  }
  return casts;
}
} // namespace

WeightOp shear::replaceCastsByWorkingCopy(Block &body, WeightOp w) {
  WeightOp first;
  SmallVector<KernelOp> casts = castsOf(body, w, first);
  if (casts.empty())
    return nullptr;
  for (KernelOp c : casts)
    if (c.getResult(0).getType() != casts.front().getResult(0).getType())
      return nullptr; // copies of several types: left to their casts
  OpBuilder b(first.getContext());
  b.setInsertionPointAfter(first);
  StringRef tensor = w.getTensor() ? *w.getTensor() : w.getName();
  auto copy = WeightOp::create(b, w.getLoc(), casts.front().getResult(0).getType(),
                               b.getStringAttr((std::string(kWorkingCopyPrefix) + w.getName()).str()),
                               w.getFileAttr());
  copy.setTensor(tensor);
  for (KernelOp c : casts) {
    c.getResult(0).replaceAllUsesWith(copy.getResult());
    c.erase();
  }
  return copy;
}
