// fuse-kernels: an lm_head whose logits only feed a cross_entropy becomes one
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
