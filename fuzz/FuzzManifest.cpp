// libFuzzer target: a data directory's manifest.json (fields, ranges, sizes).
#include "shear/Runtime/Dataset.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto m = shear::rt::parseManifest(std::string_view(reinterpret_cast<const char *>(data), size),
                                    "fuzz/manifest.json");
  if (m.ok()) {
    double total = 0;
    for (const auto &d : m->domains)
      total += d.weight;
    if (m->domains.empty() || !(total > 0.999 && total < 1.001)) // weights are normalized
      __builtin_trap();
  }
  return 0;
}
