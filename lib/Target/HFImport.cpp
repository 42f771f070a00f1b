//===- HFImport.cpp - HF LLaMA/Mistral directory to a model view ----------===//
#include "shear/Target/ArtifactPaths.h"
#include "shear/Target/HF.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <set>

using namespace shear;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

// Typed access to config.json with errors that name the file and the field.
class Config {
public:
  Config(std::string path, const json::Value &obj) : path(std::move(path)), obj(obj) {}

  Expected<int64_t> integer(StringRef key) {
    const json::Value *v = obj.get(key);
    if (!v || v->isNull())
      return llvmFileError(path, "missing field '" + key + "'");
    return checkInt(key, *v);
  }
  Expected<int64_t> integerOr(StringRef key, int64_t fallback) {
    const json::Value *v = obj.get(key);
    if (!v || v->isNull())
      return fallback;
    return checkInt(key, *v);
  }
  Expected<double> number(StringRef key, std::optional<double> fallback = std::nullopt) {
    const json::Value *v = obj.get(key);
    if (!v || v->isNull()) {
      if (fallback)
        return *fallback;
      return llvmFileError(path, "missing field '" + key + "'");
    }
    auto d = v->asNumber();
    if (!d)
      return llvmFileError(path, "field '" + key + "' must be a number");
    return *d;
  }
  std::optional<int64_t> optionalInt(StringRef key) {
    const json::Value *v = obj.get(key);
    if (!v)
      return std::nullopt;
    if (auto i = v->asInteger())
      return *i;
    if (const json::Array *a = v->asArray()) // eos_token_id may be a list
      if (!a->empty())
        return (*a)[0].asInteger();
    return std::nullopt;
  }

  std::string path;
  const json::Value &obj;

private:
  Expected<int64_t> checkInt(StringRef key, const json::Value &v) {
    auto i = v.asInteger();
    if (!i)
      return llvmFileError(path, "field '" + key + "' must be an integer");
    if (*i <= 0)
      return llvmFileError(path, "field '" + key + "' must be positive, got " + llvm::Twine(*i));
    return *i;
  }
};

Error readRopeScaling(Config &cfg, RopeScaling &out) {
  const json::Value *rs = cfg.obj.get("rope_scaling");
  if (!rs || rs->isNull())
    return Error::success();
  if (!rs->asObject())
    return llvmFileError(cfg.path, "field 'rope_scaling' must be an object or null");
  const std::string *type = rs->getString("rope_type");
  if (!type)
    type = rs->getString("type");
  if (!type)
    return llvmFileError(cfg.path, "field 'rope_scaling' has no 'rope_type'");
  if (*type == "default")
    return Error::success();
  if (*type != "linear" && *type != "llama3")
    return llvmFileError(cfg.path, "rope_scaling type '" + *type +
                                   "' is not supported (supported: linear, llama3)");
  out.type = *type;
  auto number = [&](StringRef key) -> Expected<double> {
    auto d = rs->getNumber(key);
    if (!d || *d <= 0)
      return llvmFileError(cfg.path, "rope_scaling of type '" + *type +
                                     "' needs a positive number '" + key + "'");
    return *d;
  };
  auto factor = number("factor");
  if (!factor)
    return factor.takeError();
  out.factor = *factor;
  if (out.type == "llama3") {
    auto low = number("low_freq_factor");
    if (!low)
      return low.takeError();
    auto high = number("high_freq_factor");
    if (!high)
      return high.takeError();
    auto orig = number("original_max_position_embeddings");
    if (!orig)
      return orig.takeError();
    if (*high <= *low)
      return llvmFileError(cfg.path, "rope_scaling: high_freq_factor must exceed low_freq_factor");
    if (*orig > 1e12 || *orig != std::floor(*orig)) // found by fuzzing: cast before the check
      return llvmFileError(cfg.path, "rope_scaling: original_max_position_embeddings must be a "
                                     "whole number of positions (at most 1e12)");
    out.lowFreqFactor = *low;
    out.highFreqFactor = *high;
    out.originalMaxPositions = static_cast<int64_t>(*orig);
  }
  return Error::success();
}

} // namespace

