//===- DocumentReader.h - the documents of a corpus file ------------------===//
//
// A corpus file is text (one document, cut into pieces of about 64 KiB at
// blank lines) or JSON lines (one document per line: its text field, as
// SlimPajama, RedPajama, C4 and The Pile ship them), each plain, gzip or
// zstd compressed (told by the file's first bytes). Files are streamed:
// memory stays bounded by the largest document, not the file.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TOOLS_SHEAR_DATA_DOCUMENTREADER_H
#define SHEAR_TOOLS_SHEAR_DATA_DOCUMENTREADER_H

#include "llvm/ADT/FunctionExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace shear {

enum class CorpusFormat { Auto, Text, JsonLines, RawLines /* every line as it is, blank ones too */ };

struct ReadOptions {
  CorpusFormat format = CorpusFormat::Auto; // Auto: JSON lines for *.jsonl[.gz|.zst], *.json.gz|.zst
  std::string textField = "text";
  bool strict = false; // a malformed JSON line is an error, not skipped
};

/// What reading found, summed over files.
struct ReadStats {
  int64_t bytes = 0;     // decompressed (JSON syntax included)
  int64_t fileBytes = 0; // read from disk
  int64_t textBytes = 0; // of the documents' text
  int64_t documents = 0, malformed = 0;
  std::vector<std::string> examples; // the first malformed lines: "FILE:LINE: what"
};

/// The format `path` is read as.
CorpusFormat formatOf(const std::string &path, CorpusFormat requested);

/// Calls `each` with every document of `path` in order until it returns
/// false. Errors name the file (and the line for JSON lines): unreadable or
/// corrupt files, truncated compressed data, binary data in a text file, and
/// under `strict` a malformed line.
llvm::Error readDocuments(const std::string &path, const ReadOptions &options, ReadStats &stats,
                          llvm::function_ref<bool(llvm::StringRef)> each);

} // namespace shear

#endif
