//===- KernelTable.h - the one declaration of every runtime kernel -------===//
//
// What the lowering may emit and what every backend must implement: each
// kernel's operands (fixed, optional slots that may be empty, or a variadic
// tail), results (optional ones exist exactly when a named operand does),
// typed attributes, and which results update an operand in place. The
// compiler checks every `shear.kernel` against it (the op's verifier), the
// program reader checks every call of a program file against it, and each
// backend registers one implementation per entry (a test fails if any entry
// lacks one).
//
// In the IR, optional operands follow the fixed ones that precede them in
// the declaration and are named, in declaration order, by the op's `masks`
// attribute; in a program file every operand slot is explicit (null when
// absent).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_KERNELTABLE_H
#define SHEAR_SUPPORT_KERNELTABLE_H

#include "shear/Support/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shear {

enum class KernelId : uint16_t {
#define SHEAR_KERNEL(id, name) id,
#include "shear/Support/Kernels.def"
  NumKernels
};

/// What an operand or result holds: floating-point data or integers (token
/// ids, labels, the step, a position).
enum class ValueClass : uint8_t { Float, Int };
enum class AttrType : uint8_t { Int, Float, String, Bool };
const char *attrTypeName(AttrType type);

struct OperandDecl {
  enum Arity : uint8_t { Fixed, Optional, Variadic };
  std::string name;
  ValueClass cls = ValueClass::Float;
  Arity arity = Fixed;
};

struct ResultDecl {
  std::string name;
  ValueClass cls = ValueClass::Float;
  int presentWith = -1; // optional result: present exactly when this operand is
  int updates = -1;     // in-place result: the operand whose storage it updates
  /// In place, every element written and none read: the operand's old
  /// contents do not matter (a host-staged call need not copy them over).
  bool overwrites = false;
};

struct AttrDecl {
  std::string name;
  AttrType type = AttrType::Int;
  bool required = true;
};

struct KernelDecl {
  KernelId id;
  std::string name;
  std::vector<OperandDecl> operands;
  std::vector<ResultDecl> results;
  std::vector<AttrDecl> attrs;
  std::string summary;

  int operandIndex(std::string_view name) const;
  const AttrDecl *attr(std::string_view name) const;
  bool variadic() const { return !operands.empty() && operands.back().arity == OperandDecl::Variadic; }
};

/// Every kernel, in KernelId order.
const std::vector<KernelDecl> &kernelTable();
const KernelDecl &kernelDecl(KernelId id);
/// nullptr for a name the table does not declare.
const KernelDecl *findKernel(std::string_view name);

/// How a call's operands and results fill the declaration's slots.
struct SlotMapping {
  /// Per declared operand (the variadic one last): the index of the call's
  /// operand in it, or -1 for an absent optional operand.
  std::vector<int> operands;
  /// Operands of the variadic tail (indices into the call's operands).
  std::vector<int> variadic;
  /// Per declared result: the index of the call's result, or -1 when absent.
  std::vector<int> results;
};

/// Maps a call in IR form (positional operands, `present` naming the
/// optional operands given, in declaration order) onto `decl`'s slots.
/// Errors say what is wrong in the caller's terms.
Result<SlotMapping> mapCall(const KernelDecl &decl, size_t numOperands,
                            const std::vector<std::string> &present, size_t numResults);

} // namespace shear

#endif
