//===- Npy.cpp - NumPy .npy arrays in and out -----------------------------===//
#include "shear/Runtime/Npy.h"
#include "shear/Support/DType.h"
#include "shear/Support/Files.h"

#include <cstring>
#include <string_view>

using namespace shear;
using namespace shear::rt;

namespace {
std::string_view trimLeft(std::string_view s, std::string_view chars) {
  size_t i = s.find_first_not_of(chars);
  return i == std::string_view::npos ? std::string_view() : s.substr(i);
}
std::string_view trim(std::string_view s) {
  s = trimLeft(s, " \t\n");
  size_t e = s.find_last_not_of(" \t\n");
  return e == std::string_view::npos ? std::string_view() : s.substr(0, e + 1);
}
bool parseInt(std::string_view s, int64_t &out) {
  if (s.empty() || s.size() > 18)
    return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    out = out * 10 + (c - '0');
  }
  return true;
}
} // namespace

Result<Tensor> shear::rt::readNpyInt(const std::string &path) {
  auto bytes = readFile(path);
  if (!bytes.ok())
    return bytes.status();
  return parseNpyInt(*bytes, path);
}

Result<Tensor> shear::rt::parseNpyInt(std::string_view data, const std::string &path) {
  if (data.size() < 10 || data.substr(0, 6) != "\x93NUMPY")
    return fileError(path, "not a .npy file");
  uint8_t major = data[6];
  size_t headerLen, start;
  if (major == 1) {
    headerLen = static_cast<uint8_t>(data[8]) | static_cast<uint8_t>(data[9]) << 8;
    start = 10;
  } else {
    if (data.size() < 12)
      return fileError(path, "truncated .npy header");
    headerLen = 0;
    for (int i = 3; i >= 0; --i)
      headerLen = headerLen << 8 | static_cast<uint8_t>(data[8 + i]);
    start = 12;
  }
  if (headerLen > data.size() - start)
    return fileError(path, "truncated .npy header");
  std::string_view header = data.substr(start, headerLen);
  auto field = [&](std::string_view key) -> std::string_view {
    size_t at = header.find("'" + std::string(key) + "'");
    if (at == std::string_view::npos)
      return {};
    return trimLeft(header.substr(at + key.size() + 2), " :");
  };
  std::string_view descr = field("descr");
  if (descr.empty() || descr[0] != '\'')
    return fileError(path, "no dtype in the .npy header");
  descr = descr.substr(1, descr.find('\'', 1) == std::string_view::npos ? 0 : descr.find('\'', 1) - 1);
  if (field("fortran_order").substr(0, 4) == "True")
    return fileError(path, "Fortran-ordered arrays are not supported");
  std::string_view shapeText = field("shape");
  if (shapeText.empty() || shapeText[0] != '(')
    return fileError(path, "no shape in the .npy header");
  shapeText = shapeText.substr(1, shapeText.find(')') == std::string_view::npos
                                      ? std::string_view::npos
                                      : shapeText.find(')') - 1);
  std::vector<int64_t> shape;
  while (!shapeText.empty()) {
    size_t comma = shapeText.find(',');
    std::string_view part = trim(shapeText.substr(0, comma));
    shapeText = comma == std::string_view::npos ? std::string_view() : shapeText.substr(comma + 1);
    if (part.empty())
      continue;
    int64_t d;
    if (!parseInt(part, d))
      return fileError(path, "bad shape in the .npy header");
    shape.push_back(d);
  }
  char kind = descr.size() >= 3 ? descr[1] : '?';
  int64_t width = 0;
  if (descr.size() >= 3 && !parseInt(descr.substr(2), width))
    width = 0;
  bool bigEndian = descr.substr(0, 1) == ">" && width > 1;
  if ((kind != 'i' && kind != 'u') || bigEndian ||
      (width != 1 && width != 2 && width != 4 && width != 8))
    return fileError(path, "token arrays must be little-endian integers, got dtype '" +
                               std::string(descr) + "'");
  // The element count comes from the file: check it against the file's size
  // before allocating anything.
  size_t offset = start + headerLen;
  size_t available = data.size() - offset;
  int64_t n = numElements(shape);
  if (n < 0 || static_cast<uint64_t>(n) > available / static_cast<uint64_t>(width) ||
      static_cast<uint64_t>(n) * width != available)
    return fileError(path, "holds " + std::to_string(available) + " data bytes, shape " +
                               shapeToString(shape) + " needs " +
                               (n < 0 ? std::string("more than 2^63")
                                      : std::to_string(static_cast<uint64_t>(n) * width)));
  Tensor t = Tensor::empty(shape, DType::I64);
  const char *p = data.data() + offset;
  for (int64_t i = 0; i < n; ++i) {
    uint64_t raw = 0;
    std::memcpy(&raw, p + i * width, width);
    int64_t v;
    if (kind == 'u' || width == 8)
      v = static_cast<int64_t>(raw);
    else { // sign-extend
      int shift = 64 - 8 * static_cast<int>(width);
      v = static_cast<int64_t>(raw << shift) >> shift;
    }
    t.i64()[i] = v;
  }
  return t;
}

Status shear::rt::writeNpyF32(const std::string &path, const Tensor &t) {
  std::string shape = "(";
  for (int64_t d : t.shape())
    shape += std::to_string(d) + ",";
  if (t.rank() > 1)
    shape.pop_back();
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char *>(t.f32()), t.numel() * sizeof(float));
  return writeFileAtomically(path, out);
}
