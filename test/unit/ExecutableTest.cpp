// The executor's memory plan on small programs whose plans are computed by
// hand: arena reuse between values whose lifetimes do not overlap, in-place
// results (into the arena, into the ParamStore), and copies where in-place
// would be wrong.
#include "shear/Runtime/Executable.h"
#include "shear/Support/Files.h"
#include "shear/Support/Safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <unistd.h>

using namespace shear;
using namespace shear::rt;

namespace {
ProgramInstr kernel(KernelId id, std::vector<int> operands, std::vector<int> results) {
  ProgramInstr in;
  in.kernel = id;
  in.operands = std::move(operands);
  in.results = std::move(results);
  return in;
}

ProgramInstr weight(int index, int result) {
  ProgramInstr in;
  in.kind = ProgramInstr::Kind::Weight;
  in.weight = index;
  in.results = {result};
  return in;
}

AttrValue number(double v) {
  AttrValue a;
  a.type = AttrType::Float;
  a.f = v;
  return a;
}

Tensor vec(std::vector<float> v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.f32());
  return t;
}
} // namespace

// a = x + x; b = a + a; c = b + b; d = c + c; return d. The values live
// [0, 1], [1, 2], [2, 3] (d is a result): a and c do not overlap and share
// one 64-byte slot, b takes another: a 128-byte arena, not 192.
TEST(Executable, ArenaReusesMemoryOfDeadValues) {
  ProgramFile p;
  p.mode = "eval";
  ProgramFunction f;
  f.name = "chain";
  f.values.assign(5, ValueType{DType::F32, {4}});
  f.args = {0};
  f.body = {kernel(KernelId::Add, {0, 0}, {1}), kernel(KernelId::Add, {1, 1}, {2}),
            kernel(KernelId::Add, {2, 2}, {3}), kernel(KernelId::Add, {3, 3}, {4})};
  f.returns = {4};
  p.functions.push_back(f);
  ASSERT_TRUE(verifyProgram(p).ok());
  auto cpu = createCpuBackend(1);
  auto e = Executable::load(p, "chain", *cpu);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto plan = (*e)->plan({{4}});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ((*plan)->arenaBytes, 128u);
  EXPECT_EQ((*plan)->values[1].offset, (*plan)->values[3].offset);
  EXPECT_NE((*plan)->values[1].offset, (*plan)->values[2].offset);
  EXPECT_EQ((*plan)->values[4].storage, MemoryPlan::Storage::Output);
  ParamStore store(*cpu);
  auto out = (*e)->run({vec({1, 2, 3, -4})}, store);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].f32()[3], -64.0f); // 16x
}

// residual_add.bwd's dx is dy itself: when nothing reads dy afterwards, dx
// shares dy's memory; e = dx + du = dy + dy.
TEST(Executable, InPlaceResultSharesItsOperandsArenaSlot) {
  ProgramFile p;
  p.mode = "eval";
  ProgramFunction f;
  f.name = "bwd";
  // 0 x, 1 u, 2 y, 3 dy0 | 4 dy | 5 dx, 6 du | 7 e
  f.values.assign(8, ValueType{DType::F32, {1, 2, 4}});
  f.args = {0, 1, 2, 3};
  f.body = {kernel(KernelId::Add, {3, 3}, {4}),
            kernel(KernelId::ResidualAddBwd, {0, 1, -1, -1, 2, 4}, {5, 6, -1, -1}),
            kernel(KernelId::Add, {5, 6}, {7})};
  f.returns = {7};
  p.functions.push_back(f);
  ASSERT_TRUE(verifyProgram(p).ok()) << verifyProgram(p).message();
  auto cpu = createCpuBackend(1);
  auto e = Executable::load(p, "bwd", *cpu);
  ASSERT_TRUE(e.ok());
  Tensor x = Tensor::zeros({1, 2, 4}), dy0 = Tensor::empty({1, 2, 4});
  for (int i = 0; i < 8; ++i)
    dy0.f32()[i] = static_cast<float>(i);
  auto plan = (*e)->plan({x.shape(), x.shape(), x.shape(), x.shape()});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)->values[5].sharesWith, 4);
  EXPECT_EQ((*plan)->values[5].offset, (*plan)->values[4].offset);
  EXPECT_EQ((*plan)->inPlaceUpdates, 1);
  ParamStore store(*cpu);
  auto out = (*e)->run({x, x, x, dy0}, store);
  ASSERT_TRUE(out.ok()) << out.status().message();
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ((*out)[0].f32()[i], 4.0f * i);
}

