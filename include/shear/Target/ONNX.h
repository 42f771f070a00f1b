//===- ONNX.h - ONNX export of dense models -------------------------------===//
#ifndef SHEAR_TARGET_ONNX_H
#define SHEAR_TARGET_ONNX_H

#include "shear/Target/ModelView.h"

namespace shear {

struct OnnxExportOptions {
  DType weightDtype = DType::F32;   // F32 or BF16 initializers
  uint64_t externalDataAbove = 2000ull << 20; // initializer bytes above which they go to a file
  bool kvCache = true; // the decoder layout with past_key_values / present
  /// Beside the model: config.json, generation_config.json and the
  /// tokenizer's files (the model's, or this one; "none": none), so the
  /// directory is a model folder transformers.js loads.
  std::string tokenizer, spmPath;
};

/// Writes `view` (a dense model) as an ONNX model (IR 8, opset 17) in the
/// decoder layout Optimum, transformers.js and onnxruntime-genai load:
/// inputs `input_ids` and `position_ids` int64 [batch, seq],
/// `attention_mask` int64 [batch, past + seq] and per layer
/// `past_key_values.<i>.key|value` float32 [batch, kv heads, past, head dim];
/// outputs `logits` [batch, seq, vocab] and `present.<i>.key|value` [batch,
/// kv heads, past + seq, head dim]. One graph serves prefill (past 0) and
/// decode. Without `kvCache`: only `input_ids` -> `logits`, every call
/// computing the whole sequence. RMSNorm, RoPE (with its scaling), GQA and
/// SwiGLU are decomposed into standard ops, weights are initializers
/// (transposed for MatMul), in `<path>_data` when they exceed the protobuf
/// limit. Positions may go up to max_position_embeddings - 1.
llvm::Error exportOnnx(const ModelView &view, llvm::StringRef path,
                       const OnnxExportOptions &options);

} // namespace shear

#endif
