//===- Executable.cpp - planning and running one program function ---------===//
#include "shear/Runtime/Executable.h"

#include "shear/Runtime/Communicator.h"
#include "shear/Support/Clock.h"

#include <algorithm>
#include <cstdio>
#include <set>

using namespace shear;
using namespace shear::rt;

Result<std::unique_ptr<Executable>> Executable::load(const ProgramFile &program,
                                                     const std::string &function,
                                                     Backend &backend) {
  const ProgramFunction *fn = program.function(function);
  if (!fn)
    return invalidInput("the program (compiled for '" + program.mode + "') has no function '" +
                        function + "'");
  std::unique_ptr<Executable> e(new Executable(program, *fn, backend));
  size_t n = fn->values.size();
  e->lastUse_.assign(n, -1);
  e->returnIndex_.assign(n, -1);
  for (size_t i = 0; i < fn->body.size(); ++i) {
    const ProgramInstr &in = fn->body[i];
    Instr instr;
    instr.source = &in;
    if (in.kind == ProgramInstr::Kind::Kernel) {
      instr.impl = backend.kernel(in.kernel);
      if (!instr.impl)
        return internalError("the " + backend.describe() + " backend has no kernel '" +
                             kernelDecl(in.kernel).name + "'");
      auto params = decodeParams(in.kernel, in.attrs);
      if (!params.ok())
        return params.status().prefixed(e->describe(static_cast<int>(i)) + ": ");
      instr.params = params.take();
      for (int v : in.operands)
        if (v >= 0)
          e->lastUse_[v] = static_cast<int>(i);
    }
    e->instrs_.push_back(std::move(instr));
  }
  for (size_t r = 0; r < fn->returns.size(); ++r) {
    e->lastUse_[fn->returns[r]] = static_cast<int>(fn->body.size());
    if (e->returnIndex_[fn->returns[r]] < 0)
      e->returnIndex_[fn->returns[r]] = static_cast<int>(r);
  }
  e->readLast_ = e->lastUse_;
  e->groupCalls();
  return e;
}

namespace {
bool sameAttrs(const std::map<std::string, AttrValue> &a, const std::map<std::string, AttrValue> &b) {
  if (a.size() != b.size())
    return false;
  for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y)
    if (x->first != y->first || x->second.type != y->second.type || x->second.i != y->second.i ||
        !(x->second.f == y->second.f) || x->second.s != y->second.s || x->second.b != y->second.b)
      return false;
  return true;
}
} // namespace

void Executable::groupCalls() {
  const auto &body = fn_->body;
  lastUse_ = readLast_;
  groupLast_.assign(body.size(), -1);
  auto left = [&](size_t i) { return !skipped_.empty() && skipped_[i]; };
  for (size_t i = 0; i < body.size(); ++i) {
    const Instr &first = instrs_[i];
    if (body[i].kind != ProgramInstr::Kind::Kernel || left(i) || groupLast_[i] >= 0 ||
        !first.impl->runGroup || first.impl->workspace)
      continue;
    // Calls of the same kernel and attributes, with only weight reads (and
    // calls this rank leaves out) between them, none reading another's results.
    std::vector<size_t> members = {i};
    std::set<int> written(body[i].results.begin(), body[i].results.end());
    for (size_t j = i + 1; j < body.size(); ++j) {
      const ProgramInstr &in = body[j];
      if (left(j) || in.kind == ProgramInstr::Kind::Weight)
        continue;
      if (in.kernel != body[i].kernel || instrs_[j].impl != first.impl || !sameAttrs(in.attrs, body[i].attrs) ||
          std::any_of(in.operands.begin(), in.operands.end(), [&](int v) { return v >= 0 && written.count(v); }))
        break;
      members.push_back(j);
      written.insert(in.results.begin(), in.results.end());
    }
    if (members.size() < 2)
      continue;
    int last = static_cast<int>(members.back());
    for (size_t m : members) {
      groupLast_[m] = last;
      // Until the group runs, nothing else may take the memory of what its
      // calls read or write (an operand updated in place becomes the result).
      const ProgramInstr &in = body[m];
      const KernelDecl &decl = kernelDecl(in.kernel);
      std::vector<bool> updated(in.operands.size(), false);
      for (size_t r = 0; r < in.results.size() && r < decl.results.size(); ++r)
        if (decl.results[r].updates >= 0 && in.results[r] >= 0)
          updated[decl.results[r].updates] = true;
      for (size_t k = 0; k < in.operands.size(); ++k)
        if (in.operands[k] >= 0 && !updated[k])
          lastUse_[in.operands[k]] = std::max(lastUse_[in.operands[k]], last);
      for (int v : in.results)
        if (v >= 0)
          lastUse_[v] = std::max(lastUse_[v], last);
    }
  }
}