// AdamW updates a ParamStore weight and its moments in place when the step
// returns them as the weight's updates and nothing reads the weight later;
// when something does, the update goes to a copy and the weight is intact.
TEST(Executable, AdamWUpdatesTheStoreInPlaceOnlyWhenItMay) {
  std::string dir = ::testing::TempDir() + "shear-exec-" + std::to_string(getpid());
  ASSERT_TRUE(createDirectories(dir).ok());
  ASSERT_TRUE(writeF32Tensors(joinPath(dir, "p.safetensors"),
                              {{TensorSpec{"p", DType::F32, {3}}, {1.0f, -2.0f, 0.5f}}})
                  .ok());
  for (bool readAfter : {false, true}) {
    ProgramFile prog;
    prog.mode = "train";
    prog.baseDir = dir;
    prog.weights = {{"p", "p.safetensors", DType::F32, {3}, false, ""},
                    {"adam.m:p", "", DType::F32, {3}, true, ""},
                    {"adam.v:p", "", DType::F32, {3}, true, ""}};
    ProgramFunction f;
    f.name = "step";
    // 0 g, 1 norm, 2 lr, 3 step | 4 p, 5 m, 6 v | 7 p', 8 m', 9 v' | 10 p + p
    f.values = {{DType::F32, {3}}, {DType::F32, {}}, {DType::F32, {}}, {DType::I64, {}},
                {DType::F32, {3}}, {DType::F32, {3}}, {DType::F32, {3}}, {DType::F32, {3}},
                {DType::F32, {3}}, {DType::F32, {3}}, {DType::F32, {3}}};
    f.args = {0, 1, 2, 3};
    ProgramInstr adam = kernel(KernelId::AdamW, {4, 0, 5, 6, 1, 2, 3, -1}, {7, 8, 9, -1});
    for (auto [k, v] : {std::pair{"beta1", 0.9}, std::pair{"beta2", 0.95}, std::pair{"eps", 1e-8},
                        std::pair{"weight_decay", 0.0}, std::pair{"max_norm", 0.0}})
      adam.attrs[k] = number(v);
    f.body = {weight(0, 4), weight(1, 5), weight(2, 6), adam};
    f.returns = {7, 8, 9};
    f.updates = {"p", "adam.m:p", "adam.v:p"};
    if (readAfter) {
      f.body.push_back(kernel(KernelId::Add, {4, 4}, {10}));
      f.returns.push_back(10);
    } else {
      f.values.pop_back();
    }
    prog.functions.push_back(f);
    ASSERT_TRUE(verifyProgram(prog).ok()) << verifyProgram(prog).message();
    auto cpu = createCpuBackend(1);
    auto e = Executable::load(prog, "step", *cpu);
    ASSERT_TRUE(e.ok());
    ParamStore store(*cpu);
    std::vector<Tensor> inputs = {vec({0.5f, -3.0f, 0.0f}), Tensor::scalar(1.0f),
                                  Tensor::scalar(0.1f), Tensor::scalarI64(0)};
    auto out = (*e)->run(inputs, store);
    ASSERT_TRUE(out.ok()) << out.status().message();
    const MemoryPlan *plan = *(*e)->plan({{3}, {}, {}, {}});
    // The first step moves each parameter by lr · sign(g) (0 for g = 0).
    EXPECT_NEAR((*out)[0].f32()[0], 0.9f, 1e-6);
    EXPECT_NEAR((*out)[0].f32()[1], -1.9f, 1e-6);
    EXPECT_NEAR((*out)[0].f32()[2], 0.5f, 1e-6);
    const Tensor *held = store.find("p");
    ASSERT_NE(held, nullptr);
    if (!readAfter) {
      EXPECT_EQ(plan->inPlaceUpdates, 3);
      EXPECT_EQ(plan->values[7].storage, MemoryPlan::Storage::Weight);
      EXPECT_TRUE((*out)[0].sameStorage(*held)); // the store's tensor itself
      EXPECT_TRUE((*out)[1].sameStorage(*store.find("adam.m:p")));
    } else {
      EXPECT_EQ(plan->values[7].copyFrom, 4); // p is read after the update: a copy
      EXPECT_FALSE((*out)[0].sameStorage(*held));
      EXPECT_EQ(held->f32()[0], 1.0f);       // the weight the later add read
      EXPECT_EQ((*out)[3].f32()[1], -4.0f);  // p + p of the old p
    }
  }
  ASSERT_TRUE(removeAll(dir).ok());
}

