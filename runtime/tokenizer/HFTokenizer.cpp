//===- HFTokenizer.cpp - tokenizer.json (HF tokenizers' format) -----------===//
#include "shear/Tokenizer/HFTokenizer.h"

#include "shear/Support/Files.h"
#include "shear/Support/Json.h"
#include "shear/Tokenizer/SplitPattern.h"
#include "shear/Tokenizer/Unicode.h"

#include <algorithm>
#include <optional>
#include <queue>
#include <sys/stat.h>
#include <unordered_map>

using namespace shear;
using json::Value;

namespace {
const char32_t kMetaspace = 0x2581; // ▁

/// GPT-2's byte-level alphabet: every byte as a printable code point.
struct ByteAlphabet {
  char32_t toChar[256];
  std::unordered_map<char32_t, uint8_t> toByte;
  ByteAlphabet() {
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      toChar[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      toByte[toChar[b]] = static_cast<uint8_t>(b);
    }
  }
};
const ByteAlphabet &byteAlphabet() {
  static const ByteAlphabet a;
  return a;
}

struct AddedToken {
  std::string content;
  uint32_t id = 0;
  bool special = false, normalized = false, lstrip = false, rstrip = false, singleWord = false;
};

struct NormalizerStep {
  enum Kind { Prepend, Replace } kind;
  std::u32string a, b;
};

struct PreTokenizerStep {
  enum Kind { Split, ByteLevel, Metaspace, Digits } kind;
  // Split
  std::optional<SplitPattern> regex;
  std::u32string literal;
  enum Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous } behavior = Isolated;
  bool invert = false;
  // ByteLevel
  bool addPrefixSpace = false, useRegex = true;
  // Metaspace
  char32_t replacement = kMetaspace;
  enum Scheme { Always, First, Never } prepend = Always;
  bool split = true;
  // Digits
  bool individualDigits = false;
};

struct DecoderStep {
  enum Kind { ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace } kind;
  std::string a, b;            // Replace: from, to; Strip: content
  int64_t start = 0, stop = 0; // Strip
  char32_t replacement = kMetaspace;
  bool prependSpace = true; // Metaspace: the first token's leading space was added
};

/// A piece of text on its way to the model; `first`: it starts the input
/// (Metaspace's prepend_scheme "first").
struct Piece {
  std::u32string text;
  bool first = false;
};

Status bad(const std::string &file, const std::string &what) { return fileError(file, what); }

/// A token named in tokenizer_config.json: a string or an AddedToken object.
const std::string *tokenName(const Value *v) {
  if (!v)
    return nullptr;
  if (const std::string *s = v->asString())
    return s;
  return v->getString("content");
}

std::u32string u32(const std::string &s) { return unicode::decodeUtf8(s); }

/// Cuts `pieces` at the matches of a Split step (HF's split behaviours).
void splitPieces(const PreTokenizerStep &step, std::vector<Piece> &pieces) {
  std::vector<Piece> out;
  for (Piece &p : pieces) {
    // Spans: [begin, end) and whether it is a match.
    struct Span {
      size_t b, e;
      bool match;
    };
    std::vector<Span> spans;
    size_t at = 0, mb, me;
    auto next = [&](size_t from, size_t &b, size_t &e) {
      if (step.regex)
        return step.regex->find(p.text, from, b, e);
      if (step.literal.empty())
        return false;
      size_t f = p.text.find(step.literal, from);
      if (f == std::u32string::npos)
        return false;
      b = f;
      e = f + step.literal.size();
      return true;
    };
    while (at < p.text.size() && next(at, mb, me)) {
      if (mb > at)
        spans.push_back({at, mb, false});
      spans.push_back({mb, me, true});
      at = me;
    }
    if (at < p.text.size())
      spans.push_back({at, p.text.size(), false});
    if (step.invert)
      for (Span &s : spans)
        s.match = !s.match;
    std::vector<std::pair<size_t, size_t>> cut;
    switch (step.behavior) {
    case PreTokenizerStep::Isolated:
      for (const Span &s : spans)
        cut.emplace_back(s.b, s.e);
      break;
    case PreTokenizerStep::Removed:
      for (const Span &s : spans)
        if (!s.match)
          cut.emplace_back(s.b, s.e);
      break;
    case PreTokenizerStep::MergedWithPrevious:
      for (const Span &s : spans)
        if (s.match && !cut.empty())
          cut.back().second = s.e;
        else
          cut.emplace_back(s.b, s.e);
      break;
    case PreTokenizerStep::MergedWithNext: {
      bool pending = false;
      for (const Span &s : spans) {
        if (pending)
          cut.back().second = s.e;
        else
          cut.emplace_back(s.b, s.e);
        pending = s.match;
      }
      break;
    }
    case PreTokenizerStep::Contiguous: {
      bool lastMatch = false;
      for (const Span &s : spans) {
        if (s.match && lastMatch && !cut.empty())
          cut.back().second = s.e;
        else
          cut.emplace_back(s.b, s.e);
        lastMatch = s.match;
      }
      break;
    }
    }
    for (size_t k = 0; k < cut.size(); ++k)
      out.push_back({p.text.substr(cut[k].first, cut[k].second - cut[k].first), p.first && k == 0});
  }
  pieces = std::move(out);
}
} // namespace

