//===- shear-run.cpp - run shear programs: prune, train, eval, generate ---===//
//
// The one command users type to run a model. It executes program files
// (shear-run compile MODEL --mode M -o PROGRAM writes them); given a model
// module, the full build compiles it in-process first. It links only the
// runtime (and, in the full build, the compiler): nothing of LLVM is needed
// to parse its command line. Exit codes: 0 success, 1 a failed run, 2 bad
// usage or bad input (docs/exit-codes.md).
//
//===----------------------------------------------------------------------===//
#include "../common/CommandLine.h"
#include "ModelCompiler.h"

#include "shear/Runtime/Communicator.h"
#include "shear/Runtime/Dataset.h"
#include "shear/Runtime/DeviceCheck.h"
#include "shear/Runtime/Executable.h"
#include "shear/Runtime/Generate.h"
#include "shear/Runtime/Importance.h"
#include "shear/Runtime/Npy.h"
#include "shear/Runtime/Tasks.h"
#include "shear/Runtime/Trainer.h"
#include "shear/Support/ChatTemplate.h"
#include "shear/Support/Files.h"
#include "shear/Support/Json.h"
#include "shear/Support/Safetensors.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>

using namespace shear;

namespace {

// SIGINT/SIGTERM: the first asks the training loop to save a checkpoint after
// the current step and stop; a second ends the process at once.
std::atomic<int> gInterrupt{0};
// The ranks this process runs with (mpirun/srun -np N; alone: one).
std::unique_ptr<rt::Communicator> gComm;
bool gQuiet = false; // ranks other than the first print nothing but their own errors
double gCommTimeout = 900; // seconds a rank waits in a collective

extern "C" void onInterrupt(int sig) {
  if (gInterrupt.exchange(sig) != 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  const char msg[] = "\nshear-run: stopping after this step with a checkpoint "
                     "(signal again to stop at once)\n";
  if (!gQuiet) {
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
  }
}

/// Prints a failure (the other ranks' share of an agreed failure has no
/// message) and gives the exit code. A rank that failed alone ends the whole
/// job: the others would wait for it in their next collective.
int report(const Status &s) {
  if (s.ok())
    return 0;
  bool ranks = gComm && gComm->size() > 1;
  if (!s.message().empty())
    std::fprintf(stderr, "shear-run: error: %s%s\n",
                 ranks && gComm->rank() > 0 ? (gComm->describe() + ": ").c_str() : "",
                 s.message().c_str());
  if (ranks && !gComm->failureAgreed())
    gComm->abort(s.exitCode());
  return s.exitCode();
}

/// For failures every rank meets at the same point (checks of the options
/// and inputs before anything collective): reported once, by the first rank.
int fail(const Status &s) { return report(gComm ? gComm->agree(s) : s); }

/// Commands that run on one rank refuse to be started on several.
Status oneRank(const char *command) {
  if (gComm && gComm->size() > 1)
    return invalidInput(std::string(command) + " runs on one rank: start it without mpirun/srun (" +
                        std::to_string(gComm->size()) + " ranks were started)");
  return Status();
}

void printLine(const std::string &line) {
  if (gQuiet)
    return;
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

struct Common {
  int64_t threads = 0; // 0: the device's default (rt::createBackend)
  std::string device = "cpu";
  std::string precision = "auto"; // f32, bf16, or auto: the backend's choice
  bool plan = false;
  int64_t lossChunk = 0; // testing: rows per chunk of the fused lm_head + cross-entropy
  bool noFuse = false;    // benchmarks: compile without fused kernels
  std::shared_ptr<rt::Backend> backend; // made once, on first use
};

void commonOptions(cli::Command &c, Common &o, bool plan) {
  c.group("execution")
      .option("threads", "N",
              "CPU threads (default: 2; with --device cuda, the threads of the kernels run on the host such "
              "as --offload's AdamW, by default the machine's hardware threads over its ranks)",
              &o.threads, 1, 1024)
      .defaultInHelp()
      .option("device", "DEVICE", "cpu, cuda or auto", &o.device)
      .option("precision", "TYPE",
              "storage of weights and activations: f32, bf16 (float32 master weights, gradients "
              "and statistics) or auto (the device's: f32 on the CPU, bf16 on a GPU)",
              &o.precision)
      .option("comm-timeout", "SECONDS",
              "several ranks: how long a rank waits for the others in a collective before "
              "ending the job (a dead or hung rank)",
              &gCommTimeout, 1)
      .option("loss-chunk", "ROWS", "testing: rows of logits per chunk of the fused loss (0: automatic)",
              &o.lossChunk, 0)
      .hidden()
      .flag("no-fuse", "benchmarks: compile without fused kernels", &o.noFuse)
      .hidden();
  if (plan)
    c.flag("plan", "print the memory plan (weights, optimizer state, activations) and stop",
           &o.plan);
}

Result<rt::Backend *> backendFor(Common &o) {
  if (!o.backend) {
    auto made = rt::createBackend(o.device, static_cast<int>(o.threads));
    if (!made.ok())
      return made.status();
    o.backend = made.take();
  }
  return o.backend.get();
}

/// The precision a module is compiled with: --precision, or for auto the
/// one the device's kernels take (Backend::preferredDType).
Result<std::string> compilePrecision(Common &o) {
  if (o.precision == "f32" || o.precision == "bf16")
    return o.precision;
  if (o.precision != "auto")
    return invalidInput("--precision must be f32, bf16 or auto, got '" + o.precision + "'");
  auto backend = backendFor(o);
  if (!backend.ok())
    return backend.status();
  return std::string((*backend)->preferredDType() == DType::BF16 ? "bf16" : "f32");
}

/// A compiled option the user may also give on the command line: absent, it
/// takes the program's value; given, it must agree with it.
Status agree(const ProgramFile &p, const std::string &path, const cli::Command &c,
             const std::string &option, const std::string &key, double &value) {
  const json::Value *compiled = p.compiledWith.count(key) ? &p.compiledWith.at(key) : nullptr;
  if (!compiled || !compiled->asNumber())
    return Status();
  double v = *compiled->asNumber();
  if (!c.given(option)) {
    value = v;
    return Status();
  }
  if (v != value)
    return invalidInput(path + " was compiled with " + key + " " + json::formatNumber(v) +
                        "; --" + option + " " + json::formatNumber(value) +
                        " needs a program compiled with it (shear-run compile)");
  return Status();
}

/// --recompute: none, layer, or kernels among attention, mlp, norm and weights
/// (comma-separated); normalized to "" for none.
Status parseRecompute(std::string &value) {
  if (value == "none") {
    value.clear();
    return Status();
  }
  size_t begin = 0;
  while (begin <= value.size()) {
    size_t comma = value.find(',', begin);
    std::string part = value.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    if (part != "attention" && part != "mlp" && part != "norm" && part != "weights" && part != "layer")
      return invalidInput("--recompute must be none, layer, or among attention, mlp, norm, weights "
                          "(comma-separated), got '" + value + "'");
    begin = comma == std::string::npos ? value.size() + 1 : comma + 1;
  }
  return Status();
}

/// A program's compiled recomputation must be the one asked for.
Status agreeRecompute(const ProgramFile &p, const std::string &path, const cli::Command &c,
                      std::string &value) {
  std::string compiled;
  if (auto it = p.compiledWith.find("recompute"); it != p.compiledWith.end() && it->second.asString())
    compiled = *it->second.asString();
  if (!c.given("recompute"))
    value = compiled;
  else if (value != compiled)
    return invalidInput(path + " was compiled with --recompute " + (compiled.empty() ? "none" : compiled) +
                        "; --recompute " + (value.empty() ? "none" : value) +
                        " needs a program compiled with it (shear-run compile)");
  return Status();
}

/// The precision a program was compiled with.
std::string programPrecision(const ProgramFile &p) {
  auto it = p.compiledWith.find("precision");
  return it != p.compiledWith.end() && it->second.asString() ? *it->second.asString() : "f32";
}

/// A program's compiled --offload must be the one asked for.
Status agreeOffload(const ProgramFile &p, const std::string &path, const cli::Command &c, std::string &value) {
  std::string compiled;
  if (auto it = p.compiledWith.find("offload"); it != p.compiledWith.end() && it->second.asString())
    compiled = *it->second.asString();
  if (!c.given("offload"))
    value = compiled;
  else if (value != compiled)
    return invalidInput(path + " was compiled with --offload " + (compiled.empty() ? "none" : compiled) +
                        "; --offload " + (value.empty() ? "none" : value) +
                        " needs a program compiled with it (shear-run compile)");
  return Status();
}

/// The program for MODEL: read when it is a program file (which must have
/// been compiled for `request.mode`, and with --precision when it is given),
/// compiled in-process in the run's precision when it is a module.
Result<ProgramFile> loadProgram(const std::string &path, CompileRequest request, Common &common) {
  auto text = readFile(path);
  if (!text.ok())
    return text.status();
  if (!looksLikeProgram(*text)) {
    auto precision = compilePrecision(common);
    if (!precision.ok())
      return precision.status();
    request.precision = *precision;
    return compileModule(path, request);
  }
  auto program = readProgramFile(path);
  if (!program.ok())
    return program.status();
  if (program->mode != request.mode)
    return invalidInput(path + " is a program compiled for '" + program->mode +
                        "'; this command needs one compiled with --mode " + request.mode);
  std::string has = programPrecision(*program);
  if (common.precision != "auto" && common.precision != has)
    return invalidInput(path + " was compiled with precision " + has + "; --precision " +
                        common.precision + " needs a program compiled with it (shear-run compile "
                        "--precision " + common.precision + ")");
  return program;
}

//===----------------------------------------------------------------------===//
// eval
//===----------------------------------------------------------------------===//

struct EvalOptions {
  std::string model, tokens, logitsOut, data, evalMasks = "expected";
  int64_t evalSeqs = 0, batch = 32;
  // downstream tasks
  std::string tasks, tokenizer, loglikOut;
  int64_t fewshot = 0, limit = 0, maxLength = 2048, batchTokens = 8192;
  uint64_t seed = 1234;
  Common common;
};

Result<std::string> runSpm(std::vector<std::string> args);

/// shear-spm info of a tokenizer (vocab_size, bos_id, eos_id, ...). When
/// shear-spm itself failed (its message is on stderr already) the error has
/// no message: callers exit with 2 without repeating it.
Result<json::Value> tokenizerInfo(const std::string &tokenizer) {
  auto info = runSpm({"info", "--model", tokenizer});
  if (!info.ok())
    return invalidInput("");
  auto parsed = json::parse(*info);
  if (!parsed.ok())
    return invalidInput(tokenizer + ": unexpected tokenizer info");
  return parsed.take();
}

int runTasks(EvalOptions &o, const ProgramFile &program, rt::Backend &b);

int runEval(const cli::Command &c, EvalOptions &o) {
  if (o.data.empty())
    if (Status s = oneRank("eval --tokens"); !s.ok())
      return fail(s);
  if (o.data.empty() && o.tasks.empty() && (o.tokens.empty() || o.logitsOut.empty()) && !o.common.plan)
    return fail(invalidInput("eval needs --data DATA_DIR, --tasks NAME=FILE,... with --tokenizer, or "
                             "--tokens T.npy and --logits-out L.npy"));
  if (!o.tasks.empty() && o.tokenizer.empty())
    return fail(invalidInput("--tasks needs --tokenizer (the model's tokenizer.model or tokenizer.json)"));
  if (o.evalMasks != "expected" && o.evalMasks != "target" && o.evalMasks != "none")
    return fail(invalidInput("--eval-masks must be expected, target or none, got '" + o.evalMasks + "'"));
  CompileRequest request;
  request.mode = "eval";
  request.evalMasks = o.evalMasks;
  request.lossChunk = o.common.lossChunk;
  request.fuseKernels = !o.common.noFuse;
  auto program = loadProgram(o.model, request, o.common);
  if (!program.ok())
    return fail(program.status());
  if (c.given("eval-masks")) {
    const std::string *compiled = program->compiledWith.count("eval_masks")
                                      ? program->compiledWith.at("eval_masks").asString()
                                      : nullptr;
    if (compiled && *compiled != o.evalMasks)
      return fail(invalidInput(o.model + " was compiled with eval_masks " + *compiled +
                                 "; --eval-masks " + o.evalMasks + " needs a program compiled with it"));
  }
  auto backend = backendFor(o.common);
  if (!backend.ok())
    return fail(backend.status());
  rt::Backend &b = **backend;

  if (!o.tasks.empty())
    return runTasks(o, *program, b);
  if (!o.data.empty()) {
    if (o.common.plan) {
      auto data = rt::Dataset::open(o.data);
      if (!data.ok())
        return fail(data.status());
      auto e = rt::Executable::load(*program, "eval_loss", b);
      if (!e.ok())
        return fail(e.status());
      int64_t seq = (*data)->manifest().seqLen;
      auto plan = (*e)->plan({{o.batch, seq}, {o.batch, seq}});
      if (!plan.ok())
        return fail(plan.status());
      printLine(rt::formatMemoryReport(*program, b, {{"eval_loss", *plan}}));
      return 0;
    }
    auto losses = rt::evaluateOnData(*program, o.data, o.evalSeqs, o.batch, b, gComm.get());
    if (!losses.ok())
      return report(losses.status());
    json::Object out;
    for (const auto &[name, loss] : *losses)
      out[name] = loss;
    printLine(json::write(json::Value(std::move(out)), 2));
    return 0;
  }

  auto tokens = rt::readNpyInt(o.tokens);
  if (!tokens.ok())
    return report(tokens.status());
  if (tokens->rank() != 2)
    return report(invalidInput(o.tokens + ": token array must be [batch, seq], got " +
                               tokens->shapeString()));
  int64_t vocab = program->model.vocab;
  for (int64_t i = 0; i < tokens->numel(); ++i)
    if (tokens->i64()[i] < 0 || tokens->i64()[i] >= vocab)
      return report(invalidInput(o.tokens + ": token " + std::to_string(tokens->i64()[i]) +
                                 " at index " + std::to_string(i) +
                                 " is outside the vocabulary [0, " + std::to_string(vocab) + ")"));
  auto forward = rt::Executable::load(*program, "forward", b);
  if (!forward.ok())
    return report(forward.status());
  if (o.common.plan) {
    auto plan = (*forward)->plan({tokens->shape()});
    if (!plan.ok())
      return report(plan.status());
    printLine(rt::formatMemoryReport(*program, b, {{"forward", *plan}}));
    return 0;
  }
  Status weights = rt::validateProgramWeights(*program);
  if (!weights.ok())
    return report(weights);
  {
    auto plan = (*forward)->plan({tokens->shape()});
    if (!plan.ok())
      return report(plan.status());
    if (Status s = rt::checkDeviceMemory(*program, b, {{"forward", *plan}},
                                         "try fewer rows in --tokens or --precision bf16");
        !s.ok())
      return report(s);
  }
  rt::ParamStore store(b);
  auto out = (*forward)->run({*tokens}, store);
  if (!out.ok())
    return report(out.status());
  auto logits = b.toHost((*out)[0]);
  if (!logits.ok())
    return report(logits.status());
  return report(rt::writeNpyF32(o.logitsOut, *logits));
}

/// Downstream tasks: every choice of every item scored by log-likelihood
/// (runtime/tasks), the texts tokenized by shear-spm in one call.
int runTasks(EvalOptions &o, const ProgramFile &program, rt::Backend &b) {
  if (Status s = oneRank("eval --tasks"); !s.ok())
    return fail(s);
  std::vector<std::pair<std::string, std::string>> tasks;
  for (size_t at = 0; at < o.tasks.size();) {
    size_t comma = o.tasks.find(',', at);
    std::string part = o.tasks.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? o.tasks.size() : comma + 1;
    size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == part.size())
      return fail(invalidInput("--tasks: '" + part + "' is not NAME=FILE"));
    tasks.emplace_back(part.substr(0, eq), part.substr(eq + 1));
  }
  auto parsed = tokenizerInfo(o.tokenizer);
  if (!parsed.ok())
    return parsed.status().message().empty() ? 2 : report(parsed.status());
  rt::ScoreOptions so;
  so.bos = parsed->getInteger("bos_id").value_or(-1);
  so.maxLength = o.maxLength;
  so.tokenBudget = o.batchTokens;
  so.vocab = program.model.vocab;
  // Texts go to shear-spm as JSON strings in a scratch file, ids come back
  // one line per text.
  const char *tmp = std::getenv("TMPDIR");
  std::string scratch = joinPath(tmp && *tmp ? tmp : "/tmp", "shear-tasks-" + std::to_string(getpid()) + ".jsonl");
  rt::Encoder encode = [&](const std::vector<std::string> &texts)
      -> Result<std::vector<std::vector<int64_t>>> {
    std::string lines;
    for (const std::string &t : texts)
      lines += json::quote(t) + "\n";
    if (Status s = writeFileAtomically(scratch, lines); !s.ok())
      return s;
    auto out = runSpm({"encode", "--model", o.tokenizer, "--json-lines", scratch});
    std::remove(scratch.c_str());
    if (!out.ok())
      return out.status();
    std::vector<std::vector<int64_t>> ids;
    std::vector<int64_t> row;
    std::string number;
    for (char c : *out) {
      if (c >= '0' && c <= '9') {
        number.push_back(c);
        continue;
      }
      if (!number.empty())
        row.push_back(std::stoll(number));
      number.clear();
      if (c == '\n') {
        ids.push_back(std::move(row));
        row.clear();
      }
    }
    return ids;
  };
  Status weights = rt::validateProgramWeights(program);
  if (!weights.ok())
    return report(weights);
  auto forward = rt::Executable::load(program, "forward", b);
  if (!forward.ok())
    return report(forward.status());
  rt::ParamStore store(b);
  json::Object results;
  json::Array perTask;
  std::string loglikLines;
  double accSum = 0;
  int64_t accCount = 0;
  for (const auto &[name, file] : tasks) {
    rt::TaskLayout layout = rt::layoutOf(name);
    auto items = rt::readTask(file, layout);
    if (!items.ok())
      return report(items.status());
    if (o.limit > 0 && static_cast<int64_t>(items->size()) > o.limit)
      items->resize(o.limit); // few-shot examples come from the kept items
    std::vector<std::pair<std::string, std::string>> pairs;
    for (size_t i = 0; i < items->size(); ++i)
      for (size_t c = 0; c < (*items)[i].continuations.size(); ++c)
        pairs.emplace_back(rt::fewShotContext(*items, i, c, static_cast<int>(o.fewshot), o.seed),
                           (*items)[i].continuations[c]);
    auto scored = rt::scorePairs(pairs, encode, **forward, store, b, so);
    if (!scored.ok())
      return report(scored.status().prefixed(name + ": "));
    std::vector<std::vector<rt::Likelihood>> scores;
    size_t k = 0;
    for (size_t i = 0; i < items->size(); ++i) {
      scores.emplace_back();
      for (size_t c = 0; c < (*items)[i].continuations.size(); ++c, ++k) {
        scores.back().push_back((*scored)[k]);
        if (!o.loglikOut.empty())
          loglikLines += json::write(json::Value(json::Object{
                             {"task", name},
                             {"item", static_cast<int64_t>(i)},
                             {"line", (*items)[i].line},
                             {"choice", static_cast<int64_t>(c)},
                             {"gold", (*items)[i].gold == static_cast<int>(c)},
                             {"context", pairs[k].first},
                             {"continuation", pairs[k].second},
                             {"loglik", (*scored)[k].loglik},
                             {"tokens", (*scored)[k].tokens},
                             {"greedy", (*scored)[k].greedy}})) +
                         "\n";
      }
    }
    json::Object m = rt::taskMetrics(name, layout, *items, scores);
    m["num_fewshot"] = o.fewshot;
    if (auto acc = m["acc"].asNumber()) {
      accSum += *acc;
      ++accCount;
    }
    perTask.push_back(std::move(m));
  }
  results["tasks"] = std::move(perTask);
  results["mean_acc"] = accCount ? accSum / static_cast<double>(accCount) : 0.0;
  if (!o.loglikOut.empty())
    if (Status s = writeFileAtomically(o.loglikOut, loglikLines); !s.ok())
      return report(s);
  printLine(json::write(json::Value(std::move(results)), 2));
  return 0;
}

//===----------------------------------------------------------------------===//
// gradients
//===----------------------------------------------------------------------===//

/// Knowledge distillation from a teacher (the source model), compiled into
/// the training step.
struct DistillOptions {
  std::string from;
  double temperature = 1.0, alpha = 0.5;

  void add(cli::Command &c) {
    c.group("distillation (docs/distillation.md)")
        .option("distill-from", "SOURCE.mlir",
                "teacher model (the dense source; 'source': the masked model's own weights without "
                "masks, prune's default with --recipe shear): the loss mixes the cross-entropy with "
                "the KL divergence from the teacher's next-token distribution",
                &from)
        .option("distill-temperature", "T", "softmax temperature of the distillation term", &temperature, 1e-3, 1e3)
        .option("distill-alpha", "A", "weight of the distillation term (1 - A: the cross-entropy's)", &alpha, 0, 1);
  }
  /// `--distill-from source`: the model itself, a masked model standing for
  /// the dense source its weights are (its masks dropped in the teacher).
  Status resolve(const std::string &model, const std::string &command) {
    if (from != "source")
      return Status();
    if (command == "train")
      return invalidInput("--distill-from source is the masked model's own source, for prune; continued "
                          "pre-training distils from the source module: --distill-from SOURCE.mlir");
    auto text = readFile(model);
    if (text.ok() && looksLikeProgram(*text))
      return invalidInput("--distill-from source needs a module, not the program " + model +
                          " (its teacher is the one it was compiled with)");
    from = model;
    return Status();
  }
  void into(CompileRequest &r) const {
    r.distillFrom = from;
    r.distillTemperature = temperature;
    r.distillAlpha = alpha;
  }
  /// A program's compiled distillation must be the one asked for: options
  /// not given take the program's values.
  Status agreeWith(const ProgramFile &p, const std::string &path, const cli::Command &c) {
    const std::string *compiled =
        p.compiledWith.count("distill_from") ? p.compiledWith.at("distill_from").asString() : nullptr;
    if (!compiled) {
      if (!from.empty())
        return invalidInput(path + " was compiled without distillation; --distill-from needs a program "
                                   "compiled with it (shear-run compile --distill-from)");
      return Status();
    }
    if (from.empty())
      from = *compiled;
    else if (absolutePath(from, ".") != *compiled)
      return invalidInput(path + " was compiled to distill from " + *compiled + ", not " + from);
    SHEAR_RETURN_IF_ERROR(agree(p, path, c, "distill-temperature", "distill_temperature", temperature));
    return agree(p, path, c, "distill-alpha", "distill_alpha", alpha);
  }
};

struct GradientOptions {
  std::string model, tokens, lossMask, out, mode = "prune", recompute = "none";
  DistillOptions distill;
  int64_t step = 0, warmupSteps = 0;
  uint64_t seed = 1;
  Common common;
};

int runGradients(GradientOptions &o) {
  if (Status s = oneRank("gradients"); !s.ok())
    return fail(s);
  if (o.tokens.empty() || o.out.empty())
    return report(invalidInput("gradients needs --tokens T.npy and --out G.safetensors"));
  if (o.mode != "prune" && o.mode != "train")
    return report(invalidInput("--mode must be prune or train, got '" + o.mode + "'"));
  CompileRequest request;
  request.mode = "gradients";
  request.gradientsOf = o.mode;
  request.seed = o.seed;
  request.targetWarmupSteps = o.warmupSteps;
  request.lossChunk = o.common.lossChunk;
  request.fuseKernels = !o.common.noFuse;
  if (Status s = parseRecompute(o.recompute); !s.ok())
    return report(s);
  request.recompute = o.recompute;
  if (Status s = o.distill.resolve(o.model, "gradients"); !s.ok())
    return report(s);
  o.distill.into(request);
  auto program = loadProgram(o.model, request, o.common);
  if (!program.ok())
    return report(program.status());
  auto tokens = rt::readNpyInt(o.tokens);
  if (!tokens.ok())
    return report(tokens.status());
  if (tokens->rank() != 2 || tokens->dim(1) < 2)
    return report(invalidInput(o.tokens + ": token array must be [batch, seq+1], got " +
                               tokens->shapeString()));
  auto backend = backendFor(o.common);
  if (!backend.ok())
    return report(backend.status());
  auto step = rt::Executable::load(*program, "train_step", **backend);
  if (!step.ok())
    return report(step.status());
  Status weights = rt::validateProgramWeights(*program);
  if (!weights.ok())
    return report(weights);
  if (!o.lossMask.empty()) {
    // 0 in the mask: that token's label does not count (as a data loss mask).
    auto mask = rt::readNpyInt(o.lossMask);
    if (!mask.ok())
      return report(mask.status());
    if (mask->shape() != tokens->shape())
      return report(invalidInput(o.lossMask + ": loss mask of shape " + mask->shapeString() +
                                 " for tokens of shape " + tokens->shapeString()));
    for (int64_t i = 0; i < tokens->numel(); ++i)
      if (mask->i64()[i] == 0)
        tokens->i64()[i] |= rt::kNoLossBit;
  }
  auto [ids, labels] = rt::splitInputsAndLabels(*tokens);
  rt::ParamStore store(**backend);
  auto out = (*step)->run({ids, labels, rt::Tensor::scalarI64(o.step)}, store);
  if (!out.ok())
    return report(out.status());
  const ProgramFunction &fn = (*step)->function();
  std::vector<std::pair<TensorSpec, std::vector<float>>> tensors;
  for (size_t i = 0; i < out->size(); ++i) {
    auto t = (*backend)->toHost((*out)[i]);
    if (!t.ok())
      return report(t.status());
    std::string name = i < fn.metrics.size() ? "metric." + fn.metrics[i]
                                             : "grad:" + fn.gradients[i - fn.metrics.size()];
    tensors.push_back({TensorSpec{name, DType::F32, t->shape()},
                       std::vector<float>(t->f32(), t->f32() + t->numel())});
  }
  return report(writeF32Tensors(o.out, tensors));
}

//===----------------------------------------------------------------------===//
// prune and train
//===----------------------------------------------------------------------===//

struct TrainCommandOptions {
  std::string model, data, out, dbl = "paper", refLoss = "source", weights, controller = "paper",
                                                                           piGains = "50,5,50";
  std::string recipe = "shear", init = "module", recompute = "none", offload,
              checkpointWrites = "auto";
  int64_t steps = 3200, batch = 32, microBatch = 0, seq = 0, evalEvery = -1, evalSeqs = 0, saveEvery = 0,
          logEvery = 1, stopAfter = -1, maxBadSteps = 5, keepLast = 0, calibSeqs = 128;
  double lr = 1e-4, lrGate = 1.0, lrLambda = -1.0, warmup = 0.1, targetWarmup = 0.2, maxNorm = 1.0;
  uint64_t seed = 1;
  double bucketMb = 25;
  bool resume = false, shardOptimizer = false, profile = false;
  DistillOptions distill;
  Common common;
};

/// A run directory that already holds a run (a checkpoint or final/).
bool holdsRun(const std::string &dir) {
  if (pathExists(joinPath(dir, "final/state.json")))
    return true;
  auto entries = listDirectory(dir);
  if (entries.ok())
    for (const std::string &name : *entries)
      if (name.rfind("ckpt-", 0) == 0 && pathExists(joinPath(dir, name + "/state.json")))
        return true;
  return false;
}

/// --recipe: the options a recipe sets, unless given (docs/user-guide.md).
/// shear: gates started from activation importance, the pi controller, gate
/// learning rate 0.1, distillation from the source; paper: the paper's
/// settings. A program file's gates and teacher are the ones it was
/// compiled with.
Status applyRecipe(const cli::Command &c, TrainCommandOptions &o, bool isModule) {
  if (o.recipe != "shear" && o.recipe != "paper")
    return invalidInput("--recipe must be shear or paper, got '" + o.recipe + "'");
  bool shear = o.recipe == "shear";
  if (!c.given("controller"))
    o.controller = shear ? "pi" : "paper";
  if (!c.given("lr-gate"))
    o.lrGate = shear ? 0.1 : 1.0;
  if (!c.given("init"))
    o.init = shear && isModule ? "activation" : "module";
  if (!c.given("distill-from") && shear && isModule)
    o.distill.from = "source";
  if (o.init != "activation" && o.init != "module")
    return invalidInput("--init must be activation or module, got '" + o.init + "'");
  if (o.init == "activation" && !isModule)
    return invalidInput("--init activation needs a module, not the program " + o.model +
                        " (whose gates start as compiled): give the masked module, or --init module");
  return Status();
}

/// --init activation: scores every unit of the masked model's source on
/// --calib-seqs training sequences, then writes RUN_DIR/init/model.mlir with
/// the gates started at the sub-structure the scores choose (keep +5, drop
/// -5). A resumed run reuses it. Returns the module to compile.
Result<std::string> startFromActivation(TrainCommandOptions &o) {
  std::string dir = joinPath(o.out, "init"), module = joinPath(dir, "model.mlir");
  if (o.resume && pathExists(module))
    return module;
  if (!o.resume && holdsRun(o.out))
    return invalidInput(o.out + " already holds a run (checkpoints or final/): pass --resume to "
                                "continue it, or choose another --out");
  bool lead = !gComm || gComm->rank() == 0;
  Status made = [&]() -> Status {
    if (!lead)
      return Status();
    CompileRequest request;
    request.mode = "importance";
    auto precision = compilePrecision(o.common);
    if (!precision.ok())
      return precision.status();
    request.precision = *precision;
    auto program = compileModule(o.model, request);
    if (!program.ok())
      return program.status();
    bool gated = false;
    for (const ProgramWeight &w : program->weights)
      gated |= w.name.rfind("shear.gate.", 0) == 0;
    if (!gated)
      return invalidInput(o.model + ": pruning needs a model with gates (run --insert-masks first)");
    auto backend = backendFor(o.common);
    if (!backend.ok())
      return backend.status();
    SHEAR_RETURN_IF_ERROR(rt::validateProgramWeights(*program));
    auto data = rt::Dataset::open(o.data);
    if (!data.ok())
      return data.status();
    if ((*data)->manifest().vocabSize > program->model.vocab)
      return invalidInput(o.data + ": tokens up to " + std::to_string((*data)->manifest().vocabSize - 1) +
                          " do not fit the model's vocabulary of " + std::to_string(program->model.vocab));
    auto started = std::chrono::steady_clock::now();
    auto scores = rt::computeImportanceOnData(*program, **backend, **data, o.calibSeqs, false, 8);
    if (!scores.ok())
      return scores.status();
    SHEAR_RETURN_IF_ERROR(createDirectories(dir));
    std::string scoresPath = joinPath(dir, "scores.safetensors");
    SHEAR_RETURN_IF_ERROR(rt::writeImportanceScores(
        scoresPath, *scores,
        {{"shear.scores", "activation"}, {"model", absolutePath(o.model, ".")},
         {"data", absolutePath(o.data, ".")}, {"split", "train"}}));
    SHEAR_RETURN_IF_ERROR(startGatesFromScores(o.model, scoresPath, module));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char line[200];
    std::snprintf(line, sizeof line, "gates start from activation importance (%lld calibration tokens, %.1f s): ",
                  static_cast<long long>(scores->tokens), seconds);
    printLine(line + module);
    return Status();
  }();
  if (gComm)
    made = gComm->agree(made);
  if (!made.ok())
    return made;
  return module;
}

/// --plan on a module: the training step's activations under every
/// --recompute choice, so that the cost of each is seen before a run. The
/// bf16 working copies AdamW keeps (all but `weights` and `layer`) count:
/// they are what recomputing the weights saves.
Status planRecomputeChoices(const std::string &module, CompileRequest request, const rt::TrainOptions &t,
                            rt::Backend &backend) {
  auto data = rt::Dataset::open(t.dataDir);
  if (!data.ok())
    return data.status();
  int ranks = gComm ? gComm->size() : 1;
  int64_t batch = t.microBatch > 0 ? t.microBatch : t.batch / ranks, seq = (*data)->manifest().seqLen;
  std::string line = "train_step activations (and bf16 working copies kept) by --recompute:";
  for (const char *choice : {"none", "norm", "weights", "attention", "mlp", "attention,mlp", "layer"}) {
    request.recompute = std::string(choice) == "none" ? "" : choice;
    auto program = compileModule(module, request);
    if (!program.ok())
      return program.status();
    auto step = rt::Executable::load(*program, "train_step", backend);
    if (!step.ok())
      return step.status();
    std::vector<rt::Shape> shapes = {{batch, seq}, {batch, seq}, {}};
    for (size_t i = 0; i < (*step)->function().lrArgs.size(); ++i)
      shapes.push_back({});
    auto plan = (*step)->plan(shapes);
    if (!plan.ok())
      return plan.status();
    size_t bytes = (*plan)->arenaBytes;
    for (const ProgramWeight &w : program->weights)
      if (!workingCopyOf(w.name).empty())
        bytes += static_cast<size_t>(numElements(w.shape)) * dtypeBytes(w.dtype);
    line += std::string(" ") + choice + " " + rt::formatBytes(static_cast<double>(bytes)) + ",";
  }
  line.pop_back();
  if (!gComm || gComm->rank() == 0)
    printLine(line);
  return Status();
}

int runTrainCommand(const cli::Command &c, const std::string &mode, TrainCommandOptions &o) {
  if (o.data.empty() || (o.out.empty() && !o.common.plan))
    return fail(invalidInput(mode + " needs --data DATA_DIR and --out RUN_DIR"));
  if (Status s = parseRecompute(o.recompute); !s.ok())
    return fail(s);
  if (o.offload == "none")
    o.offload.clear();
  auto checkpointWrites = rt::parseCheckpointWrites(o.checkpointWrites);
  if (!checkpointWrites.ok())
    return fail(checkpointWrites.status());
  // What is compiled: the module as given, or (prune, --init activation) the
  // one whose gates start from activation scores.
  std::string compiled = o.model;
  if (mode == "prune") {
    auto text = readFile(o.model);
    if (!text.ok())
      return fail(text.status());
    bool isModule = !looksLikeProgram(*text);
    if (Status s = applyRecipe(c, o, isModule); !s.ok())
      return fail(s);
    if (!isModule && o.recipe == "shear" && (!gComm || gComm->rank() == 0))
      printLine("note: " + o.model + " is a program: its gates start, and it distils, as it was compiled "
                "(--recipe shear's start from activation importance and teacher need the module)");
    // A runtime-only shear-run cannot compile the module at all: loading it
    // below says how to compile it elsewhere.
    if (o.init == "activation" && !o.common.plan && hasCompiler()) {
      auto start = startFromActivation(o);
      if (!start.ok())
        return fail(start.status());
      compiled = *start;
    }
  }
  if (Status s = o.distill.resolve(compiled, mode); !s.ok())
    return fail(s);
  rt::TrainOptions t;
  t.modelPath = o.model;
  t.recipe = mode == "prune" ? o.recipe : "";
  t.init = mode == "prune" ? o.init : "";
  t.dataDir = o.data;
  t.outDir = o.out;
  t.lr = o.lr;
  t.lrGate = o.lrGate;
  t.lrLambda = o.lrLambda;
  if (o.controller != "paper" && o.controller != "pi")
    return fail(invalidInput("--controller must be paper or pi, got '" + o.controller + "'"));
  t.controller = o.controller;
  {
    double g[3];
    char extra;
    if (std::sscanf(o.piGains.c_str(), "%lf,%lf,%lf%c", &g[0], &g[1], &g[2], &extra) != 3 ||
        !std::isfinite(g[0]) || !std::isfinite(g[1]) || !std::isfinite(g[2]) || g[0] < 0 || g[1] < 0 ||
        g[2] < 0)
      return fail(invalidInput("--pi-gains must be KP,KI,KQ (three non-negative numbers), got '" +
                               o.piGains + "'"));
    t.piKp = g[0];
    t.piKi = g[1];
    t.piKq = g[2];
  }
  t.warmupFraction = o.warmup;
  t.batch = o.batch;
  t.microBatch = o.microBatch;
  t.evalEvery = o.evalEvery >= 0 ? o.evalEvery : (mode == "prune" ? 50 : 400);
  t.evalSequences = o.evalSeqs;
  t.saveEvery = o.saveEvery;
  t.logEvery = o.logEvery;
  t.refLoss = o.refLoss;
  t.resume = o.resume;
  t.planOnly = o.common.plan;
  t.stopAfter = o.stopAfter;
  t.maxBadSteps = o.maxBadSteps;
  t.keepLast = o.keepLast;
  t.checkpointWrites = *checkpointWrites;
  t.profile = o.profile;
  t.interrupt = &gInterrupt;
  t.comm = gComm.get();
  t.shardOptimizer = o.shardOptimizer;
  t.bucketBytes = static_cast<size_t>(o.bucketMb * 1048576.0);
  if (o.dbl == "paper")
    t.dbl = rt::DblMode::Paper;
  else if (o.dbl == "code")
    t.dbl = rt::DblMode::Code;
  else if (o.dbl == "off")
    t.dbl = rt::DblMode::Off;
  else
    return fail(invalidInput("--dbl must be paper, code or off, got '" + o.dbl + "'"));
  if (!o.weights.empty()) {
    size_t begin = 0;
    while (begin <= o.weights.size()) {
      size_t comma = o.weights.find(',', begin);
      std::string part = o.weights.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
      begin = comma == std::string::npos ? o.weights.size() + 1 : comma + 1;
      size_t eq = part.find('=');
      char *end = nullptr;
      double w = eq == std::string::npos ? -1 : std::strtod(part.c_str() + eq + 1, &end);
      if (eq == std::string::npos || eq == 0 || !end || *end || !(w >= 0) || !std::isfinite(w))
        return fail(invalidInput("--weights: '" + part + "' is not name=weight"));
      t.initialWeights[part.substr(0, eq)] = w;
    }
  }
  if (o.seq != 0) {
    auto data = rt::Dataset::open(o.data);
    if (!data.ok())
      return fail(data.status());
    if ((*data)->manifest().seqLen != o.seq)
      return fail(invalidInput("--seq " + std::to_string(o.seq) + " differs from the data's " +
                                 std::to_string((*data)->manifest().seqLen) +
                                 " (repack with shear-data pack --seq)"));
  }

  // What is compiled into the step: the gate noise's seed, the target
  // sparsity's warm-up and the clipping norm.
  auto request = [&] {
    CompileRequest r;
    r.mode = mode;
    r.seed = o.seed;
    r.steps = o.steps;
    r.targetWarmup = o.targetWarmup;
    r.targetWarmupSteps = static_cast<int64_t>(std::llround(o.targetWarmup * o.steps));
    r.maxNorm = o.maxNorm;
    r.lossChunk = o.common.lossChunk;
    r.fuseKernels = !o.common.noFuse;
    r.recompute = o.recompute;
    r.offload = o.offload;
    o.distill.into(r);
    return r;
  };
  auto program = loadProgram(compiled, request(), o.common);
  if (!program.ok())
    return fail(program.status());
  if (Status s = o.distill.agreeWith(*program, compiled, c); !s.ok())
    return fail(s);
  if (Status s = agreeRecompute(*program, compiled, c, o.recompute); !s.ok())
    return fail(s);
  if (Status s = agreeOffload(*program, compiled, c, o.offload); !s.ok())
    return fail(s);
  double seed = static_cast<double>(o.seed), steps = static_cast<double>(o.steps);
  for (auto [option, key, value] : {std::tuple{"seed", "seed", &seed},
                                    std::tuple{"steps", "steps", &steps},
                                    std::tuple{"target-warmup", "target_warmup", &o.targetWarmup},
                                    std::tuple{"max-norm", "max_norm", &o.maxNorm}}) {
    Status s = agree(*program, o.model, c, option, key, *value);
    if (!s.ok())
      return fail(s);
  }
  o.seed = static_cast<uint64_t>(seed);
  o.steps = static_cast<int64_t>(steps);
  if (const json::Value *w = program->compiledWith.count("target_warmup_steps")
                                 ? &program->compiledWith.at("target_warmup_steps")
                                 : nullptr;
      w && w->asInteger() && *w->asInteger() != request().targetWarmupSteps)
    return fail(invalidInput(o.model + " was compiled with a target warm-up of " +
                               std::to_string(*w->asInteger()) + " steps; this run's is " +
                               std::to_string(request().targetWarmupSteps) +
                               " (--steps × --target-warmup): compile it again with them"));
  t.steps = o.steps;
  t.seed = o.seed;
  auto backend = backendFor(o.common);
  if (!backend.ok())
    return fail(backend.status());
  std::signal(SIGINT, onInterrupt);
  std::signal(SIGTERM, onInterrupt);
  Status ran = rt::runTraining(*program, t, **backend, printLine);
  if (ran.ok() && o.common.plan && hasCompiler()) {
    auto text = readFile(compiled);
    if (text.ok() && !looksLikeProgram(*text)) {
      CompileRequest r = request();
      r.precision = programPrecision(*program);
      if (Status s = planRecomputeChoices(compiled, r, t, **backend); !s.ok())
        return fail(s);
    }
  }
  return report(ran);
}

//===----------------------------------------------------------------------===//
// generate
//===----------------------------------------------------------------------===//

struct GenerateOptions {
  std::string model, tokenizer, prompt, promptIds, chat, system = defaultSystemPrompt();
  int64_t maxNew = 64;
  double temperature = 0, topP = 1.0;
  uint64_t seed = 1;
  bool printIds = false, noBos = false;
  Common common;
};

/// Runs shear-spm (beside this binary) and returns its stdout.
Result<std::string> runSpm(std::vector<std::string> args) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return runFailure("cannot locate shear-spm");
  self[n] = '\0';
  std::string cmd = "'" + joinPath(parentDirectory(self), "shear-spm") + "'";
  for (const std::string &a : args) {
    std::string quoted;
    for (char c : a)
      quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " '" + quoted + "'";
  }
  FILE *p = popen(cmd.c_str(), "r");
  if (!p)
    return runFailure("cannot run shear-spm");
  std::string out;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, got);
  int status = pclose(p);
  if (status != 0)
    return Status(WIFEXITED(status) && WEXITSTATUS(status) == 2 ? ErrorKind::InvalidInput
                                                                 : ErrorKind::Failed,
                  "the tokenizer failed (see above)");
  return out;
}

