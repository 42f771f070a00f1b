// bf16 storage on the CPU backend: cast rounds to nearest even, and any
// kernel given bf16 tensors computes in float32 on their values and rounds
// each bf16 result once (Precision.cpp).
#include "KernelRunner.h"

#include <cmath>
#include <random>

using namespace shear;
using namespace shear::rt;
using namespace shear::test;

namespace {
uint16_t bits(const Tensor &t, int64_t i) { return static_cast<const uint16_t *>(t.data())[i]; }

Tensor randomF32(std::vector<int64_t> shape, uint32_t seed) {
  Tensor t = Tensor::empty(std::move(shape));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  for (int64_t i = 0; i < t.numel(); ++i)
    t.f32()[i] = normal(rng);
  return t;
}

/// `t` rounded to bf16 (through the support library's conversion).
Tensor toBf16(const Tensor &t) {
  Tensor b = Tensor::empty(t.shape(), DType::BF16);
  for (int64_t i = 0; i < t.numel(); ++i)
    static_cast<uint16_t *>(b.data())[i] = f32ToBf16(t.f32()[i]);
  return b;
}

Tensor toF32(const Tensor &b) {
  Tensor t = Tensor::empty(b.shape());
  for (int64_t i = 0; i < b.numel(); ++i)
    t.f32()[i] = bf16ToF32(bits(b, i));
  return t;
}
} // namespace

// bf16 keeps 8 bits of mantissa: 1 + 2^-8 lies halfway between 1 and
// 1 + 2^-7 and rounds to the even one (1); 1 + 3·2^-8 lies halfway between
// 1 + 2^-7 and 1 + 2^-6 and rounds to 1 + 2^-6; 1 + 2^-8 + 2^-20 is past
// halfway and rounds up.
TEST(Precision, CastRoundsToNearestEven) {
  auto cpu = createCpuBackend(1);
  Tensor x = vec({1.0f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, -2.5f, 0.0f});
  auto y = runKernel(*cpu, "cast", {x}, {}, {DType::BF16});
  ASSERT_EQ(y[0].dtype(), DType::BF16);
  EXPECT_EQ(bits(y[0], 0), 0x3F80);
  EXPECT_EQ(bits(y[0], 1), 0x3F80);
  EXPECT_EQ(bits(y[0], 2), 0x3F82);
  EXPECT_EQ(bits(y[0], 3), 0x3F81);
  EXPECT_EQ(bits(y[0], 4), 0xC020);
  EXPECT_EQ(bits(y[0], 5), 0x0000);
  // And back: bf16 values are float32 values, exactly.
  auto back = runKernel(*cpu, "cast", {y[0]}, {});
  EXPECT_EQ(back[0].f32()[2], 1.0f + 0x1p-6f);
  EXPECT_EQ(back[0].f32()[4], -2.5f);
}

// rms_norm and mlp on bf16 operands with bf16 results: the float32 kernel on
// the operands' values, each result rounded once (bit for bit).
TEST(Precision, KernelsOnBf16ComputeInFloat32AndRoundOnce) {
  auto cpu = createCpuBackend(1);
  Tensor x16 = toBf16(randomF32({2, 3, 8}, 1)), w16 = toBf16(randomF32({8}, 2));
  std::map<std::string, AttrValue> eps = {{"eps", number(1e-5)}};
  auto want = runKernel(*cpu, "rms_norm", {toF32(x16), toF32(w16), Tensor()}, eps);
  auto got = runKernel(*cpu, "rms_norm", {x16, w16, Tensor()}, eps, {DType::BF16});
  ASSERT_EQ(got[0].dtype(), DType::BF16);
  for (int64_t i = 0; i < want[0].numel(); ++i)
    ASSERT_EQ(bits(got[0], i), f32ToBf16(want[0].f32()[i])) << i;
  // Mixed: bf16 activations and weights, a float32 mask, a float32 result.
  Tensor g16 = toBf16(randomF32({12, 8}, 3)), u16 = toBf16(randomF32({12, 8}, 4)),
         d16 = toBf16(randomF32({8, 12}, 5)), mask = randomF32({12}, 6);
  auto wantMlp = runKernel(*cpu, "mlp", {toF32(x16), toF32(g16), toF32(u16), toF32(d16), mask}, {});
  auto gotMlp = runKernel(*cpu, "mlp", {x16, g16, u16, d16, mask}, {});
  for (int64_t i = 0; i < wantMlp[0].numel(); ++i)
    ASSERT_EQ(gotMlp[0].f32()[i], wantMlp[0].f32()[i]) << i;
}

