//===- TrainLoop.cpp - the training loop of shear-run prune and train -----===//
#include "shear/Runtime/Trainer.h"

#include "Checkpoint.h"
#include "CheckpointWriter.h"
#include "Evaluation.h"
#include "OptimizerShards.h"
#include "Progress.h"
#include "RunDirectory.h"
#include "Schedule.h"
#include "shear/Runtime/Dataset.h"
#include "shear/Runtime/Executable.h"
#include "shear/Support/Clock.h"
#include "shear/Support/Files.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>

using namespace shear;
using namespace shear::rt;

namespace {

/// 950, 12.3 k, 4.56 M, 6.74 G.
std::string formatCount(int64_t n) {
  double v = static_cast<double>(n);
  if (v < 1e3)
    return std::to_string(n);
  return v < 1e6 ? format("%.1f k", v / 1e3) : v < 1e9 ? format("%.2f M", v / 1e6) : format("%.2f G", v / 1e9);
}

const char *dblName(DblMode m) {
  return m == DblMode::Paper ? "paper" : m == DblMode::Code ? "code" : "off";
}

/// Reference losses for dynamic batch loading from a JSON file {domain: loss}.
Result<std::vector<double>> referenceLossesFromFile(const std::string &path,
                                                    const Manifest &m) {
  auto json = readJsonFile(path);
  if (!json.ok())
    return json.status();
  std::vector<double> ref;
  for (const DomainInfo &d : m.domains) {
    auto v = json->getNumber(d.name);
    if (!v)
      return fileError(path, "no reference loss for domain '" + d.name + "'");
    ref.push_back(*v);
  }
  return ref;
}

/// A resumed run continues the run it resumes only with the same options:
/// anything that changes what the steps compute is refused.
Status checkResumedOptions(const TrainOptions &o, const std::string &resumeDir) {
  std::string runPath = joinPath(o.outDir, "run.json");
  if (!pathExists(runPath))
    return Status();
  auto run = readJsonFile(runPath);
  if (!run.ok())
    return run.status();
  std::string differences;
  auto number = [&](const char *key, const char *option, double now) {
    auto then = run->getNumber(key);
    if (then && *then != now)
      differences += format("%s--%s %s (the run: %s)", differences.empty() ? "" : ", ", option,
                            json::formatNumber(now).c_str(), json::formatNumber(*then).c_str());
  };
  number("steps", "steps", static_cast<double>(o.steps));
  number("batch", "batch", static_cast<double>(o.batch));
  number("lr", "lr", o.lr);
  number("lr_gate", "lr-gate", o.lrGate);
  number("lr_lambda", "lr-lambda", o.lrLambda);
  number("warmup", "warmup", o.warmupFraction);
  number("seed", "seed", static_cast<double>(o.seed));
  number("eval_every", "eval-every", static_cast<double>(o.evalEvery));
  number("eval_seqs", "eval-seqs", static_cast<double>(o.evalSequences));
  number("pi_kp", "pi-gains", o.piKp);
  number("pi_ki", "pi-gains", o.piKi);
  number("pi_kq", "pi-gains", o.piKq);
  if (const std::string *c = run->getString("controller"); c && *c != o.controller)
    differences += std::string(differences.empty() ? "" : ", ") + "--controller " + o.controller +
                   " (the run: " + *c + ")";
  if (const std::string *init = run->getString("init"); init && !o.init.empty() && *init != o.init)
    differences += std::string(differences.empty() ? "" : ", ") + "--init " + o.init +
                   " (the run: " + *init + ")";
  if (const std::string *dbl = run->getString("dbl"); dbl && *dbl != dblName(o.dbl))
    differences += std::string(differences.empty() ? "" : ", ") + "--dbl " + dblName(o.dbl) +
                   " (the run: " + *dbl + ")";
  if (!differences.empty())
    return invalidInput("resuming " + o.outDir + " from " + resumeDir + " with other options " +
                        "would not continue the same run: " + differences +
                        "; give the run's options, or start a new --out");
  return Status();
}

} // namespace

namespace {

/// Rows [begin, begin + count) of a [batch, n] token array.
Tensor rowsOf(const Tensor &tokens, int64_t begin, int64_t count) {
  if (begin == 0 && count == tokens.dim(0))
    return tokens;
  int64_t n = tokens.dim(1);
  Tensor out = Tensor::empty({count, n}, DType::I64);
  std::copy(tokens.i64() + begin * n, tokens.i64() + (begin + count) * n, out.i64());
  return out;
}

/// The ranks must hold the same weights after every step (a sharded
/// optimizer broadcasts them; otherwise each rank updates from the same
/// averaged gradients). Checked at every checkpoint from a hash of the bytes.
Status checkRanksAgree(Communicator &comm, const ProgramFile &program, ParamStore &store) {
  if (comm.size() == 1)
    return Status();
  uint64_t hash = 1469598103934665603ull; // FNV-1a over every checkpointed weight
  for (const std::string &w : program.checkpointWeights) {
    auto t = store.get(*program.weight(w), program.baseDir);
    if (!t.ok())
      return t.status();
    auto host = store.backend().toHost(*t);
    if (!host.ok())
      return host.status();
    const unsigned char *p = static_cast<const unsigned char *>(host->data());
    for (size_t i = 0; i < host->bytes(); ++i)
      hash = (hash ^ p[i]) * 1099511628211ull;
  }
  // Equal everywhere exactly when the largest hash and the smallest agree.
  int64_t v[2] = {static_cast<int64_t>(hash >> 1), -static_cast<int64_t>(hash >> 1)};
  SHEAR_RETURN_IF_ERROR(comm.allReduce(v, 2, DType::I64, ReduceOp::Max));
  if (v[0] != -v[1])
    return internalError("the ranks hold different weights after the same steps");
  return Status();
}

} // namespace

