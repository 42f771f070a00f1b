//===- DeviceCheck.cpp - every kernel of a device against its CPU twin ----===//
#include "shear/Runtime/DeviceCheck.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

using namespace shear;
using namespace shear::rt;

namespace {

AttrValue num(double v) {
  AttrValue a;
  a.type = AttrType::Float;
  a.f = v;
  return a;
}
AttrValue integer(int64_t v) {
  AttrValue a;
  a.type = AttrType::Int;
  a.i = v;
  return a;
}
AttrValue text(const std::string &v) {
  AttrValue a;
  a.type = AttrType::String;
  a.s = v;
  return a;
}

/// One call: host operands per declared slot (undefined: an absent optional
/// one; then the variadic tail), attributes, result types (float32 where
/// not given) and the tolerance on max |device − cpu| / max |cpu|; or, with
/// mustFail, bad input that both must refuse with the same message.
struct Case {
  std::string kernel, label;
  std::vector<Tensor> in;
  std::map<std::string, AttrValue> attrs;
  std::vector<DType> out;
  double tol = 1e-4;
  bool mustFail = false;
  /// Results held to another tolerance than `tol` (by result slot).
  std::map<size_t, double> resultTol = {};
  /// More calls after the one of `in`, run together with it (runGroup where
  /// the device has it; the CPU runs them one by one); results concatenated.
  std::vector<std::vector<Tensor>> more = {};
};

/// `ids` with two values outside [0, V): V + 3 at position 9 (the first,
/// which the error names) and -2 at position 17.
Tensor withBadIds(const Tensor &ids, int64_t V) {
  Tensor t = Tensor::empty(ids.shape(), DType::I64);
  std::memcpy(t.data(), ids.data(), ids.bytes());
  t.i64()[9] = V + 3;
  t.i64()[17] = -2;
  return t;
}

class Inputs {
public:
  explicit Inputs(DType storage) : storage_(storage) {}
  Tensor normal(std::vector<int64_t> shape, double scale = 1.0, double mean = 0.0) {
    Tensor t = Tensor::empty(std::move(shape));
    std::normal_distribution<float> d(static_cast<float>(mean), static_cast<float>(scale));
    for (int64_t i = 0; i < t.numel(); ++i)
      t.f32()[i] = d(rng_);
    return t;
  }
  /// A mask of n entries: some zeros, the others in [0.3, 1].
  Tensor mask(std::vector<int64_t> shape) {
    Tensor t = Tensor::empty(std::move(shape));
    std::uniform_real_distribution<float> d(0.0f, 1.0f);
    for (int64_t i = 0; i < t.numel(); ++i) {
      float u = d(rng_);
      t.f32()[i] = u < 0.25f ? 0.0f : 0.3f + 0.7f * u;
    }
    return t;
  }
  /// Token ids in [0, V); with `ignored`, some are -100.
  Tensor ids(std::vector<int64_t> shape, int64_t V, bool ignored = false) {
    Tensor t = Tensor::empty(std::move(shape), DType::I64);
    std::uniform_int_distribution<int64_t> d(0, V - 1);
    for (int64_t i = 0; i < t.numel(); ++i)
      t.i64()[i] = ignored && i % 5 == 3 ? -100 : d(rng_);
    return t;
  }
  /// `t` in the storage type (bf16 storage: rounded, as a bf16 program holds it).
  Tensor s(const Tensor &t) const {
    if (storage_ == DType::F32)
      return t;
    Tensor b = Tensor::empty(t.shape(), storage_);
    convertFromF32(storage_, t.f32(), static_cast<size_t>(t.numel()), static_cast<uint8_t *>(b.data()));
    return b;
  }
  DType storage() const { return storage_; }

private:
  DType storage_;
  std::mt19937 rng_{20261203};
};

/// Runs `c` on `b`: operands copied to its memory, results allocated there
/// (an in-place one starting from its operand), then brought to the host.
Result<std::vector<Tensor>> run(Backend &b, const Case &c) {
  const KernelDecl *decl = findKernel(c.kernel);
  if (!decl)
    return internalError("no kernel '" + c.kernel + "'");
  auto params = decodeParams(decl->id, c.attrs);
  if (!params.ok())
    return params.status();
  const KernelImpl *impl = b.kernel(decl->id);
  if (!impl)
    return internalError(b.describe() + " has no kernel '" + c.kernel + "'");
  std::vector<const std::vector<Tensor> *> operands = {&c.in};
  for (const auto &call : c.more)
    operands.push_back(&call);
  size_t calls = operands.size();
  // Per call: its device operands and results (kept alive to the end).
  std::vector<std::vector<Tensor>> in(calls), out(calls);
  std::vector<KernelIO> io(calls);
  std::vector<std::shared_ptr<Buffer>> workspaces;
  for (size_t k = 0; k < calls; ++k) {
    const std::vector<Tensor> &given = *operands[k];
    in[k].resize(given.size());
    std::vector<const Shape *> shapes;
    for (size_t i = 0; i < given.size(); ++i) {
      if (given[i].defined()) {
        auto t = Tensor::allocate(b.allocator(), given[i].shape(), given[i].dtype());
        if (!t.ok())
          return t.status();
        in[k][i] = t.take();
        SHEAR_RETURN_IF_ERROR(b.copy(in[k][i], given[i]));
      }
      shapes.push_back(in[k][i].defined() ? &in[k][i].shape() : nullptr);
      io[k].in.push_back(in[k][i].defined() ? &in[k][i] : nullptr);
    }
    std::vector<Shape> resultShapes;
    SHEAR_RETURN_IF_ERROR(inferShapes(decl->id, *params, shapes, resultShapes));
    out[k].resize(decl->results.size());
    for (size_t r = 0; r < decl->results.size(); ++r) {
      const ResultDecl &rd = decl->results[r];
      if (rd.presentWith >= 0 && !in[k][rd.presentWith].defined())
        continue;
      DType type = r < c.out.size() ? c.out[r] : DType::F32;
      if (rd.updates >= 0)
        type = in[k][rd.updates].dtype();
      auto t = Tensor::allocate(b.allocator(), resultShapes[r], type);
      if (!t.ok())
        return t.status();
      out[k][r] = t.take();
      if (rd.updates >= 0)
        SHEAR_RETURN_IF_ERROR(b.copy(out[k][r], in[k][rd.updates]));
    }
    for (Tensor &t : out[k])
      io[k].out.push_back(t.defined() ? &t : nullptr);
    size_t bytes = impl->workspace ? impl->workspace(*params, shapes) : 0;
    auto workspace = b.allocator().allocate(bytes);
    if (!workspace.ok())
      return workspace.status();
    workspaces.push_back(*workspace);
    io[k].workspace = workspaces.back()->data();
    io[k].workspaceBytes = bytes;
  }
  if (calls > 1 && impl->runGroup) {
    std::vector<KernelIO *> group;
    for (KernelIO &call : io)
      group.push_back(&call);
    SHEAR_RETURN_IF_ERROR(impl->runGroup(b.context(), *params, group));
  } else {
    for (KernelIO &call : io)
      SHEAR_RETURN_IF_ERROR(impl->run(b.context(), *params, call));
  }
  std::vector<Tensor> host;
  for (size_t k = 0; k < calls; ++k)
    for (const Tensor &t : out[k]) {
      host.emplace_back();
      if (!t.defined())
        continue;
      auto h = b.toHost(t);
      if (!h.ok())
        return h.status();
      host.back() = Tensor::empty(h->shape(), h->dtype());
      std::memcpy(host.back().data(), h->data(), h->bytes());
    }
  return host;
}

std::vector<double> valuesOf(const Tensor &t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::I64) {
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = static_cast<double>(t.i64()[i]);
    return v;
  }
  std::vector<float> f(v.size());
  convertToF32(t.dtype(), static_cast<const uint8_t *>(t.data()), v.size(), f.data());
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = f[i];
  return v;
}