int runGenerate(GenerateOptions &o) {
  if (Status s = oneRank("generate"); !s.ok())
    return fail(s);
  std::vector<int64_t> prompt;
  int64_t eos = -1, bos = 1;
  if (!o.tokenizer.empty()) {
    auto parsed = tokenizerInfo(o.tokenizer);
    if (!parsed.ok())
      return parsed.status().message().empty() ? 2 : report(parsed.status());
    bos = parsed->getInteger("bos_id").value_or(-1);
    eos = parsed->getInteger("eos_id").value_or(-1);
  }
  if (!o.promptIds.empty()) {
    size_t begin = 0;
    while (begin < o.promptIds.size()) {
      size_t comma = o.promptIds.find(',', begin);
      std::string part = o.promptIds.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
      begin = comma == std::string::npos ? o.promptIds.size() : comma + 1;
      if (part.empty())
        continue;
      char *end = nullptr;
      errno = 0;
      long long id = std::strtoll(part.c_str(), &end, 10);
      if (*end || errno || part.find_first_not_of(" -0123456789") != std::string::npos)
        return report(invalidInput("--prompt-ids: '" + part + "' is not a token id"));
      prompt.push_back(id);
    }
  } else {
    if (o.tokenizer.empty())
      return report(invalidInput("generate needs --tokenizer TOK with --prompt or --chat, or --prompt-ids"));
    if (!o.chat.empty()) {
      if (!o.prompt.empty())
        return report(invalidInput("give --prompt or --chat, not both"));
      // shear-data chat's template (Vicuna v1.1): the answer follows.
      o.prompt = chatPrompt(o.system, o.chat, 0);
    }
    auto ids = runSpm({"encode", "--model", o.tokenizer, "--text", o.prompt});
    if (!ids.ok())
      return 2;
    if (!o.noBos && bos >= 0)
      prompt.push_back(bos);
    size_t begin = 0;
    const std::string &text = *ids;
    while (begin < text.size()) {
      size_t end = text.find_first_of(" \n", begin);
      std::string part = text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
      begin = end == std::string::npos ? text.size() : end + 1;
      if (!part.empty())
        prompt.push_back(std::stoll(part));
    }
  }
  if (prompt.empty())
    return report(invalidInput("the prompt is empty"));
  CompileRequest request;
  request.mode = "generate";
  auto program = loadProgram(o.model, request, o.common);
  if (!program.ok())
    return report(program.status());
  if (eos < 0)
    eos = program->model.eosTokenId;
  auto backend = backendFor(o.common);
  if (!backend.ok())
    return report(backend.status());
  rt::SamplingOptions sampling{o.temperature, o.topP, o.seed};
  auto g = rt::generate(*program, **backend, prompt, o.maxNew, eos, sampling);
  if (!g.ok())
    return report(g.status());
  if (o.printIds) {
    std::string line = "ids:";
    for (int64_t id : g->tokens)
      line += " " + std::to_string(id);
    printLine(line);
  }
  if (!o.tokenizer.empty()) {
    std::string list;
    for (int64_t id : g->tokens)
      if (id != eos)
        list += (list.empty() ? "" : ",") + std::to_string(id);
    std::string text;
    if (!list.empty()) {
      auto decoded = runSpm({"decode", "--model", o.tokenizer, "--ids", list});
      if (!decoded.ok())
        return 2;
      text = *decoded;
    }
    printLine(o.prompt + text);
  }
  std::fprintf(stderr, "[%zu tokens in %.2f s: %.1f tokens/s]\n", g->tokens.size(), g->seconds,
               g->tokens.size() / g->seconds);
  return 0;
}

