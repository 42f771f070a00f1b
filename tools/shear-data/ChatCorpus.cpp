//===- ChatCorpus.cpp - conversations to training sequences with loss masks //
#include "ChatCorpus.h"
#include "DocumentReader.h"
#include "TextCorpus.h"

#include "shear/Runtime/Dataset.h"
#include "shear/Support/Files.h"
#include "shear/Support/Json.h"
#include "shear/Support/Process.h"
#include "shear/Target/ArtifactPaths.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <unistd.h>

using namespace shear;
using llvm::Error;

namespace {
Error chatError(const std::string &where, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), (where + ": " + what).str());
}

struct Conversation {
  std::string system;
  std::vector<std::pair<std::string, std::string>> turns; // (user, assistant)
};

/// A line's conversation, or why it is not one.
std::string parseConversation(llvm::StringRef line, Conversation &c) {
  auto value = json::parse(std::string_view(line.data(), line.size()));
  if (!value.ok())
    return "not JSON (" + value.status().message() + ")";
  const json::Array *list = value->getArray("conversations");
  const char *roleKey = "from", *textKey = "value";
  if (!list) {
    list = value->getArray("messages");
    roleKey = "role";
    textKey = "content";
  }
  if (!list)
    return "no 'conversations' (ShareGPT) or 'messages' (OpenAI) array";
  std::string pendingUser;
  bool haveUser = false;
  for (size_t i = 0; i < list->size(); ++i) {
    const json::Value &m = (*list)[i];
    const std::string *role = m.getString(roleKey), *text = m.getString(textKey);
    if (!role || !text)
      return "message " + std::to_string(i) + " has no string '" + roleKey + "' and '" + textKey + "'";
    if (*role == "system") {
      c.system = *text;
    } else if (*role == "human" || *role == "user") {
      if (haveUser) // two user turns in a row: the first gets no answer
        pendingUser += "\n" + *text;
      else
        pendingUser = *text;
      haveUser = true;
    } else if (*role == "gpt" || *role == "assistant" || *role == "chatgpt" || *role == "bing" ||
               *role == "bard") {
      if (!haveUser)
        continue; // an answer to nothing (ShareGPT has some): skipped
      c.turns.emplace_back(pendingUser, *text);
      haveUser = false;
    } else {
      return "message " + std::to_string(i) + " has the unknown role '" + *role + "'";
    }
  }
  if (c.turns.empty())
    return "no user message followed by an answer";
  return "";
}

bool writeFile(const std::string &path, const void *data, size_t bytes) {
  return writeFileAtomically(path, std::string_view(static_cast<const char *>(data), bytes)).ok();
}
} // namespace

