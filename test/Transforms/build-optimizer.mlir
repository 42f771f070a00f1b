// build-optimizer: one global_norm over all gradients, then an adamw per
// weight with zero-initialized moments and its group's learning rate (new
// arguments lr, lr_gate, lr_lambda); gates are projected to ±ln 100.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir --build-train-step --lower-to-runtime --differentiate "--build-optimizer=optimizer-state=opt.safetensors max-norm=0.5" | FileCheck %s

// CHECK: func.func @train_step(%{{.*}}: tensor<?x?xi64>, %{{.*}}: tensor<?x?xi64>, %[[STEP:.*]]: tensor<i64>, %[[LR:.*]]: tensor<f32>, %[[LRG:.*]]: tensor<f32>, %[[LRL:.*]]: tensor<f32>)
// CHECK-SAME: shear.lr_args = ["lr", "lr_gate", "lr_lambda"]
// CHECK-SAME: "expected_sparsity.hidden", "target_sparsity.hidden", "grad_norm"]
// CHECK-SAME: shear.updates = {{\[}}["masked.gates.safetensors", "shear.gate.layer"],
// CHECK-SAME: ["opt.safetensors", "adam.m:shear.gate.layer"]
// CHECK: %[[NORM:.*]] = shear.kernel "global_norm"(
// CHECK: %[[M:.*]] = shear.weight "adam.m:shear.gate.layer" from "opt.safetensors" {zero_init} : tensor<2xf32>
// CHECK: %[[V:.*]] = shear.weight "adam.v:shear.gate.layer" from "opt.safetensors" {zero_init} : tensor<2xf32>
// CHECK: shear.kernel "adamw"(%{{.*}}, %{{.*}}, %[[M]], %[[V]], %[[NORM]], %[[LRG]], %[[STEP]]) {beta1 = 9.000000e-01 : f64, beta2 = 0.94999999999999996 : f64, clamp = 4.6051701859880918 : f64, eps = 1.000000e-08 : f64, max_norm = 5.000000e-01 : f64, weight_decay = 0.000000e+00 : f64}
// CHECK: shear.kernel "adamw"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[NORM]], %[[LR]], %[[STEP]]) {beta1
// CHECK-NOT: clamp
// CHECK-SAME: max_norm
// CHECK: shear.kernel "adamw"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[NORM]], %[[LRL]], %[[STEP]])
// CHECK: return

// working-copies (a bf16 program): the casts of each master weight give way
// to a weight "work:<name>" of the cast's type, read by the kernels and
// rewritten by the master's adamw (operand w, listed in masks); its results
// join the updates. Gates are never cast: their adamw has no copy.
// RUN: shear-opt %t/masked.mlir --build-train-step --lower-to-runtime "--assign-precision=dtype=bf16 master-weights=true" --differentiate "--build-optimizer=working-copies=true" | FileCheck %s --check-prefix=COPY
// COPY: func.func @train_step(
// COPY-SAME: ["{{[^"]*}}model.safetensors", "work:model.embed_tokens.weight"]
// COPY-NOT: "cast"
// COPY: %[[P:.*]] = shear.weight "model.embed_tokens.weight" from "{{[^"]*}}model.safetensors" : tensor<10x8xf32>
// COPY-NEXT: %[[W:.*]] = shear.weight "work:model.embed_tokens.weight" from "{{[^"]*}}model.safetensors" {tensor = "model.embed_tokens.weight"} : tensor<10x8xbf16>
// COPY-NOT: "cast"
// COPY: shear.kernel "embed"(%[[W]],
// COPY-NOT: "cast"
// COPY: shear.kernel "adamw"(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) {beta1 {{.*}} clamp
// COPY: shear.kernel "adamw"(%[[P]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[W]]) {{{.*}}masks = ["w"]{{.*}}} : ({{.*}}, tensor<10x8xbf16>) -> (tensor<10x8xf32>, tensor<10x8xf32>, tensor<10x8xf32>, tensor<10x8xbf16>)
// COPY: return
// Without the option (and in a float32 program) the casts stay.
// RUN: shear-opt %t/masked.mlir --build-train-step --lower-to-runtime "--assign-precision=dtype=bf16 master-weights=true" --differentiate --build-optimizer | FileCheck %s --check-prefix=CAST
// CAST-NOT: work:
// CAST: shear.kernel "cast"
// CAST-NOT: work:
// CAST: return