Error shear::parseHFConfig(StringRef text, StringRef pathRef, ModelConfig &c) {
  std::string path = pathRef.str();
  auto parsedOr = json::parse(text);
  if (!parsedOr.ok())
    return llvmFileError(path, parsedOr.status().message());
  const json::Value *obj = &*parsedOr;
  if (!obj->asObject())
    return llvmFileError(path, "not a JSON object");
  Config cfg(path, *obj);

  std::string arch;
  if (const json::Array *archs = obj->getArray("architectures"))
    if (!archs->empty() && (*archs)[0].asString())
      arch = *(*archs)[0].asString();
  if (arch.empty()) {
    const std::string *type = obj->getString("model_type");
    if (type && *type == "llama")
      arch = "LlamaForCausalLM";
    else if (type && *type == "mistral")
      arch = "MistralForCausalLM";
    else
      return llvmFileError(path, "missing field 'architectures' (and 'model_type' is not "
                             "llama or mistral)");
  }
  if (arch != "LlamaForCausalLM" && arch != "MistralForCausalLM")
    return llvmFileError(path, "architecture '" + arch +
                               "' is not supported (LlamaForCausalLM, MistralForCausalLM)");
  c.architecture = arch;
  if (const std::string *act = obj->getString("hidden_act"); act && *act != "silu")
    return llvmFileError(path, "hidden_act '" + *act + "' is not supported (silu)");
  for (const char *bias : {"attention_bias", "mlp_bias"})
    if (auto b = obj->getBool(bias); b && *b)
      return llvmFileError(path, "'" + llvm::Twine(bias) + "' is true: biases are not supported");

  struct IntField {
    const char *key;
    int64_t *out;
  };
  for (IntField f : {IntField{"hidden_size", &c.hiddenSize},
                     IntField{"intermediate_size", &c.intermediateSize},
                     IntField{"num_hidden_layers", &c.numLayers},
                     IntField{"num_attention_heads", &c.numHeads},
                     IntField{"vocab_size", &c.vocabSize}}) {
    auto v = cfg.integer(f.key);
    if (!v)
      return v.takeError();
    *f.out = *v;
  }
  auto kv = cfg.integerOr("num_key_value_heads", c.numHeads);
  if (!kv)
    return kv.takeError();
  c.numKvHeads = *kv;
  if (c.numHeads % c.numKvHeads != 0)
    return llvmFileError(path, "num_attention_heads (" + llvm::Twine(c.numHeads) +
                               ") is not a multiple of num_key_value_heads (" +
                               llvm::Twine(c.numKvHeads) + ")");
  if (!obj->get("head_dim") && c.hiddenSize % c.numHeads != 0)
    return llvmFileError(path, "hidden_size (" + llvm::Twine(c.hiddenSize) +
                               ") is not divisible by num_attention_heads (" +
                               llvm::Twine(c.numHeads) + ") and no head_dim is given");
  auto hd = cfg.integerOr("head_dim", c.hiddenSize / c.numHeads);
  if (!hd)
    return hd.takeError();
  c.headDim = *hd;
  auto eps = cfg.number("rms_norm_eps");
  if (!eps)
    return eps.takeError();
  if (*eps <= 0)
    return llvmFileError(path, "field 'rms_norm_eps' must be positive");
  c.rmsNormEps = *eps;
  auto theta = cfg.number("rope_theta", 10000.0);
  if (!theta)
    return theta.takeError();
  if (*theta <= 0)
    return llvmFileError(path, "field 'rope_theta' must be positive");
  c.ropeTheta = *theta;
  if (Error e = readRopeScaling(cfg, c.ropeScaling))
    return e;
  c.tieWordEmbeddings = obj->getBool("tie_word_embeddings").value_or(false);
  auto maxPos = cfg.integerOr("max_position_embeddings", 2048);
  if (!maxPos)
    return maxPos.takeError();
  c.maxPositionEmbeddings = *maxPos;
  c.bosTokenId = cfg.optionalInt("bos_token_id");
  c.eosTokenId = cfg.optionalInt("eos_token_id");
  c.slidingWindow = cfg.optionalInt("sliding_window");
  return Error::success();
}

namespace {

Error readConfig(StringRef dir, ModelConfig &c) {
  std::string path = joinPath(dir, "config.json");
  auto text = readFile(path);
  if (!text.ok())
    return toLlvm(text.status());
  return parseHFConfig(*text, path, c);
}

// Tensor name -> absolute file path, from the index, a single file, or all
// safetensors files of the directory.
Expected<std::map<std::string, std::string>> locateTensors(StringRef dir, WeightStore &store) {
  std::map<std::string, std::string> where;
  std::string index = joinPath(dir, "model.safetensors.index.json");
  if (llvm::sys::fs::exists(index)) {
    auto map = toLlvm(readShardIndex(index));
    if (!map)
      return map.takeError();
    for (const auto &[name, file] : *map) {
      std::string path = absolutePath(file, dir);
      auto f = toLlvm(store.file(path));
      if (!f)
        return f.takeError();
      if (!(*f)->find(name))
        return llvmFileError(index, "tensor '" + name + "' is mapped to " + file +
                                    ", which does not contain it");
      where[name] = path;
    }
    return where;
  }
  std::vector<std::string> files;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec))
    if (llvm::sys::path::extension(it->path()) == ".safetensors")
      files.push_back(absolutePath(it->path(), "."));
  if (ec)
    return llvmFileError(dir, "cannot list: " + ec.message());
  if (files.empty())
    return llvmFileError(dir, "no *.safetensors files and no model.safetensors.index.json");
  std::sort(files.begin(), files.end());
  for (const std::string &path : files) {
    auto f = toLlvm(store.file(path));
    if (!f)
      return f.takeError();
    for (const TensorInfo &t : (*f)->tensors()) {
      if (where.count(t.name))
        return llvmFileError(path, "tensor '" + t.name + "' is also in " + where[t.name]);
      where[t.name] = path;
    }
  }
  return where;
}

} // namespace

