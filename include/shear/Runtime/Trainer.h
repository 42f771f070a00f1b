//===- Trainer.h - the training loop of shear-run prune and train ---------===//
//
// The host side of training: it feeds a program's train_step batches chosen
// by dynamic batch loading, keeps parameters and optimizer state in a
// ParamStore, evaluates, logs progress and metrics.jsonl, and writes
// checkpoints from which a run resumes exactly. The model computation itself
// is only the compiled program; no compiler is involved.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_TRAINER_H
#define SHEAR_RUNTIME_TRAINER_H

#include "shear/Runtime/Backend.h"
#include "shear/Runtime/BatchLoader.h"
#include "shear/Runtime/Communicator.h"
#include "shear/Support/Program.h"

#include <atomic>
#include <functional>
#include <map>
#include <string>

namespace shear::rt {

/// --checkpoint-writes: periodic checkpoints copied to host memory and
/// written while training goes on (background), written before the next
/// step (foreground), or background when the copy fits in half the host's
/// available memory (auto).
enum class CheckpointWrites { Auto, Background, Foreground };
Result<CheckpointWrites> parseCheckpointWrites(const std::string &text);

struct TrainOptions {
  std::string modelPath; // what the user gave (module or program), for messages and run.json
  std::string recipe, init; // prune: the recipe and where the gates started (run.json)
  std::string dataDir, outDir;
  int64_t steps = 3200, batch = 32;
  /// Sequences per micro-batch on each rank (0: the rank's whole share of
  /// the batch): a step then runs train_micro on each micro-batch, adding up
  /// their gradients, and train_apply once (gradient accumulation).
  int64_t microBatch = 0;
  double lr = 1e-4, lrGate = 1.0, lrLambda = -1.0;
  /// How the Lagrange multipliers move: "paper" (gradient ascent at
  /// lrLambda, METHOD.md §3) or "pi" (set every step from the sparsity error
  /// e = expected − target: lambda1 = kp·e + ki·Σe, lambda2 = kq).
  std::string controller = "paper";
  double piKp = 50, piKi = 5, piKq = 50;
  double warmupFraction = 0.1, minLrRatio = 0.1;
  int64_t evalEvery = 50, saveEvery = 0, logEvery = 1;
  int64_t evalSequences = 0; // per domain; 0: all
  uint64_t seed = 1;         // domain draws (the gate noise's seed is compiled in)
  DblMode dbl = DblMode::Paper;
  std::string refLoss = "source"; // "source" or a JSON file {domain: loss}
  std::map<std::string, double> initialWeights; // empty: the data mix
  bool resume = false;
  bool planOnly = false;  // print the memory plan and stop
  int64_t maxBadSteps = 5; // non-finite loss or gradients this many steps in a row: stop
  int64_t keepLast = 0;    // keep only the newest N ckpt-* (0: all)
  CheckpointWrites checkpointWrites = CheckpointWrites::Auto;
  /// Time every kernel of the training steps after this process's first
  /// (KernelProfile.h): the table at the end, RUN_DIR/profile.json.
  bool profile = false;
  /// Set (by a signal handler) to stop after the current step with a
  /// checkpoint; holds the signal's number.
  const std::atomic<int> *interrupt = nullptr;
  int64_t stopAfter = -1; // testing: exit abruptly after this many steps of this process
  /// Data parallelism: the ranks share each step's batch (every rank must
  /// call runTraining with the same options); null: this process alone.
  Communicator *comm = nullptr;
  /// Each rank keeps and updates the optimizer state of 1/N of the
  /// parameters (ZeRO stage 1) and broadcasts what it updated.
  bool shardOptimizer = false;
  /// Gradients are averaged in buckets of at least this many bytes (0: each
  /// gradient on its own).
  size_t bucketBytes = size_t(25) << 20;
};

/// Runs a prune or train program. Progress goes to `log` (one line per call;
/// only the first rank logs).
Status runTraining(const ProgramFile &program, const TrainOptions &options, Backend &backend,
                   const std::function<void(const std::string &)> &log);

/// Per-domain mean losses of a program's eval_loss on the held-out sets
/// (the batches shared among the ranks of `comm` when given).
Result<std::map<std::string, double>> evaluateOnData(const ProgramFile &program,
                                                     const std::string &dataDir,
                                                     int64_t evalSequences, int64_t batch,
                                                     Backend &backend,
                                                     Communicator *comm = nullptr);

} // namespace shear::rt

#endif
