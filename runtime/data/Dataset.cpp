//===- Dataset.cpp - the on-disk training data format ---------------------===//
#include "shear/Runtime/Dataset.h"
#include "shear/Support/Files.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shear;
using namespace shear::rt;

static Status dataError(const std::string &file, const std::string &what) {
  return fileError(file, what);
}

Result<Manifest> shear::rt::parseManifest(std::string_view text, const std::string &path) {
  auto jsonOr = json::parse(text);
  if (!jsonOr.ok())
    return dataError(path, jsonOr.status().message());
  const json::Value *root = &*jsonOr;
  if (!root->asObject())
    return dataError(path, "not a JSON object");
  Manifest m;
  auto seq = root->getInteger("seq_len");
  if (!seq || *seq <= 0 || *seq > (int64_t(1) << 30))
    return dataError(path, "'seq_len' must be an integer in [1, 2^30]");
  m.seqLen = *seq;
  const std::string *dtype = root->getString("token_dtype");
  if (!dtype || (*dtype != "uint16" && *dtype != "uint32"))
    return dataError(path, "'token_dtype' must be \"uint16\" or \"uint32\"");
  m.tokenDtype = *dtype;
  m.vocabSize = root->getInteger("vocab_size").value_or(0);
  if (m.vocabSize < 0)
    return dataError(path, "'vocab_size' must not be negative");
  const json::Array *domains = root->getArray("domains");
  if (!domains || domains->empty())
    return dataError(path, "missing or empty 'domains'");
  uint64_t perSequence = static_cast<uint64_t>(m.seqLen + 1) * m.tokenBytes();
  for (const json::Value &v : *domains) {
    const json::Value *d = &v;
    if (!d->asObject())
      return dataError(path, "every domain must be an object");
    DomainInfo info;
    const std::string *name = d->getString("name");
    const std::string *trainFile = d->getString("train_file");
    const std::string *evalFile = d->getString("eval_file");
    auto trainSeqs = d->getInteger("train_sequences");
    auto evalSeqs = d->getInteger("eval_sequences");
    if (!name || !trainFile || !evalFile || !trainSeqs || !evalSeqs)
      return dataError(path, "a domain needs name, train_file, eval_file, train_sequences "
                             "and eval_sequences");
    info.name = *name;
    info.trainFile = *trainFile;
    info.evalFile = *evalFile;
    const std::string *trainMask = d->getString("train_mask_file");
    const std::string *evalMask = d->getString("eval_mask_file");
    if (!trainMask != !evalMask || (trainMask && (trainMask->empty() || evalMask->empty())))
      return dataError(path, "domain '" + info.name +
                                 "': a loss mask needs both train_mask_file and eval_mask_file");
    if (trainMask) {
      info.trainMaskFile = *trainMask;
      info.evalMaskFile = *evalMask;
    }
    info.trainSequences = *trainSeqs;
    info.evalSequences = *evalSeqs;
    info.weight = d->getNumber("weight").value_or(0.0);
    if (info.trainSequences <= 0)
      return dataError(path, "domain '" + info.name + "' has no training sequences");
    if (info.evalSequences < 0)
      return dataError(path, "domain '" + info.name + "' has a negative eval_sequences");
    if (!(info.weight >= 0) || !std::isfinite(info.weight) || info.weight > 1e300)
      return dataError(path, "domain '" + info.name + "' has a weight that is not a finite "
                             "non-negative number");
    if (info.name.empty() || info.trainFile.empty() || info.evalFile.empty())
      return dataError(path, "a domain's name and files must not be empty");
    // Sizes come from the manifest: checked for overflow before any use.
    for (int64_t count : {info.trainSequences, info.evalSequences})
      if (static_cast<uint64_t>(count) > UINT64_MAX / perSequence)
        return dataError(path, "domain '" + info.name + "': " + std::to_string(count) +
                                   " sequences of " + std::to_string(m.seqLen + 1) +
                                   " tokens do not fit in 64 bits");
    for (const DomainInfo &other : m.domains)
      if (other.name == info.name)
        return dataError(path, "domain '" + info.name + "' is listed twice");
    m.domains.push_back(info);
  }
  double total = 0;
  for (const DomainInfo &d : m.domains)
    total += d.weight;
  for (DomainInfo &d : m.domains)
    d.weight = total > 0 ? d.weight / total : 0;
  if (total <= 0) { // default mix: by training sequences
    double seqs = 0;
    for (const DomainInfo &d : m.domains)
      seqs += static_cast<double>(d.trainSequences);
    for (DomainInfo &d : m.domains)
      d.weight = static_cast<double>(d.trainSequences) / seqs;
  }
  return m;
}

