// CPU kernels checked against values computed by hand from the formulas, and
// the kernel table's contract with every backend.
#include "KernelRunner.h"

#include "shear/Runtime/BatchLoader.h"

#include <cmath>

using namespace shear;
using namespace shear::rt;
using namespace shear::test;

// Every kernel the lowering can emit (the whole table) has a CPU implementation.
TEST(KernelTable, EveryEntryHasACpuKernel) {
  auto cpu = createCpuBackend(1);
  EXPECT_EQ(cpu->missingKernels(), std::vector<std::string>());
  EXPECT_EQ(kernelTable().size(), static_cast<size_t>(KernelId::NumKernels));
}

// The declarations the passes rely on: masks as optional slots, backward
// kernels' optional cotangents, in-place results.
TEST(KernelTable, Declarations) {
  const KernelDecl *a = findKernel("attention.bwd");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->operands[5].name, "head");
  EXPECT_EQ(a->operands[5].arity, OperandDecl::Optional);
  EXPECT_EQ(a->results[5].presentWith, 5);
  const KernelDecl *adam = findKernel("adamw");
  EXPECT_EQ(adam->results[0].updates, 0);
  EXPECT_EQ(adam->results[1].updates, 2);
  // The working copy: optional, and written in place when given.
  EXPECT_EQ(adam->operands[7].name, "w");
  EXPECT_EQ(adam->operands[7].arity, OperandDecl::Optional);
  EXPECT_EQ(adam->results[3].presentWith, 7);
  EXPECT_EQ(adam->results[3].updates, 7);
  EXPECT_EQ(findKernel("cast")->results[0].updates, -1);
  EXPECT_EQ(findKernel("no.such.kernel"), nullptr);
  // A call naming its masks out of order, or one the kernel does not have.
  EXPECT_FALSE(mapCall(*findKernel("residual_add"), 4, {"hidden", "layer"}, 1).ok());
  EXPECT_FALSE(mapCall(*findKernel("residual_add"), 3, {"head"}, 1).ok());
  auto m = mapCall(*findKernel("residual_add"), 3, {"hidden"}, 1);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->operands, (std::vector<int>{0, 1, -1, 2}));
}

// METHOD.md §3 for one row: log_alpha [0, 2], λ1 = 0.5, λ2 = 2, target 0.5
// warmed up to 0.25 at step 5 of 10. P(z≠0) = sigmoid(la + (2/3) ln 11):
// ŝ = 1 − (0.831820 + 0.973378)/2 = 0.097406, d = ŝ − t = −0.152594,
// term = λ1 d + λ2 d² = −0.029727; dλ1 = d, dλ2 = d²,
// dla_i = −(λ1 + 2 λ2 d)/n · P(1 − P) = 0.0077206, 0.0014307.
TEST(Kernels, LagrangianAndItsGradients) {
  auto cpu = createCpuBackend(1);
  std::map<std::string, AttrValue> attrs = {{"target_sparsity", number(0.5)},
                                            {"warmup_steps", integer(10)}};
  auto out = runKernel(*cpu, "lagrangian",
                       {vec({0, 2}), Tensor::scalar(0.5f), Tensor::scalar(2.0f), Tensor::scalarI64(5)},
                       attrs);
  EXPECT_NEAR(out[0].f32()[0], -0.0297271, 1e-6);
  EXPECT_NEAR(out[1].f32()[0], 0.0974056, 1e-6);
  EXPECT_NEAR(out[2].f32()[0], 0.25, 1e-7);
  auto grads = runKernel(*cpu, "lagrangian.bwd",
                         {vec({0, 2}), Tensor::scalar(0.5f), Tensor::scalar(2.0f), Tensor::scalarI64(5),
                          out[0], out[1], out[2], Tensor::scalar(1.0f)},
                         attrs);
  EXPECT_NEAR(grads[0].f32()[0], 0.00772059, 1e-7);
  EXPECT_NEAR(grads[0].f32()[1], 0.00143072, 1e-7);
  EXPECT_NEAR(grads[1].f32()[0], -0.152594, 1e-6);
  EXPECT_NEAR(grads[2].f32()[0], 0.0232851, 1e-6);
}

