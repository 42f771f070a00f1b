// bracketNesting: the depth every module reader checks before MLIR's
// recursive parser sees a file. Hand-counted cases.
#include "shear/Support/Nesting.h"

#include <gtest/gtest.h>

using shear::bracketNesting;

TEST(Nesting, CountsEveryBracketKind) {
  EXPECT_EQ(bracketNesting(""), 0u);
  EXPECT_EQ(bracketNesting("module {}"), 1u);
  EXPECT_EQ(bracketNesting("[[1, [2]], [3]]"), 3u);
  EXPECT_EQ(bracketNesting("tensor<2x!t<[{(x)}]>>"), 5u);
  EXPECT_EQ(bracketNesting("([{<>}])([{<>}])"), 4u); // siblings do not add up
}

TEST(Nesting, SkipsStringsCommentsAndArrowTokens) {
  EXPECT_EQ(bracketNesting("\"[[[[\" [x]"), 1u);
  EXPECT_EQ(bracketNesting("\"a\\\"[[[\" [x]"), 1u); // an escaped quote does not end the string
  EXPECT_EQ(bracketNesting("// [[[[[\n[x]"), 1u);
  EXPECT_EQ(bracketNesting("<(i32) -> i32>"), 2u);
  // '>' of "->" and ">=" closes nothing: the '<' stays open for the '(' after.
  EXPECT_EQ(bracketNesting("<a -> b >= c (d)>"), 2u);
}

TEST(Nesting, StrayClosersDoNotHideDepth) {
  // A closer whose opener is not open is ignored...
  EXPECT_EQ(bracketNesting("]]]]]}}}>>>))) [[[x]]]"), 3u);
  // ...and one that is closes what is still open inside it.
  EXPECT_EQ(bracketNesting("(<<<) [x]"), 4u);
  EXPECT_EQ(bracketNesting("(<<<) (((x)))"), 4u);
}

TEST(Nesting, MessageNamesTheFileAndDepth) {
  EXPECT_EQ(shear::moduleNestingError(std::string(256, '[') + std::string(256, ']'), "m.mlir"), "");
  EXPECT_EQ(shear::moduleNestingError(std::string(257, '['), "m.mlir"),
            "m.mlir: brackets nest 257 deep (more than 256): not a shear module, and too deep to "
            "parse safely");
}
