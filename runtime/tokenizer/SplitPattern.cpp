//===- SplitPattern.cpp - the regular expressions of pre-tokenizers -------===//
#include "shear/Tokenizer/SplitPattern.h"

#include "shear/Tokenizer/Unicode.h"

using namespace shear;

namespace {
constexpr size_t kNoMatch = static_cast<size_t>(-1);

/// Simple case folding of the letters contractions use: ASCII, plus the two
/// code points that fold onto ASCII letters (ſ → s, K (Kelvin) → k).
char32_t fold(char32_t c) {
  if (c >= 'A' && c <= 'Z')
    return c + 32;
  if (c == 0x17F)
    return 's';
  if (c == 0x212A)
    return 'k';
  return c;
}

class Parser {
public:
  explicit Parser(std::u32string p) : p_(std::move(p)) {}

  Status parse(std::vector<SplitPattern::Alternative> &out) { return alternatives(out, false, false); }

private:
  Status refuse(const std::string &what) {
    return invalidInput("unsupported pre-tokenizer pattern: " + what + " at offset " +
                        std::to_string(i_) + " of '" + unicode::encodeUtf8(p_) + "'");
  }
  bool at(char32_t c) const { return i_ < p_.size() && p_[i_] == c; }
  bool startsWith(std::u32string_view s) const { return p_.compare(i_, s.size(), s) == 0; }

  // alternatives := alternative ('|' alternative)*, ended by ')' in a group.
  Status alternatives(std::vector<SplitPattern::Alternative> &out, bool caseless, bool inGroup) {
    while (true) {
      if (startsWith(U"(?i:") || startsWith(U"(?:")) {
        // A group is allowed only as a whole alternative: flattened.
        bool ci = caseless || p_[i_ + 2] == 'i';
        i_ += ci && p_[i_ + 2] == 'i' ? 4 : 3;
        if (Status s = alternatives(out, ci, true); !s.ok())
          return s;
        if (!at(')'))
          return refuse("an unclosed group");
        ++i_;
        if (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')')
          return refuse("a group followed by more of its alternative");
      } else {
        SplitPattern::Alternative alt;
        if (Status s = sequence(alt, caseless); !s.ok())
          return s;
        if (alt.items.empty())
          return refuse("an empty alternative");
        out.push_back(std::move(alt));
      }
      if (at('|')) {
        ++i_;
        continue;
      }
      if (i_ == p_.size() && !inGroup)
        return Status::success();
      if (at(')') && inGroup)
        return Status::success();
      return refuse("an unexpected character");
    }
  }

  Status sequence(SplitPattern::Alternative &alt, bool caseless) {
    while (i_ < p_.size() && !at('|') && !at(')')) {
      if (startsWith(U"(?!")) {
        i_ += 3;
        if (Status s = atom(alt.lookahead, caseless); !s.ok())
          return s;
        if (!at(')'))
          return refuse("a lookahead of more than one class");
        ++i_;
        alt.hasLookahead = true;
        if (i_ < p_.size() && !at('|') && !at(')'))
          return refuse("a lookahead that does not end its alternative");
        return Status::success();
      }
      if (at('('))
        return refuse("a group inside an alternative");
      SplitPattern::Item item;
      if (Status s = atom(item.cls, caseless); !s.ok())
        return s;
      if (Status s = quantifier(item); !s.ok())
        return s;
      alt.items.push_back(std::move(item));
    }
    return Status::success();
  }

  Status quantifier(SplitPattern::Item &item) {
    if (at('?')) {
      item.min = 0;
      ++i_;
    } else if (at('*')) {
      item.min = 0;
      item.max = -1;
      ++i_;
    } else if (at('+')) {
      item.max = -1;
      ++i_;
    } else if (at('{')) {
      size_t close = p_.find('}', i_);
      if (close == std::u32string::npos)
        return refuse("an unclosed {");
      std::string body = unicode::encodeUtf8(p_.substr(i_ + 1, close - i_ - 1));
      size_t comma = body.find(',');
      auto number = [](const std::string &s, int &v) {
        if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos)
          return false;
        v = std::stoi(s);
        return true;
      };
      bool ok = comma == std::string::npos
                    ? number(body, item.min) && (item.max = item.min, true)
                    : number(body.substr(0, comma), item.min) &&
                          (comma + 1 == body.size() ? (item.max = -1, true)
                                                    : number(body.substr(comma + 1), item.max));
      if (!ok || (item.max >= 0 && item.max < item.min))
        return refuse("a malformed {m,n}");
      i_ = close + 1;
    } else {
      return Status::success();
    }
    if (at('?') || at('+'))
      return refuse("a lazy or possessive quantifier");
    return Status::success();
  }

  // One character: a literal, an escape, a class or '.'.
  Status atom(SplitPattern::Class &cls, bool caseless) {
    if (i_ >= p_.size())
      return refuse("a missing character");
    char32_t c = p_[i_];
    if (c == '[') {
      ++i_;
      if (at('^')) {
        cls.negated = true;
        ++i_;
      }
      bool first = true;
      while (i_ < p_.size() && (!at(']') || first)) {
        first = false;
        SplitPattern::Term t;
        if (Status s = term(t); !s.ok())
          return s;
        if (at('-') && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
          ++i_;
          SplitPattern::Term hi;
          if (Status s = term(hi); !s.ok())
            return s;
          if (t.kind != SplitPattern::Term::Range || hi.kind != SplitPattern::Term::Range ||
              hi.lo < t.lo)
            return refuse("a malformed range");
          t.hi = hi.lo;
        }
        cls.terms.push_back(t);
      }
      if (!at(']'))
        return refuse("an unclosed [");
      ++i_;
      if (caseless)
        return refuse("a class under (?i:)");
      return Status::success();
    }
    if (c == '.' || c == '^' || c == '$' || c == '*' || c == '+' || c == '?' || c == '{')
      return refuse(std::string("'") + static_cast<char>(c) + "'");
    SplitPattern::Term t;
    if (Status s = term(t); !s.ok())
      return s;
    cls.terms.push_back(t);
    if (caseless) {
      if (t.kind != SplitPattern::Term::Range)
        return refuse("a class under (?i:)");
      cls.caseless = true;
      cls.terms.back().lo = cls.terms.back().hi = fold(t.lo);
    }
    return Status::success();
  }