// A bf16 result that updates its operand in place starts from the operand's
// values: AdamW on a bf16 parameter moves it from where it was.
TEST(Precision, InPlaceResultsStartFromTheirOperand) {
  auto cpu = createCpuBackend(1);
  std::map<std::string, AttrValue> attrs = {{"beta1", number(0.9)}, {"beta2", number(0.95)},
                                            {"eps", number(1e-8)}, {"weight_decay", number(0)},
                                            {"max_norm", number(0)}};
  Tensor p = toBf16(vec({1.0f, -2.0f, 0.5f}));
  auto out = runKernel(*cpu, "adamw",
                       {p, vec({0.5f, -3.0f, 1.0f}), vec({0, 0, 0}), vec({0, 0, 0}),
                        Tensor::scalar(1.0f), Tensor::scalar(0.125f), Tensor::scalarI64(0)},
                       attrs, {DType::BF16});
  // The first AdamW step moves each parameter by lr · sign(g): 0.875, -1.875, 0.375.
  EXPECT_EQ(bits(out[0], 0), f32ToBf16(0.875f));
  EXPECT_EQ(bits(out[0], 1), f32ToBf16(-1.875f));
  EXPECT_EQ(bits(out[0], 2), f32ToBf16(0.375f));
}

// AdamW given a bf16 working copy writes it from the updated float32
// parameter, rounded once (what `cast` makes of it at the next step); a
// skipped step (non-finite norm) leaves the parameter as it was and writes
// the copy from it all the same: adamw overwrites w and never reads it (a
// host-staged call does not copy its old contents over), so the 7s the
// copy held before are gone either way.
TEST(Precision, AdamWWritesTheWorkingCopy) {
  auto cpu = createCpuBackend(1);
  std::map<std::string, AttrValue> attrs = {{"beta1", number(0.9)}, {"beta2", number(0.95)},
                                            {"eps", number(1e-8)}, {"weight_decay", number(0)},
                                            {"max_norm", number(0)}};
  // After the step: about 1 + 0.75·2^-7 (rounds up to 1 + 2^-7), -1.875
  // (exact in bf16) and 0.3 (not exact).
  Tensor p = vec({1.0f + 3 * 0x1p-9f + 0.125f, -2.0f, 0.425f});
  Tensor w = toBf16(vec({7.0f, 7.0f, 7.0f}));
  auto step = [&](float norm) {
    return runKernel(*cpu, "adamw",
                     {p, vec({0.5f, -3.0f, 1.0f}), vec({0, 0, 0}), vec({0, 0, 0}), Tensor::scalar(norm),
                      Tensor::scalar(0.125f), Tensor::scalarI64(0), w},
                     attrs);
  };
  auto out = step(1.0f);
  ASSERT_EQ(out.size(), 4u);
  ASSERT_EQ(out[3].dtype(), DType::BF16);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(bits(out[3], i), f32ToBf16(out[0].f32()[i])) << i;
    auto cast = runKernel(*cpu, "cast", {vec({out[0].f32()[i]})}, {}, {DType::BF16});
    EXPECT_EQ(bits(out[3], i), bits(cast[0], 0)) << i;
  }
  EXPECT_EQ(bits(out[3], 0), 0x3F81); // 1 + 2^-7: rounding happened
  EXPECT_NE(out[0].f32()[0], bf16ToF32(bits(out[3], 0)));
  EXPECT_EQ(bits(out[3], 1), f32ToBf16(-1.875f));
  auto skipped = step(std::nanf(""));
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(bits(skipped[3], i), f32ToBf16(p.f32()[i])) << i;
    EXPECT_EQ(skipped[0].f32()[i], p.f32()[i]) << i;
  }
}