//===----------------------------------------------------------------------===//
// importance
//===----------------------------------------------------------------------===//

struct ImportanceOptions {
  std::string model, data, tokens, out, split = "train";
  int64_t calibSeqs = 128, batch = 8;
  Common common;
};

/// Activation importance and block influence of every prunable unit on a
/// calibration set: the scores --select-structure=method=activation reads.
int runImportance(ImportanceOptions &o) {
  if (Status s = oneRank("importance"); !s.ok())
    return fail(s);
  if (o.out.empty() || (o.data.empty() == o.tokens.empty()))
    return report(invalidInput("importance needs --out SCORES.safetensors and either --data DATA_DIR "
                               "or --tokens T.npy"));
  if (o.split != "train" && o.split != "eval")
    return report(invalidInput("--split must be train or eval, got '" + o.split + "'"));
  CompileRequest request;
  request.mode = "importance";
  auto program = loadProgram(o.model, request, o.common);
  if (!program.ok())
    return report(program.status());
  auto backend = backendFor(o.common);
  if (!backend.ok())
    return report(backend.status());
  Status weights = rt::validateProgramWeights(*program);
  if (!weights.ok())
    return report(weights);

  std::map<std::string, std::string> metadata = {{"shear.scores", "activation"},
                                                 {"model", absolutePath(o.model, ".")}};
  auto started = std::chrono::steady_clock::now();
  Result<rt::ImportanceScores> scores = invalidInput("");
  if (!o.data.empty()) {
    auto data = rt::Dataset::open(o.data);
    if (!data.ok())
      return report(data.status());
    if ((*data)->manifest().vocabSize > program->model.vocab)
      return report(invalidInput(o.data + ": tokens up to " + std::to_string((*data)->manifest().vocabSize - 1) +
                                 " do not fit the model's vocabulary of " +
                                 std::to_string(program->model.vocab)));
    metadata["data"] = absolutePath(o.data, ".");
    metadata["split"] = o.split;
    metadata["sequences"] =
        std::to_string(rt::calibrationSequences(**data, o.calibSeqs, o.split == "eval").size());
    scores = rt::computeImportanceOnData(*program, **backend, **data, o.calibSeqs, o.split == "eval", o.batch);
  } else {
    auto tokens = rt::readNpyInt(o.tokens);
    if (!tokens.ok())
      return report(tokens.status());
    if (tokens->rank() != 2)
      return report(invalidInput(o.tokens + ": token array must be [batch, seq], got " + tokens->shapeString()));
    for (int64_t i = 0; i < tokens->numel(); ++i)
      if (tokens->i64()[i] < 0 || tokens->i64()[i] >= program->model.vocab)
        return report(invalidInput(o.tokens + ": token " + std::to_string(tokens->i64()[i]) + " at index " +
                                   std::to_string(i) + " is outside the vocabulary [0, " +
                                   std::to_string(program->model.vocab) + ")"));
    metadata["tokens_file"] = absolutePath(o.tokens, ".");
    std::optional<rt::Tensor> whole = tokens.take();
    scores = rt::computeImportance(*program, **backend, [&]() -> std::optional<rt::Tensor> {
      std::optional<rt::Tensor> t = std::move(whole);
      whole.reset();
      return t;
    });
  }
  if (!scores.ok())
    return report(scores.status());
  std::string dir = parentDirectory(absolutePath(o.out, "."));
  if (!isDirectory(dir))
    if (Status made = createDirectories(dir); !made.ok())
      return report(made);
  if (Status written = rt::writeImportanceScores(o.out, *scores, metadata); !written.ok())
    return report(written);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char line[160];
  std::snprintf(line, sizeof line, " from %lld calibration tokens in %.1f s", static_cast<long long>(scores->tokens),
                seconds);
  printLine("wrote " + o.out + ": activation importance of heads, kv groups, intermediate and hidden "
            "channels, block influence of layers" + line);
  return 0;
}