Status Executable::skip(const std::vector<bool> &skipped) {
  if (skipped.size() != fn_->body.size())
    return internalError("skip: one flag per instruction expected");
  // A skipped instruction's results may only be returned, never read.
  std::vector<bool> undefined(fn_->values.size(), false);
  for (size_t i = 0; i < fn_->body.size(); ++i) {
    const ProgramInstr &in = fn_->body[i];
    if (!skipped[i])
      for (int v : in.operands)
        if (v >= 0 && undefined[v])
          return internalError(describe(static_cast<int>(i)) +
                               " reads a result of a skipped instruction");
    if (skipped[i])
      for (int v : in.results)
        if (v >= 0)
          undefined[v] = true;
  }
  skipped_ = skipped;
  groupCalls();
  prepared_.clear();
  planned_.clear();
  return Status();
}

std::string Executable::describe(int i) const {
  const ProgramInstr &in = fn_->body[i];
  std::string what = in.kind == ProgramInstr::Kind::Weight
                         ? "weight '" + program_.weights[in.weight].name + "'"
                         : "'" + kernelDecl(in.kernel).name + "'";
  return "instruction " + std::to_string(i) + " of " + fn_->name + " (" + what +
         (in.loc.empty() ? "" : " from " + in.loc) + ")";
}

