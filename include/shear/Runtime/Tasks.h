//===- Tasks.h - downstream multiple-choice tasks, scored by likelihood ---===//
//
// What lm-evaluation-harness does for zero- and few-shot multiple choice:
// every choice is a continuation of the item's context, scored by the summed
// log-likelihood of its tokens; `acc` takes the most likely choice, `acc_norm`
// divides by the choice's length in bytes first. Task files are JSON lines in
// the layouts the datasets ship (ARC, HellaSwag, PIQA, BoolQ, WinoGrande,
// LAMBADA) or a generic {"context", "choices", "gold"}. docs/evaluation.md has
// the prompt of every layout.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_TASKS_H
#define SHEAR_RUNTIME_TASKS_H

#include "shear/Runtime/Backend.h"
#include "shear/Runtime/Executable.h"
#include "shear/Runtime/ParamStore.h"
#include "shear/Support/Json.h"
#include "shear/Support/Status.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shear::rt {

enum class TaskLayout { Generic, Arc, HellaSwag, Piqa, BoolQ, WinoGrande, Lambada };

/// One item: a context per choice (WinoGrande's differ; the others share
/// one), the continuation each choice is scored on, and the right choice.
struct TaskItem {
  std::vector<std::string> contexts;
  std::vector<std::string> continuations;
  std::vector<std::string> choiceTexts; // the choice alone: acc_norm's length
  int gold = 0;
  int64_t line = 0; // in the file
};

/// The layout a task name stands for (arc_easy → Arc, ...; else Generic).
TaskLayout layoutOf(const std::string &name);

/// Reads a task file; a malformed line is an error naming the file, the line
/// and the field.
Result<std::vector<TaskItem>> readTask(const std::string &path, TaskLayout layout);

/// The context of item `index` with `shots` examples from the other items
/// (drawn by `seed`), each as its gold context + continuation, separated by
/// blank lines.
std::string fewShotContext(const std::vector<TaskItem> &items, size_t index, size_t choice,
                           int shots, uint64_t seed);

/// Token ids of texts, in order (the tokenizer, outside the runtime).
using Encoder = std::function<Result<std::vector<std::vector<int64_t>>>(const std::vector<std::string> &)>;

struct ScoreOptions {
  int64_t bos = -1;            // prepended to every context when >= 0
  int64_t maxLength = 2048;    // tokens per sequence: longer ones lose their start
  int64_t tokenBudget = 8192;  // batch × length per forward call
  int64_t vocab = 0;
};

/// Log-likelihood of `continuation` after `context` for every pair, and
/// whether it is the greedy continuation (every token the argmax).
struct Likelihood {
  double loglik = 0;
  bool greedy = false;
  int64_t tokens = 0;
};
Result<std::vector<Likelihood>> scorePairs(const std::vector<std::pair<std::string, std::string>> &pairs,
                                           const Encoder &encode, Executable &forward, ParamStore &store,
                                           Backend &backend, const ScoreOptions &options);

/// A task's metrics as JSON (count, acc, acc_norm and their standard errors;
/// LAMBADA: acc and perplexity) from each item's choice likelihoods.
json::Object taskMetrics(const std::string &name, TaskLayout layout, const std::vector<TaskItem> &items,
                         const std::vector<std::vector<Likelihood>> &scores);

} // namespace shear::rt

#endif
