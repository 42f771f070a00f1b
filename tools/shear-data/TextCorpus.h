//===- TextCorpus.h - text domains to token sequences ---------------------===//
#ifndef SHEAR_TOOLS_SHEAR_DATA_TEXTCORPUS_H
#define SHEAR_TOOLS_SHEAR_DATA_TEXTCORPUS_H

#include "DocumentReader.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace shear {

/// One `name=PATH[:GLOB,GLOB]` argument: a file, or a directory searched
/// recursively for files whose name matches one of the globs (all if none)
/// and none of the `!GLOB` exclusions.
struct TextSource {
  std::string domain, path;
  std::vector<std::string> globs;
};

struct TextOptions {
  int64_t seqLen = 0, evalSeqs = 0;
  std::string outDir;
  std::string tokenizer;          // tokenizer.model, tokenizer.json or a directory; "": train one
  int64_t vocabSize = 8000;       // when training one
  int64_t sampleBytes = 4 << 20;  // per domain, for training the tokenizer
  int64_t maxBytes = 0;           // per domain; 0: everything
  std::string spmPath;            // the shear-spm binary
  ReadOptions read;               // text or JSON lines, the text field, strictness
  unsigned threads = 1;           // tokenizer threads
};

/// Builds DATA_DIR from text: tokenizer, per-domain train/eval shards and a
/// manifest recording how (docs/data-format.md). Streams: documents are read,
/// tokenized and written one at a time.
/// The tokenizer's file name in DATA_DIR: tokenizer.json for HF
/// tokenizers, tokenizer.model for SentencePiece (given or trained).
std::string tokenizerFileName(const TextOptions &options);

/// Copies a given tokenizer (a file, or a directory's tokenizer.json or
/// tokenizer.model, with the HF configuration beside it) into DATA_DIR,
/// after checking that shear-spm loads it.
llvm::Error copyTokenizer(const std::string &tokenizer, const std::string &outDir,
                          const std::string &spmPath);

llvm::Error packText(const std::vector<TextSource> &sources, const TextOptions &options);

} // namespace shear

#endif
