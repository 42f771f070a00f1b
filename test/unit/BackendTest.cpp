// Backend selection: the threads a backend gets when --threads is not given
// (2 on the CPU; on a GPU, for its host kernels, the machine's hardware
// threads over the ranks on it, as the launchers' environments say).
#include "shear/Runtime/Backend.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

using namespace shear;
using namespace shear::rt;

namespace {
void unsetLaunchers() {
  for (const char *v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    unsetenv(v);
}
// Sets one launcher variable for its scope (none: all unset).
struct Env {
  explicit Env(const char *name = nullptr, const char *value = nullptr) {
    unsetLaunchers();
    if (name)
      setenv(name, value, 1);
  }
  ~Env() { unsetLaunchers(); }
};
} // namespace

TEST(Backend, HostThreadsAreTheHardwareThreadsOverTheLocalRanks) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  {
    Env none;
    EXPECT_EQ(defaultHostThreads(), hardware);
  }
  {
    Env two("OMPI_COMM_WORLD_LOCAL_SIZE", "2");
    EXPECT_EQ(defaultHostThreads(), std::max(1, hardware / 2));
  }
  {
    Env slurm("SLURM_NTASKS_PER_NODE", "4(x3)"); // 4 tasks on each of 3 nodes
    EXPECT_EQ(defaultHostThreads(), std::max(1, hardware / 4));
  }
  {
    Env many("MPI_LOCALNRANKS", "100000"); // more ranks than threads: one each
    EXPECT_EQ(defaultHostThreads(), 1);
  }
  {
    Env bad("OMPI_COMM_WORLD_LOCAL_SIZE", "none"); // not a count: ignored
    EXPECT_EQ(defaultHostThreads(), hardware);
  }
}

TEST(Backend, TheCpuKeepsTwoThreadsByDefault) {
  auto cpu = createBackend("cpu", 0);
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  EXPECT_NE((*cpu)->describe().find("(2 threads"), std::string::npos) << (*cpu)->describe();
  auto five = createBackend("cpu", 5);
  ASSERT_TRUE(five.ok());
  EXPECT_NE((*five)->describe().find("(5 threads"), std::string::npos) << (*five)->describe();
}