Expected<ModelView> shear::importHF(StringRef dirIn) {
  std::string dir = absolutePath(dirIn, ".");
  if (!llvm::sys::fs::is_directory(dir))
    return llvmFileError(dir, "not a directory");
  ModelView view;
  ModelConfig &c = view.config;
  if (Error e = readConfig(dir, c))
    return std::move(e);
  // The directory's tokenizer goes with the model to every export.
  for (const char *f : {"tokenizer.model", "tokenizer.json"})
    if (pathExists(joinPath(dir, f)))
      c.tokenizer = dir;

  WeightStore store;
  auto where = locateTensors(dir, store);
  if (!where)
    return where.takeError();
  std::set<std::string> used;
  auto ref = [&](const std::string &name, std::vector<int64_t> shape) -> Expected<WeightRef> {
    auto it = where->find(name);
    if (it == where->end())
      return llvmFileError(dir, "missing tensor '" + name + "'");
    auto f = toLlvm(store.file(it->second));
    if (!f)
      return f.takeError();
    const TensorInfo *t = (*f)->find(name);
    if (t->shape != shape)
      return llvmFileError(it->second, "tensor '" + name + "' has shape " +
                                       shapeToString(t->shape) + " but config.json implies " +
                                       shapeToString(shape));
    if (t->dtype != DType::F32 && t->dtype != DType::BF16 && t->dtype != DType::F16)
      return llvmFileError(it->second, "tensor '" + name + "' has dtype " + dtypeName(t->dtype) +
                                       " (supported: F32, BF16, F16)");
    // Every value is read once here (pages released after): a checkpoint with
    // NaN or infinite weights is refused at the door.
    if (Error e = toLlvm(checkFinite(**f, *t)))
      return std::move(e);
    (*f)->release(*t);
    used.insert(name);
    return WeightRef{name, it->second, t->dtype, shape};
  };

  int64_t D = c.hiddenSize, qRows = c.numHeads * c.headDim, kvRows = c.numKvHeads * c.headDim;
  auto embed = ref("model.embed_tokens.weight", {c.vocabSize, D});
  if (!embed)
    return embed.takeError();
  view.embed = *embed;
  for (int64_t l = 0; l < c.numLayers; ++l) {
    LayerWeights w;
    struct Entry {
      const char *suffix;
      std::vector<int64_t> shape;
      WeightRef *out;
    };
    const Entry entries[] = {
        {"input_layernorm.weight", {D}, &w.inputNorm},
        {"self_attn.q_proj.weight", {qRows, D}, &w.q},
        {"self_attn.k_proj.weight", {kvRows, D}, &w.k},
        {"self_attn.v_proj.weight", {kvRows, D}, &w.v},
        {"self_attn.o_proj.weight", {D, qRows}, &w.o},
        {"post_attention_layernorm.weight", {D}, &w.postNorm},
        {"mlp.gate_proj.weight", {c.intermediateSize, D}, &w.gate},
        {"mlp.up_proj.weight", {c.intermediateSize, D}, &w.up},
        {"mlp.down_proj.weight", {D, c.intermediateSize}, &w.down}};
    for (const Entry &e : entries) {
      auto r = ref(hfLayerName(l, e.suffix), e.shape);
      if (!r)
        return r.takeError();
      *e.out = *r;
    }
    view.layers.push_back(std::move(w));
  }
  auto norm = ref("model.norm.weight", {D});
  if (!norm)
    return norm.takeError();
  view.finalNorm = *norm;
  if (c.tieWordEmbeddings) {
    view.lmHead = view.embed;
    used.insert("lm_head.weight"); // a redundant copy some writers keep
  } else {
    auto head = ref("lm_head.weight", {c.vocabSize, D});
    if (!head)
      return head.takeError();
    view.lmHead = *head;
  }
  for (const auto &[name, file] : *where)
    if (!used.count(name) && !llvm::StringRef(name).ends_with("rotary_emb.inv_freq"))
      return llvmFileError(file, "unexpected tensor '" + name + "' (not part of a " +
                                 c.architecture + " with this config)");
  return view;
}

std::optional<uint64_t> shear::parseByteSize(StringRef text) {
  text = text.trim();
  uint64_t mult = 1;
  struct Suffix {
    const char *s;
    uint64_t m;
  };
  for (Suffix s : {Suffix{"GiB", 1ull << 30}, Suffix{"MiB", 1ull << 20}, Suffix{"KiB", 1ull << 10},
                   Suffix{"GB", 1000000000ull}, Suffix{"MB", 1000000ull}, Suffix{"KB", 1000ull},
                   Suffix{"B", 1ull}})
    if (text.ends_with_insensitive(s.s)) {
      text = text.drop_back(strlen(s.s)).trim();
      mult = s.m;
      break;
    }
  uint64_t v;
  if (text.getAsInteger(10, v) || v == 0)
    return std::nullopt;
  return v * mult;
}
