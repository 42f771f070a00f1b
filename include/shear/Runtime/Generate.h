//===- Generate.h - text generation with a program's decode step ----------===//
#ifndef SHEAR_RUNTIME_GENERATE_H
#define SHEAR_RUNTIME_GENERATE_H

#include "shear/Runtime/Backend.h"
#include "shear/Support/Program.h"

namespace shear::rt {

struct SamplingOptions {
  double temperature = 0; // 0: greedy
  double topP = 1.0;      // nucleus: the smallest set of tokens with this much mass
  uint64_t seed = 1;
};

/// The next token from one position's logits: the argmax (greedy), or a draw
/// from the temperature-scaled distribution restricted to its top-p nucleus
/// (Philox keyed by seed and step, so runs are reproducible).
int64_t sampleToken(const float *logits, int64_t vocab, const SamplingOptions &options,
                    int64_t step);

struct Generation {
  std::vector<int64_t> tokens; // generated (ends with eos when it was produced)
  double seconds = 0;
};

/// Feeds `prompt` through the program's decode step, then one token at a
/// time, until `maxNew` tokens or `eos` (-1: none). The KV caches are sized
/// for the whole generation and updated in place.
Result<Generation> generate(const ProgramFile &program, Backend &backend,
                            const std::vector<int64_t> &prompt, int64_t maxNew, int64_t eos,
                            const SamplingOptions &options);

} // namespace shear::rt

#endif