Result<std::unique_ptr<MemoryPlan>> Executable::makePlan(const std::vector<Shape> &inputShapes) const {
  const ProgramFunction &f = *fn_;
  auto plan = std::make_unique<MemoryPlan>();
  plan->inputShapes = inputShapes;
  std::vector<MemoryPlan::Value> &values = plan->values;
  values.resize(f.values.size());
  std::vector<int> def(f.values.size(), -1);

  // Arguments: shapes from the caller, checked against the declared types.
  if (inputShapes.size() != f.args.size())
    return internalError(f.name + " takes " + std::to_string(f.args.size()) + " inputs, " +
                         std::to_string(inputShapes.size()) + " given");
  for (size_t a = 0; a < f.args.size(); ++a) {
    const ValueType &declared = f.values[f.args[a]];
    const Shape &given = inputShapes[a];
    bool ok = given.size() == declared.shape.size();
    for (size_t d = 0; ok && d < given.size(); ++d)
      ok = given[d] >= 0 && (declared.shape[d] < 0 || declared.shape[d] == given[d]);
    if (!ok)
      return invalidInput("input " + std::to_string(a) + " of " + f.name + " must be " +
                          typeToString(declared) + ", got shape " + shapeToString(given));
    MemoryPlan::Value &v = values[f.args[a]];
    v.storage = MemoryPlan::Storage::Input;
    v.shape = given;
    v.dtype = declared.dtype;
    plan->inputBytes += static_cast<size_t>(numElements(given)) * dtypeBytes(v.dtype);
  }

  // Shapes of every value, and where each lives.
  std::map<std::string, int> lastWeightRead; // weight name -> last instruction reading it
  std::vector<const ProgramWeight *> weightOf(f.values.size(), nullptr);
  std::set<std::string> weightsRead;
  for (size_t i = 0; i < f.body.size(); ++i) {
    const ProgramInstr &in = f.body[i];
    if (in.kind != ProgramInstr::Kind::Weight)
      continue;
    const ProgramWeight &w = program_.weights[in.weight];
    int v = in.results[0];
    weightOf[v] = &w;
    int &last = lastWeightRead[w.name];
    last = std::max(last, lastUse_[v]);
    if (weightsRead.insert(w.name).second)
      plan->weightBytes += static_cast<size_t>(numElements(w.shape)) * dtypeBytes(w.dtype);
  }
  std::vector<int> rootEnd(f.values.size(), -1); // Arena roots: last instruction using the storage
  auto isUpdateOf = [&](int value, const std::string &weight) {
    int r = returnIndex_[value];
    int k = r - static_cast<int>(f.metrics.size());
    return r >= 0 && k >= 0 && static_cast<size_t>(k) < f.updates.size() && f.updates[k] == weight;
  };
  auto isInoutOf = [&](int value, int argValue) {
    for (auto [arg, ret] : f.inouts)
      if (f.args[arg] == argValue && f.returns[ret] == value)
        return true;
    return false;
  };
  for (size_t i = 0; i < f.body.size(); ++i) {
    const ProgramInstr &in = f.body[i];
    int at = static_cast<int>(i);
    if (in.kind == ProgramInstr::Kind::Weight) {
      MemoryPlan::Value &v = values[in.results[0]];
      v.storage = MemoryPlan::Storage::Weight;
      v.shape = program_.weights[in.weight].shape;
      v.dtype = program_.weights[in.weight].dtype; // held as the program declares
      def[in.results[0]] = at;
      continue;
    }
    std::vector<const Shape *> operandShapes;
    for (int o : in.operands)
      operandShapes.push_back(o < 0 ? nullptr : &values[o].shape);
    std::vector<Shape> resultShapes;
    Status inferred = inferShapes(in.kernel, instrs_[i].params, operandShapes, resultShapes);
    if (!inferred.ok())
      return inferred.prefixed(describe(at) + ": ");
    const KernelDecl &decl = kernelDecl(in.kernel);
    for (size_t r = 0; r < in.results.size(); ++r) {
      int id = in.results[r];
      if (id < 0)
        continue;
      MemoryPlan::Value &v = values[id];
      def[id] = at;
      v.shape = resultShapes[r];
      const ValueType &declared = f.values[id];
      // The compiler's static dimensions and the runtime's inference agree,
      // or a kernel would write outside its output.
      bool agrees = v.shape.size() == declared.shape.size();
      for (size_t d = 0; agrees && d < v.shape.size(); ++d)
        agrees = declared.shape[d] < 0 || declared.shape[d] == v.shape[d];
      if (!agrees)
        return internalError(describe(at) + ": result '" + decl.results[r].name + "' is " +
                             typeToString(declared) + " in the program but inferred as " +
                             shapeToString(v.shape));
      v.dtype = declared.dtype; // float32, or bf16 storage in a bf16 program
      v.bytes = static_cast<size_t>(numElements(v.shape)) * dtypeBytes(v.dtype);
      bool returned = returnIndex_[id] >= 0;
      v.storage = returned ? MemoryPlan::Storage::Output : MemoryPlan::Storage::Arena;
      int updated = decl.results[r].updates >= 0 ? in.operands[decl.results[r].updates] : -1;
      if (updated < 0)
        continue;
      MemoryPlan::Value &u = values[updated];
      if (u.shape != v.shape || u.dtype != v.dtype)
        return internalError(describe(at) + ": in-place result '" + decl.results[r].name +
                             "' has another shape or type than its operand");
      if (u.storage == MemoryPlan::Storage::Arena && !returned) {
        int root = u.sharesWith >= 0 ? u.sharesWith : updated;
        if (rootEnd[root] <= at) { // nothing reads the operand's storage after this call
          v.sharesWith = root;
          rootEnd[root] = std::max(rootEnd[root], lastUse_[id]);
          ++plan->inPlaceUpdates;
          continue;
        }
      } else if (u.storage == MemoryPlan::Storage::Weight && weightOf[updated] &&
                 isUpdateOf(id, weightOf[updated]->name) &&
                 lastWeightRead[weightOf[updated]->name] <= at) {
        v.storage = MemoryPlan::Storage::Weight;
        v.aliasOf = updated;
        ++plan->inPlaceUpdates;
        continue;
      } else if (u.storage == MemoryPlan::Storage::Input && isInoutOf(id, updated) &&
                 lastUse_[updated] <= at) {
        v.storage = MemoryPlan::Storage::Input;
        v.aliasOf = updated;
        ++plan->inPlaceUpdates;
        continue;
      }
      v.copyFrom = updated;
    }
    for (int id : in.results)
      if (id >= 0 && values[id].storage == MemoryPlan::Storage::Arena && values[id].sharesWith < 0)
        rootEnd[id] = std::max(at, lastUse_[id]);
  }

  // Place the arena's roots: largest first, each at the lowest offset that
  // overlaps no placed root whose lifetime overlaps its own.
  std::vector<int> roots;
  for (size_t id = 0; id < values.size(); ++id)
    if (values[id].storage == MemoryPlan::Storage::Arena && values[id].sharesWith < 0 && def[id] >= 0)
      roots.push_back(static_cast<int>(id));
  std::sort(roots.begin(), roots.end(), [&](int a, int b) {
    return values[a].bytes != values[b].bytes ? values[a].bytes > values[b].bytes : def[a] < def[b];
  });
  std::vector<int> placed;
  for (int id : roots) {
    size_t size = alignedBytes(values[id].bytes);
    std::vector<std::pair<size_t, size_t>> busy; // [offset, end) of overlapping roots
    for (int other : placed)
      if (def[other] <= rootEnd[id] && def[id] <= rootEnd[other])
        busy.push_back({values[other].offset, values[other].offset + alignedBytes(values[other].bytes)});
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (auto [begin, end] : busy) {
      if (begin >= offset + size)
        break;
      offset = std::max(offset, end);
    }
    values[id].offset = offset;
    plan->arenaBytes = std::max(plan->arenaBytes, offset + size);
    placed.push_back(id);
  }
  for (MemoryPlan::Value &v : values)
    if (v.storage == MemoryPlan::Storage::Arena && v.sharesWith >= 0)
      v.offset = values[v.sharesWith].offset;
    else if (v.storage == MemoryPlan::Storage::Output)
      plan->outputBytes += v.bytes;

  // The busiest instruction, and the largest workspace.
  for (size_t i = 0; i < f.body.size(); ++i) {
    size_t live = 0;
    for (int id : roots)
      if (def[id] <= static_cast<int>(i) && static_cast<int>(i) <= rootEnd[id])
        live += alignedBytes(values[id].bytes);
    if (live > plan->peakLiveBytes) {
      plan->peakLiveBytes = live;
      plan->peakInstruction = static_cast<int>(i);
    }
    const Instr &instr = instrs_[i];
    if (instr.impl && instr.impl->workspace) {
      std::vector<const Shape *> operandShapes;
      for (int o : instr.source->operands)
        operandShapes.push_back(o < 0 ? nullptr : &values[o].shape);
      plan->workspaceBytes =
          std::max(plan->workspaceBytes, instr.impl->workspace(instr.params, operandShapes));
    }
  }
  return plan;
}