// An input of the wrong shape is an error naming the function and the input.
TEST(Executable, InputsAreCheckedAgainstTheDeclaredTypes) {
  ProgramFile p;
  p.mode = "eval";
  ProgramFunction f;
  f.name = "f";
  f.values = {{DType::F32, {-1, 4}}, {DType::F32, {-1, 4}}};
  f.args = {0};
  f.body = {kernel(KernelId::Add, {0, 0}, {1})};
  f.returns = {1};
  p.functions.push_back(f);
  auto cpu = createCpuBackend(1);
  auto e = Executable::load(p, "f", *cpu);
  ASSERT_TRUE(e.ok());
  ParamStore store(*cpu);
  auto out = (*e)->run({Tensor::zeros({2, 5})}, store);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "input 0 of f must be f32[?,4], got shape [2, 5]");
  auto ints = (*e)->run({Tensor::zeros({2, 4}, DType::I64)}, store);
  ASSERT_FALSE(ints.ok());
  EXPECT_EQ(ints.status().message(), "input 0 of f must be f32[?,4], got I64");
}

namespace {
// The CPU kernels, with AdamW's calls run together: each group's size is
// recorded and its calls run last to first (a program's order must not matter).
std::vector<size_t> gGroupSizes;

Status adamwBackwards(ExecContext &context, const KernelParams &params, const std::vector<KernelIO *> &calls);

class GroupingBackend : public Backend {
public:
  GroupingBackend() : cpu_(createCpuBackend(1)) {
    for (size_t k = 0; k < static_cast<size_t>(KernelId::NumKernels); ++k)
      if (const KernelImpl *impl = cpu_->kernel(static_cast<KernelId>(k)))
        add(static_cast<KernelId>(k), *impl);
    adamw_ = cpu_->kernel(KernelId::AdamW)->run;
    add(KernelId::AdamW, {adamw_, nullptr, adamwBackwards});
  }
  std::string describe() const override { return "grouping test backend"; }
  Device device() const override { return cpu_->device(); }
  Allocator &allocator() override { return cpu_->allocator(); }
  ExecContext &context() override { return cpu_->context(); }
  DType preferredDType() const override { return DType::F32; }
  Status copy(const Tensor &dst, const Tensor &src) override { return cpu_->copy(dst, src); }
  Status zero(const Tensor &t) override { return cpu_->zero(t); }
  Result<Tensor> toHost(const Tensor &t) override { return cpu_->toHost(t); }
  double peakFlops(DType) override { return 1; }
  static KernelFn adamw_;

private:
  std::unique_ptr<Backend> cpu_;
};
KernelFn GroupingBackend::adamw_ = nullptr;

Status adamwBackwards(ExecContext &context, const KernelParams &params, const std::vector<KernelIO *> &calls) {
  gGroupSizes.push_back(calls.size());
  for (size_t k = calls.size(); k-- > 0;)
    SHEAR_RETURN_IF_ERROR(GroupingBackend::adamw_(context, params, *calls[k]));
  return Status();
}
} // namespace

