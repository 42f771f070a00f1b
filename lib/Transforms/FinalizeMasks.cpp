//===- FinalizeMasks.cpp - gates to deterministic masks of target size ----===//
#include "shear/Target/ArtifactPaths.h"
#include "shear/Target/ModelView.h"
#include "shear/Support/GateMath.h"
#include "shear/Transforms/Passes.h"

namespace shear {
#define GEN_PASS_DEF_FINALIZEMASKS
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
struct FinalizeMasksPass : shear::impl::FinalizeMasksBase<FinalizeMasksPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<ModelView> view = readModelView(module, artifactPaths().moduleDir);
    if (failed(view))
      return signalPassFailure();
    bool anyGate = false;
    for (const auto &m : view->masks)
      anyGate |= m && m->isGate;
    if (!anyGate) {
      if (!view->hasMasks()) {
        module.emitError("finalize-masks: the model has no gates (run --insert-masks first)");
        return signalPassFailure();
      }
      return; // already final
    }
    std::string masksPath = outputSibling(".masks.safetensors");
    if (masksPath.empty()) {
      module.emitError("finalize-masks writes the masks beside the output module: give "
                       "an output file with -o");
      return signalPassFailure();
    }

    // Load every gate's log_alpha.
    WeightStore store;
    std::array<std::vector<float>, kNumMaskFamilies> logAlpha;
    for (int i = 0; i < kNumMaskFamilies; ++i) {
      const auto &m = view->masks[i];
      if (!m)
        continue;
      auto t = toLlvm(store.tensor(m->tensor.file, m->tensor.name));
      if (!t) {
        module.emitError() << "finalize-masks: " << llvm::toString(t.takeError());
        return signalPassFailure();
      }
      auto [file, info] = *t;
      if (info->dtype != DType::F32 || info->shape != m->tensor.shape) {
        module.emitError() << "finalize-masks: " << file->path() << ": tensor '" << info->name
                           << "' must be F32 " << shapeToString(m->tensor.shape) << ", got "
                           << dtypeName(info->dtype) << " " << shapeToString(info->shape);
        return signalPassFailure();
      }
      if (llvm::Error e = toLlvm(checkFinite(*file, *info))) {
        module.emitError() << "finalize-masks: " << llvm::toString(std::move(e));
        return signalPassFailure();
      }
      logAlpha[i] = file->readF32(*info);
    }

    // The `keep` largest log_alpha of each row take their soft values.
    auto masks = chooseMasks(*view, [&](MaskFamily f, size_t offset, int64_t size, int64_t keep) {
      return gate::deterministicRow(
          Span<const float>(logAlpha[static_cast<int>(f)]).slice(offset, size), keep);
    });
    if (!masks.ok()) {
      module.emitError() << "finalize-masks: " << masks.status().message();
      return signalPassFailure();
    }

    if (llvm::Error e = toLlvm(replaceGatesByMasks(*view, masks.take(), masksPath))) {
      module.emitError() << "finalize-masks: " << llvm::toString(std::move(e));
      return signalPassFailure();
    }
    emitModelView(module, *view, namesRelativeTo());
    artifactPaths().moduleDir = outputDir();
  }
};
} // namespace
