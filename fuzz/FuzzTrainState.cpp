// libFuzzer target: a checkpoint's state.json, against a fixed two-domain
// data set and a 100-step run.
#include "../runtime/train/Checkpoint.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const shear::rt::Manifest manifest = [] {
    shear::rt::Manifest m;
    m.seqLen = 16;
    m.domains = {{"web", "web.train.bin", "web.eval.bin", 100, 4, 0.5},
                 {"code", "code.train.bin", "code.eval.bin", 50, 4, 0.5}};
    return m;
  }();
  std::string_view text(reinterpret_cast<const char *>(data), size);
  for (bool ref : {false, true}) {
    auto st = shear::rt::parseTrainState(text, "fuzz/state.json", manifest, 100, ref);
    if (st.ok() && (st->step < 1 || st->step > 100 || st->positions.size() != 2 ||
                    st->positions[0] > 100 || st->positions[1] > 50))
      __builtin_trap();
  }
  return 0;
}
