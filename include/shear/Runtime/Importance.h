//===- Importance.h - activation importance of a model's units ------------===//
//
// One-shot pruning (Minitron, ShortGPT) ranks the units of a model by
// statistics of its activations on a few calibration sequences. The compiler
// builds the statistics into an `importance` program (build-importance-step);
// this runs it over calibration batches and turns the sums into scores:
//   head [L, H]         mean over tokens of the L2 norm of the head's output
//   kv_group [L, G]     the sum of its query heads' scores
//   intermediate [L, M] mean over tokens of |silu(gate) * up|
//   hidden [D]          Σ over every RMSNorm output of the mean |y_d|
//   layer [L]           block influence: 1 - mean cosine(layer input, output)
// written as a safetensors file that `shear-opt --select-structure=method=
// activation` reads (docs/one-shot.md).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_IMPORTANCE_H
#define SHEAR_RUNTIME_IMPORTANCE_H

#include "shear/Runtime/Dataset.h"
#include "shear/Runtime/Executable.h"
#include "shear/Support/Program.h"

#include <functional>
#include <optional>

namespace shear::rt {

struct ImportanceScores {
  int64_t layers = 0, heads = 0, kvHeads = 0, intermediate = 0, hidden = 0;
  int64_t tokens = 0;
  std::vector<double> head, kvGroup, intermediateScores, hiddenScores, layer;
};

/// The (domain, sequence) pairs of a calibration set of `count` sequences:
/// shared among the domains in proportion to the data mix (largest
/// remainders), the first ones of each domain's training (or held-out) file.
std::vector<std::pair<int64_t, int64_t>> calibrationSequences(const Dataset &data, int64_t count,
                                                              bool heldOut);

/// Runs the program's `importance` function on every batch `next` gives
/// (token ids [B, T]; std::nullopt ends) and averages over their tokens.
Result<ImportanceScores> computeImportance(const ProgramFile &program, Backend &backend,
                                           const std::function<std::optional<Tensor>()> &next);

/// computeImportance on `count` calibration sequences of `data` (the
/// training or the held-out split), `batch` sequences at a time.
Result<ImportanceScores> computeImportanceOnData(const ProgramFile &program, Backend &backend,
                                                 const Dataset &data, int64_t count, bool heldOut,
                                                 int64_t batch);

/// Writes the scores (float32) atomically, with `metadata` in the header.
Status writeImportanceScores(const std::string &path, const ImportanceScores &scores,
                             std::map<std::string, std::string> metadata);

} // namespace shear::rt

#endif
