// libFuzzer target: an HF directory's config.json and shard index.
#include "shear/Support/Safetensors.h"
#include "shear/Target/HF.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  shear::ModelConfig config;
  if (llvm::Error e = shear::parseHFConfig(text, "fuzz/config.json", config)) {
    llvm::consumeError(std::move(e));
  } else if (config.hiddenSize <= 0 || config.numHeads <= 0 || config.numKvHeads <= 0 ||
             config.numHeads % config.numKvHeads != 0 || config.headDim <= 0) {
    __builtin_trap(); // an accepted config is a usable shape
  }
  (void)shear::parseShardIndex(std::string_view(text.data(), text.size()),
                               "fuzz/model.safetensors.index.json");
  return 0;
}
