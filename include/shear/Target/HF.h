//===- HF.h - HF checkpoint import and export -----------------------------===//
#ifndef SHEAR_TARGET_HF_H
#define SHEAR_TARGET_HF_H

#include "shear/Target/ModelView.h"

namespace shear {

/// Reads config.json of a LlamaForCausalLM / MistralForCausalLM directory and
/// its safetensors (single file, sharded with model.safetensors.index.json, or
/// several files without an index). Every missing or inconsistent field and
/// every tensor whose shape disagrees with the config is an error naming the
/// file and the field or tensor. Weights are referenced, not copied.
llvm::Expected<ModelView> importHF(llvm::StringRef dir);

/// Writes config.json and the weights (source dtype kept; one
/// model.safetensors, or shards model-0000i-of-0000n.safetensors with
/// model.safetensors.index.json when larger than `maxShardBytes`), with the
/// standard HF names, so LlamaForCausalLM.from_pretrained loads it as-is.
/// Only dense models can be exported. With `dtype`, every weight is converted
/// to it (e.g. bf16 from a checkpoint's float32 master weights).
/// With a tokenizer (the model's, or `tokenizer` when given; "none": none),
/// its files go beside the weights (writeTokenizerFiles), and
/// generation_config.json holds the bos/eos ids. `spm` is the shear-spm
/// that converts SentencePiece models.
llvm::Error exportHF(const ModelView &view, llvm::StringRef dir, uint64_t maxShardBytes,
                     std::optional<DType> dtype = std::nullopt,
                     const std::string &tokenizer = "", const std::string &spm = "");

/// config.json and (with bos/eos ids) generation_config.json of `view`.
llvm::Error writeHFConfigFiles(const ModelView &view, const std::string &dir);

/// Puts the tokenizer files of an HF directory into `dir`: from a directory
/// of HF tokenizer files, those files as they are (plus, for a
/// tokenizer.model alone, the ones converted from it); from a SentencePiece
/// tokenizer.model, tokenizer.model, tokenizer.json (converted),
/// tokenizer_config.json and special_tokens_map.json. A tokenizer with more
/// pieces than the model's `vocab` is refused.
llvm::Error writeTokenizerFiles(const std::string &source, const std::string &dir, int64_t vocab,
                                int64_t maxLength, const std::string &spm);

/// Reads config.json's text (`path` names it in errors): the fields import
/// needs, each checked (type, range, consistency).
llvm::Error parseHFConfig(llvm::StringRef text, llvm::StringRef path, ModelConfig &config);

/// Parses sizes like "5GB", "500MB", "1048576".
std::optional<uint64_t> parseByteSize(llvm::StringRef text);

} // namespace shear

#endif
