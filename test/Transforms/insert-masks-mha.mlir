// insert-masks on a multi-head model: no kv_group family; kv-heads may be
// omitted from the target.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=2,heads=1,hidden=4,intermediate=5 -o %t/masked.mlir
// RUN: FileCheck %s < %t/masked.mlir
// RUN: shear-translate --inspect %t/masked.gates.safetensors | FileCheck %s --check-prefix=GATES

// CHECK: shear.target_shape = {heads = 1 : i64, hidden = 4 : i64, intermediate = 5 : i64, kv_heads = 1 : i64, layers = 2 : i64}
// CHECK-NOT: kv_group
// CHECK: shear.attention {{.*}} head_mask(%{{[0-9]+}}) {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64
// CHECK-NOT: kv_group
// CHECK: shear.lm_head %{{.*}}, %{{.*}} : (tensor<?x?x8xf32>, tensor<10x8xf32>) -> tensor<?x?x10xf32>

// GATES-NOT: kv_group
// GATES: shear.gate.layer F32 [2]
// GATES: shear.gate.head F32 [2, 2]
// GATES: shear.gate.intermediate F32 [2, 12]
// GATES: shear.gate.hidden F32 [8]
