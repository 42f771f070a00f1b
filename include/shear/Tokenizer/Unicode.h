//===- Unicode.h - code points, UTF-8 and the classes tokenizers use ------===//
//
// Text reaches the tokenizers as bytes. It is decoded to code points the way
// the WHATWG decoder (TextDecoder, what transformers.js sees) does: every
// maximal invalid subsequence becomes U+FFFD, so invalid UTF-8 never stops a
// run and tokenizes as the reference tokenizes it.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TOKENIZER_UNICODE_H
#define SHEAR_TOKENIZER_UNICODE_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shear::unicode {

/// The code points of `bytes`, invalid sequences replaced by U+FFFD.
std::u32string decodeUtf8(std::string_view bytes);
/// Appends the UTF-8 encoding of `cp`.
void appendUtf8(std::string &out, char32_t cp);
std::string encodeUtf8(std::u32string_view text);

bool isLetter(char32_t cp);     // \p{L}
bool isNumber(char32_t cp);     // \p{N}
bool isWhiteSpace(char32_t cp); // \s: the White_Space property

/// The Unicode version of the class tables.
const char *tableVersion();

} // namespace shear::unicode

#endif