// Four AdamW updates: the first two run together; the third has another
// weight decay and runs alone; the fourth reads the third's result (as its
// gradient) and runs alone. With the second left out (a sharded optimizer)
// nothing is grouped. The results are the CPU backend's, bit for bit.
TEST(Executable, ConsecutiveCallsRunTogetherWhereTheBackendCan) {
  std::string dir = ::testing::TempDir() + "shear-group-" + std::to_string(getpid());
  ASSERT_TRUE(createDirectories(dir).ok());
  ProgramFile prog;
  prog.mode = "train";
  prog.baseDir = dir;
  ProgramFunction f;
  f.name = "step";
  // 0-2 g0..g2, 3 norm, 4 lr, 5 step; then per parameter k: p, m, v, p', m', v'.
  f.values = {{DType::F32, {5}}, {DType::F32, {5}}, {DType::F32, {5}},
              {DType::F32, {}},  {DType::F32, {}},  {DType::I64, {}}};
  f.args = {0, 1, 2, 3, 4, 5};
  std::vector<std::pair<TensorSpec, std::vector<float>>> initial;
  for (int k = 0; k < 4; ++k) {
    std::string p = "p" + std::to_string(k);
    initial.push_back({TensorSpec{p, DType::F32, {5}}, {1.0f + k, -2.0f, 0.5f, 3.0f - k, 0.25f * k}});
    prog.weights.push_back({p, "p.safetensors", DType::F32, {5}, false, ""});
    prog.weights.push_back({"adam.m:" + p, "", DType::F32, {5}, true, ""});
    prog.weights.push_back({"adam.v:" + p, "", DType::F32, {5}, true, ""});
    int base = static_cast<int>(f.values.size());
    for (int i = 0; i < 6; ++i)
      f.values.push_back({DType::F32, {5}});
    for (int i = 0; i < 3; ++i)
      f.body.push_back(weight(3 * k + i, base + i));
    int grad = k < 3 ? k : base - 6 + 3; // the fourth: the third's p'
    ProgramInstr adam = kernel(KernelId::AdamW, {base, grad, base + 1, base + 2, 3, 4, 5, -1},
                               {base + 3, base + 4, base + 5, -1});
    for (auto [name, v] : {std::pair{"beta1", 0.9}, std::pair{"beta2", 0.95}, std::pair{"eps", 1e-8},
                           std::pair{"weight_decay", k < 2 ? 0.0 : 0.1}, std::pair{"max_norm", 1.0}})
      adam.attrs[name] = number(v);
    f.body.push_back(adam);
    for (int i = 3; i < 6; ++i)
      f.returns.push_back(base + i);
    for (const char *u : {"", "adam.m:", "adam.v:"})
      f.updates.push_back(u + p);
  }
  prog.functions.push_back(f);
  ASSERT_TRUE(verifyProgram(prog).ok()) << verifyProgram(prog).message();
  ASSERT_TRUE(writeF32Tensors(joinPath(dir, "p.safetensors"), initial).ok());
  std::vector<Tensor> inputs = {vec({0.5f, -3.0f, 0.0f, 1.0f, 2.0f}), vec({1.0f, 1.0f, -1.0f, 0.5f, 0.0f}),
                                vec({-0.25f, 2.0f, 4.0f, -1.0f, 0.125f}), Tensor::scalar(2.0f),
                                Tensor::scalar(0.1f), Tensor::scalarI64(3)};
  auto runOn = [&](Backend &b, const std::vector<bool> &skipped) {
    auto e = Executable::load(prog, "step", b);
    EXPECT_TRUE(e.ok());
    if (!skipped.empty())
      EXPECT_TRUE((*e)->skip(skipped).ok());
    ParamStore store(b);
    auto out = (*e)->run(inputs, store);
    EXPECT_TRUE(out.ok()) << out.status().message();
    std::vector<std::vector<float>> values;
    for (const Tensor &t : *out)
      values.push_back(t.defined() ? std::vector<float>(t.f32(), t.f32() + t.numel()) : std::vector<float>());
    return values;
  };
  auto cpu = createCpuBackend(1);
  GroupingBackend grouping;
  gGroupSizes.clear();
  auto want = runOn(*cpu, {});
  auto got = runOn(grouping, {});
  EXPECT_EQ(gGroupSizes, (std::vector<size_t>{2}));
  EXPECT_EQ(got, want);
  EXPECT_NE(want[0], want[3]); // the parameters did move, differently

  std::vector<bool> skipped(f.body.size(), false);
  skipped[7] = true; // the second update
  gGroupSizes.clear();
  auto sharded = runOn(grouping, skipped);
  EXPECT_TRUE(gGroupSizes.empty());
  EXPECT_EQ(sharded[0], want[0]);
  EXPECT_TRUE(sharded[3].empty());
  EXPECT_EQ(sharded[6], want[6]);
  ASSERT_TRUE(removeAll(dir).ok());
}

