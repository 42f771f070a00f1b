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
//
// Frames: a little-endian uint32 length, then that many bytes (encode input,
// decode output) or uint32 token ids (encode output, decode input).
// Newlines: models trained here have a user symbol "⏎" standing for "\n"
// (SentencePiece trains on lines); encode/decode translate it. Models without
// it (LLaMA's, with byte fallback) see text as it is.
// Exit codes: 0 success, 2 bad usage or bad input.
//
//===----------------------------------------------------------------------===//
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

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
  return fail("unknown command '" + cmd + "' (train, info, encode, decode)");
}
