//===- ShearDialect.h - the shear dialect ---------------------------------===//
#ifndef SHEAR_DIALECT_SHEARDIALECT_H
#define SHEAR_DIALECT_SHEARDIALECT_H

#include "mlir/IR/Dialect.h"

#include "shear/Dialect/ShearDialect.h.inc"

#endif
