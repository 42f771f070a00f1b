//===- BuildTrainStep.cpp - the loss of one training step -----------------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Support/Files.h"
#include "shear/Support/Nesting.h"
#include "shear/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

namespace shear {
#define GEN_PASS_DEF_BUILDTRAINSTEP
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
/// Makes a masked model's @forward the dense model its weights are: every
/// mask operand is dropped, then the gates, mask rows and gate or mask
/// weights that fed them. (A masked module's weights are the source's, so
/// `--distill-from MASKED.mlir` distils from the source it was made from.)
void dropMasks(func::FuncOp forward) {
  forward.walk([](Operation *op) {
    llvm::TypeSwitch<Operation *>(op)
        .Case([](EmbedOp o) { o.getHiddenMaskMutable().clear(); })
        .Case([](RMSNormOp o) { o.getHiddenMaskMutable().clear(); })
        .Case([](AttentionOp o) {
          o.getHeadMaskMutable().clear();
          o.getKvGroupMaskMutable().clear();
        })
        .Case([](MLPOp o) { o.getIntermediateMaskMutable().clear(); })
        .Case([](ResidualAddOp o) {
          o.getLayerMaskMutable().clear();
          o.getHiddenMaskMutable().clear();
        });
  });
  Block &body = forward.getBody().front();
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body))) {
    auto w = dyn_cast<WeightOp>(op);
    bool maskPart = isa<GateOp, MaskRowOp>(op) || (w && w.getName().starts_with("shear."));
    if (maskPart && op.use_empty())
      op.erase();
  }
}

struct BuildTrainStepPass : shear::impl::BuildTrainStepBase<BuildTrainStepPass> {
  using Base::Base;

