//===- Progress.h - progress lines, metrics.jsonl and MFU -----------------===//
#ifndef SHEAR_RUNTIME_TRAIN_PROGRESS_H
#define SHEAR_RUNTIME_TRAIN_PROGRESS_H

#include "shear/Support/Json.h"
#include "shear/Support/Program.h"

#include <cstdio>
#include <string>

namespace shear::rt {

/// Training FLOPs per token: 6 per matmul parameter, plus attention's
/// 12 · layers · seq · heads · head_dim (PaLM's estimate).
double flopsPerToken(const ProgramModel &model, int64_t seq);

/// "42s", "3m07s", "2h05m"; "?" when not finite.
std::string formatDuration(double seconds);

/// printf into a std::string.
std::string format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/// RUN_DIR/metrics.jsonl: one JSON object per step, for plots. Opening it for
/// a run resumed at `keepUpTo` keeps the records of steps up to it and drops
/// later ones (they will be recomputed); a new run starts it empty.
class MetricsLog {
public:
  ~MetricsLog();
  Status open(const std::string &path, int64_t keepUpTo);
  Status append(const json::Value &record);

private:
  std::string path_;
  FILE *file_ = nullptr;
};

} // namespace shear::rt

#endif
