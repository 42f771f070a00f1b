//===- ShearOps.cpp - verifiers of the shear ops --------------------------===//
//
// Every shape relation between operands is checked here, and each diagnostic
// names the operand, the shape it must have, and what that shape means.
//
//===----------------------------------------------------------------------===//
#include "shear/Dialect/ShearOps.h"
#include "shear/Dialect/KernelCall.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace shear;

#define GET_OP_CLASSES
#include "shear/Dialect/ShearOps.cpp.inc"

namespace {
constexpr int64_t kAny = ShapedType::kDynamic;

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "[";
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << "?";
    else
      os << d;
  });
  os << "]";
  return s;
}

// Checks `value`'s shape against `expected`; a dynamic size on either side
// matches anything. `meaning` explains the expected dims, e.g. "(hidden)".
LogicalResult expectShape(Operation *op, StringRef operand, Value value,
                          ArrayRef<int64_t> expected, StringRef meaning) {
  auto type = cast<RankedTensorType>(value.getType());
  bool ok = type.getRank() == static_cast<int64_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i) {
    int64_t got = type.getDimSize(i);
    if (!ShapedType::isDynamic(got) && !ShapedType::isDynamic(expected[i]) &&
        got != expected[i])
      ok = false;
  }
  if (ok)
    return success();
  return op->emitOpError() << "operand '" << operand << "' must have shape "
                           << shapeString(expected) << " " << meaning
                           << ", got " << shapeString(type.getShape());
}

int64_t dim(Value v, unsigned i) {
  auto t = cast<RankedTensorType>(v.getType());
  return i < t.getRank() ? t.getDimSize(i) : kAny;
}

// Activations are [batch, seq, features].
LogicalResult expectActivation(Operation *op, StringRef operand, Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getRank() == 3)
    return success();
  return op->emitOpError() << "operand '" << operand
                           << "' must be an activation of rank 3 [batch, seq, "
                              "features], got "
                           << shapeString(t.getShape());
}

LogicalResult expectResult(Operation *op, Value result,
                           ArrayRef<int64_t> expected, StringRef meaning) {
  auto type = cast<RankedTensorType>(result.getType());
  bool ok = type.getRank() == static_cast<int64_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i)
    if (!ShapedType::isDynamic(type.getDimSize(i)) &&
        !ShapedType::isDynamic(expected[i]) &&
        type.getDimSize(i) != expected[i])
      ok = false;
  if (ok)
    return success();
  return op->emitOpError() << "result must have shape " << shapeString(expected)
                           << " " << meaning << ", got "
                           << shapeString(type.getShape());
}

LogicalResult expectPositive(Operation *op, StringRef attr, int64_t v) {
  if (v > 0)
    return success();
  return op->emitOpError() << "attribute '" << attr
                           << "' must be positive, got " << v;
}
} // namespace

//===----------------------------------------------------------------------===//
// weight, gate, mask_row
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("tensor name must not be empty");
  if (getFile().empty())
    return emitOpError("file must not be empty");
  return success();
}

static const char *const kFamilies[] = {"layer", "head", "kv_group",
                                        "intermediate", "hidden"};

LogicalResult GateOp::verify() {
  StringRef family = getFamily();
  if (!llvm::is_contained(kFamilies, family))
    return emitOpError() << "unknown mask family '" << family
                         << "' (expected layer, head, kv_group, intermediate "
                            "or hidden)";
  auto in = cast<RankedTensorType>(getLogAlpha().getType());
  int64_t rank = (family == "layer" || family == "hidden") ? 1 : 2;
  if (in.getRank() != rank)
    return emitOpError() << "operand 'log_alpha' of the '" << family
                         << "' family must have rank " << rank << ", got "
                         << shapeString(in.getShape());
  if (getMask().getType() != getLogAlpha().getType())
    return emitOpError() << "result must have the type of 'log_alpha' ("
                         << in << "), got " << getMask().getType();
  int64_t rowSize = in.getDimSize(rank - 1);
  if (getTargetSize() <= 0 ||
      (!ShapedType::isDynamic(rowSize) && static_cast<int64_t>(getTargetSize()) > rowSize))
    return emitOpError() << "target_size must be in [1, " << rowSize
                         << "] (the size of a row), got " << getTargetSize();
  return success();
}

