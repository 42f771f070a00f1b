//===- Executable.h - one program function, loaded for a backend ----------===//
//
// Loading resolves every call to the backend's kernel, decodes its
// attributes and computes each value's last use. Before the first run with
// inputs of given shapes, plan() infers every value's shape and places every
// intermediate in one arena: values whose lifetimes do not overlap share
// memory, and a result the kernel table declares in-place takes its
// operand's storage when nothing reads that operand afterwards (AdamW's
// parameters and moments, updated in the ParamStore itself; the decode
// step's KV caches, updated in the caller's tensors). Plans are kept per
// input shapes, so a training step allocates nothing after the first.
// Consecutive calls of a kernel the backend runs together (runGroup: AdamW
// over all tensors in a few launches) are gathered and run at the last one;
// their operands and results stay live until then.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_EXECUTABLE_H
#define SHEAR_RUNTIME_EXECUTABLE_H

#include "shear/Runtime/Backend.h"
#include "shear/Runtime/KernelProfile.h"
#include "shear/Runtime/ParamStore.h"
#include "shear/Runtime/SharedScratch.h"

#include <map>
#include <set>

namespace shear::rt {

struct MemoryPlan {
  enum class Storage : uint8_t {
    Input,  // the caller's tensor (an in-out argument is updated in place)
    Weight, // a ParamStore tensor (an in-place update writes it directly)
    Arena,  // an intermediate in the program's arena
    Output, // a result handed to the caller, allocated per run
  };
  struct Value {
    Storage storage = Storage::Arena;
    Shape shape;
    DType dtype = DType::F32;
    size_t offset = 0, bytes = 0; // Arena placement (shared storage: the root's)
    int sharesWith = -1;          // Arena: the value whose storage this one updates in place
    int aliasOf = -1;             // Weight / Input: the operand updated in place
    int copyFrom = -1;            // gets this value's contents before its kernel runs
  };
  std::vector<Shape> inputShapes;
  std::vector<Value> values;
  size_t arenaBytes = 0;     // the arena's size
  size_t peakLiveBytes = 0;  // live intermediates at the busiest instruction
  int peakInstruction = -1;
  size_t workspaceBytes = 0; // the largest scratch any kernel asks for
  size_t outputBytes = 0;    // results allocated per run
  size_t inputBytes = 0;
  size_t weightBytes = 0;    // the weights this function reads
  int inPlaceUpdates = 0;    // results that reuse their operand's storage
};

class Executable {
public:
  static Result<std::unique_ptr<Executable>> load(const ProgramFile &program,
                                                  const std::string &function, Backend &backend);
  const ProgramFunction &function() const { return *fn_; }
  /// The plan for inputs of these shapes (made once per distinct shapes),
  /// without allocating anything (--plan, and memory checks before a run).
  Result<const MemoryPlan *> plan(const std::vector<Shape> &inputShapes);
  /// Runs the function. Results are the caller's; in-place updates act on
  /// `store`'s tensors and on in-out arguments.
  Result<std::vector<Tensor>> run(const std::vector<Tensor> &inputs, ParamStore &store);
  /// "instruction 12 ('attention.bwd' from model.mlir:20:10)".
  std::string describe(int instruction) const;
  /// Instructions this rank leaves out (a sharded optimizer: the updates of
  /// parameters other ranks own, and the reads of their moments). Their
  /// results are undefined tensors; nothing else may read them.
  Status skip(const std::vector<bool> &skipped);
  /// Data parallelism: all_reduce calls are deferred and averaged together,
  /// one collective per `bytes` of gradients (at least), as late as their
  /// first reader allows. 0: one collective per call.
  void bucketCollectives(size_t bytes) { bucketBytes_ = bytes; }
  /// Times every kernel call of the runs from now on into `profile` (null:
  /// stop); on a device the host waits for each call (KernelProfile.h).
  void profileInto(KernelProfile *profile) { profile_ = profile; }
  /// Runs from now on take their arena and workspace from `scratch`, which
  /// other functions that never run at the same time share (SharedScratch.h).
  void shareScratch(std::shared_ptr<SharedScratch> scratch) { shared_ = std::move(scratch); }
  /// The bytes a run takes from a shared scratch: arena, then workspace.
  static size_t scratchBytes(const MemoryPlan &plan);

private:
  struct Instr {
    const ProgramInstr *source = nullptr;
    const KernelImpl *impl = nullptr;
    KernelParams params;
  };
  struct Prepared {
    std::unique_ptr<MemoryPlan> plan;
    std::shared_ptr<Buffer> arena, workspace; // not with a shared scratch
    std::vector<Tensor> views; // per value: its arena view (Arena values; not with a shared scratch)
    uint64_t lastUsed = 0;
  };
  Executable(const ProgramFile &program, const ProgramFunction &fn, Backend &backend)
      : program_(program), fn_(&fn), backend_(backend) {}
  Result<std::unique_ptr<MemoryPlan>> makePlan(const std::vector<Shape> &inputShapes) const;
  Result<Prepared *> prepare(const std::vector<Shape> &inputShapes);
  /// Finds the groups of calls to run together (after loading and skip()).
  void groupCalls();

