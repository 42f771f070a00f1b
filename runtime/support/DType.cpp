//===- DType.cpp - element types and their conversions --------------------===//
#include "shear/Support/DType.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace shear;

namespace {
struct DTypeEntry {
  DType dtype;
  const char *name;
  size_t bytes;
};
const DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8},  {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},  {DType::I8, "I8", 1},   {DType::U64, "U64", 8},
    {DType::U32, "U32", 4},  {DType::U16, "U16", 2}, {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1}};

[[noreturn]] void notFloat(const char *what, DType d) {
  std::fprintf(stderr, "shear: internal error: %s on the non-float dtype %s\n", what,
               kDTypes[static_cast<int>(d)].name);
  std::abort();
}
} // namespace

const char *shear::dtypeName(DType d) { return kDTypes[static_cast<int>(d)].name; }
size_t shear::dtypeBytes(DType d) { return kDTypes[static_cast<int>(d)].bytes; }
bool shear::isFloatDType(DType d) {
  return d == DType::F64 || d == DType::F32 || d == DType::F16 || d == DType::BF16;
}
std::optional<DType> shear::parseDType(std::string_view name) {
  for (const auto &e : kDTypes)
    if (name == e.name)
      return e.dtype;
  return std::nullopt;
}

float shear::bf16ToF32(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t shear::f32ToBf16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a quiet NaN
    return static_cast<uint16_t>((u >> 16) | 0x40);
  uint32_t rounding = 0x7fffu + ((u >> 16) & 1u); // round to nearest even
  return static_cast<uint16_t>((u + rounding) >> 16);
}

float shear::f16ToF32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else { // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400u));
      u = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | mant << 13;
  } else {
    u = sign | (exp + 112) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t shear::f32ToF16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u)
    return sign | 0x7e00u; // NaN
  if (absu >= 0x477ff000u) // rounds to >= 65520: infinity
    return sign | 0x7c00u;
  if (absu < 0x38800000u) { // below the smallest normal half: subnormal or 0
    if (absu < 0x33000000u)
      return sign;
    uint32_t mant = (absu & 0x7fffffu) | 0x800000u;
    int shift = 113 - static_cast<int>(absu >> 23) + 13;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u)))
      ++half;
    return sign | static_cast<uint16_t>(half);
  }
  uint32_t rounded = absu + 0xfffu + ((absu >> 13) & 1u);
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
}

void shear::convertToF32(DType dtype, const uint8_t *src, size_t n, float *dst) {
  switch (dtype) {
  case DType::F32:
    std::memcpy(dst, src, n * 4);
    return;
  case DType::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b;
      std::memcpy(&b, src + 2 * i, 2);
      dst[i] = bf16ToF32(b);
    }
    return;
  case DType::F16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b;
      std::memcpy(&b, src + 2 * i, 2);
      dst[i] = f16ToF32(b);
    }
    return;
  case DType::F64:
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      dst[i] = static_cast<float>(d);
    }
    return;
  default:
    notFloat("convertToF32", dtype);
  }
}

void shear::convertFromF32(DType dtype, const float *src, size_t n, uint8_t *dst) {
  switch (dtype) {
  case DType::F32:
    std::memcpy(dst, src, n * 4);
    return;
  case DType::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b = f32ToBf16(src[i]);
      std::memcpy(dst + 2 * i, &b, 2);
    }
    return;
  case DType::F16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t b = f32ToF16(src[i]);
      std::memcpy(dst + 2 * i, &b, 2);
    }
    return;
  case DType::F64:
    for (size_t i = 0; i < n; ++i) {
      double d = src[i];
      std::memcpy(dst + 8 * i, &d, 8);
    }
    return;
  default:
    notFloat("convertFromF32", dtype);
  }
}

int64_t shear::numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d != 0 && n > INT64_MAX / d))
      return -1;
    n *= d;
  }
  return n;
}

std::string shear::shapeToString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
