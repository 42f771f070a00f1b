//===- CheckpointWriter.h - checkpoints written while training goes on ----===//
//
// A checkpoint of a large model takes minutes to write; training need not
// wait for the disk. In the background the writer copies the checkpoint's
// tensors to host memory (the only pause), writes them on a thread of its
// own while the next steps run, and moves the directory into place once
// every rank is done. In the foreground it streams them from the store, as
// memory-lean as a checkpoint can be. At most one write is in flight: the
// next checkpoint waits for it.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_TRAIN_CHECKPOINTWRITER_H
#define SHEAR_RUNTIME_TRAIN_CHECKPOINTWRITER_H

#include "Checkpoint.h"
#include "shear/Runtime/Trainer.h"

#include <atomic>
#include <functional>
#include <optional>
#include <thread>

namespace shear::rt {

class CheckpointWriter {
public:
  /// Each checkpoint in place is told to `say` ("saved DIR (how)"), then
  /// `placed` runs with its name, on the calling thread, on every rank.
  CheckpointWriter(Backend &backend, Communicator &comm, CheckpointWrites mode,
                   std::function<void(const std::string &)> say,
                   std::function<Status(const std::string &name)> placed);
  /// Waits for a write in flight; a single rank also places it, so that a
  /// run ending on an error keeps the checkpoint it had taken (with many
  /// ranks, which placing needs and which may be gone, it is cancelled).
  ~CheckpointWriter();

  /// Takes checkpoint `name` now (every rank calls it, at the same step).
  /// `foreground` writes it before returning whatever the mode.
  Status save(const std::string &runDir, const std::string &name, const ProgramFile &program,
              ParamStore &store, const json::Value &state, bool shardedOptimizer,
              bool foreground = false);
  /// Call once per step on every rank: places a background write that every
  /// rank has finished.
  Status poll();
  /// Waits for the write in flight and places it.
  Status finish();

private:
  Status place();
  Status announce(const CheckpointSnapshot &snap, const std::string &how);

  Backend &backend_;
  Communicator &comm_;
  CheckpointWrites mode_;
  std::function<void(const std::string &)> say_;
  std::function<Status(const std::string &)> placed_;
  std::optional<CheckpointSnapshot> pending_;
  std::thread thread_;
  std::atomic<bool> written_{false}, cancel_{false};
  Status writeStatus_;
  double copySeconds_ = 0, writeSeconds_ = 0;
  bool toldForeground_ = false;
};

} // namespace shear::rt

#endif
