// recompute: in a differentiated step, the chosen kernels stop keeping what
// the backward needs. The forward calls the plain kernels (one result); a
// copy of each chosen kernel on the same operands goes before the first
// backward kernel that reads its results (here residual_add.bwd, which reads
// the attention's and the MLP's outputs), and the backward reads the copies.
// With layer (attention, mlp, norm) the norms are recomputed too, the MLP's
// and attention's copies read the norms' copies, and only the residual
// stream lives from the forward to the backward.
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate "--recompute=kernels=attention,mlp" | FileCheck %s
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate "--recompute=kernels=mlp" | FileCheck %s --check-prefix=MLP
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate "--recompute=kernels=layer" | FileCheck %s --check-prefix=LAYER
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate "--recompute=kernels=embed" 2>&1 | FileCheck %s --check-prefix=BAD
// A fused residual update + norm recomputes only its norm, from the kept
// residual stream; the backward reads the copy for the norm and the stream itself.
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --fuse-kernels --differentiate "--recompute=kernels=norm" | FileCheck %s --check-prefix=FUSED
// A bf16 program's working copies, cast again before their first backward reader.
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime "--assign-precision=dtype=bf16 master-weights=1" --differentiate "--recompute=kernels=weights" | FileCheck %s --check-prefix=WEIGHTS

// CHECK-LABEL: func.func @train_step
// CHECK-NOT: "attention.train"
// CHECK-NOT: "mlp.train"
// CHECK: shear.kernel "attention"(%[[X0:[0-9]+]], %[[Q0:[0-9]+]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}) {{.*}} -> tensor<?x?x8xf32>
// CHECK: shear.kernel "mlp"(%[[H0:[0-9]+]], {{.*}} -> tensor<?x?x8xf32>
// CHECK: shear.kernel "attention"(%[[X1:[0-9]+]],
// CHECK: %[[R1:.*]] = shear.kernel "residual_add"
// CHECK: shear.kernel "mlp"(%[[H1:[0-9]+]],
// CHECK: shear.kernel "scalar"
// CHECK: %[[M1:.*]]:4 = shear.kernel "mlp.train"(%[[H1]],
// CHECK-NEXT: shear.kernel "residual_add.bwd"(%[[R1]], %[[M1]]#0,
// CHECK-NEXT: shear.kernel "mlp.bwd"(%[[H1]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %[[M1]]#0, %[[M1]]#1, %[[M1]]#2, %[[M1]]#3,
// CHECK: %[[A1:.*]]:6 = shear.kernel "attention.train"(%[[X1]],
// CHECK-NEXT: shear.kernel "residual_add.bwd"
// CHECK-NEXT: shear.kernel "attention.bwd"(%[[X1]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %[[A1]]#0, %[[A1]]#1, %[[A1]]#2, %[[A1]]#3, %[[A1]]#4, %[[A1]]#5,
// CHECK: shear.kernel "mlp.train"(%[[H0]],
// CHECK: shear.kernel "attention.train"(%[[X0]], %[[Q0]],

// MLP-LABEL: func.func @train_step
// MLP: %{{.*}}:6 = shear.kernel "attention.train"
// MLP-NOT: "mlp.train"
// MLP: shear.kernel "mlp"(
// MLP: shear.kernel "mlp.train"
// MLP-NEXT: shear.kernel "residual_add.bwd"
// MLP-NEXT: shear.kernel "mlp.bwd"

// The last layer's backward: its post-attention norm recomputed from the
// residual stream, the MLP from that copy.
// LAYER-LABEL: func.func @train_step
// LAYER: %[[W:[0-9]+]] = shear.weight "model.layers.1.post_attention_layernorm.weight"
// LAYER-NEXT: shear.kernel "rms_norm"(%[[RES:[0-9]+]], %[[W]])
// LAYER: shear.kernel "scalar"
// LAYER: %[[N:[0-9]+]] = shear.kernel "rms_norm"(%[[RES]], %[[W]])
// LAYER-NEXT: %[[M:[0-9]+]]:4 = shear.kernel "mlp.train"(%[[N]],
// LAYER-NEXT: shear.kernel "residual_add.bwd"(%[[RES]], %[[M]]#0,
// LAYER-NEXT: shear.kernel "mlp.bwd"(%[[N]],
// LAYER-NEXT: shear.kernel "rms_norm.bwd"(%[[RES]], %[[W]], %[[N]],

// BAD: recompute: kernels must be among attention, mlp, norm, weights (or layer: all four), got 'embed'

// FUSED-LABEL: func.func @train_step
// FUSED: %[[F:.*]]:2 = shear.kernel "residual_add_rms_norm"(%{{.*}}, %{{.*}}, %[[W:[0-9]+]])
// FUSED: shear.kernel "scalar"
// FUSED: %[[N:.*]] = shear.kernel "rms_norm"(%[[F]]#0, %[[W]]) {eps = 1.000000e-05 : f64}
// FUSED-NOT: "residual_add_rms_norm"(
// FUSED: shear.kernel "mlp.bwd"(%[[N]],
// FUSED: shear.kernel "residual_add_rms_norm.bwd"(%{{.*}}, %{{.*}}, %[[W]], %[[F]]#0, %[[N]],

// WEIGHTS-LABEL: func.func @train_step
// WEIGHTS: %[[W:.*]] = shear.weight "model.layers.1.mlp.down_proj.weight" {{.*}} : tensor<8x12xf32>
// WEIGHTS-NEXT: %[[C:.*]] = shear.kernel "cast"(%[[W]]) : (tensor<8x12xf32>) -> tensor<8x12xbf16>
// WEIGHTS: shear.kernel "mlp.train"(%{{.*}}, %{{.*}}, %{{.*}}, %[[C]])
// WEIGHTS: shear.kernel "scalar"
// WEIGHTS: %[[C2:.*]] = shear.kernel "cast"(%[[W]]) : (tensor<8x12xf32>) -> tensor<8x12xbf16>
// WEIGHTS: shear.kernel "mlp.bwd"(%{{.*}}, %{{.*}}, %{{.*}}, %[[C2]],