Result<const MemoryPlan *> Executable::plan(const std::vector<Shape> &inputShapes) {
  if (auto it = prepared_.find(inputShapes); it != prepared_.end())
    return static_cast<const MemoryPlan *>(it->second.plan.get());
  auto &planned = planned_[inputShapes];
  if (!planned) {
    auto p = makePlan(inputShapes);
    if (!p.ok()) {
      planned_.erase(inputShapes);
      return p.status();
    }
    planned = p.take();
  }
  return static_cast<const MemoryPlan *>(planned.get());
}

Result<Executable::Prepared *> Executable::prepare(const std::vector<Shape> &inputShapes) {
  auto it = prepared_.find(inputShapes);
  if (it != prepared_.end()) {
    it->second.lastUsed = ++runs_;
    return &it->second;
  }
  auto plan = makePlan(inputShapes);
  if (!plan.ok())
    return plan.status();
  // Keep the arenas of a few recent shapes (a last, shorter batch; a prompt
  // and then single tokens), not of every shape ever seen.
  if (prepared_.size() >= 4) {
    auto oldest = prepared_.begin();
    for (auto i = prepared_.begin(); i != prepared_.end(); ++i)
      if (i->second.lastUsed < oldest->second.lastUsed)
        oldest = i;
    prepared_.erase(oldest);
  }
  Prepared p;
  p.plan = plan.take();
  if (shared_) { // views into the shared buffer are made per run
    p.lastUsed = ++runs_;
    auto [inserted, ok] = prepared_.emplace(inputShapes, std::move(p));
    return &inserted->second;
  }
  Allocator &allocator = backend_.allocator();
  auto arena = allocator.allocate(p.plan->arenaBytes);
  if (!arena.ok())
    return arena.status().prefixed(fn_->name + ": the activations arena (" +
                                   formatBytes(static_cast<double>(p.plan->arenaBytes)) + "): ");
  p.arena = arena.take();
  auto workspace = allocator.allocate(p.plan->workspaceBytes);
  if (!workspace.ok())
    return workspace.status();
  p.workspace = workspace.take();
  p.views.resize(p.plan->values.size());
  for (size_t id = 0; id < p.plan->values.size(); ++id) {
    const MemoryPlan::Value &v = p.plan->values[id];
    if (v.storage == MemoryPlan::Storage::Arena)
      p.views[id] = Tensor::view(p.arena, v.offset, v.shape, v.dtype);
  }
  p.lastUsed = ++runs_;
  auto [inserted, ok] = prepared_.emplace(inputShapes, std::move(p));
  return &inserted->second;
}

