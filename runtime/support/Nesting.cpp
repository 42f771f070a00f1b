//===- Nesting.cpp - bracket nesting of MLIR text --------------------------===//
#include "shear/Support/Nesting.h"

#include <algorithm>
#include <vector>

namespace shear {

size_t bracketNesting(std::string_view text) {
  std::vector<char> open; // the openers in force, innermost last
  size_t count[4] = {0, 0, 0, 0};
  auto kind = [](char c) { return c == '(' ? 0 : c == '[' ? 1 : c == '{' ? 2 : 3; };
  size_t deepest = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') { // a string literal: skip to its closing quote
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\')
          ++i;
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      i = std::min(text.find('\n', i), text.size());
      continue;
    }
    // "->" and ">=" are tokens of their own, not closers.
    if (c == '>' && ((i > 0 && text[i - 1] == '-') || (i + 1 < text.size() && text[i + 1] == '=')))
      continue;
    if (c == '(' || c == '[' || c == '{' || c == '<') {
      open.push_back(c);
      ++count[kind(c)];
      deepest = std::max(deepest, open.size());
      continue;
    }
    char opener = c == ')' ? '(' : c == ']' ? '[' : c == '}' ? '{' : c == '>' ? '<' : 0;
    // A closer closes its opener and whatever is still open inside it; one
    // whose opener is not open is ignored.
    if (opener && count[kind(opener)] > 0) {
      char top;
      do {
        top = open.back();
        open.pop_back();
        --count[kind(top)];
      } while (top != opener);
    }
  }
  return deepest;
}

std::string moduleNestingError(std::string_view text, const std::string &path) {
  size_t depth = bracketNesting(text);
  if (depth <= kMaxModuleNesting)
    return "";
  return path + ": brackets nest " + std::to_string(depth) + " deep (more than " +
         std::to_string(kMaxModuleNesting) + "): not a shear module, and too deep to parse safely";
}

} // namespace shear
