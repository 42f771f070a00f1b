//===- Backend.cpp - backend selection and the kernel registry ------------===//
#include "shear/Runtime/Backend.h"
#include "shear/Runtime/PluginInterface.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

using namespace shear;
using namespace shear::rt;

const KernelImpl *Backend::kernel(KernelId id) const {
  const KernelImpl &k = kernels_[static_cast<size_t>(id)];
  return k.run ? &k : nullptr;
}

std::vector<std::string> Backend::missingKernels() const {
  std::vector<std::string> missing;
  for (const KernelDecl &d : kernelTable())
    if (!kernel(d.id))
      missing.push_back(d.name);
  return missing;
}

namespace {
/// The CUDA backend plugin: $SHEAR_CUDA_PLUGIN, else lib/libshear-cuda.so
/// beside the directory of this executable (build/bin → build/lib).
std::string cudaPluginPath() {
  if (const char *env = std::getenv("SHEAR_CUDA_PLUGIN"); env && *env)
    return env;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return "libshear-cuda.so";
  std::string dir(exe, static_cast<size_t>(n));
  dir = dir.substr(0, dir.rfind('/'));
  return dir.substr(0, dir.rfind('/')) + "/lib/libshear-cuda.so";
}

Result<std::unique_ptr<Backend>> createCudaBackend(int threads) {
  std::string path = cudaPluginPath();
  if (::access(path.c_str(), F_OK) != 0)
    return invalidInput("--device cuda: this shear-run was built without the CUDA backend (no " +
                        path + "; configure where the CUDA toolkit is installed, docs/cuda.md)");
  void *plugin = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!plugin)
    return invalidInput(std::string("--device cuda: cannot load the CUDA backend: ") + ::dlerror());
  using Abi = uint64_t (*)();
  using Create = Backend *(*)(int, char *, size_t);
  auto abi = reinterpret_cast<Abi>(::dlsym(plugin, "shearCudaPluginAbi"));
  auto create = reinterpret_cast<Create>(::dlsym(plugin, "shearCudaCreateBackend"));
  if (!abi || !create)
    return invalidInput("--device cuda: " + path + " is not a shear CUDA backend plugin");
  uint64_t expected = pluginInterfaceStamp();
  if (abi() != expected)
    return invalidInput("--device cuda: " + path + " was built for another shear (interface " +
                        std::to_string(abi()) + ", this shear-run has " + std::to_string(expected) +
                        "): rebuild it with this shear-run");
  char error[1024] = "";
  Backend *backend = create(threads, error, sizeof error);
  if (!backend)
    return invalidInput(std::string("--device cuda: ") + error);
  return std::unique_ptr<Backend>(backend);
}
} // namespace

int shear::rt::defaultHostThreads() {
  unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  int local = 1;
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char *v = std::getenv(name); v && std::atoi(v) > 0) { // Slurm's "2(x3)": its 2
      local = std::atoi(v);
      break;
    }
  return std::max(1, static_cast<int>(hardware) / local);
}

Result<std::unique_ptr<Backend>> shear::rt::createBackend(const std::string &device, int threads) {
  int cpuThreads = threads > 0 ? threads : kDefaultCpuThreads;
  int hostThreads = threads > 0 ? threads : defaultHostThreads();
  if (device == "cpu")
    return createCpuBackend(cpuThreads);
  if (device == "guarded")
    return createGuardedBackend(cpuThreads);
  if (device == "cuda")
    return createCudaBackend(hostThreads);
  if (device == "auto") {
    // The GPU where one is usable, else the CPU (the progress line and the
    // describe() of the backend say which; --device cuda says why not).
    auto cuda = createCudaBackend(hostThreads);
    if (cuda.ok())
      return cuda;
    return createCpuBackend(cpuThreads);
  }
  return invalidInput("--device must be cpu, cuda or auto, got '" + device + "'");
}
