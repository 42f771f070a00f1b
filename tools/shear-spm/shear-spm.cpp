//===- shear-spm.cpp - SentencePiece, in a binary of its own --------------===//
//
// Debian's libsentencepiece bundles its own protobuf; linked beside another
// protobuf user it crashes at start-up (TOOLCHAIN.md). So tokenization lives
// here, and shear-data / shear-run talk to this process:
//
//   shear-spm train  --input SAMPLE.txt --model-prefix PREFIX --vocab-size V
//   shear-spm info   --model M              JSON: vocab size, special ids
//   shear-spm encode --model M [--text T]   frames on stdin/stdout, or one text
//   shear-spm decode --model M [--ids 1,2]  frames on stdin/stdout, or one list
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

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <tuple>

#include <cstdint>
#include <cstdio>
#include <iostream>
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

std::string replaceAll(std::string s, const std::string &from, const std::string &to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
    s.replace(at, from.size(), to);
  return s;
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

  sentencepiece::SentencePieceProcessor sp;
  if (int rc = load(sp, o["--model"]))
    return rc;
  bool newline = hasNewlineSymbol(sp);

  if (cmd == "info") {
    std::cout << "{\"vocab_size\": " << sp.GetPieceSize() << ", \"bos_id\": " << sp.bos_id()
              << ", \"eos_id\": " << sp.eos_id() << ", \"unk_id\": " << sp.unk_id()
              << ", \"newline_symbol\": " << (newline ? "true" : "false") << "}\n";
    return 0;
  }
  if (cmd == "encode") {
    auto encode = [&](const std::string &text, std::vector<int> &ids) {
      return sp.Encode(newline ? replaceAll(text, "\n", kNewline) : text, &ids);
    };
    if (o.count("--text")) {
      std::vector<int> ids;
      if (!encode(o["--text"], ids).ok())
        return fail("cannot encode the text");
      for (size_t i = 0; i < ids.size(); ++i)
        std::cout << (i ? " " : "") << ids[i];
      std::cout << "\n";
      return 0;
    }
    std::string text;
    while (readFrame(text)) {
      std::vector<int> ids;
      auto status = encode(text, ids);
      if (!status.ok())
        return fail("cannot encode: " + status.ToString());
      std::vector<uint32_t> out(ids.begin(), ids.end());
      writeFrame(out.data(), out.size() * 4, out.size());
      std::fflush(stdout); // the caller waits for each reply
    }
    return 0;
  }
  if (cmd == "decode") {
    auto decode = [&](const std::vector<int> &ids, std::string &text) {
      for (int id : ids)
        if (id < 0 || id >= sp.GetPieceSize())
          return false;
      if (!sp.Decode(ids, &text).ok())
        return false;
      if (newline)
        text = replaceAll(text, kNewline, "\n");
      return true;
    };
    if (o.count("--ids")) {
      std::vector<int> ids;
      std::string list = o["--ids"];
      for (size_t at = 0; at < list.size();) {
        size_t end = list.find(',', at);
        ids.push_back(std::stoi(list.substr(at, end - at)));
        at = end == std::string::npos ? list.size() : end + 1;
      }
      std::string text;
      if (!decode(ids, text))
        return fail("cannot decode: token ids outside the vocabulary");
      std::cout << text;
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
      if (!decode(std::vector<int>(raw.begin(), raw.end()), text))
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
    return writeHF(sp, newline, o["--model"], o["--out"], maxLength);
  }
  return fail("unknown command '" + cmd + "' (train, info, encode, decode, hf)");
}
