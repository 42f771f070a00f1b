//===- Dataset.h - the on-disk training data format -----------------------===//
//
// DATA_DIR/manifest.json names the domains; each domain has a training file
// and a held-out evaluation file of fixed-length sequences, raw little-endian
// tokens (uint16 or uint32), each sequence seq_len + 1 tokens long (the inputs
// and, shifted by one, their next-token labels). docs/data-format.md has the
// details; shear-data pack writes it.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_DATASET_H
#define SHEAR_RUNTIME_DATASET_H

#include "shear/Support/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shear::rt {

struct DomainInfo {
  std::string name;
  std::string trainFile, evalFile; // relative to the data directory
  int64_t trainSequences = 0, evalSequences = 0;
  double weight = 0; // initial sampling weight (the data mix)
  // Optional loss masks (instruction data): one byte per token, 1 where the
  // token counts as a label, 0 where it does not (the prompt's tokens).
  std::string trainMaskFile = {}, evalMaskFile = {};
};

struct Manifest {
  int64_t seqLen = 0;
  std::string tokenDtype = "uint16"; // or "uint32"
  int64_t vocabSize = 0;             // largest token + 1
  std::vector<DomainInfo> domains;
  size_t tokenBytes() const { return tokenDtype == "uint16" ? 2 : 4; }
};

/// The manifest's fields, validated (types, ranges, sizes that fit in 64
/// bits, unique names); domain weights normalized (all zero: by training
/// sequences). Errors name `path`.
Result<Manifest> parseManifest(std::string_view text, const std::string &path);

class Dataset {
public:
  /// Opens and validates DATA_DIR: manifest fields, every domain file present
  /// with exactly the size its sequence count implies. Errors name the file.
  static Result<std::unique_ptr<Dataset>> open(const std::string &dir);
  ~Dataset();

  const Manifest &manifest() const { return manifest_; }
  const std::string &dir() const { return dir_; }
  int64_t domainIndex(const std::string &name) const; // -1 if absent
  /// Copies sequence `index` of a domain (seq_len + 1 tokens) into `out`.
  /// Tokens a loss mask excludes carry kNoLossBit (splitInputsAndLabels
  /// turns them into ignored labels and plain inputs).
  void readTrain(int64_t domain, int64_t index, int64_t *out) const;
  void readEval(int64_t domain, int64_t index, int64_t *out) const;

private:
  struct Mapped {
    const uint8_t *data = nullptr;
    size_t size = 0;
  };
  void read(const Mapped &m, const Mapped &mask, int64_t index, int64_t *out) const;
  std::string dir_;
  Manifest manifest_;
  std::vector<Mapped> train_, eval_, trainMask_, evalMask_;
};

/// Marks a token whose label must not count in the loss, from the data
/// reader to splitInputsAndLabels (token ids stay far below it).
constexpr int64_t kNoLossBit = int64_t(1) << 40;

/// Writes a manifest atomically.
Status writeManifest(const std::string &dir, const Manifest &m);

} // namespace shear::rt

#endif
