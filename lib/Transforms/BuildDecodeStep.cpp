//===- BuildDecodeStep.cpp - incremental decoding with a KV cache ---------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace shear {
#define GEN_PASS_DEF_BUILDDECODESTEP
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
struct BuildDecodeStepPass : shear::impl::BuildDecodeStepBase<BuildDecodeStepPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("build-decode-step: no func.func @forward");
      return signalPassFailure();
    }
    if (auto old = module.lookupSymbol<func::FuncOp>("decode"))
      old.erase();
    OpBuilder b(&getContext());
    b.setInsertionPointToEnd(module.getBody());
    Location loc = forward.getLoc();
    SmallVector<AttentionOp> attns;
    forward.walk([&](AttentionOp a) { attns.push_back(a); });
    SmallVector<Type> args = {forward.getArgumentTypes()[0],
                              RankedTensorType::get({}, b.getI64Type())};
    int64_t kDyn = ShapedType::kDynamic;
    for (AttentionOp a : attns) {
      auto cache = RankedTensorType::get(
          {kDyn, static_cast<int64_t>(a.getNumKvHeads()), kDyn, static_cast<int64_t>(a.getHeadDim())},
          b.getF32Type());
      args.push_back(cache);
      args.push_back(cache);
    }
    auto fn = func::FuncOp::create(b, loc, "decode", b.getFunctionType(args, {}));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    IRMapping map;
    map.map(forward.getArgument(0), entry->getArgument(0));
    Value pos = entry->getArgument(1);
    SmallVector<Value> results, caches;
    size_t layer = 0;
    for (Operation &op : forward.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        results.push_back(map.lookup(ret.getOperand(0)));
        break;
      }
      auto attn = dyn_cast<AttentionOp>(op);
      if (!attn) {
        b.clone(op, map);
        continue;
      }
      SmallVector<Value> operands = {map.lookup(attn.getInput()), map.lookup(attn.getWq()),
                                     map.lookup(attn.getWk()), map.lookup(attn.getWv()),
                                     map.lookup(attn.getWo())};
      SmallVector<Attribute> masks;
      if (attn.getHeadMask()) {
        operands.push_back(map.lookup(attn.getHeadMask()));
        masks.push_back(b.getStringAttr("head"));
      }
      if (attn.getKvGroupMask()) {
        operands.push_back(map.lookup(attn.getKvGroupMask()));
        masks.push_back(b.getStringAttr("kv_group"));
      }
      Value k = entry->getArgument(2 + 2 * layer), v = entry->getArgument(3 + 2 * layer);
      operands.append({k, v, pos});
      auto kernel = KernelOp::create(b, attn.getLoc(),
                                     TypeRange{attn.getType(), k.getType(), v.getType()},
                                     b.getStringAttr("attention.decode"), operands);
      for (NamedAttribute a : attn->getAttrs())
        if (a.getName() != "operandSegmentSizes")
          kernel->setAttr(a.getName(), a.getValue());
      if (!masks.empty())
        kernel->setAttr("masks", b.getArrayAttr(masks));
      map.map(attn.getResult(), kernel.getResult(0));
      caches.push_back(kernel.getResult(1));
      caches.push_back(kernel.getResult(2));
      ++layer;
    }
    results.append(caches);
    func::ReturnOp::create(b, loc, results);
    fn.setType(b.getFunctionType(args, ValueRange(results).getTypes()));
  }
};
} // namespace