Status shear::rt::runTraining(const ProgramFile &program, const TrainOptions &o, Backend &backend,
                              const std::function<void(const std::string &)> &log) {
  std::unique_ptr<Communicator> alone;
  if (!o.comm)
    alone = createSingleCommunicator();
  Communicator &comm = o.comm ? *o.comm : *alone;
  const int rank = comm.rank(), ranks = comm.size();
  const bool lead = rank == 0;
  auto say = [&](const std::string &line) {
    if (lead)
      log(line);
  };
  backend.context().communicator = ranks > 1 ? &comm : nullptr;

  // Everything up to the first collective: checks, the run directory, the
  // programs and their plans, the checkpoint to resume. Each rank does it;
  // failures are agreed on (reported once) before anything collective runs.
  const std::string &mode = program.mode;
  std::unique_ptr<Dataset> dataHolder;
  std::optional<RunLock> lock;
  std::string resumeDir;
  // train: the whole step (train_step), or with micro-batches the update
  // (train_apply) after `micro` (train_micro) ran on each micro-batch.
  std::unique_ptr<Executable> train, micro, evalLoss;
  auto scratch = std::make_shared<SharedScratch>(backend.allocator());
  std::vector<std::pair<std::string, const MemoryPlan *>> plans;
  OptimizerShards shards;
  ParamStore store(backend);
  LoaderState loader;
  std::vector<double> refLoss;
  // The constraint: per family, the largest overshoot, the last error and
  // the PI controller's integral.
  std::map<std::string, double> overshoot, finalError, integral;
  const bool pi = o.controller == "pi";
  int64_t start = 0, localBatch = o.batch / ranks;
  // Micro-batches: the rank's rows in slices of microBatch sequences, which
  // is also the evaluations' batch (it holds the activations of as many).
  int64_t microBatch = o.microBatch > 0 ? o.microBatch : localBatch;
  int64_t microBatches = microBatch > 0 && localBatch % microBatch == 0 ? localBatch / microBatch : 0;
  const bool accumulating = microBatches > 1;
  bool needEval = o.evalEvery > 0 || o.dbl != DblMode::Off;
  Status ready = [&]() -> Status {
    if (mode != "prune" && mode != "train")
      return invalidInput(o.modelPath + ": the program was compiled for '" + mode +
                          "', not for prune or train");
    if (o.steps <= 0 || o.batch <= 0)
      return invalidInput("--steps and --batch must be positive");
    if (o.batch % ranks != 0)
      return invalidInput(format("--batch %lld cannot be shared by %d ranks: give a multiple of %d",
                                 (long long)o.batch, ranks, ranks));
    if (microBatches == 0)
      return invalidInput(format("--micro-batch %lld does not divide the %lld sequences of %s step "
                                 "(--batch %lld%s): give a divisor of %lld",
                                 (long long)o.microBatch, (long long)localBatch,
                                 ranks > 1 ? "each rank's" : "a", (long long)o.batch,
                                 ranks > 1 ? format(" over %d ranks", ranks).c_str() : "",
                                 (long long)localBatch));
    if (accumulating && (!program.function("train_micro") || !program.function("train_apply")))
      return invalidInput(o.modelPath + " has no train_micro and train_apply (a program compiled "
                                        "before micro-batches existed): compile it again for "
                                        "--micro-batch");
    auto dataOr = Dataset::open(o.dataDir);
    if (!dataOr.ok())
      return dataOr.status();
    dataHolder = dataOr.take();
    const Manifest &manifest = dataHolder->manifest();
    if (manifest.vocabSize > program.model.vocab)
      return invalidInput(joinPath(o.dataDir, "manifest.json") + ": tokens go up to " +
                          std::to_string(manifest.vocabSize - 1) +
                          " but the model's vocabulary has " + std::to_string(program.model.vocab) +
                          " entries");
    for (const DomainInfo &d : manifest.domains)
      if (needEval && d.evalSequences == 0)
        return invalidInput(joinPath(o.dataDir, "manifest.json") + ": domain '" + d.name +
                            "' has no held-out sequences, which evaluation needs");

    // One run per directory: the lock is taken before anything in it is read.
    if (!o.planOnly && lead) {
      SHEAR_RETURN_IF_ERROR(createDirectories(o.outDir));
      auto acquired = RunLock::acquire(o.outDir);
      if (!acquired.ok())
        return acquired.status();
      lock.emplace(acquired.take());
      SHEAR_RETURN_IF_ERROR(removeStaleTemporaries(o.outDir));
    }

    // Resume or start (docs/training.md, "Checkpoints and resume").
    if (!o.planOnly && pathExists(o.outDir)) {
      std::string latest = latestCheckpoint(o.outDir);
      bool hasFinal = pathExists(joinPath(o.outDir, "final/state.json"));
      if (!o.resume && (!latest.empty() || hasFinal))
        return invalidInput(o.outDir + " already holds a run (checkpoints or final/): pass "
                                       "--resume to continue it, or choose another --out");
      if (o.resume && hasFinal)
        return invalidInput(o.outDir + " holds a finished run (final/): nothing to resume; choose "
                                       "another --out to train further from final/model.mlir");
      if (o.resume)
        resumeDir = latest;
      if (o.resume && latest.empty())
        say("no complete checkpoint in " + o.outDir + ": starting at step 0");
    }

    SHEAR_RETURN_IF_ERROR(validateProgramWeights(program));
    auto t = Executable::load(program, accumulating ? "train_apply" : "train_step", backend);
    if (!t.ok())
      return t.status();
    train = t.take();
    if (accumulating) {
      auto m = Executable::load(program, "train_micro", backend);
      if (!m.ok())
        return m.status();
      micro = m.take();
    }
    auto e = Executable::load(program, "eval_loss", backend);
    if (!e.ok())
      return e.status();
    evalLoss = e.take();
    // The step, its micro-batches and the evaluations run one at a time:
    // one arena and workspace for all, the largest plan's.
    train->shareScratch(scratch);
    if (micro)
      micro->shareScratch(scratch);
    evalLoss->shareScratch(scratch);
    // Unsharded, every rank is the owner of everything.
    bool sharded = o.shardOptimizer && ranks > 1;
    auto sh = shardOptimizer(program, train->function(), sharded ? rank : 0, sharded ? ranks : 1);
    if (!sh.ok())
      return sh.status();
    shards = sh.take();
    if (sharded)
      SHEAR_RETURN_IF_ERROR(train->skip(shards.skip));
    train->bucketCollectives(o.bucketBytes);

    // Plan the memory before touching any data: --plan stops here.
    int64_t seq = manifest.seqLen;
    if (accumulating) {
      // train_micro(ids, labels, step, grad_scale, first)
      auto microPlan = micro->plan({{microBatch, seq}, {microBatch, seq}, {}, {}, {}});
      if (!microPlan.ok())
        return microPlan.status();
      plans.push_back({"train_micro", *microPlan});
    }
    // train_step(ids, labels, step, lr...), train_apply(step, lr...)
    std::vector<Shape> stepShapes = {{localBatch, seq}, {localBatch, seq}, {}};
    if (accumulating)
      stepShapes = {{}};
    for (size_t i = 0; i < train->function().lrArgs.size(); ++i)
      stepShapes.push_back({});
    auto stepPlan = train->plan(stepShapes);
    if (!stepPlan.ok())
      return stepPlan.status();
    plans.push_back({train->function().name, *stepPlan});
    if (needEval) {
      auto evalPlan = evalLoss->plan({{microBatch, seq}, {microBatch, seq}});
      if (!evalPlan.ok())
        return evalPlan.status();
      plans.push_back({"eval_loss", *evalPlan});
    }
    if (o.planOnly)
      return Status();
    // A device too small for the plan is refused now, not at step 1.
    SHEAR_RETURN_IF_ERROR(checkDeviceMemory(
        program, backend, plans,
        "try a smaller --batch or --micro-batch, --recompute layer, --precision bf16, --offload optimizer or more devices",
        sharded ? ranks : 1, /*sharedScratch=*/true));
    // The shared scratch at its largest now: allocated once.
    size_t largest = 0;
    for (const auto &plan : plans)
      largest = std::max(largest, Executable::scratchBytes(*plan.second));
    auto reserved = scratch->reserve(largest);
    if (!reserved.ok())
      return reserved.status().prefixed("the activations arena and kernel scratch (" +
                                        formatBytes(static_cast<double>(largest)) + "): ");

    size_t k = manifest.domains.size();
    if (!resumeDir.empty()) {
      std::string statePath = joinPath(resumeDir, "state.json");
      auto text = readFile(statePath);
      if (!text.ok())
        return text.status();
      SHEAR_RETURN_IF_ERROR(checkResumedOptions(o, resumeDir));
      // Everything read from the checkpoint is checked before it is used.
      auto state = parseTrainState(*text, statePath, manifest, o.steps, o.dbl != DblMode::Off);
      if (!state.ok())
        return state.status();
      if (!state->signature.empty() && state->signature != program.model.signature)
        return invalidInput(resumeDir + " does not belong to " + o.modelPath +
                            ": the checkpoint is " + state->signature + ", the model " +
                            program.model.signature);
      start = state->step;
      loader.position = state->positions;
      loader.epoch = state->epochs;
      loader.weights = state->weights;
      refLoss = state->refLoss;
      overshoot = state->overshoot;
      integral = state->integral;
      SHEAR_RETURN_IF_ERROR(loadCheckpointTensors(
          resumeDir, program, store, [&](const std::string &n) { return shards.holds(n); }));
      return Status();
    }
    loader.position.assign(k, 0);
    loader.epoch.assign(k, 0);
    for (const DomainInfo &d : manifest.domains) {
      auto it = o.initialWeights.find(d.name);
      loader.weights.push_back(o.initialWeights.empty()
                                   ? d.weight
                                   : (it == o.initialWeights.end() ? 0 : it->second));
    }
    double total = 0;
    for (double w : loader.weights)
      total += w;
    if (!(total > 0))
      return invalidInput("--weights: the initial domain weights must have a positive sum");
    for (double &w : loader.weights)
      w /= total;
    return Status();
  }();
  SHEAR_RETURN_IF_ERROR(comm.agree(ready));
  if (o.planOnly) {
    size_t ckpt = checkpointBytes(program);
    say(formatMemoryReport(program, backend, plans, /*sharedScratch=*/true) +
        (ranks > 1 ? format("  (each of %d ranks; batch %lld per rank)\n", ranks,
                            (long long)localBatch)
                   : std::string()) +
        (accumulating ? format("  (a step: %lld micro-batches of %lld sequences, then the update)\n",
                               (long long)microBatches, (long long)microBatch)
                      : std::string()) +
        format("a checkpoint: %s (%zu bytes of float32 weights and training state), copied to "
               "host memory first when written in the background (--checkpoint-writes)",
               formatBytes(double(ckpt)).c_str(), ckpt));
    return Status();
  }
  const Dataset &data = *dataHolder;
  const Manifest &manifest = data.manifest();
  size_t k = manifest.domains.size();
  // What a step returns, in train_step's order (metrics, then updates),
  // however it runs.
  const ProgramFunction &step = *program.function("train_step");

  std::string precision = "f32";
  if (auto it = program.compiledWith.find("precision"); it != program.compiledWith.end() && it->second.asString())
    precision = *it->second.asString();
  if (!resumeDir.empty()) {
    say("resuming " + o.outDir + " from " + resumeDir + " at step " + std::to_string(start));
    // Checkpoints hold float32 master weights and moments whatever the
    // precision, so a run may change it (a CPU run resumed on a GPU).
    if (auto run = readJsonFile(joinPath(o.outDir, "run.json")); run.ok())
      if (const std::string *then = run->getString("precision"); then && *then != precision)
        say("continues in precision " + precision + " (the checkpoint's run was " + *then + ")");
  } else {
    if (o.dbl != DblMode::Off) {
      if (o.refLoss == "source") {
        auto source = Executable::load(
            program, program.function("source_eval_loss") ? "source_eval_loss" : "eval_loss",
            backend);
        if (!source.ok())
          return source.status();
        (*source)->shareScratch(scratch);
        auto ref = evaluateDomains(**source, store, data, o.evalSequences, microBatch, &comm);
        if (!ref.ok())
          return ref.status();
        refLoss = ref.take();
      } else {
        auto ref = referenceLossesFromFile(o.refLoss, manifest);
        SHEAR_RETURN_IF_ERROR(comm.agree(ref.status()));
        refLoss = ref.take();
      }
      std::string line = "reference losses:";
      for (size_t d = 0; d < k; ++d)
        line += format(" %s %.4f", manifest.domains[d].name.c_str(), refLoss[d]);
      say(line);
    }
    // run.json: what this run is, for people and plots.
    Status written;
    if (lead) {
      json::Object ref, initial;
      for (size_t d = 0; d < k; ++d) {
        if (d < refLoss.size())
          ref[manifest.domains[d].name] = refLoss[d];
        initial[manifest.domains[d].name] = loader.weights[d];
      }
      json::Object run{{"mode", mode},
                       {"model", o.modelPath},
                       {"recipe", o.recipe},
                       {"precision", precision},
                       {"init", o.init},
                       {"data", o.dataDir},
                       {"steps", o.steps},
                       {"batch", o.batch},
                       {"micro_batch", microBatch},
                       {"seq_len", manifest.seqLen},
                       {"lr", o.lr},
                       {"lr_gate", o.lrGate},
                       {"lr_lambda", o.lrLambda},
                       {"controller", o.controller},
                       {"pi_kp", o.piKp},
                       {"pi_ki", o.piKi},
                       {"pi_kq", o.piKq},
                       {"seed", static_cast<int64_t>(o.seed)},
                       {"eval_every", o.evalEvery},
                       {"eval_seqs", o.evalSequences},
                       {"warmup", o.warmupFraction},
                       {"dbl", dblName(o.dbl)},
                       {"ranks", static_cast<int64_t>(ranks)},
                       {"shard_optimizer", o.shardOptimizer},
                       {"ref_loss", std::move(ref)},
                       {"initial_weights", std::move(initial)},
                       {"compiled_with", json::Object(program.compiledWith)},
                       {"signature", program.model.signature}};
      written = writeJsonFileAtomically(joinPath(o.outDir, "run.json"), json::Value(std::move(run)));
    }
    SHEAR_RETURN_IF_ERROR(comm.agree(written));
  }

  MetricsLog metrics;
  SHEAR_RETURN_IF_ERROR(
      comm.agree(lead ? metrics.open(joinPath(o.outDir, "metrics.jsonl"), start) : Status()));

  double peak = backend.peakFlops(precision == "bf16" ? DType::BF16 : DType::F32) * ranks;
  double flopsTok = flopsPerToken(program.model, manifest.seqLen);
  int64_t tokensPerStep = o.batch * manifest.seqLen;
  std::string where = backend.describe();
  if (precision != "f32")
    where += " with " + precision + " weights and activations";
  if (ranks > 1)
    where += format(" x %d ranks (%s; %lld sequences each)", ranks,
                    comm.describe().substr(0, comm.describe().find(' ')).c_str(),
                    (long long)localBatch);
  std::string shardLine;
  if (o.shardOptimizer && ranks > 1) {
    // What each rank holds of the optimizer state, for the log.
    std::vector<int64_t> owned(static_cast<size_t>(ranks));
    SHEAR_RETURN_IF_ERROR(comm.allGather(&shards.ownedStateElements, sizeof(int64_t), owned.data()));
    std::string perRank;
    for (int64_t n : owned)
      perRank += (perRank.empty() ? "" : ", ") + formatCount(n);
    shardLine = "optimizer sharded: the ranks hold " + perRank + " of " +
                formatCount(shards.stateElements) + " AdamW state values";
  }
  if (accumulating)
    where += format(" in %lld micro-batches of %lld sequences%s", (long long)microBatches,
                    (long long)microBatch, ranks > 1 ? " per rank" : "");
  say(format("%s %lld steps of %lld x %lld tokens on %s; measured sgemm peak %.1f GFLOP/s",
             mode.c_str(), (long long)o.steps, (long long)o.batch, (long long)manifest.seqLen,
             where.c_str(), peak / 1e9));
  if (!shardLine.empty())
    say(shardLine);

  BatchLoader batches(data, o.seed, loader);
  auto byFamily = [](const std::map<std::string, double> &m) {
    json::Object out;
    for (const auto &[f, v] : m)
      out[f] = v;
    return out;
  };
  auto stateObject = [&](int64_t at) {
    json::Array domains, weights, positions, epochs, ref;
    for (size_t d = 0; d < k; ++d) {
      domains.push_back(manifest.domains[d].name);
      weights.push_back(batches.state().weights[d]);
      positions.push_back(batches.state().position[d]);
      epochs.push_back(batches.state().epoch[d]);
      if (d < refLoss.size())
        ref.push_back(refLoss[d]);
    }
    return json::Value(json::Object{{"step", at},
                                    {"steps", o.steps},
                                    {"mode", mode},
                                    {"seed", static_cast<int64_t>(o.seed)},
                                    {"domains", std::move(domains)},
                                    {"weights", std::move(weights)},
                                    {"positions", std::move(positions)},
                                    {"epochs", std::move(epochs)},
                                    {"ref_loss", std::move(ref)},
                                    {"sparsity_overshoot", byFamily(overshoot)},
                                    {"controller_integral", byFamily(integral)},
                                    {"model", o.modelPath},
                                    {"data", o.dataDir},
                                    {"signature", program.model.signature}});
  };
  auto checkpoint = [&](const std::string &name, int64_t at) -> Status {
    SHEAR_RETURN_IF_ERROR(checkRanksAgree(comm, program, store));
    return writeCheckpoint(o.outDir, name, program, store, stateObject(at), comm,
                           o.shardOptimizer && ranks > 1);
  };
  // Periodic checkpoints may be written while training goes on; the last
  // one, and those of a run that stops, are written before it ends.
  CheckpointWriter writer(backend, comm, o.checkpointWrites, say, [&](const std::string &) {
    return comm.agree(lead ? keepLastCheckpoints(o.outDir, o.keepLast) : Status());
  });
  auto save = [&](int64_t at, bool foreground) -> Status {
    SHEAR_RETURN_IF_ERROR(checkRanksAgree(comm, program, store));
    return writer.save(o.outDir, "ckpt-" + std::to_string(at), program, store, stateObject(at),
                       o.shardOptimizer && ranks > 1, foreground);
  };
  auto lrAt = [&](int64_t s) { return learningRate(o.lr, o.steps, o.warmupFraction, o.minLrRatio, s); };

  // A step as micro-batches: train_micro on each slice of the rank's rows
  // (scale 1/N: the sums it updates become the mean gradient), then
  // train_apply. The results come in train_step's order; a metric of the
  // micro-batches is their mean, which is the mean over the rows (the
  // slices hold as many labelled tokens each, as data-parallel ranks do).
  auto runMicroBatches = [&](const Tensor &ids, const Tensor &labels,
                             const std::vector<Tensor> &inputs) -> Result<std::vector<Tensor>> {
    const ProgramFunction &mf = micro->function(), &af = train->function();
    const size_t nmm = mf.metrics.size(), nam = af.metrics.size();
    // The micro-batches' metrics stay on the device until the update is
    // queued: reading one would wait for its micro-batch, leaving the
    // device idle while the next is queued.
    std::vector<Tensor> microMetrics;
    for (int64_t k = 0; k < microBatches; ++k) {
      std::vector<Tensor> in = {rowsOf(ids, k * microBatch, microBatch),
                                rowsOf(labels, k * microBatch, microBatch), inputs[2],
                                Tensor::scalar(1.0f / static_cast<float>(microBatches)),
                                Tensor::scalarI64(k == 0 ? 1 : 0)};
      auto out = micro->run(in, store);
      if (!out.ok())
        return out.status();
      for (size_t i = 0; i < mf.updates.size(); ++i)
        store.set(mf.updates[i], (*out)[nmm + i]);
      microMetrics.insert(microMetrics.end(), out->begin(), out->begin() + static_cast<std::ptrdiff_t>(nmm));
    }
    auto applied = train->run(std::vector<Tensor>(inputs.begin() + 2, inputs.end()), store);
    if (!applied.ok())
      return applied.status();
    std::vector<double> sums(nmm, 0.0); // in micro-batch order, as before
    for (size_t j = 0; j < microMetrics.size(); ++j) {
      auto host = backend.toHost(microMetrics[j]);
      if (!host.ok())
        return host.status();
      sums[j % nmm] += host->f32()[0];
    }
    std::vector<Tensor> out;
    for (const std::string &name : step.metrics) {
      auto m = std::find(mf.metrics.begin(), mf.metrics.end(), name);
      auto a = std::find(af.metrics.begin(), af.metrics.end(), name);
      if (m != mf.metrics.end())
        out.push_back(Tensor::scalar(static_cast<float>(sums[m - mf.metrics.begin()] / microBatches)));
      else if (a != af.metrics.end())
        out.push_back((*applied)[a - af.metrics.begin()]);
      else
        return internalError("train_step's metric '" + name + "' is neither train_micro's nor train_apply's");
    }
    // train_apply's updates: train_step's, then the sums it averaged over
    // the ranks in place.
    for (size_t i = 0; i < af.updates.size(); ++i) {
      if (i < step.updates.size())
        out.push_back((*applied)[nam + i]);
      else
        store.set(af.updates[i], (*applied)[nam + i]);
    }
    return out;
  };

  // --profile: from the second step of this process (the first allocates).
  KernelProfile profile;
  double trainSeconds = 0;
  int64_t timedSteps = 0, badInRow = 0, skipped = 0;
  size_t nm = step.metrics.size();
  for (int64_t at = start; at < o.steps; ++at) {
    if (o.stopAfter >= 0 && at - start >= o.stopAfter) {
      // Abrupt, but after the checkpoints taken so far (tests resume from them).
      SHEAR_RETURN_IF_ERROR(writer.finish());
      say("stopping after " + std::to_string(o.stopAfter) + " steps (--stop-after)");
      std::_Exit(3);
    }
    double t0 = monotonicSeconds();
    // Every rank draws the same global batch and trains on its own rows:
    // the data order does not depend on the number of ranks.
    std::vector<int64_t> domains;
    Tensor tokens = rowsOf(batches.next(at, o.batch, domains, say), rank * localBatch, localBatch);
    auto [ids, labels] = splitInputsAndLabels(tokens);
    std::vector<Tensor> inputs = {ids, labels, Tensor::scalarI64(at)};
    for (const std::string &which : step.lrArgs)
      inputs.push_back(Tensor::scalar(static_cast<float>(
          which == "lr" ? lrAt(at) : which == "lr_gate" ? o.lrGate : pi ? 0.0 : o.lrLambda)));
    uint64_t calls = comm.meanCalls, bytes = comm.meanBytes;
    double commSeconds = comm.meanSeconds;
    if (o.profile && at == start + 1) {
      train->profileInto(&profile);
      if (micro)
        micro->profileInto(&profile);
    }
    auto out = accumulating ? runMicroBatches(ids, labels, inputs) : train->run(inputs, store);
    if (!out.ok())
      return out.status();
    if (at == start && ranks > 1)
      say(format("gradients: %s averaged over the ranks in %llu collective%s per step",
                 comm.meanBytes - bytes < (1u << 20)
                     ? format("%.1f KiB", double(comm.meanBytes - bytes) / 1024).c_str()
                     : formatBytes(double(comm.meanBytes - bytes)).c_str(),
                 (unsigned long long)(comm.meanCalls - calls),
                 comm.meanCalls - calls == 1 ? "" : "s"));
    // Updates were written in place; set() keeps the store right if a
    // backend returned them elsewhere. Other ranks' updates arrive by
    // broadcast from their owners.
    for (size_t i = 0; i < step.updates.size(); ++i)
      if (shards.holds(step.updates[i]) && shards.updates(step.updates[i]))
        store.set(step.updates[i], (*out)[nm + i]);
    if (o.shardOptimizer && ranks > 1)
      for (const auto &[param, owner] : shards.owner)
        for (const std::string &name : {param, std::string(kWorkingCopyPrefix) + param}) {
          const ProgramWeight *ref = program.weight(name);
          if (!ref)
            continue; // no working copy (float32, or --recompute weights)
          auto t = store.get(*ref, program.baseDir);
          if (!t.ok())
            return t.status();
          SHEAR_RETURN_IF_ERROR(broadcastTensor(comm, backend, *t, owner));
        }
    std::map<std::string, double> metric;
    for (size_t i = 0; i < nm; ++i) {
      auto host = backend.toHost((*out)[i]);
      if (!host.ok())
        return host.status();
      metric[step.metrics[i]] = host->f32()[0];
    }
    if (ranks > 1) { // each rank's loss is its rows' mean: average them
      bool kd = metric.count("kd_loss") != 0;
      double local[3] = {metric["loss"], metric["lm_loss"], kd ? metric["kd_loss"] : 0.0};
      SHEAR_RETURN_IF_ERROR(comm.allReduce(local, 3, DType::F64, ReduceOp::Sum));
      metric["loss"] = local[0] / ranks;
      metric["lm_loss"] = local[1] / ranks;
      if (kd)
        metric["kd_loss"] = local[2] / ranks;
    }
    double dt = monotonicSeconds() - t0;
    trainSeconds += dt;
    ++timedSteps;
    // A step whose loss or gradients are not finite changed nothing (the
    // optimizer skips it); too many in a row end the run with a checkpoint.
    bool bad = !std::isfinite(metric["loss"]) ||
               (metric.count("grad_norm") && !std::isfinite(metric["grad_norm"]));
    badInRow = bad ? badInRow + 1 : 0;
    skipped += bad;
    if (bad) {
      say(format("step %lld: the loss is %g, the gradient norm %g: step skipped (%lld in a row, "
                 "%lld in all)",
                 (long long)(at + 1), metric["loss"], metric["grad_norm"], (long long)badInRow,
                 (long long)skipped));
    }

    // Evaluation and dynamic batch loading.
    std::vector<double> evalLossValues;
    if (o.evalEvery > 0 && (at + 1) % o.evalEvery == 0) {
      auto losses = evaluateDomains(*evalLoss, store, data, o.evalSequences, microBatch, &comm);
      if (!losses.ok())
        return losses.status();
      evalLossValues = losses.take();
      bool finite = std::all_of(evalLossValues.begin(), evalLossValues.end(),
                                [](double l) { return std::isfinite(l); });
      if (!finite)
        say("evaluation at step " + std::to_string(at + 1) +
            " gave non-finite losses: the domain weights are not updated");
      if (o.dbl != DblMode::Off && finite)
        batches.state().weights =
            updateDomainWeights(o.dbl, batches.state().weights, evalLossValues, refLoss);
    }

    double tokPerS = tokensPerStep / dt;
    double mfu = peak > 0 ? flopsTok * tokPerS / peak : 0;
    double eta = (o.steps - at - 1) * (trainSeconds / timedSteps);
    json::Object record{{"step", at + 1},
                        {"loss", metric["loss"]},
                        {"lm_loss", metric["lm_loss"]},
                        {"lr", lrAt(at)},
                        {"grad_norm", metric["grad_norm"]},
                        {"tokens_per_s", tokPerS},
                        {"mfu", mfu}};
    if (metric.count("kd_loss")) // distillation: the KL from the teacher
      record["kd_loss"] = metric["kd_loss"];
    if (ranks > 1) // time this rank spent averaging gradients (waiting for the others included)
      record["allreduce_s"] = comm.meanSeconds - commSeconds;
    if (bad)
      record["skipped"] = true;
    std::string line = format("step %5lld/%lld  loss %.4f  lm %.4f", (long long)(at + 1),
                              (long long)o.steps, metric["loss"], metric["lm_loss"]);
    if (metric.count("kd_loss"))
      line += format("  kd %.4f", metric["kd_loss"]);
    if (mode == "prune") {
      record["lagrangian"] = metric["lagrangian"];
      line += format("  lag %.4f  sparsity", metric["lagrangian"]);
      json::Object expected, target, l1, l2;
      for (const char *f : {"layer", "head", "kv_group", "intermediate", "hidden"}) {
        auto e = metric.find(std::string("expected_sparsity.") + f);
        if (e == metric.end())
          continue;
        double t = metric[std::string("target_sparsity.") + f];
        expected[f] = e->second;
        target[f] = t;
        double error = e->second - t;
        overshoot[f] = std::max(overshoot.count(f) ? overshoot[f] : 0.0, error);
        finalError[f] = error;
        if (pi && !bad) {
          // The multipliers of the next step, from this step's error.
          integral[f] += error;
          for (auto [which, value] : {std::pair{"lambda1", o.piKp * error + o.piKi * integral[f]},
                                      std::pair{"lambda2", o.piKq}})
            if (store.find(std::string("shear.") + which + "." + f))
              if (Status s = store.put(std::string("shear.") + which + "." + f,
                                       Tensor::scalar(static_cast<float>(value)));
                  !s.ok())
                return s;
        }
        line += format(" %s %.3f/%.3f", f, e->second, t);
        for (auto [which, obj] : {std::make_pair("lambda1", &l1), std::make_pair("lambda2", &l2)}) {
          const Tensor *v = store.find(std::string("shear.") + which + "." + f);
          if (!v)
            continue;
          auto host = backend.toHost(*v);
          if (host.ok())
            (*obj)[f] = static_cast<double>(host->f32()[0]);
        }
      }
      record["expected_sparsity"] = std::move(expected);
      record["target_sparsity"] = std::move(target);
      record["lambda1"] = std::move(l1);
      record["lambda2"] = std::move(l2);
      record["sparsity_overshoot"] = byFamily(overshoot);
    }
    json::Object weights;
    for (size_t d = 0; d < k; ++d)
      weights[manifest.domains[d].name] = batches.state().weights[d];
    record["domain_weights"] = std::move(weights);
    line += format("  | %.0f tok/s  MFU %.1f%%  ETA %s", tokPerS, mfu * 100,
                   formatDuration(eta).c_str());
    if (!evalLossValues.empty()) {
      json::Object el;
      std::string evalLine = "  eval:";
      for (size_t d = 0; d < k; ++d) {
        el[manifest.domains[d].name] = evalLossValues[d];
        evalLine += format(" %s %.4f (w %.3f)", manifest.domains[d].name.c_str(),
                           evalLossValues[d], batches.state().weights[d]);
      }
      record["eval_loss"] = std::move(el);
      line += "\n" + evalLine;
    }
    if (lead)
      SHEAR_RETURN_IF_ERROR(metrics.append(json::Value(std::move(record))));
    if (o.logEvery > 0 &&
        ((at + 1) % o.logEvery == 0 || !evalLossValues.empty() || at + 1 == o.steps))
      say(line);
    SHEAR_RETURN_IF_ERROR(writer.poll());
    if (badInRow >= o.maxBadSteps) {
      std::string name = "ckpt-" + std::to_string(at + 1);
      SHEAR_RETURN_IF_ERROR(save(at + 1, true));
      Status stopped = runFailure(format(
          "non-finite loss or gradients in %lld steps in a row (steps %lld-%lld): stopped; %s "
          "holds the state of the last good step (lower --lr, or check the data and the model)",
          (long long)badInRow, (long long)(at + 2 - badInRow), (long long)(at + 1),
          joinPath(o.outDir, name).c_str()));
      return comm.agree(lead ? stopped : runFailure(""));
    }

    // A signal reaches the ranks at different moments: stop when any saw one.
    int64_t signal = o.interrupt ? o.interrupt->load() : 0;
    if (ranks > 1)
      SHEAR_RETURN_IF_ERROR(comm.allReduce(&signal, 1, DType::I64, ReduceOp::Max));
    bool interrupted = signal != 0 && at + 1 < o.steps;
    if ((o.saveEvery > 0 && (at + 1) % o.saveEvery == 0 && at + 1 < o.steps) || interrupted)
      SHEAR_RETURN_IF_ERROR(save(at + 1, interrupted));
    if (interrupted) {
      Status stopped = runFailure(format(
          "interrupted by signal %lld after step %lld: saved %s; run again with --resume to "
          "continue",
          (long long)signal, (long long)(at + 1),
          joinPath(o.outDir, "ckpt-" + std::to_string(at + 1)).c_str()));
      return comm.agree(lead ? stopped : runFailure(""));
    }
  }
  SHEAR_RETURN_IF_ERROR(writer.finish());
  if (o.profile) {
    train->profileInto(nullptr);
    if (micro)
      micro->profileInto(nullptr);
    say(profile.table("train_step"));
    std::string path = joinPath(o.outDir, "profile.json");
    SHEAR_RETURN_IF_ERROR(comm.agree(
        lead ? writeJsonFileAtomically(path, profile.toJson("train_step")) : Status()));
    say("kernel profile written to " + path);
  }
  SHEAR_RETURN_IF_ERROR(checkpoint("final", o.steps));
  say("saved " + joinPath(o.outDir, "final") + " (model.mlir)");
  if (mode == "prune" && !finalError.empty()) {
    // How well the constraint held (issue: the paper's multipliers overshoot).
    std::string line = "constraint (" + o.controller + "): largest overshoot / final distance to the target:";
    for (const auto &[f, e] : finalError)
      line += format(" %s %.3f/%.3f", f.c_str(), overshoot[f], std::fabs(e));
    say(line);
  }
  return Status();
}

