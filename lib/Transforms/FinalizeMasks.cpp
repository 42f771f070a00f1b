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

    auto idx = [](MaskFamily f) { return static_cast<int>(f); };
    std::array<std::vector<float>, kNumMaskFamilies> masks;
    auto rowwise = [&](MaskFamily f) {
      const MaskRef &m = *view->mask(f);
      int64_t rowSize = m.tensor.shape.back();
      const std::vector<float> &la = logAlpha[idx(f)];
      for (size_t r = 0; r < la.size(); r += rowSize) {
        auto row = gate::deterministicRow(Span<const float>(la).slice(r, rowSize), m.targetSize);
        masks[idx(f)].insert(masks[idx(f)].end(), row.begin(), row.end());
      }
    };
    for (MaskFamily f : {MaskFamily::Layer, MaskFamily::Intermediate, MaskFamily::Hidden})
      if (view->mask(f))
        rowwise(f);
    const auto &head = view->mask(MaskFamily::Head);
    const auto &kv = view->mask(MaskFamily::KvGroup);
    if (head && kv) {
      int64_t heads = head->tensor.shape[1], groups = kv->tensor.shape[1];
      if (head->targetSize % kv->targetSize != 0) {
        module.emitError() << "finalize-masks: the head gate keeps " << head->targetSize
                           << " heads, not a multiple of the " << kv->targetSize
                           << " kv groups the kv_group gate keeps";
        return signalPassFailure();
      }
      int64_t perGroup = head->targetSize / kv->targetSize;
      for (int64_t l = 0; l < head->tensor.shape[0]; ++l) {
        std::vector<float> h, g;
        gate::deterministicGqaRow(Span<const float>(logAlpha[idx(MaskFamily::Head)]).slice(l * heads, heads),
                                  Span<const float>(logAlpha[idx(MaskFamily::KvGroup)]).slice(l * groups, groups),
                                  kv->targetSize, perGroup, h, g);
        masks[idx(MaskFamily::Head)].insert(masks[idx(MaskFamily::Head)].end(), h.begin(), h.end());
        masks[idx(MaskFamily::KvGroup)].insert(masks[idx(MaskFamily::KvGroup)].end(), g.begin(), g.end());
      }
    } else if (head) {
      rowwise(MaskFamily::Head);
    } else if (kv) {
      rowwise(MaskFamily::KvGroup);
    }

    if (llvm::Error e = toLlvm(replaceGatesByMasks(*view, std::move(masks), masksPath))) {
      module.emitError() << "finalize-masks: " << llvm::toString(std::move(e));
      return signalPassFailure();
    }
    emitModelView(module, *view, namesRelativeTo());
    artifactPaths().moduleDir = outputDir();
  }
};
} // namespace
