//===- MaterializeShapes.cpp - masked model to compact model --------------===//
//
// METHOD.md §5. Every output tensor is produced from its source tensor alone
// (read, fold the kept mask values, slice, convert back to the source dtype,
// write), so peak memory is a few tensors, whatever the model's size.
//
//===----------------------------------------------------------------------===//
#include "shear/Target/ArtifactPaths.h"
#include "shear/Target/ModelView.h"
#include "shear/Transforms/Passes.h"

#include <cmath>
#include <functional>
#include <thread>

namespace shear {
#define GEN_PASS_DEF_MATERIALIZESHAPES
#include "shear/Transforms/Passes.h.inc"
} // namespace shear

using namespace mlir;
using namespace shear;

namespace {

/// What to keep of one axis of a weight, and the factor each kept entry is
/// multiplied by.
struct Axis {
  std::vector<int64_t> keep;
  std::vector<float> scale; // empty: 1
  static Axis all(int64_t n) {
    Axis a;
    for (int64_t i = 0; i < n; ++i)
      a.keep.push_back(i);
    return a;
  }
};

/// Kept indices of `mask` (non-zero entries) with their values as scales.
Axis keptOf(llvm::ArrayRef<float> mask) {
  Axis a;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i] != 0.0f) {
      a.keep.push_back(i);
      a.scale.push_back(mask[i]);
    }
  return a;
}

/// Expands per-head entries to per-row entries of a [heads*head_dim, ...] axis.
Axis expandHeads(const Axis &heads, int64_t headDim) {
  Axis a;
  for (size_t i = 0; i < heads.keep.size(); ++i)
    for (int64_t d = 0; d < headDim; ++d) {
      a.keep.push_back(heads.keep[i] * headDim + d);
      if (!heads.scale.empty())
        a.scale.push_back(heads.scale[i]);
    }
  return a;
}

/// One tensor of the compact model.
struct Job {
  std::string name;
  const WeightRef *source;
  std::vector<Axis> axes; // one per dimension (1 or 2)
  float scalar = 1.0f;
};

struct MaterializeShapesPass : shear::impl::MaterializeShapesBase<MaterializeShapesPass> {
  using Base::Base;

  LogicalResult fail(ModuleOp m, const llvm::Twine &msg) {
    m.emitError() << "materialize-shapes: " << msg;
    return failure();
  }

  void runOnOperation() override {
    if (failed(run(getOperation())))
      signalPassFailure();
  }

