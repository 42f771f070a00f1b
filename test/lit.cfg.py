# lit configuration of shear's tests: dialect, passes, tools and the
# numerical reference checks (run with Debian's /usr/bin/python3 + torch).
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "shear"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.shear_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "reference", "unit", "Inputs", "check_layering.py"]

config.environment["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.shear_tools_dir, append_path=True)  # first
# The reference checks must use Debian's interpreter (numpy, torch), not
# whatever python3 is first on PATH.
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%shear_build", config.shear_obj_root))
config.substitutions.append(("%shear_src", config.shear_src_root))
config.substitutions.append(("%ref", os.path.join(config.test_source_root, "reference")))
config.environment["OMP_NUM_THREADS"] = "2"

# Several ranks (Run/data-parallel*.test): mpirun on this machine, allowed
# as root, oversubscribing its cores, over shared memory only. Without MPI
# the tests cannot run; say so rather than skip them quietly.
import shutil
mpirun = shutil.which("mpirun")
if config.shear_has_mpi and mpirun:
    config.available_features.add("mpi")
    # Under AddressSanitizer the ranks run without leak checking: OpenMPI's
    # plugins are unloaded at MPI_Finalize, leaving allocations whose frames
    # name no module a suppression could match. (Leaks of shear itself are
    # still checked by every single-process run.)
    asan = os.environ.get("ASAN_OPTIONS")
    prefix = f"env ASAN_OPTIONS={asan}:detect_leaks=0 " if asan else ""
    config.substitutions.append(("%mpirun", prefix + mpirun + " --oversubscribe -np"))
    for k, v in {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                 "OMPI_MCA_btl": "self,vader",
                 "OMPI_MCA_btl_vader_single_copy_mechanism": "none"}.items():
        config.environment[k] = v
else:
    lit_config.note("the multi-rank tests (Run/data-parallel*.test) cannot run here: " +
                    ("shear-run was built without MPI" if not config.shear_has_mpi
                     else "no mpirun on PATH") +
                    " (scripts/setup.sh installs libopenmpi-dev and openmpi-bin); they are "
                    "reported UNSUPPORTED")

# The CUDA backend (Cuda/*.test): the plugin's behaviour without a GPU is
# tested wherever it is built; the CPU-twin checks need an NVIDIA GPU and are
# reported UNSUPPORTED elsewhere, with this note saying so.
import subprocess
if config.shear_has_cuda:
    config.available_features.add("cuda-plugin")
    try:
        gpu = subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        gpu = False
    if gpu:
        config.available_features.add("cuda-gpu")
        config.available_features.add("cuda-device")  # Cuda/twin.test on the GPU
    else:
        lit_config.note("the GPU tests (Cuda/twin.test: the CUDA backend against the CPU) cannot run "
                        "here: no NVIDIA GPU (nvidia-smi -L fails); they are reported UNSUPPORTED "
                        "(Cuda/Emulated/ runs the same checks on the CPU emulation of the backend, "
                        "which is no GPU)")
else:
    lit_config.note("shear was built without the CUDA backend (no CUDA toolkit, or a sanitizer "
                    "build): the Cuda/*.test are reported UNSUPPORTED")