  // A literal or an escape, inside or outside a class.
  Status term(SplitPattern::Term &t) {
    char32_t c = p_[i_++];
    if (c != '\\') {
      t.lo = t.hi = c;
      return Status::success();
    }
    if (i_ >= p_.size())
      return refuse("a trailing backslash");
    c = p_[i_++];
    switch (c) {
    case 'r': t.lo = t.hi = '\r'; return Status::success();
    case 'n': t.lo = t.hi = '\n'; return Status::success();
    case 't': t.lo = t.hi = '\t'; return Status::success();
    case 'f': t.lo = t.hi = '\f'; return Status::success();
    case 'v': t.lo = t.hi = '\v'; return Status::success();
    case 's': t.kind = SplitPattern::Term::Space; return Status::success();
    case 'S': t.kind = SplitPattern::Term::Space; t.negated = true; return Status::success();
    case 'p':
    case 'P': {
      t.negated = c == 'P';
      if (startsWith(U"{L}"))
        t.kind = SplitPattern::Term::Letter;
      else if (startsWith(U"{N}"))
        t.kind = SplitPattern::Term::Number;
      else
        return refuse("a Unicode class other than \\p{L} and \\p{N}");
      i_ += 3;
      return Status::success();
    }
    default:
      // \d and \w differ between regex engines (ASCII or Unicode): refused.
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return refuse(std::string("the escape \\") + static_cast<char>(c));
      t.lo = t.hi = c; // an escaped punctuation character
      return Status::success();
    }
  }

  std::u32string p_;
  size_t i_ = 0;
};
} // namespace

bool SplitPattern::Class::matches(char32_t cp) const {
  if (cp < 256 && tabulated_)
    return (low_[cp >> 6] >> (cp & 63)) & 1;
  return matchesSlowly(cp);
}

void SplitPattern::Class::tabulate() {
  low_ = {};
  for (char32_t cp = 0; cp < 256; ++cp)
    if (matchesSlowly(cp))
      low_[cp >> 6] |= uint64_t(1) << (cp & 63);
  tabulated_ = true;
}

bool SplitPattern::Class::matchesSlowly(char32_t cp) const {
  if (caseless)
    cp = fold(cp);
  bool any = false;
  for (const Term &t : terms) {
    bool m;
    switch (t.kind) {
    case Term::Range: m = cp >= t.lo && cp <= t.hi; break;
    case Term::Letter: m = unicode::isLetter(cp); break;
    case Term::Number: m = unicode::isNumber(cp); break;
    case Term::Space: m = unicode::isWhiteSpace(cp); break;
    }
    if (m != t.negated) {
      any = true;
      break;
    }
  }
  return any != negated;
}

Result<SplitPattern> SplitPattern::compile(std::string_view pattern) {
  SplitPattern p;
  Parser parser(unicode::decodeUtf8(pattern));
  if (Status s = parser.parse(p.alternatives_); !s.ok())
    return s;
  for (Alternative &alt : p.alternatives_) {
    for (Item &item : alt.items)
      item.cls.tabulate();
    alt.lookahead.tabulate();
    // A match starts with a character of the first item that must match
    // (or of an optional one before it).
    alt.anyStart = true;
    for (const Item &item : alt.items) {
      for (char32_t cp = 0; cp < 256; ++cp)
        if (item.cls.tabulatedMatch(cp))
          alt.start[cp >> 6] |= uint64_t(1) << (cp & 63);
      if (item.min > 0) {
        alt.anyStart = false;
        break;
      }
    }
  }
  return p;
}

size_t SplitPattern::matchAt(const Alternative &alt, size_t item, std::u32string_view text,
                             size_t pos) const {
  if (item == alt.items.size()) {
    if (alt.hasLookahead && pos < text.size() && alt.lookahead.matches(text[pos]))
      return kNoMatch;
    return pos;
  }
  const Item &it = alt.items[item];
  size_t limit = it.max < 0 ? text.size() - pos : std::min<size_t>(it.max, text.size() - pos);
  size_t n = 0;
  while (n < limit && it.cls.matches(text[pos + n]))
    ++n;
  // Greedy, giving back one character at a time.
  for (size_t k = n + 1; k-- > static_cast<size_t>(it.min);) {
    size_t end = matchAt(alt, item + 1, text, pos + k);
    if (end != kNoMatch)
      return end;
  }
  return kNoMatch;
}

bool SplitPattern::find(std::u32string_view text, size_t from, size_t &begin, size_t &end) const {
  for (size_t pos = from; pos < text.size(); ++pos)
    for (const Alternative &alt : alternatives_) {
      char32_t c = text[pos];
      if (c < 256 && !alt.anyStart && !((alt.start[c >> 6] >> (c & 63)) & 1))
        continue; // no match of this alternative starts here
      size_t e = matchAt(alt, 0, text, pos);
      if (e != kNoMatch && e > pos) {
        begin = pos;
        end = e;
        return true;
      }
    }
  return false;
}
