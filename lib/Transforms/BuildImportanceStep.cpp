//===- BuildImportanceStep.cpp - activation statistics of a batch ---------===//
//
// One-shot pruning by activation importance (Minitron) and block influence
// (ShortGPT) needs statistics of the source model's activations on
// calibration tokens. This pass derives them from the lowered forward pass:
// the training variants of attention and mlp already return the per-head
// outputs and the intermediate activations, and two reduction kernels sum
// their norms (and the layers' input/output cosines) over the tokens.
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace shear {
#define GEN_PASS_DEF_BUILDIMPORTANCESTEP
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
struct BuildImportanceStepPass : shear::impl::BuildImportanceStepBase<BuildImportanceStepPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &what) {
      module.emitError() << "build-importance-step: " << what;
      signalPassFailure();
    };
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward)
      return fail("no func.func @forward");
    for (Operation &op : forward.getBody().front())
      if (!isa<KernelOp, WeightOp, func::ReturnOp>(op))
        return fail("@forward is not lowered to kernels (run lower-to-runtime first)");
    if (auto old = module.lookupSymbol<func::FuncOp>("importance"))
      old.erase();

    OpBuilder b(&getContext());
    b.setInsertionPointToEnd(module.getBody());
    Location loc = forward.getLoc();
    Type f32 = b.getF32Type();
    const int64_t kDyn = ShapedType::kDynamic;
    auto fn = func::FuncOp::create(b, loc, "importance",
                                   b.getFunctionType(forward.getArgumentTypes(), {}));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    IRMapping map;
    for (auto [from, to] : llvm::zip(forward.getArguments(), entry->getArguments()))
      map.map(from, to);

    auto vector = [&](int64_t n) { return RankedTensorType::get({n}, f32); };
    auto kernel = [&](StringRef callee, Type result, ValueRange args,
                      ArrayRef<NamedAttribute> attrs = {}) {
      auto k = KernelOp::create(b, loc, TypeRange{result}, b.getStringAttr(callee), args);
      for (NamedAttribute a : attrs)
        k->setAttr(a.getName(), a.getValue());
      return k->getResult(0);
    };
    auto unitNorms = [&](Value x, int64_t group) {
      int64_t n = cast<RankedTensorType>(x.getType()).getShape().back();
      return kernel("unit_norms", vector(n / group), x,
                    {b.getNamedAttr("group", b.getI64IntegerAttr(group))});
    };

    Value hidden;
    SmallVector<Value> heads, intermediates, cosines;
    SmallVector<Value> residualInputs; // every residual_add's input stream, in order
    for (Operation &op : forward.getBody().front()) {
      if (isa<func::ReturnOp>(op))
        break;
      auto k = dyn_cast<KernelOp>(op);
      StringRef callee = k ? k.getCallee() : "";
      if (callee == "attention" || callee == "mlp") {
        // The training variant: the same operands and attributes, and what
        // its backward needs besides (the per-head output; down's input).
        SmallVector<Type> types{k.getResult(0).getType()};
        SmallVector<Value> args;
        for (Value a : k.getArgs())
          args.push_back(map.lookup(a));
        int64_t headDim = 0;
        if (callee == "attention") {
          auto geti = [&](StringRef n) { return k->getAttrOfType<IntegerAttr>(n).getInt(); };
          int64_t H = geti("num_heads"), G = geti("num_kv_heads");
          headDim = geti("head_dim");
          auto q = RankedTensorType::get({kDyn, kDyn, H * headDim}, f32);
          auto kv = RankedTensorType::get({kDyn, kDyn, G * headDim}, f32);
          types.append({q, kv, kv, q, RankedTensorType::get({kDyn, H, kDyn}, f32)});
        } else {
          int64_t M = cast<RankedTensorType>(k.getArgs()[1].getType()).getDimSize(0);
          auto t = RankedTensorType::get({kDyn, M}, f32);
          types.append({t, t, t});
        }
        auto train = KernelOp::create(b, loc, types, b.getStringAttr(callee + ".train"), args);
        for (NamedAttribute a : k->getAttrs())
          if (a.getName() != "callee")
            train->setAttr(a.getName(), a.getValue());
        map.map(k.getResult(0), train->getResult(0));
        if (callee == "attention")
          heads.push_back(unitNorms(train->getResult(4), headDim));
        else
          intermediates.push_back(unitNorms(train->getResult(3), 1));
        continue;
      }
      Operation *copy = b.clone(op, map);
      if (callee == "rms_norm") {
        Value s = unitNorms(copy->getResult(0), 1);
        hidden = hidden ? kernel("add", s.getType(), {hidden, s}) : s;
      } else if (callee == "residual_add") {
        // A layer is two residual updates: block influence compares the
        // stream entering the first with the stream leaving the second.
        residualInputs.push_back(copy->getOperand(0));
        if (residualInputs.size() % 2 == 0)
          cosines.push_back(kernel("cosine_sum", RankedTensorType::get({}, f32),
                                   {residualInputs[residualInputs.size() - 2], copy->getResult(0)}));
      }
    }
    if (!hidden || heads.empty() || heads.size() != intermediates.size() ||
        heads.size() != cosines.size() || residualInputs.size() != 2 * heads.size()) {
      fn.erase();
      return fail("@forward is not a decoder of layers (attention, residual_add, mlp, "
                  "residual_add) between RMSNorms");
    }

    SmallVector<Value> results{hidden};
    SmallVector<Attribute> names{b.getStringAttr("hidden")};
    for (size_t l = 0; l < heads.size(); ++l) {
      results.append({heads[l], intermediates[l], cosines[l]});
      for (StringRef family : {"head", "intermediate", "layer"})
        names.push_back(b.getStringAttr(family + "." + Twine(l)));
    }
    func::ReturnOp::create(b, loc, results);
    fn.setFunctionType(b.getFunctionType(forward.getArgumentTypes(), ValueRange(results).getTypes()));
    fn->setAttr("shear.metrics", b.getArrayAttr(names));
    // The logits (and whatever else no statistic reads) are not computed.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(entry->getOperations())))
      if (isa<KernelOp, WeightOp>(op) && op.use_empty())
        op.erase();
  }
};
} // namespace