//===----------------------------------------------------------------------===//
// check-device
//===----------------------------------------------------------------------===//

struct CheckDeviceOptions {
  std::string storage = "both", perturb, only;
  Common common;
};

/// Every kernel on random inputs on --device and on the CPU, compared.
int runCheckDevice(CheckDeviceOptions &o) {
  if (Status s = oneRank("check-device"); !s.ok())
    return fail(s);
  if (o.storage != "f32" && o.storage != "bf16" && o.storage != "both")
    return report(invalidInput("--storage must be f32, bf16 or both, got '" + o.storage + "'"));
  auto device = backendFor(o.common);
  if (!device.ok())
    return report(device.status());
  auto cpu = rt::createCpuBackend(o.common.threads > 0 ? static_cast<int>(o.common.threads) : rt::kDefaultCpuThreads);
  printLine("checking " + (*device)->describe() + " against " + cpu->describe());
  rt::DeviceCheckOptions options;
  options.f32 = o.storage != "bf16";
  options.bf16 = o.storage != "f32";
  options.perturb = o.perturb;
  options.only = o.only;
  auto failures = rt::checkDeviceKernels(**device, *cpu, options, printLine);
  if (!failures.ok())
    return report(failures.status());
  return *failures == 0 ? 0 : 1;
}

//===----------------------------------------------------------------------===//
// bench-attention
//===----------------------------------------------------------------------===//