/// max |a − b| / max |b| (b the reference), over every result.
/// max |got − want| / max |want| of the result furthest over its tolerance
/// (c.tol, or its own in c.resultTol), which goes into *tol.
double relativeError(const std::vector<Tensor> &got, const std::vector<Tensor> &want, const Case &c,
                     std::string &where, double *tol) {
  double worst = 0, worstRatio = -1;
  *tol = c.tol;
  for (size_t r = 0; r < want.size(); ++r) {
    if (!want[r].defined())
      continue;
    if (!got[r].defined() || got[r].shape() != want[r].shape()) {
      where = "result " + std::to_string(r) + " missing or of another shape";
      return INFINITY;
    }
    std::vector<double> a = valuesOf(got[r]), b = valuesOf(want[r]);
    double scale = 1e-6, diff = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      scale = std::max(scale, std::fabs(b[i]));
      diff = std::max(diff, std::isfinite(a[i]) ? std::fabs(a[i] - b[i]) : INFINITY);
    }
    double e = std::isnan(diff / scale) ? INFINITY : diff / scale;
    auto own = c.resultTol.find(r % findKernel(c.kernel)->results.size());
    double t = own == c.resultTol.end() ? c.tol : own->second;
    if (e / t > worstRatio) {
      worstRatio = e / t;
      worst = e;
      *tol = t;
      where = "result " + std::to_string(r);
    }
  }
  return worst;
}

