//===- KernelParams.cpp - attribute decoding and shape inference ----------===//
#include "shear/Runtime/KernelParams.h"

using namespace shear;
using namespace shear::rt;

namespace {
class Attrs {
public:
  explicit Attrs(const std::map<std::string, AttrValue> &a) : a_(a) {}
  bool has(const std::string &k) const { return a_.count(k) != 0; }
  int64_t integer(const std::string &k, int64_t fallback = 0) const {
    auto it = a_.find(k);
    return it == a_.end() ? fallback : static_cast<int64_t>(it->second.number());
  }
  double number(const std::string &k, double fallback = 0) const {
    auto it = a_.find(k);
    return it == a_.end() ? fallback : it->second.number();
  }
  std::string string(const std::string &k) const {
    auto it = a_.find(k);
    return it == a_.end() ? "" : it->second.s;
  }

private:
  const std::map<std::string, AttrValue> &a_;
};

Result<KernelParams> attention(const Attrs &a) {
  AttentionParams p;
  p.heads = a.integer("num_heads");
  p.kvHeads = a.integer("num_kv_heads");
  p.headDim = a.integer("head_dim");
  if (p.heads <= 0 || p.kvHeads <= 0 || p.headDim <= 0 || p.heads % p.kvHeads != 0 ||
      p.headDim % 2 != 0)
    return invalidInput("attention: num_heads " + std::to_string(p.heads) + ", num_kv_heads " +
                        std::to_string(p.kvHeads) + " and head_dim " + std::to_string(p.headDim) +
                        " are not a valid attention shape");
  RopeParams &r = p.rope;
  r.headDim = p.headDim;
  r.theta = a.number("rope_theta");
  std::string type = a.string("rope_scaling.rope_type");
  if (type.empty() || type == "default") {
    r.scaling = RopeParams::Scaling::None;
  } else if (type == "linear") {
    r.scaling = RopeParams::Scaling::Linear;
    r.factor = a.number("rope_scaling.factor", 1.0);
  } else if (type == "llama3") {
    r.scaling = RopeParams::Scaling::Llama3;
    r.factor = a.number("rope_scaling.factor", 1.0);
    r.lowFreqFactor = a.number("rope_scaling.low_freq_factor", 1.0);
    r.highFreqFactor = a.number("rope_scaling.high_freq_factor", 4.0);
    r.originalMaxPositions = a.number("rope_scaling.original_max_position_embeddings", 8192);
  } else {
    return invalidInput("attention: unknown rope_scaling type '" + type + "'");
  }
  return KernelParams(p);
}
} // namespace