size_t Executable::scratchBytes(const MemoryPlan &plan) {
  return alignedBytes(plan.arenaBytes) + plan.workspaceBytes;
}

Result<std::vector<Tensor>> Executable::run(const std::vector<Tensor> &inputs, ParamStore &store) {
  const ProgramFunction &f = *fn_;
  double runStart = profile_ ? monotonicSeconds() : 0;
  // Profiling on a device: copying one value to the host waits for the
  // kernels before it (the backends' host copies synchronise).
  bool waitForDevice = profile_ && backend_.device().kind != DeviceKind::Cpu;
  Tensor probeHost;
  if (waitForDevice) {
    if (!syncProbe_.defined()) {
      auto probe = Tensor::allocate(backend_.allocator(), {1}, DType::F32);
      if (!probe.ok())
        return probe.status();
      syncProbe_ = probe.take();
      SHEAR_RETURN_IF_ERROR(backend_.zero(syncProbe_));
    }
    probeHost = Tensor::empty({1}, DType::F32);
    SHEAR_RETURN_IF_ERROR(backend_.copy(probeHost, syncProbe_));
  }
  std::vector<Shape> shapes;
  for (const Tensor &t : inputs)
    shapes.push_back(t.shape());
  auto prepared = prepare(shapes);
  if (!prepared.ok())
    return prepared.status();
  Prepared &p = **prepared;
  const MemoryPlan &plan = *p.plan;
  for (size_t a = 0; a < inputs.size(); ++a)
    if (inputs[a].dtype() != plan.values[f.args[a]].dtype)
      return invalidInput("input " + std::to_string(a) + " of " + f.name + " must be " +
                          typeToString(f.values[f.args[a]]) + ", got " +
                          dtypeName(inputs[a].dtype()));

  std::vector<Tensor> slots(plan.values.size());
  for (size_t a = 0; a < inputs.size(); ++a) {
    if (inputs[a].device() == backend_.device()) {
      slots[f.args[a]] = inputs[a];
      continue;
    }
    // An input in host memory (token ids, labels, a step) is copied to the
    // device; one the function updates in place must already be there.
    for (const MemoryPlan::Value &v : plan.values)
      if (v.aliasOf == f.args[a])
        return internalError("input " + std::to_string(a) + " of " + f.name +
                             " is updated in place and must be in " + backend_.device().str() +
                             " memory, not " + inputs[a].device().str());
    auto staged = Tensor::allocate(backend_.allocator(), inputs[a].shape(), inputs[a].dtype());
    if (!staged.ok())
      return staged.status();
    SHEAR_RETURN_IF_ERROR(backend_.copy(*staged, inputs[a]));
    slots[f.args[a]] = staged.take();
  }
  // A shared scratch: this run's arena at its start, the workspace after.
  std::shared_ptr<Buffer> scratch;
  void *workspace = p.workspace ? p.workspace->data() : nullptr;
  if (shared_) {
    auto reserved = shared_->reserve(scratchBytes(plan));
    if (!reserved.ok())
      return reserved.status().prefixed(f.name + ": the activations arena and kernel scratch (" +
                                        formatBytes(static_cast<double>(scratchBytes(plan))) + "): ");
    scratch = reserved.take();
    workspace = static_cast<char *>(scratch->data()) + alignedBytes(plan.arenaBytes);
  }
  for (size_t id = 0; id < plan.values.size(); ++id) {
    const MemoryPlan::Value &v = plan.values[id];
    if (v.storage == MemoryPlan::Storage::Arena) {
      slots[id] = scratch ? Tensor::view(scratch, v.offset, v.shape, v.dtype) : p.views[id];
    } else if (v.storage == MemoryPlan::Storage::Output && v.aliasOf < 0) {
      auto t = Tensor::allocate(backend_.allocator(), v.shape, v.dtype);
      if (!t.ok())
        return t.status();
      slots[id] = t.take();
    }
  }

  ExecContext &context = backend_.context();
  // Deferred all_reduce results (bucketCollectives): averaged together when
  // enough bytes are pending, or when an instruction or the caller reads one.
  Communicator *comm = context.communicator;
  bool averages = comm && comm->size() > 1;
  bool bucketing = bucketBytes_ > 0 && averages;
  std::vector<bool> pending(bucketing ? slots.size() : 0, false);
  std::vector<Tensor *> bucket;
  size_t bucketBytes = 0;
  auto flush = [&]() -> Status {
    if (bucket.empty())
      return Status();
    SHEAR_RETURN_IF_ERROR(allReduceMean(*comm, bucket, &backend_));
    for (Tensor *t : bucket)
      pending[static_cast<size_t>(t - slots.data())] = false;
    bucket.clear();
    bucketBytes = 0;
    return Status();
  };
  KernelIO io;
  std::vector<KernelIO> grouped; // the calls of the group being gathered
  for (size_t i = 0; i < instrs_.size(); ++i) {
    const Instr &instr = instrs_[i];
    const ProgramInstr &in = *instr.source;
    if (bucketing && !bucket.empty())
      for (int id : in.operands)
        if (id >= 0 && pending[id]) {
          double t0 = profile_ ? monotonicSeconds() : 0;
          SHEAR_RETURN_IF_ERROR(flush());
          if (profile_)
            profile_->addCall(KernelId::AllReduce, monotonicSeconds() - t0);
          break;
        }
    if (!skipped_.empty() && skipped_[i]) {
      for (int id : in.results)
        if (id >= 0)
          slots[id] = Tensor();
      continue;
    }
    if (in.kind == ProgramInstr::Kind::Weight) {
      const ProgramWeight &ref = program_.weights[in.weight];
      // A working copy is derived from its master: an evaluation that runs
      // before the first step loads the master it does not read itself.
      if (std::string master = workingCopyOf(ref.name); !master.empty() && !store.find(master))
        if (const ProgramWeight *m = program_.weight(master)) {
          auto held = store.get(*m, program_.baseDir);
          if (!held.ok())
            return held.status();
        }
      auto w = store.get(ref, program_.baseDir);
      if (!w.ok())
        return w.status();
      slots[in.results[0]] = w.take();
      continue;
    }
    for (int id : in.results) {
      if (id < 0)
        continue;
      const MemoryPlan::Value &v = plan.values[id];
      if (v.aliasOf >= 0)
        slots[id] = slots[v.aliasOf];
      else if (v.copyFrom >= 0)
        SHEAR_RETURN_IF_ERROR(backend_.copy(slots[id], slots[v.copyFrom]));
    }
    if (!averages && in.kind == ProgramInstr::Kind::Kernel && in.kernel == KernelId::AllReduce) {
      // One rank: the mean over the ranks is the gradient itself. Not run
      // (a device backend would stage it through the host: three copies of
      // every gradient per step on one GPU).
      int r = in.results[0], o = in.operands[0];
      if (r >= 0 && plan.values[r].copyFrom < 0 && !slots[r].sameStorage(slots[o]))
        SHEAR_RETURN_IF_ERROR(backend_.copy(slots[r], slots[o]));
      continue;
    }
    if (bucketing && in.kind == ProgramInstr::Kind::Kernel && in.kernel == KernelId::AllReduce) {
      int id = in.results[0]; // in place: the operand's storage, or a copy of it
      pending[id] = true;
      bucket.push_back(&slots[id]);
      bucketBytes += slots[id].bytes();
      if (bucketBytes >= bucketBytes_)
        SHEAR_RETURN_IF_ERROR(flush());
      continue;
    }
    io.in.clear();
    io.out.clear();
    for (int id : in.operands)
      io.in.push_back(id < 0 ? nullptr : &slots[id]);
    for (int id : in.results)
      io.out.push_back(id < 0 ? nullptr : &slots[id]);
    io.workspace = workspace;
    io.workspaceBytes = plan.workspaceBytes;
    double t0 = profile_ ? monotonicSeconds() : 0;
    Status s;
    if (groupLast_[i] >= 0) {
      // A call of a group: gathered, and run with the others at the last.
      grouped.push_back(io);
      if (groupLast_[i] != static_cast<int>(i))
        continue;
      std::vector<KernelIO *> calls;
      for (KernelIO &call : grouped)
        calls.push_back(&call);
      s = instr.impl->runGroup(context, instr.params, calls);
      if (!s.ok())
        return s.prefixed(describe(static_cast<int>(i)) + " and the " + std::to_string(calls.size() - 1) +
                          " calls before it, run together: ");
      grouped.clear();
    } else {
      s = instr.impl->run(context, instr.params, io);
    }
    if (s.ok() && waitForDevice)
      s = backend_.copy(probeHost, syncProbe_);
    if (!s.ok())
      return s.prefixed(describe(static_cast<int>(i)) + ": ");
    if (profile_)
      profile_->addCall(in.kernel, monotonicSeconds() - t0);
  }
  if (bucketing) {
    double t0 = profile_ ? monotonicSeconds() : 0;
    bool any = !bucket.empty();
    SHEAR_RETURN_IF_ERROR(flush());
    if (profile_ && any)
      profile_->addCall(KernelId::AllReduce, monotonicSeconds() - t0);
  }
  std::vector<Tensor> out;
  for (int r : f.returns)
    out.push_back(slots[r]);
  if (profile_)
    profile_->addRun(monotonicSeconds() - runStart);
  return out;
}

