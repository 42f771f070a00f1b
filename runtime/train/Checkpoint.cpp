//===- Checkpoint.cpp - run directories' checkpoints ----------------------===//
#include "Checkpoint.h"

#include "shear/Support/Files.h"
#include "shear/Support/Safetensors.h"

#include <algorithm>
#include <cstdio>
#include <unistd.h>

using namespace shear;
using namespace shear::rt;

namespace {
const char *const kFiles[] = {"model.safetensors", "gates.safetensors", "masks.safetensors",
                              "lambdas.safetensors", "optimizer.safetensors"};

bool isTrainingState(const std::string &name) {
  std::string file = checkpointFileFor(name);
  return file == "optimizer.safetensors" || file == "lambdas.safetensors";
}
} // namespace

Status shear::rt::writeCheckpoint(const std::string &runDirIn, const std::string &name,
                                  const ProgramFile &program, ParamStore &store,
                                  const json::Value &state) {
  std::string runDir = absolutePath(runDirIn, ".");
  std::string finalDir = joinPath(runDir, name);
  std::string tmp = joinPath(runDir, "." + name + ".tmp-" + std::to_string(getpid()));
  SHEAR_RETURN_IF_ERROR(removeAll(tmp));
  SHEAR_RETURN_IF_ERROR(createDirectories(tmp));

  // Which tensors go to which file: the model's weights, then training state.
  std::map<std::string, std::vector<std::pair<std::string, Tensor>>> files;
  for (const std::string &w : program.checkpointWeights) {
    const ProgramWeight *ref = program.weight(w);
    auto t = store.get(*ref, program.baseDir);
    if (!t.ok())
      return t.status();
    files[checkpointFileFor(w)].push_back({w, t.take()});
  }
  for (const auto &[tname, t] : store.tensors())
    if (isTrainingState(tname))
      files[checkpointFileFor(tname)].push_back({tname, t});

  // Float32, streamed from the tensors themselves (no second copy in memory).
  for (const auto &[file, tensors] : files) {
    std::vector<TensorSpec> specs;
    for (const auto &[tname, t] : tensors)
      specs.push_back({tname, DType::F32, t.shape()});
    auto writer = SafetensorsWriter::create(joinPath(tmp, file), specs);
    if (!writer.ok())
      return writer.status();
    for (const auto &[tname, t] : tensors) {
      auto host = store.backend().toHost(t);
      if (!host.ok())
        return host.status();
      if (host->dtype() == DType::F32)
        SHEAR_RETURN_IF_ERROR((*writer)->writeF32(host->f32(), static_cast<size_t>(host->numel())));
      else
        return internalError("checkpoint of a " + std::string(dtypeName(host->dtype())) + " tensor");
    }
    SHEAR_RETURN_IF_ERROR((*writer)->commit());
  }
  SHEAR_RETURN_IF_ERROR(writeFileAtomically(joinPath(tmp, "model.mlir"), program.checkpointModule));
  SHEAR_RETURN_IF_ERROR(writeJsonFileAtomically(joinPath(tmp, "state.json"), state));
  syncDirectory(tmp);
  SHEAR_RETURN_IF_ERROR(removeAll(finalDir));
  if (std::rename(tmp.c_str(), finalDir.c_str()) != 0)
    return ioError(finalDir, "cannot move the checkpoint into place");
  syncDirectory(runDir);
  return Status();
}

std::string shear::rt::latestCheckpoint(const std::string &runDir) {
  auto entries = listDirectory(runDir);
  if (!entries.ok())
    return "";
  std::string best;
  int64_t bestStep = -1;
  for (const std::string &name : *entries) {
    if (name.rfind("ckpt-", 0) != 0 || name.size() == 5)
      continue;
    std::string digits = name.substr(5);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 15)
      continue;
    int64_t step = std::stoll(digits);
    std::string dir = joinPath(runDir, name);
    if (!pathExists(joinPath(dir, "state.json")))
      continue;
    if (step > bestStep) {
      bestStep = step;
      best = dir;
    }
  }
  return best;
}

Status shear::rt::loadCheckpointTensors(const std::string &dir, const ProgramFile &program,
                                        ParamStore &store) {
  for (const char *file : kFiles) {
    std::string path = joinPath(dir, file);
    if (!pathExists(path))
      continue;
    auto f = SafetensorsFile::open(path);
    if (!f.ok())
      return f.status();
    for (const TensorInfo &info : (*f)->tensors()) {
      const ProgramWeight *ref = program.weight(info.name);
      bool state = isTrainingState(info.name);
      if (!ref && !state)
        continue; // a weight this program does not read
      if (ref && info.shape != ref->shape)
        return fileError(path, "tensor '" + info.name + "' is " + shapeToString(info.shape) +
                                   " but the model expects " + shapeToString(ref->shape) +
                                   " (the checkpoint does not belong to this model)");
      if (!isFloatDType(info.dtype))
        return fileError(path, "tensor '" + info.name + "' is not a float tensor");
      Tensor host = Tensor::empty(info.shape, DType::F32);
      convertToF32(info.dtype, (*f)->data(info), static_cast<size_t>(host.numel()), host.f32());
      (*f)->release(info);
      SHEAR_RETURN_IF_ERROR(store.put(info.name, host));
    }
  }
  return Status();
}