  const ProgramFile &program_;
  const ProgramFunction *fn_;
  Backend &backend_;
  std::vector<Instr> instrs_;
  std::vector<bool> skipped_;
  size_t bucketBytes_ = 0;
  KernelProfile *profile_ = nullptr;
  std::shared_ptr<SharedScratch> shared_;
  Tensor syncProbe_; // one device value copied to the host to wait for a kernel
  std::vector<int> lastUse_;   // per value: the last instruction reading it (body size: returned),
                               // or running it (a group's operands and results)
  std::vector<int> readLast_;  // per value: the last instruction reading it
  std::vector<int> groupLast_; // per instruction: the last call of its group, which runs it (-1: alone)
  std::vector<int> returnIndex_; // per value: its index among the returns, or -1
  std::map<std::vector<Shape>, Prepared> prepared_;
  std::map<std::vector<Shape>, std::unique_ptr<MemoryPlan>> planned_; // plans made by plan()
  uint64_t runs_ = 0;
};

/// A human-readable summary of a plan (sizes in MiB).
std::string formatPlan(const std::string &function, const MemoryPlan &plan);
/// The weights that the functions of `plans` read (every weight of the
/// program when `plans` is empty): a run holds those, not the others (a
/// training run without micro-batches holds no gradient sums).
std::set<std::string> weightsHeld(const ProgramFile &program,
                                  const std::vector<std::pair<std::string, const MemoryPlan *>> &plans);
/// The memory of a program's weights by kind (parameters, gates, masks,
/// multipliers, optimizer state, working copies, gradient sums) in the
/// dtypes the program holds them in, of those in `held` (all when null);
/// `total` receives the device bytes (not those --offload keeps on the host).
std::string formatWeightMemory(const ProgramFile &program, size_t &total,
                               const std::set<std::string> *held = nullptr);
/// The whole picture: weights, then each function's plan, then the total.
/// `sharedScratch`: the plans' functions share one arena and workspace
/// (SharedScratch.h), so they count once, at the largest.
std::string formatMemoryReport(const ProgramFile &program, Backend &backend,
                               const std::vector<std::pair<std::string, const MemoryPlan *>> &plans,
                               bool sharedScratch = false);
/// The bytes a run of these plans holds on its device: the weights they
/// read (the optimizer state divided by `optimizerShards`), then, unless
/// `weightsOnly`, each plan's arena, workspace, results and inputs.
size_t plannedBytes(const ProgramFile &program, const std::vector<std::pair<std::string, const MemoryPlan *>> &plans,
                    int optimizerShards = 1, bool weightsOnly = false, bool sharedScratch = false);
/// An error (exit 2) when the backend says fewer bytes are free than the
/// plans need: how much is needed, of what, and how much is free, then
/// `hint` (what the command could change).
Status checkDeviceMemory(const ProgramFile &program, Backend &backend,
                         const std::vector<std::pair<std::string, const MemoryPlan *>> &plans,
                         const std::string &hint, int optimizerShards = 1, bool sharedScratch = false);
/// "12.3 MiB".
std::string formatBytes(double bytes);

} // namespace shear::rt

#endif
