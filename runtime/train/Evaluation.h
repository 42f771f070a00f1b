//===- Evaluation.h - held-out losses per domain --------------------------===//
#ifndef SHEAR_RUNTIME_TRAIN_EVALUATION_H
#define SHEAR_RUNTIME_TRAIN_EVALUATION_H

#include "shear/Runtime/Communicator.h"
#include "shear/Runtime/Dataset.h"
#include "shear/Runtime/Executable.h"

namespace shear::rt {

/// Mean next-token loss per domain on (at most `maxSeqs` of) its held-out
/// set, with a program's eval_loss function, `batch` sequences at a time.
/// With a communicator of several ranks the batches are shared out and the
/// sums reduced: every rank gets the same losses.
Result<std::vector<double>> evaluateDomains(Executable &evalLoss, ParamStore &store,
                                            const Dataset &data, int64_t maxSeqs, int64_t batch,
                                            Communicator *comm = nullptr);

} // namespace shear::rt

#endif