const char *storageName(DType s) { return s == DType::F32 ? "f32" : "bf16"; }

/// Every kernel's cases for one storage type; backward cases take their
/// forward results from the CPU.
Result<std::vector<Case>> casesFor(DType storage, Backend &cpu) {
  Inputs g(storage);
  const DType S = storage, F = DType::F32;
  bool bf16 = storage != DType::F32;
  double tol = bf16 ? 2e-2 : 1e-4, tolBwd = bf16 ? 3e-2 : 2e-4;
  std::vector<Case> cases;
  auto forward = [&](const Case &c) -> Result<std::vector<Tensor>> { return run(cpu, c); };
  const int64_t B = 2, T = 13, D = 24, V = 37, M = 40;
  Tensor none;

  // embed, embed.bwd (with and without the hidden mask).
  for (bool masked : {false, true}) {
    Tensor table = g.s(g.normal({V, D})), ids = g.ids({B, T}, V), hidden = masked ? g.mask({D}) : none;
    std::string label = masked ? "hidden mask" : "no mask";
    Case fwd{"embed", label, {table, ids, hidden}, {}, {S}, tol};
    auto y = forward(fwd);
    if (!y.ok())
      return y.status();
    cases.push_back(fwd);
    cases.push_back({"embed.bwd", label, {table, ids, hidden, (*y)[0], g.normal({B, T, D})}, {}, {}, tolBwd});
    if (masked) {
      Tensor bad = withBadIds(ids, V);
      cases.push_back({"embed", "ids outside the vocabulary", {table, bad, hidden}, {}, {S}, 0, true});
      cases.push_back({"embed.bwd", "ids outside the vocabulary",
                       {table, bad, hidden, (*y)[0], g.normal({B, T, D})}, {}, {}, 0, true});
    }
  }
  // rms_norm, residual_add and the fused pair, with their gradients.
  for (bool masked : {false, true}) {
    std::string label = masked ? "masks" : "no masks";
    Tensor x = g.s(g.normal({B, T, D})), u = g.s(g.normal({B, T, D})), w = g.s(g.normal({D}, 0.2, 1.0));
    Tensor hidden = masked ? g.mask({D}) : none, layer = masked ? Tensor::scalar(0.7f) : none;
    std::map<std::string, AttrValue> eps = {{"eps", num(1e-5)}};
    Case norm{"rms_norm", label, {x, w, hidden}, eps, {S}, tol};
    auto ny = forward(norm);
    if (!ny.ok())
      return ny.status();
    cases.push_back(norm);
    cases.push_back({"rms_norm.bwd", label, {x, w, hidden, (*ny)[0], g.normal({B, T, D})}, eps, {}, tolBwd});
    Case res{"residual_add", label, {x, u, layer, hidden}, {}, {S}, tol};
    auto ry = forward(res);
    if (!ry.ok())
      return ry.status();
    cases.push_back(res);
    cases.push_back({"residual_add.bwd", label, {x, u, layer, hidden, (*ry)[0], g.normal({B, T, D})}, {}, {}, tolBwd});
    Case fused{"residual_add_rms_norm", label, {x, u, w, layer, hidden}, eps, {S, S}, tol};
    auto fy = forward(fused);
    if (!fy.ok())
      return fy.status();
    cases.push_back(fused);
    cases.push_back({"residual_add_rms_norm.bwd", label,
                     {x, u, w, layer, hidden, (*fy)[0], (*fy)[1], g.normal({B, T, D}), g.normal({B, T, D})},
                     eps, {}, tolBwd});
  }
  // attention: MHA with a head dim the tiled kernels do not take (6), GQA
  // with one they do (8) and llama3 RoPE; masks absent and present; T = 13,
  // and sequences longer than a tile (100 and 70 tokens) at LLaMA's head
  // dims, which bf16 calls run on tensor cores (multiples of 16).
  struct Shape3 {
    const char *label;
    int64_t H, G, hd;
    bool llama3, masked;
    int64_t T;
  };
  for (Shape3 a : {Shape3{"MHA hd 6", 4, 4, 6, false, false, T}, Shape3{"GQA hd 8, llama3 RoPE", 4, 2, 8, true, false, T},
                   Shape3{"GQA hd 8, head and group masks", 4, 2, 8, false, true, T},
                   Shape3{"MHA hd 16, head mask", 2, 2, 16, false, true, T},
                   Shape3{"GQA hd 64, 100 tokens, head and group masks", 4, 2, 64, false, true, 100},
                   // More rows than a block's threads: the gates' per-head sums in several strides.
                   Shape3{"GQA hd 8, 300 tokens, head and group masks", 4, 2, 8, false, true, 300},
                   Shape3{"MHA hd 128, 70 tokens", 2, 2, 128, true, false, 70}}) {
    const int64_t T = a.T;
    int64_t qw = a.H * a.hd, kw = a.G * a.hd;
    std::map<std::string, AttrValue> attrs = {{"num_heads", integer(a.H)}, {"num_kv_heads", integer(a.G)},
                                              {"head_dim", integer(a.hd)}, {"rope_theta", num(10000.0)}};
    if (a.llama3) {
      attrs["rope_scaling.rope_type"] = text("llama3");
      attrs["rope_scaling.factor"] = num(8.0);
      attrs["rope_scaling.low_freq_factor"] = num(1.0);
      attrs["rope_scaling.high_freq_factor"] = num(4.0);
      attrs["rope_scaling.original_max_position_embeddings"] = num(8.0);
    }
    Tensor x = g.s(g.normal({B, T, D})), wq = g.s(g.normal({qw, D}, 0.3)), wk = g.s(g.normal({kw, D}, 0.3)),
           wv = g.s(g.normal({kw, D}, 0.3)), wo = g.s(g.normal({D, qw}, 0.3));
    Tensor head = a.masked ? g.mask({a.H}) : none, group = a.masked && a.G < a.H ? g.mask({a.G}) : none;
    std::vector<Tensor> ops = {x, wq, wk, wv, wo, head, group};
    cases.push_back({"attention", a.label, ops, attrs, {S}, tol});
    Case train{"attention.train", a.label, ops, attrs, {S, S, S, S, S, F}, tol};
    auto saved = forward(train);
    if (!saved.ok())
      return saved.status();
    cases.push_back(train);
    std::vector<Tensor> bwd = ops;
    bwd.insert(bwd.end(), saved->begin(), saved->end());
    bwd.push_back(g.normal({B, T, D}));
    Case back{"attention.bwd", a.label, bwd, attrs, {}, tolBwd};
    // The gate gradients are sums over every row and element of a head,
    // which cancel: a bf16 device's cotangent, rounded to bf16 as autocast
    // holds it, moves them furthest from the CPU's float32 one (4.3e-2 of
    // the largest, measured on the emulation at GQA hd 64, 100 tokens).
    if (bf16)
      back.resultTol = {{5, 6e-2}, {6, 6e-2}};
    cases.push_back(back);
    // Three new tokens at position 5 of a 16-position cache.
    std::vector<Tensor> dec = {g.s(g.normal({B, 3, D})), wq, wk, wv, wo, head, group,
                               g.normal({B, a.G, 16, a.hd}), g.normal({B, a.G, 16, a.hd}), Tensor::scalarI64(5)};
    cases.push_back({"attention.decode", a.label, dec, attrs, {S, F, F}, tol});
  }
  // mlp (SwiGLU) with and without the intermediate mask.
  for (bool masked : {false, true}) {
    std::string label = masked ? "intermediate mask" : "no mask";
    std::vector<Tensor> ops = {g.s(g.normal({B, T, D})), g.s(g.normal({M, D}, 0.3)), g.s(g.normal({M, D}, 0.3)),
                               g.s(g.normal({D, M}, 0.3)), masked ? g.mask({M}) : none};
    cases.push_back({"mlp", label, ops, {}, {S}, tol});
    Case train{"mlp.train", label, ops, {}, {S, S, S, S}, tol};
    auto saved = forward(train);
    if (!saved.ok())
      return saved.status();
    cases.push_back(train);
    std::vector<Tensor> bwd = ops;
    bwd.insert(bwd.end(), saved->begin(), saved->end());
    bwd.push_back(g.normal({B, T, D}));
    cases.push_back({"mlp.bwd", label, bwd, {}, {}, tolBwd});
  }
  // The head and the losses (some labels ignored).
  {
    Tensor x = g.s(g.normal({B, T, D})), w = g.s(g.normal({V, D}, 0.3)), labels = g.ids({B, T}, V, true);
    Case head{"lm_head", "", {x, w}, {}, {F}, tol};
    auto logits = forward(head);
    if (!logits.ok())
      return logits.status();
    cases.push_back(head);
    cases.push_back({"lm_head.bwd", "", {x, w, (*logits)[0], g.normal({B, T, V})}, {}, {}, tolBwd});
    std::map<std::string, AttrValue> ignore = {{"ignore_index", integer(-100)}};
    Tensor l = (*logits)[0];
    Case ce{"cross_entropy", "", {l, labels}, ignore, {F}, tol};
    auto loss = forward(ce);
    if (!loss.ok())
      return loss.status();
    cases.push_back(ce);
    cases.push_back({"cross_entropy.bwd", "", {l, labels, (*loss)[0], Tensor::scalar(1.5f)}, ignore, {}, tolBwd});
    for (int64_t chunk : {int64_t(0), int64_t(5)}) {
      std::map<std::string, AttrValue> attrs = ignore;
      if (chunk)
        attrs["chunk"] = integer(chunk);
      std::string label = chunk ? "chunks of 5 rows" : "";
      cases.push_back({"lm_head_cross_entropy", label, {x, w, labels}, attrs, {F}, tol});
      Case train{"lm_head_cross_entropy.train", label, {x, w, labels}, attrs, {F, F, F}, tol};
      auto saved = forward(train);
      if (!saved.ok())
        return saved.status();
      cases.push_back(train);
      cases.push_back({"lm_head_cross_entropy.bwd", label,
                       {x, w, labels, (*saved)[0], (*saved)[1], (*saved)[2], Tensor::scalar(0.5f)}, attrs, {}, tolBwd});
    }
    std::map<std::string, AttrValue> kd = {{"temperature", num(2.0)}, {"alpha", num(0.7)}, {"ignore_index", integer(-100)}};
    Tensor teacher = g.normal({B, T, V});
    Case distill{"distill", "", {l, teacher, labels}, kd, {F, F, F}, tol};
    auto terms = forward(distill);
    if (!terms.ok())
      return terms.status();
    cases.push_back(distill);
    cases.push_back({"distill.bwd", "", {l, teacher, labels, (*terms)[0], (*terms)[1], (*terms)[2], Tensor::scalar(1.0f)},
                     kd, {}, tolBwd});
    // Labels outside the vocabulary are refused, with the CPU's words.
    Tensor bad = withBadIds(labels, V);
    const std::string outside = "labels outside the vocabulary";
    cases.push_back({"cross_entropy", outside, {l, bad}, ignore, {F}, 0, true});
    cases.push_back({"cross_entropy.bwd", outside, {l, bad, (*loss)[0], Tensor::scalar(1.5f)}, ignore, {}, 0, true});
    cases.push_back({"lm_head_cross_entropy", outside, {x, w, bad}, ignore, {F}, 0, true});
    cases.push_back({"lm_head_cross_entropy.train", outside, {x, w, bad}, ignore, {F, F, F}, 0, true});
    cases.push_back({"distill", outside, {l, teacher, bad}, kd, {F, F, F}, 0, true});
    cases.push_back({"distill.bwd", outside, {l, teacher, bad, (*terms)[0], (*terms)[1], (*terms)[2], Tensor::scalar(1.0f)},
                     kd, {}, 0, true});
  }
  // Gates, masks and the Lagrangian (float32 in every program).
  {
    Tensor la = g.normal({3, 5}, 2.0, 1.0), step = Tensor::scalarI64(7);
    std::map<std::string, AttrValue> sample = {{"family", text("head")}, {"target_size", integer(2)},
                                               {"seed", integer(11)}, {"stream", integer(2)}};
    Case gs{"gate.sample", "", {la, step}, sample, {F}, 1e-6};
    auto z = forward(gs);
    if (!z.ok())
      return z.status();
    cases.push_back(gs);
    cases.push_back({"gate.sample.bwd", "", {la, step, (*z)[0], g.normal({3, 5})}, sample, {}, 1e-5});
    cases.push_back({"gate.eval", "target sizes", {la, none},
                     {{"family", text("head")}, {"target_size", integer(2)}, {"size", text("target")}}, {F}, 1e-6});
    Tensor m = g.mask({3, 5});
    std::map<std::string, AttrValue> index = {{"index", integer(1)}};
    cases.push_back({"mask_row", "", {m}, index, {F}, 0});
    cases.push_back({"mask_row.bwd", "", {m, g.normal({5}), g.normal({5})}, index, {}, 0});
    std::map<std::string, AttrValue> lag = {{"family", text("head")}, {"target_sparsity", num(0.5)},
                                            {"warmup_steps", integer(10)}};
    Tensor l1 = Tensor::scalar(0.4f), l2 = Tensor::scalar(1.3f);
    Case lagr{"lagrangian", "", {la, l1, l2, step}, lag, {F, F, F}, 1e-5};
    auto terms = forward(lagr);
    if (!terms.ok())
      return terms.status();
    cases.push_back(lagr);
    cases.push_back({"lagrangian.bwd", "", {la, l1, l2, step, (*terms)[0], (*terms)[1], (*terms)[2], Tensor::scalar(1.0f)},
                     lag, {}, 1e-5});
  }
  // The optimizer's kernels and the rest.
  {
    Tensor a = g.normal({7, 9}), b = g.normal({7, 9}), c = g.normal({11});
    cases.push_back({"add", "", {a, b}, {}, {F}, 1e-6});
    cases.push_back({"global_norm", "", {a, b, c}, {}, {F}, 1e-6}); // (variadic: no slot of its own)
    std::map<std::string, AttrValue> adam = {{"beta1", num(0.9)},  {"beta2", num(0.95)},       {"eps", num(1e-8)},
                                             {"weight_decay", num(0.1)}, {"max_norm", num(1.0)}, {"clamp", num(4.6)}};
    Tensor v = g.normal({7, 9});
    for (int64_t i = 0; i < v.numel(); ++i)
      v.f32()[i] = std::fabs(v.f32()[i]) * 1e-3f;
    Tensor m0 = g.normal({7, 9}, 0.01);
    cases.push_back({"adamw", "", {a, b, m0, v, Tensor::scalar(3.0f), Tensor::scalar(0.01f), Tensor::scalarI64(4), Tensor()},
                     adam, {}, 1e-6});
    // With the working copy it writes (bf16 in a bf16 program): the updated
    // parameter rounded once, as the next step's cast would round it.
    cases.push_back({"adamw", "working copy", {a, b, m0, v, Tensor::scalar(3.0f), Tensor::scalar(0.01f),
                                               Tensor::scalarI64(4), g.s(g.normal({7, 9}))},
                     adam, {}, 1e-6, false, {{3, 8e-3}}}); // a p' one float32 ulp apart may round to the next bf16
    // A step's updates together (one launch per 32 tensors on CUDA): 41
    // tensors of 1 to 20000 elements, with a working copy in the storage
    // type, a float32 one or none, their own lr and step, one whose norm
    // is not finite (left as it is).
    {
      Case group{"adamw", "41 tensors together", {}, adam, {}, 1e-6, false, {{3, 8e-3}}};
      for (int k = 0; k < 41; ++k) {
        int64_t n = k % 10 == 0 ? 20000 - 37 * k : k % 3 == 0 ? 1 : 7 * k + 5;
        Tensor vk = g.normal({n});
        for (int64_t i = 0; i < n; ++i)
          vk.f32()[i] = std::fabs(vk.f32()[i]) * 1e-3f;
        Tensor w = k % 4 == 1 ? Tensor() : k % 4 == 2 ? g.normal({n}) : g.s(g.normal({n}));
        std::vector<Tensor> call = {g.normal({n}), g.normal({n}), g.normal({n}, 0.01), vk,
                                    Tensor::scalar(k == 17 ? NAN : 3.0f + k), Tensor::scalar(0.01f / (1 + k % 5)),
                                    Tensor::scalarI64(k % 7), w};
        if (k == 0)
          group.in = std::move(call);
        else
          group.more.push_back(std::move(call));
      }
      cases.push_back(std::move(group));
    }
    {
      std::vector<Tensor> grads; // more than one launch's worth of tensors
      for (int k = 0; k < 200; ++k)
        grads.push_back(g.normal({k % 9 == 0 ? 3000 : 1 + k % 13}));
      cases.push_back({"global_norm", "200 tensors", grads, {}, {F}, 1e-6});
    }
    // A micro-batch's gradient added to the step's sum, and the first one,
    // whose sum must not read what acc held (here NaN).
    {
      Tensor acc = g.normal({1000, 3}), nan = g.normal({1000, 3});
      for (int64_t i = 0; i < nan.numel(); i += 7)
        nan.f32()[i] = NAN;
      cases.push_back({"accumulate", "added", {acc, g.normal({1000, 3}), Tensor::scalar(0.25f), Tensor::scalarI64(0)},
                       {}, {}, 0});
      cases.push_back({"accumulate", "first micro-batch", {nan, g.normal({1000, 3}), Tensor::scalar(1.0f / 3),
                                                           Tensor::scalarI64(1)}, {}, {}, 0});
    }
    cases.push_back({"scalar", "", {}, {{"value", num(2.5)}}, {F}, 0});
    cases.push_back({"zeros_like", "", {a}, {}, {F}, 0});
    cases.push_back({"unit_norms", "group 4", {g.s(g.normal({B, T, 32}))}, {{"group", integer(4)}}, {F}, 1e-5});
    cases.push_back({"cosine_sum", "", {g.s(g.normal({B, T, D})), g.s(g.normal({B, T, D}))}, {}, {F}, 1e-5});
    cases.push_back({"cast", bf16 ? "f32 to bf16" : "f32 to f32", {g.normal({7, 9})}, {}, {S}, 0});
    if (bf16)
      cases.push_back({"cast", "bf16 to f32", {g.s(g.normal({7, 9}))}, {}, {F}, 0});
  }
  return cases;
}

} // namespace

