// build-train-step: @train_step(ids, labels, step) = @forward + cross-entropy
// + (prune) one Lagrangian term per gate with its multipliers; the target
// sparsity of a family is 1 - target_size / n (here 1 - 9/12 = 0.25 for the
// intermediate family), warmed up over warmup-steps.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=9 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir "--build-train-step=mode=prune warmup-steps=10 seed=5" | FileCheck %s
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" | FileCheck %s --check-prefix=TRAIN
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=prune" 2>&1 | FileCheck %s --check-prefix=DENSE
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/masked.mlir "--build-train-step=mode=train" 2>&1 | FileCheck %s --check-prefix=MASKED
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/masked.mlir "--build-train-step=mode=finetune" 2>&1 | FileCheck %s --check-prefix=MODE

// The forward function stays as it was.
// CHECK: func.func @forward(%arg0: tensor<?x?xi64>) -> tensor<?x?x10xf32>
// CHECK: func.func @train_step(%[[IDS:.*]]: tensor<?x?xi64>, %[[LABELS:.*]]: tensor<?x?xi64>, %[[STEP:.*]]: tensor<i64>) -> (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>)
// CHECK-SAME: attributes {shear.metrics = ["loss", "lm_loss", "lagrangian", "expected_sparsity.layer", "target_sparsity.layer", "expected_sparsity.head", "target_sparsity.head", "expected_sparsity.kv_group", "target_sparsity.kv_group", "expected_sparsity.intermediate", "target_sparsity.intermediate", "expected_sparsity.hidden", "target_sparsity.hidden"], shear.seed = 5 : i64, shear.training}
// CHECK: %[[LA_L:.*]] = shear.weight "shear.gate.layer"
// CHECK: shear.embed %{{.*}}, %[[IDS]]
// CHECK: %[[LOGITS:.*]] = shear.lm_head
// CHECK: %[[LM:.*]] = shear.cross_entropy %[[LOGITS]], %[[LABELS]]
// CHECK: %[[L1:.*]] = shear.weight "shear.lambda1.layer" from "lambdas.safetensors" {zero_init} : tensor<f32>
// CHECK: %[[L2:.*]] = shear.weight "shear.lambda2.layer" from "lambdas.safetensors" {zero_init} : tensor<f32>
// CHECK: %[[TL:.*]]:3 = shear.kernel "lagrangian"(%[[LA_L]], %[[L1]], %[[L2]], %[[STEP]]) {family = "layer", target_sparsity = 5.000000e-01 : f64, warmup_steps = 10 : i64}
// CHECK: shear.kernel "lagrangian"({{.*}}) {family = "head", target_sparsity = 5.000000e-01 : f64
// CHECK: shear.kernel "lagrangian"({{.*}}) {family = "kv_group", target_sparsity = 5.000000e-01 : f64
// CHECK: shear.kernel "lagrangian"({{.*}}) {family = "intermediate", target_sparsity = 2.500000e-01 : f64
// CHECK: %[[TD:.*]]:3 = shear.kernel "lagrangian"({{.*}}) {family = "hidden", target_sparsity = 5.000000e-01 : f64
// CHECK: %[[LAG:.*]] = shear.kernel "add"(%{{.*}}, %[[TD]]#0)
// CHECK: %[[LOSS:.*]] = shear.kernel "add"(%[[LM]], %[[LAG]])
// CHECK: return %[[LOSS]], %[[LM]], %[[LAG]], %[[TL]]#1, %[[TL]]#2,

// TRAIN: func.func @train_step(%{{.*}}: tensor<?x?xi64>, %{{.*}}: tensor<?x?xi64>, %{{.*}}: tensor<i64>) -> (tensor<f32>, tensor<f32>) attributes {shear.metrics = ["loss", "lm_loss"], shear.seed = 1 : i64, shear.training}
// TRAIN-NOT: lagrangian
// TRAIN: %[[LM:.*]] = shear.cross_entropy
// TRAIN-NEXT: return %[[LM]], %[[LM]]

// DENSE: build-train-step: pruning needs a model with gates (run --insert-masks first)
// MASKED: build-train-step: continued pre-training takes a dense model (run --finalize-masks --materialize-shapes first)
// MODE: build-train-step: mode must be prune or train, got 'finetune'