  LogicalResult run(ModuleOp module) {
    FailureOr<ModelView> viewOr = readModelView(module, artifactPaths().moduleDir);
    if (failed(viewOr))
      return failure();
    ModelView &view = *viewOr;
    if (!view.hasMasks())
      return fail(module, "the model has no masks: nothing to materialize");
    for (int i = 0; i < kNumMaskFamilies; ++i)
      if (view.masks[i] && view.masks[i]->isGate)
        return fail(module, "the " + familyName(static_cast<MaskFamily>(i)) +
                                " mask is still a gate: run --finalize-masks first");
    std::string outPath = outputSibling(".safetensors");
    if (outPath.empty())
      return fail(module, "it writes the compact weights beside the output module: give "
                          "an output file with -o");

    std::optional<DType> dtypeOverride;
    if (weightDtype == "f32")
      dtypeOverride = DType::F32;
    else if (weightDtype == "bf16")
      dtypeOverride = DType::BF16;
    else if (weightDtype == "f16")
      dtypeOverride = DType::F16;
    else if (weightDtype != "source")
      return fail(module, "weight-dtype must be source, f32, bf16 or f16, got '" +
                              weightDtype + "'");

    const ModelConfig &c = view.config;
    int64_t L = c.numLayers, H = c.numHeads, G = c.numKvHeads, D = c.hiddenSize,
            M = c.intermediateSize, hd = c.headDim;
    bool gqa = G != H;

    // Mask values (absent families keep everything with value 1).
    WeightStore store;
    auto load = [&](MaskFamily f, size_t n, std::vector<float> &out) -> LogicalResult {
      const auto &m = view.mask(f);
      if (!m) {
        out.assign(n, 1.0f);
        return success();
      }
      auto t = toLlvm(store.tensor(m->tensor.file, m->tensor.name));
      if (!t)
        return fail(module, llvm::toString(t.takeError()));
      if (static_cast<size_t>(t->second->numel()) != n || !isFloatDType(t->second->dtype))
        return fail(module, t->first->path() + ": mask '" + m->tensor.name +
                                "' must hold " + llvm::Twine(n) + " float values");
      out = t->first->readF32(*t->second);
      for (float v : out)
        if (!std::isfinite(v))
          return fail(module, t->first->path() + ": mask '" + m->tensor.name +
                                  "' holds a non-finite value");
      return success();
    };
    std::vector<float> zL, zH, zG, zI, zD;
    if (failed(load(MaskFamily::Layer, L, zL)) || failed(load(MaskFamily::Head, L * H, zH)) ||
        failed(load(MaskFamily::KvGroup, L * G, zG)) ||
        failed(load(MaskFamily::Intermediate, L * M, zI)) ||
        failed(load(MaskFamily::Hidden, D, zD)))
      return failure();

    Axis hidden = keptOf(zD);
    int64_t groupSize = H / G;
    ModelView out;
    out.config = c;
    out.config.hiddenSize = hidden.keep.size();
    out.config.numLayers = 0;
    std::vector<Job> jobs;

    auto addJob = [&](const std::string &name, const WeightRef *src, std::vector<Axis> axes,
                      float scalar = 1.0f) { jobs.push_back({name, src, std::move(axes), scalar}); };

    addJob("model.embed_tokens.weight", &view.embed, {Axis::all(c.vocabSize), hidden});
    int64_t keptHeads = -1, keptGroups = -1, keptInter = -1;
    for (int64_t l = 0; l < L; ++l) {
      if (zL[l] == 0.0f)
        continue;
      int64_t nl = out.config.numLayers++;
      const LayerWeights &w = view.layers[l];
      // Heads: the context of head h is scaled by z_head · z_kv_group(h).
      std::vector<float> headGate(H);
      for (int64_t h = 0; h < H; ++h)
        headGate[h] = zH[l * H + h] * (gqa ? zG[l * G + h / groupSize] : 1.0f);
      Axis heads = keptOf(headGate);
      Axis groups;
      if (gqa) {
        groups = keptOf(llvm::ArrayRef(zG).slice(l * G, G));
        groups.scale.clear();
        // Every kept head must lie in a kept group, with the same count in each.
        for (int64_t g : groups.keep) {
          int64_t n = 0;
          for (int64_t h : heads.keep)
            n += h / groupSize == g;
          if (groups.keep.empty() || n * static_cast<int64_t>(groups.keep.size()) !=
                                         static_cast<int64_t>(heads.keep.size()))
            return fail(module, "layer " + llvm::Twine(l) + " keeps " + llvm::Twine(n) +
                                    " query heads in kv group " + llvm::Twine(g) +
                                    " but the groups must keep the same number each");
        }
      } else {
        groups = heads;
        groups.scale.clear();
      }
      Axis inter = keptOf(llvm::ArrayRef(zI).slice(l * M, M));
      int64_t nh = heads.keep.size(), ng = groups.keep.size(), ni = inter.keep.size();
      if (nh == 0 || ni == 0)
        return fail(module, "layer " + llvm::Twine(l) + " is kept but keeps no " +
                                (nh == 0 ? "heads" : "intermediate dims"));
      if (keptHeads < 0) {
        keptHeads = nh;
        keptGroups = ng;
        keptInter = ni;
      } else if (nh != keptHeads || ng != keptGroups || ni != keptInter) {
        return fail(module, "layer " + llvm::Twine(l) + " keeps " + llvm::Twine(nh) +
                                " heads, " + llvm::Twine(ng) + " kv groups and " +
                                llvm::Twine(ni) +
                                " intermediate dims, unlike the first kept layer (" +
                                llvm::Twine(keptHeads) + ", " + llvm::Twine(keptGroups) +
                                ", " + llvm::Twine(keptInter) +
                                "): the masks must keep the same sizes in every layer");
      }
      Axis qRows = expandHeads(heads, hd);
      qRows.scale.clear();
      Axis oCols = expandHeads(heads, hd); // folds z_head·z_kv_group
      Axis kvRows = expandHeads(groups, hd);
      Axis interRows = inter;             // up_proj rows × z_int
      Axis interPlain = inter;
      interPlain.scale.clear();
      Axis hiddenPlain = hidden;
      hiddenPlain.scale.clear();

      addJob(hfLayerName(nl, "input_layernorm.weight"), &w.inputNorm, {hidden});
      addJob(hfLayerName(nl, "self_attn.q_proj.weight"), &w.q, {qRows, hiddenPlain});
      addJob(hfLayerName(nl, "self_attn.k_proj.weight"), &w.k, {kvRows, hiddenPlain});
      addJob(hfLayerName(nl, "self_attn.v_proj.weight"), &w.v, {kvRows, hiddenPlain});
      addJob(hfLayerName(nl, "self_attn.o_proj.weight"), &w.o, {hidden, oCols}, zL[l]);
      addJob(hfLayerName(nl, "post_attention_layernorm.weight"), &w.postNorm, {hidden});
      addJob(hfLayerName(nl, "mlp.gate_proj.weight"), &w.gate, {interPlain, hiddenPlain});
      addJob(hfLayerName(nl, "mlp.up_proj.weight"), &w.up, {interRows, hiddenPlain});
      addJob(hfLayerName(nl, "mlp.down_proj.weight"), &w.down, {hidden, interPlain}, zL[l]);
    }
    if (out.config.numLayers == 0)
      return fail(module, "the layer mask drops every layer");
    addJob("model.norm.weight", &view.finalNorm, {hidden});

    // lm_head is never scaled. A tied model stays tied only if the hidden mask
    // leaves the kept embedding columns unscaled.
    bool softHidden = llvm::any_of(hidden.scale, [](float s) { return s != 1.0f; });
    out.config.tieWordEmbeddings = c.tieWordEmbeddings && !softHidden;
    if (!out.config.tieWordEmbeddings) {
      Axis hiddenPlain = hidden;
      hiddenPlain.scale.clear();
      addJob("lm_head.weight", &view.lmHead, {Axis::all(c.vocabSize), hiddenPlain});
    }
    out.config.numHeads = keptHeads;
    out.config.numKvHeads = keptGroups;
    out.config.intermediateSize = keptInter;

    if (view.targetShape) {
      ShapeSpec got = out.shape(), want = *view.targetShape;
      if (got.layers != want.layers || got.heads != want.heads || got.kvHeads != want.kvHeads ||
          got.hidden != want.hidden || got.intermediate != want.intermediate)
        return fail(module, "the final masks give " + got.str() + " but the target is " +
                                want.str());
    }

    // Write every tensor, one at a time.
    std::vector<TensorSpec> specs;
    for (const Job &j : jobs) {
      TensorSpec s{j.name, dtypeOverride.value_or(j.source->dtype), {}};
      for (const Axis &a : j.axes)
        s.shape.push_back(a.keep.size());
      specs.push_back(s);
    }
    auto writer = toLlvm(SafetensorsWriter::create(outPath, specs));
    if (!writer)
      return fail(module, llvm::toString(writer.takeError()));
    std::map<std::string, WeightRef> produced;
    for (size_t i = 0; i < jobs.size(); ++i) {
      const Job &j = jobs[i];
      auto t = toLlvm(store.tensor(j.source->file, j.source->name));
      if (!t)
        return fail(module, llvm::toString(t.takeError()));
      auto [file, info] = *t;
      if (info->shape != j.source->shape || info->dtype != j.source->dtype)
        return fail(module, file->path() + ": tensor '" + info->name + "' is " +
                                dtypeName(info->dtype) + " " + shapeToString(info->shape) +
                                " but the module declares " + dtypeName(j.source->dtype) + " " +
                                shapeToString(j.source->shape));
      std::vector<float> dst = fold(j, file->data(*info), *info);
      file->release(*info);
      // The kept values (the rows pruned away do not matter) must be finite.
      for (size_t k = 0; k < dst.size(); ++k)
        if (!std::isfinite(dst[k]))
          return fail(module, file->path() + ": tensor '" + info->name + "' holds " +
                                  (std::isnan(dst[k]) ? "NaN" : "an infinity") +
                                  " in a kept entry (non-finite weights are refused)");
      if (llvm::Error e = toLlvm((*writer)->writeF32(dst)))
        return fail(module, llvm::toString(std::move(e)));
      produced[j.name] = WeightRef{j.name, outPath, specs[i].dtype, specs[i].shape};
    }
    if (llvm::Error e = toLlvm((*writer)->commit()))
      return fail(module, llvm::toString(std::move(e)));

    auto ref = [&](const std::string &name) { return produced.at(name); };
    out.embed = ref("model.embed_tokens.weight");
    out.finalNorm = ref("model.norm.weight");
    out.lmHead = out.config.tieWordEmbeddings ? out.embed : ref("lm_head.weight");
    for (int64_t l = 0; l < out.config.numLayers; ++l) {
      auto n = [&](const char *suffix) { return ref(hfLayerName(l, suffix)); };
      out.layers.push_back({n("input_layernorm.weight"), n("self_attn.q_proj.weight"),
                            n("self_attn.k_proj.weight"), n("self_attn.v_proj.weight"),
                            n("self_attn.o_proj.weight"), n("post_attention_layernorm.weight"),
                            n("mlp.gate_proj.weight"), n("mlp.up_proj.weight"),
                            n("mlp.down_proj.weight")});
    }
    emitModelView(module, out, namesRelativeTo());
    artifactPaths().moduleDir = outputDir();
    return success();
  }

