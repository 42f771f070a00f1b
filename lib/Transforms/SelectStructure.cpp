//===- SelectStructure.cpp - one-shot sub-structures as final masks -------===//
//
// The baselines learned pruning must beat (and a tool of its own): a target
// sub-structure picked once, from weight magnitudes or at random, written as
// exact 0/1 final masks for --materialize-shapes.
//
//===----------------------------------------------------------------------===//
#include "shear/Target/ArtifactPaths.h"
#include "shear/Support/Safetensors.h"
#include "shear/Target/ModelView.h"
#include "shear/Transforms/Passes.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace shear {
#define GEN_PASS_DEF_SELECTSTRUCTURE
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {
/// 1 for the `keep` highest scores of a row (ties: the lower index), else 0.
std::vector<float> topK(const std::vector<double> &scores, size_t begin, size_t n, int64_t keep) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    double sa = scores[begin + a], sb = scores[begin + b];
    return sa != sb ? sa > sb : a < b;
  });
  std::vector<float> mask(n, 0.0f);
  for (int64_t i = 0; i < keep && i < static_cast<int64_t>(n); ++i)
    mask[order[i]] = 1.0f;
  return mask;
}

struct SelectStructurePass : shear::impl::SelectStructureBase<SelectStructurePass> {
  using Base::Base;

  /// Scores written by `shear-run importance`: one tensor per family, of the
  /// model's (source) shape. An empty string, or what is wrong.
  std::string readScores(const ModelView &view,
                         std::array<std::vector<double>, kNumMaskFamilies> &score) {
    auto file = SafetensorsFile::open(scores);
    if (!file.ok())
      return file.status().message();
    const ModelConfig &c = view.config;
    for (int i = 0; i < kNumMaskFamilies; ++i) {
      auto family = static_cast<MaskFamily>(i);
      std::string name = familyName(family).str();
      std::vector<int64_t> shape =
          family == MaskFamily::Layer          ? std::vector<int64_t>{c.numLayers}
          : family == MaskFamily::Head         ? std::vector<int64_t>{c.numLayers, c.numHeads}
          : family == MaskFamily::KvGroup      ? std::vector<int64_t>{c.numLayers, c.numKvHeads}
          : family == MaskFamily::Intermediate ? std::vector<int64_t>{c.numLayers, c.intermediateSize}
                                               : std::vector<int64_t>{c.hiddenSize};
      const TensorInfo *t = (*file)->find(name);
      if (!t) {
        if (view.mask(family))
          return scores + ": no '" + name + "' scores (write them with shear-run importance)";
        continue;
      }
      if (t->shape != shape)
        return scores + ": '" + name + "' scores have shape " + shapeToString(t->shape) +
               ", the model's " + name + " family is " + shapeToString(shape) +
               " (scores of another model?)";
      if (Status finite = checkFinite(**file, *t); !finite.ok())
        return finite.message();
      std::vector<float> values = (*file)->readF32(*t);
      score[i].assign(values.begin(), values.end());
    }
    return "";
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const llvm::Twine &msg) {
      module.emitError() << "select-structure: " << msg;
      signalPassFailure();
    };
    if (method != "magnitude" && method != "random" && method != "activation")
      return fail("method must be magnitude, activation or random, got '" + method + "'");
    if ((method == "activation") != !scores.empty())
      return fail(method == "activation"
                      ? "method=activation needs scores=FILE (from shear-run importance)"
                      : "scores=FILE goes with method=activation");
    FailureOr<ModelView> view = readModelView(module, artifactPaths().moduleDir);
    if (failed(view))
      return signalPassFailure();
    bool anyGate = false;
    for (const auto &m : view->masks)
      anyGate |= m && m->isGate;
    if (!anyGate)
      return fail("the model has no gates to choose for (run --insert-masks first)");
    if (write != "masks" && write != "gates")
      return fail("write must be masks or gates, got '" + write + "'");
    std::string masksPath = outputSibling(".masks.safetensors");
    if (masksPath.empty())
      return fail("the masks go beside the output module: give an output file with -o");

    const ModelConfig &c = view->config;
    const int64_t L = c.numLayers, H = c.numHeads, G = c.numKvHeads, hd = c.headDim,
                  D = c.hiddenSize, M = c.intermediateSize;
    std::array<std::vector<double>, kNumMaskFamilies> score;
    auto at = [](MaskFamily f) { return static_cast<int>(f); };
    score[at(MaskFamily::Layer)].assign(L, 0);
    score[at(MaskFamily::Head)].assign(L * H, 0);
    score[at(MaskFamily::KvGroup)].assign(L * G, 0);
    score[at(MaskFamily::Intermediate)].assign(L * M, 0);
    score[at(MaskFamily::Hidden)].assign(D, 0);

