// libFuzzer target: tokenizer.json text (HFTokenizer::parse: every field the
// format has, merges, added tokens, patterns). When one loads, a fixed text
// with special tokens, invalid UTF-8 and long whitespace is encoded and the
// ids decoded: no crash, no id outside the vocabulary.
#include "shear/Tokenizer/HFTokenizer.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto t = shear::HFTokenizer::parse(text, "fuzz.json");
  if (!t.ok())
    return 0;
  static const std::string sample = "Hello <s> w\xC3\xB6rld\t\t  12345 \xFF\xE2\x82 it's\r\n\n   "
                                    "\xF0\x9F\x98\x80 <|begin_of_text|>a b";
  for (bool special : {false, true}) {
    std::vector<uint32_t> ids = t->encode(sample, special);
    for (uint32_t id : ids)
      if (static_cast<int64_t>(id) >= t->vocabSize())
        __builtin_trap();
    (void)t->decode(ids, !special);
  }
  return 0;
}
