//===- OptimizerShardsTest.cpp - which rank updates which parameter -------===//
// The sharded optimizer's assignment on a hand-made step: four parameters of
// 100, 60, 50 and 10 values, each with its moments and an adamw.
#include "train/OptimizerShards.h"

#include <gtest/gtest.h>

using namespace shear;
using namespace shear::rt;

namespace {
ProgramFile stepWithFourParameters() {
  ProgramFile p;
  p.mode = "train";
  ProgramFunction f;
  f.name = "train_step";
  const char *names[] = {"small", "big", "mid", "large"};
  int64_t sizes[] = {10, 100, 50, 60};
  auto value = [&](int64_t n) {
    f.values.push_back({DType::F32, {n}});
    return static_cast<int>(f.values.size() - 1);
  };
  auto weight = [&](const std::string &name, int64_t n) {
    p.weights.push_back({name, "w.safetensors", DType::F32, {n}, false, ""});
    ProgramInstr w;
    w.kind = ProgramInstr::Kind::Weight;
    w.weight = static_cast<int>(p.weights.size() - 1);
    w.results = {value(n)};
    f.body.push_back(w);
    return w.results[0];
  };
  int norm = value(0), lr = value(0), step = value(0);
  f.values[norm].shape = f.values[lr].shape = f.values[step].shape = {};
  for (int i = 0; i < 4; ++i) {
    int param = weight(names[i], sizes[i]);
    int grad = value(sizes[i]);
    int m = weight(std::string("adam.m:") + names[i], sizes[i]);
    int v = weight(std::string("adam.v:") + names[i], sizes[i]);
    ProgramInstr adam;
    adam.kernel = KernelId::AdamW;
    adam.operands = {param, grad, m, v, norm, lr, step};
    adam.results = {value(sizes[i]), value(sizes[i]), value(sizes[i])};
    f.body.push_back(adam);
  }
  p.functions.push_back(f);
  return p;
}
} // namespace

TEST(OptimizerShards, LargestFirstToTheLeastLoadedRank) {
  ProgramFile p = stepWithFourParameters();
  const ProgramFunction &f = p.functions[0];
  // 100 -> rank 0; 60 -> rank 1; 50 -> rank 1 (60 < 100); 10 -> rank 0 (100 < 110).
  auto r0 = shardOptimizer(p, f, 0, 2);
  ASSERT_TRUE(r0.ok()) << r0.status().message();
  EXPECT_EQ(r0->owner.at("big"), 0);
  EXPECT_EQ(r0->owner.at("large"), 1);
  EXPECT_EQ(r0->owner.at("mid"), 1);
  EXPECT_EQ(r0->owner.at("small"), 0);
  EXPECT_EQ(r0->ownedStateElements, 2 * 110);
  EXPECT_EQ(r0->stateElements, 2 * 220);
  // Body per parameter: param, m, v, adamw (4 instructions each, in the
  // order small, big, mid, large). Rank 0 leaves out mid's and large's
  // moment reads and updates, never a parameter read.
  std::vector<bool> skip0 = {false, false, false, false, false, false, false, false,
                             false, true,  true,  true,  false, true,  true,  true};
  EXPECT_EQ(r0->skip, skip0);
  EXPECT_TRUE(r0->holds("mid"));            // parameters: everywhere
  EXPECT_FALSE(r0->holds("adam.v:mid"));    // moments: on the owner only
  EXPECT_TRUE(r0->holds("adam.m:big"));
  EXPECT_TRUE(r0->holds("shear.lambda1.head")); // not a parameter of this step
  EXPECT_FALSE(r0->updates("large"));

  auto r1 = shardOptimizer(p, f, 1, 2);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->owner, r0->owner); // every rank computes the same assignment
  for (size_t i = 0; i < skip0.size(); ++i)
    EXPECT_EQ(r1->skip[i], skip0[i] ? false : (i % 4 != 0)) << i;

  // One rank owns everything and skips nothing.
  auto alone = shardOptimizer(p, f, 0, 1);
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(alone->ownedStateElements, alone->stateElements);
  EXPECT_EQ(alone->skip, std::vector<bool>(16, false));
}

TEST(OptimizerShards, AdamWithoutWeightMomentsIsRefused) {
  ProgramFile p = stepWithFourParameters();
  ProgramFunction &f = p.functions[0];
  f.body[3].operands[2] = f.body[3].operands[1]; // m: a computed value, not a weight
  auto s = shardOptimizer(p, f, 0, 2);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not weights of the program"), std::string::npos);
}
