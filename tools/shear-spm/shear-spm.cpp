//===- shear-spm.cpp - tokenizers, in a binary of their own ---------------===//
//
// Debian's libsentencepiece bundles its own protobuf; linked beside another
// protobuf user it crashes at start-up (TOOLCHAIN.md). So tokenization lives
// here, and shear-data / shear-run talk to this process. It holds both kinds
// of tokenizer: SentencePiece (tokenizer.model) and HF's tokenizer.json
// (this project's BPE, runtime/tokenizer), picked by --model:
//
//   shear-spm train  --input SAMPLE.txt --model-prefix PREFIX --vocab-size V
//   shear-spm info   --model M              JSON: vocab size, special ids, kind
//   shear-spm encode --model M [--threads N] frames on stdin/stdout (N encoding threads)
//                    [--text T | --lines 1 | --whole 1] [--bos 1]
//                                           one text / stdin's lines / all of stdin
//   shear-spm decode --model M [--ids 1,2 | --lines 1 [--json 1]]
//                                           frames on stdin/stdout, one list, lines of ids
//   shear-spm hf     --model M --out DIR [--max-length N]
//                    the tokenizer files of an HF model directory: tokenizer.model,
//                    tokenizer.json (the fast-tokenizer format, converted),
//                    tokenizer_config.json, special_tokens_map.json
//
// Frames: a little-endian uint32 length, then that many bytes (encode input,
// decode output) or uint32 token ids (encode output, decode input).
// Newlines: models trained here have a user symbol "⏎" standing for "\n"
// (SentencePiece trains on lines); encode/decode translate it. Models without
// it (LLaMA's, with byte fallback) see text as it is.
// Exit codes: 0 success, 2 bad usage or bad input.
//
//===----------------------------------------------------------------------===//
#include "shear/Support/Files.h"
#include "shear/Support/Json.h"
#include "shear/Tokenizer/HFTokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace {
const char *const kNewline = "\xe2\x8f\x8e"; // ⏎

int fail(const std::string &msg) {
  std::cerr << "shear-spm: error: " << msg << "\n";
  return 2;
}

std::map<std::string, std::string> options(int argc, char **argv) {
  std::map<std::string, std::string> o;
  for (int i = 2; i + 1 < argc; i += 2)
    o[argv[i]] = argv[i + 1];
  return o;
}

std::string replaceAll(const std::string &s, const std::string &from, const std::string &to) {
  std::string out; // built in one pass: replacing in place is quadratic
  out.reserve(s.size());
  size_t at = 0;
  for (size_t hit; (hit = s.find(from, at)) != std::string::npos; at = hit + from.size())
    out.append(s, at, hit - at).append(to);
  return out.append(s, at, std::string::npos);
}

bool readFrame(std::string &out) {
  uint32_t n;
  if (std::fread(&n, 4, 1, stdin) != 1)
    return false;
  out.resize(n);
  return n == 0 || std::fread(out.data(), 1, n, stdin) == n;
}

void writeFrame(const void *data, uint32_t bytes, uint32_t count) {
  std::fwrite(&count, 4, 1, stdout);
  std::fwrite(data, 1, bytes, stdout);
}

int load(sentencepiece::SentencePieceProcessor &sp, const std::string &path) {
  if (path.empty())
    return fail("give --model tokenizer.model");
  auto status = sp.Load(path);
  if (!status.ok())
    return fail(path + ": not a SentencePiece model (" + status.ToString() + ")");
  return 0;
}

bool hasNewlineSymbol(const sentencepiece::SentencePieceProcessor &sp) {
  return sp.PieceToId(kNewline) != sp.unk_id();
}