Result<int> shear::rt::checkDeviceKernels(Backend &device, Backend &cpu, const DeviceCheckOptions &options,
                                          const std::function<void(const std::string &)> &say) {
  int failures = 0, total = 0;
  std::vector<bool> covered(static_cast<size_t>(KernelId::NumKernels), false);
  for (DType storage : {DType::F32, DType::BF16}) {
    if ((storage == DType::F32 && !options.f32) || (storage == DType::BF16 && !options.bf16))
      continue;
    auto cases = casesFor(storage, cpu);
    if (!cases.ok())
      return cases.status().prefixed("the CPU reference failed: ");
    for (const Case &c : *cases) {
      std::string name = c.kernel + " (" + storageName(storage) + (c.label.empty() ? "" : ", " + c.label) + ")";
      if (name.find(options.only) == std::string::npos)
        continue;
      ++total;
      covered[static_cast<size_t>(findKernel(c.kernel)->id)] = true;
      auto want = run(cpu, c);
      auto got = run(device, c);
      if (c.mustFail) {
        // The device may find it after the call (at the copy of its
        // results), in the CPU's words, naming the kernel after them.
        bool same = !want.ok() && !got.ok() && got.status().message().rfind(want.status().message(), 0) == 0;
        failures += same ? 0 : 1;
        say(std::string(same ? "PASS " : "FAIL ") + name + ": " +
            (same ? "refused: " + got.status().message()
                  : want.ok() ? "the CPU accepted it"
                  : got.ok()  ? "the device accepted it (the CPU: " + want.status().message() + ")"
                              : "the device said '" + got.status().message() + "', the CPU '" +
                                    want.status().message() + "'"));
        continue;
      }
      if (!want.ok() || !got.ok()) {
        ++failures;
        say("FAIL " + name + ": " + (!got.ok() ? got.status().message() : want.status().message()));
        continue;
      }
      if (c.kernel == options.perturb)
        for (Tensor &t : *got)
          if (t.defined() && t.dtype() == DType::F32)
            for (int64_t i = 0; i < t.numel(); ++i)
              t.f32()[i] = t.f32()[i] * 1.01f + 1e-3f;
      std::string where;
      double tol = c.tol;
      double e = relativeError(*got, *want, c, where, &tol);
      bool ok = e <= tol;
      failures += ok ? 0 : 1;
      char buf[96];
      std::snprintf(buf, sizeof buf, ": %.1e %s %.0e", e, ok ? "<=" : ">", tol);
      say(std::string(ok ? "PASS " : "FAIL ") + name + buf + (ok ? "" : " (" + where + ")"));
    }
  }
  std::string missing;
  for (size_t k = 0; k < covered.size() && options.only.empty(); ++k)
    if (!covered[k] && static_cast<KernelId>(k) != KernelId::AllReduce)
      missing += " " + kernelDecl(static_cast<KernelId>(k)).name;
  say(std::to_string(total) + " cases, " + std::to_string(failures) + " failed" +
      (missing.empty() ? "" : "; not covered:" + missing) + " (all_reduce: the multi-rank tests)");
  return failures;
}