struct BenchAttentionOptions {
  int64_t batch = 1, seq = 2048, heads = 16, kvHeads = 0, headDim = 128, iters = 10;
  Common common;
};

/// The causal attention core alone on --device: checked against the
/// device's float32 core, then timed; one line of JSON (bench/attention_bench.sh).
int runBenchAttention(BenchAttentionOptions &o) {
  if (Status s = oneRank("bench-attention"); !s.ok())
    return fail(s);
  int64_t G = o.kvHeads > 0 ? o.kvHeads : o.heads;
  auto device = backendFor(o.common);
  if (!device.ok())
    return report(device.status());
  auto t = (*device)->timeAttentionCore(o.batch, o.seq, o.heads, G, o.headDim, static_cast<int>(o.iters));
  if (!t.ok())
    return report(t.status());
  // Causal: half of the T x T scores. Forward 2 products (q k^T, p v), the
  // backward 5 (FlashAttention's convention: 2.5 x the forward).
  double forwardFlops = 2.0 * 2.0 * o.batch * o.heads * double(o.seq) * o.seq * o.headDim / 2.0;
  double backwardFlops = 2.5 * forwardFlops;
  json::Object out{{"kernel", t->kernel},
                   {"device", (*device)->describe()},
                   {"batch", o.batch},
                   {"seq", o.seq},
                   {"heads", o.heads},
                   {"kv_heads", G},
                   {"head_dim", o.headDim},
                   {"forward_ms", t->forwardMs},
                   {"backward_ms", t->backwardMs},
                   {"forward_tflops", forwardFlops / (t->forwardMs * 1e-3) / 1e12},
                   {"backward_tflops", backwardFlops / (t->backwardMs * 1e-3) / 1e12},
                   {"max_error_vs_float32", t->maxError}};
  printLine(json::write(json::Value(std::move(out))));
  // bf16 inputs through bf16 products against the float32 core on the same
  // values: the roundings of p, ds and da, well inside 2e-2.
  if (t->maxError > 2e-2)
    return report(runFailure("the timed attention core differs from the float32 core by " +
                             std::to_string(t->maxError) + " of the largest value (more than 2e-2): its timing "
                             "does not count"));
  return 0;
}

