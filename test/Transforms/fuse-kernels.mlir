// fuse-kernels: a residual_add followed by the rms_norm of its result under
// the same hidden mask becomes one residual_add_rms_norm (y, n) when the
// residual stream goes on past the norm (every layer's two, not the last
// before the final norm); its backward takes both cotangents. Also, an
// lm_head whose logits only feed a cross_entropy becomes one
// lm_head_cross_entropy (the logits never held whole). In a training step it
// is the .train variant, which also returns the loss's gradients for a unit
// cotangent (x's and w's shapes, float32), and differentiate gives it the
// .bwd kernel with (x, w, labels, loss, gx, gw, dloss) -> (dx, dw); the tied
// embedding's two gradients are still summed. Attributes carry over
// (ignore_index, tied), loss-chunk sets `chunk`. Logits with another use (a
// distillation step, a function that returns them) are left alone.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-mha.mlir --build-eval-step --lower-to-runtime --fuse-kernels | FileCheck %s --check-prefix=EVAL
// RUN: shear-opt %S/Inputs/tiny-mha.mlir --build-eval-step --lower-to-runtime "--fuse-kernels=loss-chunk=16" | FileCheck %s --check-prefix=CHUNK
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir "--build-train-step=mode=train" --lower-to-runtime --fuse-kernels --differentiate | FileCheck %s --check-prefix=TRAIN
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir "--build-train-step=mode=train distill-from=%S/Inputs/tiny-mha.mlir" --lower-to-runtime --fuse-kernels | FileCheck %s --check-prefix=DISTILL
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --build-eval-step --lower-to-runtime "--fuse-kernels=loss-chunk=-1" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --build-eval-step --lower-to-runtime --fuse-kernels | FileCheck %s --check-prefix=RESNORM
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir "--build-train-step=mode=prune" --lower-to-runtime --fuse-kernels --differentiate | FileCheck %s --check-prefix=MASKED
// RUN: shear-opt %S/Inputs/residual-norm.mlir --fuse-kernels | FileCheck %s --check-prefix=CASES

// @forward returns its logits: its lm_head stays; @eval_loss's is fused.
// EVAL-LABEL: func.func @forward
// EVAL: %[[LOGITS:.*]] = shear.kernel "lm_head"
// EVAL: return %[[LOGITS]]
// EVAL-LABEL: func.func @eval_loss
// EVAL-NOT: "lm_head"
// EVAL-NOT: "cross_entropy"
// EVAL: %[[LOSS:.*]] = shear.kernel "lm_head_cross_entropy"(%{{.*}}, %{{.*}}, %arg1) {ignore_index = -100 : i64} : (tensor<?x?x8xf32>, tensor<10x8xf32>, tensor<?x?xi64>) -> tensor<f32>
// EVAL-NEXT: return %[[LOSS]]

// CHUNK-LABEL: func.func @eval_loss
// CHUNK: shear.kernel "lm_head_cross_entropy"({{.*}}) {chunk = 16 : i64, ignore_index = -100 : i64}

// TRAIN-LABEL: func.func @train_step
// TRAIN-NOT: "cross_entropy"
// TRAIN: %[[E:.*]] = shear.weight "model.embed_tokens.weight"
// TRAIN: %[[F:.*]]:3 = shear.kernel "lm_head_cross_entropy.train"(%[[X:.*]], %[[E]], %arg1) {ignore_index = -100 : i64, tied} : (tensor<?x?x8xf32>, tensor<10x8xf32>, tensor<?x?xi64>) -> (tensor<f32>, tensor<?x?x8xf32>, tensor<10x8xf32>)
// TRAIN: %[[ONE:.*]] = shear.kernel "scalar"() {value = 1.000000e+00 : f64} : () -> tensor<f32>
// TRAIN: %[[G:.*]]:2 = shear.kernel "lm_head_cross_entropy.bwd"(%[[X]], %[[E]], %arg1, %[[F]]#0, %[[F]]#1, %[[F]]#2, %[[ONE]]) {ignore_index = -100 : i64, tied} : (tensor<?x?x8xf32>, tensor<10x8xf32>, tensor<?x?xi64>, tensor<f32>, tensor<?x?x8xf32>, tensor<10x8xf32>, tensor<f32>) -> (tensor<?x?x8xf32>, tensor<10x8xf32>)
// TRAIN: shear.kernel "rms_norm.bwd"(%{{.*}}, %{{.*}}, %[[X]], %[[G]]#0)
// TRAIN: %[[DEMB:.*]] = shear.kernel "embed.bwd"
// TRAIN: shear.kernel "add"(%[[G]]#1, %[[DEMB]])

