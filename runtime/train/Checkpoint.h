//===- Checkpoint.h - run directories' checkpoints ------------------------===//
//
// RUN_DIR/<name>/ holds model.mlir (the program's checkpoint module, its
// weights in this directory), model/gates/masks.safetensors (float32 master
// weights), lambdas.safetensors and optimizer.safetensors (training state),
// and state.json (step, data positions, domain weights, the model's
// signature), written last. The directory is built under a temporary name
// and renamed into place, so a checkpoint is complete or absent.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_TRAIN_CHECKPOINT_H
#define SHEAR_RUNTIME_TRAIN_CHECKPOINT_H

#include "shear/Runtime/Communicator.h"
#include "shear/Runtime/Dataset.h"
#include "shear/Runtime/ParamStore.h"
#include "shear/Support/Json.h"

#include <atomic>
#include <functional>
#include <map>

namespace shear::rt {

/// A checkpoint's state.json, checked: every value has its type and range.
struct TrainState {
  int64_t step = 0;
  std::vector<std::string> domains;
  std::vector<int64_t> positions, epochs;
  std::vector<double> weights, refLoss;
  std::string signature; // empty in checkpoints older than program files
  // Per family: the largest expected sparsity above the target so far, and
  // the PI controller's integral of the error (absent in older checkpoints).
  std::map<std::string, double> overshoot, integral;
};

/// Parses state.json text for a run of `steps` steps over `manifest`'s
/// domains (reference losses required with `needRefLoss`). Errors name `path`.
Result<TrainState> parseTrainState(std::string_view text, const std::string &path,
                                   const Manifest &manifest, int64_t steps, bool needRefLoss);

/// One rank's part of a checkpoint, taken but not yet on disk: the tensors
/// of each of its files, and (on the first rank) the module and state.json.
/// It holds either the store's own tensors (written at once, streamed with
/// no second copy) or host copies of them (written while training goes on).
struct CheckpointSnapshot {
  std::string name, runDir, tmpDir, finalDir;
  bool lead = false;
  std::map<std::string, std::vector<std::pair<std::string, Tensor>>> files;
  std::string module;
  json::Value state;
  bool copied = false;
  size_t bytes = 0; // float32 bytes of the tensors
};

/// Takes this rank's part of checkpoint RUN_DIR/<name>/ from `store` and
/// makes its temporary directory; every rank of `comm` calls it. The first
/// rank writes the weights, multipliers and state; the optimizer's moments
/// go to optimizer.safetensors, or with a sharded optimizer to one
/// optimizer.rank<r>.safetensors per rank (RUN_DIR must then be on a file
/// system all ranks share).
Result<CheckpointSnapshot> takeCheckpoint(const std::string &runDir, const std::string &name,
                                          const ProgramFile &program, ParamStore &store,
                                          const json::Value &state, Communicator &comm,
                                          bool shardedOptimizer);

/// Replaces the snapshot's tensors by host copies of them, so that the
/// store may change while it is written.
Status copyCheckpointToHost(CheckpointSnapshot &snapshot, Backend &backend);

/// Writes this rank's files of `snapshot` into its temporary directory.
/// Nothing collective: with copied tensors it touches neither the store nor
/// `backend` (null then), and may run on a thread of its own; it stops
/// between tensors once `cancel` is set.
Status writeCheckpointFiles(const CheckpointSnapshot &snapshot, Backend *backend,
                            const std::atomic<bool> *cancel = nullptr);

/// Once every rank wrote its files (`written`: this rank's result), the
/// first moves the directory into place at once, so a checkpoint is
/// complete or absent. Every rank calls it.
Status placeCheckpoint(const CheckpointSnapshot &snapshot, const Status &written, Communicator &comm);

/// takeCheckpoint, writeCheckpointFiles and placeCheckpoint in one call.
Status writeCheckpoint(const std::string &runDir, const std::string &name,
                       const ProgramFile &program, ParamStore &store, const json::Value &state,
                       Communicator &comm, bool shardedOptimizer);

/// The float32 bytes of a checkpoint of `program`'s run: its weights and
/// its training state (what a background write first copies to host memory).
size_t checkpointBytes(const ProgramFile &program);

/// "optimizer.rank<r>.safetensors".
std::string optimizerShardFile(int rank);

/// The newest complete checkpoint (ckpt-N with state.json) of a run, or "".
std::string latestCheckpoint(const std::string &runDir);

/// Puts every tensor of checkpoint `dir` that this rank `holds` (all when
/// null) into `store`, refusing tensors whose shape differs from the
/// program's (a checkpoint of another model) and checkpoints that lack
/// training state the program needs (a lost shard file).
Status loadCheckpointTensors(const std::string &dir, const ProgramFile &program,
                             ParamStore &store,
                             const std::function<bool(const std::string &)> &holds = nullptr);

} // namespace shear::rt

#endif
