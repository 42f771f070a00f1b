//===- RunDirectory.h - one run per directory, tidy and bounded -----------===//
#ifndef SHEAR_RUNTIME_TRAIN_RUNDIRECTORY_H
#define SHEAR_RUNTIME_TRAIN_RUNDIRECTORY_H

#include "shear/Support/Status.h"

#include <string>

namespace shear::rt {

/// An exclusive lock on RUN_DIR/.lock (flock), held while the object lives:
/// a second run on the same directory is refused, naming the process that
/// holds it. The lock goes with the process, however it ends.
class RunLock {
public:
  static Result<RunLock> acquire(const std::string &runDir);
  RunLock(RunLock &&other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock &operator=(RunLock &&) = delete;
  ~RunLock();

private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// Removes what interrupted runs left behind: temporary checkpoint
/// directories (.NAME.tmp-PID) and temporary files (*.tmp.PID). Call with the
/// lock held: nothing else can be writing them.
Status removeStaleTemporaries(const std::string &runDir);

/// Keeps the newest `keep` ckpt-N directories and removes older ones (final/
/// is never removed). `keep` 0 keeps all.
Status keepLastCheckpoints(const std::string &runDir, int64_t keep);

} // namespace shear::rt

#endif
