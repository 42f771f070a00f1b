// Round trip of every shear op: parse, print, parse again, print the same.
// RUN: shear-opt %s | shear-opt | FileCheck %s

// CHECK-LABEL: func.func @every_op
func.func @every_op(%ids: tensor<?x?xi64>, %labels: tensor<?x?xi64>) -> tensor<f32> {
  // CHECK: shear.weight "shear.gate.layer" from "gates.safetensors" : tensor<2xf32>
  %la_layer = shear.weight "shear.gate.layer" from "gates.safetensors" : tensor<2xf32>
  // CHECK: shear.gate %{{.*}} {family = "layer", target_size = 1 : i64} : tensor<2xf32> -> tensor<2xf32>
  %z_layer = shear.gate %la_layer {family = "layer", target_size = 1 : i64} : tensor<2xf32> -> tensor<2xf32>
  %la_head = shear.weight "shear.gate.head" from "gates.safetensors" : tensor<2x4xf32>
  %z_head = shear.gate %la_head {family = "head", target_size = 2 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  %la_kv = shear.weight "shear.gate.kv_group" from "gates.safetensors" : tensor<2x2xf32>
  %z_kv = shear.gate %la_kv {family = "kv_group", target_size = 1 : i64} : tensor<2x2xf32> -> tensor<2x2xf32>
  %la_int = shear.weight "shear.gate.intermediate" from "gates.safetensors" : tensor<2x12xf32>
  %z_int = shear.gate %la_int {family = "intermediate", target_size = 6 : i64} : tensor<2x12xf32> -> tensor<2x12xf32>
  // Final masks are plain weights.
  // CHECK: shear.weight "shear.mask.hidden" from "masks.safetensors" : tensor<8xf32>
  %z_hidden = shear.weight "shear.mask.hidden" from "masks.safetensors" : tensor<8xf32>

  // CHECK: shear.mask_row %{{.*}}[0] : tensor<2xf32> -> tensor<f32>
  %zl0 = shear.mask_row %z_layer[0] : tensor<2xf32> -> tensor<f32>
  // CHECK: shear.mask_row %{{.*}}[1] : tensor<2x4xf32> -> tensor<4xf32>
  %zh1 = shear.mask_row %z_head[1] : tensor<2x4xf32> -> tensor<4xf32>
  %zg1 = shear.mask_row %z_kv[1] : tensor<2x2xf32> -> tensor<2xf32>
  %zi0 = shear.mask_row %z_int[0] : tensor<2x12xf32> -> tensor<12xf32>

  %table = shear.weight "model.embed_tokens.weight" from "model.safetensors" : tensor<10x8xbf16>
  // CHECK: shear.embed %{{.*}}, %{{.*}} hidden_mask(%{{.*}}) : (tensor<10x8xbf16>, tensor<?x?xi64>, tensor<8xf32>) -> tensor<?x?x8xf32>
  %x = shear.embed %table, %ids hidden_mask(%z_hidden) : (tensor<10x8xbf16>, tensor<?x?xi64>, tensor<8xf32>) -> tensor<?x?x8xf32>
  // CHECK: shear.embed %{{.*}}, %{{.*}} : (tensor<10x8xbf16>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %x_dense = shear.embed %table, %ids : (tensor<10x8xbf16>, tensor<?x?xi64>) -> tensor<?x?x8xf32>

  %ln = shear.weight "ln" from "model.safetensors" : tensor<8xf16>
  // CHECK: shear.rms_norm %{{.*}}, %{{.*}} hidden_mask(%{{.*}}) {eps = 1.000000e-05 : f64}
  %a = shear.rms_norm %x, %ln hidden_mask(%z_hidden) {eps = 1.0e-5 : f64} : (tensor<?x?x8xf32>, tensor<8xf16>, tensor<8xf32>) -> tensor<?x?x8xf32>

  %wq = shear.weight "q" from "model.safetensors" : tensor<8x8xf32>
  %wk = shear.weight "k" from "model.safetensors" : tensor<4x8xf32>
  %wv = shear.weight "v" from "model.safetensors" : tensor<4x8xf32>
  %wo = shear.weight "o" from "model.safetensors" : tensor<8x8xf32>
  // CHECK: shear.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} head_mask(%{{.*}}) kv_group_mask(%{{.*}}) {head_dim = 2 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_scaling = {factor = 8.000000e+00 : f64, high_freq_factor = 4.000000e+00 : f64, low_freq_factor = 1.000000e+00 : f64, original_max_position_embeddings = 8192 : i64, rope_type = "llama3"}, rope_theta = 5.000000e+05 : f64}
  %o = shear.attention %a, %wq, %wk, %wv, %wo head_mask(%zh1) kv_group_mask(%zg1)
         {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 5.0e5 : f64,
          rope_scaling = {rope_type = "llama3", factor = 8.0 : f64, low_freq_factor = 1.0 : f64,
                          high_freq_factor = 4.0 : f64, original_max_position_embeddings = 8192 : i64}}
         : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>, tensor<4xf32>, tensor<2xf32>) -> tensor<?x?x8xf32>
  // CHECK: shear.attention {{.*}} {head_dim = 2 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_scaling = {factor = 2.000000e+00 : f64, rope_type = "linear"}, rope_theta = 1.000000e+04 : f64}
  %o_linear = shear.attention %a, %wq, %wk, %wv, %wo
         {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 2 : i64, rope_theta = 1.0e4 : f64,
          rope_scaling = {rope_type = "linear", factor = 2.0 : f64}}
         : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  // CHECK: shear.residual_add %{{.*}}, %{{.*}} layer_mask(%{{.*}}) hidden_mask(%{{.*}}) :
  %x1 = shear.residual_add %x, %o layer_mask(%zl0) hidden_mask(%z_hidden) : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<f32>, tensor<8xf32>) -> tensor<?x?x8xf32>
  // CHECK: shear.residual_add %{{.*}}, %{{.*}} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %x1b = shear.residual_add %x1, %o_linear : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>

  %wg = shear.weight "g" from "model.safetensors" : tensor<12x8xbf16>
  %wu = shear.weight "u" from "model.safetensors" : tensor<12x8xbf16>
  %wd = shear.weight "d" from "model.safetensors" : tensor<8x12xbf16>
  // CHECK: shear.mlp %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} intermediate_mask(%{{.*}}) : (tensor<?x?x8xf32>, tensor<12x8xbf16>, tensor<12x8xbf16>, tensor<8x12xbf16>, tensor<12xf32>) -> tensor<?x?x8xf32>
  %m = shear.mlp %x1b, %wg, %wu, %wd intermediate_mask(%zi0) : (tensor<?x?x8xf32>, tensor<12x8xbf16>, tensor<12x8xbf16>, tensor<8x12xbf16>, tensor<12xf32>) -> tensor<?x?x8xf32>

  // CHECK: shear.lm_head %{{.*}}, %{{.*}} {tied} : (tensor<?x?x8xf32>, tensor<10x8xbf16>) -> tensor<?x?x10xf32>
  %logits = shear.lm_head %m, %table {tied} : (tensor<?x?x8xf32>, tensor<10x8xbf16>) -> tensor<?x?x10xf32>
  %head = shear.weight "lm_head.weight" from "model.safetensors" : tensor<10x8xf32>
  // CHECK: shear.lm_head %{{.*}}, %{{.*}} : (tensor<?x?x8xf32>, tensor<10x8xf32>) -> tensor<2x3x10xf32>
  %static = shear.lm_head %x_dense, %head : (tensor<?x?x8xf32>, tensor<10x8xf32>) -> tensor<2x3x10xf32>
  // CHECK: shear.cross_entropy %{{.*}}, %{{.*}} : (tensor<?x?x10xf32>, tensor<?x?xi64>) -> tensor<f32>
  %loss = shear.cross_entropy %logits, %labels : (tensor<?x?x10xf32>, tensor<?x?xi64>) -> tensor<f32>
  // CHECK: shear.cross_entropy %{{.*}}, %{{.*}} {ignore_index = 0 : i64}
  %loss0 = shear.cross_entropy %logits, %labels {ignore_index = 0 : i64} : (tensor<?x?x10xf32>, tensor<?x?xi64>) -> tensor<f32>
  return %loss : tensor<f32>
}