struct HFTokenizer::Impl {
  std::string file;
  std::unordered_map<std::string, uint32_t> vocab;
  /// vocab's ids of the single characters below kSingleChars (-1: none),
  /// which BPE looks up for every character of every word.
  static constexpr char32_t kSingleChars = 0x800;
  std::vector<int64_t> singleChar;
  std::vector<std::string> idToToken; // model vocabulary and added tokens
  std::vector<bool> isSpecial;
  std::unordered_map<uint64_t, std::pair<uint32_t, uint32_t>> merges; // (a, b) → (rank, merged)
  std::vector<AddedToken> added;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> preTokenizer;
  std::vector<DecoderStep> decoder;
  std::vector<uint32_t> prefix, suffix; // TemplateProcessing's single
  bool byteFallback = false, ignoreMerges = false, fuseUnk = false;
  int64_t unk = -1, bos = -1, eos = -1;
  bool byteLevel = false; // a ByteLevel pre-tokenizer maps bytes to characters

  Status parseNormalizer(const Value &v);
  Status parsePreTokenizer(const Value &v);
  Status parseDecoder(const Value &v);
  Status parsePostProcessor(const Value &v);
  int64_t idOf(const std::string &token) const {
    auto it = vocab.find(token);
    return it == vocab.end() ? int64_t(-1) : int64_t(it->second);
  }

  void splitAdded(const std::u32string &text, bool normalizedPass, bool first,
                  std::vector<std::pair<Piece, int64_t>> &out) const;
  std::u32string normalize(std::u32string s) const;
  void encodePiece(Piece piece, std::vector<uint32_t> &ids) const;
  void bpe(const std::u32string &word, std::vector<uint32_t> &ids) const;
};

Status HFTokenizer::Impl::parseNormalizer(const Value &v) {
  if (v.isNull())
    return Status::success();
  const std::string *type = v.getString("type");
  if (!type)
    return bad(file, "normalizer without a type");
  if (*type == "Sequence") {
    const json::Array *list = v.getArray("normalizers");
    if (!list)
      return bad(file, "normalizer Sequence without normalizers");
    for (const Value &n : *list)
      if (Status s = parseNormalizer(n); !s.ok())
        return s;
    return Status::success();
  }
  if (*type == "Prepend") {
    const std::string *p = v.getString("prepend");
    if (!p)
      return bad(file, "normalizer Prepend without prepend");
    normalizer.push_back({NormalizerStep::Prepend, u32(*p), {}});
    return Status::success();
  }
  if (*type == "Replace") {
    const Value *pattern = v.get("pattern");
    const std::string *from = pattern ? pattern->getString("String") : nullptr;
    const std::string *to = v.getString("content");
    if (!from || !to)
      return bad(file, "normalizer Replace: only {\"String\": ...} patterns are supported");
    normalizer.push_back({NormalizerStep::Replace, u32(*from), u32(*to)});
    return Status::success();
  }
  return bad(file, "unsupported normalizer '" + *type +
                       "' (supported: Sequence, Prepend, Replace)");
}

