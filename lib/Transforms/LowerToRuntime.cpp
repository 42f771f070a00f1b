//===- LowerToRuntime.cpp - decoder ops to runtime kernel calls -----------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"

namespace shear {
#define GEN_PASS_DEF_LOWERTORUNTIME
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
struct LowerToRuntimePass : shear::impl::LowerToRuntimeBase<LowerToRuntimePass> {
  using Base::Base;

  /// Replaces `op` by `shear.kernel callee(fixed..., present masks...)` with
  /// the op's attributes (less operand segment sizes) and `masks`.
  void lower(Operation *op, StringRef callee, ValueRange fixed,
             ArrayRef<std::pair<StringRef, Value>> masks,
             ArrayRef<NamedAttribute> extra = {}, TypeRange extraResults = {}) {
    OpBuilder b(op);
    SmallVector<Value> args(fixed.begin(), fixed.end());
    SmallVector<Attribute> names;
    for (auto [name, value] : masks)
      if (value) {
        args.push_back(value);
        names.push_back(b.getStringAttr(name));
      }
    SmallVector<NamedAttribute> attrs;
    for (NamedAttribute a : op->getAttrs())
      if (a.getName() != "operandSegmentSizes" && a.getName() != "shear.frozen")
        attrs.push_back(a);
    attrs.append(extra.begin(), extra.end());
    if (!names.empty())
      attrs.push_back(b.getNamedAttr("masks", b.getArrayAttr(names)));
    SmallVector<Type> types(op->getResultTypes());
    types.append(extraResults.begin(), extraResults.end());
    auto kernel = KernelOp::create(b, op->getLoc(), types, b.getStringAttr(callee), args);
    for (NamedAttribute a : attrs)
      kernel->setAttr(a.getName(), a.getValue());
    op->replaceAllUsesWith(kernel->getResults().take_front(op->getNumResults()));
    op->erase();
  }

  void runOnOperation() override {
    if (evalMasks != "expected" && evalMasks != "target" && evalMasks != "none") {
      getOperation().emitError() << "lower-to-runtime: eval-masks must be expected, target "
                                    "or none, got '"
                                 << evalMasks << "'";
      return signalPassFailure();
    }
    for (auto fn : llvm::make_early_inc_range(getOperation().getOps<func::FuncOp>()))
      if (fn->hasAttr("shear.training"))
        lowerTraining(fn);
      else
        lowerEvaluation(fn);
  }