Result<std::unique_ptr<Dataset>> Dataset::open(const std::string &dir) {
  std::string path = shear::joinPath(dir, "manifest.json");
  auto text = readFile(path);
  if (!text.ok())
    return text.status();
  auto manifest = parseManifest(*text, path);
  if (!manifest.ok())
    return manifest.status();
  std::unique_ptr<Dataset> ds(new Dataset());
  ds->dir_ = dir;
  ds->manifest_ = manifest.take();
  const Manifest &m = ds->manifest_;
  uint64_t perSequence = static_cast<uint64_t>(m.seqLen + 1) * m.tokenBytes();
  for (const DomainInfo &info : m.domains) {
    // Tokens (train, eval), then the loss masks (train, eval) if any: a mask
    // has one byte per token.
    for (int which = 0; which < 4; ++which) {
      bool isMask = which >= 2, isEval = which % 2 == 1;
      if (isMask && info.trainMaskFile.empty()) {
        (isEval ? ds->evalMask_ : ds->trainMask_).push_back(Mapped{});
        continue;
      }
      std::string file = shear::joinPath(
          dir, isMask ? (isEval ? info.evalMaskFile : info.trainMaskFile) : (isEval ? info.evalFile : info.trainFile));
      int64_t count = isEval ? info.evalSequences : info.trainSequences;
      uint64_t expected = static_cast<uint64_t>(count) * (isMask ? perSequence / m.tokenBytes() : perSequence);
      int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return dataError(file, std::string("cannot open: ") + std::strerror(errno) +
                                   " (domain '" + info.name + "' of " + path + ")");
      struct stat st;
      if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return dataError(file, "not a regular file (domain '" + info.name + "' of " + path + ")");
      }
      if (static_cast<uint64_t>(st.st_size) != expected) {
        ::close(fd);
        return dataError(file, "holds " + std::to_string(st.st_size) + " bytes but " +
                                   std::to_string(count) + " sequences of " +
                                   std::to_string(m.seqLen + 1) + " " +
                                   (isMask ? std::string("mask bytes") : m.tokenDtype + " tokens") +
                                   " need " + std::to_string(expected) +
                                   (static_cast<uint64_t>(st.st_size) < expected
                                        ? " (truncated, or tokens of another dtype)"
                                        : " (tokens of another dtype, or trailing data)"));
      }
      Mapped mapped;
      mapped.size = expected;
      if (expected > 0) {
        void *p = mmap(nullptr, expected, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
          ::close(fd);
          return dataError(file, "cannot map");
        }
        mapped.data = static_cast<const uint8_t *>(p);
      }
      ::close(fd);
      (isMask ? (isEval ? ds->evalMask_ : ds->trainMask_) : (isEval ? ds->eval_ : ds->train_))
          .push_back(mapped);
    }
  }
  return ds;
}

Dataset::~Dataset() {
  for (auto *list : {&train_, &eval_, &trainMask_, &evalMask_})
    for (const Mapped &m : *list)
      if (m.data)
        munmap(const_cast<uint8_t *>(m.data), m.size);
}

int64_t Dataset::domainIndex(const std::string &name) const {
  for (size_t i = 0; i < manifest_.domains.size(); ++i)
    if (manifest_.domains[i].name == name)
      return i;
  return -1;
}

void Dataset::read(const Mapped &m, const Mapped &mask, int64_t index, int64_t *out) const {
  int64_t n = manifest_.seqLen + 1;
  if (mask.data) {
    const uint8_t *keep = mask.data + index * n;
    read(m, Mapped{}, index, out);
    for (int64_t i = 0; i < n; ++i)
      if (!keep[i])
        out[i] |= kNoLossBit;
    return;
  }
  if (manifest_.tokenDtype == "uint16") {
    const uint16_t *p = reinterpret_cast<const uint16_t *>(m.data) + index * n;
    for (int64_t i = 0; i < n; ++i)
      out[i] = p[i];
  } else {
    const uint32_t *p = reinterpret_cast<const uint32_t *>(m.data) + index * n;
    for (int64_t i = 0; i < n; ++i)
      out[i] = p[i];
  }
}

void Dataset::readTrain(int64_t d, int64_t i, int64_t *out) const { read(train_[d], trainMask_[d], i, out); }
void Dataset::readEval(int64_t d, int64_t i, int64_t *out) const { read(eval_[d], evalMask_[d], i, out); }

Status shear::rt::writeManifest(const std::string &dir, const Manifest &m) {
  json::Array domains;
  for (const DomainInfo &d : m.domains) {
    json::Object o{{"name", d.name},
                   {"train_file", d.trainFile},
                   {"eval_file", d.evalFile},
                   {"train_sequences", d.trainSequences},
                   {"eval_sequences", d.evalSequences},
                   {"weight", d.weight}};
    if (!d.trainMaskFile.empty()) {
      o["train_mask_file"] = d.trainMaskFile;
      o["eval_mask_file"] = d.evalMaskFile;
    }
    domains.push_back(std::move(o));
  }
  json::Object root{{"format", "shear-data"},
                    {"version", 1},
                    {"seq_len", m.seqLen},
                    {"token_dtype", m.tokenDtype},
                    {"vocab_size", m.vocabSize},
                    {"domains", std::move(domains)}};
  return writeJsonFileAtomically(joinPath(dir, "manifest.json"), json::Value(std::move(root)));
}
