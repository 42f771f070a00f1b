// libFuzzer target: a safetensors file (header length, JSON header, offsets).
#include "shear/Support/Safetensors.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t dataStart = 0;
  std::map<std::string, std::string> metadata;
  auto tensors = shear::SafetensorsFile::parseHeader("fuzz.safetensors", data, size, dataStart,
                                                     metadata);
  if (tensors.ok())
    for (const shear::TensorInfo &t : *tensors)
      if (dataStart + t.end > size) // what parseHeader promised
        __builtin_trap();
  return 0;
}
