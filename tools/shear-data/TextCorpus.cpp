//===- TextCorpus.cpp - text domains to token sequences -------------------===//
#include "TextCorpus.h"
#include "DocumentReader.h"

#include "shear/Support/Process.h"

#include "shear/Runtime/Dataset.h"
#include "shear/Target/ArtifactPaths.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

using namespace shear;
using llvm::Error;

namespace {
Error textError(const std::string &file, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), (file + ": " + what).str());
}

/// Files of a source, sorted, so the corpus is reproducible.
llvm::Expected<std::vector<std::string>> listFiles(const TextSource &s) {
  // Patterns include files by name; those starting with '!' exclude them.
  // (GlobPattern keeps referring to its pattern text: s.globs outlives it.)
  std::vector<llvm::GlobPattern> globs, excludes;
  for (const std::string &g : s.globs) {
    bool exclude = llvm::StringRef(g).starts_with("!");
    auto p = llvm::GlobPattern::create(llvm::StringRef(g).drop_front(exclude ? 1 : 0));
    if (!p)
      return textError(s.path, "bad pattern '" + g + "': " + llvm::toString(p.takeError()));
    (exclude ? excludes : globs).push_back(std::move(*p));
  }
  std::vector<std::string> files;
  if (!llvm::sys::fs::exists(s.path))
    return textError(s.path, "no such file or directory (domain '" + s.domain + "')");
  if (!llvm::sys::fs::is_directory(s.path)) {
    files.push_back(s.path);
    return files;
  }
  std::error_code ec;
  for (llvm::sys::fs::recursive_directory_iterator it(s.path, ec, /*follow_symlinks=*/false), end;
       it != end && !ec; it.increment(ec)) {
    if (it->type() != llvm::sys::fs::file_type::regular_file)
      continue;
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    if ((globs.empty() || llvm::any_of(globs, [&](auto &g) { return g.match(name); })) &&
        !llvm::any_of(excludes, [&](auto &g) { return g.match(name); }))
      files.push_back(it->path());
  }
  if (ec)
    return textError(s.path, "cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

/// A shear-spm child process (tokenizer, on the other end of two pipes),
/// used asynchronously: documents are sent as they are read, the child
/// encodes them on several threads, and a thread of ours hands the replies,
/// in order, to the consumer.
class Tokenizer {
public:
  using Consumer = std::function<void(const std::vector<uint32_t> &)>;
  static llvm::Expected<std::unique_ptr<Tokenizer>> start(const std::string &spm,
                                                          const std::string &model, unsigned threads) {
    int in[2], out[2];
    if (pipe(in) || pipe(out))
      return textError(spm, "cannot create pipes");
    std::string threadCount = std::to_string(threads);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      execl(spm.c_str(), spm.c_str(), "encode", "--model", model.c_str(), "--threads",
            threadCount.c_str(), nullptr);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    auto t = std::make_unique<Tokenizer>();
    t->pid = pid;
    t->to = in[1];
    t->from = out[0];
    t->reader = std::thread([p = t.get()] { p->readReplies(); });
    return t;
  }
  ~Tokenizer() {
    close(to);
    if (reader.joinable())
      reader.join();
    close(from);
    int status;
    waitpid(pid, &status, 0);
  }
  /// Who receives the next replies (set when no document is in flight).
  void setConsumer(Consumer c) {
    std::lock_guard<std::mutex> lock(consumerMu); // waits for a call in progress
    consumer = std::move(c);
  }
  bool send(llvm::StringRef text) {
    uint32_t n = text.size();
    if (!writeAll(&n, 4) || !writeAll(text.data(), n))
      return false;
    ++sent;
    return true;
  }
  /// Waits until every document sent has been consumed; false if the child failed.
  bool drain() {
    std::unique_lock<std::mutex> lock(mu);
    done.wait(lock, [&] { return received == sent || broken; });
    return received == sent;
  }
  Tokenizer() = default;

private:
  void readReplies() {
    std::vector<uint32_t> ids;
    while (true) {
      uint32_t n;
      if (!readAll(&n, 4))
        break;
      ids.resize(n);
      if (n && !readAll(ids.data(), n * 4))
        break;
      {
        std::lock_guard<std::mutex> lock(consumerMu);
        if (consumer)
          consumer(ids);
      }
      std::lock_guard<std::mutex> lock(mu);
      ++received;
      done.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu);
    broken = true;
    done.notify_all();
  }
  bool writeAll(const void *p, size_t n) {
    const char *c = static_cast<const char *>(p);
    while (n) {
      ssize_t k = ::write(to, c, n);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return false;
      c += k;
      n -= k;
    }
    return true;
  }
  bool readAll(void *p, size_t n) {
    char *c = static_cast<char *>(p);
    while (n) {
      ssize_t k = ::read(from, c, n);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return false;
      c += k;
      n -= k;
    }
    return true;
  }
  pid_t pid = -1;
  int to = -1, from = -1;
  std::thread reader;
  Consumer consumer;
  std::mutex consumerMu, mu;
  std::condition_variable done;
  int64_t sent = 0, received = 0;
  bool broken = false;
};

/// The tokenizer file a --tokenizer names: the file, or in a directory its
/// tokenizer.json (HF's fast tokenizer, what LLaMA-3 ships), else its
/// tokenizer.model.
std::string givenTokenizer(const std::string &path) {
  if (!llvm::sys::fs::is_directory(path))
    return path;
  std::string json = joinPath(path, "tokenizer.json");
  return llvm::sys::fs::exists(json) ? json : joinPath(path, "tokenizer.model");
}

/// Runs shear-spm with arguments; returns its stdout or its own error message.
llvm::Expected<std::string> runSpm(const std::string &spm, std::vector<std::string> args) {
  auto out = runProgram(spm, args);
  if (!out.ok())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), out.status().message());
  return out.take();
}

