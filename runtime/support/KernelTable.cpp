//===- KernelTable.cpp - every kernel's declaration -----------------------===//
//
// Declarations are written in a compact notation, parsed once:
//   operands: `x` (float), `ids:int`, `head?` (optional slot), `g...` (variadic)
//   results:  `y`, `dhead?head` (present exactly when operand `head` is),
//             `p_out=p` (updates operand `p` in place), `w_out?=w` (both),
//             `w_out?:=w` (both, overwriting: `w`'s old contents never read)
//   attrs:    `eps:float`, `clamp:float?` (optional), types int/float/string/bool
// A backward kernel K.bwd takes K's operands, K's results and the cotangent
// of K's first result, and returns one cotangent per float operand of K.
//
//===----------------------------------------------------------------------===//
#include "shear/Support/KernelTable.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

using namespace shear;

namespace {

std::vector<std::string> words(const std::string &spec) {
  std::istringstream in(spec);
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

[[noreturn]] void badSpec(const std::string &kernel, const std::string &what) {
  std::fprintf(stderr, "shear: internal error: kernel table entry '%s': %s\n", kernel.c_str(),
               what.c_str());
  std::abort();
}

KernelDecl declare(KernelId id, const char *name, const std::string &operands,
                   const std::string &results, const std::string &attrs, const char *summary) {
  KernelDecl d;
  d.id = id;
  d.name = name;
  d.summary = summary;
  for (std::string w : words(operands)) {
    OperandDecl o;
    if (w.size() > 3 && w.compare(w.size() - 3, 3, "...") == 0) {
      o.arity = OperandDecl::Variadic;
      w.resize(w.size() - 3);
    } else if (w.back() == '?') {
      o.arity = OperandDecl::Optional;
      w.pop_back();
    }
    if (size_t colon = w.find(':'); colon != std::string::npos) {
      if (w.substr(colon + 1) != "int")
        badSpec(name, "operand type '" + w.substr(colon + 1) + "'");
      o.cls = ValueClass::Int;
      w.resize(colon);
    }
    o.name = w;
    d.operands.push_back(o);
  }
  for (std::string w : words(results)) {
    ResultDecl r;
    if (size_t q = w.find('?'); q != std::string::npos) {
      r.overwrites = w.compare(q, 3, "?:=") == 0;
      bool inPlace = r.overwrites || w.compare(q, 2, "?=") == 0;
      r.presentWith = d.operandIndex(w.substr(q + (r.overwrites ? 3 : inPlace ? 2 : 1)));
      if (r.presentWith < 0 || d.operands[r.presentWith].arity != OperandDecl::Optional)
        badSpec(name, "result '" + w + "' must name an optional operand");
      if (inPlace)
        r.updates = r.presentWith;
      w.resize(q);
    } else if (size_t eq = w.find('='); eq != std::string::npos) {
      r.updates = d.operandIndex(w.substr(eq + 1));
      if (r.updates < 0)
        badSpec(name, "result '" + w + "' updates an unknown operand");
      w.resize(eq);
    }
    r.name = w;
    d.results.push_back(r);
  }
  for (std::string w : words(attrs)) {
    AttrDecl a;
    if (w.back() == '?') {
      a.required = false;
      w.pop_back();
    }
    size_t colon = w.find(':');
    if (colon == std::string::npos)
      badSpec(name, "attribute '" + w + "' has no type");
    std::string type = w.substr(colon + 1);
    a.type = type == "int"      ? AttrType::Int
             : type == "float"  ? AttrType::Float
             : type == "string" ? AttrType::String
             : type == "bool"   ? AttrType::Bool
                                : (badSpec(name, "attribute type '" + type + "'"), AttrType::Int);
    a.name = w.substr(0, colon);
    d.attrs.push_back(a);
  }
  return d;
}

const char *const kRope = "num_heads:int num_kv_heads:int head_dim:int rope_theta:float "
                          "rope_scaling.rope_type:string? rope_scaling.factor:float? "
                          "rope_scaling.low_freq_factor:float? rope_scaling.high_freq_factor:float? "
                          "rope_scaling.original_max_position_embeddings:float?";
const char *const kGateAttrs = "family:string target_size:int";

std::vector<KernelDecl> buildTable() {
  using K = KernelId;
  std::string attention = "x wq wk wv wo head? kv_group?";
  std::vector<KernelDecl> t = {
      declare(K::Embed, "embed", "table ids:int hidden?", "y", "",
              "token embedding rows, times the hidden mask"),
      declare(K::EmbedBwd, "embed.bwd", "table ids:int hidden? y dy", "dtable dhidden?hidden", "",
              "gradients of embed"),
      declare(K::RMSNorm, "rms_norm", "x w hidden?", "y", "eps:float",
              "RMSNorm over the kept hidden dims, times the mask"),
      declare(K::RMSNormBwd, "rms_norm.bwd", "x w hidden? y dy", "dx dw dhidden?hidden", "eps:float",
              "gradients of rms_norm"),
      declare(K::Attention, "attention", attention, "y", kRope,
              "causal self-attention with RoPE and grouped-query heads, head/group masks"),
      declare(K::AttentionTrain, "attention.train", attention, "y q k v a lse", kRope,
              "attention that also returns what its backward needs"),
      declare(K::AttentionBwd, "attention.bwd", attention + " y q k v a lse dy",
              "dx dwq dwk dwv dwo dhead?head dkv_group?kv_group", kRope, "gradients of attention"),
      declare(K::AttentionDecode, "attention.decode", attention + " k_cache v_cache pos:int",
              "y k_cache_out=k_cache v_cache_out=v_cache", kRope,
              "attention for new tokens at pos.., appending to the KV cache in place"),
      declare(K::MLP, "mlp", "x w_gate w_up w_down intermediate?", "y", "",
              "SwiGLU MLP with the intermediate mask"),
      declare(K::MLPTrain, "mlp.train", "x w_gate w_up w_down intermediate?", "y g u h", "",
              "mlp that also returns what its backward needs"),
      declare(K::MLPBwd, "mlp.bwd", "x w_gate w_up w_down intermediate? y g u h dy",
              "dx dw_gate dw_up dw_down dintermediate?intermediate", "", "gradients of mlp"),
      declare(K::ResidualAdd, "residual_add", "x u layer? hidden?", "y", "",
              "x + u times the layer and hidden masks"),
      declare(K::ResidualAddBwd, "residual_add.bwd", "x u layer? hidden? y dy",
              "dx=dy du dlayer?layer dhidden?hidden", "",
              "gradients of residual_add (dx is dy itself)"),
      declare(K::LMHead, "lm_head", "x w", "logits", "tied:bool?", "projection to the vocabulary"),
      declare(K::LMHeadBwd, "lm_head.bwd", "x w logits dlogits", "dx dw", "tied:bool?",
              "gradients of lm_head"),
      declare(K::CrossEntropy, "cross_entropy", "logits labels:int", "loss", "ignore_index:int",
              "mean next-token cross-entropy"),
      declare(K::CrossEntropyBwd, "cross_entropy.bwd", "logits labels:int loss dloss", "dlogits",
              "ignore_index:int", "gradient of cross_entropy"),
      declare(K::LMHeadCrossEntropy, "lm_head_cross_entropy", "x w labels:int", "loss",
              "ignore_index:int tied:bool? chunk:int?",
              "lm_head then cross_entropy, `chunk` rows of logits at a time (0: a few MiB): "
              "the logits of all tokens never exist at once"),
      declare(K::LMHeadCrossEntropyTrain, "lm_head_cross_entropy.train", "x w labels:int", "loss gx gw",
              "ignore_index:int tied:bool? chunk:int?",
              "lm_head_cross_entropy that also returns the loss's gradients for a unit cotangent "
              "(computed chunk by chunk with the loss)"),
      declare(K::LMHeadCrossEntropyBwd, "lm_head_cross_entropy.bwd", "x w labels:int loss gx gw dloss",
              "dx dw", "ignore_index:int tied:bool? chunk:int?",
              "gradients of lm_head_cross_entropy: its unit gradients times the cotangent"),
      declare(K::Distill, "distill", "logits teacher labels:int", "loss lm kl",
              "temperature:float alpha:float ignore_index:int",
              "(1 - alpha) * cross-entropy + alpha * temperature^2 * KL(teacher || student) at "
              "that temperature, means over the labelled tokens"),
      declare(K::DistillBwd, "distill.bwd", "logits teacher labels:int loss lm kl dloss", "dlogits",
              "temperature:float alpha:float ignore_index:int",
              "gradient of distill for the student's logits (the teacher is frozen)"),
      declare(K::GateEval, "gate.eval", "log_alpha kv_log_alpha?", "mask",
              std::string(kGateAttrs) + " size:string kv_target_size:int?",
              "deterministic mask of a gate (target or expected sizes, or all ones)"),
      declare(K::GateSample, "gate.sample", "log_alpha step:int", "z",
              std::string(kGateAttrs) + " seed:int stream:int",
              "hard-concrete sample with Philox noise keyed by (seed, step, stream)"),
      declare(K::GateSampleBwd, "gate.sample.bwd", "log_alpha step:int z dz", "dlog_alpha",
              std::string(kGateAttrs) + " seed:int stream:int", "gradient of gate.sample"),
      declare(K::MaskRow, "mask_row", "mask", "row", "index:int", "one layer's row of a mask"),
      declare(K::MaskRowBwd, "mask_row.bwd", "mask row drow", "dmask", "index:int",
              "gradient of mask_row"),
      declare(K::Lagrangian, "lagrangian", "log_alpha lambda1 lambda2 step:int",
              "term sparsity target", "family:string target_sparsity:float warmup_steps:int",
              "the target-sparsity constraint of one mask family"),
      declare(K::LagrangianBwd, "lagrangian.bwd",
              "log_alpha lambda1 lambda2 step:int term sparsity target dterm",
              "dlog_alpha dlambda1 dlambda2",
              "family:string target_sparsity:float warmup_steps:int", "gradients of lagrangian"),
      declare(K::Add, "add", "a b", "y", "", "elementwise sum"),
      declare(K::GlobalNorm, "global_norm", "g...", "norm", "", "L2 norm over all gradients"),
      declare(K::AllReduce, "all_reduce", "g", "g_out=g", "",
              "the mean of a gradient over the data-parallel ranks, in place (a no-op alone)"),
      declare(K::AdamW, "adamw", "p g m v norm lr step:int w?", "p_out=p m_out=m v_out=v w_out?:=w",
              "beta1:float beta2:float eps:float weight_decay:float max_norm:float clamp:float?",
              "clipped AdamW step, updating parameter and moments in place (and with w, the "
              "parameter's bf16 working copy, written from the updated float32 value, also when a "
              "non-finite norm skips the step)"),
      declare(K::Scalar, "scalar", "", "y", "value:float", "a float32 scalar"),
      declare(K::ZerosLike, "zeros_like", "t", "y", "", "zeros of t's shape"),
      declare(K::UnitNorms, "unit_norms", "x", "s", "group:int",
              "activation statistics: the sum over tokens of the L2 norm of every group of "
              "`group` consecutive features"),
      declare(K::CosineSum, "cosine_sum", "x y", "s", "",
              "the sum over tokens of the cosine between x's and y's feature vectors"),
      declare(K::Cast, "cast", "x", "y", "",
              "x in y's element type (bf16 working copies of float32 master weights; round to "
              "nearest even)"),
      declare(K::ResidualAddRMSNorm, "residual_add_rms_norm", "x u w layer? hidden?", "y n", "eps:float",
              "residual_add then rms_norm of its result under the same hidden mask: the residual "
              "stream y and its norm n in one pass"),
      declare(K::ResidualAddRMSNormBwd, "residual_add_rms_norm.bwd", "x u w layer? hidden? y n dy dn",
              "dx=dy du dw dlayer?layer dhidden?hidden", "eps:float",
              "gradients of residual_add_rms_norm from the cotangents of both results (dx updates "
              "dy in place)"),
      declare(K::Accumulate, "accumulate", "acc g scale first:int", "acc_out=acc", "",
              "acc + scale * g in place (a micro-batch's gradient added to its step's sum); "
              "where first is nonzero, scale * g (acc's old contents are not read)"),
  };
  for (size_t i = 0; i < t.size(); ++i)
    if (static_cast<size_t>(t[i].id) != i)
      badSpec(t[i].name, "out of KernelId order");
  return t;
}

} // namespace

const char *shear::attrTypeName(AttrType type) {
  switch (type) {
  case AttrType::Int:
    return "int";
  case AttrType::Float:
    return "float";
  case AttrType::String:
    return "string";
  case AttrType::Bool:
    return "bool";
  }
  return "?";
}

int KernelDecl::operandIndex(std::string_view n) const {
  for (size_t i = 0; i < operands.size(); ++i)
    if (operands[i].name == n)
      return static_cast<int>(i);
  return -1;
}

const AttrDecl *KernelDecl::attr(std::string_view n) const {
  for (const AttrDecl &a : attrs)
    if (a.name == n)
      return &a;
  return nullptr;
}

const std::vector<KernelDecl> &shear::kernelTable() {
  static const std::vector<KernelDecl> table = buildTable();
  return table;
}

const KernelDecl &shear::kernelDecl(KernelId id) {
  return kernelTable()[static_cast<size_t>(id)];
}

const KernelDecl *shear::findKernel(std::string_view name) {
  for (const KernelDecl &d : kernelTable())
    if (d.name == name)
      return &d;
  return nullptr;
}

Result<SlotMapping> shear::mapCall(const KernelDecl &decl, size_t numOperands,
                                   const std::vector<std::string> &present, size_t numResults) {
  SlotMapping m;
  // `present` must name optional operands, each once, in declaration order.
  size_t nextPresent = 0;
  size_t next = 0;
  for (const OperandDecl &o : decl.operands) {
    if (o.arity == OperandDecl::Variadic) {
      m.operands.push_back(-1);
      while (next < numOperands)
        m.variadic.push_back(static_cast<int>(next++));
      continue;
    }
    bool given = o.arity == OperandDecl::Fixed;
    if (o.arity == OperandDecl::Optional && nextPresent < present.size() &&
        present[nextPresent] == o.name) {
      given = true;
      ++nextPresent;
    }
    if (!given) {
      m.operands.push_back(-1);
      continue;
    }
    if (next >= numOperands)
      return invalidInput("'" + decl.name + "' takes operand '" + o.name + "' (operand " +
                          std::to_string(next + 1) + ") but has only " +
                          std::to_string(numOperands) + " operands");
    m.operands.push_back(static_cast<int>(next++));
  }
  if (nextPresent < present.size()) {
    const std::string &name = present[nextPresent];
    int index = decl.operandIndex(name);
    if (index < 0 || decl.operands[index].arity != OperandDecl::Optional)
      return invalidInput("'" + decl.name + "' has no optional operand '" + name + "'");
    return invalidInput("'" + decl.name + "': optional operand '" + name +
                        "' is listed twice or out of declaration order");
  }
  if (next != numOperands)
    return invalidInput("'" + decl.name + "' takes " + std::to_string(next) +
                        " operands here but has " + std::to_string(numOperands));
  size_t nextResult = 0;
  for (const ResultDecl &r : decl.results) {
    bool exists = r.presentWith < 0 || m.operands[r.presentWith] >= 0;
    m.results.push_back(exists ? static_cast<int>(nextResult++) : -1);
  }
  if (nextResult != numResults)
    return invalidInput("'" + decl.name + "' returns " + std::to_string(nextResult) +
                        " results here but has " + std::to_string(numResults));
  return m;
}
