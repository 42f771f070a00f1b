// --target-shape parsing and checking.
#include "shear/Transforms/TargetShape.h"

#include <gtest/gtest.h>

using namespace shear;

namespace {
const ShapeSpec kLlama7B{32, 32, 32, 4096, 11008};
const ShapeSpec kLlama3_8B{32, 32, 8, 4096, 14336};

std::string errorOf(llvm::StringRef spec, const ShapeSpec &src, int64_t hd = 128) {
  auto r = parseTargetShape(spec, src, hd);
  if (r)
    return "";
  return llvm::toString(r.takeError());
}
} // namespace

TEST(TargetShape, PaperPresets) {
  auto t = parseTargetShape("2.7b", kLlama7B, 128);
  ASSERT_TRUE(!!t);
  EXPECT_EQ(t->layers, 32);
  EXPECT_EQ(t->heads, 20);
  EXPECT_EQ(t->kvHeads, 20);
  EXPECT_EQ(t->hidden, 2560);
  EXPECT_EQ(t->intermediate, 6912);
  auto s = parseTargetShape("370m", kLlama7B, 128);
  ASSERT_TRUE(!!s);
  EXPECT_EQ(s->layers, 24);
  EXPECT_EQ(s->hidden, 1024);
}

TEST(TargetShape, GqaSourceKeepsItsGroupSizeByDefault) {
  auto t = parseTargetShape("2.7b", kLlama3_8B, 128);
  ASSERT_TRUE(!!t) << llvm::toString(t.takeError());
  EXPECT_EQ(t->kvHeads, 5); // 20 heads / 4 per group
  auto e = parseTargetShape("layers=4,heads=8,kv-heads=4,hidden=1024,intermediate=100",
                            kLlama3_8B, 128);
  ASSERT_TRUE(!!e);
  EXPECT_EQ(e->kvHeads, 4);
}

TEST(TargetShape, Errors) {
  EXPECT_NE(errorOf("9b", kLlama7B).find("unknown target-shape preset '9b'"), std::string::npos);
  EXPECT_NE(errorOf("layers=40,heads=20,hidden=2560,intermediate=6912", kLlama7B)
                .find("target layers (40) is larger than the source's (32)"),
            std::string::npos);
  EXPECT_NE(errorOf("layers=8,heads=20,hidden=2048,intermediate=6912", kLlama7B)
                .find("must equal target heads x head_dim (20 x 128 = 2560)"),
            std::string::npos);
  EXPECT_NE(errorOf("layers=8,heads=12,kv-heads=5,hidden=1536,intermediate=100", kLlama3_8B)
                .find("multiple of target kv-heads"),
            std::string::npos);
  EXPECT_NE(errorOf("layers=0,heads=20,hidden=2560,intermediate=6912", kLlama7B)
                .find("target layers must be positive"),
            std::string::npos);
  EXPECT_NE(errorOf("layers=8,layers=9", kLlama7B).find("'layers' given twice"), std::string::npos);
  EXPECT_NE(errorOf("kv-heads=4", kLlama3_8B).find("heads per kv group (32 / 4 = 8) exceeds"),
            std::string::npos);
  EXPECT_NE(errorOf("layers=8,heads=x,hidden=2560,intermediate=5", kLlama7B)
                .find("not an integer"),
            std::string::npos);
  EXPECT_NE(errorOf("layers=8,depth=3,heads=2,hidden=256,intermediate=5", kLlama7B)
                .find("unknown key 'depth'"),
            std::string::npos);
  EXPECT_NE(errorOf("layers=8,heads=20,kv-heads=10,hidden=2560,intermediate=6912", kLlama7B)
                .find("multi-head attention"),
            std::string::npos);
  EXPECT_NE(errorOf("layers=8,heads=16,kv-heads=2,hidden=2048,intermediate=6912", kLlama3_8B)
                .find("heads per kv group"),
            std::string::npos);
  EXPECT_NE(errorOf("", kLlama7B).find("no target shape"), std::string::npos);
}

// Dimensions a spec does not name keep the source's size, and only the named
// families are pruned (a grouped-query source's heads bring their kv groups).
TEST(TargetShape, PartialSpecs) {
  TargetFamilies f;
  auto t = parseTargetShape("layers=24", kLlama7B, 128, &f);
  ASSERT_TRUE(!!t) << llvm::toString(t.takeError());
  EXPECT_EQ(t->layers, 24);
  EXPECT_EQ(t->heads, 32);
  EXPECT_EQ(t->kvHeads, 32);
  EXPECT_EQ(t->hidden, 4096);
  EXPECT_EQ(t->intermediate, 11008);
  EXPECT_TRUE(f.layer);
  EXPECT_FALSE(f.head || f.kvGroup || f.hidden || f.intermediate);

  auto g = parseTargetShape("heads=16,kv-heads=4", kLlama3_8B, 128, &f);
  ASSERT_TRUE(!!g) << llvm::toString(g.takeError());
  EXPECT_EQ(g->heads, 16);
  EXPECT_EQ(g->kvHeads, 4);
  EXPECT_EQ(g->hidden, 4096); // only heads named: head_dim stays 128, hidden stays
  EXPECT_TRUE(f.head && f.kvGroup);
  EXPECT_FALSE(f.layer || f.hidden || f.intermediate);

  auto h = parseTargetShape("heads=16", kLlama3_8B, 128, &f);
  ASSERT_TRUE(!!h);
  EXPECT_EQ(h->kvHeads, 4); // the source's 4 heads per group
  EXPECT_TRUE(f.kvGroup);

  auto p = parseTargetShape("2.7b", kLlama3_8B, 128, &f);
  ASSERT_TRUE(!!p);
  EXPECT_TRUE(f.layer && f.head && f.kvGroup && f.hidden && f.intermediate);
  ASSERT_TRUE(!!parseTargetShape("2.7b", kLlama7B, 128, &f));
  EXPECT_FALSE(f.kvGroup); // multi-head source: no kv groups
}