  /// Slices the stored tensor along every axis and multiplies by the kept
  /// entries' scales and the job's scalar. Only kept rows are converted to
  /// float32; rows are split between two threads.
  static std::vector<float> fold(const Job &j, const uint8_t *data, const TensorInfo &info) {
    size_t elt = dtypeBytes(info.dtype);
    if (j.axes.size() == 1) {
      const Axis &a = j.axes[0];
      std::vector<float> src(info.numel());
      convertToF32(info.dtype, data, src.size(), src.data());
      std::vector<float> dst;
      for (size_t i = 0; i < a.keep.size(); ++i)
        dst.push_back(src[a.keep[i]] * (a.scale.empty() ? 1.0f : a.scale[i]) * j.scalar);
      return dst;
    }
    const Axis &rows = j.axes[0], &cols = j.axes[1];
    int64_t C = info.shape[1];
    size_t nc = cols.keep.size();
    std::vector<float> dst(rows.keep.size() * nc);
    auto work = [&](size_t begin, size_t end) {
      std::vector<float> row(C);
      for (size_t r = begin; r < end; ++r) {
        convertToF32(info.dtype, data + rows.keep[r] * C * elt, C, row.data());
        float rs = (rows.scale.empty() ? 1.0f : rows.scale[r]) * j.scalar;
        float *o = dst.data() + r * nc;
        if (cols.scale.empty())
          for (size_t k = 0; k < nc; ++k)
            o[k] = row[cols.keep[k]] * rs;
        else
          for (size_t k = 0; k < nc; ++k)
            o[k] = row[cols.keep[k]] * cols.scale[k] * rs;
      }
    };
    size_t half = rows.keep.size() / 2;
    std::thread helper(work, half, rows.keep.size());
    work(0, half);
    helper.join();
    return dst;
  }
};
} // namespace
