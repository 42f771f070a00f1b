//===- Checkpoint.cpp - run directories' checkpoints ----------------------===//
#include "Checkpoint.h"

#include "shear/Support/Files.h"
#include "shear/Support/Safetensors.h"

#include <algorithm>
#include <set>
#include <cmath>
#include <cstdio>
#include <cstring>
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
  for (auto [key, out] : {std::pair{"sparsity_overshoot", &st.overshoot}, std::pair{"controller_integral", &st.integral}}) {
    const json::Value *v = json->get(key);
    if (!v)
      continue;
    if (!v->asObject())
      return fileError(path, "'" + std::string(key) + "' must be an object of numbers by family");
    for (const auto &[family, x] : *v->asObject()) {
      if (!x.asNumber() || !std::isfinite(*x.asNumber()))
        return fileError(path, "'" + std::string(key) + "." + family + "' is not a finite number");
      (*out)[family] = *x.asNumber();
    }
  }
  return st;
}

Result<CheckpointSnapshot> shear::rt::takeCheckpoint(const std::string &runDirIn,
                                                     const std::string &name,
                                                     const ProgramFile &program, ParamStore &store,
                                                     const json::Value &state, Communicator &comm,
                                                     bool shardedOptimizer) {
  CheckpointSnapshot snap;
  snap.name = name;
  snap.lead = comm.rank() == 0;
  snap.runDir = absolutePath(runDirIn, ".");
  snap.finalDir = joinPath(snap.runDir, name);
  // One temporary directory for all ranks, named after the first's process.
  int64_t token = snap.lead ? static_cast<int64_t>(getpid()) : 0;
  SHEAR_RETURN_IF_ERROR(comm.broadcast(&token, sizeof token, 0));
  snap.tmpDir = joinPath(snap.runDir, "." + name + ".tmp-" + std::to_string(token));
  Status made;
  if (snap.lead) {
    made = removeAll(snap.tmpDir);
    if (made.ok())
      made = createDirectories(snap.tmpDir);
  }
  SHEAR_RETURN_IF_ERROR(comm.agree(made));

  // Which tensors go to which file: the first rank writes the model's
  // weights and the training state; with a sharded optimizer every rank
  // writes the moments it holds to a file of its own.
  auto fileFor = [&](const std::string &tname) {
    std::string file = checkpointFileFor(tname);
    if (shardedOptimizer && file == "optimizer.safetensors")
      file = optimizerShardFile(comm.rank());
    return file;
  };
  if (snap.lead)
    for (const std::string &w : program.checkpointWeights) {
      const ProgramWeight *ref = program.weight(w);
      auto t = store.get(*ref, program.baseDir);
      if (!t.ok())
        return t.status();
      snap.files[fileFor(w)].push_back({w, t.take()});
    }
  for (const auto &[tname, t] : store.tensors())
    if (isTrainingState(tname) &&
        (snap.lead || (shardedOptimizer && checkpointFileFor(tname) == std::string("optimizer.safetensors"))))
      snap.files[fileFor(tname)].push_back({tname, t});
  for (const auto &[file, tensors] : snap.files)
    for (const auto &[tname, t] : tensors)
      snap.bytes += static_cast<size_t>(t.numel()) * sizeof(float);
  if (snap.lead) {
    snap.module = program.checkpointModule;
    snap.state = state;
  }
  return snap;
}

Status shear::rt::copyCheckpointToHost(CheckpointSnapshot &snap, Backend &backend) {
  for (auto &[file, tensors] : snap.files)
    for (auto &[tname, t] : tensors) {
      auto host = backend.toHost(t);
      if (!host.ok())
        return host.status();
      if (host->sameStorage(t)) { // the host's own tensor, which the next step changes
        auto copy = Tensor::allocate(hostAllocator(), t.shape(), t.dtype());
        if (!copy.ok())
          return runFailure("no host memory for a copy of checkpoint " + snap.name + " (" +
                            copy.status().message() + "): use --checkpoint-writes foreground");
        std::memcpy(copy->data(), t.data(), t.bytes());
        t = copy.take();
      } else {
        t = host.take();
      }
    }
  snap.copied = true;
  return Status();
}

Status shear::rt::writeCheckpointFiles(const CheckpointSnapshot &snap, Backend *backend,
                                       const std::atomic<bool> *cancel) {
  // Float32; without copies, streamed from the tensors themselves.
  for (const auto &[file, tensors] : snap.files) {
    std::vector<TensorSpec> specs;
    for (const auto &[tname, t] : tensors)
      specs.push_back({tname, DType::F32, t.shape()});
    auto writer = SafetensorsWriter::create(joinPath(snap.tmpDir, file), specs);
    if (!writer.ok())
      return writer.status();
    for (const auto &[tname, t] : tensors) {
      if (cancel && *cancel)
        return runFailure("the write of " + snap.name + " was cancelled");
      Tensor host = t;
      if (!snap.copied) {
        auto h = backend->toHost(t);
        if (!h.ok())
          return h.status();
        host = h.take();
      }
      if (host.dtype() != DType::F32)
        return internalError("checkpoint of a " + std::string(dtypeName(host.dtype())) + " tensor");
      SHEAR_RETURN_IF_ERROR(writer->get()->writeF32(host.f32(), static_cast<size_t>(host.numel())));
    }
    SHEAR_RETURN_IF_ERROR((*writer)->commit());
  }
  // state.json last: a directory without it is not a checkpoint.
  if (snap.lead) {
    SHEAR_RETURN_IF_ERROR(writeFileAtomically(joinPath(snap.tmpDir, "model.mlir"), snap.module));
    SHEAR_RETURN_IF_ERROR(writeJsonFileAtomically(joinPath(snap.tmpDir, "state.json"), snap.state));
    syncDirectory(snap.tmpDir);
  }
  return Status();
}

