// libFuzzer target: any bytes through a byte-level BPE tokenizer in
// LLaMA-3's layout (the LLaMA-3 split pattern, ByteLevel, ignore_merges,
// special tokens). Byte-level BPE loses nothing, so decoding the ids must
// give back the text as UTF-8 reads it (invalid bytes as U+FFFD); and the
// split pattern's matches must tile forward through the text.
#include "shear/Tokenizer/HFTokenizer.h"
#include "shear/Tokenizer/SplitPattern.h"
#include "shear/Tokenizer/Unicode.h"
#include "shear/Support/Json.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {
const char *kPattern = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

/// The 256 byte characters, a few merges and two special tokens.
std::string tokenizerJson() {
  using namespace shear::json;
  Object vocab;
  std::vector<std::string> chars;
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    std::string c;
    shear::unicode::appendUtf8(c, printable ? b : 256 + extra++);
    vocab[c] = static_cast<int64_t>(b);
    chars.push_back(c);
  }
  Array merges;
  int64_t next = 256;
  auto merge = [&](const std::string &a, const std::string &b) {
    merges.push_back(Array{a, b});
    if (!vocab.count(a + b))
      vocab[a + b] = next++;
  };
  std::string G = chars[' '];
  merge(G, "t");
  merge("h", "e");
  merge(G + "t", "he");
  merge("e", "r");
  merge(G, G);
  merge(G + G, G + G);
  merge("1", "2");
  vocab["<|begin_of_text|>"] = next;
  Array added{Object{{"id", next}, {"content", "<|begin_of_text|>"}, {"special", true}, {"normalized", false}},
              Object{{"id", next + 1}, {"content", "<|end_of_text|>"}, {"special", true}, {"normalized", false}}};
  vocab["<|end_of_text|>"] = next + 1;
  Object pre{{"type", "Sequence"},
             {"pretokenizers",
              Array{Object{{"type", "Split"}, {"pattern", Object{{"Regex", kPattern}}}, {"behavior", "Isolated"},
                           {"invert", false}},
                    Object{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  Object root{{"added_tokens", added},
              {"normalizer", Value()},
              {"pre_tokenizer", pre},
              {"decoder", Object{{"type", "ByteLevel"}}},
              {"model", Object{{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab}, {"merges", merges}}}};
  return write(Value(root));
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static auto tokenizer = shear::HFTokenizer::parse(tokenizerJson(), "fuzz");
  static auto pattern = shear::SplitPattern::compile(kPattern);
  if (!tokenizer.ok() || !pattern.ok())
    __builtin_trap();
  std::string_view text(reinterpret_cast<const char *>(data), size);
  std::vector<uint32_t> ids = tokenizer->encode(text);
  auto back = tokenizer->decode(ids, false);
  std::string expected = shear::unicode::encodeUtf8(shear::unicode::decodeUtf8(text));
  if (!back.ok() || *back != expected)
    __builtin_trap();
  std::u32string cps = shear::unicode::decodeUtf8(text);
  size_t at = 0, b, e;
  while (pattern->find(cps, at, b, e)) {
    if (b < at || e <= b || e > cps.size())
      __builtin_trap();
    at = e;
  }
  return 0;
}
