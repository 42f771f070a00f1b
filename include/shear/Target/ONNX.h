//===- ONNX.h - ONNX export of dense models -------------------------------===//
#ifndef SHEAR_TARGET_ONNX_H
#define SHEAR_TARGET_ONNX_H

#include "shear/Target/ModelView.h"

namespace shear {

struct OnnxExportOptions {
  DType weightDtype = DType::F32;   // F32 or BF16 initializers
  uint64_t externalDataAbove = 2000ull << 20; // initializer bytes above which they go to a file
};

/// Writes `view` (a dense model) as an ONNX model (IR 8, opset 17): input
/// `input_ids` int64 [batch, seq], output `logits` float32 [batch, seq,
/// vocab], RMSNorm, RoPE (with its scaling), GQA and SwiGLU decomposed into
/// standard ops, weights as initializers (transposed for MatMul), in
/// `<path>.data` when they exceed the protobuf limit. Sequences may be up to
/// max_position_embeddings long.
llvm::Error exportOnnx(const ModelView &view, llvm::StringRef path,
                       const OnnxExportOptions &options);

} // namespace shear

#endif
