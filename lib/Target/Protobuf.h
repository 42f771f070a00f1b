//===- Protobuf.h - the protobuf wire format, for writing ONNX ------------===//
//
// ONNX models are protobuf messages. shear writes them with this small
// encoder (varints, length-delimited fields) instead of linking libprotobuf,
// which keeps the tools free of protobuf version and exception constraints;
// the tests validate the result with onnx.checker and run it in onnxruntime.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_LIB_TARGET_PROTOBUF_H
#define SHEAR_LIB_TARGET_PROTOBUF_H

#include <cstdint>
#include <cstring>
#include <string>

namespace shear::pb {

class Message {
public:
  void varint(int field, uint64_t v) {
    key(field, 0);
    raw(v);
  }
  void sint(int field, int64_t v) { varint(field, static_cast<uint64_t>(v)); }
  void f32(int field, float v) {
    key(field, 5);
    char b[4];
    std::memcpy(b, &v, 4);
    buf_.append(b, 4);
  }
  void bytes(int field, const std::string &s) { bytes(field, s.data(), s.size()); }
  void bytes(int field, const void *data, size_t size) {
    key(field, 2);
    raw(size);
    buf_.append(static_cast<const char *>(data), size);
  }
  void message(int field, const Message &m) { bytes(field, m.buf_); }
  const std::string &data() const { return buf_; }

private:
  void key(int field, int wire) { raw(static_cast<uint64_t>(field) << 3 | wire); }
  void raw(uint64_t v) {
    while (v >= 0x80) {
      buf_ += static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf_ += static_cast<char>(v);
  }
  std::string buf_;
};

} // namespace shear::pb

#endif