  void lowerEvaluation(func::FuncOp fn) {
    SmallVector<Operation *> ops;
    fn.walk([&](Operation *op) {
      if (isa<ShearDialect>(op->getDialect()) && !isa<WeightOp, KernelOp>(op))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    // A grouped-query model's head mask depends on the kv_group gate too
    // (whole groups, the same number of heads in each: docs/masks.md).
    GateOp kvGate;
    fn.walk([&](GateOp g) {
      if (g.getFamily() == "kv_group")
        kvGate = g;
    });
    for (Operation *op : ops) {
      llvm::TypeSwitch<Operation *>(op)
          .Case([&](GateOp o) {
            Value kvLogAlpha;
            SmallVector<NamedAttribute> extra = {
                b.getNamedAttr("size", b.getStringAttr(evalMasks))};
            if (o.getFamily() == "head" && kvGate) {
              kvLogAlpha = kvGate.getLogAlpha();
              if (Operation *def = kvLogAlpha.getDefiningOp(); def && o->isBeforeInBlock(def)) {
                if (def->getNumOperands() != 0) {
                  kvGate.emitOpError("its log_alpha must be a shear.weight");
                  return signalPassFailure();
                }
                def->moveBefore(o);
              }
              extra.push_back(b.getNamedAttr("kv_target_size", kvGate.getTargetSizeAttr()));
            }
            lower(o, "gate.eval", {o.getLogAlpha()}, {{"kv_log_alpha", kvLogAlpha}}, extra);
          })
          .Default([&](Operation *o) { lowerCommon(o); });
    }
  }

  /// Training: gates are sampled, attention and mlp keep what their backward
  /// kernels need. The step is the function's third argument.
  void lowerTraining(func::FuncOp fn) {
    SmallVector<Operation *> ops;
    fn.walk([&](Operation *op) {
      if (isa<ShearDialect>(op->getDialect()) && !isa<WeightOp, KernelOp>(op))
        ops.push_back(op);
    });
    OpBuilder b(&getContext());
    Value step = fn.getArgument(2);
    auto seed = fn->getAttrOfType<IntegerAttr>("shear.seed");
    Type f32 = b.getF32Type();
    int64_t kDyn = ShapedType::kDynamic;
    for (Operation *op : ops) {
      if (op->hasAttr("shear.frozen")) { // a distillation teacher's: evaluated, not trained
        lowerCommon(op);
        continue;
      }
      llvm::TypeSwitch<Operation *>(op)
          .Case([&](GateOp o) {
            int64_t stream = llvm::StringSwitch<int64_t>(o.getFamily())
                                 .Case("layer", 0)
                                 .Case("head", 1)
                                 .Case("kv_group", 2)
                                 .Case("intermediate", 3)
                                 .Default(4);
            lower(o, "gate.sample", {o.getLogAlpha(), step}, {},
                  {b.getNamedAttr("seed", seed ? seed : b.getI64IntegerAttr(1)),
                   b.getNamedAttr("stream", b.getI64IntegerAttr(stream))});
          })
          .Case([&](AttentionOp o) {
            int64_t qw = o.getNumHeads() * o.getHeadDim(), kw = o.getNumKvHeads() * o.getHeadDim();
            auto q = RankedTensorType::get({kDyn, kDyn, qw}, f32);
            auto kv = RankedTensorType::get({kDyn, kDyn, kw}, f32);
            auto lse = RankedTensorType::get({kDyn, static_cast<int64_t>(o.getNumHeads()), kDyn}, f32);
            lower(o, "attention.train", {o.getInput(), o.getWq(), o.getWk(), o.getWv(), o.getWo()},
                  {{"head", o.getHeadMask()}, {"kv_group", o.getKvGroupMask()}}, {},
                  {q, kv, kv, q, lse});
          })
          .Case([&](MLPOp o) {
            int64_t M = cast<RankedTensorType>(o.getWGate().getType()).getDimSize(0);
            auto t = RankedTensorType::get({kDyn, M}, f32);
            lower(o, "mlp.train", {o.getInput(), o.getWGate(), o.getWUp(), o.getWDown()},
                  {{"intermediate", o.getIntermediateMask()}}, {}, {t, t, t});
          })
          .Default([&](Operation *o) { lowerCommon(o); });
    }
  }

  /// Ops lowered the same way in both modes.
  void lowerCommon(Operation *op) {
    OpBuilder b(&getContext());
    llvm::TypeSwitch<Operation *>(op)
          .Case([&](MaskRowOp o) { lower(o, "mask_row", {o.getMask()}, {}); })
          .Case([&](EmbedOp o) {
            lower(o, "embed", {o.getTable(), o.getIds()}, {{"hidden", o.getHiddenMask()}});
          })
          .Case([&](RMSNormOp o) {
            lower(o, "rms_norm", {o.getInput(), o.getWeight()}, {{"hidden", o.getHiddenMask()}});
          })
          .Case([&](AttentionOp o) {
            lower(o, "attention", {o.getInput(), o.getWq(), o.getWk(), o.getWv(), o.getWo()},
                  {{"head", o.getHeadMask()}, {"kv_group", o.getKvGroupMask()}});
          })
          .Case([&](MLPOp o) {
            lower(o, "mlp", {o.getInput(), o.getWGate(), o.getWUp(), o.getWDown()},
                  {{"intermediate", o.getIntermediateMask()}});
          })
          .Case([&](ResidualAddOp o) {
            lower(o, "residual_add", {o.getResidual(), o.getUpdate()},
                  {{"layer", o.getLayerMask()}, {"hidden", o.getHiddenMask()}});
          })
          .Case([&](LMHeadOp o) { lower(o, "lm_head", {o.getInput(), o.getWeight()}, {}); })
          .Case([&](CrossEntropyOp o) {
            lower(o, "cross_entropy", {o.getLogits(), o.getLabels()}, {},
                  {b.getNamedAttr("ignore_index", b.getI64IntegerAttr(o.getIgnoreIndex()))});
          });
  }
};
} // namespace
