//===- BatchLoader.h - batches drawn across domains (METHOD.md §4) --------===//
#ifndef SHEAR_RUNTIME_BATCHLOADER_H
#define SHEAR_RUNTIME_BATCHLOADER_H

#include "shear/Runtime/Dataset.h"
#include "shear/Runtime/Tensor.h"

#include <functional>

namespace shear::rt {

/// Where each domain's reader is, and the current sampling weights: all of it
/// goes into checkpoints so a resumed run draws exactly the same batches.
struct LoaderState {
  std::vector<int64_t> position; // next training sequence of each domain
  std::vector<int64_t> epoch;    // how often each domain has wrapped
  std::vector<double> weights;   // domain sampling weights
};

class BatchLoader {
public:
  BatchLoader(const Dataset &data, uint64_t seed, LoaderState state)
      : data_(data), seed_(seed), state_(std::move(state)) {}

  /// Tokens [batch, seq_len + 1] for `step`. Each sequence draws its domain
  /// from the weights (Philox keyed by seed, step and position in the
  /// batch); each domain is read in order and wraps when exhausted, calling
  /// `log` to say so. `domains` receives each sequence's domain.
  Tensor next(int64_t step, int64_t batch, std::vector<int64_t> &domains,
              const std::function<void(const std::string &)> &log);

  LoaderState &state() { return state_; }

private:
  const Dataset &data_;
  uint64_t seed_;
  LoaderState state_;
};

/// The label the compiled cross-entropy ignores (its ignore_index).
constexpr int64_t kIgnoredLabel = -100;

/// Token sequences [batch, seq + 1] as model inputs [:, :-1] and next-token
/// labels [:, 1:]; a token marked with kNoLossBit (a loss mask's 0) is an
/// input as usual but its label is kIgnoredLabel.
std::pair<Tensor, Tensor> splitInputsAndLabels(const Tensor &tokens);

enum class DblMode { Paper, Code, Off };

/// One dynamic-batch-loading update of the domain weights from the current
/// and reference validation losses (METHOD.md §4):
///   paper: Δ = max(ℓ − ℓ_ref, 0); w ← normalize(w ⊙ exp(Δ))
///   code:  Δ = ℓ − ℓ_ref; a = normalize(w ⊙ exp(Δ)); w ← normalize((1 − c)·a + c/k), c = 1e-4
std::vector<double> updateDomainWeights(DblMode mode, const std::vector<double> &weights,
                                        const std::vector<double> &loss,
                                        const std::vector<double> &reference);

} // namespace shear::rt

#endif