Result<std::map<std::string, double>> shear::rt::evaluateOnData(const ProgramFile &program,
                                                                const std::string &dataDir,
                                                                int64_t evalSequences,
                                                                int64_t batch, Backend &backend,
                                                                Communicator *comm) {
  std::unique_ptr<Dataset> data;
  std::unique_ptr<Executable> evalLoss;
  Status ready = [&]() -> Status {
    auto opened = Dataset::open(dataDir);
    if (!opened.ok())
      return opened.status();
    data = opened.take();
    if (data->manifest().vocabSize > program.model.vocab)
      return invalidInput(joinPath(dataDir, "manifest.json") + ": tokens go up to " +
                          std::to_string(data->manifest().vocabSize - 1) +
                          " but the model's vocabulary has " + std::to_string(program.model.vocab) +
                          " entries");
    SHEAR_RETURN_IF_ERROR(validateProgramWeights(program));
    auto e = Executable::load(program, "eval_loss", backend);
    if (!e.ok())
      return e.status();
    evalLoss = e.take();
    int64_t seq = data->manifest().seqLen;
    auto plan = evalLoss->plan({{batch, seq}, {batch, seq}});
    if (!plan.ok())
      return plan.status();
    return checkDeviceMemory(program, backend, {{"eval_loss", *plan}}, "try a smaller --batch or --precision bf16");
  }();
  // Checked by every rank before the batches are shared out.
  SHEAR_RETURN_IF_ERROR(comm ? comm->agree(ready) : ready);
  ParamStore store(backend);
  auto losses = evaluateDomains(*evalLoss, store, *data, evalSequences, batch, comm);
  if (!losses.ok())
    return losses.status();
  std::map<std::string, double> out;
  for (size_t d = 0; d < losses->size(); ++d)
    out[data->manifest().domains[d].name] = (*losses)[d];
  return out;
}
