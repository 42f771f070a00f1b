//===- ModelView.h - a shear module seen as a LLaMA-family model ----------===//
//
// The structured view every import, export and pass works on: configuration,
// one reference per weight, and the masks (gate parameters or final masks).
// readModelView checks that a module has the decoder's structure and reports
// precisely where it does not; emitModelView writes the canonical module for a
// view. Passes that change the model's structure read a view, change it and
// emit it again, so there is one place that knows the shape of the IR.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TARGET_MODELVIEW_H
#define SHEAR_TARGET_MODELVIEW_H

#include "shear/Support/Safetensors.h"
#include "shear/Target/Errors.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <array>
#include <optional>

namespace shear {

struct WeightRef {
  std::string name;
  std::string file; // absolute path
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

enum class MaskFamily { Layer = 0, Head, KvGroup, Intermediate, Hidden };
constexpr int kNumMaskFamilies = 5;
llvm::StringRef familyName(MaskFamily family);
std::optional<MaskFamily> parseFamily(llvm::StringRef name);

/// One mask family: either learnable gate parameters (log_alpha) or the final
/// deterministic mask values.
struct MaskRef {
  WeightRef tensor;
  bool isGate = true;
  int64_t targetSize = 0; // entries kept per row in the target model
};

struct RopeScaling {
  std::string type; // "" (none), "linear" or "llama3"
  double factor = 1.0;
  double lowFreqFactor = 1.0, highFreqFactor = 4.0;
  int64_t originalMaxPositions = 8192;
};

struct ModelConfig {
  int64_t vocabSize = 0, hiddenSize = 0, intermediateSize = 0, numLayers = 0;
  int64_t numHeads = 0, numKvHeads = 0, headDim = 0;
  double rmsNormEps = 1e-5, ropeTheta = 10000.0;
  RopeScaling ropeScaling;
  bool tieWordEmbeddings = false;
  int64_t maxPositionEmbeddings = 2048;
  std::string architecture = "LlamaForCausalLM";
  std::optional<int64_t> bosTokenId, eosTokenId, slidingWindow;
  /// The model's tokenizer, carried from import to export: the absolute path
  /// of a directory with HF tokenizer files or of a SentencePiece
  /// tokenizer.model ("": none).
  std::string tokenizer;
};

/// The pruning-relevant shape of a model (METHOD.md §1).
struct ShapeSpec {
  int64_t layers = 0, heads = 0, kvHeads = 0, hidden = 0, intermediate = 0;
  std::string str() const;
};

struct LayerWeights {
  WeightRef inputNorm, q, k, v, o, postNorm, gate, up, down;
};

struct ModelView {
  ModelConfig config;
  WeightRef embed, finalNorm, lmHead; // lmHead is embed when tied
  std::vector<LayerWeights> layers;
  std::array<std::optional<MaskRef>, kNumMaskFamilies> masks;
  std::optional<ShapeSpec> sourceShape, targetShape;

  bool hasMasks() const;
  std::optional<MaskRef> &mask(MaskFamily f) { return masks[static_cast<int>(f)]; }
  const std::optional<MaskRef> &mask(MaskFamily f) const {
    return masks[static_cast<int>(f)];
  }
  ShapeSpec shape() const;
  /// Every weight in HF order (embed, layers, final norm, lm_head if untied),
  /// each with its HF name.
  std::vector<std::pair<std::string, const WeightRef *>> hfWeights() const;
};

/// Reads the model of `module` (func.func @forward). Relative weight files are
/// resolved against `baseDir`. Diagnostics name the op that breaks the
/// expected structure.
mlir::FailureOr<ModelView> readModelView(mlir::ModuleOp module, llvm::StringRef baseDir);

/// Replaces the contents of `module` by the canonical module for `view`.
/// Weight files are named relative to `outDir`.
void emitModelView(mlir::ModuleOp module, const ModelView &view, llvm::StringRef outDir);

/// One row of a family's final mask: the row is the `size` entries at
/// `offset` of the family's row-major tensor, `keep` of them kept (non-zero).
using MaskRowChooser =
    llvm::function_ref<std::vector<float>(MaskFamily family, size_t offset, int64_t size, int64_t keep)>;

/// Every family's final mask, row by row through `row`; a grouped-query
/// model's heads are chosen within its kept kv groups, the same number in
/// each (docs/masks.md). Fails when the head target is not a multiple of the
/// kv-group target. Shared by finalize-masks (log_alpha) and
/// select-structure (scores).
Result<std::array<std::vector<float>, kNumMaskFamilies>> chooseMasks(const ModelView &view,
                                                                      MaskRowChooser row);

/// Final masks replace the gates: every family's mask values (row-major,
/// the gate's shape) are written as `shear.mask.<family>` to `masksPath`,
/// and the view's masks refer to them (finalize-masks, select-structure).
Status replaceGatesByMasks(ModelView &view, std::array<std::vector<float>, kNumMaskFamilies> masks,
                           const std::string &masksPath);

/// HF tensor names.
std::string hfLayerName(int64_t layer, llvm::StringRef suffix);

} // namespace shear

#endif
