//===- ModelView.cpp - shear module <-> structured model ------------------===//
#include "shear/Target/ModelView.h"

#include "shear/Dialect/ShearOps.h"
#include "shear/Target/ArtifactPaths.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace shear;

static const char *const kFamilyNames[kNumMaskFamilies] = {
    "layer", "head", "kv_group", "intermediate", "hidden"};

StringRef shear::familyName(MaskFamily f) { return kFamilyNames[static_cast<int>(f)]; }

std::optional<MaskFamily> shear::parseFamily(StringRef name) {
  for (int i = 0; i < kNumMaskFamilies; ++i)
    if (name == kFamilyNames[i])
      return static_cast<MaskFamily>(i);
  return std::nullopt;
}

std::string ShapeSpec::str() const {
  return "layers=" + std::to_string(layers) + ",heads=" + std::to_string(heads) +
         ",kv-heads=" + std::to_string(kvHeads) + ",hidden=" + std::to_string(hidden) +
         ",intermediate=" + std::to_string(intermediate);
}

bool ModelView::hasMasks() const {
  for (const auto &m : masks)
    if (m)
      return true;
  return false;
}

ShapeSpec ModelView::shape() const {
  return {config.numLayers, config.numHeads, config.numKvHeads, config.hiddenSize,
          config.intermediateSize};
}

std::string shear::hfLayerName(int64_t layer, StringRef suffix) {
  return "model.layers." + std::to_string(layer) + "." + suffix.str();
}

std::vector<std::pair<std::string, const WeightRef *>> ModelView::hfWeights() const {
  std::vector<std::pair<std::string, const WeightRef *>> out;
  out.push_back({"model.embed_tokens.weight", &embed});
  for (size_t l = 0; l < layers.size(); ++l) {
    const LayerWeights &w = layers[l];
    const std::pair<const char *, const WeightRef *> entries[] = {
        {"input_layernorm.weight", &w.inputNorm},
        {"self_attn.q_proj.weight", &w.q},
        {"self_attn.k_proj.weight", &w.k},
        {"self_attn.v_proj.weight", &w.v},
        {"self_attn.o_proj.weight", &w.o},
        {"post_attention_layernorm.weight", &w.postNorm},
        {"mlp.gate_proj.weight", &w.gate},
        {"mlp.up_proj.weight", &w.up},
        {"mlp.down_proj.weight", &w.down}};
    for (const auto &e : entries)
      out.push_back({hfLayerName(l, e.first), e.second});
  }
  out.push_back({"model.norm.weight", &finalNorm});
  if (!config.tieWordEmbeddings)
    out.push_back({"lm_head.weight", &lmHead});
  return out;
}

//===----------------------------------------------------------------------===//
// reading
//===----------------------------------------------------------------------===//

namespace {
std::optional<DType> dtypeOf(Type t) {
  if (t.isF32())
    return DType::F32;
  if (t.isBF16())
    return DType::BF16;
  if (t.isF16())
    return DType::F16;
  return std::nullopt;
}

std::optional<ShapeSpec> readShapeAttr(ModuleOp module, StringRef name) {
  auto dict = module->getAttrOfType<DictionaryAttr>(name);
  if (!dict)
    return std::nullopt;
  auto get = [&](StringRef key) -> int64_t {
    auto a = dict.getAs<IntegerAttr>(key);
    return a ? a.getInt() : 0;
  };
  return ShapeSpec{get("layers"), get("heads"), get("kv_heads"), get("hidden"),
                   get("intermediate")};
}

DictionaryAttr shapeAttr(Builder &b, const ShapeSpec &s) {
  return b.getDictionaryAttr({
      b.getNamedAttr("layers", b.getI64IntegerAttr(s.layers)),
      b.getNamedAttr("heads", b.getI64IntegerAttr(s.heads)),
      b.getNamedAttr("kv_heads", b.getI64IntegerAttr(s.kvHeads)),
      b.getNamedAttr("hidden", b.getI64IntegerAttr(s.hidden)),
      b.getNamedAttr("intermediate", b.getI64IntegerAttr(s.intermediate)),
  });
}

// Gathers the model while checking its structure.
class Reader {
public:
  Reader(ModuleOp module, StringRef baseDir) : module(module), baseDir(baseDir) {}
  FailureOr<ModelView> read();

private:
  FailureOr<WeightRef> weight(Operation *user, StringRef operand, Value v);
  LogicalResult mask(Operation *user, StringRef operand, Value v, MaskFamily f,
                     std::optional<int64_t> layer);
  LogicalResult expectSame(Operation *op, StringRef operand, Value got, Value want,
                           StringRef what);

