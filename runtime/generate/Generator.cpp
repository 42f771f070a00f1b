//===- Generator.cpp - the decode loop ------------------------------------===//
#include "shear/Runtime/Executable.h"
#include "shear/Runtime/Generate.h"

#include <algorithm>
#include <chrono>

using namespace shear;
using namespace shear::rt;

Result<Generation> shear::rt::generate(const ProgramFile &program, Backend &backend,
                                       const std::vector<int64_t> &prompt, int64_t maxNew,
                                       int64_t eos, const SamplingOptions &options) {
  if (prompt.empty())
    return invalidInput("the prompt is empty");
  if (maxNew < 0)
    return invalidInput("--max-new-tokens must not be negative");
  int64_t vocab = program.model.vocab;
  for (int64_t id : prompt)
    if (id < 0 || id >= vocab)
      return invalidInput("prompt token " + std::to_string(id) + " is outside the vocabulary [0, " +
                          std::to_string(vocab) + ")");
  auto decode = Executable::load(program, "decode", backend);
  if (!decode.ok())
    return decode.status();
  const ProgramFunction &fn = (*decode)->function();
  SHEAR_RETURN_IF_ERROR(validateProgramWeights(program));

  // Caches [1, kv heads, positions, head_dim], sized for the whole generation.
  int64_t total = static_cast<int64_t>(prompt.size()) + maxNew;
  std::vector<Tensor> caches;
  for (size_t i = 2; i < fn.args.size(); ++i) {
    const ValueType &t = fn.values[fn.args[i]];
    auto cache = Tensor::allocate(backend.allocator(), {1, t.shape[1], total, t.shape[3]}, t.dtype);
    if (!cache.ok())
      return cache.status();
    SHEAR_RETURN_IF_ERROR(backend.zero(*cache));
    caches.push_back(cache.take());
  }
  ParamStore store(backend);
  Generation g;
  std::vector<int64_t> input = prompt;
  int64_t pos = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < maxNew; ++step) {
    Tensor ids = Tensor::empty({1, static_cast<int64_t>(input.size())}, DType::I64);
    std::copy(input.begin(), input.end(), ids.i64());
    std::vector<Tensor> args = {ids, Tensor::scalarI64(pos)};
    args.insert(args.end(), caches.begin(), caches.end());
    auto out = (*decode)->run(args, store);
    if (!out.ok())
      return out.status();
    for (size_t i = 0; i < caches.size(); ++i)
      caches[i] = (*out)[1 + i]; // the same tensors: updated in place
    pos += static_cast<int64_t>(input.size());
    auto logits = backend.toHost((*out)[0]);
    if (!logits.ok())
      return logits.status();
    const float *last = logits->f32() + (input.size() - 1) * vocab;
    int64_t next = sampleToken(last, vocab, options, step);
    g.tokens.push_back(next);
    if (next == eos)
      break;
    input = {next};
  }
  g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return g;
}
