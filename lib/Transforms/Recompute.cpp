//===- Recompute.cpp - saved activations recomputed in the backward -------===//
//
// attention.train and mlp.train return, besides their output, what their
// backward kernels need (q, k, v, the attention output and log-sum-exp; the
// MLP's gate, up and hidden activations), and those stay alive from the
// forward pass to the backward. Recomputed, the forward calls the plain
// kernel and a copy of the training kernel right before the .bwd produces
// them again from the same operands.
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"

namespace shear {
#define GEN_PASS_DEF_RECOMPUTE
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
struct RecomputePass : shear::impl::RecomputeBase<RecomputePass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::StringSet<> chosen;
    SmallVector<StringRef> names;
    StringRef(kernels).split(names, ',', -1, false);
    for (StringRef n : names) {
      n = n.trim();
      if (n != "attention" && n != "mlp") {
        getOperation().emitError() << "recompute: kernels must be attention and/or mlp, got '" << n << "'";
        return signalPassFailure();
      }
      chosen.insert(n);
    }
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (fn->hasAttr("shear.gradients"))
        recompute(fn, chosen);
  }

  void recompute(func::FuncOp fn, const llvm::StringSet<> &chosen) {
    SmallVector<KernelOp> saved;
    fn.walk([&](KernelOp k) {
      StringRef callee = k.getCallee();
      if (callee.consume_back(".train") && chosen.contains(callee))
        saved.push_back(k);
    });
    for (KernelOp k : saved) {
      StringRef base = k.getCallee().drop_back(6);
      std::string bwdName = (base + ".bwd").str();
      // The backward kernel: the one user of the saved results.
      KernelOp bwd;
      bool other = false;
      for (Value r : k.getResults().drop_front())
        for (Operation *user : r.getUsers()) {
          auto b = dyn_cast<KernelOp>(user);
          if (b && b.getCallee() == bwdName && (!bwd || bwd == b))
            bwd = b;
          else
            other = true;
        }
      if (!bwd || other)
        continue;
      OpBuilder b(bwd);
      Operation *again = b.clone(*k.getOperation());
      for (auto [old, fresh] : llvm::zip(k.getResults(), again->getResults()))
        bwd->replaceUsesOfWith(old, fresh);
      b.setInsertionPoint(k);
      auto plain = KernelOp::create(b, k.getLoc(), TypeRange{k.getResult(0).getType()},
                                    b.getStringAttr(base), k.getArgs());
      for (NamedAttribute a : k->getAttrs())
        if (a.getName() != "callee")
          plain->setAttr(a.getName(), a.getValue());
      k.getResult(0).replaceAllUsesWith(plain.getResult(0));
      k.erase();
    }
  }
};
} // namespace
