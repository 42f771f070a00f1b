// differentiate: the reverse sweep over a lowered training step. Each kernel's
// .bwd takes its arguments, its results and the first result's cotangent, in
// reverse order of the forward; uses summed with add; one gradient per
// trainable weight (not final masks), listed in shear.gradients.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate | FileCheck %s
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir --build-train-step --lower-to-runtime --differentiate | FileCheck %s --check-prefix=PRUNE
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --differentiate 2>&1 | FileCheck %s --check-prefix=UNLOWERED

// CHECK-LABEL: func.func @train_step
// CHECK-SAME: shear.gradients = {{\[}}["mha/model.safetensors", "model.embed_tokens.weight"], ["mha/model.safetensors", "model.layers.0.input_layernorm.weight"]
// CHECK: %[[LM:.*]] = shear.kernel "cross_entropy"(%[[LOGITS:.*]], %arg1)
// CHECK: %[[ONE:.*]] = shear.kernel "scalar"() {value = 1.000000e+00 : f64} : () -> tensor<f32>
// CHECK: %[[DLOGITS:.*]] = shear.kernel "cross_entropy.bwd"(%[[LOGITS]], %arg1, %[[LM]], %[[ONE]]) {ignore_index = -100 : i64}
// CHECK: shear.kernel "lm_head.bwd"(%{{.*}}, %{{.*}}, %[[LOGITS]], %[[DLOGITS]]) : (tensor<?x?x8xf32>, tensor<10x8xf32>, tensor<?x?x10xf32>, tensor<?x?x10xf32>) -> (tensor<?x?x8xf32>, tensor<10x8xf32>)
// CHECK: shear.kernel "rms_norm.bwd"
// CHECK: shear.kernel "residual_add.bwd"
// CHECK: shear.kernel "mlp.bwd"
// CHECK: shear.kernel "attention.bwd"
// The residual stream is read by a norm and a residual add: cotangents summed.
// CHECK: shear.kernel "add"
// CHECK: shear.kernel "embed.bwd"
// CHECK: return %[[LM]], %[[LM]], %{{.*}} : tensor<f32>, tensor<f32>, tensor<10x8xf32>,

// PRUNE-LABEL: func.func @train_step
// PRUNE-SAME: shear.gradients = {{.*}}"shear.gate.layer"{{.*}}"shear.lambda1.layer"
// PRUNE: shear.kernel "lagrangian.bwd"
// PRUNE: shear.kernel "attention.bwd"({{.*}}) {head_dim = 2 : i64, masks = ["head", "kv_group"]
// PRUNE-SAME: -> (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<2xf32>)
// PRUNE: shear.kernel "mask_row.bwd"
// PRUNE: shear.kernel "gate.sample.bwd"

// UNLOWERED: differentiate: lower the function with --lower-to-runtime first
