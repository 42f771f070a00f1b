//===- Progress.cpp - progress lines, metrics.jsonl and MFU ---------------===//
#include "Progress.h"

#include "shear/Support/Files.h"

#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <unistd.h>

using namespace shear;
using namespace shear::rt;

double shear::rt::flopsPerToken(const ProgramModel &c, int64_t seq) {
  double perLayer = static_cast<double>(c.hidden) * (2 * c.heads * c.headDim + 2 * c.kvHeads * c.headDim) +
                    3.0 * c.hidden * c.intermediate;
  double matmul = c.layers * perLayer + static_cast<double>(c.vocab) * c.hidden;
  return 6 * matmul + 12.0 * c.layers * seq * c.heads * c.headDim;
}

std::string shear::rt::format(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  if (n < static_cast<int>(sizeof buf))
    return buf;
  std::string out(static_cast<size_t>(n) + 1, '\0');
  va_start(args, fmt);
  std::vsnprintf(out.data(), out.size(), fmt, args);
  va_end(args);
  out.resize(n);
  return out;
}

std::string shear::rt::formatDuration(double s) {
  if (!std::isfinite(s))
    return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600)
    return format("%lldh%02lldm", (long long)(t / 3600), (long long)((t / 60) % 60));
  if (t >= 60)
    return format("%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
  return format("%llds", (long long)t);
}

MetricsLog::~MetricsLog() {
  if (file_)
    std::fclose(file_);
}

Status MetricsLog::open(const std::string &path, int64_t keepUpTo) {
  path_ = path;
  std::string kept;
  if (keepUpTo > 0 && pathExists(path)) {
    auto text = readFile(path);
    if (!text.ok())
      return text.status();
    size_t begin = 0;
    while (begin < text->size()) {
      size_t end = text->find('\n', begin);
      if (end == std::string::npos)
        end = text->size();
      std::string_view line(text->data() + begin, end - begin);
      begin = end + 1;
      auto record = json::parse(line);
      if (!record.ok()) // a line cut short by a kill
        continue;
      auto step = record->getInteger("step");
      if (step && *step <= keepUpTo)
        kept.append(line.data(), line.size()).push_back('\n');
    }
  }
  SHEAR_RETURN_IF_ERROR(writeFileAtomically(path, kept));
  file_ = std::fopen(path.c_str(), "a");
  if (!file_)
    return ioError(path, std::string("cannot append: ") + std::strerror(errno));
  return Status();
}

Status MetricsLog::append(const json::Value &record) {
  std::string line = json::write(record) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    return ioError(path_, std::string("cannot append: ") + std::strerror(errno));
  return Status();
}