Result<KernelParams> shear::rt::decodeParams(KernelId id,
                                             const std::map<std::string, AttrValue> &attrs) {
  Attrs a(attrs);
  using K = KernelId;
  switch (id) {
  case K::RMSNorm:
  case K::RMSNormBwd:
  case K::ResidualAddRMSNorm:
  case K::ResidualAddRMSNormBwd:
    return KernelParams(NormParams{a.number("eps")});
  case K::Attention:
  case K::AttentionTrain:
  case K::AttentionBwd:
  case K::AttentionDecode:
    return attention(a);
  case K::GateEval: {
    GateEvalParams p;
    std::string size = a.string("size");
    if (size == "target")
      p.size = GateEvalParams::Size::Target;
    else if (size == "expected")
      p.size = GateEvalParams::Size::Expected;
    else if (size == "none")
      p.size = GateEvalParams::Size::None;
    else
      return invalidInput("gate.eval: size must be target, expected or none, got '" + size + "'");
    p.targetSize = a.integer("target_size");
    p.kvTargetSize = a.integer("kv_target_size");
    return KernelParams(p);
  }
  case K::GateSample:
  case K::GateSampleBwd:
    return KernelParams(GateSampleParams{static_cast<uint64_t>(a.integer("seed")),
                                         static_cast<uint32_t>(a.integer("stream"))});
  case K::MaskRow:
  case K::MaskRowBwd:
    return KernelParams(IndexParams{a.integer("index")});
  case K::CrossEntropy:
  case K::CrossEntropyBwd:
    return KernelParams(CrossEntropyParams{a.integer("ignore_index", -100)});
  case K::LMHeadCrossEntropy:
  case K::LMHeadCrossEntropyTrain:
  case K::LMHeadCrossEntropyBwd: {
    FusedLossParams p{a.integer("ignore_index", -100), a.integer("chunk", 0)};
    if (p.chunk < 0)
      return invalidInput("lm_head_cross_entropy: chunk must be 0 (automatic) or positive, got " +
                          std::to_string(p.chunk));
    return KernelParams(p);
  }
  case K::Lagrangian:
  case K::LagrangianBwd:
    return KernelParams(LagrangianParams{a.number("target_sparsity"), a.integer("warmup_steps")});
  case K::AdamW:
    return KernelParams(AdamWParams{a.number("beta1"), a.number("beta2"), a.number("eps"),
                                    a.number("weight_decay"), a.number("max_norm"),
                                    a.number("clamp")});
  case K::Scalar:
    return KernelParams(ScalarParams{a.number("value")});
  case K::Distill:
  case K::DistillBwd: {
    DistillParams p{a.number("temperature"), a.number("alpha"), a.integer("ignore_index", -100)};
    if (!(p.temperature > 0) || !(p.alpha >= 0 && p.alpha <= 1))
      return invalidInput("distill: temperature must be positive and alpha in [0, 1], got " +
                          std::to_string(p.temperature) + " and " + std::to_string(p.alpha));
    return KernelParams(p);
  }
  case K::UnitNorms: {
    int64_t group = a.integer("group");
    if (group <= 0)
      return invalidInput("unit_norms: group must be positive, got " + std::to_string(group));
    return KernelParams(GroupParams{group});
  }
  default:
    return KernelParams(NoParams{});
  }
}

//===----------------------------------------------------------------------===//
// shapes
//===----------------------------------------------------------------------===//

namespace {
class ShapeCheck {
public:
  ShapeCheck(KernelId id, const std::vector<const Shape *> &in) : decl_(kernelDecl(id)), in_(in) {}

  const Shape &operand(size_t i) const { return *in_[i]; }
  bool present(size_t i) const { return i < in_.size() && in_[i] != nullptr; }

  Status rank(size_t i, size_t r) const {
    if (operand(i).size() != r)
      return bad(i, "must have rank " + std::to_string(r));
    return Status();
  }
  Status equal(size_t i, const Shape &expected) const {
    if (operand(i) != expected)
      return bad(i, "must have shape " + shapeToString(expected));
    return Status();
  }
  Status dimIs(size_t i, int64_t d, int64_t value) const {
    const Shape &s = operand(i);
    if (d < 0)
      d += static_cast<int64_t>(s.size());
    if (d < 0 || d >= static_cast<int64_t>(s.size()) || s[d] != value)
      return bad(i, "must have size " + std::to_string(value) + " in dimension " + std::to_string(d));
    return Status();
  }
  Status bad(size_t i, const std::string &what) const {
    const std::string &name = i < decl_.operands.size() ? decl_.operands[i].name : decl_.operands.back().name;
    return invalidInput("kernel '" + decl_.name + "': operand '" + name + "' " + what + ", got " +
                        shapeToString(operand(i)));
  }

private:
  const KernelDecl &decl_;
  const std::vector<const Shape *> &in_;
};

int64_t rowsOf(const Shape &s) {
  int64_t n = 1;
  for (size_t i = 0; i + 1 < s.size(); ++i)
    n *= s[i];
  return n;
}
} // namespace

