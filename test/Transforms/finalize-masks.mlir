// finalize-masks against masks computed by hand (METHOD.md §2): clamp to
// ±ln 100, keep the k largest per row (ties: lower index), kept value
// sigmoid(1.2·log_alpha). GQA: keep whole kv groups by kv_group score, then
// the same number of heads in each kept group by head score.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: %python %S/Inputs/write_gates.py %t/masked.gates.safetensors
// RUN: shear-opt %t/masked.mlir --finalize-masks -o %t/final.mlir
// RUN: FileCheck %s < %t/final.mlir
// RUN: shear-translate --inspect %t/final.masks.safetensors --values | FileCheck %s --check-prefix=MASKS
// Finalizing final masks changes nothing.
// RUN: shear-opt %t/final.mlir --finalize-masks -o %t/final2.mlir
// RUN: sed 's/final2/final/' %t/final2.mlir | diff - %t/final.mlir

// CHECK-NOT: shear.gate
// CHECK: %[[Z_L:.*]] = shear.weight "shear.mask.layer" from "final.masks.safetensors" : tensor<2xf32>
// CHECK: shear.weight "shear.mask.head" from "final.masks.safetensors" : tensor<2x4xf32>
// CHECK: shear.weight "shear.mask.kv_group" from "final.masks.safetensors" : tensor<2x2xf32>
// CHECK: shear.weight "shear.mask.intermediate" from "final.masks.safetensors" : tensor<2x12xf32>
// CHECK: %[[Z_D:.*]] = shear.weight "shear.mask.hidden" from "final.masks.safetensors" : tensor<8xf32>
// CHECK: shear.embed %{{.*}}, %arg0 hidden_mask(%[[Z_D]])
// CHECK: shear.mask_row %[[Z_L]][0]
// The masked model's weights are still the source's.
// CHECK: shear.weight "model.layers.0.self_attn.q_proj.weight" from "{{.*}}Inputs/gqa/model.safetensors"
// CHECK-NOT: shear.gate

// layer [0.5, -0.3], keep 1: sigmoid(0.6) = 0.645656, 0
// MASKS-LABEL: shear.mask.layer F32 [2]
// MASKS-NEXT: values: 0.645656 0
// layer 0: groups [0.2, 0.1] keep 1 -> group 0 (heads 0, 1): sigmoid(1.2), sigmoid(3.6)
// layer 1: groups tie [1, 1] -> group 0 (lower index), heads [0, 0]: sigmoid(0) twice,
//          although heads 2 and 3 (group 1) have the larger scores
// MASKS-LABEL: shear.mask.head F32 [2, 4]
// MASKS-NEXT: values: 0.768525 0.973403 0 0 0.5 0.5 0 0
// MASKS-LABEL: shear.mask.kv_group F32 [2, 2]
// MASKS-NEXT: values: 0.559714 0 0.768525 0
// row 0: 0.0..1.1 keep 6 -> the last six, sigmoid(1.2·0.6) ... sigmoid(1.2·1.1)
// row 1: -5.5, -5, ..., 0 (ascending) keep 6 -> the last six, sigmoid(-6.6) ... sigmoid(0)
// MASKS-LABEL: shear.mask.intermediate F32 [2, 12]
// MASKS-NEXT: values: 0 0 0 0 0 0 0.672607 0.698465 0.723122 0.746494 0.768525 0.789182 0 0 0 0 0 0 0.0474259 0.0831727 0.141851 0.231475 0.354344 0.5
// hidden [0.1, 0.9, -2, 7, 0.9, 3, -1, 0] keep 4 -> 7 (clamped to ln 100: 1/(1+100^-1.2)
// = 0.996035), 3, 0.9, 0.9
// MASKS-LABEL: shear.mask.hidden F32 [8]
// MASKS-NEXT: values: 0 0.746494 0 0.996035 0.746494 0.973403 0 0
