// libFuzzer target: .npy token arrays (header, dtype, shape vs size).
#include "shear/Runtime/Npy.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto t = shear::rt::parseNpyInt(std::string_view(reinterpret_cast<const char *>(data), size),
                                  "fuzz.npy");
  if (t.ok() && t->bytes() > size * 8) // never more elements than the bytes can hold
    __builtin_trap();
  return 0;
}