/// Cuts a token stream into sequences of seq+1 tokens: the first `evalSeqs`
/// are kept for the eval file, the rest go straight to the training file
/// (a temporary file until commit), so no domain is held in memory.
class SequenceWriter {
public:
  SequenceWriter(int64_t seqLen, int64_t evalSeqs, bool wide, std::string trainPath)
      : n(seqLen + 1), evalSeqs(evalSeqs), wide(wide), trainPath(std::move(trainPath)),
        tmpPath(this->trainPath + ".tmp." + std::to_string(getpid())) {
    train = std::fopen(tmpPath.c_str(), "wb");
  }
  ~SequenceWriter() {
    if (train)
      std::fclose(train);
    ::unlink(tmpPath.c_str());
  }
  bool ok() const { return train != nullptr && !failed; }
  void push(uint32_t token) {
    window.push_back(token);
    if (static_cast<int64_t>(window.size()) < n)
      return;
    std::string bytes;
    for (uint32_t t : window) {
      if (wide)
        bytes.append(reinterpret_cast<const char *>(&t), 4);
      else {
        uint16_t s = static_cast<uint16_t>(t);
        bytes.append(reinterpret_cast<const char *>(&s), 2);
      }
    }
    if (sequences < evalSeqs)
      eval += bytes;
    else if (train && std::fwrite(bytes.data(), 1, bytes.size(), train) != bytes.size())
      failed = true;
    window.clear();
    ++sequences;
  }
  /// fsync and rename the training file into place.
  Error commit() {
    if (!ok() || std::fflush(train) != 0 || fsync(fileno(train)) != 0)
      return textError(trainPath, "write failed");
    std::fclose(train);
    train = nullptr;
    if (std::rename(tmpPath.c_str(), trainPath.c_str()) != 0)
      return textError(trainPath, "cannot rename into place");
    return Error::success();
  }
  int64_t n, evalSeqs;
  bool wide;
  std::string trainPath, tmpPath;
  std::vector<uint32_t> window;
  int64_t sequences = 0;
  std::string eval;
  FILE *train = nullptr;
  bool failed = false;
};
} // namespace

