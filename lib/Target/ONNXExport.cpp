//===- ONNXExport.cpp - a dense model as an ONNX graph --------------------===//
#include "shear/Target/ONNX.h"

#include "shear/Target/HF.h"

#include "Protobuf.h"
#include "shear/Target/ArtifactPaths.h"

#include "llvm/Support/Path.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

using namespace shear;
using llvm::Error;

namespace {
// onnx.proto enums
enum OnnxType { FLOAT = 1, INT64 = 7, BOOL = 9, BFLOAT16 = 16 };
enum AttrType { A_FLOAT = 1, A_INT = 2, A_TENSOR = 4, A_INTS = 7 };

struct Attr {
  std::string name;
  int type;
  float f = 0;
  int64_t i = 0;
  std::vector<int64_t> ints;
  pb::Message tensor;
};
Attr intAttr(const std::string &n, int64_t v) { return {n, A_INT, 0, v, {}, {}}; }
Attr intsAttr(const std::string &n, std::vector<int64_t> v) { return {n, A_INTS, 0, 0, v, {}}; }

/// An initializer: either small constant data or a model weight, produced
/// (transposed, converted) when it is written.
struct Initializer {
  std::string name;
  int type;
  std::vector<int64_t> dims;
  std::string data;             // constants
  const WeightRef *weight = nullptr;
  bool transpose = false;
};

class GraphBuilder {
public:
  explicit GraphBuilder(const OnnxExportOptions &o) : options(o) {}

  std::string node(const std::string &op, std::vector<std::string> inputs,
                   std::vector<Attr> attrs = {}, const std::string &out = "") {
    std::string output = out.empty() ? op + "_" + std::to_string(counter++) : out;
    pb::Message n;
    for (const std::string &in : inputs)
      n.bytes(1, in);
    n.bytes(2, output);
    n.bytes(3, output);
    n.bytes(4, op);
    for (const Attr &a : attrs) {
      pb::Message m;
      m.bytes(1, a.name);
      m.varint(20, a.type);
      if (a.type == A_FLOAT)
        m.f32(2, a.f);
      else if (a.type == A_INT)
        m.sint(3, a.i);
      else if (a.type == A_INTS)
        for (int64_t v : a.ints)
          m.sint(8, v);
      else if (a.type == A_TENSOR)
        m.message(5, a.tensor);
      n.message(5, m);
    }
    graph.message(1, n);
    return output;
  }

  std::string ints(const std::string &name, std::vector<int64_t> values,
                   std::vector<int64_t> dims = {-1}) {
    // dims {-1}: a 1-D tensor of the values; {}: a scalar.
    Initializer init{name, INT64,
                     !dims.empty() && dims[0] == -1 ? std::vector<int64_t>{(int64_t)values.size()}
                                                    : dims,
                     std::string(reinterpret_cast<const char *>(values.data()), values.size() * 8)};
    inits.push_back(std::move(init));
    return name;
  }
  std::string floats(const std::string &name, const std::vector<float> &values,
                     std::vector<int64_t> dims) {
    inits.push_back({name, FLOAT, dims,
                     std::string(reinterpret_cast<const char *>(values.data()), values.size() * 4)});
    return name;
  }
  /// A model weight as a float value of the graph ([in, out] when transposed).
  std::string weight(const WeightRef &w, bool transpose) {
    std::vector<int64_t> dims = w.shape;
    if (transpose)
      std::swap(dims[0], dims[1]);
    bool bf16 = options.weightDtype == DType::BF16;
    inits.push_back({w.name, bf16 ? BFLOAT16 : FLOAT, dims, "", &w, transpose});
    return bf16 ? node("Cast", {w.name}, {intAttr("to", FLOAT)}) : w.name;
  }

