//===- RunDirectory.cpp - one run per directory, tidy and bounded ---------===//
#include "RunDirectory.h"

#include "shear/Support/Files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

using namespace shear;
using namespace shear::rt;

Result<RunLock> RunLock::acquire(const std::string &runDir) {
  std::string path = joinPath(runDir, ".lock");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return ioError(path, std::string("cannot open the run's lock: ") + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
      pid.pop_back();
    return invalidInput(runDir + " is in use by another run (process " + pid +
                        "): wait for it, or choose another --out");
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The lock holds without the PID; it only makes the message less precise.
  }
  return RunLock(fd);
}

RunLock::~RunLock() {
  if (fd_ >= 0)
    ::close(fd_); // releases the flock
}

Status shear::rt::removeStaleTemporaries(const std::string &runDir) {
  auto entries = listDirectory(runDir);
  if (!entries.ok())
    return entries.status();
  // Only shear's own temporaries: NAME.tmp.PID files and .NAME.tmp-PID directories.
  auto endsWithPid = [](const std::string &name, const std::string &marker) {
    size_t at = name.rfind(marker);
    return at != std::string::npos && at + marker.size() < name.size() &&
           name.find_first_not_of("0123456789", at + marker.size()) == std::string::npos;
  };
  for (const std::string &name : *entries) {
    bool checkpointTemp = name.size() > 1 && name[0] == '.' && endsWithPid(name, ".tmp-");
    bool fileTemp = endsWithPid(name, ".tmp.");
    if (checkpointTemp || fileTemp)
      SHEAR_RETURN_IF_ERROR(removeAll(joinPath(runDir, name)));
  }
  return Status();
}

Status shear::rt::keepLastCheckpoints(const std::string &runDir, int64_t keep) {
  if (keep <= 0)
    return Status();
  auto entries = listDirectory(runDir);
  if (!entries.ok())
    return entries.status();
  std::vector<std::pair<int64_t, std::string>> checkpoints;
  for (const std::string &name : *entries) {
    if (name.rfind("ckpt-", 0) != 0 || name.size() == 5 || name.size() > 20 ||
        name.find_first_not_of("0123456789", 5) != std::string::npos)
      continue;
    checkpoints.push_back({std::stoll(name.substr(5)), name});
  }
  std::sort(checkpoints.begin(), checkpoints.end());
  for (size_t i = 0; i + keep < checkpoints.size(); ++i)
    SHEAR_RETURN_IF_ERROR(removeAll(joinPath(runDir, checkpoints[i].second)));
  return Status();
}
