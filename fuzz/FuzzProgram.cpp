// libFuzzer target: program files (parse, verify, print; printing a parsed
// program and parsing it again gives the same program).
#include "shear/Support/Program.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto program = shear::parseProgram(text, "fuzz.json");
  if (program.ok()) {
    std::string printed = shear::printProgram(*program);
    auto again = shear::parseProgram(printed, "fuzz.json");
    if (!again.ok() || shear::printProgram(*again) != printed)
      __builtin_trap();
  }
  return 0;
}