std::string shear::tokenizerFileName(const TextOptions &o) {
  if (o.tokenizer.empty())
    return "tokenizer.model";
  return llvm::StringRef(givenTokenizer(o.tokenizer)).ends_with(".json") ? "tokenizer.json"
                                                                        : "tokenizer.model";
}

Error shear::copyTokenizer(const std::string &tokenizer, const std::string &outDir,
                           const std::string &spmPath) {
  std::string source = givenTokenizer(tokenizer);
  auto info = runSpm(spmPath, {"info", "--model", source});
  if (!info)
    return info.takeError();
  std::string model = joinPath(outDir, llvm::StringRef(source).ends_with(".json") ? "tokenizer.json"
                                                                                 : "tokenizer.model");
  std::vector<std::pair<std::string, std::string>> copies{{source, model}};
  if (llvm::StringRef(model).ends_with(".json"))
    for (const char *f : {"tokenizer_config.json", "special_tokens_map.json"}) {
      std::string beside = joinPath(llvm::sys::path::parent_path(source).str(), f);
      if (llvm::sys::fs::exists(beside))
        copies.push_back({beside, joinPath(outDir, f)});
    }
  for (const auto &[from, to] : copies) {
    auto buffer = llvm::MemoryBuffer::getFile(from, false, false);
    if (!buffer)
      return textError(from, "cannot read");
    if (Error e = toLlvm(writeFileAtomically(to, (*buffer)->getBuffer())))
      return e;
  }
  return Error::success();
}