  const OnnxExportOptions &options;
  pb::Message graph;
  std::vector<Initializer> inits;
  int counter = 0;
};

pb::Message valueInfo(const std::string &name, int type, std::vector<std::string> dims) {
  pb::Message shape;
  for (const std::string &d : dims) {
    pb::Message dim;
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      dim.varint(1, std::stoll(d));
    else
      dim.bytes(2, d);
    shape.message(1, dim);
  }
  pb::Message tensor;
  tensor.varint(1, type);
  tensor.message(2, shape);
  pb::Message typeProto;
  typeProto.message(1, tensor);
  pb::Message vi;
  vi.bytes(1, name);
  vi.message(2, typeProto);
  return vi;
}

std::vector<double> inverseFrequencies(const ModelConfig &c) {
  int64_t half = c.headDim / 2;
  std::vector<double> inv(half);
  for (int64_t i = 0; i < half; ++i)
    inv[i] = 1.0 / std::pow(c.ropeTheta, static_cast<double>(2 * i) / c.headDim);
  const RopeScaling &s = c.ropeScaling;
  if (s.type == "linear") {
    for (double &f : inv)
      f /= s.factor;
  } else if (s.type == "llama3") {
    double orig = s.originalMaxPositions;
    double lowWavelen = orig / s.lowFreqFactor, highWavelen = orig / s.highFreqFactor;
    for (double &f : inv) {
      double wavelen = 2 * M_PI / f;
      if (wavelen < highWavelen)
        continue;
      if (wavelen > lowWavelen) {
        f /= s.factor;
        continue;
      }
      double smooth = (orig / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      f = (1 - smooth) * f / s.factor + smooth * f;
    }
  }
  return inv;
}

/// The bytes of one initializer, as stored.
Error initializerBytes(const Initializer &init, WeightStore &store, std::string &out) {
  if (!init.weight) {
    out = init.data;
    return Error::success();
  }
  const WeightRef &w = *init.weight;
  auto t = toLlvm(store.tensor(w.file, w.name));
  if (!t)
    return t.takeError();
  auto [file, info] = *t;
  if (info->shape != w.shape)
    return llvmFileError(file->path(), "tensor '" + w.name + "' is " + shapeToString(info->shape) +
                                       " but the module declares " + shapeToString(w.shape));
  if (Error e = toLlvm(checkFinite(*file, *info)))
    return e;
  std::vector<float> values = file->readF32(*info);
  file->release(*info);
  if (init.transpose) {
    int64_t R = w.shape[0], C = w.shape[1];
    std::vector<float> tr(values.size());
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c)
        tr[c * R + r] = values[r * C + c];
    values.swap(tr);
  }
  DType dtype = init.type == BFLOAT16 ? DType::BF16 : DType::F32;
  out.resize(values.size() * dtypeBytes(dtype));
  convertFromF32(dtype, values.data(), values.size(), reinterpret_cast<uint8_t *>(out.data()));
  return Error::success();
}

pb::Message tensorHeader(const Initializer &init) {
  pb::Message t;
  for (int64_t d : init.dims)
    t.sint(1, d);
  t.varint(2, init.type);
  t.bytes(8, init.name);
  return t;
}

/// RMSNorm decomposed: x / sqrt(mean(x²) + eps) · w.
std::string rmsNorm(GraphBuilder &g, const std::string &x, const WeightRef &w,
                    const std::string &epsName) {
  std::string sq = g.node("Mul", {x, x});
  std::string mean = g.node("ReduceMean", {sq}, {intsAttr("axes", {-1}), intAttr("keepdims", 1)});
  std::string rstd = g.node("Reciprocal", {g.node("Sqrt", {g.node("Add", {mean, epsName})})});
  return g.node("Mul", {g.node("Mul", {x, rstd}), g.weight(w, false)});
}
} // namespace

