//===- Evaluation.cpp - held-out losses per domain ------------------------===//
#include "Evaluation.h"

#include "shear/Runtime/BatchLoader.h"

#include <cmath>

using namespace shear;
using namespace shear::rt;

Result<std::vector<double>> shear::rt::evaluateDomains(Executable &evalLoss, ParamStore &store,
                                                       const Dataset &data, int64_t maxSeqs,
                                                       int64_t batch, Communicator *comm) {
  const Manifest &m = data.manifest();
  int64_t n = m.seqLen + 1;
  int rank = comm ? comm->rank() : 0, size = comm ? comm->size() : 1;
  std::vector<double> sums, counts;
  for (size_t d = 0; d < m.domains.size(); ++d) {
    int64_t count = m.domains[d].evalSequences;
    if (maxSeqs > 0)
      count = std::min(count, maxSeqs);
    counts.push_back(static_cast<double>(count));
    double sum = 0;
    int64_t index = 0;
    for (int64_t begin = 0; begin < count; begin += batch, ++index) {
      if (index % size != rank) // this batch is another rank's
        continue;
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
    sums.push_back(sum);
  }
  if (comm && size > 1)
    SHEAR_RETURN_IF_ERROR(comm->allReduce(sums.data(), sums.size(), DType::F64, ReduceOp::Sum));
  std::vector<double> losses;
  for (size_t d = 0; d < sums.size(); ++d)
    losses.push_back(counts[d] > 0 ? sums[d] / counts[d] : NAN);
  return losses;
}
