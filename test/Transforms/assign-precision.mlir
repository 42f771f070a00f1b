// assign-precision: the element type every weight and activation is held in.
// dtype=bf16: the compute kernels' activations (embed, rms_norm, attention,
// mlp, residual_add and what their .train variants keep for the backward)
// are bf16; the attention's log-sum-exp, logits, losses, masks, gates and
// multipliers stay float32. Parameters are read as bf16: held as bf16
// (evaluation), or, with master-weights, held as float32 master weights and
// cast once per step to a bf16 working copy that the kernels read (training:
// AdamW updates the float32 master). A frozen teacher's weights are held as
// bf16 either way. Gradients stay float32: differentiate passes a cast's
// cotangent straight to the master weight. Function signatures are kept
// (a returned activation is cast back). dtype=f32 holds every float weight
// in float32, whatever its file stores.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --build-eval-step --lower-to-runtime --fuse-kernels "--assign-precision=dtype=bf16" | FileCheck %s --check-prefix=EVAL
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir "--build-train-step=mode=prune" --lower-to-runtime --fuse-kernels "--assign-precision=dtype=bf16 master-weights=1" --differentiate | FileCheck %s --check-prefix=PRUNE
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir "--build-train-step=mode=train distill-from=%S/Inputs/tiny-mha.mlir" --lower-to-runtime --fuse-kernels "--assign-precision=dtype=bf16 master-weights=1" | FileCheck %s --check-prefix=DISTILL
// RUN: sed 's/tensor<\([0-9x]*\)xf32>/tensor<\1xbf16>/g' %S/Inputs/tiny-gqa.mlir > %t/stored-bf16.mlir
// RUN: shear-opt %t/stored-bf16.mlir --build-eval-step --lower-to-runtime "--assign-precision=dtype=f32" | FileCheck %s --check-prefix=F32
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --build-decode-step --lower-to-runtime "--assign-precision=dtype=bf16" | FileCheck %s --check-prefix=DECODE
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-gqa.mlir --build-eval-step --lower-to-runtime "--assign-precision=dtype=f16" 2>&1 | FileCheck %s --check-prefix=BAD

// Evaluation: bf16 weights, no casts; logits and the loss in float32.
// EVAL-LABEL: func.func @forward
// EVAL-NOT: "cast"
// EVAL: %[[E:.*]] = shear.weight "model.embed_tokens.weight" {{.*}} : tensor<10x8xbf16>
// EVAL: shear.kernel "embed"(%[[E]], %arg0) : (tensor<10x8xbf16>, tensor<?x?xi64>) -> tensor<?x?x8xbf16>
// EVAL: shear.kernel "rms_norm"({{.*}}) {eps = 1.000000e-05 : f64} : (tensor<?x?x8xbf16>, tensor<8xbf16>) -> tensor<?x?x8xbf16>
// EVAL: shear.kernel "attention"({{.*}} : (tensor<?x?x8xbf16>, tensor<8x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<8x8xbf16>) -> tensor<?x?x8xbf16>
// EVAL: shear.kernel "residual_add_rms_norm"({{.*}}) {eps = 1.000000e-05 : f64} : (tensor<?x?x8xbf16>, tensor<?x?x8xbf16>, tensor<8xbf16>) -> (tensor<?x?x8xbf16>, tensor<?x?x8xbf16>)
// EVAL: shear.kernel "mlp"({{.*}}) : (tensor<?x?x8xbf16>, tensor<12x8xbf16>, tensor<12x8xbf16>, tensor<8x12xbf16>) -> tensor<?x?x8xbf16>
// EVAL: %[[L:.*]] = shear.kernel "lm_head"({{.*}}) {tied} : (tensor<?x?x8xbf16>, tensor<10x8xbf16>) -> tensor<?x?x10xf32>
// EVAL-NEXT: return %[[L]] : tensor<?x?x10xf32>
// EVAL-LABEL: func.func @eval_loss
// EVAL: shear.kernel "lm_head_cross_entropy"({{.*}}) {ignore_index = -100 : i64, tied} : (tensor<?x?x8xbf16>, tensor<10x8xbf16>, tensor<?x?xi64>) -> tensor<f32>

