//===- Recompute.cpp - saved activations recomputed in the backward -------===//
//
// attention.train and mlp.train return, besides their output, what their
// backward kernels need (q, k, v, the attention output and log-sum-exp; the
// MLP's gate, up and hidden activations), and those stay alive from the
// forward pass to the backward, like the norms' outputs. Recomputed, the
// forward calls the plain kernel and a copy of the chosen kernels, placed
// before the first backward kernel that reads them, produces them again
// from the same operands (copies of chosen kernels read each other's
// copies). `weights` recomputes a bf16 program's working copies of its
// weights (the casts of the float32 masters). With all four (`layer`) only
// the residual stream lives from the forward to the backward: layer-wise
// checkpointing.
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"

namespace shear {
#define GEN_PASS_DEF_RECOMPUTE
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
/// The forward kernels a --recompute choice names: their training variants
/// where they keep tensors for the backward (a norm fused with the residual
/// update before it is a norm too).
SmallVector<StringRef> forwardKernels(StringRef choice) {
  if (choice == "attention")
    return {"attention.train"};
  if (choice == "mlp")
    return {"mlp.train"};
  if (choice == "norm")
    return {"rms_norm", "residual_add_rms_norm"};
  if (choice == "weights") // a bf16 program's working copies of its master weights
    return {"cast"};
  return {};
}

struct RecomputePass : shear::impl::RecomputeBase<RecomputePass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::StringSet<> chosen;
    SmallVector<StringRef> names;
    StringRef(kernels).split(names, ',', -1, false);
    for (StringRef n : names) {
      n = n.trim();
      if (n == "layer") {
        for (const char *k : {"attention", "mlp", "norm", "weights"})
          for (StringRef kernel : forwardKernels(k))
            chosen.insert(kernel);
        continue;
      }
      if (forwardKernels(n).empty()) {
        getOperation().emitError() << "recompute: kernels must be among attention, mlp, norm, "
                                      "weights (or layer: all four), got '"
                                   << n << "'";
        return signalPassFailure();
      }
      for (StringRef kernel : forwardKernels(n))
        chosen.insert(kernel);
    }
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (fn->hasAttr("shear.gradients"))
        recompute(fn, chosen);
  }

  void recompute(func::FuncOp fn, const llvm::StringSet<> &chosen) {
    // The backward pass starts at the first backward kernel; before it, the
    // forward. The chosen forward kernels, in order:
    Block &body = fn.getBody().front();
    Operation *backward = nullptr;
    SmallVector<KernelOp> chosenOps;
    for (Operation &op : body) {
      auto k = dyn_cast<KernelOp>(op);
      if (!k)
        continue;
      if (k.getCallee().ends_with(".bwd")) {
        backward = &op;
        break;
      }
      if (chosen.contains(k.getCallee()))
        chosenOps.push_back(k);
    }
    if (!backward)
      return;
    auto inBackward = [&](Operation *op) { return op == backward || backward->isBeforeInBlock(op); };
    auto earliest = [](Operation *a, Operation *b) { return !a ? b : (!b ? a : (a->isBeforeInBlock(b) ? a : b)); };

    // Where each one's copy goes: before the first backward use of its
    // results, or before the copy of a chosen kernel that reads them,
    // whichever comes first.
    llvm::DenseSet<Operation *> isChosen;
    for (KernelOp k : chosenOps)
      isChosen.insert(k);
    llvm::DenseMap<Operation *, Operation *> copyAt;
    // A fused residual update + norm recomputes its norm only: the residual
    // stream it also returns is what lives from the forward to the backward.
    auto isFusedNorm = [](KernelOp k) { return k.getCallee() == "residual_add_rms_norm"; };
    auto recomputed = [&](KernelOp k) { return isFusedNorm(k) ? k->getResults().drop_front() : k->getResults(); };
    for (KernelOp k : llvm::reverse(chosenOps)) {
      Operation *at = nullptr;
      for (Value r : recomputed(k))
        for (Operation *user : r.getUsers()) {
          if (inBackward(user))
            at = earliest(at, user);
          else if (isChosen.contains(user) && !isFusedNorm(cast<KernelOp>(user)))
            at = earliest(at, copyAt.lookup(user)); // (a fused norm's copy reads only its own result)
        }
      copyAt[k] = at;
    }

    // The copies, in forward order (a copy reads the copies before it).
    IRMapping copies;
    llvm::DenseSet<Operation *> copied;
    for (KernelOp k : chosenOps) {
      Operation *at = copyAt.lookup(k);
      if (!at)
        continue;
      OpBuilder b(at);
      if (k.getCallee() != "residual_add_rms_norm") {
        copied.insert(b.clone(*k.getOperation(), copies));
        continue;
      }
      // rms_norm(y, w [, hidden]) again, from the kept residual stream y.
      SmallVector<Value> args = {k.getResult(0), k.getArgs()[2]};
      SmallVector<Attribute> masks;
      if (auto names = k->getAttrOfType<ArrayAttr>("masks"))
        for (auto [i, name] : llvm::enumerate(names))
          if (cast<StringAttr>(name).getValue() == "hidden") {
            args.push_back(k.getArgs()[3 + i]);
            masks.push_back(name);
          }
      auto norm = KernelOp::create(b, k.getLoc(), TypeRange{k.getResult(1).getType()}, b.getStringAttr("rms_norm"),
                                   args);
      norm->setAttr("eps", k->getAttr("eps"));
      if (!masks.empty())
        norm->setAttr("masks", b.getArrayAttr(masks));
      copies.map(k.getResult(1), norm.getResult(0));
      copied.insert(norm);
    }
    // The backward reads the copies.
    for (Operation &op : llvm::make_range(backward->getIterator(), body.end()))
      if (!copied.contains(&op))
        for (OpOperand &use : op.getOpOperands())
          if (Value c = copies.lookupOrNull(use.get()))
            use.set(c);
    // The forward keeps nothing for the backward: plain kernels.
    for (KernelOp k : chosenOps) {
      if (!k.getCallee().ends_with(".train"))
        continue;
      OpBuilder b(k);
      auto plain = KernelOp::create(b, k.getLoc(), TypeRange{k.getResult(0).getType()},
                                    b.getStringAttr(k.getCallee().drop_back(6)), k.getArgs());
      for (NamedAttribute a : k->getAttrs())
        if (a.getName() != "callee")
          plain->setAttr(a.getName(), a.getValue());
      k.getResult(0).replaceAllUsesWith(plain.getResult(0));
      k.erase();
    }
  }
};
} // namespace
