// CPU kernels checked against values computed by hand from the formulas.
#include "shear/Runtime/BatchLoader.h"
#include "shear/Runtime/Kernels.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace shear::rt;

namespace {
struct Runner {
  KernelRegistry registry;
  Runner() { registerCpuKernels(registry); }
  std::vector<Tensor> run(const std::string &name, std::vector<Tensor> args,
                          const KernelAttrs &attrs) {
    KernelCall call;
    call.name = &name;
    call.attrs = &attrs;
    for (Tensor &t : args)
      call.args.push_back(&t);
    (*registry.find(name))(call);
    return call.results;
  }
};

Tensor vec(std::vector<float> v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.f32());
  return t;
}
Tensor i64(int64_t v) {
  Tensor t = Tensor::empty({}, ElemType::I64);
  t.i64()[0] = v;
  return t;
}
} // namespace

// METHOD.md §3 for one row: log_alpha [0, 2], λ1 = 0.5, λ2 = 2, target 0.5
// warmed up to 0.25 at step 5 of 10. P(z≠0) = sigmoid(la + (2/3) ln 11):
// ŝ = 1 − (0.831820 + 0.973378)/2 = 0.097406, d = ŝ − t = −0.152594,
// term = λ1 d + λ2 d² = −0.029727; dλ1 = d, dλ2 = d²,
// dla_i = −(λ1 + 2 λ2 d)/n · P(1 − P) = 0.0077206, 0.0014307.
TEST(Kernels, LagrangianAndItsGradients) {
  Runner r;
  KernelAttrs attrs;
  attrs.numbers = {{"target_sparsity", 0.5}, {"warmup_steps", 10}};
  auto out = r.run("lagrangian", {vec({0, 2}), Tensor::scalar(0.5f), Tensor::scalar(2.0f), i64(5)},
                   attrs);
  EXPECT_NEAR(out[0].f32()[0], -0.0297271, 1e-6);
  EXPECT_NEAR(out[1].f32()[0], 0.0974056, 1e-6);
  EXPECT_NEAR(out[2].f32()[0], 0.25, 1e-7);
  auto grads = r.run("lagrangian.bwd",
                     {vec({0, 2}), Tensor::scalar(0.5f), Tensor::scalar(2.0f), i64(5), out[0],
                      out[1], out[2], Tensor::scalar(1.0f)},
                     attrs);
  EXPECT_NEAR(grads[0].f32()[0], 0.00772059, 1e-7);
  EXPECT_NEAR(grads[0].f32()[1], 0.00143072, 1e-7);
  EXPECT_NEAR(grads[1].f32()[0], -0.152594, 1e-6);
  EXPECT_NEAR(grads[2].f32()[0], 0.0232851, 1e-6);
}

// Bias-corrected AdamW at step 1 moves every parameter by lr·sign(g) (for
// |g| ≫ eps); clipping scales g but not that first step; the gate clamp
// projects.
TEST(Kernels, AdamWFirstStepAndProjection) {
  Runner r;
  KernelAttrs attrs;
  attrs.numbers = {{"beta1", 0.9}, {"beta2", 0.95}, {"eps", 1e-8}, {"max_norm", 1.0},
                   {"clamp", std::log(100.0)}};
  auto out = r.run("adamw",
                   {vec({1.0f, -2.0f, 4.6f}), vec({0.5f, -3.0f, -1.0f}), vec({0, 0, 0}),
                    vec({0, 0, 0}), Tensor::scalar(10.0f), Tensor::scalar(0.1f), i64(0)},
                   attrs);
  EXPECT_NEAR(out[0].f32()[0], 0.9f, 1e-6);
  EXPECT_NEAR(out[0].f32()[1], -1.9f, 1e-6);
  EXPECT_NEAR(out[0].f32()[2], std::log(100.0), 1e-6); // 4.7 projected to ln 100
  // m = (1-β1)·g·clip with clip = 1/(10 + 1e-6)
  EXPECT_NEAR(out[1].f32()[0], 0.1 * 0.5 / (10 + 1e-6), 1e-9);
  EXPECT_NEAR(out[2].f32()[1], 0.05 * 0.09 / ((10 + 1e-6) * (10 + 1e-6)) * 100, 1e-9);
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