/// Code points of a UTF-8 string, each as its bytes.
std::vector<std::string> characters(const std::string &s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

/// The type of every piece (sentencepiece_model.proto: NORMAL 1, UNKNOWN 2,
/// CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6), read from the serialized
/// model: this libsentencepiece has no IsUserDefined and ships no proto header.
std::vector<int> pieceTypes(const std::string &proto) {
  std::vector<int> types;
  size_t at = 0;
  auto varint = [](const std::string &b, size_t &i) {
    uint64_t v = 0;
    for (int shift = 0; i < b.size() && shift < 64; shift += 7) {
      unsigned char c = static_cast<unsigned char>(b[i++]);
      v |= uint64_t(c & 0x7f) << shift;
      if (!(c & 0x80))
        break;
    }
    return v;
  };
  auto skip = [&](const std::string &b, size_t &i, int wire) {
    if (wire == 0)
      varint(b, i);
    else if (wire == 1)
      i += 8;
    else if (wire == 2)
      i += varint(b, i);
    else if (wire == 5)
      i += 4;
  };
  while (at < proto.size()) {
    uint64_t key = varint(proto, at);
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field != 1 || wire != 2) {
      skip(proto, at, wire);
      continue;
    }
    size_t len = varint(proto, at), end = std::min(proto.size(), at + len);
    std::string piece = proto.substr(at, end - at);
    at = end;
    int type = 1;
    for (size_t i = 0; i < piece.size();) {
      uint64_t k = varint(piece, i);
      if ((k >> 3) == 3 && (k & 7) == 0)
        type = static_cast<int>(varint(piece, i));
      else
        skip(piece, i, static_cast<int>(k & 7));
    }
    types.push_back(type);
  }
  return types;
}
constexpr int kUserDefined = 4;

using shear::json::Array;
using shear::json::Object;
using shear::json::Value;

Value replace(const std::string &from, const std::string &to) {
  return Object{{"type", "Replace"}, {"pattern", Object{{"String", from}}}, {"content", to}};
}

