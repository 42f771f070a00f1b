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

#include "shear/Runtime/ParamStore.h"
#include "shear/Support/Json.h"

namespace shear::rt {

/// Writes RUN_DIR/<name>/ atomically from `store`.
Status writeCheckpoint(const std::string &runDir, const std::string &name,
                       const ProgramFile &program, ParamStore &store, const json::Value &state);

/// The newest complete checkpoint (ckpt-N with state.json) of a run, or "".
std::string latestCheckpoint(const std::string &runDir);

/// Puts every tensor of checkpoint `dir` into `store` (refusing tensors whose
/// shape differs from the program's: a checkpoint of another model).
Status loadCheckpointTensors(const std::string &dir, const ProgramFile &program,
                             ParamStore &store);

} // namespace shear::rt

#endif
