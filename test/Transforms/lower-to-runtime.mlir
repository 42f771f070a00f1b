// lower-to-runtime: every decoder op becomes a shear.kernel call of the same
// name with the op's attributes and the list of masks present; gates become
// gate.eval (expected or target sizes; the GQA head gate also reads the
// kv_group gate's parameters); weights stay.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir --lower-to-runtime | FileCheck %s
// RUN: shear-opt %t/masked.mlir "--lower-to-runtime=eval-masks=target" | FileCheck %s --check-prefix=TARGET
// RUN: shear-opt %S/Inputs/tiny-mha.mlir --lower-to-runtime | FileCheck %s --check-prefix=DENSE
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir "--lower-to-runtime=eval-masks=some" 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK: %[[LA_L:.*]] = shear.weight "shear.gate.layer"
// CHECK: %[[Z_L:.*]] = shear.kernel "gate.eval"(%[[LA_L]]) {family = "layer", size = "expected", target_size = 1 : i64} : (tensor<2xf32>) -> tensor<2xf32>
// CHECK: %[[LA_H:.*]] = shear.weight "shear.gate.head"
// CHECK: %[[LA_G:.*]] = shear.weight "shear.gate.kv_group"
// CHECK: shear.kernel "gate.eval"(%[[LA_H]], %[[LA_G]]) {family = "head", kv_target_size = 1 : i64, masks = ["kv_log_alpha"], size = "expected", target_size = 2 : i64} : (tensor<2x4xf32>, tensor<2x2xf32>) -> tensor<2x4xf32>
// CHECK: shear.kernel "gate.eval"(%[[LA_G]]) {family = "kv_group", size = "expected", target_size = 1 : i64}
// CHECK: %[[X:.*]] = shear.kernel "embed"(%{{.*}}, %arg0, %{{.*}}) {masks = ["hidden"]} : (tensor<10x8xf32>, tensor<?x?xi64>, tensor<8xf32>) -> tensor<?x?x8xf32>
// CHECK: shear.kernel "mask_row"(%[[Z_L]]) {index = 0 : i64} : (tensor<2xf32>) -> tensor<f32>
// CHECK: shear.kernel "rms_norm"(%[[X]], %{{.*}}, %{{.*}}) {eps = 1.000000e-05 : f64, masks = ["hidden"]}
// CHECK: shear.kernel "attention"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {head_dim = 2 : i64, masks = ["head", "kv_group"], num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64}
// CHECK: shear.kernel "residual_add"(%[[X]], %{{.*}}, %{{.*}}, %{{.*}}) {masks = ["layer", "hidden"]}
// CHECK: shear.kernel "mlp"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {masks = ["intermediate"]}
// CHECK: shear.kernel "lm_head"(%{{.*}}, %{{.*}}) {tied}
// CHECK-NOT: shear.gate
// CHECK-NOT: shear.attention

// TARGET: shear.kernel "gate.eval"(%{{.*}}) {family = "layer", size = "target", target_size = 1 : i64}

// DENSE: shear.kernel "embed"(%{{.*}}, %arg0) : (tensor<10x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
// DENSE: shear.kernel "attention"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64}
// DENSE: shear.kernel "residual_add"(%{{.*}}, %{{.*}}) : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
// DENSE: shear.kernel "lm_head"(%{{.*}}, %{{.*}}) : (tensor<?x?x8xf32>, tensor<10x8xf32>) -> tensor<?x?x10xf32>

// BAD: lower-to-runtime: eval-masks must be expected, target or none, got 'some'

// Training functions (from build-train-step) are lowered for training: gates
// are sampled with the step argument and the function's seed; attention and
// mlp also return what their backward kernels need.
// RUN: shear-opt %t/masked.mlir "--build-train-step=seed=9" --lower-to-runtime | FileCheck %s --check-prefix=TRAIN
// TRAIN-LABEL: func.func @train_step(
// TRAIN-SAME: %[[STEP:[a-z0-9]+]]: tensor<i64>)
// TRAIN: shear.kernel "gate.sample"(%{{.*}}, %[[STEP]]) {family = "layer", seed = 9 : i64, stream = 0 : i64, target_size = 1 : i64} : (tensor<2xf32>, tensor<i64>) -> tensor<2xf32>
// TRAIN: shear.kernel "gate.sample"(%{{.*}}, %[[STEP]]) {family = "hidden", seed = 9 : i64, stream = 4 : i64
// TRAIN: shear.kernel "attention.train"({{.*}}) {{.*}} -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x8xf32>, tensor<?x4x?xf32>)
// TRAIN: shear.kernel "mlp.train"({{.*}}) {masks = ["intermediate"]} : {{.*}} -> (tensor<?x?x8xf32>, tensor<?x12xf32>, tensor<?x12xf32>, tensor<?x12xf32>)
// TRAIN: shear.kernel "cross_entropy"
