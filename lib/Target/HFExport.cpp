//===- HFExport.cpp - a dense model view to an HF directory ---------------===//
#include "shear/Target/ArtifactPaths.h"
#include "shear/Target/HF.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

using namespace shear;
using llvm::Error;
using llvm::StringRef;

namespace {

std::string torchDType(DType d) {
  switch (d) {
  case DType::BF16:
    return "bfloat16";
  case DType::F16:
    return "float16";
  default:
    return "float32";
  }
}

json::Object configJson(const ModelView &v) {
  const ModelConfig &c = v.config;
  json::Object o{
      {"architectures", json::Array{c.architecture}},
      {"model_type", c.architecture == "MistralForCausalLM" ? "mistral" : "llama"},
      {"hidden_size", c.hiddenSize},
      {"intermediate_size", c.intermediateSize},
      {"num_hidden_layers", c.numLayers},
      {"num_attention_heads", c.numHeads},
      {"num_key_value_heads", c.numKvHeads},
      {"head_dim", c.headDim},
      {"hidden_act", "silu"},
      {"rms_norm_eps", c.rmsNormEps},
      {"rope_theta", c.ropeTheta},
      {"vocab_size", c.vocabSize},
      {"tie_word_embeddings", c.tieWordEmbeddings},
      {"max_position_embeddings", c.maxPositionEmbeddings},
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"mlp_bias", false},
      {"initializer_range", 0.02},
      {"pretraining_tp", 1},
      {"use_cache", true},
      {"torch_dtype", torchDType(v.embed.dtype)},
  };
  if (c.ropeScaling.type.empty()) {
    o["rope_scaling"] = nullptr;
  } else {
    json::Object rs{{"rope_type", c.ropeScaling.type}, {"factor", c.ropeScaling.factor}};
    if (c.ropeScaling.type == "llama3") {
      rs["low_freq_factor"] = c.ropeScaling.lowFreqFactor;
      rs["high_freq_factor"] = c.ropeScaling.highFreqFactor;
      rs["original_max_position_embeddings"] = c.ropeScaling.originalMaxPositions;
    }
    o["rope_scaling"] = std::move(rs);
  }
  if (c.bosTokenId)
    o["bos_token_id"] = *c.bosTokenId;
  if (c.eosTokenId)
    o["eos_token_id"] = *c.eosTokenId;
  if (c.slidingWindow)
    o["sliding_window"] = *c.slidingWindow;
  return o;
}

} // namespace

/// Writes the export into `dir`, an empty directory.
static Error writeHFDirectory(const ModelView &viewIn, StringRef dir, uint64_t maxShardBytes,
                              std::optional<DType> dtype) {
  // The stored dtype of every weight: its own, or the one asked for.
  ModelView view = viewIn;
  auto stored = [&](const WeightRef &w) { return dtype.value_or(w.dtype); };

  // Plan the shards: tensors in HF order, a new shard when the limit is passed.
  auto weights = view.hfWeights();
  std::vector<std::vector<size_t>> shards(1);
  uint64_t shardBytes = 0, total = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const WeightRef &w = *weights[i].second;
    uint64_t bytes = numElements(w.shape) * dtypeBytes(stored(w));
    if (!shards.back().empty() && shardBytes + bytes > maxShardBytes) {
      shards.emplace_back();
      shardBytes = 0;
    }
    shards.back().push_back(i);
    shardBytes += bytes;
    total += bytes;
  }

  WeightStore store;
  json::Object weightMap;
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    if (shards.size() == 1)
      snprintf(name, sizeof name, "model.safetensors");
    else
      snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    std::vector<TensorSpec> specs;
    for (size_t i : shards[s]) {
      const WeightRef &w = *weights[i].second;
      specs.push_back({weights[i].first, stored(w), w.shape});
      weightMap[weights[i].first] = std::string(name);
    }
    auto writer = toLlvm(SafetensorsWriter::create(joinPath(dir, name), specs, {{"format", "pt"}}));
    if (!writer)
      return writer.takeError();
    for (size_t i : shards[s]) {
      const WeightRef &w = *weights[i].second;
      auto t = toLlvm(store.tensor(w.file, w.name));
      if (!t)
        return t.takeError();
      auto [file, info] = *t;
      if (info->shape != w.shape || info->dtype != w.dtype)
        return llvmFileError(file->path(), "tensor '" + w.name + "' is " + dtypeName(info->dtype) +
                                           " " + shapeToString(info->shape) +
                                           " but the module declares " + dtypeName(w.dtype) +
                                           " " + shapeToString(w.shape));
      if (Error e = toLlvm(checkFinite(*file, *info)))
        return e;
      Error e = stored(w) == info->dtype
                    ? toLlvm((*writer)->write(file->data(*info), info->byteSize()))
                    : toLlvm((*writer)->writeF32(file->readF32(*info)));
      if (e)
        return e;
      file->release(*info);
    }
    if (Error e = toLlvm((*writer)->commit()))
      return e;
  }
  if (shards.size() > 1) {
    json::Object index{{"metadata", json::Object{{"total_size", total}}},
                             {"weight_map", std::move(weightMap)}};
    if (Error e = toLlvm(writeFileAtomically(joinPath(dir, "model.safetensors.index.json"),
                                             json::write(json::Value(std::move(index)), 2))))
      return e;
  }
  if (dtype)
    view.embed.dtype = *dtype; // config.json's torch_dtype
  return writeHFConfigFiles(view, dir.str());
}

