//===- Differentiate.cpp - reverse-mode derivatives of a training step ----===//
//
// Works on kernel-level IR: every differentiable kernel K has a backward
// kernel K.bwd (K.train's is K.bwd) taking K's arguments, K's results and the
// cotangents of K's outputs (its first result; both results of
// residual_add_rms_norm: as many as K.bwd's operands beyond K's), and
// returning the cotangents its results name (`dx` for operand `x`: every float operand but a frozen one, like the
// distillation teacher's logits). `add` (the cotangent flows to both sides)
// and `cast` (cotangents are float32 already: it passes through) are handled
// here. Frozen weights get no gradient.
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/KernelCall.h"
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace shear {
#define GEN_PASS_DEF_DIFFERENTIATE
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {

struct DifferentiatePass : shear::impl::DifferentiateBase<DifferentiatePass> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (fn->hasAttr("shear.training") && failed(differentiate(fn)))
        return signalPassFailure();
  }

  LogicalResult differentiate(func::FuncOp fn) {
    Block &body = fn.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    for (Operation &op : body)
      if (!isa<WeightOp, KernelOp, func::ReturnOp>(op))
        return op.emitOpError("differentiate: lower the function with --lower-to-runtime first");
    if (fn->hasAttr("shear.gradients"))
      return fn.emitOpError("differentiate: the function already returns gradients");

    OpBuilder b(ret);
    Location loc = fn.getLoc();
    llvm::DenseMap<Value, Value> cot;
    auto accumulate = [&](Value v, Value g) {
      auto it = cot.find(v);
      if (it == cot.end()) {
        cot[v] = g;
        return;
      }
      it->second = KernelOp::create(b, loc, TypeRange{g.getType()}, b.getStringAttr("add"),
                                    ValueRange{it->second, g})
                       .getResult(0);
    };
    auto one = KernelOp::create(b, loc, TypeRange{gradientType(ret.getOperand(0))},
                                b.getStringAttr("scalar"), ValueRange{});
    one->setAttr("value", b.getF64FloatAttr(1.0));
    cot[ret.getOperand(0)] = one.getResult(0);

    SmallVector<KernelOp> forward;
    for (Operation &op : body)
      if (auto k = dyn_cast<KernelOp>(op))
        if (op.isBeforeInBlock(one))
          forward.push_back(k);
    for (KernelOp k : llvm::reverse(forward)) {
      if (llvm::none_of(k->getResults(), [&](Value r) { return cot.count(r); }))
        continue; // nothing downstream of it needs a gradient
      StringRef callee = k.getCallee();
      std::string bwd = (callee.ends_with(".train") ? callee.drop_back(6) : callee).str() + ".bwd";
      const KernelDecl *back = findKernel(bwd);
      auto call = analyzeKernelCall(k);
      // The backward takes the cotangents of the first `outputs` results
      // (one but for kernels with several outputs, like residual_add_rms_norm).
      size_t outputs = 1;
      if (back && succeeded(call))
        outputs = back->operands.size() - call->decl->operands.size() - call->decl->results.size();
      if (outputs < 1 || outputs > k.getNumResults())
        return k.emitOpError("differentiate: '") << bwd << "' takes " << outputs << " cotangents";
      SmallVector<Value> dys;
      bool any = false;
      for (size_t r = 0; r < outputs; ++r) {
        Value dy = cot.lookup(k.getResult(r));
        any |= static_cast<bool>(dy);
        dys.push_back(dy);
      }
      if (!any)
        continue;
      for (size_t r = 0; r < outputs; ++r)
        if (!dys[r]) // an output nothing downstream read: a zero cotangent
          dys[r] = KernelOp::create(b, loc, TypeRange{gradientType(k.getResult(r))},
                                    b.getStringAttr("zeros_like"), ValueRange{k.getResult(r)})
                       .getResult(0);
      Value dy = dys[0];
      if (callee == "add") {
        accumulate(k.getArgs()[0], dy);
        accumulate(k.getArgs()[1], dy);
        continue;
      }
      if (callee == "cast") { // a bf16 working copy: its float32 cotangent is the master's
        accumulate(k.getArgs()[0], dy);
        continue;
      }
      SmallVector<Value> args(k.getArgs());
      args.append(k.getResults().begin(), k.getResults().end());
      args.append(dys.begin(), dys.end());
      SmallVector<Type> types;
      SmallVector<Value> targets;
      if (!back || failed(call))
        return k.emitOpError("differentiate: no backward kernel '") << bwd << "'";
      // Result `dX` of the backward kernel is the cotangent of operand X.
      for (const ResultDecl &r : back->results) {
        int slot = call->decl->operandIndex(std::string_view(r.name).substr(1));
        if (r.name.size() < 2 || r.name[0] != 'd' || slot < 0)
          return k.emitOpError("differentiate: '") << bwd << "' result '" << r.name
                                                    << "' names no operand of '" << callee << "'";
        int index = call->slots.operands[slot];
        if (index < 0)
          continue; // an absent optional operand
        Value a = k.getArgs()[index];
        types.push_back(gradientType(a));
        targets.push_back(a);
      }
      auto backward = KernelOp::create(b, loc, types, b.getStringAttr(bwd), args);
      for (NamedAttribute a : k->getAttrs())
        if (a.getName() != "callee")
          backward->setAttr(a.getName(), a.getValue());
      for (auto [target, grad] : llvm::zip(targets, backward.getResults()))
        accumulate(target, grad);
    }

    SmallVector<Value> results(ret.getOperands());
    SmallVector<Attribute> keys;
    for (Operation &op : body) {
      auto w = dyn_cast<WeightOp>(op);
      if (!w || w.getName().starts_with("shear.mask.") || w.getFrozen())
        continue;
      Value g = cot.lookup(w.getResult());
      if (!g)
        g = KernelOp::create(b, loc, TypeRange{gradientType(w)}, b.getStringAttr("zeros_like"),
                             ValueRange{w.getResult()})
                .getResult(0);
      results.push_back(g);
      keys.push_back(b.getArrayAttr({w.getFileAttr(), w.getNameAttr()}));
    }
    func::ReturnOp::create(b, loc, results);
    ret.erase();
    fn.setType(b.getFunctionType(fn.getArgumentTypes(), ValueRange(results).getTypes()));
    fn->setAttr("shear.gradients", b.getArrayAttr(keys));
    return success();
  }
};
} // namespace
