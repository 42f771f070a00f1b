// The support library's JSON: strict parsing with positions, depth and
// duplicate-key limits, exact integers, and a writer whose output is always
// valid JSON that reads back to the same values.
#include "shear/Support/Json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace shear;

namespace {
std::string errorOf(const std::string &text, const json::ParseOptions &options = {}) {
  auto v = json::parse(text, options);
  return v.ok() ? "" : v.status().message();
}
} // namespace

TEST(Json, ValuesOfEveryKind) {
  auto v = json::parse(R"({"a": [1, -2.5, true, null, "x"], "b": {"c": 9007199254740993}})");
  ASSERT_TRUE(v.ok()) << v.status().message();
  const json::Array *a = v->getArray("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ((*a)[0].asInteger(), 1);
  EXPECT_EQ((*a)[1].asNumber(), -2.5);
  EXPECT_EQ((*a)[1].asInteger(), std::nullopt);
  EXPECT_EQ((*a)[2].asBool(), true);
  EXPECT_TRUE((*a)[3].isNull());
  EXPECT_EQ(*(*a)[4].asString(), "x");
  // 2^53 + 1 is not a double: integers are kept exactly.
  EXPECT_EQ(v->get("b")->getInteger("c"), 9007199254740993LL);
  EXPECT_EQ(v->getString("missing"), nullptr);
}

TEST(Json, StringEscapesAndUtf8) {
  auto v = json::parse(R"(["\"\\\/\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "é"])");
  ASSERT_TRUE(v.ok()) << v.status().message();
  const json::Array &a = *v->asArray();
  EXPECT_EQ(*a[0].asString(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(*a[1].asString(), "\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(*a[2].asString(), "\xf0\x9f\x98\x80"); // U+1F600 from a surrogate pair
  EXPECT_EQ(*a[3].asString(), "\xc3\xa9");
  EXPECT_NE(errorOf("[\"\\ud83d\"]").find("unpaired surrogate"), std::string::npos);
  EXPECT_NE(errorOf("[\"\xff\"]").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(errorOf("[\"a\nb\"]").find("control character"), std::string::npos);
}

TEST(Json, ErrorsSayWhere) {
  EXPECT_EQ(errorOf("{\n  \"a\": 1,\n  \"b\": x\n}"),
            "invalid JSON at line 3, column 8: unexpected character 'x'");
  EXPECT_NE(errorOf("[1, 2] 3").find("unexpected text after the value"), std::string::npos);
  EXPECT_NE(errorOf("[1, 2").find("expected ',' or ']'"), std::string::npos);
  EXPECT_NE(errorOf("01").find("unexpected text"), std::string::npos);
  EXPECT_NE(errorOf("1.").find("no digits after '.'"), std::string::npos);
  EXPECT_NE(errorOf("1e999").find("out of range"), std::string::npos);
  EXPECT_NE(errorOf("").find("unexpected end of input"), std::string::npos);
}

TEST(Json, DuplicateKeysAreRefusedAndNamed) {
  std::string key;
  json::ParseOptions options;
  options.duplicateKey = &key;
  EXPECT_NE(errorOf(R"({"w": 1, "w": 2})", options).find("duplicate key \"w\""), std::string::npos);
  EXPECT_EQ(key, "w");
  options.allowDuplicateKeys = true;
  auto v = json::parse(R"({"w": 1, "w": 2})", options);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->getInteger("w"), 2);
}

// Deep nesting is refused before it can exhaust the stack.
TEST(Json, NestingDepthIsBounded) {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(json::parse(nested(64)).ok());
  EXPECT_NE(errorOf(nested(65)).find("nested deeper than 64 levels"), std::string::npos);
  EXPECT_NE(errorOf(nested(1000000)).find("nested deeper"), std::string::npos);
}

TEST(Json, WriterRoundTripsAndStaysValid) {
  json::Object o{{"pi", M_PI}, {"tenth", 0.1}, {"big", 1e300}, {"n", -7}, {"s", "a\"b\n"},
                 {"list", json::Array{1, 2.5, nullptr, false}}};
  json::Value v(o);
  for (int indent : {0, 2}) {
    auto back = json::parse(json::write(v, indent));
    ASSERT_TRUE(back.ok()) << json::write(v, indent);
    EXPECT_EQ(back->getNumber("pi"), M_PI);
    EXPECT_EQ(back->getNumber("tenth"), 0.1);
    EXPECT_EQ(back->getNumber("big"), 1e300);
    EXPECT_EQ(*back->getString("s"), "a\"b\n");
  }
  EXPECT_EQ(json::write(v), R"({"big":1e+300,"list":[1,2.5,null,false],"n":-7,"pi":3.141592653589793,"s":"a\"b\n","tenth":0.1})");
  // Non-finite numbers are written as null: the output is still JSON.
  EXPECT_EQ(json::write(json::Array{NAN, INFINITY, 10000.0}), "[null,null,10000]");
  EXPECT_EQ(json::formatNumber(1.0 / 3), "0.3333333333333333");
}
