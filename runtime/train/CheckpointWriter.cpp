//===- CheckpointWriter.cpp - checkpoints written while training goes on --===//
#include "CheckpointWriter.h"

#include "Progress.h"
#include "shear/Runtime/Executable.h"
#include "shear/Support/Clock.h"
#include "shear/Support/Files.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>

using namespace shear;
using namespace shear::rt;

namespace {
/// MemAvailable of /proc/meminfo in bytes; false where the host does not say.
/// SHEAR_AVAILABLE_HOST_MEMORY=BYTES stands in for it (tests, docs/testing.md).
bool availableHostMemory(size_t &bytes) {
  if (const char *forced = std::getenv("SHEAR_AVAILABLE_HOST_MEMORY")) {
    bytes = static_cast<size_t>(std::strtoull(forced, nullptr, 10));
    return true;
  }
  std::FILE *f = std::fopen("/proc/meminfo", "r");
  if (!f)
    return false;
  char line[256];
  bool found = false;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long kib = 0;
    if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
      bytes = static_cast<size_t>(kib) * 1024;
      found = true;
      break;
    }
  }
  std::fclose(f);
  return found;
}
} // namespace

Result<CheckpointWrites> shear::rt::parseCheckpointWrites(const std::string &text) {
  if (text == "auto")
    return CheckpointWrites::Auto;
  if (text == "background")
    return CheckpointWrites::Background;
  if (text == "foreground")
    return CheckpointWrites::Foreground;
  return invalidInput("--checkpoint-writes must be auto, background or foreground, not '" + text + "'");
}

CheckpointWriter::CheckpointWriter(
    Backend &backend, Communicator &comm, CheckpointWrites mode,
    std::function<void(const std::string &)> say, std::function<Status(const std::string &)> placed)
    : backend_(backend), comm_(comm), mode_(mode), say_(std::move(say)), placed_(std::move(placed)) {}

CheckpointWriter::~CheckpointWriter() {
  // Placing needs every rank; a run that failed may have lost the others.
  if (comm_.size() > 1)
    cancel_ = true;
  if (thread_.joinable())
    thread_.join();
  if (pending_ && comm_.size() == 1 && written_ && writeStatus_.ok())
    (void)place();
}

Status CheckpointWriter::save(const std::string &runDir, const std::string &name,
                              const ProgramFile &program, ParamStore &store,
                              const json::Value &state, bool shardedOptimizer, bool foreground) {
  SHEAR_RETURN_IF_ERROR(finish());
  auto snap = takeCheckpoint(runDir, name, program, store, state, comm_, shardedOptimizer);
  if (!snap.ok())
    return snap.status();
  bool background = !foreground && mode_ != CheckpointWrites::Foreground;
  if (background && mode_ == CheckpointWrites::Auto) {
    // A copy of the largest rank's part must fit in half of what is free.
    size_t available = 0;
    bool known = availableHostMemory(available);
    int64_t need = static_cast<int64_t>(snap->bytes);
    if (comm_.size() > 1)
      SHEAR_RETURN_IF_ERROR(comm_.allReduce(&need, 1, DType::I64, ReduceOp::Max));
    int64_t tooBig = !(known && static_cast<size_t>(need) <= available / 2);
    if (comm_.size() > 1) // every rank decides alike
      SHEAR_RETURN_IF_ERROR(comm_.allReduce(&tooBig, 1, DType::I64, ReduceOp::Max));
    background = tooBig == 0;
    if (!background && !toldForeground_) {
      toldForeground_ = true;
      say_(format("checkpoints are written in the foreground: a copy of one (%s) does not fit "
                     "in half of the host's available memory (%s)",
                     formatBytes(double(need)).c_str(),
                     known ? formatBytes(double(available)).c_str() : "unknown"));
    }
  }
  if (!background) {
    double t0 = monotonicSeconds();
    Status written = writeCheckpointFiles(*snap, &backend_);
    SHEAR_RETURN_IF_ERROR(placeCheckpoint(*snap, written, comm_));
    return announce(*snap, format("written in %.2f s", monotonicSeconds() - t0));
  }
  double t0 = monotonicSeconds();
  Status copied = copyCheckpointToHost(*snap, backend_);
  SHEAR_RETURN_IF_ERROR(comm_.agree(copied));
  copySeconds_ = monotonicSeconds() - t0;
  pending_ = snap.take();
  written_ = false;
  writeStatus_ = Status();
  // SHEAR_CHECKPOINT_WRITE_DELAY_MS: the disk made slow, so that tests see
  // training go on during a write (docs/testing.md).
  const char *delay = std::getenv("SHEAR_CHECKPOINT_WRITE_DELAY_MS");
  int64_t delayMs = delay ? std::strtoll(delay, nullptr, 10) : 0;
  try {
    thread_ = std::thread([this, delayMs] {
      double start = monotonicSeconds();
      try {
        if (delayMs > 0)
          std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
        writeStatus_ = writeCheckpointFiles(*pending_, nullptr, &cancel_);
      } catch (const std::exception &e) { // out of memory: an error, not std::terminate
        writeStatus_ = runFailure("writing checkpoint " + pending_->name + ": " + e.what());
      }
      writeSeconds_ = monotonicSeconds() - start;
      written_ = true;
    });
  } catch (const std::exception &) { // no thread to be had: written here instead
    double start = monotonicSeconds();
    writeStatus_ = writeCheckpointFiles(*pending_, nullptr);
    writeSeconds_ = monotonicSeconds() - start;
    written_ = true;
  }
  return Status();
}

Status CheckpointWriter::poll() {
  if (!pending_)
    return Status();
  int64_t writing = written_ ? 0 : 1;
  if (comm_.size() > 1) // done when no rank is still writing
    SHEAR_RETURN_IF_ERROR(comm_.allReduce(&writing, 1, DType::I64, ReduceOp::Max));
  return writing ? Status() : place();
}

Status CheckpointWriter::finish() { return pending_ ? place() : Status(); }

Status CheckpointWriter::place() {
  if (thread_.joinable())
    thread_.join();
  CheckpointSnapshot snap = std::move(*pending_);
  pending_.reset();
  SHEAR_RETURN_IF_ERROR(placeCheckpoint(snap, writeStatus_, comm_));
  return announce(snap, format("copied in %.2f s, written in the background in %.2f s",
                               copySeconds_, writeSeconds_));
}

Status CheckpointWriter::announce(const CheckpointSnapshot &snap, const std::string &how) {
  say_("saved " + snap.finalDir + " (" + how + ")");
  return placed_(snap.name);
}
