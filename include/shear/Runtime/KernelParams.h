//===- KernelParams.h - kernel attributes, decoded once, and result shapes ===//
//
// A kernel call's attributes are decoded when a program is loaded, into the
// kernel's own parameter struct, so kernels never look attributes up by name
// while running. Result shapes follow from operand shapes and parameters
// (inferShapes), which lets the executor plan all memory before running and
// reject inputs of the wrong shape with an error instead of a crash. Both
// are shared by every backend.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_KERNELPARAMS_H
#define SHEAR_RUNTIME_KERNELPARAMS_H

#include "shear/Support/Program.h"

#include <variant>

namespace shear::rt {

struct NoParams {};

struct RopeParams {
  enum class Scaling : uint8_t { None, Linear, Llama3 } scaling = Scaling::None;
  int64_t headDim = 0;
  double theta = 10000.0, factor = 1.0, lowFreqFactor = 1.0, highFreqFactor = 4.0;
  double originalMaxPositions = 8192;
};

struct AttentionParams {
  int64_t heads = 0, kvHeads = 0, headDim = 0;
  RopeParams rope;
};

struct NormParams {
  double eps = 1e-5;
};

struct GateEvalParams {
  enum class Size : uint8_t { Target, Expected, None } size = Size::Target;
  int64_t targetSize = 0, kvTargetSize = 0;
};

struct GateSampleParams {
  uint64_t seed = 1;
  uint32_t stream = 0;
};

struct IndexParams {
  int64_t index = 0;
};

struct CrossEntropyParams {
  int64_t ignoreIndex = -100;
};

/// The fused lm_head + cross_entropy: rows of logits per chunk (0: chosen
/// from a workspace of a few MiB).
struct FusedLossParams {
  int64_t ignoreIndex = -100;
  int64_t chunk = 0;
};

struct LagrangianParams {
  double targetSparsity = 0;
  int64_t warmupSteps = 0;
};

struct AdamWParams {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weightDecay = 0, maxNorm = 0, clamp = 0;
};

struct ScalarParams {
  double value = 0;
};

struct DistillParams {
  double temperature = 1, alpha = 0.5;
  int64_t ignoreIndex = -100;
};

struct GroupParams {
  int64_t group = 1;
};

using KernelParams =
    std::variant<NoParams, AttentionParams, NormParams, GateEvalParams, GateSampleParams,
                 IndexParams, CrossEntropyParams, LagrangianParams, AdamWParams, ScalarParams,
                 GroupParams, DistillParams, FusedLossParams>;

/// The parameters of a call of `id` from its (table-checked) attributes.
Result<KernelParams> decodeParams(KernelId id, const std::map<std::string, AttrValue> &attrs);

using Shape = std::vector<int64_t>;

/// Result shapes of a call (per declared result; absent results get an empty
/// entry) from its operand shapes (per declared operand slot, nullptr when
/// absent, then the variadic tail). Operands of the wrong rank or size give an
/// error saying which.
Status inferShapes(KernelId id, const KernelParams &params,
                   const std::vector<const Shape *> &operands, std::vector<Shape> &results);

} // namespace shear::rt

#endif
