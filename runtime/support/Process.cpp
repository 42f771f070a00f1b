//===- Process.cpp - running a helper program -----------------------------===//
#include "shear/Support/Process.h"

#include "shear/Support/Files.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

using namespace shear;

std::string shear::executableDirectory() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return ".";
  return parentDirectory(std::string(buf, static_cast<size_t>(n)));
}

Result<std::string> shear::runProgram(const std::string &program,
                                      const std::vector<std::string> &args) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return runFailure(program + ": cannot start: " + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return runFailure(program + ": cannot start: " + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char *> argv;
  argv.push_back(const_cast<char *>(program.c_str()));
  for (const std::string &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (spawned != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return runFailure(program + ": cannot start: " + std::strerror(spawned));
  }
  // Both pipes drained together: a child filling one must not block.
  std::string stdoutText, stderrText;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open = 2;
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[65536];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? stdoutText : stderrText).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return stdoutText;
  std::string prefix = fileName(program) + ": error: ", message;
  for (size_t at = 0; at < stderrText.size();) {
    size_t end = stderrText.find('\n', at);
    std::string line = stderrText.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.rfind(prefix, 0) == 0)
      message += (message.empty() ? "" : "; ") + line.substr(prefix.size());
    at = end == std::string::npos ? stderrText.size() : end + 1;
  }
  if (message.empty())
    message = stderrText.empty() ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                 : stderrText;
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
  return WIFEXITED(status) && WEXITSTATUS(status) == 2 ? invalidInput(message) : runFailure(message);
}