std::string shear::rt::formatBytes(double bytes) {
  char buf[32];
  if (bytes >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  return buf;
}

std::string shear::rt::formatPlan(const std::string &function, const MemoryPlan &plan) {
  std::string inputs;
  for (const Shape &s : plan.inputShapes)
    inputs += (inputs.empty() ? "" : ", ") + shapeToString(s);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "  %s (inputs %s):\n"
                "    activations   %12s  arena (peak live %s at instruction %d)\n"
                "    workspace     %12s  largest kernel scratch\n"
                "    results       %12s  allocated per run\n"
                "    in place      %12d  results written into their operand's memory\n",
                function.c_str(), inputs.c_str(), formatBytes(double(plan.arenaBytes)).c_str(),
                formatBytes(double(plan.peakLiveBytes)).c_str(), plan.peakInstruction,
                formatBytes(double(plan.workspaceBytes)).c_str(),
                formatBytes(double(plan.outputBytes)).c_str(), plan.inPlaceUpdates);
  return buf;
}

std::set<std::string> shear::rt::weightsHeld(
    const ProgramFile &program, const std::vector<std::pair<std::string, const MemoryPlan *>> &plans) {
  std::set<std::string> held;
  for (const ProgramFunction &f : program.functions) {
    bool planned = plans.empty();
    for (const auto &p : plans)
      planned |= p.first == f.name;
    if (planned)
      for (const ProgramInstr &in : f.body)
        if (in.kind == ProgramInstr::Kind::Weight)
          held.insert(program.weights[in.weight].name);
  }
  return held;
}

