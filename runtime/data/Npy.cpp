//===- Npy.cpp - NumPy .npy arrays in and out -----------------------------===//
#include "shear/Runtime/Npy.h"
#include "shear/Target/ArtifactPaths.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace shear::rt;

static llvm::Error npyError(const std::string &path, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), (path + ": " + what).str());
}

llvm::Expected<Tensor> shear::rt::readNpyInt(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer)
    return npyError(path, "cannot read: " + buffer.getError().message());
  llvm::StringRef data = (*buffer)->getBuffer();
  if (data.size() < 10 || !data.starts_with("\x93NUMPY"))
    return npyError(path, "not a .npy file");
  uint8_t major = data[6];
  size_t headerLen, start;
  if (major == 1) {
    headerLen = static_cast<uint8_t>(data[8]) | static_cast<uint8_t>(data[9]) << 8;
    start = 10;
  } else {
    if (data.size() < 12)
      return npyError(path, "truncated .npy header");
    headerLen = 0;
    for (int i = 3; i >= 0; --i)
      headerLen = headerLen << 8 | static_cast<uint8_t>(data[8 + i]);
    start = 12;
  }
  if (start + headerLen > data.size())
    return npyError(path, "truncated .npy header");
  llvm::StringRef header = data.substr(start, headerLen);
  auto field = [&](llvm::StringRef key) -> llvm::StringRef {
    size_t at = header.find(("'" + key + "'").str());
    if (at == llvm::StringRef::npos)
      return "";
    llvm::StringRef rest = header.drop_front(at + key.size() + 2).ltrim(" :");
    return rest;
  };
  llvm::StringRef descr = field("descr");
  if (!descr.consume_front("'"))
    return npyError(path, "no dtype in the .npy header");
  descr = descr.take_until([](char c) { return c == '\''; });
  if (field("fortran_order").starts_with("True"))
    return npyError(path, "Fortran-ordered arrays are not supported");
  llvm::StringRef shapeText = field("shape");
  if (!shapeText.consume_front("("))
    return npyError(path, "no shape in the .npy header");
  shapeText = shapeText.take_until([](char c) { return c == ')'; });
  std::vector<int64_t> shape;
  llvm::SmallVector<llvm::StringRef> parts;
  shapeText.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef p : parts) {
    int64_t d;
    if (p.trim().getAsInteger(10, d) || d < 0)
      return npyError(path, "bad shape in the .npy header");
    shape.push_back(d);
  }
  char kind = descr.size() >= 3 ? descr[1] : '?';
  int width = 0;
  if (descr.size() >= 3)
    descr.drop_front(2).getAsInteger(10, width);
  bool bigEndian = descr.starts_with(">") && width > 1;
  if ((kind != 'i' && kind != 'u') || bigEndian ||
      (width != 1 && width != 2 && width != 4 && width != 8))
    return npyError(path, "token arrays must be little-endian integers, got dtype '" + descr + "'");
  Tensor t = Tensor::empty(shape, ElemType::I64);
  size_t n = t.numel();
  size_t offset = start + headerLen;
  if (data.size() - offset != n * width)
    return npyError(path, "holds " + llvm::Twine(data.size() - offset) + " data bytes, shape " +
                              t.shapeString() + " needs " + llvm::Twine(n * width));
  const char *p = data.data() + offset;
  for (size_t i = 0; i < n; ++i) {
    uint64_t raw = 0;
    std::memcpy(&raw, p + i * width, width);
    int64_t v;
    if (kind == 'u' || width == 8)
      v = static_cast<int64_t>(raw);
    else { // sign-extend
      int shift = 64 - 8 * width;
      v = static_cast<int64_t>(raw << shift) >> shift;
    }
    t.i64()[i] = v;
  }
  return t;
}

llvm::Error shear::rt::writeNpyF32(const std::string &path, const Tensor &t) {
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
  return shear::writeFileAtomically(path, out);
}
