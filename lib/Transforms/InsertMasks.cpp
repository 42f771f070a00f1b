//===- InsertMasks.cpp - add gates and mask operands for a target shape ---===//
#include "shear/Target/ArtifactPaths.h"
#include "shear/Target/ModelView.h"
#include "shear/Support/GateMath.h"
#include "shear/Transforms/Passes.h"
#include "shear/Transforms/TargetShape.h"

namespace shear {
#define GEN_PASS_DEF_INSERTMASKS
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

std::string &shear::toolTargetShape() {
  static std::string shape;
  return shape;
}

namespace {
struct InsertMasksPass : shear::impl::InsertMasksBase<InsertMasksPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<ModelView> view = readModelView(module, artifactPaths().moduleDir);
    if (failed(view))
      return signalPassFailure();
    if (view->hasMasks()) {
      module.emitError("insert-masks: the model already has masks; it takes a dense model");
      return signalPassFailure();
    }
    ShapeSpec source = view->shape();
    std::string spec = targetShape.empty() ? toolTargetShape() : std::string(targetShape);
    TargetFamilies pruned;
    auto target = parseTargetShape(spec, source, view->config.headDim, &pruned);
    if (!target) {
      module.emitError() << "insert-masks: " << llvm::toString(target.takeError());
      return signalPassFailure();
    }
    std::string gatesPath = outputSibling(".gates.safetensors");
    if (gatesPath.empty()) {
      module.emitError("insert-masks writes the gate parameters beside the output "
                       "module: give an output file with -o");
      return signalPassFailure();
    }

    struct Family {
      MaskFamily family;
      std::vector<int64_t> shape;
      int64_t keep;
    };
    int64_t L = source.layers;
    // Only the families the target prunes get gates (and Lagrangian terms).
    std::vector<Family> families;
    if (pruned.layer)
      families.push_back({MaskFamily::Layer, {L}, target->layers});
    if (pruned.head)
      families.push_back({MaskFamily::Head, {L, source.heads}, target->heads});
    if (pruned.intermediate)
      families.push_back({MaskFamily::Intermediate, {L, source.intermediate}, target->intermediate});
    if (pruned.hidden)
      families.push_back({MaskFamily::Hidden, {source.hidden}, target->hidden});
    if (pruned.kvGroup)
      families.push_back({MaskFamily::KvGroup, {L, source.kvHeads}, target->kvHeads});

    std::vector<std::pair<TensorSpec, std::vector<float>>> tensors;
    for (const Family &f : families) {
      std::string name = "shear.gate." + familyName(f.family).str();
      std::vector<float> init =
          gate::normalInit(seed, static_cast<uint64_t>(f.family), numElements(f.shape),
                           gate::kInitMean, gate::kInitStd);
      tensors.push_back({TensorSpec{name, DType::F32, f.shape}, std::move(init)});
      view->mask(f.family) =
          MaskRef{WeightRef{name, gatesPath, DType::F32, f.shape}, /*isGate=*/true, f.keep};
    }
    if (llvm::Error e = toLlvm(writeF32Tensors(gatesPath, tensors))) {
      module.emitError() << "insert-masks: " << llvm::toString(std::move(e));
      return signalPassFailure();
    }
    view->sourceShape = source;
    view->targetShape = *target;
    emitModelView(module, *view, namesRelativeTo());
    artifactPaths().moduleDir = outputDir();
  }
};
} // namespace
