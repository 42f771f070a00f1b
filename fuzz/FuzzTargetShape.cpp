// libFuzzer target: --target-shape specs against a LLaMA-3-8B-like source.
#include "shear/Transforms/TargetShape.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const shear::ShapeSpec gqa{32, 32, 8, 4096, 14336}, mha{32, 32, 32, 4096, 11008};
  llvm::StringRef spec(reinterpret_cast<const char *>(data), size);
  for (const shear::ShapeSpec *source : {&gqa, &mha}) {
    shear::TargetFamilies families;
    auto t = shear::parseTargetShape(spec, *source, 128, &families);
    if (!t) {
      llvm::consumeError(t.takeError());
      continue;
    }
    // An accepted target fits in the source and keeps whole kv groups.
    if (t->layers < 1 || t->layers > source->layers || t->heads < 1 || t->kvHeads < 1 ||
        t->heads > source->heads || t->kvHeads > source->kvHeads || t->heads % t->kvHeads ||
        t->hidden < 1 || t->hidden > source->hidden || t->intermediate < 1 ||
        t->intermediate > source->intermediate)
      __builtin_trap();
  }
  return 0;
}
