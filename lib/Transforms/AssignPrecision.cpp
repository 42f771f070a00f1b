//===- AssignPrecision.cpp - the element type of every weight and activation ===//
//
// Kernel-level IR decides what the runtime holds: a bf16 program stores the
// compute kernels' activations and the parameters they read in bf16 and
// keeps float32 wherever precision is the point (statistics, losses, masks,
// gates, multipliers, gradients, master weights). Kernels compute in float32
// whatever their storage (docs/precision.md).
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/KernelCall.h"
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace shear {
#define GEN_PASS_DEF_ASSIGNPRECISION
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {

/// A compute kernel: which operands are parameters and which results are
/// activations (held in the program's precision). Everything else a kernel
/// reads or writes keeps its type.
struct ComputeKernel {
  const char *name;
  std::vector<const char *> parameters, activations;
};

const std::vector<ComputeKernel> &computeKernels() {
  static const std::vector<ComputeKernel> kernels = {
      {"embed", {"table"}, {"y"}},
      {"rms_norm", {"w"}, {"y"}},
      {"attention", {"wq", "wk", "wv", "wo"}, {"y"}},
      // The log-sum-exp (lse) stays float32: the backward rebuilds the
      // softmax from it.
      {"attention.train", {"wq", "wk", "wv", "wo"}, {"y", "q", "k", "v", "a"}},
      // The caches are the function's arguments: they keep their type.
      {"attention.decode", {"wq", "wk", "wv", "wo"}, {"y"}},
      {"mlp", {"w_gate", "w_up", "w_down"}, {"y"}},
      {"mlp.train", {"w_gate", "w_up", "w_down"}, {"y", "g", "u", "h"}},
      {"residual_add", {}, {"y"}},
      {"residual_add_rms_norm", {"w"}, {"y", "n"}},
      // Logits and losses stay float32.
      {"lm_head", {"w"}, {}},
      {"lm_head_cross_entropy", {"w"}, {}},
      {"lm_head_cross_entropy.train", {"w"}, {}},
  };
  return kernels;
}

const ComputeKernel *computeKernel(StringRef callee) {
  for (const ComputeKernel &k : computeKernels())
    if (callee == k.name)
      return &k;
  return nullptr;
}

RankedTensorType withElement(Type t, Type element) {
  auto r = cast<RankedTensorType>(t);
  return RankedTensorType::get(r.getShape(), element);
}

bool isFloatTensor(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && isa<FloatType>(r.getElementType());
}

struct AssignPrecisionPass : shear::impl::AssignPrecisionBase<AssignPrecisionPass> {
  using Base::Base;

  void runOnOperation() override {
    if (dtype != "f32" && dtype != "bf16") {
      getOperation().emitError() << "assign-precision: dtype must be f32 or bf16, got '" << dtype
                                 << "'";
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (failed(assign(fn)))
        return signalPassFailure();
  }

  LogicalResult assign(func::FuncOp fn) {
    OpBuilder b(fn.getContext());
    Type storage = dtype == "bf16" ? Type(b.getBF16Type()) : Type(b.getF32Type());
    Type f32 = b.getF32Type();
    Block &body = fn.getBody().front();

    // Which weight values the compute kernels read as parameters.
    llvm::SetVector<Value> parameters;
    SmallVector<std::pair<KernelOp, int>> parameterUses; // (kernel, operand index)
    for (auto k : body.getOps<KernelOp>()) {
      const ComputeKernel *ck = computeKernel(k.getCallee());
      if (!ck)
        continue;
      auto call = analyzeKernelCall(k);
      if (failed(call))
        return failure();
      for (const char *name : ck->parameters) {
        int slot = call->decl->operandIndex(name);
        int index = slot < 0 ? -1 : call->slots.operands[slot];
        if (index < 0)
          continue;
        Value v = k.getArgs()[index];
        if (!v.getDefiningOp<WeightOp>())
          return k.emitOpError("assign-precision: parameter '") << name << "' is not a weight";
        parameters.insert(v);
        parameterUses.push_back({k, index});
      }
      for (const char *name : ck->activations) {
        int slot = -1;
        for (size_t r = 0; r < call->decl->results.size(); ++r)
          if (call->decl->results[r].name == name)
            slot = static_cast<int>(r);
        int index = slot < 0 ? -1 : call->slots.results[slot];
        if (index >= 0)
          k.getResult(index).setType(withElement(k.getResult(index).getType(), storage));
      }
    }

    // Weights: float32 unless they are parameters; parameters in the
    // program's precision, or float32 masters with a working copy.
    llvm::DenseMap<Value, Value> workingCopy;
    for (auto w : llvm::make_early_inc_range(body.getOps<WeightOp>())) {
      Value v = w.getResult();
      if (!isFloatTensor(v.getType()))
        continue;
      bool parameter = parameters.contains(v);
      bool keepMaster = parameter && masterWeights && !w.getFrozen() && storage != f32;
      v.setType(withElement(v.getType(), parameter && !keepMaster ? storage : f32));
      if (!keepMaster)
        continue;
      b.setInsertionPointAfter(w);
      auto copy = KernelOp::create(b, w.getLoc(), TypeRange{withElement(v.getType(), storage)},
                                   b.getStringAttr("cast"), ValueRange{v});
      workingCopy[v] = copy.getResult(0);
    }
    for (auto [k, index] : parameterUses)
      if (Value copy = workingCopy.lookup(k.getArgs()[index]))
        k->setOperand(index, copy);

    // The signature stays: a returned value whose type changed is cast back.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    ArrayRef<Type> declared = fn.getFunctionType().getResults();
    b.setInsertionPoint(ret);
    for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
      Value v = ret.getOperand(i);
      if (v.getType() == declared[i])
        continue;
      auto back = KernelOp::create(b, ret.getLoc(), TypeRange{declared[i]}, b.getStringAttr("cast"),
                                   ValueRange{v});
      ret.setOperand(i, back.getResult(0));
    }
    return success();
  }
};
} // namespace