Error shear::packText(const std::vector<TextSource> &sources, const TextOptions &o) {
  if (std::error_code ec = llvm::sys::fs::create_directories(o.outDir))
    return textError(o.outDir, "cannot create: " + ec.message());
  // Domains in order of first appearance; their files.
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::string>> files;
  std::map<std::string, llvm::json::Array> described;
  for (const TextSource &s : sources) {
    if (!files.count(s.domain))
      names.push_back(s.domain);
    auto list = listFiles(s);
    if (!list)
      return list.takeError();
    auto &dst = files[s.domain];
    dst.insert(dst.end(), list->begin(), list->end());
    llvm::json::Array globs;
    for (const std::string &g : s.globs)
      globs.push_back(g);
    described[s.domain].push_back(llvm::json::Object{{"path", s.path}, {"globs", std::move(globs)}});
  }
  for (const std::string &d : names)
    if (files[d].empty())
      return textError(o.outDir, "domain '" + d + "' matches no files");

  // The tokenizer: given (copied into DATA_DIR with its configuration), or
  // trained on a sample of every domain.
  std::string model = joinPath(o.outDir, tokenizerFileName(o));
  if (!o.tokenizer.empty()) {
    if (Error e = copyTokenizer(o.tokenizer, o.outDir, o.spmPath))
      return e;
  } else {
    std::string sample;
    for (const std::string &d : names) {
      int64_t taken = 0;
      ReadStats seen;
      for (const std::string &f : files[d]) {
        if (taken >= o.sampleBytes)
          break;
        if (Error e = readDocuments(f, o.read, seen, [&](llvm::StringRef doc) {
              std::string piece = doc.substr(0, o.sampleBytes - taken).str();
              sample += piece;
              if (!piece.empty() && piece.back() != '\n')
                sample += '\n';
              taken += piece.size();
              return taken < o.sampleBytes;
            }))
          return e;
      }
      if (taken == 0)
        return textError(o.outDir, "domain '" + d + "' is empty: its " +
                                       llvm::Twine(files[d].size()) + " files hold no text");
    }
    std::string samplePath = joinPath(o.outDir, ".tokenizer-sample.txt");
    if (Error e = toLlvm(writeFileAtomically(samplePath, sample)))
      return e;
    auto trained = runSpm(o.spmPath, {"train", "--input", samplePath, "--model-prefix",
                                      joinPath(o.outDir, "tokenizer"), "--vocab-size",
                                      std::to_string(o.vocabSize)});
    llvm::sys::fs::remove(samplePath);
    llvm::sys::fs::remove(joinPath(o.outDir, "tokenizer.vocab"));
    if (!trained)
      return textError(o.outDir, "training the tokenizer failed: " +
                                     llvm::toString(trained.takeError()));
  }
  auto info = runSpm(o.spmPath, {"info", "--model", model});
  if (!info)
    return info.takeError();
  auto infoJson = llvm::json::parse(*info);
  if (!infoJson)
    return textError(model, "unexpected tokenizer info: " + llvm::toString(infoJson.takeError()));
  const llvm::json::Object *inf = infoJson->getAsObject();
  int64_t vocab = inf->getInteger("vocab_size").value_or(0);
  int64_t bos = inf->getInteger("bos_id").value_or(-1), eos = inf->getInteger("eos_id").value_or(-1);

  auto tokenizer = Tokenizer::start(o.spmPath, model, o.threads);
  if (!tokenizer)
    return tokenizer.takeError();
  rt::Manifest m;
  m.seqLen = o.seqLen;
  bool wide = vocab > 65536;
  m.tokenDtype = wide ? "uint32" : "uint16";
  m.vocabSize = vocab;
  llvm::json::Array sourcesJson;
  int64_t totalTrain = 0;
  for (const std::string &d : names) {
    SequenceWriter w(o.seqLen, o.evalSeqs, wide, joinPath(o.outDir, d + ".train.bin"));
    if (!w.ok())
      return textError(w.tmpPath, "cannot create");
    std::atomic<int64_t> tokens{0};
    int64_t read = 0, totalDisk = 0;
    for (const std::string &f : files[d]) {
      uint64_t size = 0;
      if (!llvm::sys::fs::file_size(f, size))
        totalDisk += static_cast<int64_t>(size);
    }
    ReadStats stats;
    bool tokenizerFailed = false;
    (*tokenizer)->setConsumer([&](const std::vector<uint32_t> &ids) {
      if (bos >= 0)
        w.push(bos);
      for (uint32_t id : ids)
        w.push(id);
      if (eos >= 0)
        w.push(eos);
      tokens += ids.size() + (bos >= 0) + (eos >= 0);
    });
    // Whatever way this domain ends, replies still in flight must not reach
    // the writer once it is gone.
    struct Detach {
      Tokenizer &t;
      ~Detach() { t.setConsumer(nullptr); }
    } detach{**tokenizer};
    auto started = std::chrono::steady_clock::now();
    auto lastReport = started;
    llvm::json::Array filesRead; // what the corpus is made of, to compare machines by
    for (const std::string &f : files[d]) {
      if (o.maxBytes > 0 && stats.textBytes >= o.maxBytes)
        break;
      uint64_t fileSize = 0;
      (void)llvm::sys::fs::file_size(f, fileSize);
      filesRead.push_back(llvm::json::Object{{"path", f}, {"bytes", static_cast<int64_t>(fileSize)}});
      if (Error e = readDocuments(f, o.read, stats, [&](llvm::StringRef doc) {
            if (!(*tokenizer)->send(doc)) {
              tokenizerFailed = true;
              return false;
            }
            // Progress of long domains: every 5 s, on stderr.
            auto now = std::chrono::steady_clock::now();
            if (now - lastReport > std::chrono::seconds(5)) {
              lastReport = now;
              double secs = std::chrono::duration<double>(now - started).count();
              double done = static_cast<double>(stats.fileBytes) / std::max<int64_t>(1, totalDisk);
              llvm::errs() << llvm::formatv(
                  "  {0}: {1:f1} MB of text ({2:f1} MB/s), {3} documents, {4:f2} M tokens, "
                  "{5:f0}% of the files{6}\n",
                  d, stats.bytes / 1e6, stats.bytes / 1e6 / secs, stats.documents, tokens.load() / 1e6,
                  100 * done,
                  done > 0.01 ? llvm::formatv(", ETA {0:f0} s", secs * (1 - done) / done).str()
                              : std::string());
            }
            // --max-bytes stops inside a file too: one shard may hold a whole domain.
            return o.maxBytes <= 0 || stats.textBytes < o.maxBytes;
          }))
        return e;
      if (tokenizerFailed)
        return textError(o.spmPath, "the tokenizer process failed");
      ++read;
    }
    if (!(*tokenizer)->drain())
      return textError(o.spmPath, "the tokenizer process failed");
    int64_t bytes = stats.textBytes, docs = stats.documents;
    if (stats.documents == 0 && stats.malformed > 0)
      return textError(stats.examples.front().substr(0, stats.examples.front().find(':')),
                       "domain '" + d + "': none of its " + llvm::Twine(stats.malformed) +
                           " JSON lines is a document (" + stats.examples.front().substr(
                               stats.examples.front().rfind(": ") + 2) +
                           "); --text-field names the field holding the text");
    if (stats.malformed > 0) {
      llvm::errs() << llvm::formatv("shear-data: warning: domain '{0}': {1} malformed JSON lines "
                                    "skipped (--strict makes them an error), e.g.\n",
                                    d, stats.malformed);
      for (const std::string &example : stats.examples)
        llvm::errs() << "  " << example << "\n";
    }
    if (w.sequences <= o.evalSeqs)
      return textError(o.outDir, "domain '" + d + "' gives only " + llvm::Twine(w.sequences) +
                                     " sequences of " + llvm::Twine(o.seqLen + 1) +
                                     " tokens, not more than the " + llvm::Twine(o.evalSeqs) +
                                     " held out for evaluation (empty or too small)");
    rt::DomainInfo info;
    info.name = d;
    info.evalFile = d + ".eval.bin";
    info.trainFile = d + ".train.bin";
    info.evalSequences = o.evalSeqs;
    info.trainSequences = w.sequences - o.evalSeqs;
    totalTrain += info.trainSequences;
    if (Error e = toLlvm(writeFileAtomically(joinPath(o.outDir, info.evalFile), w.eval)))
      return e;
    if (Error e = w.commit())
      return e;
    m.domains.push_back(info);
    sourcesJson.push_back(llvm::json::Object{{"domain", d},
                                             {"sources", std::move(described[d])},
                                             {"files_matched", static_cast<int64_t>(files[d].size())},
                                             {"files_read", read},
                                             {"documents", docs},
                                             {"malformed_lines", stats.malformed},
                                             {"bytes", bytes},
                                             {"tokens", tokens.load()},
                                             {"files", std::move(filesRead)}});
    llvm::outs() << llvm::formatv("{0,-12} {1,5} files {2,7} documents {3,10} bytes {4,9} tokens: "
                                  "{5} train + {6} eval sequences\n",
                                  d, read, docs, bytes, tokens.load(), info.trainSequences,
                                  info.evalSequences);
  }
  for (rt::DomainInfo &d : m.domains)
    d.weight = static_cast<double>(d.trainSequences) / totalTrain;
  if (Error e = toLlvm(rt::writeManifest(o.outDir, m)))
    return e;
  // How the corpus was made, so it can be made again.
  llvm::json::Object recipe{{"tokenizer", tokenizerFileName(o)},
                            {"tokenizer_source", o.tokenizer.empty() ? "trained" : o.tokenizer},
                            {"vocab_size", vocab},
                            {"bos_id", bos},
                            {"eos_id", eos},
                            {"seq_len", o.seqLen},
                            {"eval_sequences", o.evalSeqs},
                            {"sample_bytes", o.sampleBytes},
                            {"max_bytes", o.maxBytes},
                            {"documents", "one per file; files over 64 KiB cut at blank lines; "
                                          "BOS + tokens + EOS each"},
                            {"domains", std::move(sourcesJson)}};
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(recipe))) << "\n";
  return toLlvm(writeFileAtomically(joinPath(o.outDir, "corpus.json"), text));
}
