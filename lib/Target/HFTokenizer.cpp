//===- HFTokenizer.cpp - the tokenizer files of an exported model ---------===//
//
// An exported HF directory is usable only with its tokenizer. The model
// carries where its tokenizer is (ModelConfig::tokenizer: the directory it
// was imported from, or a SentencePiece tokenizer.model such as shear-data's);
// the export copies HF tokenizer files as they are and converts a
// SentencePiece model into the missing ones with shear-spm (tokenizer.json
// in the fast-tokenizer format, tokenizer_config.json,
// special_tokens_map.json).
//
//===----------------------------------------------------------------------===//
#include "shear/Target/HF.h"

#include "shear/Support/Files.h"
#include "shear/Support/Json.h"
#include "shear/Support/Process.h"
#include "shear/Target/ArtifactPaths.h"

#include <filesystem>

using namespace shear;
using llvm::Error;

namespace {
const char *const kTokenizerFiles[] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                       "special_tokens_map.json", "added_tokens.json"};

Error copyFile(const std::string &from, const std::string &to) {
  auto bytes = readFile(from);
  if (!bytes.ok())
    return toLlvm(bytes.status());
  return toLlvm(writeFileAtomically(to, *bytes));
}

/// The SentencePiece model's size must fit the model's vocabulary.
Error checkSpmVocab(const std::string &spm, const std::string &model, int64_t vocab) {
  auto info = runProgram(spm, {"info", "--model", model});
  if (!info.ok())
    return llvmFileError(model, info.status().message());
  auto json = json::parse(*info);
  auto size = json.ok() ? json->getNumber("vocab_size") : std::nullopt;
  if (!size)
    return llvmFileError(model, "shear-spm info gave no vocabulary size");
  if (*size > vocab)
    return llvmFileError(model, "the tokenizer has " + std::to_string(int64_t(*size)) +
                                    " pieces but the model's vocabulary has " +
                                    std::to_string(vocab) + " entries: not this model's tokenizer");
  return Error::success();
}
/// A fast tokenizer as given: its ids must fit the model.
Error checkFastTokenizer(const std::string &copy, const std::string &source, int64_t vocab) {
  auto text = readFile(copy);
  auto json = text.ok() ? json::parse(*text) : Result<json::Value>(text.status());
  const json::Object *m = json.ok() ? json->getObject("model") : nullptr;
  const json::Object *v = nullptr;
  if (m)
    if (auto it = m->find("vocab"); it != m->end())
      v = it->second.asObject();
  if (!v)
    return llvmFileError(source, "has no model.vocab");
  for (const auto &[piece, id] : *v)
    if (!id.asInteger() || *id.asInteger() < 0 || *id.asInteger() >= vocab)
      return llvmFileError(source, "piece '" + piece + "' has an id outside the model's vocabulary of " +
                                       std::to_string(vocab));
  return Error::success();
}
} // namespace

Error shear::writeTokenizerFiles(const std::string &source, const std::string &dir, int64_t vocab,
                                 int64_t maxLength, const std::string &spm) {
  if (!pathExists(source))
    return llvmFileError(source, "the model's tokenizer is not there any more: give "
                                 "--tokenizer PATH (a tokenizer.model or a directory of HF "
                                 "tokenizer files), or --tokenizer none");
  std::string model; // a SentencePiece model to convert from, if any
  if (isDirectory(source)) {
    for (const char *f : kTokenizerFiles)
      if (pathExists(joinPath(source, f)))
        if (Error e = copyFile(joinPath(source, f), joinPath(dir, f)))
          return e;
    if (pathExists(joinPath(dir, "tokenizer.json")))
      return checkFastTokenizer(joinPath(dir, "tokenizer.json"), joinPath(source, "tokenizer.json"), vocab);
    model = joinPath(source, "tokenizer.model");
    if (!pathExists(model))
      return llvmFileError(source, "has neither tokenizer.json nor tokenizer.model");
  } else if (llvm::StringRef(source).ends_with(".json")) {
    // A tokenizer.json file (shear-data's DATA_DIR/tokenizer.json): it and
    // the configuration files beside it.
    if (Error e = copyFile(source, joinPath(dir, "tokenizer.json")))
      return e;
    std::string from = std::filesystem::path(source).parent_path().string();
    for (const char *f : {"tokenizer_config.json", "special_tokens_map.json"})
      if (pathExists(joinPath(from, f)))
        if (Error e = copyFile(joinPath(from, f), joinPath(dir, f)))
          return e;
    return checkFastTokenizer(joinPath(dir, "tokenizer.json"), source, vocab);
  } else {
    model = source;
  }
  if (spm.empty() || !pathExists(spm))
    return llvmFileError(model, "converting a SentencePiece model needs shear-spm beside this "
                                "tool (built with SentencePiece)");
  if (Error e = checkSpmVocab(spm, model, vocab))
    return e;
  // Converted into a scratch directory; what the source did not have is kept.
  std::string scratch = joinPath(dir, ".tokenizer.tmp");
  (void)removeAll(scratch);
  if (Error e = toLlvm(createDirectories(scratch)))
    return e;
  auto made = runProgram(spm, {"hf", "--model", model, "--out", scratch, "--max-length",
                               std::to_string(maxLength)});
  if (!made.ok()) {
    (void)removeAll(scratch);
    return llvmFileError(model, made.status().message());
  }
  for (const char *f : kTokenizerFiles) {
    std::string from = joinPath(scratch, f), to = joinPath(dir, f);
    if (pathExists(from) && !pathExists(to))
      if (std::rename(from.c_str(), to.c_str()) != 0) {
        (void)removeAll(scratch);
        return llvmFileError(to, "cannot move into place");
      }
  }
  (void)removeAll(scratch);
  return Error::success();
}