namespace {
// Hands out the CPU's buffers, counting the requests.
class CountingAllocator : public Allocator {
public:
  explicit CountingAllocator(Allocator &base) : base_(base) {}
  Device device() const override { return base_.device(); }
  Result<std::shared_ptr<Buffer>> allocate(size_t bytes) override {
    requests.push_back(bytes);
    return base_.allocate(bytes);
  }
  std::vector<size_t> requests;

private:
  Allocator &base_;
};

// x -> x·2^n by n additions of a value to itself: n - 1 intermediates of
// [64] floats, 256 bytes each, in an arena of 512 bytes (n >= 3) or 256 (n = 2).
ProgramFunction doublings(const std::string &name, int n) {
  ProgramFunction f;
  f.name = name;
  f.values.assign(n + 1, ValueType{DType::F32, {64}});
  f.args = {0};
  for (int i = 0; i < n; ++i)
    f.body.push_back(kernel(KernelId::Add, {i, i}, {i + 1}));
  f.returns = {n};
  return f;
}
} // namespace

// Functions run one after another share one arena (SharedScratch): one
// buffer of the largest plan's size, allocated once when reserved, every run
// computing what it computes with an arena of its own, in any order.
TEST(Executable, FunctionsRunOneAtATimeShareOneArena) {
  ProgramFile p;
  p.mode = "eval";
  p.functions = {doublings("big", 4), doublings("small", 2)};
  ASSERT_TRUE(verifyProgram(p).ok()) << verifyProgram(p).message();
  auto cpu = createCpuBackend(1);
  CountingAllocator counting(cpu->allocator());
  auto scratch = std::make_shared<SharedScratch>(counting);
  auto load = [&](const char *name, bool shared) {
    auto e = Executable::load(p, name, *cpu);
    EXPECT_TRUE(e.ok()) << e.status().message();
    if (shared)
      (*e)->shareScratch(scratch);
    return e.take();
  };
  auto big = load("big", true), small = load("small", true);
  auto bigAlone = load("big", false), smallAlone = load("small", false);
  auto bigPlan = big->plan({{64}}), smallPlan = small->plan({{64}});
  ASSERT_TRUE(bigPlan.ok() && smallPlan.ok());
  EXPECT_EQ((*bigPlan)->arenaBytes, 512u);
  EXPECT_EQ((*smallPlan)->arenaBytes, 256u);
  EXPECT_EQ(Executable::scratchBytes(**bigPlan), 512u); // add needs no workspace
  ASSERT_TRUE(scratch->reserve(512).ok());
  ASSERT_EQ(counting.requests, std::vector<size_t>{512});

  ParamStore store(*cpu);
  for (int round = 0; round < 3; ++round)
    for (auto [shared, alone] : {std::pair{small.get(), smallAlone.get()}, std::pair{big.get(), bigAlone.get()}}) {
      Tensor x = Tensor::empty({64});
      for (int i = 0; i < 64; ++i)
        x.f32()[i] = 0.25f * i - 3.0f * round;
      auto got = shared->run({x}, store), want = alone->run({x}, store);
      ASSERT_TRUE(got.ok() && want.ok());
      for (int i = 0; i < 64; ++i)
        ASSERT_EQ((*got)[0].f32()[i], (*want)[0].f32()[i]) << shared->function().name << " round " << round;
      // and by hand: 2^4 or 2^2 times x
      EXPECT_EQ((*got)[0].f32()[5], x.f32()[5] * (shared == big.get() ? 16.0f : 4.0f));
    }
  EXPECT_EQ(counting.requests.size(), 1u) << "the runs allocated arenas of their own";

  // Not reserved: the smaller plan first takes its own size, the larger then
  // replaces it, and the smaller fits in that from then on.
  CountingAllocator growing(cpu->allocator());
  auto grown = std::make_shared<SharedScratch>(growing);
  small->shareScratch(grown);
  big->shareScratch(grown);
  Tensor x = Tensor::zeros({64});
  for (Executable *e : {small.get(), big.get(), small.get(), big.get()})
    ASSERT_TRUE(e->run({x}, store).ok());
  EXPECT_EQ(growing.requests, (std::vector<size_t>{256, 512}));
  EXPECT_EQ(grown->capacity(), 512u);
}
