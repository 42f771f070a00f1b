//===- Npy.h - NumPy .npy arrays in and out -------------------------------===//
#ifndef SHEAR_RUNTIME_NPY_H
#define SHEAR_RUNTIME_NPY_H

#include "shear/Runtime/Tensor.h"

#include "shear/Support/Status.h"

#include <string_view>

namespace shear::rt {

/// Reads an integer array (int8..int64, uint8..uint64, little-endian, C order)
/// as int64. Errors name the file and the problem.
Result<Tensor> readNpyInt(const std::string &path);
/// The same from the file's bytes (`path` names it in errors).
Result<Tensor> parseNpyInt(std::string_view bytes, const std::string &path);
/// Writes a float32 array, atomically.
Status writeNpyF32(const std::string &path, const Tensor &t);

} // namespace shear::rt

#endif
