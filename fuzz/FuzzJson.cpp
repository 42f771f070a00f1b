// libFuzzer target: the support library's JSON parser, and its writer's
// promise that what it writes parses back.
#include "shear/Support/Json.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto value = shear::json::parse(text);
  if (value.ok()) {
    std::string written = shear::json::write(*value);
    auto again = shear::json::parse(written, {64, true});
    if (!again.ok() || shear::json::write(*again) != written)
      __builtin_trap();
  }
  return 0;
}
