// read-working-copies: in the functions of a bf16 training program that do
// not train (its evaluations), each cast of a float32 master weight gives
// way to a read of the master's working copy "work:<name>", the weight the
// training step's AdamW rewrites (build-optimizer working-copies): the same
// bf16 values without rounding every master again at every evaluation
// batch, and the masters read by nothing but the optimizer (which
// --offload optimizer then keeps in host memory).
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir --build-eval-step --lower-to-runtime "--assign-precision=dtype=bf16 master-weights=true" --read-working-copies | FileCheck %s
// CHECK: func.func @forward(
// CHECK-NOT: "cast"
// CHECK: shear.weight "shear.gate.layer" from "masked.gates.safetensors" : tensor<2xf32>
// CHECK-NOT: "cast"
// CHECK: %[[E:.*]] = shear.weight "work:model.embed_tokens.weight" from "{{[^"]*}}model.safetensors" {tensor = "model.embed_tokens.weight"} : tensor<10x8xbf16>
// CHECK-NEXT: shear.kernel "embed"(%[[E]],
// CHECK-NOT: "cast"
// CHECK: %[[Q:.*]] = shear.weight "work:model.layers.0.self_attn.q_proj.weight" from "{{[^"]*}}model.safetensors" {tensor = "model.layers.0.self_attn.q_proj.weight"} : tensor<8x8xbf16>
// CHECK-NOT: "cast"
// CHECK: shear.kernel "attention"(%{{.*}}, %[[Q]],
// CHECK-NOT: shear.weight "model.layers
// CHECK: func.func @eval_loss(
// CHECK-NOT: "cast"
// CHECK: shear.weight "work:model.embed_tokens.weight"
// CHECK-NOT: shear.weight "model.
// CHECK: return

// Training steps are left alone (build-optimizer makes their copies), and so
// is a function that casts no float32 weight.
// RUN: shear-opt %t/masked.mlir --build-train-step --lower-to-runtime "--assign-precision=dtype=bf16 master-weights=true" --read-working-copies | FileCheck %s --check-prefix=TRAIN
// TRAIN: func.func @train_step(
// TRAIN-NOT: work:
// TRAIN: shear.kernel "cast"
// TRAIN-NOT: work:
// TRAIN: return
// RUN: shear-opt %t/masked.mlir --build-eval-step --lower-to-runtime --read-working-copies | FileCheck %s --check-prefix=F32
// F32-NOT: work:
// F32: func.func @eval_loss(
// F32-NOT: work:
