//===- Program.cpp - program files: print, parse, verify ------------------===//
#include "shear/Support/Program.h"

#include "shear/Support/Files.h"

#include <set>

using namespace shear;

//===----------------------------------------------------------------------===//
// types
//===----------------------------------------------------------------------===//

namespace {
struct ShortDType {
  DType dtype;
  const char *name;
};
const ShortDType kShortNames[] = {{DType::F32, "f32"}, {DType::BF16, "bf16"}, {DType::F16, "f16"},
                                  {DType::F64, "f64"}, {DType::I64, "i64"},   {DType::I32, "i32"}};
} // namespace

std::string shear::typeToString(const ValueType &t) {
  std::string s = "?";
  for (const ShortDType &n : kShortNames)
    if (n.dtype == t.dtype)
      s = n.name;
  s += "[";
  for (size_t i = 0; i < t.shape.size(); ++i)
    s += (i ? "," : "") + (t.shape[i] < 0 ? std::string("?") : std::to_string(t.shape[i]));
  return s + "]";
}

std::optional<ValueType> shear::parseType(std::string_view text) {
  size_t open = text.find('[');
  if (open == std::string_view::npos || text.back() != ']')
    return std::nullopt;
  ValueType t;
  bool known = false;
  for (const ShortDType &n : kShortNames)
    if (text.substr(0, open) == n.name) {
      t.dtype = n.dtype;
      known = true;
    }
  if (!known)
    return std::nullopt;
  std::string_view dims = text.substr(open + 1, text.size() - open - 2);
  while (!dims.empty()) {
    size_t comma = dims.find(',');
    std::string_view d = dims.substr(0, comma);
    dims = comma == std::string_view::npos ? std::string_view() : dims.substr(comma + 1);
    if (d == "?") {
      t.shape.push_back(-1);
      continue;
    }
    if (d.empty() || d.size() > 18)
      return std::nullopt;
    int64_t v = 0;
    for (char c : d) {
      if (c < '0' || c > '9')
        return std::nullopt;
      v = v * 10 + (c - '0');
    }
    t.shape.push_back(v);
  }
  return t;
}

const ProgramFunction *ProgramFile::function(std::string_view name) const {
  for (const ProgramFunction &f : functions)
    if (f.name == name)
      return &f;
  return nullptr;
}

const ProgramWeight *ProgramFile::weight(std::string_view name) const {
  for (const ProgramWeight &w : weights)
    if (w.name == name)
      return &w;
  return nullptr;
}

const char *shear::checkpointFileFor(std::string_view name) {
  auto starts = [&](std::string_view prefix) { return name.substr(0, prefix.size()) == prefix; };
  if (starts("shear.gate."))
    return "gates.safetensors";
  if (starts("shear.mask."))
    return "masks.safetensors";
  if (starts("shear.lambda"))
    return "lambdas.safetensors";
  if (starts("adam."))
    return "optimizer.safetensors";
  return "model.safetensors";
}

std::string shear::workingCopyOf(std::string_view name) {
  if (name.substr(0, kWorkingCopyPrefix.size()) != kWorkingCopyPrefix)
    return "";
  return std::string(name.substr(kWorkingCopyPrefix.size()));
}

std::string shear::gradientSumOf(std::string_view name) {
  if (name.substr(0, kGradientSumPrefix.size()) != kGradientSumPrefix)
    return "";
  return std::string(name.substr(kGradientSumPrefix.size()));
}

bool shear::looksLikeProgram(std::string_view text) {
  size_t i = text.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && text[i] == '{' &&
         text.find("\"shear-program\"") != std::string_view::npos;
}

//===----------------------------------------------------------------------===//
// printing
//===----------------------------------------------------------------------===//

namespace {
json::Value ids(const std::vector<int> &v) {
  json::Array a;
  for (int i : v)
    a.push_back(i < 0 ? json::Value() : json::Value(i));
  return a;
}
json::Value strings(const std::vector<std::string> &v) {
  json::Array a;
  for (const std::string &s : v)
    a.push_back(s);
  return a;
}
json::Value attrJson(const AttrValue &a) {
  switch (a.type) {
  case AttrType::Int:
    return a.i;
  case AttrType::Float:
    return a.f;
  case AttrType::String:
    return a.s;
  case AttrType::Bool:
    return a.b;
  }
  return {};
}
} // namespace

std::string shear::printProgram(const ProgramFile &p) {
  std::string out = "{\n";
  auto field = [&](const char *key, const json::Value &v, bool last = false) {
    out += "  " + json::quote(key) + ": " + json::write(v) + (last ? "\n" : ",\n");
  };
  field("format", "shear-program");
  field("version", kProgramFormatVersion);
  field("mode", p.mode);
  field("source", p.source);
  field("compiled_with", json::Object(p.compiledWith));
  const ProgramModel &m = p.model;
  field("model", json::Object{{"layers", m.layers},
                              {"hidden", m.hidden},
                              {"heads", m.heads},
                              {"kv_heads", m.kvHeads},
                              {"head_dim", m.headDim},
                              {"intermediate", m.intermediate},
                              {"vocab", m.vocab},
                              {"bos_token_id", m.bosTokenId},
                              {"eos_token_id", m.eosTokenId},
                              {"masked", m.masked},
                              {"signature", m.signature}});
  out += "  \"weights\": [\n";
  for (size_t i = 0; i < p.weights.size(); ++i) {
    const ProgramWeight &w = p.weights[i];
    json::Array shape;
    for (int64_t d : w.shape)
      shape.push_back(d);
    json::Object o{{"name", w.name}, {"dtype", dtypeName(w.dtype)}, {"shape", std::move(shape)}};
    if (w.zeroInit)
      o["zero_init"] = true;
    if (!w.tensor.empty())
      o["tensor"] = w.tensor;
    if (w.frozen)
      o["frozen"] = true;
    if (w.host)
      o["host"] = true;
    if (!w.file.empty())
      o["file"] = w.file;
    out += "    " + json::write(json::Value(std::move(o))) + (i + 1 < p.weights.size() ? ",\n" : "\n");
  }
  out += "  ],\n";
  field("checkpoint", json::Object{{"weights", strings(p.checkpointWeights)},
                                   {"module", p.checkpointModule}});
  out += "  \"functions\": [\n";
  for (size_t fi = 0; fi < p.functions.size(); ++fi) {
    const ProgramFunction &f = p.functions[fi];
    json::Array argTypes, inouts;
    for (int a : f.args)
      argTypes.push_back(typeToString(f.values[a]));
    for (auto [arg, ret] : f.inouts)
      inouts.push_back(json::Array{arg, ret});
    out += "    {\n";
    auto ffield = [&](const char *key, const json::Value &v) {
      out += "      " + json::quote(key) + ": " + json::write(v) + ",\n";
    };
    ffield("name", f.name);
    ffield("args", ids(f.args));
    ffield("arg_types", argTypes);
    ffield("returns", ids(f.returns));
    ffield("metrics", strings(f.metrics));
    ffield("updates", strings(f.updates));
    ffield("gradients", strings(f.gradients));
    ffield("lr_args", strings(f.lrArgs));
    ffield("inouts", inouts);
    ffield("num_values", static_cast<int64_t>(f.values.size()));
    out += "      \"body\": [\n";
    for (size_t i = 0; i < f.body.size(); ++i) {
      // One line per instruction, the callee first.
      const ProgramInstr &in = f.body[i];
      json::Array types;
      for (int r : in.results)
        types.push_back(r < 0 ? json::Value() : json::Value(typeToString(f.values[r])));
      std::string line;
      if (in.kind == ProgramInstr::Kind::Weight) {
        line = "{\"weight\":" + std::to_string(in.weight) + ",\"name\":" +
               json::quote(p.weights[in.weight].name);
      } else {
        line = "{\"kernel\":" + json::quote(kernelDecl(in.kernel).name) +
               ",\"operands\":" + json::write(ids(in.operands));
      }
      line += ",\"results\":" + json::write(ids(in.results)) + ",\"types\":" + json::write(types);
      if (!in.attrs.empty()) {
        json::Object attrs;
        for (const auto &[k, v] : in.attrs)
          attrs[k] = attrJson(v);
        line += ",\"attrs\":" + json::write(json::Value(std::move(attrs)));
      }
      if (!in.loc.empty())
        line += ",\"loc\":" + json::quote(in.loc);
      out += "        " + line + "}" + (i + 1 < f.body.size() ? ",\n" : "\n");
    }
    out += "      ]\n";
    out += fi + 1 < p.functions.size() ? "    },\n" : "    }\n";
  }
  out += "  ]\n}\n";
  return out;
}

//===----------------------------------------------------------------------===//
// parsing
//===----------------------------------------------------------------------===//

namespace {
class Reader {
public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  Status fail(const std::string &where, const std::string &what) {
    return fileError(path_, where + ": " + what);
  }

  Result<std::vector<int>> idList(const json::Value *v, const std::string &where, bool allowNull) {
    const json::Array *a = v ? v->asArray() : nullptr;
    if (!a)
      return fail(where, "must be an array of value ids");
    std::vector<int> out;
    for (const json::Value &e : *a) {
      if (e.isNull() && allowNull) {
        out.push_back(-1);
        continue;
      }
      auto i = e.asInteger();
      if (!i || *i < 0 || *i > (1 << 30))
        return fail(where, "entries must be value ids");
      out.push_back(static_cast<int>(*i));
    }
    return out;
  }

  Result<std::vector<std::string>> stringList(const json::Value *v, const std::string &where) {
    const json::Array *a = v ? v->asArray() : nullptr;
    if (!a)
      return fail(where, "must be an array of strings");
    std::vector<std::string> out;
    for (const json::Value &e : *a) {
      const std::string *s = e.asString();
      if (!s)
        return fail(where, "entries must be strings");
      out.push_back(*s);
    }
    return out;
  }

  Status readWeight(const json::Value &v, size_t index, ProgramWeight &w) {
    std::string where = "weight " + std::to_string(index);
    const std::string *name = v.getString("name"), *dtype = v.getString("dtype");
    const json::Array *shape = v.getArray("shape");
    if (!name || !dtype || !shape)
      return fail(where, "needs name, dtype and shape");
    w.name = *name;
    auto d = parseDType(*dtype);
    if (!d || !isFloatDType(*d))
      return fail(where, "dtype '" + *dtype + "' is not a float type");
    w.dtype = *d;
    for (const json::Value &e : *shape) {
      auto i = e.asInteger();
      if (!i || *i < 0)
        return fail(where, "shape entries must be non-negative integers");
      w.shape.push_back(*i);
    }
    if (numElements(w.shape) < 0)
      return fail(where, "shape " + shapeToString(w.shape) + " is too large");
    w.zeroInit = v.getBool("zero_init").value_or(false);
    w.frozen = v.getBool("frozen").value_or(false);
    w.host = v.getBool("host").value_or(false);
    if (const std::string *tensor = v.getString("tensor"))
      w.tensor = *tensor;
    if (const std::string *file = v.getString("file"))
      w.file = *file;
    if (!w.zeroInit && w.file.empty())
      return fail(where, "'" + w.name + "' has no file and is not zero_init");
    return Status();
  }

  Status readAttrs(const KernelDecl &decl, const json::Value *attrs, ProgramInstr &in,
                   const std::string &where) {
    if (!attrs)
      return Status();
    const json::Object *o = attrs->asObject();
    if (!o)
      return fail(where, "attrs must be an object");
    for (const auto &[key, value] : *o) {
      const AttrDecl *a = decl.attr(key);
      if (!a)
        return fail(where, "kernel '" + decl.name + "' has no attribute '" + key + "'");
      AttrValue av;
      av.type = a->type;
      bool ok = false;
      switch (a->type) {
      case AttrType::Int:
        if (auto i = value.asInteger(); i && value.kind() == json::Value::Kind::Integer) {
          av.i = *i;
          ok = true;
        }
        break;
      case AttrType::Float:
        if (auto d = value.asNumber()) {
          av.f = *d;
          ok = true;
        }
        break;
      case AttrType::String:
        if (const std::string *s = value.asString()) {
          av.s = *s;
          ok = true;
        }
        break;
      case AttrType::Bool:
        if (auto b = value.asBool()) {
          av.b = *b;
          ok = true;
        }
        break;
      }
      if (!ok)
        return fail(where, "attribute '" + key + "' of '" + decl.name + "' must be " +
                               attrTypeName(a->type));
      in.attrs[key] = av;
    }
    return Status();
  }

  Status readFunction(const json::Value &v, ProgramFile &p, ProgramFunction &f) {
    const std::string *name = v.getString("name");
    if (!name)
      return fail("function", "has no name");
    f.name = *name;
    std::string where = "function '" + f.name + "'";
    auto n = v.getInteger("num_values");
    const json::Array *bodyList = v.getArray("body");
    const json::Array *argList = v.getArray("args");
    // Every value is an argument or a result (at most 7 per instruction): a
    // larger count is a lie, refused before anything is allocated for it.
    size_t most = (argList ? argList->size() : 0) + 7 * (bodyList ? bodyList->size() : 0);
    if (!n || *n < 0 || static_cast<uint64_t>(*n) > most)
      return fail(where, "num_values must count the arguments and results (at most " +
                             std::to_string(most) + ")");
    f.values.assign(*n, ValueType{});
    std::vector<bool> typed(*n, false);
    auto setType = [&](int id, const json::Value &t, const std::string &at) -> Status {
      const std::string *s = t.asString();
      auto type = s ? parseType(*s) : std::nullopt;
      if (!type)
        return fail(at, "invalid type");
      if (id < 0 || id >= *n)
        return fail(at, "value %" + std::to_string(id) + " is out of range");
      f.values[id] = *type;
      typed[id] = true;
      return Status();
    };
    auto args = idList(v.get("args"), where + " args", false);
    if (!args.ok())
      return args.status();
    f.args = *args;
    const json::Array *argTypes = v.getArray("arg_types");
    if (!argTypes || argTypes->size() != f.args.size())
      return fail(where, "arg_types must give one type per argument");
    for (size_t i = 0; i < f.args.size(); ++i)
      SHEAR_RETURN_IF_ERROR(setType(f.args[i], (*argTypes)[i], where + " argument " + std::to_string(i)));
    auto returns = idList(v.get("returns"), where + " returns", false);
    if (!returns.ok())
      return returns.status();
    f.returns = *returns;
    for (auto [key, out] : {std::pair{"metrics", &f.metrics}, std::pair{"updates", &f.updates},
                            std::pair{"gradients", &f.gradients}, std::pair{"lr_args", &f.lrArgs}}) {
      auto list = stringList(v.get(key), where + " " + key);
      if (!list.ok())
        return list.status();
      *out = *list;
    }
    const json::Array *inouts = v.getArray("inouts");
    if (!inouts)
      return fail(where, "needs inouts");
    for (const json::Value &e : *inouts) {
      const json::Array *pair = e.asArray();
      if (!pair || pair->size() != 2 || !(*pair)[0].asInteger() || !(*pair)[1].asInteger())
        return fail(where, "inouts entries must be [argument, return]");
      f.inouts.push_back({static_cast<int>(*(*pair)[0].asInteger()),
                          static_cast<int>(*(*pair)[1].asInteger())});
    }
    const json::Array *body = v.getArray("body");
    if (!body)
      return fail(where, "has no body");
    for (size_t i = 0; i < body->size(); ++i) {
      const json::Value &e = (*body)[i];
      std::string at = where + " instruction " + std::to_string(i);
      ProgramInstr in;
      if (const std::string *loc = e.getString("loc"))
        in.loc = *loc;
      auto results = idList(e.get("results"), at + " results", true);
      if (!results.ok())
        return results.status();
      in.results = *results;
      const json::Array *types = e.getArray("types");
      if (!types || types->size() != in.results.size())
        return fail(at, "types must give one type per result");
      for (size_t r = 0; r < in.results.size(); ++r)
        if (in.results[r] >= 0)
          SHEAR_RETURN_IF_ERROR(setType(in.results[r], (*types)[r], at));
      if (auto w = e.getInteger("weight")) {
        in.kind = ProgramInstr::Kind::Weight;
        if (*w < 0 || static_cast<size_t>(*w) >= p.weights.size())
          return fail(at, "weight index " + std::to_string(*w) + " is out of range");
        in.weight = static_cast<int>(*w);
        if (const std::string *name = e.getString("name"); name && *name != p.weights[in.weight].name)
          return fail(at, "names weight '" + *name + "' but weight " + std::to_string(*w) + " is '" +
                              p.weights[in.weight].name + "'");
      } else if (const std::string *k = e.getString("kernel")) {
        const KernelDecl *decl = findKernel(*k);
        if (!decl)
          return fail(at, "unknown kernel '" + *k + "' (not in the kernel table of this shear)");
        in.kernel = decl->id;
        auto operands = idList(e.get("operands"), at + " operands", true);
        if (!operands.ok())
          return operands.status();
        in.operands = *operands;
        SHEAR_RETURN_IF_ERROR(readAttrs(*decl, e.get("attrs"), in, at));
      } else {
        return fail(at, "is neither a weight nor a kernel call");
      }
      f.body.push_back(std::move(in));
    }
    for (int64_t id = 0; id < *n; ++id)
      if (!typed[id])
        return fail(where, "value %" + std::to_string(id) + " has no type");
    return Status();
  }

  Result<ProgramFile> read(std::string_view text) {
    auto root = json::parse(text);
    if (!root.ok())
      return fileError(path_, root.status().message());
    if (!root->asObject() || !root->getString("format") || *root->getString("format") != "shear-program")
      return fileError(path_, "not a shear program file (no \"format\": \"shear-program\")");
    auto version = root->getInteger("version");
    if (!version || *version != kProgramFormatVersion)
      return fileError(path_, "program format version " +
                                  (version ? std::to_string(*version) : std::string("?")) +
                                  ", but this shear reads version " +
                                  std::to_string(kProgramFormatVersion) +
                                  ": compile the model again with this shear (shear-run compile)");
    ProgramFile p;
    const std::string *mode = root->getString("mode");
    if (!mode)
      return fail("program", "has no mode");
    p.mode = *mode;
    if (const std::string *source = root->getString("source"))
      p.source = *source;
    if (const json::Object *cw = root->getObject("compiled_with"))
      p.compiledWith = *cw;
    const json::Value *model = root->get("model");
    if (!model || !model->asObject())
      return fail("program", "has no model");
    for (auto [key, out] : {std::pair{"layers", &p.model.layers}, std::pair{"hidden", &p.model.hidden},
                            std::pair{"heads", &p.model.heads}, std::pair{"kv_heads", &p.model.kvHeads},
                            std::pair{"head_dim", &p.model.headDim},
                            std::pair{"intermediate", &p.model.intermediate},
                            std::pair{"vocab", &p.model.vocab},
                            std::pair{"bos_token_id", &p.model.bosTokenId},
                            std::pair{"eos_token_id", &p.model.eosTokenId}}) {
      auto v = model->getInteger(key);
      if (!v)
        return fail("model", "needs integer '" + std::string(key) + "'");
      *out = *v;
    }
    p.model.masked = model->getBool("masked").value_or(false);
    if (const std::string *sig = model->getString("signature"))
      p.model.signature = *sig;
    const json::Array *weights = root->getArray("weights");
    if (!weights)
      return fail("program", "has no weights");
    for (size_t i = 0; i < weights->size(); ++i) {
      ProgramWeight w;
      SHEAR_RETURN_IF_ERROR(readWeight((*weights)[i], i, w));
      p.weights.push_back(std::move(w));
    }
    if (const json::Value *ck = root->get("checkpoint")) {
      if (const std::string *module = ck->getString("module"))
        p.checkpointModule = *module;
      auto list = stringList(ck->get("weights"), "checkpoint weights");
      if (!list.ok())
        return list.status();
      p.checkpointWeights = *list;
    }
    const json::Array *functions = root->getArray("functions");
    if (!functions || functions->empty())
      return fail("program", "has no functions");
    for (const json::Value &f : *functions) {
      ProgramFunction fn;
      SHEAR_RETURN_IF_ERROR(readFunction(f, p, fn));
      p.functions.push_back(std::move(fn));
    }
    Status verified = verifyProgram(p);
    if (!verified.ok())
      return fileError(path_, verified.message());
    return p;
  }

private:
  std::string path_;
};
} // namespace

