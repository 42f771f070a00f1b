// recompute: in a differentiated step, attention and mlp stop keeping what
// their backward needs. The forward calls the plain kernels (one result);
// right before each .bwd a copy of the training kernel on the same operands
// recomputes y and the saved tensors, and the .bwd reads only those.
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate "--recompute=kernels=attention,mlp" | FileCheck %s
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate "--recompute=kernels=mlp" | FileCheck %s --check-prefix=MLP
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate "--recompute=kernels=norm" 2>&1 | FileCheck %s --check-prefix=BAD

// CHECK-LABEL: func.func @train_step
// CHECK-NOT: "attention.train"
// CHECK-NOT: "mlp.train"
// CHECK: shear.kernel "attention"(%[[X0:[0-9]+]], %[[Q0:[0-9]+]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}) {{.*}} -> tensor<?x?x8xf32>
// CHECK: shear.kernel "mlp"(%[[H0:[0-9]+]], {{.*}} -> tensor<?x?x8xf32>
// CHECK: shear.kernel "attention"(%[[X1:[0-9]+]],
// CHECK: shear.kernel "mlp"(%[[H1:[0-9]+]],
// CHECK: shear.kernel "scalar"
// CHECK: %[[M1:.*]]:4 = shear.kernel "mlp.train"(%[[H1]],
// CHECK-NEXT: shear.kernel "mlp.bwd"(%[[H1]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %[[M1]]#0, %[[M1]]#1, %[[M1]]#2, %[[M1]]#3,
// CHECK: %[[A1:.*]]:6 = shear.kernel "attention.train"(%[[X1]],
// CHECK-NEXT: shear.kernel "attention.bwd"(%[[X1]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %[[A1]]#0, %[[A1]]#1, %[[A1]]#2, %[[A1]]#3, %[[A1]]#4, %[[A1]]#5,
// CHECK: %[[M0:.*]]:4 = shear.kernel "mlp.train"(%[[H0]],
// CHECK-NEXT: shear.kernel "mlp.bwd"(%[[H0]],
// CHECK: %[[A0:.*]]:6 = shear.kernel "attention.train"(%[[X0]], %[[Q0]],
// CHECK-NEXT: shear.kernel "attention.bwd"(%[[X0]], %[[Q0]],

// MLP-LABEL: func.func @train_step
// MLP: %{{.*}}:6 = shear.kernel "attention.train"
// MLP-NOT: "mlp.train"
// MLP: shear.kernel "mlp"(
// MLP: shear.kernel "mlp.train"
// MLP-NEXT: shear.kernel "mlp.bwd"

// BAD: recompute: kernels must be attention and/or mlp, got 'norm'
