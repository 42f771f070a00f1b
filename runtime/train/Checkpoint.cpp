//===- Checkpoint.cpp - run directories' checkpoints ----------------------===//
#include "Checkpoint.h"

#include "shear/Support/Files.h"
#include "shear/Support/Safetensors.h"

#include <algorithm>
#include <cmath>
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

Result<TrainState> shear::rt::parseTrainState(std::string_view text, const std::string &path,
                                               const Manifest &manifest, int64_t steps,
                                               bool needRefLoss) {
  auto json = json::parse(text);
  if (!json.ok())
    return fileError(path, json.status().message());
  if (!json->asObject())
    return fileError(path, "not a JSON object");
  TrainState st;
  size_t k = manifest.domains.size();
  auto list = [&](const char *key, size_t want, auto read) -> Status {
    const json::Array *a = json->getArray(key);
    if (!a || a->size() != want)
      return fileError(path, "'" + std::string(key) + "' must list " + std::to_string(want) +
                                 " values (one per domain)");
    for (const json::Value &v : *a)
      if (!read(v))
        return fileError(path, "'" + std::string(key) + "' holds a value of the wrong type");
    return Status();
  };
  SHEAR_RETURN_IF_ERROR(list("domains", k, [&](const json::Value &v) {
    return v.asString() && (st.domains.push_back(*v.asString()), true);
  }));
  for (size_t d = 0; d < k; ++d)
    if (st.domains[d] != manifest.domains[d].name)
      return fileError(path, "its domains do not match the data's (" + st.domains[d] + " vs " +
                                 manifest.domains[d].name + ")");
  auto integer = [](std::vector<int64_t> &out) {
    return [&out](const json::Value &v) {
      return v.kind() == json::Value::Kind::Integer && (out.push_back(*v.asInteger()), true);
    };
  };
  auto number = [](std::vector<double> &out) {
    return [&out](const json::Value &v) { return v.asNumber() && (out.push_back(*v.asNumber()), true); };
  };
  SHEAR_RETURN_IF_ERROR(list("positions", k, integer(st.positions)));
  SHEAR_RETURN_IF_ERROR(list("epochs", k, integer(st.epochs)));
  SHEAR_RETURN_IF_ERROR(list("weights", k, number(st.weights)));
  if (needRefLoss)
    SHEAR_RETURN_IF_ERROR(list("ref_loss", k, number(st.refLoss)));
  auto step = json->get("step");
  if (!step || step->kind() != json::Value::Kind::Integer)
    return fileError(path, "'step' must be an integer");
  st.step = *step->asInteger();
  if (st.step <= 0 || st.step > steps)
    return fileError(path, "step " + std::to_string(st.step) + " is not in [1, " +
                               std::to_string(steps) + "] (--steps)");
  double weightSum = 0;
  for (size_t d = 0; d < k; ++d) {
    if (st.positions[d] < 0 || st.positions[d] > manifest.domains[d].trainSequences ||
        st.epochs[d] < 0)
      return fileError(path, "the position of domain '" + manifest.domains[d].name +
                                 "' is outside its " +
                                 std::to_string(manifest.domains[d].trainSequences) + " sequences");
    if (!(st.weights[d] >= 0) || !std::isfinite(st.weights[d]) || st.weights[d] > 1e300)
      return fileError(path, "the weight of domain '" + manifest.domains[d].name +
                                 "' is not a finite non-negative number");
    weightSum += st.weights[d];
    if (needRefLoss && !std::isfinite(st.refLoss[d]))
      return fileError(path, "the reference loss of domain '" + manifest.domains[d].name +
                                 "' is not finite");
  }
  if (!(weightSum > 0))
    return fileError(path, "the domain weights sum to 0");
  if (const std::string *sig = json->getString("signature"))
    st.signature = *sig;
  return st;
}

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
