// materialize-shapes: the dense compact module of exactly the target shape,
// its weights written beside it (source dtype kept, or weight-dtype), no
// masks left, pruned layers dropped and the survivors renumbered, and a tied
// model untied because its hidden mask is soft. Numerical equality with the
// masked model is checked in test/Target/e2e-*.test.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %ref/make_tiny_hf.py --out %t/hf --layers 2 --hidden 8 --heads 4 --kv-heads 2 --intermediate 12 --vocab 10 --tied --dtype BF16
// RUN: shear-translate --import-hf %t/hf -o %t/model.mlir && mkdir -p %t/out
// RUN: shear-opt %t/model.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: %python %S/Inputs/write_gates.py %t/masked.gates.safetensors
// RUN: shear-opt %t/masked.mlir --finalize-masks --materialize-shapes -o %t/out/compact.mlir
// RUN: FileCheck %s < %t/out/compact.mlir
// RUN: shear-translate --inspect %t/out/compact.safetensors | FileCheck %s --check-prefix=WEIGHTS
// RUN: shear-translate --inspect %t/out/compact.safetensors | count 12
// RUN: shear-opt %t/masked.mlir --finalize-masks "--materialize-shapes=weight-dtype=f32" -o %t/out/f32.mlir
// RUN: shear-translate --inspect %t/out/f32.safetensors | FileCheck %s --check-prefix=F32

// CHECK-NOT: shear.gate
// CHECK-NOT: mask
// CHECK-NOT: shear.target_shape
// CHECK: func.func @forward(%arg0: tensor<?x?xi64>) -> tensor<?x?x10xf32>
// CHECK: %[[EMB:.*]] = shear.weight "model.embed_tokens.weight" from "compact.safetensors" : tensor<10x4xbf16>
// CHECK: shear.embed %[[EMB]], %arg0 : (tensor<10x4xbf16>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
// CHECK: shear.weight "model.layers.0.self_attn.q_proj.weight" from "compact.safetensors" : tensor<4x4xbf16>
// CHECK: shear.weight "model.layers.0.self_attn.k_proj.weight" from "compact.safetensors" : tensor<2x4xbf16>
// CHECK: shear.weight "model.layers.0.self_attn.o_proj.weight" from "compact.safetensors" : tensor<4x4xbf16>
// CHECK: shear.attention {{.*}} {head_dim = 2 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, rope_theta = 1.000000e+04 : f64}
// CHECK: shear.weight "model.layers.0.mlp.down_proj.weight" from "compact.safetensors" : tensor<4x6xbf16>
// CHECK-NOT: model.layers.1
// CHECK: %[[HEAD:.*]] = shear.weight "lm_head.weight" from "compact.safetensors" : tensor<10x4xbf16>
// CHECK: shear.lm_head %{{.*}}, %[[HEAD]] : (tensor<?x?x4xf32>, tensor<10x4xbf16>) -> tensor<?x?x10xf32>

// WEIGHTS: model.embed_tokens.weight BF16 [10, 4]
// WEIGHTS-NEXT: model.layers.0.input_layernorm.weight BF16 [4]
// WEIGHTS-NEXT: model.layers.0.self_attn.q_proj.weight BF16 [4, 4]
// WEIGHTS-NEXT: model.layers.0.self_attn.k_proj.weight BF16 [2, 4]
// WEIGHTS-NEXT: model.layers.0.self_attn.v_proj.weight BF16 [2, 4]
// WEIGHTS-NEXT: model.layers.0.self_attn.o_proj.weight BF16 [4, 4]
// WEIGHTS-NEXT: model.layers.0.post_attention_layernorm.weight BF16 [4]
// WEIGHTS-NEXT: model.layers.0.mlp.gate_proj.weight BF16 [6, 4]
// WEIGHTS-NEXT: model.layers.0.mlp.up_proj.weight BF16 [6, 4]
// WEIGHTS-NEXT: model.layers.0.mlp.down_proj.weight BF16 [4, 6]
// WEIGHTS-NEXT: model.norm.weight BF16 [4]
// WEIGHTS-NEXT: lm_head.weight BF16 [10, 4]

// F32: model.embed_tokens.weight F32 [10, 4]
// F32: lm_head.weight F32 [10, 4]
