//===- ShearDialect.cpp - dialect registration ----------------------------===//
#include "shear/Dialect/ShearDialect.h"
#include "shear/Dialect/ShearOps.h"

using namespace mlir;
using namespace shear;

#include "shear/Dialect/ShearDialect.cpp.inc"

void ShearDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "shear/Dialect/ShearOps.cpp.inc"
      >();
}