std::string shear::rt::formatWeightMemory(const ProgramFile &program, size_t &total,
                                          const std::set<std::string> *held) {
  struct Kind {
    const char *file, *label;
    int64_t elements = 0;
    size_t bytes = 0;
    bool host = false;
  } kinds[] = {{"model.safetensors", "parameters"},
               {"gates.safetensors", "gate parameters"},
               {"masks.safetensors", "final masks"},
               {"lambdas.safetensors", "Lagrange multipliers"},
               {"optimizer.safetensors", "optimizer state (AdamW m, v)"},
               {"work:", "working copies (bf16)"},
               {"grad:", "gradient sums (--micro-batch)"}};
  auto kindOf = [](const std::string &name) -> std::string {
    if (!workingCopyOf(name).empty())
      return "work:";
    if (!gradientSumOf(name).empty())
      return "grad:";
    return checkpointFileFor(name);
  };
  for (const ProgramWeight &w : program.weights)
    for (Kind &k : kinds)
      if ((!held || held->count(w.name)) && kindOf(w.name) == k.file) {
        k.elements += numElements(w.shape);
        k.bytes += static_cast<size_t>(numElements(w.shape)) * dtypeBytes(w.dtype);
        k.host |= w.host;
      }
  std::string out;
  total = 0;
  for (const Kind &k : kinds) {
    if (k.elements == 0)
      continue;
    size_t bytes = k.bytes;
    if (!k.host)
      total += bytes;
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-30s %12s  (%.2f M values%s)\n", k.label,
                  formatBytes(double(bytes)).c_str(), k.elements / 1e6,
                  k.host ? "; in host memory: --offload" : "");
    out += buf;
  }
  return out;
}