/// tokenizer.json for a SentencePiece BPE model, as HF's LlamaConverter
/// builds it: the pieces as the BPE vocabulary, merges ranked by the score of
/// the piece they make (SentencePiece merges the best-scoring pair first),
/// byte fallback, "▁" for spaces and a "▁" in front, control pieces and the
/// user-defined ones (this project's newline symbol) as added tokens.
Value hfTokenizerJson(const sentencepiece::SentencePieceProcessor &sp, bool newline) {
  int n = sp.GetPieceSize();
  std::string proto = sp.serialized_model_proto();
  std::vector<int> types = pieceTypes(proto);
  auto userDefined = [&](int id) {
    return static_cast<size_t>(id) < types.size() && types[id] == kUserDefined;
  };
  Object vocab;
  Array added;
  for (int id = 0; id < n; ++id) {
    std::string piece = sp.IdToPiece(id);
    vocab[piece] = static_cast<int64_t>(id);
    bool special = sp.IsControl(id) || sp.IsUnknown(id);
    if (special || userDefined(id))
      added.push_back(Object{{"id", static_cast<int64_t>(id)},
                             {"content", piece},
                             {"single_word", false},
                             {"lstrip", false},
                             {"rstrip", false},
                             // the newline symbol is matched after "\n" became it
                             {"normalized", !special},
                             {"special", special}});
  }
  // Every way of making a normal piece from two pieces, best-scoring first.
  std::vector<std::tuple<float, int, int, int>> merges; // -score, id, left, right
  for (int id = 0; id < n; ++id) {
    if (sp.IsControl(id) || sp.IsUnknown(id) || userDefined(id) || sp.IsByte(id))
      continue;
    std::vector<std::string> chars = characters(sp.IdToPiece(id));
    for (size_t cut = 1; cut < chars.size(); ++cut) {
      std::string left, right;
      for (size_t i = 0; i < chars.size(); ++i)
        (i < cut ? left : right) += chars[i];
      int l = sp.PieceToId(left), r = sp.PieceToId(right);
      if (l == sp.unk_id() || r == sp.unk_id())
        continue;
      merges.emplace_back(-sp.GetScore(id), id, l, r);
    }
  }
  std::sort(merges.begin(), merges.end());
  Array mergeList;
  for (const auto &[score, id, l, r] : merges)
    mergeList.push_back(sp.IdToPiece(l) + " " + sp.IdToPiece(r));

  Array normalizers;
  if (newline)
    normalizers.push_back(replace("\n", kNewline));
  normalizers.push_back(Object{{"type", "Prepend"}, {"prepend", "\xe2\x96\x81"}});
  normalizers.push_back(replace(" ", "\xe2\x96\x81"));
  Array decoders = {replace("\xe2\x96\x81", " "), Object{{"type", "ByteFallback"}},
                    Object{{"type", "Fuse"}},
                    Object{{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}};
  if (newline)
    decoders.push_back(replace(kNewline, "\n"));
  std::string bos = sp.bos_id() >= 0 ? sp.IdToPiece(sp.bos_id()) : "";
  Value post = Value();
  if (!bos.empty()) {
    auto special = [&](const std::string &t) { return Object{{"SpecialToken", Object{{"id", t}, {"type_id", 0}}}}; };
    auto seq = [](const char *id, int type) { return Object{{"Sequence", Object{{"id", id}, {"type_id", type}}}}; };
    post = Object{{"type", "TemplateProcessing"},
                  {"single", Array{special(bos), seq("A", 0)}},
                  {"pair", Array{special(bos), seq("A", 0), special(bos), seq("B", 1)}},
                  {"special_tokens",
                   Object{{bos, Object{{"id", bos},
                                       {"ids", Array{static_cast<int64_t>(sp.bos_id())}},
                                       {"tokens", Array{bos}}}}}}};
  }
  return Object{
      {"version", "1.0"},
      {"truncation", Value()},
      {"padding", Value()},
      {"added_tokens", std::move(added)},
      {"normalizer", Object{{"type", "Sequence"}, {"normalizers", std::move(normalizers)}}},
      {"pre_tokenizer", Value()},
      {"post_processor", std::move(post)},
      {"decoder", Object{{"type", "Sequence"}, {"decoders", std::move(decoders)}}},
      {"model", Object{{"type", "BPE"},
                       {"dropout", Value()},
                       {"unk_token", sp.IdToPiece(sp.unk_id())},
                       {"continuing_subword_prefix", Value()},
                       {"end_of_word_suffix", Value()},
                       {"fuse_unk", true},
                       {"byte_fallback", true},
                       {"ignore_merges", false},
                       {"vocab", std::move(vocab)},
                       {"merges", std::move(mergeList)}}}};
}

int writeHF(const sentencepiece::SentencePieceProcessor &sp, bool newline,
            const std::string &model, const std::string &dir, int64_t maxLength) {
  auto write = [&](const char *name, const std::string &text) {
    shear::Status s = shear::writeFileAtomically(dir + "/" + name, text);
    if (!s.ok())
      std::cerr << "shear-spm: error: " << s.message() << "\n";
    return s.ok();
  };
  auto bytes = shear::readFile(model);
  if (!bytes.ok())
    return fail(bytes.status().message());
  auto piece = [&](int id) { return id >= 0 ? Value(sp.IdToPiece(id)) : Value(); };
  Object specials{{"bos_token", piece(sp.bos_id())},
                  {"eos_token", piece(sp.eos_id())},
                  {"unk_token", piece(sp.unk_id())}};
  Object config = specials;
  config["tokenizer_class"] = "LlamaTokenizer";
  config["add_bos_token"] = sp.bos_id() >= 0;
  config["add_eos_token"] = false;
  config["clean_up_tokenization_spaces"] = false;
  config["legacy"] = false;
  config["model_max_length"] = maxLength;
  config["sp_model_kwargs"] = Object{};
  bool ok = write("tokenizer.model", *bytes) &&
            write("tokenizer.json", shear::json::write(hfTokenizerJson(sp, newline), 2) + "\n") &&
            write("tokenizer_config.json", shear::json::write(Value(config), 2) + "\n") &&
            write("special_tokens_map.json", shear::json::write(Value(specials), 2) + "\n");
  return ok ? 0 : 2;
}

/// A tokenizer, whichever kind: SentencePiece or a tokenizer.json. Encoding
/// is const and thread-safe for both.
class Codec {
public:
  virtual ~Codec() = default;
  virtual const char *kind() const = 0;
  virtual int64_t vocabSize() const = 0;
  virtual int64_t bos() const = 0;
  virtual int64_t eos() const = 0;
  virtual int64_t unk() const = 0;
  virtual bool newlineSymbol() const { return false; }
  virtual bool encode(const std::string &text, bool addBos, std::vector<uint32_t> &ids) const = 0;
  /// `skipSpecial`: leave out BOS, EOS and other control tokens.
  virtual bool decode(const std::vector<uint32_t> &ids, bool skipSpecial, std::string &text) const = 0;
};

class SpmCodec : public Codec {
public:
  sentencepiece::SentencePieceProcessor sp;
  bool newline = false;
  const char *kind() const override { return "sentencepiece"; }
  int64_t vocabSize() const override { return sp.GetPieceSize(); }
  int64_t bos() const override { return sp.bos_id(); }
  int64_t eos() const override { return sp.eos_id(); }
  int64_t unk() const override { return sp.unk_id(); }
  bool newlineSymbol() const override { return newline; }
  bool encode(const std::string &text, bool addBos, std::vector<uint32_t> &ids) const override {
    std::vector<int> out;
    if (!sp.Encode(newline ? replaceAll(text, "\n", kNewline) : text, &out).ok())
      return false;
    ids.clear();
    if (addBos && sp.bos_id() >= 0)
      ids.push_back(static_cast<uint32_t>(sp.bos_id()));
    ids.insert(ids.end(), out.begin(), out.end());
    return true;
  }
  bool decode(const std::vector<uint32_t> &ids, bool, std::string &text) const override {
    std::vector<int> in;
    for (uint32_t id : ids) {
      if (id >= static_cast<uint32_t>(sp.GetPieceSize()))
        return false;
      in.push_back(static_cast<int>(id));
    }
    if (!sp.Decode(in, &text).ok())
      return false;
    if (newline)
      text = replaceAll(text, kNewline, "\n");
    return true;
  }
};

class HFCodec : public Codec {
public:
  explicit HFCodec(shear::HFTokenizer t) : tok(std::move(t)) {}
  shear::HFTokenizer tok;
  const char *kind() const override { return "tokenizer.json"; }
  int64_t vocabSize() const override { return tok.vocabSize(); }
  int64_t bos() const override { return tok.bosId(); }
  int64_t eos() const override { return tok.eosId(); }
  int64_t unk() const override { return tok.unkId(); }
  bool encode(const std::string &text, bool addBos, std::vector<uint32_t> &ids) const override {
    ids = tok.encode(text, addBos);
    return true;
  }
  bool decode(const std::vector<uint32_t> &ids, bool skipSpecial, std::string &text) const override {
    auto r = tok.decode(ids, skipSpecial);
    if (!r.ok())
      return false;
    text = r.take();
    return true;
  }
};

void printIds(const std::vector<uint32_t> &ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i)
      line += ' ';
    line += std::to_string(ids[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
}

bool parseIds(const std::string &list, char separator, std::vector<uint32_t> &ids) {
  for (size_t at = 0; at < list.size();) {
    size_t end = list.find(separator, at);
    if (end == std::string::npos)
      end = list.size();
    std::string item = list.substr(at, end - at);
    at = end + 1;
    if (item.empty() && separator == ' ')
      continue;
    if (item.empty() || item.size() > 10 || item.find_first_not_of("0123456789") != std::string::npos)
      return false;
    uint64_t v = std::stoull(item);
    if (v > UINT32_MAX)
      return false;
    ids.push_back(static_cast<uint32_t>(v));
  }
  return true;
}

/// Encode frames: texts in, ids out, in order. With several threads the
/// texts are read ahead and encoded at once; each reply is flushed as soon as
/// nothing that follows it is ready, so a caller that waits for every reply
/// is served at once too.
int serveFrames(const Codec &codec, int threads) {
  struct Job {
    std::string text;
    std::vector<uint32_t> ids;
    bool done = false, ok = true;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Job>> order, todo;
  bool eof = false;
  const size_t window = 16 * static_cast<size_t>(threads);
  std::thread reader([&] {
    std::string text;
    while (readFrame(text)) {
      auto job = std::make_shared<Job>();
      job->text = std::move(text);
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return order.size() < window; });
      order.push_back(job);
      todo.push_back(job);
      cv.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu);
    eof = true;
    cv.notify_all();
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      while (true) {
        std::shared_ptr<Job> job;
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return !todo.empty() || eof; });
          if (todo.empty())
            return;
          job = todo.front();
          todo.pop_front();
        }
        bool ok = codec.encode(job->text, false, job->ids);
        std::lock_guard<std::mutex> lock(mu);
        job->ok = ok;
        job->done = true;
        cv.notify_all();
      }
    });
  int rc = 0;
  while (true) {
    std::shared_ptr<Job> job;
    bool more;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return (!order.empty() && order.front()->done) || (eof && order.empty()); });
      if (order.empty())
        break;
      job = order.front();
      order.pop_front();
      more = !order.empty() && order.front()->done;
      cv.notify_all();
    }
    if (!job->ok) {
      rc = fail("cannot encode a text");
      break;
    }
    writeFrame(job->ids.data(), job->ids.size() * 4, job->ids.size());
    if (!more)
      std::fflush(stdout); // the caller may be waiting for this reply
  }
  std::fflush(stdout);
  if (rc != 0)
    std::_Exit(rc); // the reader may be blocked on stdin
  reader.join();
  for (std::thread &w : workers)
    w.join();
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return fail("give a command: train, info, encode, decode");
  std::string cmd = argv[1];
  auto o = options(argc, argv);

  if (cmd == "train") {
    if (o["--input"].empty() || o["--model-prefix"].empty() || o["--vocab-size"].empty())
      return fail("train needs --input, --model-prefix and --vocab-size");
    std::string args = "--input=" + o["--input"] + " --model_prefix=" + o["--model-prefix"] +
                       " --vocab_size=" + o["--vocab-size"] +
                       " --model_type=bpe --character_coverage=0.9999 --byte_fallback=true"
                       " --normalization_rule_name=identity --remove_extra_whitespaces=false"
                       " --split_digits=true --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
                       " --max_sentence_length=16384 --num_threads=2 --minloglevel=2"
                       " --user_defined_symbols=" +
                       kNewline;
    if (!o["--seed-sentences"].empty())
      args += " --input_sentence_size=" + o["--seed-sentences"] + " --shuffle_input_sentence=true";
    auto status = sentencepiece::SentencePieceTrainer::Train(args);
    if (!status.ok())
      return fail("training the tokenizer failed: " + status.ToString());
    return 0;
  }

  // The tokenizer: a tokenizer.json (this project's BPE) or SentencePiece.
  std::string modelPath = o["--model"];
  std::unique_ptr<Codec> codec;
  if (modelPath.empty())
    return fail("give --model tokenizer.model|tokenizer.json|DIR");
  if (shear::HFTokenizer::isTokenizerJson(modelPath)) {
    if (cmd == "hf")
      return fail("hf converts a SentencePiece model; " + modelPath + " is a tokenizer.json already");
    auto hf = shear::HFTokenizer::load(modelPath);
    if (!hf.ok())
      return fail(hf.status().message());
    codec = std::make_unique<HFCodec>(hf.take());
  } else {
    auto spm = std::make_unique<SpmCodec>();
    if (int rc = load(spm->sp, modelPath))
      return rc;
    spm->newline = hasNewlineSymbol(spm->sp);
    codec = std::move(spm);
  }

  if (cmd == "info") {
    std::cout << "{\"vocab_size\": " << codec->vocabSize() << ", \"bos_id\": " << codec->bos()
              << ", \"eos_id\": " << codec->eos() << ", \"unk_id\": " << codec->unk()
              << ", \"kind\": \"" << codec->kind() << "\", \"newline_symbol\": "
              << (codec->newlineSymbol() ? "true" : "false") << "}\n";
    return 0;
  }
  if (cmd == "encode") {
    bool bos = o.count("--bos") && o["--bos"] != "0";
    if (o.count("--text")) {
      std::vector<uint32_t> ids;
      if (!codec->encode(o["--text"], bos, ids))
        return fail("cannot encode the text");
      printIds(ids);
      return 0;
    }
    if (o.count("--whole")) {
      // All of stdin as one text.
      std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
      std::vector<uint32_t> ids;
      if (!codec->encode(text, bos, ids))
        return fail("cannot encode the text");
      printIds(ids);
      return 0;
    }
    if (o.count("--json-lines")) {
      // A file of JSON strings, one per line (texts may hold newlines): each
      // one's ids on a line of stdout.
      auto file = shear::readFile(o["--json-lines"]);
      if (!file.ok())
        return fail(file.status().message());
      size_t at = 0;
      for (int64_t number = 1; at < file->size(); ++number) {
        size_t end = file->find('\n', at);
        if (end == std::string::npos)
          end = file->size();
        auto text = shear::json::parse(std::string_view(*file).substr(at, end - at));
        at = end + 1;
        if (!text.ok() || !text->asString())
          return fail(o["--json-lines"] + ":" + std::to_string(number) + ": not a JSON string");
        std::vector<uint32_t> ids;
        if (!codec->encode(*text->asString(), bos, ids))
          return fail(o["--json-lines"] + ":" + std::to_string(number) + ": cannot encode");
        printIds(ids);
      }
      return 0;
    }
    if (o.count("--lines")) {
      // Lines of text on stdin, each line's ids on stdout.
      std::string line;
      while (std::getline(std::cin, line)) {
        std::vector<uint32_t> ids;
        if (!codec->encode(line, bos, ids))
          return fail("cannot encode line: " + line);
        printIds(ids);
      }
      return 0;
    }
    int threads = o.count("--threads") ? std::max(1, std::atoi(o["--threads"].c_str())) : 1;
    return serveFrames(*codec, threads);
  }
  if (cmd == "decode") {
    if (o.count("--ids")) {
      std::vector<uint32_t> ids;
      if (!parseIds(o["--ids"], ',', ids))
        return fail("--ids: not a comma-separated list of token ids");
      std::string text;
      if (!codec->decode(ids, true, text)) // generated text: no control tokens
        return fail("cannot decode: token ids outside the vocabulary");
      std::cout << text;
      return 0;
    }
    if (o.count("--lines")) {
      // Lines of space-separated ids on stdin, each line's text on stdout
      // (as a JSON string with --json: text may hold newlines).
      bool asJson = o.count("--json") && o["--json"] != "0";
      std::string line;
      for (int64_t number = 1; std::getline(std::cin, line); ++number) {
        std::vector<uint32_t> ids;
        std::string text;
        if (!parseIds(line, ' ', ids))
          return fail("line " + std::to_string(number) + ": not token ids separated by spaces");
        if (!codec->decode(ids, false, text))
          return fail("line " + std::to_string(number) + ": token ids outside the vocabulary of " +
                      std::to_string(codec->vocabSize()));
        std::cout << (asJson ? shear::json::quote(text) : text) << "\n";
      }
      return 0;
    }
    std::string frame;
    while (true) {
      uint32_t n;
      if (std::fread(&n, 4, 1, stdin) != 1)
        break;
      std::vector<uint32_t> raw(n);
      if (n && std::fread(raw.data(), 4, n, stdin) != n)
        return fail("truncated frame");
      std::string text;
      if (!codec->decode(raw, true, text))
        return fail("cannot decode: token ids outside the vocabulary");
      writeFrame(text.data(), text.size(), text.size());
      std::fflush(stdout);
    }
    return 0;
  }
  if (cmd == "hf") {
    if (o["--out"].empty())
      return fail("hf needs --out DIR");
    int64_t maxLength = o.count("--max-length") ? std::stoll(o["--max-length"]) : 4096;
    auto &spm = static_cast<SpmCodec &>(*codec);
    return writeHF(spm.sp, spm.newline, modelPath, o["--out"], maxLength);
  }
  return fail("unknown command '" + cmd + "' (train, info, encode, decode, hf)");
}