LogicalResult MaskRowOp::verify() {
  auto in = cast<RankedTensorType>(getMask().getType());
  if (in.getRank() < 1 || in.getRank() > 2)
    return emitOpError() << "operand 'mask' must have rank 1 [layers] or 2 "
                            "[layers, n], got "
                         << shapeString(in.getShape());
  int64_t rows = in.getDimSize(0);
  if (!ShapedType::isDynamic(rows) && static_cast<int64_t>(getIndex()) >= rows)
    return emitOpError() << "index " << getIndex() << " is out of range for "
                         << rows << " layers";
  SmallVector<int64_t> expected(in.getShape().drop_front());
  return expectResult(*this, getRow(), expected,
                      in.getRank() == 1 ? "(a scalar)" : "(one row)");
}

//===----------------------------------------------------------------------===//
// decoder ops
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  auto table = cast<RankedTensorType>(getTable().getType());
  if (table.getRank() != 2)
    return emitOpError() << "operand 'table' must have rank 2 [vocab, hidden], got "
                         << shapeString(table.getShape());
  int64_t hidden = table.getDimSize(1);
  if (cast<RankedTensorType>(getIds().getType()).getRank() != 2)
    return emitOpError() << "operand 'ids' must have rank 2 [batch, seq], got "
                         << shapeString(cast<RankedTensorType>(getIds().getType()).getShape());
  if (getHiddenMask() &&
      failed(expectShape(*this, "hidden_mask", getHiddenMask(), {hidden}, "(hidden)")))
    return failure();
  return expectResult(*this, getResult(),
                      {dim(getIds(), 0), dim(getIds(), 1), hidden},
                      "(batch, seq, hidden)");
}

LogicalResult RMSNormOp::verify() {
  if (failed(expectActivation(*this, "input", getInput())))
    return failure();
  int64_t hidden = dim(getInput(), 2);
  if (failed(expectShape(*this, "weight", getWeight(), {hidden}, "(hidden)")))
    return failure();
  if (getHiddenMask() &&
      failed(expectShape(*this, "hidden_mask", getHiddenMask(), {hidden}, "(hidden)")))
    return failure();
  if (!(getEps().convertToDouble() > 0.0))
    return emitOpError() << "attribute 'eps' must be positive, got "
                         << getEps().convertToDouble();
  return expectResult(*this, getResult(),
                      cast<RankedTensorType>(getInput().getType()).getShape(),
                      "(the input's shape)");
}

static LogicalResult verifyRopeScaling(Operation *op, DictionaryAttr dict) {
  auto type = dict.getAs<StringAttr>("rope_type");
  if (!type)
    return op->emitOpError("rope_scaling must have a string 'rope_type' "
                           "(\"linear\" or \"llama3\")");
  auto requireFloat = [&](StringRef key) -> LogicalResult {
    auto f = dict.getAs<FloatAttr>(key);
    if (f && f.getValueAsDouble() > 0)
      return success();
    return op->emitOpError() << "rope_scaling of type '" << type.getValue()
                             << "' needs a positive float '" << key << "'";
  };
  if (type.getValue() == "linear")
    return requireFloat("factor");
  if (type.getValue() == "llama3") {
    if (failed(requireFloat("factor")) || failed(requireFloat("low_freq_factor")) ||
        failed(requireFloat("high_freq_factor")))
      return failure();
    auto orig = dict.getAs<IntegerAttr>("original_max_position_embeddings");
    if (!orig || orig.getInt() <= 0)
      return op->emitOpError("rope_scaling of type 'llama3' needs a positive "
                             "integer 'original_max_position_embeddings'");
    if (dict.getAs<FloatAttr>("high_freq_factor").getValueAsDouble() <=
        dict.getAs<FloatAttr>("low_freq_factor").getValueAsDouble())
      return op->emitOpError("rope_scaling: high_freq_factor must exceed "
                             "low_freq_factor");
    return success();
  }
  return op->emitOpError() << "unknown rope_scaling type '" << type.getValue()
                           << "' (expected \"linear\" or \"llama3\")";
}

