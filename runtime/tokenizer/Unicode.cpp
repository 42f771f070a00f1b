//===- Unicode.cpp - code points, UTF-8 and the classes tokenizers use ----===//
#include "shear/Tokenizer/Unicode.h"

#include <algorithm>
#include <iterator>

namespace {
struct CodePointRange {
  char32_t first, last;
};
#include "UnicodeTables.inc"

template <size_t N> bool inTable(const CodePointRange (&table)[N], char32_t cp) {
  auto it = std::upper_bound(std::begin(table), std::end(table), cp,
                             [](char32_t c, const CodePointRange &r) { return c < r.first; });
  return it != std::begin(table) && cp <= std::prev(it)->last;
}
} // namespace

namespace shear::unicode {

std::u32string decodeUtf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < n) {
    unsigned char c = byte(i);
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    // WHATWG: the lead byte fixes the length and the range of the first
    // continuation byte; a byte that does not fit ends the maximal subpart.
    size_t need;
    char32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      cp = c & 0x0F;
      if (c == 0xE0)
        lo = 0xA0;
      if (c == 0xED)
        hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      cp = c & 0x07;
      if (c == 0xF0)
        lo = 0x90;
      if (c == 0xF4)
        hi = 0x8F;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    size_t k = i + 1;
    bool ok = true;
    for (size_t j = 0; j < need; ++j, ++k) {
      if (k >= n || byte(k) < lo || byte(k) > hi) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (byte(k) & 0x3F);
      lo = 0x80;
      hi = 0xBF;
    }
    out.push_back(ok ? cp : 0xFFFD);
    i = k; // on failure: resume at the byte that did not fit
  }
  return out;
}

void appendUtf8(std::string &out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encodeUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text)
    appendUtf8(out, cp);
  return out;
}

bool isLetter(char32_t cp) {
  if (cp < 0x80)
    return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return inTable(kLetters, cp);
}
bool isNumber(char32_t cp) {
  if (cp < 0x80)
    return cp >= '0' && cp <= '9';
  return inTable(kNumbers, cp);
}
bool isWhiteSpace(char32_t cp) {
  if (cp < 0x80)
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return inTable(kWhiteSpace, cp);
}
const char *tableVersion() { return kUnicodeVersion; }

} // namespace shear::unicode
