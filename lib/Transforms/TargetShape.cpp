//===- TargetShape.cpp - parsing and checking --target-shape --------------===//
#include "shear/Transforms/TargetShape.h"

#include "llvm/ADT/StringExtras.h"

using namespace shear;

namespace {
struct Preset {
  const char *name;
  ShapeSpec shape; // kvHeads 0: derived from the source
};
// METHOD.md §1 (the paper's targets, from LLaMA2-7B) and two small ones for
// tests (head_dim 16, e.g. test/reference/make_tiny_hf.py's default model).
const Preset kPresets[] = {
    {"2.7b", {32, 20, 0, 2560, 6912}},
    {"1.3b", {24, 16, 0, 2048, 5504}},
    {"370m", {24, 8, 0, 1024, 2816}},
    {"tiny", {2, 2, 0, 32, 48}},
    {"tiny-gqa", {2, 2, 1, 32, 48}},
};

llvm::Error error(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg.str());
}
} // namespace

std::string shear::targetShapePresets() {
  std::string s;
  for (const Preset &p : kPresets)
    s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

llvm::Expected<ShapeSpec> shear::parseTargetShape(llvm::StringRef spec,
                                                  const ShapeSpec &source, int64_t headDim,
                                                  TargetFamilies *families) {
  spec = spec.trim();
  if (spec.empty())
    return error("no target shape: give --target-shape=PRESET (" + targetShapePresets() +
                 ") or layers=L,heads=H,kv-heads=G,hidden=D,intermediate=M");
  ShapeSpec t;
  bool found = false;
  // Which dimensions the target names: a preset all of them.
  bool seen[5] = {};
  for (const Preset &p : kPresets)
    if (spec == p.name) {
      t = p.shape;
      found = true;
      for (int i : {0, 1, 3, 4})
        seen[i] = true;
    }
  if (!found) {
    if (!spec.contains('='))
      return error("unknown target-shape preset '" + spec + "' (presets: " +
                   targetShapePresets() +
                   "; or layers=L,heads=H,kv-heads=G,hidden=D,intermediate=M)");
    llvm::SmallVector<llvm::StringRef> parts;
    spec.split(parts, ',');
    for (llvm::StringRef part : parts) {
      auto [key, value] = part.split('=');
      key = key.trim();
      value = value.trim();
      int64_t v;
      if (value.getAsInteger(10, v))
        return error("malformed target shape '" + spec + "': value of '" + key +
                     "' is not an integer ('" + value + "')");
      const char *keys[5] = {"layers", "heads", "kv-heads", "hidden", "intermediate"};
      int64_t *fields[5] = {&t.layers, &t.heads, &t.kvHeads, &t.hidden, &t.intermediate};
      int which = -1;
      for (int i = 0; i < 5; ++i)
        if (key == keys[i])
          which = i;
      if (which < 0)
        return error("malformed target shape '" + spec + "': unknown key '" + key +
                     "' (expected layers, heads, kv-heads, hidden, intermediate)");
      if (seen[which])
        return error("malformed target shape '" + spec + "': '" + key + "' given twice");
      seen[which] = true;
      *fields[which] = v;
      if (v <= 0)
        return error("target " + key + " must be positive, got " + llvm::Twine(v));
    }
    // A dimension the spec does not name stays at the source's size.
    if (!seen[0])
      t.layers = source.layers;
    if (!seen[1])
      t.heads = source.heads;
    if (!seen[3])
      t.hidden = source.hidden;
    if (!seen[4])
      t.intermediate = source.intermediate;
    if (!seen[1] && !seen[2])
      t.kvHeads = source.kvHeads;
  }

  bool gqaSource = source.kvHeads != source.heads;
  int64_t sourceGroupSize = source.heads / source.kvHeads;
  if (t.kvHeads == 0) {
    if (!gqaSource)
      t.kvHeads = t.heads;
    else if (t.heads % sourceGroupSize == 0)
      t.kvHeads = t.heads / sourceGroupSize;
    else
      return error("target heads (" + llvm::Twine(t.heads) +
                   ") is not a multiple of the source's heads per kv group (" +
                   llvm::Twine(sourceGroupSize) + "): give kv-heads explicitly");
  }

  auto tooLarge = [&](const char *what, int64_t target, int64_t src) {
    return error("target " + llvm::Twine(what) + " (" + llvm::Twine(target) +
                 ") is larger than the source's (" + llvm::Twine(src) + ")");
  };
  if (t.layers > source.layers)
    return tooLarge("layers", t.layers, source.layers);
  if (t.heads > source.heads)
    return tooLarge("heads", t.heads, source.heads);
  if (t.kvHeads > source.kvHeads)
    return tooLarge("kv-heads", t.kvHeads, source.kvHeads);
  if (t.hidden > source.hidden)
    return tooLarge("hidden", t.hidden, source.hidden);
  if (t.intermediate > source.intermediate)
    return tooLarge("intermediate", t.intermediate, source.intermediate);
  if (t.heads % t.kvHeads != 0)
    return error("target heads (" + llvm::Twine(t.heads) +
                 ") must be a multiple of target kv-heads (" + llvm::Twine(t.kvHeads) + ")");
  if (!gqaSource && t.kvHeads != t.heads)
    return error("the source has multi-head attention (kv-heads = heads = " +
                 llvm::Twine(source.heads) + "): target kv-heads (" +
                 llvm::Twine(t.kvHeads) + ") must equal target heads (" +
                 llvm::Twine(t.heads) + ")");
  if (gqaSource && t.heads / t.kvHeads > sourceGroupSize)
    return error("target heads per kv group (" + llvm::Twine(t.heads) + " / " +
                 llvm::Twine(t.kvHeads) + " = " + llvm::Twine(t.heads / t.kvHeads) +
                 ") exceeds the source's (" + llvm::Twine(sourceGroupSize) + ")");
  // LLaMA's convention hidden = heads x head_dim holds where the target
  // names both (presets do); naming only one keeps head_dim explicit.
  if (seen[1] && seen[3] && source.hidden == source.heads * headDim &&
      t.hidden != t.heads * headDim)
    return error("target hidden (" + llvm::Twine(t.hidden) +
                 ") must equal target heads x head_dim (" + llvm::Twine(t.heads) + " x " +
                 llvm::Twine(headDim) + " = " + llvm::Twine(t.heads * headDim) +
                 "): head_dim is never pruned");
  if (families) {
    families->layer = seen[0];
    families->head = seen[1] || seen[2];
    // Grouped-query sources prune heads in whole kv groups (docs/masks.md).
    families->kvGroup = gqaSource && (seen[1] || seen[2]);
    families->hidden = seen[3];
    families->intermediate = seen[4];
  }
  return t;
}
