//===- ChatCorpus.h - conversations to training sequences with loss masks -===//
//
// shear-data chat: ShareGPT ({"conversations": [{"from", "value"}]}) and
// OpenAI-style ({"messages": [{"role", "content"}]}) JSON lines rendered with
// the Vicuna v1.1 template, tokenized, and packed (or padded) into sequences
// whose loss mask keeps only the assistant's tokens (docs/data-format.md).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TOOLS_SHEAR_DATA_CHATCORPUS_H
#define SHEAR_TOOLS_SHEAR_DATA_CHATCORPUS_H

#include "shear/Support/ChatTemplate.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace shear {

struct ChatOptions {
  int64_t seqLen = 0, evalSeqs = 0;
  std::string outDir, tokenizer, spmPath;
  std::string domain = "chat";
  std::string system = defaultSystemPrompt();
  bool pad = false;    // one conversation per sequence (padded), not packed
  bool strict = false; // a malformed line is an error, not skipped
};

llvm::Error packChat(const std::vector<std::string> &files, const ChatOptions &options);

} // namespace shear

#endif
