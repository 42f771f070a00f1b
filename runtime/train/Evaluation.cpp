//===- Evaluation.cpp - held-out losses per domain ------------------------===//
#include "Evaluation.h"

#include "shear/Runtime/BatchLoader.h"

#include <cmath>

using namespace shear;
using namespace shear::rt;

Result<std::vector<double>> shear::rt::evaluateDomains(Executable &evalLoss, ParamStore &store,
                                                       const Dataset &data, int64_t maxSeqs,
                                                       int64_t batch) {
  const Manifest &m = data.manifest();
  int64_t n = m.seqLen + 1;
  std::vector<double> losses;
  for (size_t d = 0; d < m.domains.size(); ++d) {
    int64_t count = m.domains[d].evalSequences;
    if (maxSeqs > 0)
      count = std::min(count, maxSeqs);
    double sum = 0;
    for (int64_t begin = 0; begin < count; begin += batch) {
      int64_t b = std::min(batch, count - begin);
      Tensor tokens = Tensor::empty({b, n}, DType::I64);
      for (int64_t i = 0; i < b; ++i)
        data.readEval(d, begin + i, tokens.i64() + i * n);
      auto [ids, labels] = splitInputsAndLabels(tokens);
      auto out = evalLoss.run({ids, labels}, store);
      if (!out.ok())
        return out.status();
      auto loss = store.backend().toHost((*out)[0]);
      if (!loss.ok())
        return loss.status();
      sum += loss->f32()[0] * b;
    }
    losses.push_back(count ? sum / count : NAN);
  }
  return losses;
}
