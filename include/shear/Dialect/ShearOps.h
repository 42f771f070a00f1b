//===- ShearOps.h - ops of the shear dialect ------------------------------===//
#ifndef SHEAR_DIALECT_SHEAROPS_H
#define SHEAR_DIALECT_SHEAROPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "shear/Dialect/ShearDialect.h"

#define GET_OP_CLASSES
#include "shear/Dialect/ShearOps.h.inc"

#endif