Status shear::rt::inferShapes(KernelId id, const KernelParams &params,
                              const std::vector<const Shape *> &in, std::vector<Shape> &out) {
  const KernelDecl &decl = kernelDecl(id);
  out.assign(decl.results.size(), Shape());
  ShapeCheck c(id, in);
  // Optional results have the shape of the operand they are present with.
  auto optionalResults = [&] {
    for (size_t r = 0; r < decl.results.size(); ++r)
      if (decl.results[r].presentWith >= 0 && c.present(decl.results[r].presentWith))
        out[r] = c.operand(decl.results[r].presentWith);
  };
  using K = KernelId;
  switch (id) {
  case K::Embed:
  case K::EmbedBwd: {
    SHEAR_RETURN_IF_ERROR(c.rank(0, 2));
    SHEAR_RETURN_IF_ERROR(c.rank(1, 2));
    const Shape &t = c.operand(0), &ids = c.operand(1);
    if (id == K::Embed)
      out[0] = {ids[0], ids[1], t[1]};
    else
      out[0] = t;
    break;
  }
  case K::RMSNorm:
  case K::RMSNormBwd:
    SHEAR_RETURN_IF_ERROR(c.dimIs(0, -1, c.operand(1).empty() ? -1 : c.operand(1)[0]));
    out[0] = c.operand(0);
    if (id == K::RMSNormBwd)
      out[1] = c.operand(1);
    break;
  case K::Attention:
  case K::AttentionTrain:
  case K::AttentionBwd:
  case K::AttentionDecode: {
    const auto &p = std::get<AttentionParams>(params);
    SHEAR_RETURN_IF_ERROR(c.rank(0, 3));
    const Shape &x = c.operand(0);
    int64_t B = x[0], T = x[1], D = x[2], qw = p.heads * p.headDim, kw = p.kvHeads * p.headDim;
    SHEAR_RETURN_IF_ERROR(c.equal(1, {qw, D}));
    SHEAR_RETURN_IF_ERROR(c.equal(2, {kw, D}));
    SHEAR_RETURN_IF_ERROR(c.equal(3, {kw, D}));
    SHEAR_RETURN_IF_ERROR(c.equal(4, {D, qw}));
    if (id == K::AttentionBwd) {
      for (size_t i = 0; i < 5; ++i)
        out[i] = c.operand(i);
    } else {
      out[0] = x;
    }
    if (id == K::AttentionTrain)
      out = {x, {B, T, qw}, {B, T, kw}, {B, T, kw}, {B, T, qw}, {B, p.heads, T}};
    if (id == K::AttentionDecode) {
      for (size_t i : {7, 8}) {
        SHEAR_RETURN_IF_ERROR(c.rank(i, 4));
        const Shape &cache = c.operand(i);
        if (cache[0] != B || cache[1] != p.kvHeads || cache[3] != p.headDim)
          return c.bad(i, "must be a cache [batch " + std::to_string(B) + ", kv heads " +
                              std::to_string(p.kvHeads) + ", positions, head_dim " +
                              std::to_string(p.headDim) + "]");
      }
      SHEAR_RETURN_IF_ERROR(c.rank(9, 0));
      out[1] = c.operand(7);
      out[2] = c.operand(8);
    }
    optionalResults();
    break;
  }
  case K::MLP:
  case K::MLPTrain:
  case K::MLPBwd: {
    SHEAR_RETURN_IF_ERROR(c.rank(1, 2));
    const Shape &x = c.operand(0);
    int64_t M = c.operand(1)[0];
    if (id == K::MLPBwd) {
      for (size_t i = 0; i < 4; ++i)
        out[i] = c.operand(i);
    } else {
      out[0] = x;
    }
    if (id == K::MLPTrain)
      out = {x, {rowsOf(x), M}, {rowsOf(x), M}, {rowsOf(x), M}};
    optionalResults();
    break;
  }
  case K::ResidualAdd:
    SHEAR_RETURN_IF_ERROR(c.equal(1, c.operand(0)));
    out[0] = c.operand(0);
    break;
  case K::ResidualAddBwd:
    out[0] = c.operand(0);
    out[1] = c.operand(1);
    optionalResults();
    break;
  case K::ResidualAddRMSNorm:
  case K::ResidualAddRMSNormBwd:
    SHEAR_RETURN_IF_ERROR(c.equal(1, c.operand(0)));
    SHEAR_RETURN_IF_ERROR(c.rank(2, 1));
    SHEAR_RETURN_IF_ERROR(c.dimIs(0, -1, c.operand(2)[0]));
    if (id == K::ResidualAddRMSNorm)
      out = {c.operand(0), c.operand(0)};
    else
      out = {c.operand(0), c.operand(0), c.operand(2), Shape(), Shape()};
    optionalResults();
    break;
  case K::LMHead: {
    SHEAR_RETURN_IF_ERROR(c.rank(0, 3));
    SHEAR_RETURN_IF_ERROR(c.rank(1, 2));
    const Shape &x = c.operand(0), &w = c.operand(1);
    SHEAR_RETURN_IF_ERROR(c.dimIs(1, 1, x[2]));
    out[0] = {x[0], x[1], w[0]};
    break;
  }
  case K::LMHeadBwd:
    out[0] = c.operand(0);
    out[1] = c.operand(1);
    break;
  case K::CrossEntropy:
  case K::CrossEntropyBwd: {
    SHEAR_RETURN_IF_ERROR(c.rank(0, 3));
    const Shape &l = c.operand(0);
    SHEAR_RETURN_IF_ERROR(c.equal(1, {l[0], l[1]}));
    out[0] = id == K::CrossEntropy ? Shape{} : l;
    break;
  }
  case K::LMHeadCrossEntropy:
  case K::LMHeadCrossEntropyTrain:
  case K::LMHeadCrossEntropyBwd: {
    SHEAR_RETURN_IF_ERROR(c.rank(0, 3));
    SHEAR_RETURN_IF_ERROR(c.rank(1, 2));
    const Shape &x = c.operand(0), &w = c.operand(1);
    SHEAR_RETURN_IF_ERROR(c.dimIs(1, 1, x[2]));
    SHEAR_RETURN_IF_ERROR(c.equal(2, {x[0], x[1]}));
    if (id == K::LMHeadCrossEntropy)
      out[0] = Shape{};
    else if (id == K::LMHeadCrossEntropyTrain)
      out = {Shape{}, x, w};
    else
      out = {x, w};
    break;
  }
  case K::AllReduce:
  case K::GateEval:
  case K::GateSample:
  case K::GateSampleBwd:
  case K::MaskRowBwd:
  case K::ZerosLike:
  case K::Add:
  case K::Cast:
    out[0] = c.operand(0);
    break;
  case K::MaskRow: {
    const Shape &m = c.operand(0);
    if (m.empty() || m.size() > 2)
      return c.bad(0, "must have rank 1 or 2");
    out[0] = m.size() == 1 ? Shape{} : Shape{m[1]};
    break;
  }
  case K::Lagrangian:
    out = {Shape{}, Shape{}, Shape{}};
    break;
  case K::LagrangianBwd:
    out = {c.operand(0), Shape{}, Shape{}};
    break;
  case K::GlobalNorm:
  case K::Scalar:
    out[0] = Shape{};
    break;
  case K::Accumulate:
    SHEAR_RETURN_IF_ERROR(c.equal(1, c.operand(0)));
    SHEAR_RETURN_IF_ERROR(c.equal(2, Shape{}));
    SHEAR_RETURN_IF_ERROR(c.equal(3, Shape{}));
    out[0] = c.operand(0);
    break;
  case K::AdamW:
    for (size_t i : {1, 2, 3})
      SHEAR_RETURN_IF_ERROR(c.equal(i, c.operand(0)));
    if (c.present(7))
      SHEAR_RETURN_IF_ERROR(c.equal(7, c.operand(0)));
    out = {c.operand(0), c.operand(2), c.operand(3), Shape()};
    optionalResults();
    break;
  case K::Distill:
  case K::DistillBwd: {
    SHEAR_RETURN_IF_ERROR(c.rank(0, 3));
    const Shape &l = c.operand(0);
    SHEAR_RETURN_IF_ERROR(c.equal(1, l));
    SHEAR_RETURN_IF_ERROR(c.equal(2, {l[0], l[1]}));
    if (id == K::Distill)
      out = {Shape{}, Shape{}, Shape{}};
    else
      out[0] = l;
    break;
  }
  case K::UnitNorms: {
    const Shape &x = c.operand(0);
    int64_t group = std::get<GroupParams>(params).group;
    if (x.empty() || x.back() % group != 0)
      return c.bad(0, "must have a last dimension that is a multiple of " + std::to_string(group));
    out[0] = {x.back() / group};
    break;
  }
  case K::CosineSum:
    if (c.operand(0).empty())
      return c.bad(0, "must have a feature dimension");
    SHEAR_RETURN_IF_ERROR(c.equal(1, c.operand(0)));
    out[0] = Shape{};
    break;
  case K::NumKernels:
    break;
  }
  optionalResults();
  return Status();
}