Error shear::exportOnnx(const ModelView &view, llvm::StringRef pathIn,
                        const OnnxExportOptions &options) {
  if (view.hasMasks())
    return llvmFileError(pathIn, "the model still has masks; export a dense model (run "
                             "--finalize-masks --materialize-shapes first)");
  std::string path = absolutePath(pathIn, ".");
  if (Error e = toLlvm(createDirectories(parentDirectory(path))))
    return e;
  const ModelConfig &c = view.config;
  int64_t H = c.numHeads, G = c.numKvHeads, hd = c.headDim, per = H / G, half = hd / 2;
  GraphBuilder g(options);

  // Shared values: sequence length, RoPE tables, the attention mask.
  bool kv = options.kvCache;
  std::string shape = g.node("Shape", {"input_ids"});
  std::string seq = g.node("Slice", {shape, g.ints("c_one", {1}), g.ints("c_two", {2})});
  std::vector<double> inv = inverseFrequencies(c);
  int64_t P = c.maxPositionEmbeddings;
  std::vector<float> cosTable(P * hd), sinTable(P * hd);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < hd; ++i) {
      double a = p * inv[i % half];
      cosTable[p * hd + i] = static_cast<float>(std::cos(a));
      sinTable[p * hd + i] = static_cast<float>(std::sin(a));
    }
  std::string cosAll = g.floats("rope_cos", cosTable, {P, hd});
  std::string sinAll = g.floats("rope_sin", sinTable, {P, hd});
  std::string cos, sin, allowed, blocked;
  if (kv) {
    // Positions come from position_ids: [batch, seq, hd] -> [batch, 1, seq, hd].
    std::string axis1 = g.ints("c_axis1", {1});
    cos = g.node("Unsqueeze", {g.node("Gather", {cosAll, "position_ids"}, {intAttr("axis", 0)}), axis1});
    sin = g.node("Unsqueeze", {g.node("Gather", {sinAll, "position_ids"}, {intAttr("axis", 0)}), axis1});
    // Query i of this call sits at past + i and sees keys 0 .. past + i that
    // attention_mask [batch, past + seq] keeps (left padding is masked out).
    std::string past = g.node("Slice", {g.node("Shape", {"past_key_values.0.key"}),
                                        g.ints("c_two_b", {2}), g.ints("c_three", {3})});
    std::string total = g.node("Add", {past, seq});
    std::string scalar0 = g.ints("c_axes0", {0});
    std::string step = g.ints("c_step", {1}, {});
    std::string keyPos = g.node("Range", {g.ints("c_zero_scalar", {0}, {}),
                                          g.node("Squeeze", {total, scalar0}), step});
    std::string queryPos = g.node("Range", {g.node("Squeeze", {past, scalar0}),
                                            g.node("Squeeze", {total, scalar0}), step});
    std::string causalKv = g.node("LessOrEqual", {keyPos, g.node("Unsqueeze", {queryPos, axis1})});
    std::string keep = g.node("Unsqueeze", {g.node("Cast", {"attention_mask"}, {intAttr("to", BOOL)}),
                                            g.ints("c_axes12", {1, 2})});
    allowed = g.node("And", {causalKv, keep}); // [batch, 1, seq, past + seq]
    // The lowest float, not -inf: a query row that is all padding stays finite.
    blocked = g.floats("c_blocked", {-3.4028234663852886e38f}, {});
  } else {
    std::string zero = g.ints("c_zero", {0});
    cos = g.node("Slice", {cosAll, zero, seq, zero});
    sin = g.node("Slice", {sinAll, zero, seq, zero});
    pb::Message one;
    one.sint(1, 1);
    one.varint(2, FLOAT);
    float oneValue = 1.0f;
    one.bytes(9, &oneValue, 4);
    std::string square = g.node("Concat", {seq, seq}, {intAttr("axis", 0)});
    Attr oneAttr{"value", A_TENSOR, 0, 0, {}, one};
    std::string ones = g.node("ConstantOfShape", {square}, {oneAttr});
    allowed = g.node("Cast", {g.node("Trilu", {ones}, {intAttr("upper", 0)})}, {intAttr("to", BOOL)});
    blocked = g.floats("c_neg_inf", {-INFINITY}, {});
  }
  std::string scale = g.floats("c_scale", {static_cast<float>(1.0 / std::sqrt(hd))}, {});
  std::string eps = g.floats("c_eps", {static_cast<float>(c.rmsNormEps)}, {});
  std::string headsShape = g.ints("c_q_shape", {0, 0, H, hd});
  std::string kvShape = g.ints("c_kv_shape", {0, 0, G, hd});
  std::string flatShape = g.ints("c_ctx_shape", {0, 0, H * hd});
  std::string lo = g.ints("c_half_lo", {0}), mid = g.ints("c_half", {half}),
              hi = g.ints("c_head_dim", {hd}), axis3 = g.ints("c_axis3", {3});
  std::string repeat;
  if (per > 1) {
    std::vector<int64_t> idx;
    for (int64_t h = 0; h < H; ++h)
      idx.push_back(h / per);
    repeat = g.ints("c_kv_repeat", idx);
  }
  auto rope = [&](const std::string &x) {
    std::string x1 = g.node("Slice", {x, lo, mid, axis3});
    std::string x2 = g.node("Slice", {x, mid, hi, axis3});
    std::string rot = g.node("Concat", {g.node("Neg", {x2}), x1}, {intAttr("axis", 3)});
    return g.node("Add", {g.node("Mul", {x, cos}), g.node("Mul", {rot, sin})});
  };
  auto heads = [&](const std::string &x, const std::string &shapeName) {
    return g.node("Transpose", {g.node("Reshape", {x, shapeName})}, {intsAttr("perm", {0, 2, 1, 3})});
  };

  std::string table = g.weight(view.embed, false);
  std::string x = g.node("Gather", {table, "input_ids"}, {intAttr("axis", 0)});
  for (size_t l = 0; l < view.layers.size(); ++l) {
    const LayerWeights &w = view.layers[l];
    std::string a = rmsNorm(g, x, w.inputNorm, eps);
    std::string q = rope(heads(g.node("MatMul", {a, g.weight(w.q, true)}), headsShape));
    std::string k = rope(heads(g.node("MatMul", {a, g.weight(w.k, true)}), kvShape));
    std::string v = heads(g.node("MatMul", {a, g.weight(w.v, true)}), kvShape);
    if (kv) { // the cache holds the kv heads themselves, after RoPE
      std::string layer = std::to_string(l);
      k = g.node("Concat", {"past_key_values." + layer + ".key", k}, {intAttr("axis", 2)},
                 "present." + layer + ".key");
      v = g.node("Concat", {"past_key_values." + layer + ".value", v}, {intAttr("axis", 2)},
                 "present." + layer + ".value");
    }
    if (per > 1) { // grouped-query attention: query head h reads kv head h / per
      k = g.node("Gather", {k, repeat}, {intAttr("axis", 1)});
      v = g.node("Gather", {v, repeat}, {intAttr("axis", 1)});
    }
    std::string kt = g.node("Transpose", {k}, {intsAttr("perm", {0, 1, 3, 2})});
    std::string scores = g.node("Mul", {g.node("MatMul", {q, kt}), scale});
    std::string masked = g.node("Where", {allowed, scores, blocked});
    std::string probs = g.node("Softmax", {masked}, {intAttr("axis", -1)});
    std::string ctx = g.node("Reshape", {g.node("Transpose", {g.node("MatMul", {probs, v})},
                                                 {intsAttr("perm", {0, 2, 1, 3})}),
                                          flatShape});
    x = g.node("Add", {x, g.node("MatMul", {ctx, g.weight(w.o, true)})});
    std::string b = rmsNorm(g, x, w.postNorm, eps);
    std::string gate = g.node("MatMul", {b, g.weight(w.gate, true)});
    std::string up = g.node("MatMul", {b, g.weight(w.up, true)});
    std::string act = g.node("Mul", {g.node("Mul", {gate, g.node("Sigmoid", {gate})}), up});
    x = g.node("Add", {x, g.node("MatMul", {act, g.weight(w.down, true)})});
  }
  std::string xf = rmsNorm(g, x, view.finalNorm, eps);
  std::string head = c.tieWordEmbeddings
                         ? g.node("Transpose", {table}, {intsAttr("perm", {1, 0})})
                         : g.weight(view.lmHead, true);
  g.node("MatMul", {xf, head}, {}, "logits");

  // Initializers: inline, or in <path>_data when they would pass the limit.
  uint64_t total = 0;
  for (const Initializer &init : g.inits) {
    uint64_t n = 1;
    for (int64_t d : init.dims)
      n *= d;
    total += n * (init.type == INT64 ? 8 : init.type == BFLOAT16 ? 2 : 4);
  }
  bool external = total > options.externalDataAbove;
  // MODEL.onnx_data: the name Optimum writes and transformers.js looks for.
  std::string dataName = llvm::sys::path::filename(path).str() + "_data";
  std::string dataPath = path + "_data", dataTmp = dataPath + ".tmp." + std::to_string(getpid());
  int fd = -1;
  if (external) {
    fd = ::open(dataTmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
      return llvmFileError(dataTmp, "cannot create");
  }
  WeightStore store;
  uint64_t offset = 0;
  for (const Initializer &init : g.inits) {
    std::string bytes;
    if (Error e = initializerBytes(init, store, bytes)) {
      if (fd >= 0) {
        ::close(fd);
        ::unlink(dataTmp.c_str());
      }
      return e;
    }
    pb::Message t = tensorHeader(init);
    if (external && init.weight) {
      if (Status written = writeAll(fd, bytes.data(), bytes.size(), dataTmp); !written.ok()) {
        ::close(fd);
        ::unlink(dataTmp.c_str());
        return toLlvm(written);
      }
      for (auto [key, value] : {std::make_pair("location", dataName),
                                std::make_pair("offset", std::to_string(offset)),
                                std::make_pair("length", std::to_string(bytes.size()))}) {
        pb::Message entry;
        entry.bytes(1, std::string(key));
        entry.bytes(2, value);
        t.message(13, entry);
      }
      t.varint(14, 1); // EXTERNAL
      offset += bytes.size();
    } else {
      t.bytes(9, bytes);
    }
    g.graph.message(5, t);
  }
  if (external) {
    bool ok = fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
      ::unlink(dataTmp.c_str());
      return llvmFileError(dataPath, "cannot write");
    }
  }
  g.graph.bytes(2, "shear");
  g.graph.message(11, valueInfo("input_ids", INT64, {"batch", "seq"}));
  std::string kvHeads = std::to_string(G), headDim = std::to_string(hd);
  if (kv) {
    g.graph.message(11, valueInfo("attention_mask", INT64, {"batch", "total_seq"}));
    g.graph.message(11, valueInfo("position_ids", INT64, {"batch", "seq"}));
    for (size_t l = 0; l < view.layers.size(); ++l)
      for (const char *which : {"key", "value"})
        g.graph.message(11, valueInfo("past_key_values." + std::to_string(l) + "." + which, FLOAT,
                                      {"batch", kvHeads, "past_seq", headDim}));
  }
  g.graph.message(12, valueInfo("logits", FLOAT, {"batch", "seq", std::to_string(c.vocabSize)}));
  if (kv)
    for (size_t l = 0; l < view.layers.size(); ++l)
      for (const char *which : {"key", "value"})
        g.graph.message(12, valueInfo("present." + std::to_string(l) + "." + which, FLOAT,
                                      {"batch", kvHeads, "total_seq", headDim}));

  pb::Message model;
  model.varint(1, 8); // IR version 8
  pb::Message opset;
  opset.bytes(1, "");
  opset.varint(2, 17);
  model.message(8, opset);
  model.bytes(2, "shear");
  model.bytes(3, "0.1");
  model.message(7, g.graph);

  // The model and its data file change together: the new model is complete
  // beside the old one first; then the old model steps aside, the data and
  // the model move into place, and the old model goes. At no moment does a
  // model at `path` name data of another export.
  std::string modelTmp = path + ".tmp." + std::to_string(getpid());
  if (Error e = toLlvm(writeFileAtomically(modelTmp, model.data()))) {
    ::unlink(dataTmp.c_str());
    return e;
  }
  std::string old = path + ".old." + std::to_string(getpid());
  bool hadModel = pathExists(path);
  if (hadModel && std::rename(path.c_str(), old.c_str()) != 0)
    return llvmFileError(path, "cannot replace the existing model");
  bool ok = (!external || std::rename(dataTmp.c_str(), dataPath.c_str()) == 0) &&
            std::rename(modelTmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    ::unlink(modelTmp.c_str());
    ::unlink(dataTmp.c_str());
    if (hadModel)
      std::rename(old.c_str(), path.c_str());
    return llvmFileError(path, "cannot move the export into place");
  }
  if (hadModel)
    ::unlink(old.c_str());
  if (!external) // an earlier export's data file would lie about this model
    ::unlink(dataPath.c_str());
  // The folder a runtime loads: the model's config and its tokenizer beside it.
  std::string dir = parentDirectory(absolutePath(path, "."));
  if (Error e = writeHFConfigFiles(view, dir))
    return e;
  if (external) { // transformers.js loads MODEL.onnx_data only when told to
    std::string configPath = joinPath(dir, "config.json");
    auto config = readJsonFile(configPath);
    if (!config.ok())
      return toLlvm(config.status());
    if (json::Object *o = config->asObject())
      (*o)["transformers.js_config"] = json::Object{{"use_external_data_format", true}};
    if (Error e = toLlvm(writeJsonFileAtomically(configPath, *config)))
      return e;
  }
  std::string source = options.tokenizer.empty() ? c.tokenizer : options.tokenizer;
  if (!source.empty() && source != "none")
    if (Error e = writeTokenizerFiles(source, dir, c.vocabSize, c.maxPositionEmbeddings,
                                      options.spmPath))
      return e;
  syncDirectory(dir);
  return Error::success();
}
