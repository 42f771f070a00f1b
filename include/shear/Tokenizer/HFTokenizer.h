//===- HFTokenizer.h - tokenizer.json (HF tokenizers' format) -------------===//
//
// The tokenizers that LLaMA-3, Mistral and most HF models ship as
// tokenizer.json, implemented here from the format: added and special tokens
// (matched in the text first, longest at the leftmost place), normalizers
// (Prepend, Replace, Sequence), pre-tokenizers (Split with the patterns of
// SplitPattern.h, ByteLevel, Metaspace, Digits, Sequence), the BPE model (byte
// level or with byte fallback, ignore_merges, unk), decoders (ByteLevel,
// ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence) and the
// TemplateProcessing that adds BOS/EOS. Anything else is refused when the file
// is loaded, naming the file and the part, never tokenized differently.
//
// Text is bytes; invalid UTF-8 reads as U+FFFD (Unicode.h). Encoding and
// decoding are const and safe to call from many threads at once.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TOKENIZER_HFTOKENIZER_H
#define SHEAR_TOKENIZER_HFTOKENIZER_H

#include "shear/Support/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shear {

class HFTokenizer {
public:
  /// Loads DIR/tokenizer.json or the file PATH (a tokenizer_config.json beside
  /// it, when present, names BOS and EOS).
  static Result<HFTokenizer> load(const std::string &path);
  /// A tokenizer.json's text; `name` names it in messages. `config`: the
  /// text of tokenizer_config.json, or empty.
  static Result<HFTokenizer> parse(std::string_view json, const std::string &name,
                                   std::string_view config = {});
  /// Whether `path` names a tokenizer.json or a directory holding one.
  static bool isTokenizerJson(const std::string &path);

  /// Token ids of `text`; with `addSpecialTokens`, the post-processor's
  /// (BOS for LLaMA-3).
  std::vector<uint32_t> encode(std::string_view text, bool addSpecialTokens = false) const;
  /// The text of `ids` (ids outside the vocabulary are an error);
  /// `skipSpecialTokens` drops special added tokens (BOS, EOS, ...).
  Result<std::string> decode(const std::vector<uint32_t> &ids, bool skipSpecialTokens) const;

  int64_t vocabSize() const;
  int64_t bosId() const; // -1 when there is none
  int64_t eosId() const;
  int64_t unkId() const;

  HFTokenizer(HFTokenizer &&) noexcept;
  HFTokenizer &operator=(HFTokenizer &&) noexcept;
  ~HFTokenizer();

  struct Impl;

private:
  HFTokenizer();
  std::unique_ptr<Impl> impl_;
};

} // namespace shear

#endif