LogicalResult AttentionOp::verify() {
  if (failed(expectActivation(*this, "input", getInput())))
    return failure();
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(), hd = getHeadDim();
  if (failed(expectPositive(*this, "num_heads", heads)) ||
      failed(expectPositive(*this, "num_kv_heads", kvHeads)) ||
      failed(expectPositive(*this, "head_dim", hd)))
    return failure();
  if (heads % kvHeads != 0)
    return emitOpError() << "num_heads (" << heads
                         << ") must be a multiple of num_kv_heads (" << kvHeads
                         << ")";
  if (!(getRopeTheta().convertToDouble() > 0.0))
    return emitOpError("attribute 'rope_theta' must be positive");
  if (auto scaling = getRopeScalingAttr())
    if (failed(verifyRopeScaling(*this, scaling)))
      return failure();
  int64_t hidden = dim(getInput(), 2);
  if (failed(expectShape(*this, "wq", getWq(), {heads * hd, hidden},
                         "(num_heads*head_dim, hidden)")) ||
      failed(expectShape(*this, "wk", getWk(), {kvHeads * hd, hidden},
                         "(num_kv_heads*head_dim, hidden)")) ||
      failed(expectShape(*this, "wv", getWv(), {kvHeads * hd, hidden},
                         "(num_kv_heads*head_dim, hidden)")) ||
      failed(expectShape(*this, "wo", getWo(), {hidden, heads * hd},
                         "(hidden, num_heads*head_dim)")))
    return failure();
  if (getHeadMask() &&
      failed(expectShape(*this, "head_mask", getHeadMask(), {heads}, "(num_heads)")))
    return failure();
  if (getKvGroupMask() &&
      failed(expectShape(*this, "kv_group_mask", getKvGroupMask(), {kvHeads},
                         "(num_kv_heads)")))
    return failure();
  return expectResult(*this, getResult(),
                      cast<RankedTensorType>(getInput().getType()).getShape(),
                      "(the input's shape)");
}

LogicalResult MLPOp::verify() {
  if (failed(expectActivation(*this, "input", getInput())))
    return failure();
  int64_t hidden = dim(getInput(), 2);
  int64_t inter = dim(getWGate(), 0);
  if (failed(expectShape(*this, "w_gate", getWGate(), {inter, hidden},
                         "(intermediate, hidden)")) ||
      failed(expectShape(*this, "w_up", getWUp(), {inter, hidden},
                         "(intermediate, hidden)")) ||
      failed(expectShape(*this, "w_down", getWDown(), {hidden, inter},
                         "(hidden, intermediate)")))
    return failure();
  if (getIntermediateMask() &&
      failed(expectShape(*this, "intermediate_mask", getIntermediateMask(),
                         {inter}, "(intermediate)")))
    return failure();
  return expectResult(*this, getResult(),
                      cast<RankedTensorType>(getInput().getType()).getShape(),
                      "(the input's shape)");
}

LogicalResult ResidualAddOp::verify() {
  if (failed(expectActivation(*this, "residual", getResidual())))
    return failure();
  auto shape = cast<RankedTensorType>(getResidual().getType()).getShape();
  if (failed(expectShape(*this, "update", getUpdate(), shape,
                         "(the residual's shape)")))
    return failure();
  if (getLayerMask() &&
      failed(expectShape(*this, "layer_mask", getLayerMask(), {}, "(a scalar)")))
    return failure();
  if (getHiddenMask() &&
      failed(expectShape(*this, "hidden_mask", getHiddenMask(), {shape[2]},
                         "(hidden)")))
    return failure();
  return expectResult(*this, getResult(), shape, "(the residual's shape)");
}

LogicalResult LMHeadOp::verify() {
  if (failed(expectActivation(*this, "input", getInput())))
    return failure();
  int64_t hidden = dim(getInput(), 2);
  int64_t vocab = dim(getWeight(), 0);
  if (failed(expectShape(*this, "weight", getWeight(), {vocab, hidden},
                         "(vocab, hidden)")))
    return failure();
  if (getTied()) {
    bool isEmbedTable = llvm::any_of(getWeight().getUsers(), [&](Operation *u) {
      auto embed = dyn_cast<EmbedOp>(u);
      return embed && embed.getTable() == getWeight();
    });
    if (!isEmbedTable)
      return emitOpError("is 'tied' but operand 'weight' is not the table of a "
                         "shear.embed");
  }
  return expectResult(*this, getLogits(),
                      {dim(getInput(), 0), dim(getInput(), 1), vocab},
                      "(batch, seq, vocab)");
}

LogicalResult CrossEntropyOp::verify() {
  if (failed(expectActivation(*this, "logits", getLogits())))
    return failure();
  if (failed(expectShape(*this, "labels", getLabels(),
                         {dim(getLogits(), 0), dim(getLogits(), 1)},
                         "(batch, seq)")))
    return failure();
  return expectResult(*this, getLoss(), {}, "(a scalar)");
}

// Every call must match its kernel table entry: the lowering passes cannot
// emit a call the runtime's backends do not implement.
LogicalResult KernelOp::verify() { return analyzeKernelCall(*this); }
