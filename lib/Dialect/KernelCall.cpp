//===- KernelCall.cpp - a shear.kernel op read against the kernel table ---===//
#include "shear/Dialect/KernelCall.h"
#include "shear/Dialect/ShearOps.h"

using namespace mlir;
using namespace shear;

namespace {
/// Adds `attr` (flattening dictionaries) to `out`; false for a kind no
/// kernel attribute can have.
bool flatten(const std::string &name, Attribute attr,
             std::vector<std::pair<std::string, Attribute>> &out) {
  if (auto dict = dyn_cast<DictionaryAttr>(attr)) {
    for (NamedAttribute n : dict)
      if (!flatten(name + "." + n.getName().str(), n.getValue(), out))
        return false;
    return true;
  }
  out.push_back({name, attr});
  return true;
}

std::optional<AttrValue> typed(Attribute a, AttrType type) {
  AttrValue v;
  v.type = type;
  switch (type) {
  case AttrType::Bool:
    if (auto b = dyn_cast<BoolAttr>(a))
      return v.b = b.getValue(), v;
    if (isa<UnitAttr>(a))
      return v.b = true, v;
    return std::nullopt;
  case AttrType::Int:
    if (isa<BoolAttr>(a))
      return std::nullopt;
    if (auto i = dyn_cast<IntegerAttr>(a))
      return v.i = i.getInt(), v;
    return std::nullopt;
  case AttrType::Float:
    if (auto f = dyn_cast<FloatAttr>(a))
      return v.f = f.getValueAsDouble(), v;
    if (auto i = dyn_cast<IntegerAttr>(a); i && !isa<BoolAttr>(a))
      return v.f = static_cast<double>(i.getInt()), v;
    return std::nullopt;
  case AttrType::String:
    if (auto s = dyn_cast<StringAttr>(a))
      return v.s = s.getValue().str(), v;
    return std::nullopt;
  }
  return std::nullopt;
}

bool isIntegerTensor(Type t) {
  return isa<IntegerType>(cast<RankedTensorType>(t).getElementType());
}
} // namespace

FailureOr<KernelCall> shear::analyzeKernelCall(KernelOp op) {
  KernelCall call;
  std::string callee = op.getCallee().str();
  call.decl = findKernel(callee);
  if (!call.decl)
    return op.emitOpError() << "calls '" << callee
                            << "', which the kernel table does not declare";
  const KernelDecl &decl = *call.decl;

  std::vector<std::string> present;
  if (Attribute masks = op->getAttr("masks")) {
    auto list = dyn_cast<ArrayAttr>(masks);
    if (!list)
      return op.emitOpError("'masks' must be an array of optional operand names");
    for (Attribute m : list) {
      auto s = dyn_cast<StringAttr>(m);
      if (!s)
        return op.emitOpError("'masks' must be an array of optional operand names");
      present.push_back(s.getValue().str());
    }
  }
  auto slots = mapCall(decl, op.getArgs().size(), present, op.getNumResults());
  if (!slots.ok())
    return op.emitOpError() << slots.status().message();
  call.slots = slots.take();

  auto checkClass = [&](Type t, ValueClass cls, const std::string &what) -> LogicalResult {
    if ((cls == ValueClass::Int) == isIntegerTensor(t))
      return success();
    return op.emitOpError() << what << " must be " << (cls == ValueClass::Int ? "an integer" : "a float")
                            << " tensor, got " << t;
  };
  for (size_t s = 0; s < decl.operands.size(); ++s) {
    const OperandDecl &o = decl.operands[s];
    if (o.arity == OperandDecl::Variadic) {
      for (int i : call.slots.variadic)
        if (failed(checkClass(op.getArgs()[i].getType(), o.cls, "operand '" + o.name + "'")))
          return failure();
    } else if (call.slots.operands[s] >= 0 &&
               failed(checkClass(op.getArgs()[call.slots.operands[s]].getType(), o.cls,
                                 "operand '" + o.name + "'"))) {
      return failure();
    }
  }
  for (size_t r = 0; r < decl.results.size(); ++r)
    if (call.slots.results[r] >= 0 &&
        failed(checkClass(op.getResult(call.slots.results[r]).getType(), decl.results[r].cls,
                          "result '" + decl.results[r].name + "'")))
      return failure();

  std::vector<std::pair<std::string, Attribute>> attrs;
  for (NamedAttribute a : op->getAttrs()) {
    StringRef name = a.getName().getValue();
    if (name == "callee" || name == "masks")
      continue;
    if (!flatten(name.str(), a.getValue(), attrs))
      return op.emitOpError() << "attribute '" << name << "' cannot be passed to a kernel";
  }
  for (const auto &[name, attr] : attrs) {
    const AttrDecl *d = decl.attr(name);
    if (!d)
      return op.emitOpError() << "'" << callee << "' has no attribute '" << name << "'";
    auto v = typed(attr, d->type);
    if (!v)
      return op.emitOpError() << "attribute '" << name << "' of '" << callee << "' must be "
                              << attrTypeName(d->type) << ", got " << attr;
    call.attrs[name] = *v;
  }
  for (const AttrDecl &d : decl.attrs)
    if (d.required && !call.attrs.count(d.name))
      return op.emitOpError() << "'" << callee << "' needs attribute '" << d.name << "' ("
                              << attrTypeName(d.type) << ")";
  return call;
}

RankedTensorType shear::gradientType(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  return RankedTensorType::get(t.getShape(), Float32Type::get(v.getContext()));
}