// DISTILL-LABEL: func.func @train_step
// DISTILL-NOT: lm_head_cross_entropy
// DISTILL: shear.kernel "distill"

// BAD: fuse-kernels: loss-chunk must be 0 or positive, got -1

// Residual + norm: the first layer's input norm reads the embedding (stays);
// the others read residual updates. The norm's weight read moves before the
// fused kernel, which takes the residual's place.
// RESNORM-LABEL: func.func @forward
// RESNORM: %[[E:.*]] = shear.kernel "embed"
// RESNORM: shear.kernel "rms_norm"(%[[E]],
// RESNORM: %[[A:.*]] = shear.kernel "attention"
// RESNORM-NEXT: %[[W:.*]] = shear.weight "model.layers.0.post_attention_layernorm.weight"
// RESNORM-NEXT: %[[F:.*]]:2 = shear.kernel "residual_add_rms_norm"(%[[E]], %[[A]], %[[W]]) {eps = 1.000000e-05 : f64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// RESNORM: %[[M:.*]] = shear.kernel "mlp"(%[[F]]#1,
// RESNORM: %[[G:.*]]:2 = shear.kernel "residual_add_rms_norm"(%[[F]]#0, %[[M]],
// RESNORM: shear.kernel "attention"(%[[G]]#1,
// RESNORM: %[[H:.*]]:2 = shear.kernel "residual_add_rms_norm"(%[[G]]#0,
// RESNORM: %[[M2:.*]] = shear.kernel "mlp"(%[[H]]#1,
// RESNORM-NEXT: %[[R:.*]] = shear.kernel "residual_add"(%[[H]]#0, %[[M2]])
// RESNORM: %[[N:.*]] = shear.kernel "rms_norm"(%[[R]],
// RESNORM-NEXT: shear.kernel "lm_head"(%[[N]],

// Masked: the layer and hidden masks carry over; the backward takes the
// cotangents of the residual stream and of the norm, and returns the masks'.
// MASKED-LABEL: func.func @train_step
// MASKED: %[[F:.*]]:2 = shear.kernel "residual_add_rms_norm"(%{{.*}}, %{{.*}}, %{{.*}}, %[[L:.*]], %[[Z:.*]]) {eps = 1.000000e-05 : f64, masks = ["layer", "hidden"]}
// MASKED: shear.kernel "residual_add_rms_norm.bwd"({{.*}}, %[[L]], %[[Z]], %[[F]]#0, %[[F]]#1, %{{.*}}, %{{.*}}) {eps = 1.000000e-05 : f64, masks = ["layer", "hidden"]} : ({{.*}}) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<8xf32>, tensor<f32>, tensor<8xf32>)

// CASES-LABEL: func.func @other_mask
// CASES-NOT: residual_add_rms_norm
// CASES: "residual_add"
// CASES: "rms_norm"
// CASES-LABEL: func.func @same_mask
// CASES: shear.kernel "residual_add_rms_norm"(%arg0, %arg1, %{{.*}}, %arg2) {eps = 1.000000e-05 : f64, masks = ["hidden"]}
// CASES-LABEL: func.func @read_between
// CASES: %[[W:.*]] = shear.weight "w"
// CASES-NEXT: %[[F:.*]]:2 = shear.kernel "residual_add_rms_norm"(%arg0, %arg1, %[[W]])
// CASES-NEXT: shear.kernel "cosine_sum"(%arg0, %[[F]]#0)
// CASES-NEXT: return %{{.*}}, %[[F]]#1
// CASES-LABEL: func.func @not_a_residual
// CASES: "rms_norm"