  ModuleOp module;
  std::string baseDir;
  ModelView view;
  std::array<Value, kNumMaskFamilies> maskRoots;
  std::array<int, kNumMaskFamilies> maskUses{};
};

FailureOr<WeightRef> Reader::weight(Operation *user, StringRef operand, Value v) {
  auto w = v.getDefiningOp<WeightOp>();
  if (!w) {
    user->emitOpError() << "operand '" << operand
                        << "' must be defined by a shear.weight";
    return failure();
  }
  auto type = cast<RankedTensorType>(w.getType());
  auto dtype = dtypeOf(type.getElementType());
  if (!dtype) {
    w.emitOpError() << "weights must be f32, f16 or bf16, got " << type.getElementType();
    return failure();
  }
  WeightRef r;
  r.name = w.getName().str();
  r.file = absolutePath(w.getFile(), baseDir);
  r.dtype = *dtype;
  r.shape.assign(type.getShape().begin(), type.getShape().end());
  return r;
}

LogicalResult Reader::mask(Operation *user, StringRef operand, Value v, MaskFamily f,
                           std::optional<int64_t> layer) {
  if (!v)
    return success();
  int idx = static_cast<int>(f);
  ++maskUses[idx];
  Value root = v;
  if (layer) {
    auto row = v.getDefiningOp<MaskRowOp>();
    if (!row || static_cast<int64_t>(row.getIndex()) != *layer)
      return user->emitOpError() << "operand '" << operand << "' must be row " << *layer
                                 << " of the " << familyName(f)
                                 << " mask (a shear.mask_row)";
    root = row.getMask();
  }
  if (maskRoots[idx]) {
    if (maskRoots[idx] != root)
      return user->emitOpError() << "operand '" << operand << "' uses a different "
                                 << familyName(f) << " mask than the rest of the model";
    return success();
  }
  maskRoots[idx] = root;
  MaskRef m;
  if (auto gate = root.getDefiningOp<GateOp>()) {
    if (gate.getFamily() != familyName(f))
      return gate.emitOpError() << "is a '" << gate.getFamily() << "' gate but is used as the "
                                << familyName(f) << " mask";
    auto w = weight(gate, "log_alpha", gate.getLogAlpha());
    if (failed(w))
      return failure();
    m.tensor = *w;
    m.isGate = true;
    m.targetSize = gate.getTargetSize();
  } else {
    auto w = weight(user, operand, root);
    if (failed(w))
      return failure();
    m.tensor = *w;
    m.isGate = false;
  }
  view.mask(f) = m;
  return success();
}

LogicalResult Reader::expectSame(Operation *op, StringRef operand, Value got, Value want,
                                 StringRef what) {
  if (got == want)
    return success();
  return op->emitOpError() << "operand '" << operand << "' must be " << what
                           << " (the model is not a LLaMA-family decoder)";
}

FailureOr<ModelView> Reader::read() {
  auto fn = module.lookupSymbol<func::FuncOp>("forward");
  if (!fn) {
    module.emitError("expected the model as func.func @forward");
    return failure();
  }
  SmallVector<EmbedOp> embeds;
  SmallVector<RMSNormOp> norms;
  SmallVector<AttentionOp> attns;
  SmallVector<MLPOp> mlps;
  SmallVector<ResidualAddOp> residuals;
  SmallVector<LMHeadOp> heads;
  fn.walk([&](Operation *op) {
    llvm::TypeSwitch<Operation *>(op)
        .Case([&](EmbedOp o) { embeds.push_back(o); })
        .Case([&](RMSNormOp o) { norms.push_back(o); })
        .Case([&](AttentionOp o) { attns.push_back(o); })
        .Case([&](MLPOp o) { mlps.push_back(o); })
        .Case([&](ResidualAddOp o) { residuals.push_back(o); })
        .Case([&](LMHeadOp o) { heads.push_back(o); });
  });
  size_t L = attns.size();
  if (embeds.size() != 1 || heads.size() != 1 || mlps.size() != L ||
      norms.size() != 2 * L + 1 || residuals.size() != 2 * L) {
    fn.emitOpError() << "is not a LLaMA-family decoder: expected one shear.embed, one "
                        "shear.lm_head and per layer one attention, one mlp, two "
                        "rms_norm and two residual_add plus a final rms_norm; found "
                     << embeds.size() << " embed, " << heads.size() << " lm_head, "
                     << attns.size() << " attention, " << mlps.size() << " mlp, "
                     << norms.size() << " rms_norm, " << residuals.size()
                     << " residual_add";
    return failure();
  }
  EmbedOp embed = embeds[0];
  LMHeadOp head = heads[0];
  ModelConfig &c = view.config;

  auto embedW = weight(embed, "table", embed.getTable());
  if (failed(embedW))
    return failure();
  view.embed = *embedW;
  c.vocabSize = view.embed.shape[0];
  c.hiddenSize = view.embed.shape[1];
  c.numLayers = L;
  c.rmsNormEps = norms[0].getEps().convertToDouble();
  if (failed(mask(embed, "hidden_mask", embed.getHiddenMask(), MaskFamily::Hidden, {})))
    return failure();

  Value x = embed.getResult();
  for (size_t l = 0; l < L; ++l) {
    RMSNormOp n1 = norms[2 * l], n2 = norms[2 * l + 1];
    AttentionOp attn = attns[l];
    MLPOp mlp = mlps[l];
    ResidualAddOp r1 = residuals[2 * l], r2 = residuals[2 * l + 1];
    if (failed(expectSame(n1, "input", n1.getInput(), x, "the residual stream")) ||
        failed(expectSame(attn, "input", attn.getInput(), n1.getResult(),
                          "the output of the layer's input rms_norm")) ||
        failed(expectSame(r1, "residual", r1.getResidual(), x, "the residual stream")) ||
        failed(expectSame(r1, "update", r1.getUpdate(), attn.getResult(),
                          "the layer's attention output")) ||
        failed(expectSame(n2, "input", n2.getInput(), r1.getResult(),
                          "the residual stream after attention")) ||
        failed(expectSame(mlp, "input", mlp.getInput(), n2.getResult(),
                          "the output of the post-attention rms_norm")) ||
        failed(expectSame(r2, "residual", r2.getResidual(), r1.getResult(),
                          "the residual stream after attention")) ||
        failed(expectSame(r2, "update", r2.getUpdate(), mlp.getResult(),
                          "the layer's mlp output")))
      return failure();
    x = r2.getResult();

    if (l == 0) {
      c.numHeads = attn.getNumHeads();
      c.numKvHeads = attn.getNumKvHeads();
      c.headDim = attn.getHeadDim();
      c.ropeTheta = attn.getRopeTheta().convertToDouble();
      if (auto s = attn.getRopeScalingAttr()) {
        c.ropeScaling.type = s.getAs<StringAttr>("rope_type").getValue().str();
        c.ropeScaling.factor = s.getAs<FloatAttr>("factor").getValueAsDouble();
        if (c.ropeScaling.type == "llama3") {
          c.ropeScaling.lowFreqFactor = s.getAs<FloatAttr>("low_freq_factor").getValueAsDouble();
          c.ropeScaling.highFreqFactor = s.getAs<FloatAttr>("high_freq_factor").getValueAsDouble();
          c.ropeScaling.originalMaxPositions =
              s.getAs<IntegerAttr>("original_max_position_embeddings").getInt();
        }
      }
    } else if (attn.getNumHeads() != static_cast<uint64_t>(c.numHeads) ||
               attn.getNumKvHeads() != static_cast<uint64_t>(c.numKvHeads) ||
               attn.getHeadDim() != static_cast<uint64_t>(c.headDim) ||
               attn.getRopeTheta() != attns[0].getRopeTheta() ||
               attn.getRopeScalingAttr() != attns[0].getRopeScalingAttr()) {
      attn.emitOpError("has attributes that differ from layer 0's: every layer must "
                       "have the same heads, head_dim and RoPE");
      return failure();
    }

    LayerWeights w;
    auto get = [&](Operation *op, StringRef name, Value v, WeightRef &out) {
      auto r = weight(op, name, v);
      if (succeeded(r))
        out = *r;
      return succeeded(r);
    };
    if (!get(n1, "weight", n1.getWeight(), w.inputNorm) ||
        !get(attn, "wq", attn.getWq(), w.q) || !get(attn, "wk", attn.getWk(), w.k) ||
        !get(attn, "wv", attn.getWv(), w.v) || !get(attn, "wo", attn.getWo(), w.o) ||
        !get(n2, "weight", n2.getWeight(), w.postNorm) ||
        !get(mlp, "w_gate", mlp.getWGate(), w.gate) || !get(mlp, "w_up", mlp.getWUp(), w.up) ||
        !get(mlp, "w_down", mlp.getWDown(), w.down))
      return failure();
    if (l == 0) {
      c.intermediateSize = w.gate.shape[0];
    } else if (w.gate.shape[0] != c.intermediateSize) {
      mlp.emitOpError() << "has intermediate size " << w.gate.shape[0] << " but layer 0 has "
                        << c.intermediateSize << ": every layer must have the same";
      return failure();
    }
    view.layers.push_back(w);

    std::optional<int64_t> li = l;
    if (failed(mask(n1, "hidden_mask", n1.getHiddenMask(), MaskFamily::Hidden, {})) ||
        failed(mask(n2, "hidden_mask", n2.getHiddenMask(), MaskFamily::Hidden, {})) ||
        failed(mask(attn, "head_mask", attn.getHeadMask(), MaskFamily::Head, li)) ||
        failed(mask(attn, "kv_group_mask", attn.getKvGroupMask(), MaskFamily::KvGroup, li)) ||
        failed(mask(mlp, "intermediate_mask", mlp.getIntermediateMask(),
                    MaskFamily::Intermediate, li)) ||
        failed(mask(r1, "layer_mask", r1.getLayerMask(), MaskFamily::Layer, li)) ||
        failed(mask(r2, "layer_mask", r2.getLayerMask(), MaskFamily::Layer, li)) ||
        failed(mask(r1, "hidden_mask", r1.getHiddenMask(), MaskFamily::Hidden, {})) ||
        failed(mask(r2, "hidden_mask", r2.getHiddenMask(), MaskFamily::Hidden, {})))
      return failure();
  }

  RMSNormOp nf = norms[2 * L];
  if (failed(expectSame(nf, "input", nf.getInput(), x, "the residual stream")) ||
      failed(expectSame(head, "input", head.getInput(), nf.getResult(),
                        "the output of the final rms_norm")))
    return failure();
  auto finalW = weight(nf, "weight", nf.getWeight());
  if (failed(finalW) ||
      failed(mask(nf, "hidden_mask", nf.getHiddenMask(), MaskFamily::Hidden, {})))
    return failure();
  view.finalNorm = *finalW;
  for (RMSNormOp n : norms)
    if (n.getEps() != norms[0].getEps()) {
      n.emitOpError("has an eps that differs from the first rms_norm's");
      return failure();
    }

  c.tieWordEmbeddings = head.getWeight() == embed.getTable();
  if (head.getTied() && !c.tieWordEmbeddings) {
    head.emitOpError("is 'tied' but its weight is not the embedding table");
    return failure();
  }
  auto headW = weight(head, "weight", head.getWeight());
  if (failed(headW))
    return failure();
  view.lmHead = *headW;

  auto ret = dyn_cast<func::ReturnOp>(fn.getBody().front().getTerminator());
  if (!ret || ret.getNumOperands() != 1 || ret.getOperand(0) != head.getLogits()) {
    fn.emitOpError("must return the logits of its shear.lm_head");
    return failure();
  }

  // A mask family is on every op it applies to, or on none.
  const int expectedUses[kNumMaskFamilies] = {
      static_cast<int>(2 * L), static_cast<int>(L), static_cast<int>(L),
      static_cast<int>(L), static_cast<int>(1 + (2 * L + 1) + 2 * L)};
  for (int i = 0; i < kNumMaskFamilies; ++i)
    if (maskUses[i] != 0 && maskUses[i] != expectedUses[i]) {
      fn.emitOpError() << "the " << kFamilyNames[i] << " mask is applied by "
                       << maskUses[i] << " ops but must be applied by all "
                       << expectedUses[i] << " ops it governs, or by none";
      return failure();
    }

  if (auto model = module->getAttrOfType<DictionaryAttr>("shear.model")) {
    if (auto a = model.getAs<StringAttr>("architecture"))
      c.architecture = a.getValue().str();
    if (auto a = model.getAs<IntegerAttr>("max_position_embeddings"))
      c.maxPositionEmbeddings = a.getInt();
    if (auto a = model.getAs<IntegerAttr>("bos_token_id"))
      c.bosTokenId = a.getInt();
    if (auto a = model.getAs<IntegerAttr>("eos_token_id"))
      c.eosTokenId = a.getInt();
    if (auto a = model.getAs<IntegerAttr>("sliding_window"))
      c.slidingWindow = a.getInt();
    if (auto a = model.getAs<StringAttr>("tokenizer"))
      c.tokenizer = a.getValue().str();
  }
  view.sourceShape = readShapeAttr(module, "shear.source_shape");
  view.targetShape = readShapeAttr(module, "shear.target_shape");
  if (view.targetShape) {
    const int64_t targets[kNumMaskFamilies] = {
        view.targetShape->layers, view.targetShape->heads, view.targetShape->kvHeads,
        view.targetShape->intermediate, view.targetShape->hidden};
    for (int i = 0; i < kNumMaskFamilies; ++i)
      if (view.masks[i] && !view.masks[i]->isGate)
        view.masks[i]->targetSize = targets[i];
  }
  return view;
}
} // namespace

