// build-importance-step: @importance(ids) from the lowered @forward. The
// attention and mlp calls become their training variants (which also return
// each head's output before o_proj, result 4, and down_proj's input, result
// 3); unit_norms sums their norms over tokens (per head: groups of head_dim;
// per neuron: groups of 1); every rms_norm output is summed per channel into
// `hidden`; each layer's input (the first residual_add's stream) and output
// (the second's result) meet in cosine_sum. The returns are named in order;
// nothing computes the logits.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --lower-to-runtime --build-importance-step | FileCheck %s
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir "--lower-to-runtime=eval-masks=none" --build-importance-step | FileCheck %s --check-prefix=MASKED
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-gqa.mlir --build-importance-step 2>&1 | FileCheck %s --check-prefix=UNLOWERED
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/no-forward.mlir --build-importance-step 2>&1 | FileCheck %s --check-prefix=NOFWD

// CHECK: func.func @importance(%[[IDS:.*]]: tensor<?x?xi64>) -> (tensor<8xf32>, tensor<4xf32>, tensor<12xf32>, tensor<f32>, tensor<4xf32>, tensor<12xf32>, tensor<f32>)
// CHECK-SAME: shear.metrics = ["hidden", "head.0", "intermediate.0", "layer.0", "head.1", "intermediate.1", "layer.1"]
// CHECK: %[[X0:.*]] = shear.kernel "embed"(%{{.*}}, %[[IDS]])
// CHECK: %[[N0:.*]] = shear.kernel "rms_norm"(%[[X0]], %{{.*}})
// CHECK: %[[S0:.*]] = shear.kernel "unit_norms"(%[[N0]]) {group = 1 : i64} : (tensor<?x?x8xf32>) -> tensor<8xf32>
// CHECK: %[[ATT:.*]]:6 = shear.kernel "attention.train"(%[[N0]], {{.*}}) {head_dim = 2 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64
// CHECK: %[[H0:.*]] = shear.kernel "unit_norms"(%[[ATT]]#4) {group = 2 : i64} : (tensor<?x?x8xf32>) -> tensor<4xf32>
// CHECK: %[[R0:.*]] = shear.kernel "residual_add"(%[[X0]], %[[ATT]]#0)
// CHECK: %[[N1:.*]] = shear.kernel "rms_norm"(%[[R0]], %{{.*}})
// CHECK: %[[S1:.*]] = shear.kernel "unit_norms"(%[[N1]]) {group = 1 : i64}
// CHECK: %[[HID1:.*]] = shear.kernel "add"(%[[S0]], %[[S1]])
// CHECK: %[[MLP:.*]]:4 = shear.kernel "mlp.train"(%[[N1]], {{.*}}) : {{.*}} -> (tensor<?x?x8xf32>, tensor<?x12xf32>, tensor<?x12xf32>, tensor<?x12xf32>)
// CHECK: %[[I0:.*]] = shear.kernel "unit_norms"(%[[MLP]]#3) {group = 1 : i64} : (tensor<?x12xf32>) -> tensor<12xf32>
// CHECK: %[[R1:.*]] = shear.kernel "residual_add"(%[[R0]], %[[MLP]]#0)
// CHECK: %[[C0:.*]] = shear.kernel "cosine_sum"(%[[X0]], %[[R1]]) : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<f32>
// CHECK-NOT: shear.kernel "lm_head"
// CHECK: return %{{.*}}, %[[H0]], %[[I0]], %[[C0]], %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK-NOT: shear.kernel "attention"(

// A masked model keeps its mask operands (all ones with eval-masks=none).
// MASKED-LABEL: func.func @importance(
// MASKED: shear.kernel "gate.eval"(%{{.*}}) {family = "layer", size = "none"
// MASKED: shear.kernel "attention.train"({{.*}}) {{.*}}masks = ["head", "kv_group"]
// MASKED: shear.kernel "mlp.train"({{.*}}) {masks = ["intermediate"]}

// UNLOWERED: build-importance-step: @forward is not lowered to kernels (run lower-to-runtime first)
// NOFWD: build-importance-step: no func.func @forward
