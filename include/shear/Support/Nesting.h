//===- Nesting.h - how deeply a text's brackets nest, before parsing it ---===//
//
// MLIR's parser recurses once per nested bracket ([[[[…, {{{{…, <<<<…): a
// module file a few kilobytes long can overflow the stack. The module readers
// measure the nesting first and refuse a file deeper than any module shear
// writes could be.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_NESTING_H
#define SHEAR_SUPPORT_NESTING_H

#include <cstddef>
#include <string>
#include <string_view>

namespace shear {

/// The deepest nesting of ( [ { < in MLIR text, outside string literals and
/// // comments; the '>' of "->" and ">=" closes nothing, and a closer whose
/// opener is not open is ignored. Linear in the text's length.
size_t bracketNesting(std::string_view text);

/// Deeper than this, a module file is refused (shear's own nest under 20).
constexpr size_t kMaxModuleNesting = 256;

/// Empty when `text` (the file at `path`) nests within kMaxModuleNesting,
/// else the message saying it does not.
std::string moduleNestingError(std::string_view text, const std::string &path);

} // namespace shear

#endif