namespace {
/// The plans' arenas and workspaces: their sum, or with one shared scratch
/// the largest.
size_t scratchTotal(const std::vector<std::pair<std::string, const MemoryPlan *>> &plans, bool shared) {
  size_t total = 0;
  for (const auto &[name, plan] : plans)
    total = shared ? std::max(total, Executable::scratchBytes(*plan)) : total + plan->arenaBytes + plan->workspaceBytes;
  return total;
}
} // namespace

std::string shear::rt::formatMemoryReport(
    const ProgramFile &program, Backend &backend,
    const std::vector<std::pair<std::string, const MemoryPlan *>> &plans, bool sharedScratch) {
  size_t total = 0;
  std::string out = "memory plan on " + backend.describe();
  if (auto it = program.compiledWith.find("precision");
      it != program.compiledWith.end() && it->second.asString() && *it->second.asString() != "f32")
    out += " with " + *it->second.asString() + " weights and activations";
  out += ":\n";
  std::set<std::string> held = weightsHeld(program, plans);
  out += formatWeightMemory(program, total, &held);
  for (const auto &[name, plan] : plans) {
    out += formatPlan(name, *plan);
    total += plan->outputBytes + plan->inputBytes;
  }
  size_t scratch = scratchTotal(plans, sharedScratch);
  if (sharedScratch && plans.size() > 1)
    out += "  arena and scratch, shared     " + formatBytes(double(scratch)) +
           "  (the largest function's: they run one at a time)\n";
  total += scratch;
  out += "  total                          " + formatBytes(double(total)) + "\n";
  size_t free = 0, capacity = 0;
  if (backend.memoryInfo(free, capacity))
    out += "  free on " + backend.device().str() + std::string(26 - std::min<size_t>(26, backend.device().str().size()), ' ') +
           formatBytes(double(free)) + " of " + formatBytes(double(capacity)) + "\n";
  return out;
}

size_t shear::rt::plannedBytes(const ProgramFile &program,
                               const std::vector<std::pair<std::string, const MemoryPlan *>> &plans,
                               int optimizerShards, bool weightsOnly, bool sharedScratch) {
  size_t total = 0;
  std::set<std::string> held = weightsHeld(program, plans);
  for (const ProgramWeight &w : program.weights) {
    if (w.host || !held.count(w.name))
      continue; // in host memory (--offload), or not read by these plans
    size_t bytes = static_cast<size_t>(numElements(w.shape)) * dtypeBytes(w.dtype);
    bool moment = w.name.rfind("adam.m:", 0) == 0 || w.name.rfind("adam.v:", 0) == 0;
    total += moment ? bytes / static_cast<size_t>(std::max(1, optimizerShards)) : bytes;
  }
  if (weightsOnly)
    return total;
  for (const auto &[name, plan] : plans)
    total += plan->outputBytes + plan->inputBytes;
  return total + scratchTotal(plans, sharedScratch);
}

Status shear::rt::checkDeviceMemory(const ProgramFile &program, Backend &backend,
                                    const std::vector<std::pair<std::string, const MemoryPlan *>> &plans,
                                    const std::string &hint, int optimizerShards, bool sharedScratch) {
  size_t free = 0, capacity = 0;
  if (!backend.memoryInfo(free, capacity))
    return Status(); // the host: no fixed budget to check against
  size_t needed = plannedBytes(program, plans, optimizerShards, false, sharedScratch);
  if (needed <= free)
    return Status();
  size_t weights = plannedBytes(program, plans, optimizerShards, true);
  // The shortfall, exact where rounding would make need and free look equal.
  size_t shortBy = needed - free;
  std::string shortfall = shortBy < (size_t(1) << 20) ? std::to_string(shortBy) + " bytes" : formatBytes(double(shortBy));
  return invalidInput("the run needs " + formatBytes(double(needed)) + " on " + backend.device().str() +
                      " (weights and optimizer state " + formatBytes(double(weights)) + ", activations and "
                      "scratch " + formatBytes(double(needed - weights)) + ") but " + formatBytes(double(free)) +
                      " of its " + formatBytes(double(capacity)) + " are free (" + shortfall + " short): " + hint +
                      " (--plan shows the plan)");
}