Result<ProgramFile> shear::parseProgram(std::string_view text, const std::string &path) {
  return Reader(path).read(text);
}

Result<ProgramFile> shear::readProgramFile(const std::string &path) {
  auto text = readFile(path);
  if (!text.ok())
    return text.status();
  auto program = parseProgram(*text, path);
  if (!program.ok())
    return program.status();
  program->baseDir = parentDirectory(absolutePath(path, "."));
  return program;
}

Status shear::writeProgramFile(const std::string &path, ProgramFile program) {
  std::string dir = parentDirectory(absolutePath(path, "."));
  for (ProgramWeight &w : program.weights)
    if (!w.file.empty())
      w.file = relativePath(absolutePath(w.file, program.baseDir), dir);
  if (!program.source.empty())
    program.source = relativePath(absolutePath(program.source, "."), dir);
  return writeFileAtomically(path, printProgram(program));
}

//===----------------------------------------------------------------------===//
// verification
//===----------------------------------------------------------------------===//

static Status verifyFunction(const ProgramFile &p, const ProgramFunction &f) {
  std::string where = "function '" + f.name + "'";
  auto fail = [&](const std::string &what) { return invalidInput(where + ": " + what); };
  size_t n = f.values.size();
  std::vector<bool> defined(n, false);
  auto define = [&](int id, const std::string &at) -> Status {
    if (id < 0 || static_cast<size_t>(id) >= n)
      return fail(at + ": value %" + std::to_string(id) + " is out of range");
    if (defined[id])
      return fail(at + ": value %" + std::to_string(id) + " is defined twice");
    defined[id] = true;
    return Status();
  };
  for (int a : f.args)
    SHEAR_RETURN_IF_ERROR(define(a, "argument"));
  auto use = [&](int id, const std::string &at) -> Status {
    if (id < 0 || static_cast<size_t>(id) >= n || !defined[id])
      return fail(at + ": value %" + std::to_string(id) + " is used before it is defined");
    return Status();
  };
  auto isInt = [&](int id) {
    DType d = f.values[id].dtype;
    return d == DType::I64 || d == DType::I32;
  };
  for (size_t i = 0; i < f.body.size(); ++i) {
    const ProgramInstr &in = f.body[i];
    std::string at = "instruction " + std::to_string(i);
    if (in.kind == ProgramInstr::Kind::Weight) {
      if (in.weight < 0 || static_cast<size_t>(in.weight) >= p.weights.size() ||
          in.results.size() != 1 || in.results[0] < 0)
        return fail(at + ": a weight read needs a weight index and one result");
      const ProgramWeight &w = p.weights[in.weight];
      if (f.values[in.results[0]].shape != w.shape)
        return fail(at + ": weight '" + w.name + "' has shape " + shapeToString(w.shape) +
                    " but its value is " + typeToString(f.values[in.results[0]]));
      SHEAR_RETURN_IF_ERROR(define(in.results[0], at));
      continue;
    }
    const KernelDecl &decl = kernelDecl(in.kernel);
    at += " ('" + decl.name + "')";
    size_t fixed = decl.operands.size() - (decl.variadic() ? 1 : 0);
    if (in.operands.size() < fixed || (!decl.variadic() && in.operands.size() != fixed))
      return fail(at + ": " + std::to_string(in.operands.size()) + " operand slots, the kernel table declares " +
                  std::to_string(fixed) + (decl.variadic() ? " and more" : ""));
    for (size_t s = 0; s < in.operands.size(); ++s) {
      const OperandDecl &o = decl.operands[std::min(s, decl.operands.size() - 1)];
      int id = in.operands[s];
      if (id < 0) {
        if (o.arity != OperandDecl::Optional)
          return fail(at + ": operand '" + o.name + "' is required");
        continue;
      }
      SHEAR_RETURN_IF_ERROR(use(id, at));
      if ((o.cls == ValueClass::Int) != isInt(id))
        return fail(at + ": operand '" + o.name + "' must be " +
                    (o.cls == ValueClass::Int ? "an integer" : "a float") + " tensor, got " +
                    typeToString(f.values[id]));
    }
    if (in.results.size() != decl.results.size())
      return fail(at + ": " + std::to_string(in.results.size()) + " result slots, the kernel table declares " +
                  std::to_string(decl.results.size()));
    for (size_t r = 0; r < decl.results.size(); ++r) {
      const ResultDecl &rd = decl.results[r];
      bool expected = rd.presentWith < 0 || in.operands[rd.presentWith] >= 0;
      if (expected != (in.results[r] >= 0))
        return fail(at + ": result '" + rd.name + "' must " + (expected ? "" : "not ") +
                    "be present");
      if (in.results[r] >= 0)
        SHEAR_RETURN_IF_ERROR(define(in.results[r], at));
    }
    for (const AttrDecl &a : decl.attrs)
      if (a.required && !in.attrs.count(a.name))
        return fail(at + ": attribute '" + a.name + "' is required");
    for (const auto &[name, value] : in.attrs) {
      const AttrDecl *a = decl.attr(name);
      if (!a || a->type != value.type)
        return fail(at + ": attribute '" + name + "' is not declared as " + attrTypeName(value.type));
    }
  }
  for (int r : f.returns)
    SHEAR_RETURN_IF_ERROR(use(r, "return"));
  if (f.metrics.size() + f.updates.size() + f.gradients.size() > f.returns.size())
    return fail("metrics, updates and gradients name more values than it returns");
  for (const std::string &u : f.updates)
    if (!p.weight(u))
      return fail("updates an unknown weight '" + u + "'");
  for (const std::string &g : f.gradients)
    if (!p.weight(g))
      return fail("returns the gradient of an unknown weight '" + g + "'");
  for (auto [arg, ret] : f.inouts)
    if (arg < 0 || static_cast<size_t>(arg) >= f.args.size() || ret < 0 ||
        static_cast<size_t>(ret) >= f.returns.size())
      return fail("an in-out pair is out of range");
  return Status();
}

Status shear::verifyProgram(const ProgramFile &p) {
  std::set<std::string> names;
  for (const ProgramWeight &w : p.weights)
    if (!names.insert(w.name).second)
      return invalidInput("weight '" + w.name + "' is listed twice");
  std::set<std::string> functions;
  for (const ProgramFunction &f : p.functions) {
    if (!functions.insert(f.name).second)
      return invalidInput("function '" + f.name + "' is defined twice");
    SHEAR_RETURN_IF_ERROR(verifyFunction(p, f));
  }
  for (const std::string &w : p.checkpointWeights)
    if (!p.weight(w))
      return invalidInput("checkpoint: unknown weight '" + w + "'");
  return Status();
}
