//===- DType.h - element types and their conversions ----------------------===//
#ifndef SHEAR_SUPPORT_DTYPE_H
#define SHEAR_SUPPORT_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shear {

/// Element types, with safetensors' names (F32, BF16, ...).
enum class DType : uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

const char *dtypeName(DType dtype);
std::optional<DType> parseDType(std::string_view name);
size_t dtypeBytes(DType dtype);
bool isFloatDType(DType dtype);

/// Conversions between float32 and the stored float types (round to nearest
/// even). Both abort on a non-float dtype (a caller's bug).
void convertToF32(DType dtype, const uint8_t *src, size_t count, float *dst);
void convertFromF32(DType dtype, const float *src, size_t count, uint8_t *dst);
float bf16ToF32(uint16_t bits);
uint16_t f32ToBf16(float value);
float f16ToF32(uint16_t bits);
uint16_t f32ToF16(float value);

/// The product of the dimensions (1 for a scalar); -1 when it overflows.
int64_t numElements(const std::vector<int64_t> &shape);
/// "[2, 3]".
std::string shapeToString(const std::vector<int64_t> &shape);

} // namespace shear

#endif
