//===- Trainer.h - the training loop of shear-run prune and train ---------===//
//
// The host side of training: it builds the step program with shear's passes
// (build-train-step, lower-to-runtime, differentiate, build-optimizer), feeds
// it batches chosen by dynamic batch loading, keeps the parameters and
// optimizer state in a ParamStore, evaluates, logs, and writes checkpoints
// from which a run resumes exactly. The model computation itself is only the
// compiled program.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_TRAINER_H
#define SHEAR_RUNTIME_TRAINER_H

#include "shear/Runtime/BatchLoader.h"

#include <map>
#include <string>

namespace shear::rt {

struct TrainOptions {
  std::string mode = "prune"; // prune or train
  std::string modelPath, dataDir, outDir;
  int64_t steps = 3200, batch = 32;
  double lr = 1e-4, lrGate = 1.0, lrLambda = -1.0;
  double warmupFraction = 0.1, minLrRatio = 0.1, targetWarmupFraction = 0.2;
  double maxNorm = 1.0;
  int64_t evalEvery = 50, saveEvery = 0, logEvery = 1;
  int64_t evalSequences = 0; // per domain; 0: all
  uint64_t seed = 1;
  DblMode dbl = DblMode::Paper;
  std::string refLoss = "source"; // "source" or a JSON file {domain: loss}
  std::map<std::string, double> initialWeights; // empty: the data mix
  bool resume = false;
  int threads = 2;
  int64_t stopAfter = -1; // testing: exit after this many steps of this process
};

/// Runs prune or train; returns the process exit code (0, 1 failed run,
/// 2 bad input), having printed what went wrong.
int runTraining(const TrainOptions &options);

/// shear-run eval --data: per-domain mean losses of a model on the held-out
/// sets, as JSON on stdout.
int evaluateOnData(const std::string &modelPath, const std::string &dataDir,
                   const std::string &evalMasks, int64_t evalSequences, int64_t batch,
                   int threads);

} // namespace shear::rt

#endif
