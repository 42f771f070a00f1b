// A 2-layer GQA LLaMA (hidden 8, 4 heads of 2 in 2 kv groups, intermediate 12,
// vocab 10, tied embeddings) as --import-hf writes it.
module attributes {shear.model = {architecture = "LlamaForCausalLM", bos_token_id = 1 : i64, eos_token_id = 2 : i64, max_position_embeddings = 128 : i64}} {
  func.func @forward(%arg0: tensor<?x?xi64>) -> tensor<?x?x10xf32> {
    %0 = shear.weight "model.embed_tokens.weight" from "gqa/model.safetensors" : tensor<10x8xf32>
    %1 = shear.embed %0, %arg0 : (tensor<10x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
    %2 = shear.weight "model.layers.0.input_layernorm.weight" from "gqa/model.safetensors" : tensor<8xf32>
    %3 = shear.rms_norm %1, %2 {eps = 1.000000e-05 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %4 = shear.weight "model.layers.0.self_attn.q_proj.weight" from "gqa/model.safetensors" : tensor<8x8xf32>
    %5 = shear.weight "model.layers.0.self_attn.k_proj.weight" from "gqa/model.safetensors" : tensor<4x8xf32>
    %6 = shear.weight "model.layers.0.self_attn.v_proj.weight" from "gqa/model.safetensors" : tensor<4x8xf32>
    %7 = shear.weight "model.layers.0.self_attn.o_proj.weight" from "gqa/model.safetensors" : tensor<8x8xf32>
    %8 = shear.attention %3, %4, %5, %6, %7 {head_dim = 2 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
    %9 = shear.residual_add %1, %8 : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %10 = shear.weight "model.layers.0.post_attention_layernorm.weight" from "gqa/model.safetensors" : tensor<8xf32>
    %11 = shear.rms_norm %9, %10 {eps = 1.000000e-05 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %12 = shear.weight "model.layers.0.mlp.gate_proj.weight" from "gqa/model.safetensors" : tensor<12x8xf32>
    %13 = shear.weight "model.layers.0.mlp.up_proj.weight" from "gqa/model.safetensors" : tensor<12x8xf32>
    %14 = shear.weight "model.layers.0.mlp.down_proj.weight" from "gqa/model.safetensors" : tensor<8x12xf32>
    %15 = shear.mlp %11, %12, %13, %14 : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x?x8xf32>
    %16 = shear.residual_add %9, %15 : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %17 = shear.weight "model.layers.1.input_layernorm.weight" from "gqa/model.safetensors" : tensor<8xf32>
    %18 = shear.rms_norm %16, %17 {eps = 1.000000e-05 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %19 = shear.weight "model.layers.1.self_attn.q_proj.weight" from "gqa/model.safetensors" : tensor<8x8xf32>
    %20 = shear.weight "model.layers.1.self_attn.k_proj.weight" from "gqa/model.safetensors" : tensor<4x8xf32>
    %21 = shear.weight "model.layers.1.self_attn.v_proj.weight" from "gqa/model.safetensors" : tensor<4x8xf32>
    %22 = shear.weight "model.layers.1.self_attn.o_proj.weight" from "gqa/model.safetensors" : tensor<8x8xf32>
    %23 = shear.attention %18, %19, %20, %21, %22 {head_dim = 2 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64} : (tensor<?x?x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
    %24 = shear.residual_add %16, %23 : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %25 = shear.weight "model.layers.1.post_attention_layernorm.weight" from "gqa/model.safetensors" : tensor<8xf32>
    %26 = shear.rms_norm %24, %25 {eps = 1.000000e-05 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %27 = shear.weight "model.layers.1.mlp.gate_proj.weight" from "gqa/model.safetensors" : tensor<12x8xf32>
    %28 = shear.weight "model.layers.1.mlp.up_proj.weight" from "gqa/model.safetensors" : tensor<12x8xf32>
    %29 = shear.weight "model.layers.1.mlp.down_proj.weight" from "gqa/model.safetensors" : tensor<8x12xf32>
    %30 = shear.mlp %26, %27, %28, %29 : (tensor<?x?x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>, tensor<8x12xf32>) -> tensor<?x?x8xf32>
    %31 = shear.residual_add %24, %30 : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
    %32 = shear.weight "model.norm.weight" from "gqa/model.safetensors" : tensor<8xf32>
    %33 = shear.rms_norm %31, %32 {eps = 1.000000e-05 : f64} : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %34 = shear.lm_head %33, %0 {tied} : (tensor<?x?x8xf32>, tensor<10x8xf32>) -> tensor<?x?x10xf32>
    return %34 : tensor<?x?x10xf32>
  }
}