// Bias-corrected AdamW at step 1 moves every parameter by lr·sign(g) (for
// |g| ≫ eps); clipping scales g but not that first step; the gate clamp
// projects. The results update p, m and v in place.
TEST(Kernels, AdamWFirstStepAndProjection) {
  auto cpu = createCpuBackend(1);
  std::map<std::string, AttrValue> attrs = {{"beta1", number(0.9)}, {"beta2", number(0.95)},
                                            {"eps", number(1e-8)}, {"weight_decay", number(0)},
                                            {"max_norm", number(1.0)},
                                            {"clamp", number(std::log(100.0))}};
  auto out = runKernel(*cpu, "adamw",
                       {vec({1.0f, -2.0f, 4.6f}), vec({0.5f, -3.0f, -1.0f}), vec({0, 0, 0}),
                        vec({0, 0, 0}), Tensor::scalar(10.0f), Tensor::scalar(0.1f),
                        Tensor::scalarI64(0)},
                       attrs);
  EXPECT_NEAR(out[0].f32()[0], 0.9f, 1e-6);
  EXPECT_NEAR(out[0].f32()[1], -1.9f, 1e-6);
  EXPECT_NEAR(out[0].f32()[2], std::log(100.0), 1e-6); // 4.7 projected to ln 100
  // m = (1-β1)·g·clip with clip = 1/(10 + 1e-6)
  EXPECT_NEAR(out[1].f32()[0], 0.1 * 0.5 / (10 + 1e-6), 1e-9);
  EXPECT_NEAR(out[2].f32()[1], 0.05 * 0.09 / ((10 + 1e-6) * (10 + 1e-6)) * 100, 1e-9);
}

// A token id outside the vocabulary is bad input reported as a status, not an abort.
TEST(Kernels, EmbedRefusesTokensOutsideTheVocabulary) {
  auto cpu = createCpuBackend(1);
  Tensor table = Tensor::zeros({4, 2}), ids = Tensor::empty({1, 2}, DType::I64);
  ids.i64()[0] = 1;
  ids.i64()[1] = 4;
  auto params = decodeParams(KernelId::Embed, {});
  Tensor y = Tensor::empty({1, 2, 2});
  KernelIO io;
  io.in = {&table, &ids, nullptr};
  io.out = {&y};
  Status s = cpu->kernel(KernelId::Embed)->run(cpu->context(), *params, io);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::InvalidInput);
  EXPECT_NE(s.message().find("token id 4 at position 1 is outside the vocabulary [0, 4)"),
            std::string::npos)
      << s.message();
}

// METHOD.md §4 on hand-picked values.
TEST(DynamicBatchLoading, PaperAndCodeUpdates) {
  std::vector<double> w = {0.5, 0.3, 0.2}, loss = {2.0, 3.0, 1.0}, ref = {2.5, 2.0, 1.0};
  // paper: Δ = (0, 1, 0): w ∝ (0.5, 0.3e, 0.2)
  auto p = updateDomainWeights(DblMode::Paper, w, loss, ref);
  double z = 0.5 + 0.3 * std::exp(1.0) + 0.2;
  EXPECT_NEAR(p[0], 0.5 / z, 1e-12);
  EXPECT_NEAR(p[1], 0.3 * std::exp(1.0) / z, 1e-12);
  // code: Δ = (−0.5, 1, 0), then smoothing with c = 1e-4
  auto c = updateDomainWeights(DblMode::Code, w, loss, ref);
  double a0 = 0.5 * std::exp(-0.5), a1 = 0.3 * std::exp(1.0), a2 = 0.2;
  double s = a0 + a1 + a2;
  EXPECT_NEAR(c[0], (1 - 1e-4) * a0 / s + 1e-4 / 3, 1e-12);
  EXPECT_NEAR(c[2], (1 - 1e-4) * a2 / s + 1e-4 / 3, 1e-12);
  EXPECT_EQ(updateDomainWeights(DblMode::Off, w, loss, ref), w);
}
