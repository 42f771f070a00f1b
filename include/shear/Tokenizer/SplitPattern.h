//===- SplitPattern.h - the regular expressions of pre-tokenizers ---------===//
//
// Pre-tokenizers cut text with a regular expression (GPT-2's, LLaMA-3's,
// Qwen's). This matcher covers the part of Oniguruma's syntax those patterns
// use, with its semantics (alternatives tried in order, greedy quantifiers
// that give back): alternatives of single characters or classes with
// quantifiers (? * + {m} {m,} {m,n}); classes [...] and [^...] of literals,
// ranges, \p{L} \p{N} \s and their negations; a (?i:...) or (?:...) group that
// forms a whole alternative; a trailing negative lookahead of one class
// ((?!\S)). Anything else is refused with the construct named, so a
// tokenizer is never silently tokenized differently.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TOKENIZER_SPLITPATTERN_H
#define SHEAR_TOKENIZER_SPLITPATTERN_H

#include "shear/Support/Status.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shear {

class SplitPattern {
public:
  /// Compiles `pattern` (UTF-8); refuses what this matcher does not cover.
  static Result<SplitPattern> compile(std::string_view pattern);

  /// The first match starting at or after `from`: true with [begin, end).
  bool find(std::u32string_view text, size_t from, size_t &begin, size_t &end) const;

  /// The class of one character (a term of a [...] class or an escape).
  struct Term {
    enum Kind { Range, Letter, Number, Space } kind = Range;
    bool negated = false; // \P{L}, \S
    char32_t lo = 0, hi = 0;
  };
  struct Class {
    bool negated = false;
    bool caseless = false; // a literal under (?i:...)
    std::vector<Term> terms;
    bool matches(char32_t cp) const;
    /// Records matches() of every code point below 256 (most text) in a
    /// table that matches() then reads.
    void tabulate();
    /// Whether `cp` (below 256) is in the tabulated class.
    bool tabulatedMatch(char32_t cp) const { return (low_[cp >> 6] >> (cp & 63)) & 1; }

  private:
    bool matchesSlowly(char32_t cp) const;
    std::array<uint64_t, 4> low_{};
    bool tabulated_ = false;
  };
  struct Item {
    Class cls;
    int min = 1, max = 1; // max -1: unbounded
  };
  struct Alternative {
    std::vector<Item> items;
    bool hasLookahead = false; // (?!cls): the next character is not in cls
    Class lookahead;
    /// The characters below 256 a non-empty match can start with (every
    /// one when anyStart): find skips the alternative elsewhere.
    std::array<uint64_t, 4> start{};
    bool anyStart = false;
  };

private:
  size_t matchAt(const Alternative &alt, size_t item, std::u32string_view text, size_t pos) const;
  std::vector<Alternative> alternatives_;
};

} // namespace shear

#endif
