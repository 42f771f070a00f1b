//===- Executor.cpp - runs a lowered program ------------------------------===//
#include "shear/Runtime/Executor.h"

#include "shear/Dialect/ShearOps.h"
#include "shear/Target/ArtifactPaths.h"

#include "mlir/Parser/Parser.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/FileSystem.h"

using namespace mlir;
using namespace shear;
using namespace shear::rt;

llvm::Expected<Tensor> ParamStore::get(const std::string &file, const std::string &name,
                                       llvm::ArrayRef<int64_t> shape, bool zeroInit) {
  auto &inFile = held_[file];
  auto it = inFile.find(name);
  if (it != inFile.end())
    return it->second;
  if (zeroInit) {
    bool present = false;
    if (llvm::sys::fs::exists(file)) {
      auto f = files_.file(file);
      if (!f)
        return f.takeError();
      present = (*f)->find(name) != nullptr;
    }
    if (!present) {
      Tensor z = Tensor::zeros(std::vector<int64_t>(shape.begin(), shape.end()));
      inFile[name] = z;
      return z;
    }
  }
  auto t = files_.tensor(file, name);
  if (!t)
    return t.takeError();
  auto [f, info] = *t;
  if (!isFloatDType(info->dtype) || llvm::ArrayRef<int64_t>(info->shape) != shape)
    return fileError(file, "tensor '" + name + "' is " + dtypeName(info->dtype) + " " +
                               shapeToString(info->shape) + " but the model expects " +
                               shapeToString(shape) +
                               " (the weights do not belong to this model)");
  Tensor w = Tensor::empty(info->shape);
  convertToF32(info->dtype, f->data(*info), w.numel(), w.f32());
  f->release(*info);
  inFile[name] = w;
  return w;
}

void ParamStore::set(const std::string &file, const std::string &name, Tensor value) {
  held_[file][name] = std::move(value);
}

static void addAttr(KernelAttrs &attrs, const std::string &name, Attribute a) {
  if (auto i = dyn_cast<IntegerAttr>(a))
    attrs.numbers[name] = static_cast<double>(i.getInt());
  else if (auto f = dyn_cast<FloatAttr>(a))
    attrs.numbers[name] = f.getValueAsDouble();
  else if (auto b = dyn_cast<BoolAttr>(a))
    attrs.numbers[name] = b.getValue();
  else if (isa<UnitAttr>(a))
    attrs.numbers[name] = 1;
  else if (auto s = dyn_cast<StringAttr>(a))
    attrs.strings[name] = s.getValue().str();
  else if (auto d = dyn_cast<DictionaryAttr>(a))
    for (NamedAttribute n : d)
      addAttr(attrs, name + "." + n.getName().str(), n.getValue());
}

FailureOr<Program> Program::compile(func::FuncOp fn, const KernelRegistry &registry,
                                    StringRef moduleDir) {
  Program p;
  llvm::DenseMap<Value, int> slot;
  Block &body = fn.getBody().front();
  for (BlockArgument arg : body.getArguments())
    slot[arg] = p.numSlots_++;
  p.numArgs_ = body.getNumArguments();
  for (Operation &op : body) {
    Instr in;
    if (auto w = dyn_cast<WeightOp>(op)) {
      in.kind = Instr::Weight;
      in.name = w.getName().str();
      in.file = absolutePath(w.getFile(), moduleDir);
      in.zeroInit = w.getZeroInit();
      auto type = cast<RankedTensorType>(w.getType());
      in.shape.assign(type.getShape().begin(), type.getShape().end());
    } else if (auto k = dyn_cast<KernelOp>(op)) {
      in.kind = Instr::Kernel;
      in.name = k.getCallee().str();
      in.fn = registry.find(in.name);
      if (!in.fn) {
        k.emitOpError() << "calls '" << in.name << "', which no backend kernel implements";
        return failure();
      }
      for (NamedAttribute a : k->getAttrs()) {
        if (a.getName() == "callee")
          continue;
        if (a.getName() == "masks") {
          for (Attribute m : cast<ArrayAttr>(a.getValue()))
            in.attrs.masks.push_back(cast<StringAttr>(m).getValue().str());
          continue;
        }
        addAttr(in.attrs, a.getName().str(), a.getValue());
      }
    } else if (isa<func::ReturnOp>(op)) {
      in.kind = Instr::Return;
    } else {
      op.emitOpError("cannot be executed: lower the module with --lower-to-runtime first");
      return failure();
    }
    for (Value v : op.getOperands())
      in.args.push_back(slot.at(v));
    for (Value r : op.getResults()) {
      slot[r] = p.numSlots_++;
      in.results.push_back(slot[r]);
    }
    p.instrs_.push_back(std::move(in));
  }
  // Free each value after its last use (never the inputs, which the caller owns).
  std::vector<int> lastUse(p.numSlots_, -1);
  for (size_t i = 0; i < p.instrs_.size(); ++i)
    for (int s : p.instrs_[i].args)
      lastUse[s] = i;
  for (int s = p.numArgs_; s < p.numSlots_; ++s)
    if (lastUse[s] >= 0 && p.instrs_[lastUse[s]].kind != Instr::Return)
      p.instrs_[lastUse[s]].dead.push_back(s);
  return p;
}

llvm::Expected<std::vector<Tensor>> Program::run(llvm::ArrayRef<Tensor> inputs,
                                                 ParamStore &weights) const {
  std::vector<Tensor> slots(numSlots_);
  for (int i = 0; i < numArgs_; ++i)
    slots[i] = inputs[i];
  for (const Instr &in : instrs_) {
    switch (in.kind) {
    case Instr::Weight: {
      auto w = weights.get(in.file, in.name, in.shape, in.zeroInit);
      if (!w)
        return w.takeError();
      slots[in.results[0]] = *w;
      break;
    }
    case Instr::Kernel: {
      KernelCall call;
      call.name = &in.name;
      call.attrs = &in.attrs;
      for (int s : in.args)
        call.args.push_back(&slots[s]);
      (*in.fn)(call);
      if (call.results.size() != in.results.size())
        kernelFailure(call, "returned " + std::to_string(call.results.size()) +
                                " results, the program expects " +
                                std::to_string(in.results.size()));
      for (size_t i = 0; i < in.results.size(); ++i)
        slots[in.results[i]] = std::move(call.results[i]);
      break;
    }
    case Instr::Return: {
      std::vector<Tensor> out;
      for (int s : in.args)
        out.push_back(slots[s]);
      return out;
    }
    }
    for (int s : in.dead)
      slots[s] = Tensor();
  }
  return std::vector<Tensor>();
}

OwningOpRef<ModuleOp> shear::rt::parseModuleFile(MLIRContext &ctx, const std::string &path) {
  ctx.loadDialect<ShearDialect, func::FuncDialect>();
  llvm::SourceMgr sm;
  SourceMgrDiagnosticHandler handler(sm, &ctx);
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    llvm::errs() << path << ": cannot read: " << buffer.getError().message() << "\n";
    return nullptr;
  }
  sm.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  return parseSourceFile<ModuleOp>(sm, &ctx);
}

FailureOr<Program> shear::rt::compileForCpu(func::FuncOp fn, StringRef moduleDir) {
  static KernelRegistry registry = [] {
    KernelRegistry r;
    registerCpuKernels(r);
    return r;
  }();
  return Program::compile(fn, registry, moduleDir);
}