Status HFTokenizer::Impl::parsePreTokenizer(const Value &v) {
  if (v.isNull())
    return Status::success();
  const std::string *type = v.getString("type");
  if (!type)
    return bad(file, "pre_tokenizer without a type");
  if (*type == "Sequence") {
    const json::Array *list = v.getArray("pretokenizers");
    if (!list)
      return bad(file, "pre_tokenizer Sequence without pretokenizers");
    for (const Value &p : *list)
      if (Status s = parsePreTokenizer(p); !s.ok())
        return s;
    return Status::success();
  }
  PreTokenizerStep step;
  if (*type == "Split") {
    step.kind = PreTokenizerStep::Split;
    const Value *pattern = v.get("pattern");
    if (const std::string *re = pattern ? pattern->getString("Regex") : nullptr) {
      auto compiled = SplitPattern::compile(*re);
      if (!compiled.ok())
        return compiled.status().prefixed(file + ": pre_tokenizer Split: ");
      step.regex = compiled.take();
    } else if (const std::string *lit = pattern ? pattern->getString("String") : nullptr) {
      step.literal = u32(*lit);
    } else {
      return bad(file, "pre_tokenizer Split without a pattern");
    }
    const std::string *behavior = v.getString("behavior");
    static const std::pair<const char *, PreTokenizerStep::Behavior> kinds[] = {
        {"Removed", PreTokenizerStep::Removed},
        {"Isolated", PreTokenizerStep::Isolated},
        {"MergedWithPrevious", PreTokenizerStep::MergedWithPrevious},
        {"MergedWithNext", PreTokenizerStep::MergedWithNext},
        {"Contiguous", PreTokenizerStep::Contiguous}};
    bool found = false;
    for (const auto &[name, b] : kinds)
      if (behavior && *behavior == name) {
        step.behavior = b;
        found = true;
      }
    if (!found)
      return bad(file, "pre_tokenizer Split: unknown behavior");
    step.invert = v.getBool("invert").value_or(false);
  } else if (*type == "ByteLevel") {
    step.kind = PreTokenizerStep::ByteLevel;
    step.addPrefixSpace = v.getBool("add_prefix_space").value_or(false);
    step.useRegex = v.getBool("use_regex").value_or(true);
    if (step.useRegex) {
      auto gpt2 = SplitPattern::compile(
          R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
      if (!gpt2.ok())
        return internalError("GPT-2 pattern: " + gpt2.status().message());
      step.regex = gpt2.take();
    }
    byteLevel = true;
  } else if (*type == "Metaspace") {
    step.kind = PreTokenizerStep::Metaspace;
    if (const std::string *r = v.getString("replacement")) {
      std::u32string r32 = u32(*r);
      if (r32.size() != 1)
        return bad(file, "pre_tokenizer Metaspace: the replacement must be one character");
      step.replacement = r32[0];
    }
    if (const std::string *scheme = v.getString("prepend_scheme")) {
      if (*scheme == "always")
        step.prepend = PreTokenizerStep::Always;
      else if (*scheme == "first")
        step.prepend = PreTokenizerStep::First;
      else if (*scheme == "never")
        step.prepend = PreTokenizerStep::Never;
      else
        return bad(file, "pre_tokenizer Metaspace: unknown prepend_scheme '" + *scheme + "'");
    } else {
      step.prepend = v.getBool("add_prefix_space").value_or(true) ? PreTokenizerStep::Always
                                                                  : PreTokenizerStep::Never;
    }
    step.split = v.getBool("split").value_or(true);
  } else if (*type == "Digits") {
    step.kind = PreTokenizerStep::Digits;
    step.individualDigits = v.getBool("individual_digits").value_or(false);
  } else {
    return bad(file, "unsupported pre_tokenizer '" + *type +
                         "' (supported: Sequence, Split, ByteLevel, Metaspace, Digits)");
  }
  preTokenizer.push_back(std::move(step));
  return Status::success();
}

Status HFTokenizer::Impl::parseDecoder(const Value &v) {
  if (v.isNull())
    return Status::success();
  const std::string *type = v.getString("type");
  if (!type)
    return bad(file, "decoder without a type");
  if (*type == "Sequence") {
    const json::Array *list = v.getArray("decoders");
    if (!list)
      return bad(file, "decoder Sequence without decoders");
    for (const Value &d : *list)
      if (Status s = parseDecoder(d); !s.ok())
        return s;
    return Status::success();
  }
  DecoderStep step;
  if (*type == "ByteLevel") {
    step.kind = DecoderStep::ByteLevel;
  } else if (*type == "ByteFallback") {
    step.kind = DecoderStep::ByteFallback;
  } else if (*type == "Fuse") {
    step.kind = DecoderStep::Fuse;
  } else if (*type == "Strip") {
    step.kind = DecoderStep::Strip;
    const std::string *content = v.getString("content");
    if (!content)
      return bad(file, "decoder Strip without content");
    step.a = *content;
    step.start = v.getInteger("start").value_or(0);
    step.stop = v.getInteger("stop").value_or(0);
  } else if (*type == "Replace") {
    step.kind = DecoderStep::Replace;
    const Value *pattern = v.get("pattern");
    const std::string *from = pattern ? pattern->getString("String") : nullptr;
    const std::string *to = v.getString("content");
    if (!from || !to)
      return bad(file, "decoder Replace: only {\"String\": ...} patterns are supported");
    step.a = *from;
    step.b = *to;
  } else if (*type == "Metaspace") {
    step.kind = DecoderStep::Metaspace;
    if (const std::string *r = v.getString("replacement")) {
      std::u32string r32 = u32(*r);
      if (r32.size() != 1)
        return bad(file, "decoder Metaspace: the replacement must be one character");
      step.replacement = r32[0];
    }
    if (const std::string *scheme = v.getString("prepend_scheme"))
      step.prependSpace = *scheme != "never";
    else
      step.prependSpace = v.getBool("add_prefix_space").value_or(true);
  } else {
    return bad(file, "unsupported decoder '" + *type +
                         "' (supported: Sequence, ByteLevel, ByteFallback, Fuse, Strip, Replace, "
                         "Metaspace)");
  }
  decoder.push_back(std::move(step));
  return Status::success();
}

Status HFTokenizer::Impl::parsePostProcessor(const Value &v) {
  if (v.isNull())
    return Status::success();
  const std::string *type = v.getString("type");
  if (!type)
    return bad(file, "post_processor without a type");
  if (*type == "Sequence") {
    const json::Array *list = v.getArray("processors");
    if (!list)
      return bad(file, "post_processor Sequence without processors");
    for (const Value &p : *list)
      if (Status s = parsePostProcessor(p); !s.ok())
        return s;
    return Status::success();
  }
  if (*type == "ByteLevel")
    return Status::success(); // offsets only
  if (*type != "TemplateProcessing")
    return bad(file, "unsupported post_processor '" + *type +
                         "' (supported: TemplateProcessing, ByteLevel, Sequence)");
  const json::Array *single = v.getArray("single");
  const json::Object *specials = v.getObject("special_tokens");
  if (!single)
    return bad(file, "post_processor TemplateProcessing without single");
  bool seenSequence = false;
  for (const Value &item : *single) {
    if (item.get("Sequence")) {
      seenSequence = true;
      continue;
    }
    const Value *special = item.get("SpecialToken");
    const std::string *name = special ? special->getString("id") : nullptr;
    auto entry = specials && name ? specials->find(*name) : json::Object::const_iterator();
    if (!name || !specials || entry == specials->end())
      return bad(file, "post_processor TemplateProcessing: a special token without its ids");
    const json::Array *ids = entry->second.getArray("ids");
    if (!ids)
      return bad(file, "post_processor TemplateProcessing: special token '" + *name + "' without ids");
    for (const Value &id : *ids) {
      auto i = id.asInteger();
      if (!i || *i < 0 || static_cast<size_t>(*i) >= idToToken.size() || idToToken[*i].empty())
        return bad(file, "post_processor TemplateProcessing: the id of '" + *name +
                             "' is not in the vocabulary");
      (seenSequence ? suffix : prefix).push_back(static_cast<uint32_t>(*i));
    }
  }
  return Status::success();
}

HFTokenizer::HFTokenizer() : impl_(std::make_unique<Impl>()) {}
HFTokenizer::HFTokenizer(HFTokenizer &&) noexcept = default;
HFTokenizer &HFTokenizer::operator=(HFTokenizer &&) noexcept = default;
HFTokenizer::~HFTokenizer() = default;

namespace {
bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}
} // namespace

