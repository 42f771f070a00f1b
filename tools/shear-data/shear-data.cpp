//===- shear-data.cpp - build training data directories -------------------===//
//
//   shear-data pack --seq T --eval-seqs N -o DATA_DIR name=tokens.npy [...]
//   shear-data text --seq T ... -o DATA_DIR name=PATH[:GLOB,...] [...]
//   shear-data encode|decode --tokenizer TOK < lines
//
// Each domain's 1-D token array is cut into consecutive sequences of T + 1
// tokens; the first N are the held-out evaluation set, the rest the training
// set, so the two never overlap. docs/data-format.md describes the result.
// Exit codes: 0 success, 2 bad usage or bad input.
//
//===----------------------------------------------------------------------===//
#include "ChatCorpus.h"
#include "TextCorpus.h"
#include "shear/Runtime/Dataset.h"
#include "shear/Runtime/Npy.h"
#include "shear/Target/ArtifactPaths.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <unistd.h>

namespace cl = llvm::cl;
using namespace shear;

static cl::OptionCategory dataCategory("shear-data options");
static cl::SubCommand packCommand("pack", "pack per-domain token arrays (.npy) into DATA_DIR");
static cl::opt<int64_t> seqLen("seq", cl::desc("tokens per training input (sequences hold seq + 1; required)"),
                               cl::init(0), cl::sub(packCommand), cl::cat(dataCategory));
static cl::opt<int64_t> evalSeqs("eval-seqs",
                                 cl::desc("held-out sequences per domain (taken first; default: 0)"),
                                 cl::init(0), cl::sub(packCommand), cl::cat(dataCategory));
static cl::opt<std::string> outDir("o", cl::desc("output data directory"),
                                   cl::value_desc("DATA_DIR"), cl::sub(packCommand), cl::cat(dataCategory));
static cl::list<std::string> inputs(cl::Positional, cl::desc("name=tokens.npy ..."),
                                    cl::sub(packCommand), cl::cat(dataCategory));

static cl::SubCommand textCommand(
    "text", "build DATA_DIR from text: tokenizer, BOS/EOS per document, packed sequences");