Error shear::writeHFConfigFiles(const ModelView &view, const std::string &dir) {
  if (view.config.bosTokenId || view.config.eosTokenId) {
    json::Object generation{{"_from_model_config", true}};
    if (view.config.bosTokenId)
      generation["bos_token_id"] = *view.config.bosTokenId;
    if (view.config.eosTokenId)
      generation["eos_token_id"] = *view.config.eosTokenId;
    if (Error e = toLlvm(writeJsonFileAtomically(joinPath(dir, "generation_config.json"),
                                                 json::Value(std::move(generation)))))
      return e;
  }
  return toLlvm(writeJsonFileAtomically(joinPath(dir, "config.json"), configJson(view)));
}

/// The files an export writes (and an earlier export's stale shards).
static bool isExportOutput(llvm::StringRef name) {
  return name == "config.json" || name == "model.safetensors.index.json" ||
         name == "generation_config.json" ||
         (name.starts_with("model") && name.ends_with(".safetensors"));
}

// The whole directory is written under a temporary name beside the target
// and swapped in only when complete: a failed export leaves an existing
// directory as it was, never a mix of old and new shards. Files of the
// existing directory that the export does not write (a tokenizer, a README)
// are carried over.
Error shear::exportHF(const ModelView &view, StringRef dirIn, uint64_t maxShardBytes,
                      std::optional<DType> dtype, const std::string &tokenizer,
                      const std::string &spm) {
  if (view.hasMasks())
    return llvmFileError(dirIn, "the model still has masks; export a dense model (run "
                                "--finalize-masks --materialize-shapes first)");
  std::string dir = absolutePath(dirIn, ".");
  std::string parent = parentDirectory(dir), name = fileName(dir);
  if (pathExists(dir) && !isDirectory(dir))
    return llvmFileError(dir, "exists and is not a directory");
  if (Status made = createDirectories(parent); !made.ok())
    return toLlvm(made);
  std::string tmp = joinPath(parent, "." + name + ".tmp-" + std::to_string(::getpid()));
  (void)removeAll(tmp);
  if (Status made = createDirectories(tmp); !made.ok())
    return toLlvm(made);
  auto discard = [&](Error e) {
    (void)removeAll(tmp);
    return e;
  };
  if (Error e = writeHFDirectory(view, tmp, maxShardBytes, dtype))
    return discard(std::move(e));
  std::string source = tokenizer.empty() ? view.config.tokenizer : tokenizer;
  if (!source.empty() && source != "none")
    if (Error e = writeTokenizerFiles(source, tmp, view.config.vocabSize,
                                      view.config.maxPositionEmbeddings, spm))
      return discard(std::move(e));
  if (!isDirectory(dir)) {
    if (std::rename(tmp.c_str(), dir.c_str()) != 0)
      return discard(llvmFileError(dir, "cannot move the export into place"));
    syncDirectory(parent);
    return Error::success();
  }
  namespace stdfs = std::filesystem;
  std::error_code ec;
  for (const auto &entry : stdfs::directory_iterator(dir, ec)) {
    std::string entryName = entry.path().filename().string();
    if (isExportOutput(entryName) || pathExists(joinPath(tmp, entryName)))
      continue; // written by this export
    stdfs::copy(entry.path(), stdfs::path(tmp) / entryName,
                stdfs::copy_options::recursive | stdfs::copy_options::create_hard_links |
                    stdfs::copy_options::copy_symlinks,
                ec);
    if (ec)
      return discard(llvmFileError(entry.path().string(), "cannot carry over: " + ec.message()));
  }
  // One atomic exchange of the two directories, then the old one goes.
  if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0)
    return discard(llvmFileError(dir, std::string("cannot swap the export into place: ") +
                                          std::strerror(errno)));
  syncDirectory(parent);
  (void)removeAll(tmp);
  return Error::success();
}