  /// Clones the teacher's @forward (from `distillFrom`) at b's insertion
  /// point on `ids`: frozen weights `teacher.<name>` read from its files,
  /// ops marked shear.frozen. Returns its logits, or null after an error.
  Value cloneTeacher(OpBuilder &b, func::FuncOp student, Value ids) {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &what) {
      module.emitError() << "build-train-step: " << distillFrom << ": " << what;
      return Value();
    };
    auto text = llvm::MemoryBuffer::getFile(distillFrom);
    if (!text)
      return fail("cannot read: " + text.getError().message());
    if (std::string deep = moduleNestingError((*text)->getBuffer(), distillFrom); !deep.empty()) {
      module.emitError() << "build-train-step: " << deep;
      return Value();
    }
    llvm::SourceMgr sources;
    sources.AddNewSourceBuffer(std::move(*text), llvm::SMLoc());
    ParserConfig config(&getContext());
    OwningOpRef<ModuleOp> teacher = parseSourceFile<ModuleOp>(sources, config);
    if (!teacher)
      return fail("cannot be read as a model module (see above)");
    auto forward = teacher->lookupSymbol<func::FuncOp>("forward");
    if (!forward)
      return fail("no func.func @forward");
    if (forward.getFunctionType() != student.getFunctionType())
      return fail("the teacher's @forward must take the same token ids and return logits over the "
                  "same vocabulary as the student's");
    dropMasks(forward);
    bool dense = true;
    forward.walk([&](Operation *op) {
      auto w = dyn_cast<WeightOp>(op);
      dense &= !isa<GateOp>(op) && !(w && (w.getName().starts_with("shear.")));
    });
    if (!dense)
      return fail("the teacher's masks could not be dropped (a gate or mask weight is used "
                  "outside a mask operand)");
    std::string dir = parentDirectory(absolutePath(distillFrom, "."));
    IRMapping map;
    map.map(forward.getArgument(0), ids);
    for (Operation &op : forward.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op))
        return map.lookup(ret.getOperand(0));
      Operation *copy = b.clone(op, map);
      if (auto w = dyn_cast<WeightOp>(copy)) {
        w.setTensor(w.getName());
        w.setName(("teacher." + w.getName()).str());
        w.setFile(absolutePath(w.getFile(), dir));
        w.setFrozen(true);
      } else {
        copy->setAttr("shear.frozen", b.getUnitAttr());
      }
    }
    return fail("@forward has no return");
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward) {
      module.emitError("build-train-step: no func.func @forward");
      return signalPassFailure();
    }
    if (mode != "prune" && mode != "train") {
      module.emitError() << "build-train-step: mode must be prune or train, got '" << mode << "'";
      return signalPassFailure();
    }
    bool hasGates = false, hasMasks = false;
    forward.walk([&](GateOp) { hasGates = true; });
    forward.walk([&](WeightOp w) { hasMasks |= w.getName().starts_with("shear.mask."); });
    if (mode == "prune" && !hasGates) {
      module.emitError("build-train-step: pruning needs a model with gates (run "
                       "--insert-masks first)");
      return signalPassFailure();
    }
    if (mode == "train" && (hasGates || hasMasks)) {
      module.emitError("build-train-step: continued pre-training takes a dense model (run "
                       "--finalize-masks --materialize-shapes first)");
      return signalPassFailure();
    }
    if (auto old = module.lookupSymbol<func::FuncOp>("train_step"))
      old.erase();

    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    Location loc = forward.getLoc();
    Type idsType = forward.getArgumentTypes()[0];
    auto scalarF32 = RankedTensorType::get({}, b.getF32Type());
    auto stepType = RankedTensorType::get({}, b.getI64Type());
    auto fn = func::FuncOp::create(b, loc, "train_step",
                                   b.getFunctionType({idsType, idsType, stepType}, {}));
    Block *entry = fn.addEntryBlock();
    Value ids = entry->getArgument(0), labels = entry->getArgument(1),
          step = entry->getArgument(2);

    IRMapping map;
    map.map(forward.getArgument(0), ids);
    b.setInsertionPointToStart(entry);
    Value teacherLogits;
    if (!distillFrom.empty()) {
      teacherLogits = cloneTeacher(b, forward, ids);
      if (!teacherLogits)
        return signalPassFailure();
    }
    Value logits;
    for (Operation &op : forward.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        logits = map.lookup(ret.getOperand(0));
        break;
      }
      b.clone(op, map);
    }

    auto add = [&](Value x, Value y) -> Value {
      return KernelOp::create(b, loc, TypeRange{scalarF32}, b.getStringAttr("add"),
                              ValueRange{x, y})
          .getResult(0);
    };
    Value lmLoss;
    SmallVector<Value> results = {Value()};
    SmallVector<Attribute> names = {b.getStringAttr("loss"), b.getStringAttr("lm_loss")};
    if (teacherLogits) {
      auto d = KernelOp::create(b, loc, TypeRange{scalarF32, scalarF32, scalarF32},
                                b.getStringAttr("distill"), ValueRange{logits, teacherLogits, labels});
      d->setAttr("temperature", b.getF64FloatAttr(distillTemperature));
      d->setAttr("alpha", b.getF64FloatAttr(distillAlpha));
      d->setAttr("ignore_index", b.getI64IntegerAttr(-100));
      lmLoss = d.getResult(0);
      results.append({d.getResult(1), d.getResult(2)});
      names.push_back(b.getStringAttr("kd_loss"));
    } else {
      lmLoss = CrossEntropyOp::create(b, loc, scalarF32, logits, labels);
      results.push_back(lmLoss);
    }
    SmallVector<Value> sparsity;
    SmallVector<Attribute> sparsityNames;
    Value lagrangian;
    SmallVector<GateOp> gates;
    fn.walk([&](GateOp g) { gates.push_back(g); });
    for (GateOp g : gates) {
      StringRef family = g.getFamily();
      auto laType = cast<RankedTensorType>(g.getLogAlpha().getType());
      double n = laType.getShape().back();
      double target = 1.0 - static_cast<double>(g.getTargetSize()) / n;
      auto lambda = [&](StringRef which) -> Value {
        auto w = WeightOp::create(b, loc, scalarF32,
                                  b.getStringAttr(("shear." + which + "." + family).str()),
                                  b.getStringAttr(lambdaState));
        w.setZeroInit(true);
        return w;
      };
      Value l1 = lambda("lambda1"), l2 = lambda("lambda2");
      auto term = KernelOp::create(b, loc, TypeRange{scalarF32, scalarF32, scalarF32},
                                   b.getStringAttr("lagrangian"),
                                   ValueRange{g.getLogAlpha(), l1, l2, step});
      term->setAttr("family", b.getStringAttr(family));
      term->setAttr("target_sparsity", b.getF64FloatAttr(target));
      term->setAttr("warmup_steps", b.getI64IntegerAttr(warmupSteps));
      lagrangian = lagrangian ? add(lagrangian, term.getResult(0)) : term.getResult(0);
      sparsity.push_back(term.getResult(1));
      sparsity.push_back(term.getResult(2));
      sparsityNames.push_back(b.getStringAttr(("expected_sparsity." + family).str()));
      sparsityNames.push_back(b.getStringAttr(("target_sparsity." + family).str()));
    }
    results[0] = lagrangian ? add(lmLoss, lagrangian) : lmLoss;
    if (lagrangian) {
      results.push_back(lagrangian);
      names.push_back(b.getStringAttr("lagrangian"));
    }
    results.append(sparsity.begin(), sparsity.end());
    names.append(sparsityNames.begin(), sparsityNames.end());
    func::ReturnOp::create(b, loc, results);
    fn.setType(b.getFunctionType({idsType, idsType, stepType}, ValueRange(results).getTypes()));
    fn->setAttr("shear.training", b.getUnitAttr());
    fn->setAttr("shear.seed", b.getI64IntegerAttr(seed));
    fn->setAttr("shear.metrics", b.getArrayAttr(names));
  }
};
} // namespace
