// insert-masks on a grouped-query model: a gate per family (kv_group too),
// mask operands on every op they govern, source and target recorded, gate
// parameters written beside the output, weight paths rebased to the output.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: FileCheck %s < %t/masked.mlir
// RUN: shear-translate --inspect %t/masked.gates.safetensors | FileCheck %s --check-prefix=GATES
// The pass option spelling gives the same module.
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir "--insert-masks=target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6" -o %t/masked2.mlir
// RUN: sed 's/masked2/masked/' %t/masked2.mlir | diff - %t/masked.mlir
// A different seed gives different gate parameters.
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir "--insert-masks=target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 seed=7" -o %t/seed7.mlir
// RUN: not cmp -s %t/seed7.gates.safetensors %t/masked.gates.safetensors

// CHECK: module attributes {shear.model = {{.*}}, shear.source_shape = {heads = 4 : i64, hidden = 8 : i64, intermediate = 12 : i64, kv_heads = 2 : i64, layers = 2 : i64}, shear.target_shape = {heads = 2 : i64, hidden = 4 : i64, intermediate = 6 : i64, kv_heads = 1 : i64, layers = 1 : i64}}
// CHECK: %[[LA_L:.*]] = shear.weight "shear.gate.layer" from "masked.gates.safetensors" : tensor<2xf32>
// CHECK: %[[Z_L:.*]] = shear.gate %[[LA_L]] {family = "layer", target_size = 1 : i64} : tensor<2xf32> -> tensor<2xf32>
// CHECK: %[[LA_H:.*]] = shear.weight "shear.gate.head" from "masked.gates.safetensors" : tensor<2x4xf32>
// CHECK: %[[Z_H:.*]] = shear.gate %[[LA_H]] {family = "head", target_size = 2 : i64}
// CHECK: %[[LA_G:.*]] = shear.weight "shear.gate.kv_group" from "masked.gates.safetensors" : tensor<2x2xf32>
// CHECK: %[[Z_G:.*]] = shear.gate %[[LA_G]] {family = "kv_group", target_size = 1 : i64}
// CHECK: %[[LA_I:.*]] = shear.weight "shear.gate.intermediate" from "masked.gates.safetensors" : tensor<2x12xf32>
// CHECK: %[[Z_I:.*]] = shear.gate %[[LA_I]] {family = "intermediate", target_size = 6 : i64}
// CHECK: %[[LA_D:.*]] = shear.weight "shear.gate.hidden" from "masked.gates.safetensors" : tensor<8xf32>
// CHECK: %[[Z_D:.*]] = shear.gate %[[LA_D]] {family = "hidden", target_size = 4 : i64}
// CHECK: %[[EMB:.*]] = shear.weight "model.embed_tokens.weight" from "{{.*}}Transforms/Inputs/gqa/model.safetensors"
// CHECK: %[[X0:.*]] = shear.embed %[[EMB]], %arg0 hidden_mask(%[[Z_D]])
// CHECK: %[[ZL0:.*]] = shear.mask_row %[[Z_L]][0] : tensor<2xf32> -> tensor<f32>
// CHECK: shear.rms_norm %[[X0]], %{{.*}} hidden_mask(%[[Z_D]])
// CHECK: %[[ZH0:.*]] = shear.mask_row %[[Z_H]][0] : tensor<2x4xf32> -> tensor<4xf32>
// CHECK: %[[ZG0:.*]] = shear.mask_row %[[Z_G]][0] : tensor<2x2xf32> -> tensor<2xf32>
// CHECK: %[[ATT0:.*]] = shear.attention {{.*}} head_mask(%[[ZH0]]) kv_group_mask(%[[ZG0]])
// CHECK: %[[X1:.*]] = shear.residual_add %[[X0]], %[[ATT0]] layer_mask(%[[ZL0]]) hidden_mask(%[[Z_D]])
// CHECK: shear.rms_norm %[[X1]], %{{.*}} hidden_mask(%[[Z_D]])
// CHECK: %[[ZI0:.*]] = shear.mask_row %[[Z_I]][0] : tensor<2x12xf32> -> tensor<12xf32>
// CHECK: %[[MLP0:.*]] = shear.mlp {{.*}} intermediate_mask(%[[ZI0]])
// CHECK: shear.residual_add %[[X1]], %[[MLP0]] layer_mask(%[[ZL0]]) hidden_mask(%[[Z_D]])
// CHECK: shear.mask_row %[[Z_L]][1]
// CHECK: shear.mask_row %[[Z_H]][1]
// CHECK: shear.mask_row %[[Z_G]][1]
// CHECK: shear.mask_row %[[Z_I]][1]
// CHECK: %[[XF:.*]] = shear.rms_norm %{{.*}}, %{{.*}} hidden_mask(%[[Z_D]])
// CHECK: shear.lm_head %[[XF]], %[[EMB]] {tied}

// METHOD.md §2: log_alpha ~ N(5, 0.01), float32, one tensor per family.
// GATES-DAG: shear.gate.layer F32 [2] mean={{(4\.99|5\.0)}}
// GATES-DAG: shear.gate.head F32 [2, 4] mean={{(4\.99|5\.0)}}
// GATES-DAG: shear.gate.kv_group F32 [2, 2] mean={{(4\.99|5\.0)}}
// GATES-DAG: shear.gate.intermediate F32 [2, 12] mean={{(4\.99|5\.0)}}
// GATES-DAG: shear.gate.hidden F32 [8] mean={{(4\.99|5\.0)}}