// Pruning: float32 masters cast to bf16 working copies; float32 gates,
// masks and statistics; float32 gradients.
// PRUNE-LABEL: func.func @train_step
// PRUNE: %[[G:.*]] = shear.weight "shear.gate.layer" {{.*}} : tensor<2xf32>
// PRUNE: shear.kernel "gate.sample"(%[[G]], %arg2) {{.*}} : (tensor<2xf32>, tensor<i64>) -> tensor<2xf32>
// PRUNE: %[[E:.*]] = shear.weight "model.embed_tokens.weight" {{.*}} : tensor<10x8xf32>
// PRUNE-NEXT: %[[E16:.*]] = shear.kernel "cast"(%[[E]]) : (tensor<10x8xf32>) -> tensor<10x8xbf16>
// PRUNE: shear.kernel "embed"(%[[E16]], %arg0, %{{.*}}) {masks = ["hidden"]} : (tensor<10x8xbf16>, tensor<?x?xi64>, tensor<8xf32>) -> tensor<?x?x8xbf16>
// PRUNE: shear.kernel "mask_row"({{.*}} -> tensor<f32>
// PRUNE: %[[Q:.*]] = shear.weight "model.layers.0.self_attn.q_proj.weight" {{.*}} : tensor<8x8xf32>
// PRUNE-NEXT: %[[Q16:.*]] = shear.kernel "cast"(%[[Q]]) : (tensor<8x8xf32>) -> tensor<8x8xbf16>
// PRUNE: %[[A:.*]]:6 = shear.kernel "attention.train"(%{{.*}}, %[[Q16]], {{.*}} : (tensor<?x?x8xbf16>, tensor<8x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<8x8xbf16>, tensor<4xf32>, tensor<2xf32>) -> (tensor<?x?x8xbf16>, tensor<?x?x8xbf16>, tensor<?x?x4xbf16>, tensor<?x?x4xbf16>, tensor<?x?x8xbf16>, tensor<?x4x?xf32>)
// PRUNE: shear.kernel "mlp.train"({{.*}} -> (tensor<?x?x8xbf16>, tensor<?x12xbf16>, tensor<?x12xbf16>, tensor<?x12xbf16>)
// PRUNE: shear.kernel "lm_head_cross_entropy.train"(%{{.*}}, %[[E16]], %arg1) {{.*}} : (tensor<?x?x8xbf16>, tensor<10x8xbf16>, tensor<?x?xi64>) -> (tensor<f32>, tensor<?x?x8xf32>, tensor<10x8xf32>)
// PRUNE: shear.kernel "lagrangian"({{.*}} -> (tensor<f32>, tensor<f32>, tensor<f32>)
// PRUNE: shear.kernel "attention.bwd"({{.*}} -> (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<2xf32>)
// PRUNE-NOT: "cast.bwd"
// The embedding's gradient: embed.bwd's and the tied lm_head's, both float32.
// PRUNE: %[[DE:.*]]:2 = shear.kernel "embed.bwd"(%[[E16]], {{.*}} -> (tensor<10x8xf32>, tensor<8xf32>)
// PRUNE: shear.kernel "add"(%{{.*}}, %[[DE]]#0) : (tensor<10x8xf32>, tensor<10x8xf32>) -> tensor<10x8xf32>
// PRUNE-NOT: "cast"
// PRUNE: return

// Distillation: the teacher's weights are held as bf16, its ops get bf16
// activations; the student keeps masters. Both logits are float32.
// DISTILL-LABEL: func.func @train_step
// DISTILL: shear.weight "teacher.model.embed_tokens.weight" {{.*}} {frozen{{.*}}} : tensor<10x8xbf16>
// DISTILL-NOT: "cast"(%{{.*}}) : (tensor<10x8xf32>) -> tensor<10x8xbf16>
// DISTILL: shear.kernel "lm_head"({{.*}} : (tensor<?x?x8xbf16>, tensor<10x8xbf16>) -> tensor<?x?x10xf32>
// DISTILL: shear.kernel "distill"({{.*}} : (tensor<?x?x10xf32>, tensor<?x?x10xf32>, tensor<?x?xi64>) -> (tensor<f32>, tensor<f32>, tensor<f32>)

// f32: a model stored in bf16 is held in float32.
// F32-LABEL: func.func @forward
// F32: shear.weight "model.embed_tokens.weight" {{.*}} : tensor<10x8xf32>
// F32: shear.kernel "embed"({{.*}} : (tensor<10x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
// F32: shear.kernel "mlp"({{.*}} : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x?x8xf32>

// Decoding: bf16 activations and weights; the KV caches are the function's
// arguments and keep their float32 type.
// DECODE-LABEL: func.func @decode
// DECODE: shear.kernel "attention.decode"({{.*}} : (tensor<?x?x8xbf16>, tensor<8x8xbf16>, tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<8x8xbf16>, tensor<?x2x?x2xf32>, tensor<?x2x?x2xf32>, tensor<i64>) -> (tensor<?x?x8xbf16>, tensor<?x2x?x2xf32>, tensor<?x2x?x2xf32>)

// BAD: assign-precision: dtype must be f32 or bf16, got 'f16'