FailureOr<ModelView> shear::readModelView(ModuleOp module, StringRef baseDir) {
  return Reader(module, baseDir).read();
}

//===----------------------------------------------------------------------===//
// emitting
//===----------------------------------------------------------------------===//

static Type elementType(Builder &b, DType d) {
  switch (d) {
  case DType::BF16:
    return b.getBF16Type();
  case DType::F16:
    return b.getF16Type();
  default:
    return b.getF32Type();
  }
}

void shear::emitModelView(ModuleOp module, const ModelView &v, StringRef outDir) {
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<ShearDialect, func::FuncDialect>();
  module.getBody()->clear();
  OpBuilder b(ctx);
  const ModelConfig &c = v.config;

  SmallVector<NamedAttribute> model = {
      b.getNamedAttr("architecture", b.getStringAttr(c.architecture)),
      b.getNamedAttr("max_position_embeddings", b.getI64IntegerAttr(c.maxPositionEmbeddings))};
  if (c.bosTokenId)
    model.push_back(b.getNamedAttr("bos_token_id", b.getI64IntegerAttr(*c.bosTokenId)));
  if (c.eosTokenId)
    model.push_back(b.getNamedAttr("eos_token_id", b.getI64IntegerAttr(*c.eosTokenId)));
  if (c.slidingWindow)
    model.push_back(b.getNamedAttr("sliding_window", b.getI64IntegerAttr(*c.slidingWindow)));
  if (!c.tokenizer.empty())
    model.push_back(b.getNamedAttr("tokenizer", b.getStringAttr(c.tokenizer)));
  module->setAttr("shear.model", b.getDictionaryAttr(model));
  module->removeAttr("shear.source_shape");
  module->removeAttr("shear.target_shape");
  if (v.sourceShape)
    module->setAttr("shear.source_shape", shapeAttr(b, *v.sourceShape));
  if (v.targetShape)
    module->setAttr("shear.target_shape", shapeAttr(b, *v.targetShape));

  Location loc = module.getLoc();
  Type f32 = b.getF32Type();
  int64_t kDyn = ShapedType::kDynamic;
  auto idsType = RankedTensorType::get({kDyn, kDyn}, b.getI64Type());
  auto actType = RankedTensorType::get({kDyn, kDyn, c.hiddenSize}, f32);
  auto logitsType = RankedTensorType::get({kDyn, kDyn, c.vocabSize}, f32);

  b.setInsertionPointToEnd(module.getBody());
  auto fn = func::FuncOp::create(b, loc, "forward",
                                 b.getFunctionType({idsType}, {logitsType}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);

  auto weight = [&](const WeightRef &r) -> Value {
    auto type = RankedTensorType::get(r.shape, elementType(b, r.dtype));
    return WeightOp::create(b, loc, type, b.getStringAttr(r.name),
                            b.getStringAttr(relativePath(r.file, outDir)));
  };

  std::array<Value, kNumMaskFamilies> roots;
  for (int i = 0; i < kNumMaskFamilies; ++i) {
    const auto &m = v.masks[i];
    if (!m)
      continue;
    Value t = weight(m->tensor);
    roots[i] = m->isGate ? Value(GateOp::create(b, loc, t.getType(), t,
                                                b.getStringAttr(kFamilyNames[i]),
                                                b.getI64IntegerAttr(m->targetSize)))
                         : t;
  }
  auto row = [&](MaskFamily f, int64_t l) -> Value {
    Value root = roots[static_cast<int>(f)];
    if (!root)
      return {};
    auto t = cast<RankedTensorType>(root.getType());
    auto rowType = t.getRank() == 1 ? RankedTensorType::get({}, f32)
                                    : RankedTensorType::get({t.getDimSize(1)}, f32);
    return MaskRowOp::create(b, loc, rowType, root, b.getI64IntegerAttr(l));
  };
  Value hidden = roots[static_cast<int>(MaskFamily::Hidden)];
  FloatAttr eps = b.getF64FloatAttr(c.rmsNormEps);

  DictionaryAttr rope;
  if (!c.ropeScaling.type.empty()) {
    SmallVector<NamedAttribute> entries = {
        b.getNamedAttr("rope_type", b.getStringAttr(c.ropeScaling.type)),
        b.getNamedAttr("factor", b.getF64FloatAttr(c.ropeScaling.factor))};
    if (c.ropeScaling.type == "llama3") {
      entries.push_back(b.getNamedAttr("low_freq_factor",
                                       b.getF64FloatAttr(c.ropeScaling.lowFreqFactor)));
      entries.push_back(b.getNamedAttr("high_freq_factor",
                                       b.getF64FloatAttr(c.ropeScaling.highFreqFactor)));
      entries.push_back(b.getNamedAttr("original_max_position_embeddings",
                                       b.getI64IntegerAttr(c.ropeScaling.originalMaxPositions)));
    }
    rope = b.getDictionaryAttr(entries);
  }

  Value ids = entry->getArgument(0);
  Value table = weight(v.embed);
  Value x = EmbedOp::create(b, loc, actType, table, ids, hidden);
  for (size_t l = 0; l < v.layers.size(); ++l) {
    const LayerWeights &w = v.layers[l];
    Value zLayer = row(MaskFamily::Layer, l);
    Value a = RMSNormOp::create(b, loc, actType, x, weight(w.inputNorm), hidden, eps);
    Value attn = AttentionOp::create(
        b, loc, actType, a, weight(w.q), weight(w.k), weight(w.v), weight(w.o),
        row(MaskFamily::Head, l), row(MaskFamily::KvGroup, l),
        b.getI64IntegerAttr(c.numHeads), b.getI64IntegerAttr(c.numKvHeads),
        b.getI64IntegerAttr(c.headDim), b.getF64FloatAttr(c.ropeTheta), rope);
    x = ResidualAddOp::create(b, loc, actType, x, attn, zLayer, hidden);
    Value m = RMSNormOp::create(b, loc, actType, x, weight(w.postNorm), hidden, eps);
    Value mlp = MLPOp::create(b, loc, actType, m, weight(w.gate), weight(w.up),
                              weight(w.down), row(MaskFamily::Intermediate, l));
    x = ResidualAddOp::create(b, loc, actType, x, mlp, zLayer, hidden);
  }
  Value xf = RMSNormOp::create(b, loc, actType, x, weight(v.finalNorm), hidden, eps);
  Value headWeight = c.tieWordEmbeddings ? table : weight(v.lmHead);
  Value logits = LMHeadOp::create(b, loc, logitsType, xf, headWeight,
                                  c.tieWordEmbeddings ? b.getUnitAttr() : UnitAttr());
  func::ReturnOp::create(b, loc, logits);
}

Result<std::array<std::vector<float>, kNumMaskFamilies>>
shear::chooseMasks(const ModelView &view, MaskRowChooser row) {
  auto at = [](MaskFamily f) { return static_cast<int>(f); };
  std::array<std::vector<float>, kNumMaskFamilies> masks;
  auto rowwise = [&](MaskFamily f) {
    const MaskRef &m = *view.mask(f);
    int64_t rowSize = m.tensor.shape.back();
    for (int64_t r = 0; r < numElements(m.tensor.shape); r += rowSize) {
      std::vector<float> values = row(f, r, rowSize, m.targetSize);
      masks[at(f)].insert(masks[at(f)].end(), values.begin(), values.end());
    }
  };
  for (MaskFamily f : {MaskFamily::Layer, MaskFamily::Intermediate, MaskFamily::Hidden})
    if (view.mask(f))
      rowwise(f);
  const auto &head = view.mask(MaskFamily::Head);
  const auto &kv = view.mask(MaskFamily::KvGroup);
  if (head && kv) {
    if (head->targetSize % kv->targetSize != 0)
      return invalidInput("the head gate keeps " + std::to_string(head->targetSize) +
                          " heads, not a multiple of the " + std::to_string(kv->targetSize) +
                          " kv groups the kv_group gate keeps");
    int64_t heads = head->tensor.shape[1], groups = kv->tensor.shape[1];
    int64_t perGroup = head->targetSize / kv->targetSize, perSource = heads / groups;
    for (int64_t l = 0; l < head->tensor.shape[0]; ++l) {
      std::vector<float> g = row(MaskFamily::KvGroup, l * groups, groups, kv->targetSize);
      std::vector<float> h(heads, 0.0f);
      for (int64_t grp = 0; grp < groups; ++grp) {
        if (g[grp] == 0.0f)
          continue;
        std::vector<float> inGroup = row(MaskFamily::Head, l * heads + grp * perSource, perSource, perGroup);
        std::copy(inGroup.begin(), inGroup.end(), h.begin() + grp * perSource);
      }
      masks[at(MaskFamily::Head)].insert(masks[at(MaskFamily::Head)].end(), h.begin(), h.end());
      masks[at(MaskFamily::KvGroup)].insert(masks[at(MaskFamily::KvGroup)].end(), g.begin(), g.end());
    }
  } else if (head) {
    rowwise(MaskFamily::Head);
  } else if (kv) {
    rowwise(MaskFamily::KvGroup);
  }
  return masks;
}

Status shear::replaceGatesByMasks(ModelView &view, std::array<std::vector<float>, kNumMaskFamilies> masks,
                                  const std::string &masksPath) {
  std::vector<std::pair<TensorSpec, std::vector<float>>> tensors;
  for (int i = 0; i < kNumMaskFamilies; ++i) {
    auto &m = view.masks[i];
    if (!m)
      continue;
    std::string name = "shear.mask." + familyName(static_cast<MaskFamily>(i)).str();
    tensors.push_back({TensorSpec{name, DType::F32, m->tensor.shape}, std::move(masks[i])});
    m->tensor = WeightRef{name, masksPath, DType::F32, m->tensor.shape};
    m->isGate = false;
  }
  return writeF32Tensors(masksPath, tensors);
}