Status shear::rt::placeCheckpoint(const CheckpointSnapshot &snap, const Status &written,
                                  Communicator &comm) {
  SHEAR_RETURN_IF_ERROR(comm.agree(
      written.ok() ? written
                   : written.prefixed("checkpoint " + snap.finalDir +
                                      " could not be written (the checkpoints in place are intact): ")));
  // The whole directory moves into place at once.
  Status placed;
  if (snap.lead) {
    placed = removeAll(snap.finalDir);
    if (placed.ok() && std::rename(snap.tmpDir.c_str(), snap.finalDir.c_str()) != 0)
      placed = ioError(snap.finalDir, "cannot move the checkpoint into place");
    if (placed.ok())
      syncDirectory(snap.runDir);
  }
  return comm.agree(placed);
}

Status shear::rt::writeCheckpoint(const std::string &runDir, const std::string &name,
                                  const ProgramFile &program, ParamStore &store,
                                  const json::Value &state, Communicator &comm,
                                  bool shardedOptimizer) {
  auto snap = takeCheckpoint(runDir, name, program, store, state, comm, shardedOptimizer);
  if (!snap.ok())
    return snap.status();
  return placeCheckpoint(*snap, writeCheckpointFiles(*snap, &store.backend()), comm);
}

size_t shear::rt::checkpointBytes(const ProgramFile &program) {
  std::set<std::string> names(program.checkpointWeights.begin(), program.checkpointWeights.end());
  for (const ProgramWeight &w : program.weights)
    if (isTrainingState(w.name))
      names.insert(w.name);
  size_t bytes = 0;
  for (const std::string &n : names)
    if (const ProgramWeight *w = program.weight(n)) {
      size_t count = 1;
      for (int64_t d : w->shape)
        count *= static_cast<size_t>(d);
      bytes += count * sizeof(float);
    }
  return bytes;
}

std::string shear::rt::optimizerShardFile(int rank) {
  return "optimizer.rank" + std::to_string(rank) + ".safetensors";
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
                                        ParamStore &store,
                                        const std::function<bool(const std::string &)> &holds) {
  std::vector<std::string> names(std::begin(kFiles), std::end(kFiles));
  // A sharded optimizer's moments: one file per rank of the run that wrote it.
  auto entries = listDirectory(dir);
  if (!entries.ok())
    return entries.status();
  for (const std::string &e : *entries)
    if (e.rfind("optimizer.rank", 0) == 0 && e.size() > 26 &&
        e.compare(e.size() - 12, 12, ".safetensors") == 0)
      names.push_back(e);
  std::set<std::string> loaded;
  for (const std::string &file : names) {
    std::string path = joinPath(dir, file);
    if (!pathExists(path))
      continue;
    auto f = SafetensorsFile::open(path);
    if (!f.ok())
      return f.status();
    for (const TensorInfo &info : (*f)->tensors()) {
      const ProgramWeight *ref = program.weight(info.name);
      bool state = isTrainingState(info.name);
      if ((!ref && !state) || (holds && !holds(info.name)))
        continue; // a weight this program does not read, or another rank's moments
      if (ref && info.shape != ref->shape)
        return fileError(path, "tensor '" + info.name + "' is " + shapeToString(info.shape) +
                                   " but the model expects " + shapeToString(ref->shape) +
                                   " (the checkpoint does not belong to this model)");
      if (!isFloatDType(info.dtype))
        return fileError(path, "tensor '" + info.name + "' is not a float tensor");
      Tensor host = Tensor::empty(info.shape, DType::F32);
      convertToF32(info.dtype, (*f)->data(info), static_cast<size_t>(host.numel()), host.f32());
      (*f)->release(info);
      SHEAR_RETURN_IF_ERROR(store.put(info.name, host, ref ? ref->dtype : DType::F32, ref && ref->host));
      loaded.insert(info.name);
    }
  }
  // Without its moments and multipliers a run would not continue where it
  // stopped: a missing shard file is an error, not a fresh optimizer.
  for (const ProgramWeight &w : program.weights)
    if (isTrainingState(w.name) && (!holds || holds(w.name)) && !loaded.count(w.name))
      return fileError(dir, "has no '" + w.name + "' (" + checkpointFileFor(w.name) +
                                "; with a sharded optimizer optimizer.rank*.safetensors): the "
                                "checkpoint is incomplete");
  return Status();
}
