//===- Program.h - the program file: what a run executes ------------------===//
//
// The compiler's output and the runtime's input (docs/program-format.md).
// A program holds every function a run needs (the training step, evaluation,
// decoding) as straight lines of weight reads and kernel calls over numbered
// values, each call checked against the kernel table, plus what the runtime
// must know without the compiler: weight references (file, name, dtype,
// shape), the functions' metadata (metrics, updated weights, learning-rate
// arguments, in-out arguments), the model's shape and signature, the options
// it was compiled with, and the module a checkpoint writes as model.mlir.
// It is JSON text, versioned; readers refuse other versions.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_PROGRAM_H
#define SHEAR_SUPPORT_PROGRAM_H

#include "shear/Support/DType.h"
#include "shear/Support/Json.h"
#include "shear/Support/KernelTable.h"
#include "shear/Support/Status.h"

#include <map>
#include <string>
#include <vector>

namespace shear {

// 2: weight and value dtypes are the ones a run holds (bf16 programs), not the files'.
// 3: adamw's optional working copy operand (w) and result; "work:<name>" weights.
constexpr int kProgramFormatVersion = 3;

struct AttrValue {
  AttrType type = AttrType::Int;
  int64_t i = 0;
  double f = 0;
  std::string s;
  bool b = false;
  double number() const { return type == AttrType::Int ? static_cast<double>(i) : f; }
};

/// A value's element type and shape (-1: a dimension known only at run time).
struct ValueType {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};
/// "f32[?,?,64]", "i64[]".
std::string typeToString(const ValueType &type);
std::optional<ValueType> parseType(std::string_view text);

struct ProgramWeight {
  std::string name;
  std::string file; // relative to the program's directory
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Optimizer moments, multipliers: zeros unless `file` (may be empty) holds
  /// the tensor, or a resumed checkpoint does.
  bool zeroInit = false;
  /// The tensor's name in `file` when it is not `name` (a teacher's weights).
  std::string tensor;
  /// Read, never trained (no gradient, no optimizer state, not checkpointed).
  bool frozen = false;
  /// Held in host memory, not the device's (--offload optimizer: AdamW's
  /// moments); kernels reading it run on the host.
  bool host = false;
  const std::string &tensorName() const { return tensor.empty() ? name : tensor; }
};

struct ProgramInstr {
  enum class Kind { Weight, Kernel };
  Kind kind = Kind::Kernel;
  int weight = -1;           // Weight: index into ProgramFile::weights
  KernelId kernel{};         // Kernel
  std::vector<int> operands; // per declared operand slot (-1: absent), then the variadic tail
  std::vector<int> results;  // per declared result (-1: absent); Weight: one
  std::map<std::string, AttrValue> attrs;
  std::string loc;           // where in the source module (for messages)
};

struct ProgramFunction {
  std::string name;
  std::vector<int> args;
  std::vector<int> returns;
  std::vector<ValueType> values; // the type of every value id
  std::vector<ProgramInstr> body;
  // What the runtime needs to know about the returns and arguments.
  std::vector<std::string> metrics;   // names of the first returns (scalars)
  std::vector<std::string> updates;   // weight names the next returns replace
  std::vector<std::string> gradients; // weight names of gradient returns
  std::vector<std::string> lrArgs;    // learning-rate arguments after (ids, labels, step)
  std::vector<std::pair<int, int>> inouts; // (argument, return) pairs updated in place
};

/// The model a program was compiled from, for checks, FLOP counts and logs.
struct ProgramModel {
  int64_t layers = 0, hidden = 0, heads = 0, kvHeads = 0, headDim = 0, intermediate = 0,
          vocab = 0;
  int64_t bosTokenId = -1, eosTokenId = -1;
  bool masked = false;
  std::string signature; // shape, configuration and masks: what makes a checkpoint belong
};

struct ProgramFile {
  std::string mode; // eval, prune, train, generate, gradients
  std::string source; // the module it was compiled from
  json::Object compiledWith; // options fixed at compile time (seed, warm-up, ...)
  ProgramModel model;
  std::vector<ProgramWeight> weights;
  std::vector<ProgramFunction> functions;
  std::string checkpointModule;               // model.mlir of a checkpoint (prune/train)
  std::vector<std::string> checkpointWeights; // the model's weights, as checkpoints store them
  std::string baseDir; // not stored: the directory relative weight files resolve against

  const ProgramFunction *function(std::string_view name) const;
  const ProgramWeight *weight(std::string_view name) const;
};

/// The program as text (JSON, one instruction per line).
std::string printProgram(const ProgramFile &program);
/// Parses and verifies program text; errors name `path`.
Result<ProgramFile> parseProgram(std::string_view text, const std::string &path);
/// Reads a program file; its weights resolve against the file's directory.
Result<ProgramFile> readProgramFile(const std::string &path);
/// Writes `program` atomically to `path`, weight files made relative to the
/// file's directory.
Status writeProgramFile(const std::string &path, ProgramFile program);
/// The file of a checkpoint directory that holds the weight `name`:
/// gates.safetensors, masks.safetensors, lambdas.safetensors,
/// optimizer.safetensors or model.safetensors.
const char *checkpointFileFor(std::string_view name);

/// The prefix of a master weight's working copy: "work:P" holds P in the
/// program's precision (bf16), rewritten by P's adamw after each update
/// (build-optimizer). It is derived, never checkpointed: a run puts P and
/// the runtime rounds it.
inline constexpr std::string_view kWorkingCopyPrefix = "work:";
/// "work:P" -> "P"; other names -> "".
std::string workingCopyOf(std::string_view name);
/// The prefix of a gradient sum: "grad:P" holds the sum of P's gradients
/// over a step's micro-batches (split-accumulation: train_micro adds to it,
/// train_apply's adamw reads it). Scratch between two steps, never
/// checkpointed.
inline constexpr std::string_view kGradientSumPrefix = "grad:";
/// "grad:P" -> "P"; other names -> "".
std::string gradientSumOf(std::string_view name);

/// Whether `text` looks like a program file rather than an MLIR module.
bool looksLikeProgram(std::string_view text);

/// Every structural rule: value ids defined once before use, types of
/// operand classes, calls against the kernel table (slots, attributes).
Status verifyProgram(const ProgramFile &program);

} // namespace shear

#endif