Error shear::packChat(const std::vector<std::string> &files, const ChatOptions &o) {
  if (Error e = toLlvm(createDirectories(o.outDir)))
    return e;
  if (Error e = copyTokenizer(o.tokenizer, o.outDir, o.spmPath))
    return e;
  TextOptions named;
  named.tokenizer = o.tokenizer;
  std::string model = joinPath(o.outDir, tokenizerFileName(named));
  auto info = runProgram(o.spmPath, {"info", "--model", model});
  if (!info.ok())
    return chatError(model, info.status().message());
  auto infoJson = json::parse(*info);
  if (!infoJson.ok())
    return chatError(model, "unexpected tokenizer info");
  int64_t vocab = infoJson->getInteger("vocab_size").value_or(0);
  int64_t bos = infoJson->getInteger("bos_id").value_or(-1), eos = infoJson->getInteger("eos_id").value_or(-1);
  if (eos < 0)
    return chatError(model, "the tokenizer has no EOS token: answers could not end");

  // Conversations.
  std::vector<Conversation> conversations;
  ReadOptions read;
  read.format = CorpusFormat::RawLines;
  int64_t malformed = 0;
  std::vector<std::string> examples;
  for (const std::string &f : files) {
    ReadStats stats;
    int64_t line = 0;
    Error failed = Error::success();
    if (Error e = readDocuments(f, read, stats, [&](llvm::StringRef text) {
          ++line;
          if (text.trim().empty())
            return true;
          Conversation c;
          c.system = o.system;
          std::string why = parseConversation(text, c);
          if (why.empty()) {
            conversations.push_back(std::move(c));
            return true;
          }
          ++malformed;
          std::string where = f + ":" + std::to_string(line) + ": " + why;
          if (o.strict) {
            failed = llvm::createStringError(llvm::inconvertibleErrorCode(), where);
            return false;
          }
          if (examples.size() < 5)
            examples.push_back(where);
          return true;
        }))
      return e;
    if (failed)
      return failed;
    llvm::consumeError(std::move(failed));
  }
  if (malformed > 0) {
    llvm::errs() << llvm::formatv("shear-data: warning: {0} lines are not conversations and were "
                                  "skipped (--strict makes them an error), e.g.\n",
                                  malformed);
    for (const std::string &e : examples)
      llvm::errs() << "  " << e << "\n";
  }
  if (conversations.empty())
    return chatError(files.empty() ? o.outDir : files.front(), "holds no conversation");

  // Every turn's prompt and prompt + answer, tokenized in one shear-spm call:
  // the answer's tokens are those past the prompt's (the prompt ends in
  // "ASSISTANT:", and the answer starts a new word).
  std::string scratch = joinPath(o.outDir, ".chat-texts-" + std::to_string(getpid()) + ".jsonl");
  std::string lines;
  for (const Conversation &c : conversations)
    for (size_t t = 0; t < c.turns.size(); ++t) {
      std::string prompt = chatPrompt(c.system, c.turns[t].first, t);
      lines += json::quote(prompt) + "\n" + json::quote(prompt + " " + c.turns[t].second) + "\n";
    }
  if (Error e = toLlvm(writeFileAtomically(scratch, lines)))
    return e;
  auto encoded = runProgram(o.spmPath, {"encode", "--model", model, "--json-lines", scratch});
  std::remove(scratch.c_str());
  if (!encoded.ok())
    return chatError(model, encoded.status().message());
  std::vector<std::vector<int64_t>> ids(1);
  std::string number;
  for (char ch : *encoded) {
    if (ch >= '0' && ch <= '9') {
      number.push_back(ch);
      continue;
    }
    if (!number.empty())
      ids.back().push_back(std::stoll(number));
    number.clear();
    if (ch == '\n')
      ids.emplace_back();
  }
  ids.pop_back();

  // The token stream with its mask, then sequences of seq + 1.
  const int64_t n = o.seqLen + 1;
  std::vector<uint32_t> tokens;
  std::vector<uint8_t> mask;
  size_t k = 0;
  int64_t turns = 0, answerTokens = 0, truncated = 0;
  for (const Conversation &c : conversations) {
    size_t start = tokens.size();
    if (bos >= 0) {
      tokens.push_back(static_cast<uint32_t>(bos));
      mask.push_back(0);
    }
    for (size_t t = 0; t < c.turns.size(); ++t, k += 2, ++turns) {
      const std::vector<int64_t> &prompt = ids[k], &whole = ids[k + 1];
      for (int64_t id : prompt) {
        tokens.push_back(static_cast<uint32_t>(id));
        mask.push_back(0);
      }
      for (size_t i = prompt.size(); i < whole.size(); ++i, ++answerTokens) {
        tokens.push_back(static_cast<uint32_t>(whole[i]));
        mask.push_back(1);
      }
      tokens.push_back(static_cast<uint32_t>(eos));
      mask.push_back(1);
    }
    if (o.pad) {
      // One conversation per sequence: longer ones are cut to it, shorter
      // ones padded with EOS that no loss counts.
      size_t length = tokens.size() - start;
      if (length > static_cast<size_t>(n)) {
        tokens.resize(start + n);
        mask.resize(start + n);
        ++truncated;
      }
      while ((tokens.size() - start) % n) {
        tokens.push_back(static_cast<uint32_t>(eos));
        mask.push_back(0);
      }
    }
  }
  int64_t sequences = static_cast<int64_t>(tokens.size()) / n;
  if (sequences <= o.evalSeqs)
    return chatError(o.outDir, llvm::formatv("the conversations give only {0} sequences of {1} tokens, not "
                                             "more than the {2} held out",
                                             sequences, n, o.evalSeqs));
  bool wide = vocab > 65536;
  auto tokenBytes = [&](int64_t first, int64_t count) {
    std::string bytes;
    for (int64_t i = first * n; i < (first + count) * n; ++i) {
      if (wide)
        bytes.append(reinterpret_cast<const char *>(&tokens[i]), 4);
      else {
        uint16_t v = static_cast<uint16_t>(tokens[i]);
        bytes.append(reinterpret_cast<const char *>(&v), 2);
      }
    }
    return bytes;
  };
  const std::string &d = o.domain;
  int64_t trainSeqs = sequences - o.evalSeqs;
  std::string evalTokens = tokenBytes(0, o.evalSeqs), trainTokens = tokenBytes(o.evalSeqs, trainSeqs);
  struct Out {
    std::string name;
    const void *data;
    size_t bytes;
  } outs[] = {{d + ".eval.bin", evalTokens.data(), evalTokens.size()},
              {d + ".train.bin", trainTokens.data(), trainTokens.size()},
              {d + ".eval.mask.bin", mask.data(), static_cast<size_t>(o.evalSeqs * n)},
              {d + ".train.mask.bin", mask.data() + o.evalSeqs * n, static_cast<size_t>(trainSeqs * n)}};
  for (const Out &f : outs)
    if (!writeFile(joinPath(o.outDir, f.name), f.data, f.bytes))
      return chatError(joinPath(o.outDir, f.name), "cannot write");
  rt::Manifest m;
  m.seqLen = o.seqLen;
  m.tokenDtype = wide ? "uint32" : "uint16";
  m.vocabSize = vocab;
  rt::DomainInfo domain;
  domain.name = d;
  domain.trainFile = d + ".train.bin";
  domain.evalFile = d + ".eval.bin";
  domain.trainMaskFile = d + ".train.mask.bin";
  domain.evalMaskFile = d + ".eval.mask.bin";
  domain.trainSequences = trainSeqs;
  domain.evalSequences = o.evalSeqs;
  domain.weight = 1;
  m.domains.push_back(domain);
  if (Error e = toLlvm(rt::writeManifest(o.outDir, m)))
    return e;
  json::Array fileList;
  for (const std::string &f : files)
    fileList.push_back(f);
  json::Object recipe{{"kind", "chat"},
                      {"template", "vicuna_v1.1: <BOS>{system} USER: {user} ASSISTANT: {answer}<EOS>"
                                   "USER: {user} ASSISTANT: {answer}<EOS>..."},
                      {"system", o.system},
                      {"files", std::move(fileList)},
                      {"conversations", static_cast<int64_t>(conversations.size())},
                      {"turns", turns},
                      {"malformed_lines", malformed},
                      {"tokens", static_cast<int64_t>(tokens.size())},
                      {"loss_tokens", answerTokens + turns},
                      {"layout", o.pad ? "padded" : "packed"},
                      {"truncated_conversations", truncated},
                      {"seq_len", o.seqLen},
                      {"eval_sequences", o.evalSeqs},
                      {"tokenizer", fileName(model)}};
  if (Error e = toLlvm(writeJsonFileAtomically(joinPath(o.outDir, "corpus.json"), json::Value(recipe))))
    return e;
  llvm::outs() << llvm::formatv("{0}: {1} conversations, {2} turns, {3} tokens ({4} in the loss): {5} train "
                                "+ {6} eval sequences ({7})\n",
                                d, conversations.size(), turns, tokens.size(), answerTokens + turns,
                                trainSeqs, o.evalSeqs, o.pad ? "padded" : "packed");
  return Error::success();
}