//===----------------------------------------------------------------------===//
// compile
//===----------------------------------------------------------------------===//

struct CompileCommandOptions {
  std::string model, mode, output, evalMasks = "expected", gradientsOf = "prune", recompute = "none";
  std::string precision = "f32", offload;
  DistillOptions distill;
  uint64_t seed = 1;
  int64_t steps = 3200;
  int64_t lossChunk = 0; // benchmarks: rows per chunk of the fused loss (0: the backend's)
  double targetWarmup = 0.2, maxNorm = 1.0;
};
int runCompile(CompileCommandOptions &o) {
  if (Status s = oneRank("compile"); !s.ok())
    return fail(s);
  if (!hasCompiler()) {
    CompileRequest only;
    only.mode = o.mode;
    return report(compileModule(o.model, only).status());
  }
  if (o.mode.empty() || o.output.empty())
    return report(invalidInput("compile needs --mode prune|train|eval|generate|gradients|importance and -o PROGRAM"));
  CompileRequest r;
  r.mode = o.mode;
  r.gradientsOf = o.gradientsOf;
  r.evalMasks = o.evalMasks;
  r.seed = o.seed;
  r.steps = o.steps;
  r.targetWarmup = o.targetWarmup;
  r.targetWarmupSteps = static_cast<int64_t>(std::llround(o.targetWarmup * o.steps));
  r.maxNorm = o.maxNorm;
  r.lossChunk = o.lossChunk;
  if (Status s = parseRecompute(o.recompute); !s.ok())
    return report(s);
  r.recompute = o.recompute;
  r.offload = o.offload == "none" ? "" : o.offload;
  if (o.precision != "f32" && o.precision != "bf16")
    return report(invalidInput("--precision must be f32 or bf16, got '" + o.precision + "'"));
  r.precision = o.precision;
  if (Status s = o.distill.resolve(o.model, o.mode == "train" ? "train" : "compile"); !s.ok())
    return report(s);
  o.distill.into(r);
  auto program = compileModule(o.model, r);
  if (!program.ok())
    return report(program.status());
  std::string dir = parentDirectory(absolutePath(o.output, "."));
  if (!isDirectory(dir)) {
    Status made = createDirectories(dir);
    if (!made.ok())
      return report(made);
  }
  Status written = writeProgramFile(o.output, *program);
  if (!written.ok())
    return report(written);
  size_t calls = 0;
  std::string names;
  for (const ProgramFunction &f : program->functions) {
    calls += f.body.size();
    names += (names.empty() ? "" : ", ") + f.name;
  }
  printLine("wrote " + o.output + ": " + o.mode + " program (" + names + "; " +
            std::to_string(calls) + " instructions, " + std::to_string(program->weights.size()) +
            " weights)");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  cli::CommandLine cl("shear-run", "run shear models and programs (prune, train, eval, generate)");
  const char *modelHelp = "a model module (.mlir) or a program file (shear-run compile)";

  EvalOptions eval;
  cli::Command &evalCmd = cl.command("eval", "evaluate a model: per-domain losses, or logits of token arrays");
  evalCmd.positional("MODEL", modelHelp, &eval.model)
      .group("inputs and outputs")
      .option("data", "DATA_DIR", "data directory: mean held-out loss per domain, as JSON", &eval.data)
      .option("tokens", "T.npy", "int token array [batch, seq]", &eval.tokens)
      .option("logits-out", "L.npy", "write float32 logits [batch, seq, vocab]", &eval.logitsOut)
      .group("downstream tasks (docs/evaluation.md)")
      .option("tasks", "NAME=FILE,...",
              "multiple-choice tasks from JSON lines; NAME picks the layout: arc*, hellaswag*, piqa*, "
              "boolq*, winogrande*, lambada*, else {context, choices, gold}",
              &eval.tasks)
      .option("tokenizer", "TOK", "the model's tokenizer.model, tokenizer.json or a directory", &eval.tokenizer)
      .option("num-fewshot", "K", "examples from the same file before each item", &eval.fewshot, 0, 1000)
      .option("limit", "N", "the first N items of each task (0: all)", &eval.limit, 0, int64_t(1) << 40)
      .option("loglik-out", "FILE.jsonl", "every choice's context, continuation and log-likelihood",
              &eval.loglikOut)
      .option("seed", "N", "seed of the few-shot draws", &eval.seed)
      .option("max-length", "N", "tokens per scored sequence (longer lose their start)", &eval.maxLength, 2,
              int64_t(1) << 24)
      .option("batch-tokens", "N", "tokens per forward call (batch x length)", &eval.batchTokens, 1,
              int64_t(1) << 30)
      .group("evaluation")
      .option("eval-masks", "WHICH",
              "masked models: deterministic masks keep the expected number of entries per row "
              "(expected, as while pruning), the target number (target), or all (none)",
              &eval.evalMasks)
      .option("eval-seqs", "N", "held-out sequences per domain (0: all)", &eval.evalSeqs, 0)
      .option("batch", "N", "sequences per batch", &eval.batch, 1, 1 << 20);
  commonOptions(evalCmd, eval.common, true);

  TrainCommandOptions prune, train;
  for (auto [name, o] : {std::pair{"prune", &prune}, std::pair{"train", &train}}) {
    bool isPrune = std::string(name) == "prune";
    cli::Command &c = cl.command(name, isPrune ? "prune a masked model: learn weights, gates and multipliers"
                                               : "continue pre-training a dense model");
    c.positional("MODEL", modelHelp, &o->model)
        .group("data and outputs")
        .option("data", "DATA_DIR", "data directory (shear-data)", &o->data)
        .option("out", "RUN_DIR", "run directory (checkpoints, metrics.jsonl, final/)", &o->out)
        .flag("resume", "continue from the newest complete checkpoint in --out", &o->resume)
        .option("save-every", "N", "checkpoint every N steps (0: only final/)", &o->saveEvery, 0)
        .option("keep-last", "N", "keep only the newest N checkpoints (0: all; final/ always stays)",
                &o->keepLast, 0)
        .option("checkpoint-writes", "WHEN",
                "background: --save-every checkpoints are copied to host memory and written while "
                "training goes on; foreground: written before the next step; auto: background when "
                "the copy fits in half the host's available memory",
                &o->checkpointWrites)
        .option("log-every", "N", "print a progress line every N steps (0: only evaluations)", &o->logEvery, 0)
        .flag("profile",
              "time every kernel of the steps after the first (the host waits for each: slower), "
              "print the table at the end and write RUN_DIR/profile.json",
              &o->profile)
        .group("schedule")
        .option("steps", "N", isPrune ? "optimizer steps (paper: 3200)" : "optimizer steps", &o->steps, 1)
        .option("batch", "N", "sequences per step (paper: 32)", &o->batch, 1, 1 << 20)
        .option("micro-batch", "N",
                "sequences per micro-batch (on each rank): the step adds up the gradients of "
                "batch/N micro-batches, holding the activations of one (0: the whole batch)",
                &o->microBatch, 0, 1 << 20)
        .option("seq", "N", "sequence length: must equal the data's (0: the data's)", &o->seq, 0)
        .option("lr", "LR", "peak learning rate of the weights (cosine, warm-up, decay to 0.1x)", &o->lr)
        .option("warmup", "FRACTION", "fraction of steps warming up the learning rate", &o->warmup, 0, 1)
        .option("max-norm", "NORM", "gradient clipping norm (compiled into the step)", &o->maxNorm, 0)
        .option("max-bad-steps", "N",
                "steps with non-finite loss or gradients are skipped; this many in a row stop "
                "the run with a checkpoint",
                &o->maxBadSteps, 1)
        .option("offload", "WHAT",
                "optimizer: hold AdamW's moments in host memory and update them there (a device "
                "too small for them; docs/training.md)",
                &o->offload)
        .option("recompute", "KERNELS",
                "recompute activations in the backward pass instead of keeping them from the forward "
                "(less memory, one more forward of those kernels): none, layer (only the residual "
                "stream is kept), or among attention, mlp, norm, weights (bf16 working copies; comma-separated)",
                &o->recompute);
    if (isPrune)
      c.group("pruning recipe and constraint (docs/user-guide.md)")
          .option("recipe", "shear|paper",
                  "shear: gates start from activation importance, pi controller, gate lr 0.1, "
                  "distillation from the source; paper: the paper's settings. The options below "
                  "override it",
                  &o->recipe)
          .option("init", "activation|module",
                  "where the gates start: at the sub-structure activation importance on the "
                  "training data picks (RUN_DIR/init/), or as in the module (default: the recipe's, "
                  "activation or module)",
                  &o->init)
          .defaultInHelp()
          .option("calib-seqs", "N", "--init activation: calibration sequences", &o->calibSeqs, 1, 1 << 20)
          .option("lr-gate", "LR", "learning rate of the gate parameters (default: the recipe's, 0.1 or 1)",
                  &o->lrGate)
          .defaultInHelp()
          .option("lr-lambda", "LR", "learning rate of the Lagrange multipliers (negative: ascent)", &o->lrLambda)
          .option("controller", "pi|paper",
                  "how the multipliers move: set every step from the sparsity error e (lambda1 = "
                  "KP*e + KI*sum(e), lambda2 = KQ), or the paper's gradient ascent (default: the "
                  "recipe's, pi or paper)",
                  &o->controller)
          .defaultInHelp()
          .option("pi-gains", "KP,KI,KQ", "the pi controller's gains", &o->piGains)
          .option("target-warmup", "FRACTION",
                  "fraction of steps over which the target sparsity grows from 0 (compiled in)",
                  &o->targetWarmup, 0, 1);
    c.group("evaluation and data mix")
        .option("eval-every", "N",
                std::string("evaluate (and update domain weights) every N steps; 0: never (default: ") +
                    (isPrune ? "50" : "400") + ", as in the paper)",
                &o->evalEvery, -1)
        .defaultInHelp()
        .option("eval-seqs", "N", "held-out sequences per domain to evaluate (0: all)", &o->evalSeqs, 0)
        .option("dbl", "MODE", "dynamic batch loading: paper, code or off", &o->dbl)
        .option("ref-loss", "SOURCE",
                "reference losses for dynamic batch loading: 'source' (evaluate the unpruned "
                "model first) or a JSON file {domain: loss}",
                &o->refLoss)
        .option("weights", "NAME=W,...", "initial domain weights (default: the data mix)", &o->weights)
        .option("seed", "N", "seed of gate noise and domain draws", &o->seed);
    c.group("several ranks (mpirun -np N shear-run ...)")
        .flag("shard-optimizer",
              "each rank keeps the AdamW state of 1/N of the parameters (ZeRO stage 1) and "
              "broadcasts what it updates",
              &o->shardOptimizer)
        .option("bucket-mb", "MB",
                "average the gradients over the ranks in buckets of at least MB MiB (0: one "
                "collective per gradient)",
                &o->bucketMb, 0);
    o->distill.add(c);
    c.option("stop-after", "N", "testing: exit abruptly after N steps", &o->stopAfter, -1).hidden();
    commonOptions(c, o->common, true);
  }

  GenerateOptions gen;
  cli::Command &genCmd = cl.command("generate", "generate text with a KV cache");
  genCmd.positional("MODEL", modelHelp, &gen.model)
      .group("prompt")
      .option("tokenizer", "TOK", "tokenizer.model (SentencePiece), tokenizer.json (HF) or a directory holding one", &gen.tokenizer)
      .option("prompt", "TEXT", "prompt text (needs --tokenizer)", &gen.prompt)
      .option("chat", "MESSAGE",
              "a user message in shear-data chat's template: '{system} USER: {message} ASSISTANT:'",
              &gen.chat)
      .option("system", "TEXT", "--chat's system prompt (default: Vicuna v1.1's, as shear-data chat)",
              &gen.system)
      .option("prompt-ids", "A,B,C", "prompt as token ids", &gen.promptIds)
      .flag("no-bos", "do not start the prompt with BOS", &gen.noBos)
      .group("decoding")
      .option("max-new-tokens", "N", "tokens to generate", &gen.maxNew, 0, 1 << 24)
      .option("temperature", "T", "0: greedy; > 0: sample", &gen.temperature, 0)
      .option("top-p", "P", "nucleus sampling: smallest set with this mass", &gen.topP, 0, 1)
      .option("seed", "N", "seed of sampling", &gen.seed)
      .flag("print-ids", "also print the generated token ids", &gen.printIds);
  commonOptions(genCmd, gen.common, false);

  GradientOptions grad;
  cli::Command &gradCmd =
      cl.command("gradients", "one training step's loss, metrics and gradients (for checking)");
  gradCmd.positional("MODEL", modelHelp, &grad.model)
      .option("tokens", "T.npy", "int token array [batch, seq+1]: inputs [:, :-1], labels [:, 1:]", &grad.tokens)
      .option("loss-mask", "M.npy", "int array like --tokens: 0 where a token's label does not count",
              &grad.lossMask)
      .option("out", "G.safetensors", "write metrics and gradients", &grad.out)
      .option("mode", "MODE", "prune or train", &grad.mode)
      .option("step", "N", "step number (gate noise, warm-up)", &grad.step, 0)
      .option("seed", "N", "seed of the gate noise", &grad.seed)
      .option("warmup-steps", "N", "target-sparsity warm-up steps", &grad.warmupSteps, 0)
      .option("recompute", "KERNELS", "none, layer, or among attention, mlp, norm, weights: recomputed in the backward pass",
              &grad.recompute);
  grad.distill.add(gradCmd);
  commonOptions(gradCmd, grad.common, false);

  ImportanceOptions imp;
  cli::Command &impCmd = cl.command(
      "importance", "score every prunable unit by its activations on calibration data (docs/one-shot.md)");
  impCmd.positional("MODEL", "a model or masked model module (.mlir), or a program compiled with --mode importance",
                    &imp.model)
      .option("data", "DATA_DIR", "calibration sequences from a data directory", &imp.data)
      .option("calib-seqs", "N", "sequences, shared among the domains by the data mix (the first of each)",
              &imp.calibSeqs, 1)
      .option("split", "SPLIT", "train or eval: which file of each domain", &imp.split)
      .option("tokens", "T.npy", "or: calibration token ids [batch, seq]", &imp.tokens)
      .option("batch", "N", "sequences per forward pass", &imp.batch, 1, 1 << 20)
      .option("out", "SCORES.safetensors", "the scores (head, kv_group, intermediate, hidden, layer)", &imp.out);
  commonOptions(impCmd, imp.common, false);

  CheckDeviceOptions check;
  cli::Command &checkCmd = cl.command("check-device", "every kernel on random inputs on --device and on the CPU, "
                                                      "compared (a device's first check)");
  checkCmd.option("storage", "TYPE", "f32, bf16 (as bf16 programs store weights and activations) or both",
                  &check.storage)
      .option("only", "TEXT", "only the cases whose name holds TEXT (\"outside\": the refused ids and labels)",
              &check.only)
      .option("perturb", "KERNEL", "testing: perturb this kernel's device results", &check.perturb)
      .hidden();
  commonOptions(checkCmd, check.common, false);

  BenchAttentionOptions benchAttn;
  cli::Command &benchCmd = cl.command("bench-attention", "the causal attention core alone on --device, checked "
                                                         "against its float32 core, then timed (one JSON line)");
  benchCmd.option("batch", "N", "sequences", &benchAttn.batch, 1, 1 << 16)
      .option("seq", "T", "tokens per sequence", &benchAttn.seq, 1, 1 << 20)
      .option("heads", "H", "query heads", &benchAttn.heads, 1, 4096)
      .option("kv-heads", "G", "key and value heads (default: H)", &benchAttn.kvHeads, 0, 4096)
      .option("head-dim", "D", "head dimension", &benchAttn.headDim, 1, 1024)
      .option("iters", "N", "timed calls of each (the best counts)", &benchAttn.iters, 1, 100000);
  commonOptions(benchCmd, benchAttn.common, false);

  CompileCommandOptions comp;
  cli::Command &compCmd = cl.command("compile", "compile a model module into a program file");
  compCmd.positional("MODEL", "a model module (.mlir)", &comp.model)
      .option("mode", "MODE", "prune, train, eval, generate, gradients or importance", &comp.mode)
      .option("o", "PROGRAM", "the program file to write", &comp.output)
      .option("precision", "TYPE",
              "storage of weights and activations: f32, or bf16 (float32 master weights, "
              "gradients and statistics)",
              &comp.precision)
      .group("compiled into training programs")
      .option("seed", "N", "seed of the gate noise", &comp.seed)
      .option("steps", "N", "steps of the run (with --target-warmup: the warm-up steps)", &comp.steps, 1)
      .option("target-warmup", "FRACTION", "fraction of steps over which the target sparsity grows", &comp.targetWarmup, 0, 1)
      .option("max-norm", "NORM", "gradient clipping norm", &comp.maxNorm, 0)
      .option("gradients-of", "MODE", "gradients programs: the step of prune or train", &comp.gradientsOf)
      .option("offload", "WHAT", "training steps: optimizer (AdamW's moments held in host memory)", &comp.offload)
      .option("recompute", "KERNELS", "training steps: none, layer, or among attention, mlp, norm, weights: recomputed in the backward pass",
              &comp.recompute)
      .option("distill-from", "SOURCE.mlir", "distill from this teacher (see prune --help)", &comp.distill.from)
      .option("distill-temperature", "T", "softmax temperature of the distillation term",
              &comp.distill.temperature, 1e-3, 1e3)
      .option("distill-alpha", "A", "weight of the distillation term", &comp.distill.alpha, 0, 1)
      .group("compiled into evaluation programs")
      .option("eval-masks", "WHICH", "masked models: expected, target or none", &comp.evalMasks)
      .option("loss-chunk", "ROWS", "benchmarks: rows of logits per chunk of the fused loss (0: the backend's choice)",
              &comp.lossChunk, 0)
      .hidden();

  auto command = cl.parse(argc, argv);
  if (!command.ok())
    return report(command.status());
  if (!*command)
    return 0;
  auto world = rt::createWorldCommunicator(gCommTimeout);
  if (!world.ok())
    return report(world.status());
  gComm = world.take();
  gQuiet = gComm->rank() > 0;
  const std::string &name = (*command)->name();
  int code = name == "eval"        ? runEval(**command, eval)
             : name == "prune"     ? runTrainCommand(**command, "prune", prune)
             : name == "train"     ? runTrainCommand(**command, "train", train)
             : name == "generate"  ? runGenerate(gen)
             : name == "gradients" ? runGradients(grad)
             : name == "importance" ? runImportance(imp)
             : name == "check-device" ? runCheckDevice(check)
             : name == "bench-attention" ? runBenchAttention(benchAttn)
                                   : runCompile(comp);
  gComm.reset(); // MPI_Finalize with several ranks
  return code;
}