    if (method == "activation") {
      if (std::string error = readScores(*view, score); !error.empty())
        return fail(error);
    } else if (method == "random") {
      std::mt19937_64 rng(seed);
      std::uniform_real_distribution<double> u(0, 1);
      for (auto &s : score)
        for (double &x : s)
          x = u(rng);
    } else {
      WeightStore store;
      std::string error;
      // A weight as float32 [rows, cols] (a norm: [1, cols]).
      auto load = [&](const WeightRef &w, std::vector<float> &out, int64_t &rows, int64_t &cols) {
        auto t = store.tensor(w.file, w.name);
        if (!t.ok()) {
          error = t.status().message();
          return false;
        }
        out = t->first->readF32(*t->second);
        cols = w.shape.back();
        rows = static_cast<int64_t>(out.size()) / cols;
        return true;
      };
      std::vector<float> w;
      int64_t rows = 0, cols = 0;
      // Squares of a matrix, summed by row group (rows/groupRows) and by column.
      auto byRows = [&](std::vector<double> *rowOut, int64_t rowBase, int64_t rowsPerUnit,
                        std::vector<double> *colOut, double *total) {
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t k = 0; k < cols; ++k) {
            double v = static_cast<double>(w[r * cols + k]) * w[r * cols + k];
            if (rowOut)
              (*rowOut)[rowBase + r / rowsPerUnit] += v;
            if (colOut)
              (*colOut)[k] += v;
            if (total)
              *total += v;
          }
      };
      auto byCols = [&](std::vector<double> *colOut, int64_t colBase, int64_t colsPerUnit,
                        std::vector<double> *rowOut) {
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t k = 0; k < cols; ++k) {
            double v = static_cast<double>(w[r * cols + k]) * w[r * cols + k];
            if (colOut)
              (*colOut)[colBase + k / colsPerUnit] += v;
            if (rowOut)
              (*rowOut)[r] += v;
          }
      };
      std::vector<double> &hidden = score[at(MaskFamily::Hidden)];
      // Embedding [V, D] and lm_head [V, D]: columns are hidden channels.
      if (!load(view->embed, w, rows, cols))
        return fail(error);
      byRows(nullptr, 0, 1, &hidden, nullptr);
      if (!c.tieWordEmbeddings) {
        if (!load(view->lmHead, w, rows, cols))
          return fail(error);
        byRows(nullptr, 0, 1, &hidden, nullptr);
      }
      if (!load(view->finalNorm, w, rows, cols))
        return fail(error);
      byRows(nullptr, 0, 1, &hidden, nullptr);
      for (int64_t l = 0; l < L; ++l) {
        const LayerWeights &lw = view->layers[l];
        double layerTotal = 0;
        std::vector<double> headScore(H, 0), groupScore(G, 0), inter(M, 0);
        // Norms [D], q [H*hd, D], k/v [G*hd, D], gate/up [M, D]: rows are units, columns hidden.
        for (const WeightRef *n : {&lw.inputNorm, &lw.postNorm}) {
          if (!load(*n, w, rows, cols))
            return fail(error);
          byRows(nullptr, 0, 1, &hidden, &layerTotal);
        }
        if (!load(lw.q, w, rows, cols))
          return fail(error);
        byRows(&headScore, 0, hd, &hidden, &layerTotal);
        for (const WeightRef *kv : {&lw.k, &lw.v}) {
          if (!load(*kv, w, rows, cols))
            return fail(error);
          byRows(&groupScore, 0, hd, &hidden, &layerTotal);
        }
        for (const WeightRef *gu : {&lw.gate, &lw.up}) {
          if (!load(*gu, w, rows, cols))
            return fail(error);
          byRows(&inter, 0, 1, &hidden, &layerTotal);
        }
        // o [D, H*hd], down [D, M]: columns are units, rows hidden.
        std::vector<double> oRows(D, 0), downRows(D, 0);
        if (!load(lw.o, w, rows, cols))
          return fail(error);
        byCols(&headScore, 0, hd, &oRows);
        if (!load(lw.down, w, rows, cols))
          return fail(error);
        byCols(&inter, 0, 1, &downRows);
        for (int64_t d = 0; d < D; ++d) {
          hidden[d] += oRows[d] + downRows[d];
          layerTotal += oRows[d] + downRows[d];
        }
        // A kv group carries its query heads.
        for (int64_t h = 0; h < H; ++h)
          groupScore[h / (H / G)] += headScore[h];
        std::copy(headScore.begin(), headScore.end(), score[at(MaskFamily::Head)].begin() + l * H);
        std::copy(groupScore.begin(), groupScore.end(), score[at(MaskFamily::KvGroup)].begin() + l * G);
        std::copy(inter.begin(), inter.end(), score[at(MaskFamily::Intermediate)].begin() + l * M);
        score[at(MaskFamily::Layer)][l] = layerTotal;
      }
    }

    // Masks: top-k scores per row; grouped-query heads within the kept groups.
    auto chosen = chooseMasks(*view, [&](MaskFamily f, size_t offset, int64_t size, int64_t keep) {
      return topK(score[at(f)], offset, size, keep);
    });
    if (!chosen.ok())
      return fail(chosen.status().message());
    std::array<std::vector<float>, kNumMaskFamilies> masks = chosen.take();

    if (write == "gates") {
      // Learned pruning that starts from this choice: the gates of kept
      // units at keep-log-alpha, the others at drop-log-alpha.
      std::string gatesPath = outputSibling(".gates.safetensors");
      std::vector<std::pair<TensorSpec, std::vector<float>>> tensors;
      for (int i = 0; i < kNumMaskFamilies; ++i) {
        auto &m = view->masks[i];
        if (!m || !m->isGate)
          continue;
        std::vector<float> logAlpha(masks[i].size());
        for (size_t j = 0; j < logAlpha.size(); ++j)
          logAlpha[j] = static_cast<float>(masks[i][j] != 0 ? keepLogAlpha : dropLogAlpha);
        tensors.push_back({TensorSpec{m->tensor.name, DType::F32, m->tensor.shape}, std::move(logAlpha)});
        m->tensor.file = gatesPath;
      }
      if (llvm::Error e = toLlvm(writeF32Tensors(gatesPath, tensors)))
        return fail(llvm::toString(std::move(e)));
    } else if (llvm::Error e = toLlvm(replaceGatesByMasks(*view, std::move(masks), masksPath))) {
      return fail(llvm::toString(std::move(e)));
    }
    emitModelView(module, *view, namesRelativeTo());
    artifactPaths().moduleDir = outputDir();
  }
};
} // namespace
