// Hard-concrete gate math against values computed by hand from METHOD.md §2.
#include "shear/Support/GateMath.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace shear::gate;

TEST(GateMath, ProbabilityNonZero) {
  // sigmoid(0 − (2/3)·ln(0.1/1.1)) = sigmoid(1.59861) = 0.83182
  EXPECT_NEAR(probNonZero(0.0), 0.83182, 5e-6);
  EXPECT_NEAR(probNonZero(-1.59861), 0.5, 1e-5);
  // clamped at ln 100: sigmoid(4.60517 + 1.59861)
  EXPECT_NEAR(probNonZero(50.0), 1.0 / (1.0 + std::exp(-(std::log(100.0) + 2.0 / 3.0 * std::log(11.0)))), 1e-12);
}

TEST(GateMath, SoftValue) {
  EXPECT_NEAR(softValue(2.0), 0.91683, 5e-6); // sigmoid(2.4)
  EXPECT_NEAR(softValue(0.0), 0.5, 1e-12);
  // clamped: sigmoid(1.2·ln 100) = 1/(1+100^-1.2) = 0.996034
  EXPECT_NEAR(softValue(1e9), 0.996034, 5e-6);
  EXPECT_NEAR(softValue(-1e9), 1.0 - 0.996034, 5e-6);
}

TEST(GateMath, SampleStretchesAndClamps) {
  // u = 0.5: s = sigmoid(la/β); la = 0 → s = 0.5 → z = 0.5·1.2 − 0.1 = 0.5
  EXPECT_NEAR(sample(0.0, 0.5), 0.5, 1e-12);
  // la = 1: s = sigmoid(1.5) = 0.817574 → z = 0.881089
  EXPECT_NEAR(sample(1.0, 0.5), 0.817574 * 1.2 - 0.1, 1e-6);
  EXPECT_EQ(sample(5.0, 0.999), 1.0);  // exact 1 occurs
  EXPECT_EQ(sample(-5.0, 0.001), 0.0); // exact 0 occurs
}

TEST(GateMath, TopKBreaksTiesTowardsLowerIndex) {
  std::vector<float> v = {1, 3, 2, 3, 3, 0};
  EXPECT_EQ(topK(v, 2), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(topK(v, 4), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(topK(v, 0), (std::vector<int64_t>{}));
}

TEST(GateMath, DeterministicRow) {
  std::vector<float> la = {2.0f, -1.0f, 7.0f, 0.5f};
  std::vector<float> m = deterministicRow(la, 2);
  EXPECT_NEAR(m[0], 0.916827, 1e-6);
  EXPECT_EQ(m[1], 0.0f);
  EXPECT_NEAR(m[2], 0.996034, 1e-6); // 7 clamped to ln 100
  EXPECT_EQ(m[3], 0.0f);
  // Above the clamp two entries tie; the lower index wins.
  std::vector<float> big = {1.0f, 10.0f, 20.0f};
  std::vector<float> m2 = deterministicRow(big, 1);
  EXPECT_GT(m2[1], 0.0f);
  EXPECT_EQ(m2[2], 0.0f);
}

TEST(GateMath, GqaKeepsWholeGroupsAndEqualHeadsPerGroup) {
  // 6 heads in 3 groups of 2; keep 2 groups and 1 head in each.
  std::vector<float> heads = {5, 4, 9, 1, 3, 8};
  std::vector<float> groups = {0.1f, -2.0f, 1.0f};
  std::vector<float> h, g;
  deterministicGqaRow(heads, groups, 2, 1, h, g);
  EXPECT_GT(g[0], 0.0f);
  EXPECT_EQ(g[1], 0.0f); // lowest group score dropped, despite head 2 = 9
  EXPECT_GT(g[2], 0.0f);
  EXPECT_GT(h[0], 0.0f);
  EXPECT_EQ(h[1], 0.0f);
  EXPECT_EQ(h[2], 0.0f);
  EXPECT_EQ(h[3], 0.0f);
  EXPECT_EQ(h[4], 0.0f);
  EXPECT_GT(h[5], 0.0f);
  EXPECT_NEAR(h[5], 1.0 / (1.0 + std::exp(-1.2 * std::log(100.0))), 1e-6);
}

TEST(GateMath, NormalInitIsReproducibleAndHasTheRightMoments) {
  auto a = normalInit(7, 1, 20000, 5.0, 0.01);
  auto b = normalInit(7, 1, 20000, 5.0, 0.01);
  auto c = normalInit(7, 2, 20000, 5.0, 0.01);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  double mean = 0, var = 0;
  for (float x : a)
    mean += x;
  mean /= a.size();
  for (float x : a)
    var += (x - mean) * (x - mean);
  var /= a.size();
  EXPECT_NEAR(mean, 5.0, 3 * 0.01 / std::sqrt(20000.0) * 2);
  EXPECT_NEAR(std::sqrt(var), 0.01, 0.0005);
}

#include "shear/Support/Philox.h"

// Known-answer vectors of Philox4x32-10 from the Random123 distribution.
TEST(Philox, KnownAnswers) {
  using shear::philox4x32;
  auto zero = philox4x32({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(zero, (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  auto ones = philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                         {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(ones, (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  auto pi = philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                       {0xa4093822u, 0x299f31d0u});
  EXPECT_EQ(pi, (std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, UniformIsInTheOpenIntervalAndKeyedByEveryInput) {
  using shear::philoxUniform;
  double u = philoxUniform(1, 2, 3, 4);
  EXPECT_GT(u, 0.0);
  EXPECT_LT(u, 1.0);
  EXPECT_EQ(u, philoxUniform(1, 2, 3, 4));
  EXPECT_NE(u, philoxUniform(2, 2, 3, 4));
  EXPECT_NE(u, philoxUniform(1, 3, 3, 4));
  EXPECT_NE(u, philoxUniform(1, 2, 4, 4));
  EXPECT_NE(u, philoxUniform(1, 2, 3, 5));
}