static cl::opt<int64_t> textSeq("seq", cl::desc("tokens per training input (required)"), cl::init(0),
                                cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<int64_t> textEval("eval-seqs", cl::desc("held-out sequences per domain (default: 0)"),
                                 cl::init(0), cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<std::string> textOut("o", cl::desc("output data directory"),
                                    cl::value_desc("DATA_DIR"), cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<std::string> textTokenizer(
    "tokenizer",
    cl::desc("an existing tokenizer: a SentencePiece tokenizer.model, an HF tokenizer.json or a "
             "directory holding one (default: train a SentencePiece BPE)"),
    cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<unsigned> textThreads("threads",
                                     cl::desc("tokenizer threads (default: 0, every core)"),
                                     cl::init(0), cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<int64_t> textVocab("vocab-size", cl::desc("vocabulary of the trained tokenizer (default: 8000)"),
                                  cl::init(8000), cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<int64_t> textSample("sample-bytes",
                                   cl::desc("bytes of text per domain the tokenizer is trained on (default: 4194304)"),
                                   cl::init(4 << 20), cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<int64_t> textMax("max-bytes", cl::desc("bytes of text read per domain (default: 0, all)"),
                                cl::init(0), cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<std::string> textFormat(
    "format",
    cl::desc("auto (default: JSON lines for *.jsonl, *.jsonl.gz|.zst, *.json.gz|.zst; text "
             "otherwise), text or jsonl; files may be gzip or zstd compressed"),
    cl::init("auto"), cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<std::string> textField("text-field",
                                      cl::desc("JSON lines: the field holding a document's text (default: text)"),
                                      cl::init("text"), cl::sub(textCommand), cl::cat(dataCategory));
static cl::opt<bool> textStrict("strict",
                                cl::desc("a malformed JSON line is an error (default: counted, reported and skipped)"),
                                cl::sub(textCommand), cl::cat(dataCategory));
static cl::list<std::string> textInputs(cl::Positional,
                                        cl::desc("name=PATH[:GLOB,GLOB] ... (a domain may repeat)"),
                                        cl::sub(textCommand), cl::cat(dataCategory));

static int fail(const llvm::Twine &msg) {
  llvm::errs() << "shear-data: error: " << msg << "\n";
  return 2;
}

template <typename T>
static llvm::Error writeTokens(const std::string &path, const rt::Tensor &tokens, int64_t begin,
                               int64_t end) {
  std::string bytes;
  bytes.resize((end - begin) * sizeof(T));
  T *out = reinterpret_cast<T *>(bytes.data());
  for (int64_t i = begin; i < end; ++i)
    out[i - begin] = static_cast<T>(tokens.i64()[i]);
  return toLlvm(writeFileAtomically(path, bytes));
}

static int pack() {
  if (seqLen <= 0)
    return fail("--seq must be positive");
  if (evalSeqs < 0)
    return fail("--eval-seqs must not be negative");
  if (outDir.empty())
    return fail("give the output directory with -o DATA_DIR");
  if (inputs.empty())
    return fail("give at least one domain as name=tokens.npy");
  struct Input {
    std::string name, path;
    rt::Tensor tokens;
  };
  std::vector<Input> domains;
  int64_t maxToken = 0;
  for (const std::string &arg : inputs) {
    auto [name, path] = llvm::StringRef(arg).split('=');
    if (name.empty() || path.empty())
      return fail("'" + arg + "' is not name=tokens.npy");
    if (name.find_first_of("/\\ ") != llvm::StringRef::npos)
      return fail("domain name '" + name + "' must not contain '/', '\\' or spaces");
    for (const Input &d : domains)
      if (d.name == name)
        return fail("domain '" + name + "' is given twice");
    auto tokens = toLlvm(rt::readNpyInt(path.str()));
    if (!tokens)
      return fail(llvm::toString(tokens.takeError()));
    if (tokens->rank() != 1)
      return fail(path + ": token arrays must be 1-D, got " + tokens->shapeString());
    for (int64_t i = 0; i < tokens->numel(); ++i) {
      if (tokens->i64()[i] < 0 || tokens->i64()[i] > 0xffffffffll)
        return fail(path + ": token " + llvm::Twine(tokens->i64()[i]) + " at index " +
                    llvm::Twine(i) + " is not a valid token id");
      maxToken = std::max(maxToken, tokens->i64()[i]);
    }
    int64_t seqs = tokens->numel() / (seqLen + 1);
    if (seqs <= evalSeqs)
      return fail(path + ": domain '" + name + "' has " + llvm::Twine(tokens->numel()) +
                  " tokens, " + llvm::Twine(seqs) + " sequences of " + llvm::Twine(seqLen + 1) +
                  ": not more than the " + llvm::Twine(evalSeqs.getValue()) +
                  " held out for evaluation");
    domains.push_back({name.str(), path.str(), *tokens});
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return fail(outDir + ": cannot create: " + ec.message());

  rt::Manifest m;
  m.seqLen = seqLen;
  m.tokenDtype = maxToken < 65536 ? "uint16" : "uint32";
  m.vocabSize = maxToken + 1;
  int64_t totalTrain = 0;
  for (const Input &d : domains)
    totalTrain += d.tokens.numel() / (seqLen + 1) - evalSeqs;
  for (const Input &d : domains) {
    int64_t n = seqLen + 1, seqs = d.tokens.numel() / n;
    rt::DomainInfo info;
    info.name = d.name;
    info.evalFile = d.name + ".eval.bin";
    info.trainFile = d.name + ".train.bin";
    info.evalSequences = evalSeqs;
    info.trainSequences = seqs - evalSeqs;
    info.weight = static_cast<double>(info.trainSequences) / totalTrain;
    int64_t evalEnd = evalSeqs * n, trainEnd = seqs * n;
    auto write = [&](const std::string &file, int64_t b, int64_t e) {
      std::string path = joinPath(outDir, file);
      return m.tokenDtype == "uint16" ? writeTokens<uint16_t>(path, d.tokens, b, e)
                                      : writeTokens<uint32_t>(path, d.tokens, b, e);
    };
    if (llvm::Error e = write(info.evalFile, 0, evalEnd))
      return fail(llvm::toString(std::move(e)));
    if (llvm::Error e = write(info.trainFile, evalEnd, trainEnd))
      return fail(llvm::toString(std::move(e)));
    llvm::outs() << llvm::format("%-16s %8lld train + %6lld eval sequences of %lld tokens",
                                 d.name.c_str(), (long long)info.trainSequences,
                                 (long long)info.evalSequences, (long long)n);
    if (d.tokens.numel() > trainEnd)
      llvm::outs() << " (last " << d.tokens.numel() - trainEnd << " tokens dropped)";
    llvm::outs() << "\n";
    m.domains.push_back(info);
  }
  if (llvm::Error e = toLlvm(rt::writeManifest(outDir, m)))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "wrote " << outDir << "/manifest.json (" << m.tokenDtype << " tokens, vocab >= "
               << m.vocabSize << ")\n";
  return 0;
}

static int text(const char *argv0) {
  if (textSeq <= 0)
    return fail("--seq must be positive");
  if (textEval < 0)
    return fail("--eval-seqs must not be negative");
  if (textOut.empty())
    return fail("give the output directory with -o DATA_DIR");
  if (textInputs.empty())
    return fail("give at least one domain as name=PATH[:GLOB,...]");
  std::vector<TextSource> sources;
  for (const std::string &arg : textInputs) {
    auto [name, rest] = llvm::StringRef(arg).split('=');
    if (name.empty() || rest.empty())
      return fail("'" + arg + "' is not name=PATH[:GLOB,...]");
    if (name.find_first_of("/\\ ") != llvm::StringRef::npos)
      return fail("domain name '" + name + "' must not contain '/', '\\' or spaces");
    auto [path, globs] = rest.rsplit(':');
    if (path.empty() || llvm::sys::fs::exists(rest)) {
      path = rest;
      globs = "";
    }
    TextSource s{name.str(), path.str(), {}};
    llvm::SmallVector<llvm::StringRef> parts;
    globs.split(parts, ',', -1, false);
    for (llvm::StringRef g : parts)
      s.globs.push_back(g.str());
    sources.push_back(std::move(s));
  }
  TextOptions o;
  o.seqLen = textSeq;
  o.evalSeqs = textEval;
  o.outDir = textOut;
  o.tokenizer = textTokenizer;
  o.vocabSize = textVocab;
  o.sampleBytes = textSample;
  o.maxBytes = textMax;
  o.threads = textThreads ? textThreads : std::max(1u, std::thread::hardware_concurrency());
  if (textFormat == "auto")
    o.read.format = CorpusFormat::Auto;
  else if (textFormat == "text")
    o.read.format = CorpusFormat::Text;
  else if (textFormat == "jsonl")
    o.read.format = CorpusFormat::JsonLines;
  else
    return fail("--format must be auto, text or jsonl, got '" + textFormat + "'");
  if (textField.empty())
    return fail("--text-field must not be empty");
  o.read.textField = textField;
  o.read.strict = textStrict;
  std::string self = llvm::sys::fs::getMainExecutable(argv0, reinterpret_cast<void *>(&fail));
  o.spmPath = joinPath(llvm::sys::path::parent_path(self), "shear-spm");
  if (llvm::Error e = packText(sources, o))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "wrote " << textOut << "/manifest.json, " << tokenizerFileName(o) << ", corpus.json\n";
  return 0;
}

static cl::SubCommand chatCommand(
    "chat", "build DATA_DIR from conversations (ShareGPT or OpenAI JSON lines): loss on the answers only");
static cl::opt<int64_t> chatSeq("seq", cl::desc("tokens per training input (required)"), cl::init(0),
                                cl::sub(chatCommand), cl::cat(dataCategory));
static cl::opt<int64_t> chatEval("eval-seqs", cl::desc("held-out sequences (default: 0)"), cl::init(0),
                                 cl::sub(chatCommand), cl::cat(dataCategory));
static cl::opt<std::string> chatOut("o", cl::desc("output data directory"), cl::value_desc("DATA_DIR"),
                                    cl::sub(chatCommand), cl::cat(dataCategory));
static cl::opt<std::string> chatTokenizer("tokenizer",
                                          cl::desc("the model's tokenizer.model, tokenizer.json or a "
                                                   "directory holding one (required)"),
                                          cl::sub(chatCommand), cl::cat(dataCategory));
static cl::opt<std::string> chatSystem("system",
                                       cl::desc("the system prompt of conversations that have none "
                                                "(default: Vicuna v1.1's)"),
                                       cl::init(defaultSystemPrompt()), cl::sub(chatCommand),
                                       cl::cat(dataCategory));
static cl::opt<std::string> chatDomain("domain", cl::desc("the domain's name (default: chat)"),
                                       cl::init("chat"), cl::sub(chatCommand), cl::cat(dataCategory));
static cl::opt<bool> chatPad("pad", cl::desc("one conversation per sequence, padded (default: packed)"),
                             cl::sub(chatCommand), cl::cat(dataCategory));
static cl::opt<bool> chatStrict("strict", cl::desc("a line that is not a conversation is an error"),
                                cl::sub(chatCommand), cl::cat(dataCategory));
static cl::list<std::string> chatInputs(cl::Positional, cl::desc("FILE.jsonl[.gz|.zst] ..."),
                                        cl::sub(chatCommand), cl::cat(dataCategory));

static int chat(const char *argv0) {
  if (chatSeq <= 0)
    return fail("--seq must be positive");
  if (chatEval < 0)
    return fail("--eval-seqs must not be negative");
  if (chatOut.empty())
    return fail("give the output directory with -o DATA_DIR");
  if (chatTokenizer.empty())
    return fail("give the model's tokenizer with --tokenizer");
  if (chatInputs.empty())
    return fail("give at least one file of conversations");
  ChatOptions o;
  o.seqLen = chatSeq;
  o.evalSeqs = chatEval;
  o.outDir = chatOut;
  o.tokenizer = chatTokenizer;
  o.system = chatSystem;
  o.domain = chatDomain;
  o.pad = chatPad;
  o.strict = chatStrict;
  std::string self = llvm::sys::fs::getMainExecutable(argv0, reinterpret_cast<void *>(&fail));
  o.spmPath = joinPath(llvm::sys::path::parent_path(self), "shear-spm");
  std::vector<std::string> files(chatInputs.begin(), chatInputs.end());
  for (const std::string &f : files)
    if (!llvm::sys::fs::is_regular_file(f))
      return fail(f + ": no such file");
  if (llvm::Error e = packChat(files, o))
    return fail(llvm::toString(std::move(e)));
  llvm::outs() << "wrote " << chatOut << "/manifest.json, corpus.json\n";
  return 0;
}

static cl::SubCommand encodeCommand(
    "encode", "print the token ids of each line of stdin (space-separated, one line each)");
static cl::opt<std::string> encodeTokenizer("tokenizer",
                                            cl::desc("tokenizer.model, tokenizer.json or a directory "
                                                     "holding one (required)"),
                                            cl::sub(encodeCommand), cl::cat(dataCategory));
static cl::opt<bool> encodeBos("bos", cl::desc("add the tokenizer's BOS (its post-processor's tokens)"),
                               cl::sub(encodeCommand), cl::cat(dataCategory));
static cl::opt<bool> encodeWhole("whole", cl::desc("all of stdin as one text (newlines included)"),
                                 cl::sub(encodeCommand), cl::cat(dataCategory));
static cl::SubCommand decodeCommand("decode",
                                    "print the text of each line of space-separated token ids on stdin");
static cl::opt<std::string> decodeTokenizer("tokenizer",
                                            cl::desc("tokenizer.model, tokenizer.json or a directory "
                                                     "holding one (required)"),
                                            cl::sub(decodeCommand), cl::cat(dataCategory));
static cl::opt<bool> decodeJson("json",
                                cl::desc("each text as a JSON string (texts may hold newlines)"),
                                cl::sub(decodeCommand), cl::cat(dataCategory));

/// encode and decode are shear-spm's, which holds both kinds of tokenizer:
/// this process becomes it.
static int tokenize(const char *argv0, const std::string &tokenizer,
                    std::vector<std::string> args) {
  if (tokenizer.empty())
    return fail("give --tokenizer tokenizer.model|tokenizer.json|DIR");
  if (!llvm::sys::fs::exists(tokenizer))
    return fail(tokenizer + ": no such file or directory");
  std::string self = llvm::sys::fs::getMainExecutable(argv0, reinterpret_cast<void *>(&fail));
  std::string spm = joinPath(llvm::sys::path::parent_path(self), "shear-spm");
  args.insert(args.begin() + 1, {"--model", tokenizer});
  args.insert(args.begin(), spm);
  std::vector<char *> argvOut;
  for (std::string &a : args)
    argvOut.push_back(a.data());
  argvOut.push_back(nullptr);
  llvm::outs().flush();
  execv(spm.c_str(), argvOut.data());
  return fail(spm + ": cannot run: " + std::strerror(errno));
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // --help lists shear-data's own options, not LLVM's.
  for (cl::SubCommand *sub :
       {&cl::SubCommand::getTopLevel(), &packCommand, &textCommand, &chatCommand, &encodeCommand,
        &decodeCommand})
    cl::HideUnrelatedOptions(dataCategory, *sub);
  // Usage errors are bad input: exit code 2 (docs/exit-codes.md).
  if (!cl::ParseCommandLineOptions(argc, argv, "shear-data: build shear's training data\n",
                                   &llvm::errs()))
    return 2;
  if (packCommand)
    return pack();
  if (textCommand)
    return text(argv[0]);
  if (chatCommand)
    return chat(argv[0]);
  if (encodeCommand) {
    std::vector<std::string> args{"encode", encodeWhole ? "--whole" : "--lines", "1"};
    if (encodeBos)
      args.insert(args.end(), {"--bos", "1"});
    return tokenize(argv[0], encodeTokenizer, args);
  }
  if (decodeCommand) {
    std::vector<std::string> args{"decode", "--lines", "1"};
    if (decodeJson)
      args.insert(args.end(), {"--json", "1"});
    return tokenize(argv[0], decodeTokenizer, args);
  }
  return fail("give a command: pack, text, chat, encode or decode (see --help)");
}
