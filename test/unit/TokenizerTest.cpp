// The tokenizer library's pieces, against hand-worked expectations: UTF-8
// decoding with WHATWG's replacement rule, the Unicode classes, and the
// split patterns' Oniguruma semantics (alternatives in order, greedy
// quantifiers giving back, the lookahead of \s+(?!\S), (?i:) contractions).
#include "shear/Tokenizer/SplitPattern.h"
#include "shear/Tokenizer/Unicode.h"

#include <gtest/gtest.h>

using namespace shear;

namespace {
std::vector<std::string> pieces(const char *pattern, const std::string &text) {
  auto p = SplitPattern::compile(pattern);
  EXPECT_TRUE(p.ok()) << p.status().message();
  std::u32string t = unicode::decodeUtf8(text);
  std::vector<std::string> out;
  size_t b, e, at = 0;
  while (p->find(t, at, b, e)) {
    out.push_back(unicode::encodeUtf8(t.substr(b, e - b)));
    at = e;
  }
  return out;
}
const char *kLlama3 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
} // namespace

TEST(Unicode, InvalidBytesBecomeReplacementCharactersByMaximalSubpart) {
  // Lone continuation bytes and 0xFF: one U+FFFD each.
  EXPECT_EQ(unicode::decodeUtf8("a\x80\xBF\xFF" "b"), U"a\uFFFD\uFFFD\uFFFDb");
  // A truncated 3-byte sequence followed by ASCII: one U+FFFD, ASCII kept.
  EXPECT_EQ(unicode::decodeUtf8("\xE2\x82z"), U"\uFFFDz");
  // Overlong C0 AF: C0 is never a lead byte, AF a lone continuation: two.
  EXPECT_EQ(unicode::decodeUtf8("\xC0\xAF"), U"\uFFFD\uFFFD");
  // An encoded surrogate ED A0 80: A0 is outside ED's range: three.
  EXPECT_EQ(unicode::decodeUtf8("\xED\xA0\x80"), U"\uFFFD\uFFFD\uFFFD");
  // Above U+10FFFF (F4 90 ...): four.
  EXPECT_EQ(unicode::decodeUtf8("\xF4\x90\x80\x80"), U"\uFFFD\uFFFD\uFFFD\uFFFD");
  // Valid sequences of every length round-trip.
  std::string valid = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  EXPECT_EQ(unicode::decodeUtf8(valid), U"a\u00E9\u20AC\U0001F600");
  EXPECT_EQ(unicode::encodeUtf8(unicode::decodeUtf8(valid)), valid);
}

TEST(Unicode, Classes) {
  EXPECT_TRUE(unicode::isLetter(U'\u00E9'));  // é
  EXPECT_TRUE(unicode::isLetter(U'\u6771'));  // 東
  EXPECT_FALSE(unicode::isLetter(U'\u0301')); // a combining mark is not \p{L}
  EXPECT_TRUE(unicode::isNumber(U'\u0663'));  // Arabic-Indic 3
  EXPECT_TRUE(unicode::isNumber(U'\u00B2'));  // superscript 2 (No)
  EXPECT_TRUE(unicode::isNumber(U'\u216B'));  // Roman numeral XII (Nl)
  EXPECT_FALSE(unicode::isNumber(U'x'));
  EXPECT_TRUE(unicode::isWhiteSpace(U'\u00A0'));
  EXPECT_TRUE(unicode::isWhiteSpace(U'\u3000'));
  EXPECT_TRUE(unicode::isWhiteSpace(U'\u0085'));
  EXPECT_FALSE(unicode::isWhiteSpace(U'\u200B')); // zero-width space is not White_Space
  EXPECT_FALSE(unicode::isWhiteSpace(U'\uFEFF'));
}

TEST(SplitPattern, Llama3) {
  // Contractions any case; a letter run takes one leading non-letter; digits
  // in threes; punctuation with its newlines; whitespace before a word stays
  // with the word's space (\s+(?!\S) gives one back).
  EXPECT_EQ(pieces(kLlama3, "DON'T we'Ll"),
            (std::vector<std::string>{"DON", "'T", " we", "'Ll"}));
  EXPECT_EQ(pieces(kLlama3, "x=1234567;\n\nfoo   bar"),
            (std::vector<std::string>{"x", "=", "123", "456", "7", ";\n\n", "foo", "  ", " bar"}));
  EXPECT_EQ(pieces(kLlama3, "a \t\n b"), (std::vector<std::string>{"a", " \t\n", " b"}));
  EXPECT_EQ(pieces(kLlama3, "end   "), (std::vector<std::string>{"end", "   "}));
}

// Long runs of one kind of character, where a backtracking matcher could go
// quadratic (the fuzz target bounds its inputs: docs/fuzzing.md): the pieces
// tile the text in order, and their count is the one the pattern implies.
TEST(SplitPattern, LongRunsTileTheText) {
  const size_t n = 200000;
  struct Case {
    std::string text;
    size_t pieces;
  } cases[] = {
      {std::string(n, ' '), 1},                        // \s+ takes it all
      {std::string(n, ' ') + "x", 2},                  // \s+(?!\S) gives one back to " x"
      {std::string(n, 'a'), 1},                        // one letter run
      {std::string(n, '7'), (n + 2) / 3},              // \p{N}{1,3}
      {std::string(n, '!'), 1},                        // punctuation run
      {std::string(n / 2, ' ') + std::string(n / 2, '\n'), 1}, // \s*[\r\n]+
  };
  auto compiled = SplitPattern::compile(kLlama3);
  ASSERT_TRUE(compiled.ok());
  for (const Case &c : cases) {
    std::u32string text = unicode::decodeUtf8(c.text);
    size_t at = 0, b = 0, e = 0, count = 0;
    while (compiled->find(text, at, b, e)) {
      ASSERT_EQ(b, at) << "a gap before a piece";
      ASSERT_GT(e, b);
      at = e;
      ++count;
    }
    EXPECT_EQ(at, text.size());
    EXPECT_EQ(count, c.pieces) << c.text.substr(0, 8) << "... (" << c.text.size() << ")";
  }
}

TEST(SplitPattern, Gpt2) {
  const char *gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  // GPT-2's contractions are case-sensitive; digits are not grouped.
  EXPECT_EQ(pieces(gpt2, "it's IT'S 12345!!"),
            (std::vector<std::string>{"it", "'s", " IT", "'", "S", " 12345", "!!"}));
}

TEST(SplitPattern, RefusesWhatItDoesNotCover) {
  for (const char *p : {R"(\p{Lu}+)", R"(\d+)", R"(a+?)", R"(x(?=y))", R"((a|b)c)", R"(.+)"}) {
    auto compiled = SplitPattern::compile(p);
    EXPECT_FALSE(compiled.ok()) << p;
    if (!compiled.ok())
      EXPECT_NE(compiled.status().message().find("unsupported pre-tokenizer pattern"), std::string::npos);
  }
}