bool HFTokenizer::isTokenizerJson(const std::string &path) {
  if (isDirectory(path))
    return exists(path + "/tokenizer.json");
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
}

Result<HFTokenizer> HFTokenizer::load(const std::string &path) {
  std::string file = isDirectory(path) ? path + "/tokenizer.json" : path;
  auto text = readFile(file);
  if (!text.ok())
    return text.status();
  // BOS and EOS: tokenizer_config.json beside the file names them.
  size_t slash = file.find_last_of('/');
  std::string configFile = (slash == std::string::npos ? std::string(".") : file.substr(0, slash)) +
                           "/tokenizer_config.json";
  std::string config;
  if (exists(configFile)) {
    auto configText = readFile(configFile);
    if (!configText.ok())
      return configText.status();
    config = configText.take();
    auto parsed = json::parse(config);
    if (!parsed.ok())
      return bad(configFile, "not JSON: " + parsed.status().message());
  }
  return parse(*text, file, config);
}

Result<HFTokenizer> HFTokenizer::parse(std::string_view text, const std::string &file,
                                       std::string_view configText) {
  auto parsed = json::parse(text);
  if (!parsed.ok())
    return bad(file, "not JSON: " + parsed.status().message());
  const Value &root = *parsed;
  HFTokenizer t;
  Impl &m = *t.impl_;
  m.file = file;
  const Value *model = root.get("model");
  if (!model || !model->asObject())
    return bad(file, "no model: not a tokenizer.json");
  const std::string *type = model->getString("type");
  if (!type && model->get("merges"))
    type = nullptr; // old files name no type: BPE when there are merges
  if (type && *type != "BPE")
    return bad(file, "unsupported model type '" + *type + "': only BPE tokenizers (LLaMA, Mistral, "
                     "GPT-2 style) are supported; SentencePiece models are read from tokenizer.model");
  if (!type && !model->get("merges"))
    return bad(file, "the model has no type and no merges");
  for (const char *unsupported : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const std::string *s = model->getString(unsupported); s && !s->empty())
      return bad(file, std::string("unsupported BPE option ") + unsupported);
  if (auto dropout = model->getNumber("dropout"); dropout && *dropout > 0)
    return bad(file, "BPE dropout is for training; a tokenizer with dropout is not supported");
  m.byteFallback = model->getBool("byte_fallback").value_or(false);
  m.ignoreMerges = model->getBool("ignore_merges").value_or(false);
  m.fuseUnk = model->getBool("fuse_unk").value_or(false);

  const json::Object *vocab = model->getObject("vocab");
  if (!vocab)
    return bad(file, "the model has no vocab");
  // Ids number the tokens: they may leave gaps (reserved ids), not gaps
  // far larger than the vocabulary (the table of ids is as large as they).
  const json::Array *addedList = root.getArray("added_tokens");
  const int64_t idLimit = 2 * static_cast<int64_t>(vocab->size() + (addedList ? addedList->size() : 0)) + 1024;
  for (const auto &[token, idValue] : *vocab) {
    auto id = idValue.asInteger();
    if (!id || *id < 0 || *id >= idLimit)
      return bad(file, "vocab: token '" + token + "' has the id " +
                           (id ? std::to_string(*id) : std::string("(not an integer)")) +
                           ", not one of a vocabulary of " + std::to_string(vocab->size()) + " tokens");
    m.vocab[token] = static_cast<uint32_t>(*id);
    if (static_cast<size_t>(*id) >= m.idToToken.size())
      m.idToToken.resize(*id + 1);
    m.idToToken[*id] = token;
  }
  const json::Array *merges = model->getArray("merges");
  if (!merges)
    return bad(file, "the model has no merges");
  for (size_t rank = 0; rank < merges->size(); ++rank) {
    const Value &entry = (*merges)[rank];
    std::string a, b;
    if (const std::string *s = entry.asString()) {
      size_t space = s->find(' ');
      if (space == std::string::npos || s->find(' ', space + 1) != std::string::npos)
        return bad(file, "merges[" + std::to_string(rank) + "]: not two tokens ('" + *s + "')");
      a = s->substr(0, space);
      b = s->substr(space + 1);
    } else if (const json::Array *pair = entry.asArray(); pair && pair->size() == 2 &&
                                                         (*pair)[0].asString() && (*pair)[1].asString()) {
      a = *(*pair)[0].asString();
      b = *(*pair)[1].asString();
    } else {
      return bad(file, "merges[" + std::to_string(rank) + "]: not \"a b\" or [\"a\", \"b\"]");
    }
    int64_t ia = m.idOf(a), ib = m.idOf(b), im = m.idOf(a + b);
    if (ia < 0 || ib < 0 || im < 0)
      return bad(file, "merges[" + std::to_string(rank) + "]: '" + a + "' + '" + b +
                           "' is not in the vocabulary");
    m.merges[(uint64_t(ia) << 32) | uint64_t(ib)] = {static_cast<uint32_t>(rank),
                                                     static_cast<uint32_t>(im)};
  }
  if (const std::string *unk = model->getString("unk_token")) {
    m.unk = m.idOf(*unk);
    if (m.unk < 0)
      return bad(file, "unk_token '" + *unk + "' is not in the vocabulary");
  }

  if (const json::Array *added = addedList) {
    for (const Value &a : *added) {
      AddedToken tok;
      const std::string *content = a.getString("content");
      auto id = a.getInteger("id");
      if (!content || content->empty() || !id)
        return bad(file, "added_tokens: an entry without content or id");
      if (*id < 0 || *id >= idLimit)
        return bad(file, "added_tokens: '" + *content + "' has the id " + std::to_string(*id) +
                             ", far outside a vocabulary of " + std::to_string(vocab->size()) + " tokens");
      tok.content = *content;
      tok.id = static_cast<uint32_t>(*id);
      tok.special = a.getBool("special").value_or(false);
      tok.normalized = a.getBool("normalized").value_or(!tok.special);
      tok.lstrip = a.getBool("lstrip").value_or(false);
      tok.rstrip = a.getBool("rstrip").value_or(false);
      tok.singleWord = a.getBool("single_word").value_or(false);
      if (tok.id >= m.idToToken.size())
        m.idToToken.resize(tok.id + 1);
      m.idToToken[tok.id] = tok.content;
      m.vocab.emplace(tok.content, tok.id);
      m.added.push_back(std::move(tok));
    }
  }
  m.isSpecial.assign(m.idToToken.size(), false);
  for (const AddedToken &a : m.added)
    m.isSpecial[a.id] = a.special;
  m.singleChar.assign(Impl::kSingleChars, -1);
  for (const auto &[token, id] : m.vocab) {
    std::u32string cps = unicode::decodeUtf8(token);
    // Only what vocab.find of the character's UTF-8 would find.
    if (cps.size() == 1 && cps[0] < Impl::kSingleChars && unicode::encodeUtf8(cps) == token)
      m.singleChar[cps[0]] = id;
  }
  // Longest first: matching takes the longest token at the leftmost place.
  std::sort(m.added.begin(), m.added.end(), [](const AddedToken &x, const AddedToken &y) {
    return x.content.size() != y.content.size() ? x.content.size() > y.content.size()
                                                : x.content < y.content;
  });

  if (const Value *n = root.get("normalizer"))
    if (Status s = m.parseNormalizer(*n); !s.ok())
      return s;
  if (const Value *p = root.get("pre_tokenizer"))
    if (Status s = m.parsePreTokenizer(*p); !s.ok())
      return s;
  if (const Value *d = root.get("decoder"))
    if (Status s = m.parseDecoder(*d); !s.ok())
      return s;
  if (const Value *p = root.get("post_processor"))
    if (Status s = m.parsePostProcessor(*p); !s.ok())
      return s;

  // BOS and EOS: tokenizer_config.json's; else the template's single
  // leading token, and the usual names for EOS.
  if (!configText.empty()) {
    auto config = json::parse(configText);
    if (!config.ok())
      return bad(file, "tokenizer_config.json: not JSON: " + config.status().message());
    if (const std::string *b = tokenName(config->get("bos_token")))
      m.bos = m.idOf(*b);
    if (const std::string *e = tokenName(config->get("eos_token")))
      m.eos = m.idOf(*e);
  }
  if (m.bos < 0 && m.prefix.size() == 1)
    m.bos = m.prefix[0];
  if (m.eos < 0)
    for (const char *name : {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"})
      if ((m.eos = m.idOf(name)) >= 0)
        break;
  return t;
}

int64_t HFTokenizer::vocabSize() const { return static_cast<int64_t>(impl_->idToToken.size()); }
int64_t HFTokenizer::bosId() const { return impl_->bos; }
int64_t HFTokenizer::eosId() const { return impl_->eos; }
int64_t HFTokenizer::unkId() const { return impl_->unk; }

// ---------------------------------------------------------------- encoding

/// Splits `text` at the added tokens of one pass (those matched on the raw
/// text, or the normalized ones on normalized text): pieces with id -1 are
/// text, the others tokens.
void HFTokenizer::Impl::splitAdded(const std::u32string &text, bool normalizedPass, bool first,
                                   std::vector<std::pair<Piece, int64_t>> &out) const {
  std::vector<std::pair<std::u32string, const AddedToken *>> candidates;
  for (const AddedToken &a : added)
    if (a.normalized == normalizedPass)
      candidates.emplace_back(u32(a.content), &a);
  auto isWordChar = [](char32_t c) { return unicode::isLetter(c) || unicode::isNumber(c) || c == '_'; };
  size_t start = 0; // of the pending text
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken *hit = nullptr;
    size_t len = 0;
    for (const auto &[content, a] : candidates) {
      if (content.size() > text.size() - pos || text[pos] != content[0] ||
          text.compare(pos, content.size(), content) != 0)
        continue;
      if (a->singleWord && ((pos > 0 && isWordChar(text[pos - 1])) ||
                            (pos + content.size() < text.size() && isWordChar(text[pos + content.size()]))))
        continue;
      hit = a;
      len = content.size();
      break; // longest first
    }
    if (!hit) {
      ++pos;
      continue;
    }
    size_t b = pos, e = pos + len;
    if (hit->lstrip)
      while (b > start && unicode::isWhiteSpace(text[b - 1]))
        --b;
    if (hit->rstrip)
      while (e < text.size() && unicode::isWhiteSpace(text[e]))
        ++e;
    if (b > start)
      out.push_back({Piece{text.substr(start, b - start), first && start == 0}, -1});
    out.push_back({Piece{}, hit->id});
    start = pos = e;
  }
  if (start < text.size())
    out.push_back({Piece{text.substr(start), first && start == 0}, -1});
}

std::u32string HFTokenizer::Impl::normalize(std::u32string s) const {
  for (const NormalizerStep &n : normalizer) {
    if (n.kind == NormalizerStep::Prepend) {
      if (!s.empty())
        s = n.a + s;
    } else if (!n.a.empty()) {
      std::u32string out;
      for (size_t at = 0; at < s.size();) {
        if (s.compare(at, n.a.size(), n.a) == 0) {
          out += n.b;
          at += n.a.size();
        } else {
          out.push_back(s[at++]);
        }
      }
      s = std::move(out);
    }
  }
  return s;
}

void HFTokenizer::Impl::encodePiece(Piece piece, std::vector<uint32_t> &ids) const {
  std::vector<Piece> pieces{std::move(piece)};
  for (const PreTokenizerStep &step : preTokenizer) {
    switch (step.kind) {
    case PreTokenizerStep::Split:
      splitPieces(step, pieces);
      break;
    case PreTokenizerStep::ByteLevel: {
      if (step.addPrefixSpace)
        for (Piece &p : pieces)
          if (p.text.empty() || p.text[0] != ' ')
            p.text.insert(p.text.begin(), U' ');
      if (step.regex)
        splitPieces(step, pieces);
      const ByteAlphabet &alphabet = byteAlphabet();
      for (Piece &p : pieces) {
        std::string bytes = unicode::encodeUtf8(p.text);
        p.text.clear();
        for (unsigned char b : bytes)
          p.text.push_back(alphabet.toChar[b]);
      }
      break;
    }
    case PreTokenizerStep::Metaspace: {
      for (Piece &p : pieces) {
        std::replace(p.text.begin(), p.text.end(), U' ', step.replacement);
        bool prepend = step.prepend == PreTokenizerStep::Always ||
                       (step.prepend == PreTokenizerStep::First && p.first);
        if (prepend && (p.text.empty() || p.text[0] != step.replacement))
          p.text.insert(p.text.begin(), step.replacement);
      }
      if (step.split) {
        PreTokenizerStep cut;
        cut.kind = PreTokenizerStep::Split;
        cut.literal = std::u32string(1, step.replacement);
        cut.behavior = PreTokenizerStep::MergedWithNext;
        splitPieces(cut, pieces);
      }
      break;
    }
    case PreTokenizerStep::Digits: {
      std::vector<Piece> out;
      for (Piece &p : pieces) {
        size_t b = 0;
        bool firstOut = p.first;
        auto flush = [&](size_t e) {
          if (e > b)
            out.push_back({p.text.substr(b, e - b), firstOut});
          firstOut = false;
          b = e;
        };
        for (size_t i = 0; i < p.text.size(); ++i) {
          bool digit = unicode::isNumber(p.text[i]);
          bool prevDigit = i > 0 && unicode::isNumber(p.text[i - 1]);
          if (i > 0 && (digit != prevDigit || (digit && step.individualDigits)))
            flush(i);
        }
        flush(p.text.size());
      }
      pieces = std::move(out);
      break;
    }
    }
  }
  for (const Piece &p : pieces)
    if (!p.text.empty())
      bpe(p.text, ids);
}

/// BPE on one pre-token, as HF merges: the pair of lowest rank first (the
/// leftmost among equals), one merge at a time.
void HFTokenizer::Impl::bpe(const std::u32string &word, std::vector<uint32_t> &ids) const {
  std::string utf8 = unicode::encodeUtf8(word);
  if (ignoreMerges) {
    auto it = vocab.find(utf8);
    if (it != vocab.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  struct Symbol {
    uint32_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  bool lastUnk = false;
  std::string ch;
  for (char32_t c : word) {
    if (c < kSingleChars && singleChar[c] >= 0) {
      symbols.push_back({static_cast<uint32_t>(singleChar[c]), 0, 0, true});
      lastUnk = false;
      continue;
    }
    ch.clear();
    unicode::appendUtf8(ch, c);
    auto it = vocab.find(ch);
    if (it != vocab.end()) {
      symbols.push_back({it->second, 0, 0, true});
      lastUnk = false;
      continue;
    }
    if (byteFallback) {
      std::vector<uint32_t> bytes;
      char name[8];
      for (unsigned char b : ch) {
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        auto bt = vocab.find(name);
        if (bt == vocab.end())
          break;
        bytes.push_back(bt->second);
      }
      if (bytes.size() == ch.size()) {
        for (uint32_t id : bytes)
          symbols.push_back({id, 0, 0, true});
        lastUnk = false;
        continue;
      }
    }
    if (unk >= 0) {
      if (!(fuseUnk && lastUnk))
        symbols.push_back({static_cast<uint32_t>(unk), 0, 0, true});
      lastUnk = true;
    }
  }
  int n = static_cast<int>(symbols.size());
  for (int i = 0; i < n; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    uint32_t rank;
    int pos;
    uint32_t merged;
    bool operator>(const Candidate &o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto pairAt = [&](int left) {
    int right = symbols[left].next;
    if (right < 0)
      return;
    auto it = merges.find((uint64_t(symbols[left].id) << 32) | symbols[right].id);
    if (it != merges.end())
      queue.push({it->second.first, left, it->second.second});
  };
  for (int i = 0; i + 1 < n; ++i)
    pairAt(i);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol &left = symbols[top.pos];
    if (!left.alive || left.next < 0)
      continue;
    Symbol &right = symbols[left.next];
    auto it = merges.find((uint64_t(left.id) << 32) | right.id);
    if (it == merges.end() || it->second.second != top.merged)
      continue; // a stale entry: one side merged since
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0)
      symbols[right.next].prev = top.pos;
    if (left.prev >= 0)
      pairAt(left.prev);
    pairAt(top.pos);
  }
  for (int i = 0; i >= 0 && i < n; i = symbols[i].next)
    ids.push_back(symbols[i].id);
}

std::vector<uint32_t> HFTokenizer::encode(std::string_view text, bool addSpecialTokens) const {
  const Impl &m = *impl_;
  std::vector<uint32_t> ids;
  if (addSpecialTokens)
    ids = m.prefix;
  std::vector<std::pair<Piece, int64_t>> raw;
  m.splitAdded(unicode::decodeUtf8(text), false, true, raw);
  for (auto &[piece, id] : raw) {
    if (id >= 0) {
      ids.push_back(static_cast<uint32_t>(id));
      continue;
    }
    std::vector<std::pair<Piece, int64_t>> normalized;
    m.splitAdded(m.normalize(std::move(piece.text)), true, piece.first, normalized);
    for (auto &[p, nid] : normalized) {
      if (nid >= 0)
        ids.push_back(static_cast<uint32_t>(nid));
      else
        m.encodePiece(std::move(p), ids);
    }
  }
  if (addSpecialTokens)
    ids.insert(ids.end(), m.suffix.begin(), m.suffix.end());
  return ids;
}

// ---------------------------------------------------------------- decoding

Result<std::string> HFTokenizer::decode(const std::vector<uint32_t> &ids, bool skipSpecialTokens) const {
  const Impl &m = *impl_;
  std::vector<std::string> tokens;
  for (uint32_t id : ids) {
    if (id >= m.idToToken.size() || m.idToToken[id].empty())
      return invalidInput("token id " + std::to_string(id) + " is not in the vocabulary of " + m.file);
    if (skipSpecialTokens && m.isSpecial[id])
      continue;
    tokens.push_back(m.idToToken[id]);
  }
  for (const DecoderStep &d : m.decoder) {
    switch (d.kind) {
    case DecoderStep::ByteLevel: {
      const ByteAlphabet &alphabet = byteAlphabet();
      std::string bytes;
      for (const std::string &t : tokens) {
        std::u32string chars = u32(t);
        std::string mapped;
        bool all = true;
        for (char32_t c : chars) {
          auto it = alphabet.toByte.find(c);
          if (it == alphabet.toByte.end()) {
            all = false;
            break;
          }
          mapped.push_back(static_cast<char>(it->second));
        }
        bytes += all ? mapped : t;
      }
      tokens = {unicode::encodeUtf8(unicode::decodeUtf8(bytes))};
      break;
    }
    case DecoderStep::ByteFallback: {
      std::vector<std::string> out;
      std::string pending;
      size_t pendingCount = 0;
      auto flush = [&] {
        if (pendingCount == 0)
          return;
        std::u32string decoded = unicode::decodeUtf8(pending);
        if (decoded.find(0xFFFD) == std::u32string::npos || pending.find("\xEF\xBF\xBD") != std::string::npos)
          out.push_back(pending);
        else
          for (size_t i = 0; i < pendingCount; ++i)
            out.push_back("\xEF\xBF\xBD");
        pending.clear();
        pendingCount = 0;
      };
      for (const std::string &t : tokens) {
        unsigned value;
        if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
            std::sscanf(t.c_str() + 3, "%2x", &value) == 1 && std::isxdigit(static_cast<unsigned char>(t[3])) &&
            std::isxdigit(static_cast<unsigned char>(t[4]))) {
          pending.push_back(static_cast<char>(value));
          ++pendingCount;
        } else {
          flush();
          out.push_back(t);
        }
      }
      flush();
      tokens = std::move(out);
      break;
    }
    case DecoderStep::Fuse: {
      std::string all;
      for (const std::string &t : tokens)
        all += t;
      tokens = {all};
      break;
    }
    case DecoderStep::Strip: {
      std::u32string c = u32(d.a);
      for (std::string &t : tokens) {
        std::u32string s = u32(t);
        size_t b = 0, e = s.size();
        for (int64_t k = 0; k < d.start && b < e && c.size() == 1 && s[b] == c[0]; ++k)
          ++b;
        for (int64_t k = 0; k < d.stop && e > b && c.size() == 1 && s[e - 1] == c[0]; ++k)
          --e;
        t = unicode::encodeUtf8(s.substr(b, e - b));
      }
      break;
    }
    case DecoderStep::Replace:
      for (std::string &t : tokens) {
        std::string out;
        for (size_t at = 0; at < t.size();) {
          if (!d.a.empty() && t.compare(at, d.a.size(), d.a) == 0) {
            out += d.b;
            at += d.a.size();
          } else {
            out.push_back(t[at++]);
          }
        }
        t = std::move(out);
      }
      break;
    case DecoderStep::Metaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        std::u32string s = u32(tokens[i]);
        std::replace(s.begin(), s.end(), d.replacement, U' ');
        if (i == 0 && d.prependSpace && !s.empty() && s[0] == U' ')
          s.erase(0, 1);
        tokens[i] = unicode::encodeUtf8(s);
      }
      break;
    }
  }
  std::string text;
  for (const std::string &t : tokens)
    text += t;
  return text;
}
