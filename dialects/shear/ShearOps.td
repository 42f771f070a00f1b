//===- ShearOps.td - ops of the shear dialect --------------*- tablegen -*-===//
#ifndef SHEAR_OPS_TD
#define SHEAR_OPS_TD

include "ShearDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Activations are f32; weights may be any float type they are stored with.
def Shear_Activation : RankedTensorOf<[F32]>;
def Shear_WeightTensor : RankedTensorOf<[F32, F16, BF16]>;
def Shear_Mask : RankedTensorOf<[F32]>;
def Shear_TokenIds : RankedTensorOf<[AnySignlessInteger]>;

//===----------------------------------------------------------------------===//
// Parameters and masks
//===----------------------------------------------------------------------===//

def Shear_WeightOp : Shear_Op<"weight", [Pure]> {
  let summary = "a tensor stored in a safetensors file beside the module";
  let description = [{
    References tensor `name` in the safetensors file `file`. A relative path is
    relative to the directory of the module file. The weights never enter the IR,
    so a 7B model's module stays a few kilobytes. With `zero_init` (training
    state: optimizer moments, Lagrange multipliers) a tensor the file does not
    hold, or a file that does not exist yet, starts as zeros. `tensor` names
    the tensor in the file when it differs from `name`, and `frozen` marks a
    weight that is read but never trained (a distillation teacher's, named
    `teacher.<name>`).

    Example:
    ```mlir
    %w = shear.weight "model.layers.0.self_attn.q_proj.weight" from "model.safetensors" : tensor<4096x4096xbf16>
    ```
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$file, UnitAttr:$zero_init,
                       OptionalAttr<StrAttr>:$tensor, UnitAttr:$frozen);
  let results = (outs AnyStaticShapeTensor:$result);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::mlir::StringAttr":$name, "::mlir::StringAttr":$file), [{
      build($_builder, $_state, type, name, file, /*zero_init=*/nullptr, /*tensor=*/nullptr,
            /*frozen=*/nullptr);
    }]>
  ];
  let assemblyFormat = "$name `from` $file attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Shear_GateOp : Shear_Op<"gate", [Pure]> {
  let summary = "hard-concrete L0 gate: gate parameters to a mask";
  let description = [{
    Turns the gate parameters `log_alpha` of one mask family into a mask of the
    same shape (METHOD.md §2). In training mode a mask is drawn
    (z = clamp(sigmoid((ln u − ln(1−u) + log_alpha)/β)·(ζ−γ)+γ, 0, 1)); in
    evaluation mode it is deterministic. `family` is one of `layer` [L],
    `head` [L, H], `kv_group` [L, G], `intermediate` [L, M], `hidden` [D];
    `target_size` is the number of entries each row keeps in the target model.

    Example:
    ```mlir
    %z = shear.gate %log_alpha {family = "head", target_size = 20 : i64} : tensor<32x32xf32> -> tensor<32x32xf32>
    ```
  }];
  let arguments = (ins Shear_Mask:$log_alpha, StrAttr:$family, I64Attr:$target_size);
  let results = (outs Shear_Mask:$mask);
  let assemblyFormat = "$log_alpha attr-dict `:` type($log_alpha) `->` type($mask)";
  let hasVerifier = 1;
}

def Shear_MaskRowOp : Shear_Op<"mask_row", [Pure]> {
  let summary = "the mask of one layer";
  let description = [{
    Row `index` of a per-layer mask: [L, N] gives [N], [L] gives a scalar
    (rank-0 tensor).

    Example:
    ```mlir
    %zh3 = shear.mask_row %z_head[3] : tensor<32x32xf32> -> tensor<32xf32>
    ```
  }];
  let arguments = (ins Shear_Mask:$mask, I64Attr:$index);
  let results = (outs Shear_Mask:$row);
  let assemblyFormat = "$mask `[` $index `]` attr-dict `:` type($mask) `->` type($row)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The decoder
//===----------------------------------------------------------------------===//

def Shear_EmbedOp : Shear_Op<"embed", [Pure]> {
  let summary = "token embedding lookup, optionally times the hidden mask";
  let description = [{
    `result[b, t, :] = table[ids[b, t], :] ⊙ hidden_mask`.

    Example:
    ```mlir
    %x = shear.embed %table, %ids : (tensor<32000x4096xbf16>, tensor<?x?xi64>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins Shear_WeightTensor:$table, Shear_TokenIds:$ids,
                       Optional<Shear_Mask>:$hidden_mask);
  let results = (outs Shear_Activation:$result);
  let assemblyFormat = [{
    $table `,` $ids (`hidden_mask` `(` $hidden_mask^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Shear_RMSNormOp : Shear_Op<"rms_norm", [Pure]> {
  let summary = "RMSNorm, with statistics over kept hidden dims when masked";
  let description = [{
    `y = x / sqrt(mean(x²) + eps) ⊙ weight`. With a hidden mask the mean runs
    over the kept dims only (mask ≠ 0) and the output is multiplied by the mask,
    which makes the masked model equal the compact one.

    Example:
    ```mlir
    %y = shear.rms_norm %x, %w {eps = 1.0e-05 : f64} : (tensor<?x?x4096xf32>, tensor<4096xbf16>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins Shear_Activation:$input, Shear_WeightTensor:$weight,
                       Optional<Shear_Mask>:$hidden_mask, F64Attr:$eps);
  let results = (outs Shear_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`hidden_mask` `(` $hidden_mask^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Shear_AttentionOp : Shear_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "causal self-attention with RoPE and grouped-query attention";
  let description = [{
    q = x·wqᵀ, k = x·wkᵀ, v = x·wvᵀ split into `num_heads` query heads and
    `num_kv_heads` key/value heads of `head_dim`; query head h uses kv head
    h / (num_heads / num_kv_heads). RoPE in the HF rotate-half convention with
    base `rope_theta`; `rope_scaling` is absent or a dictionary
    `{rope_type = "linear", factor}` or `{rope_type = "llama3", factor,
    low_freq_factor, high_freq_factor, original_max_position_embeddings}`.
    Causal softmax(q·kᵀ/√head_dim)·v gives each head's context, which is
    multiplied by `head_mask[h]` and `kv_group_mask[h / (num_heads/num_kv_heads)]`
    when present, then projected by wo.

    Example:
    ```mlir
    %o = shear.attention %x, %wq, %wk, %wv, %wo head_mask(%zh)
           {num_heads = 32 : i64, num_kv_heads = 32 : i64, head_dim = 128 : i64, rope_theta = 1.0e+04 : f64}
           : (tensor<?x?x4096xf32>, tensor<4096x4096xbf16>, tensor<4096x4096xbf16>, tensor<4096x4096xbf16>,
              tensor<4096x4096xbf16>, tensor<32xf32>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins Shear_Activation:$input,
                       Shear_WeightTensor:$wq, Shear_WeightTensor:$wk,
                       Shear_WeightTensor:$wv, Shear_WeightTensor:$wo,
                       Optional<Shear_Mask>:$head_mask,
                       Optional<Shear_Mask>:$kv_group_mask,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim,
                       F64Attr:$rope_theta, OptionalAttr<DictionaryAttr>:$rope_scaling);
  let results = (outs Shear_Activation:$result);
  let assemblyFormat = [{
    $input `,` $wq `,` $wk `,` $wv `,` $wo
    (`head_mask` `(` $head_mask^ `)`)? (`kv_group_mask` `(` $kv_group_mask^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Shear_MLPOp : Shear_Op<"mlp", [Pure]> {
  let summary = "SwiGLU MLP, optionally with the intermediate mask";
  let description = [{
    `down(silu(gate(x)) * (up(x) ⊙ intermediate_mask))`.

    Example:
    ```mlir
    %y = shear.mlp %x, %wg, %wu, %wd : (tensor<?x?x4096xf32>, tensor<11008x4096xbf16>, tensor<11008x4096xbf16>, tensor<4096x11008xbf16>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins Shear_Activation:$input, Shear_WeightTensor:$w_gate,
                       Shear_WeightTensor:$w_up, Shear_WeightTensor:$w_down,
                       Optional<Shear_Mask>:$intermediate_mask);
  let results = (outs Shear_Activation:$result);
  let assemblyFormat = [{
    $input `,` $w_gate `,` $w_up `,` $w_down (`intermediate_mask` `(` $intermediate_mask^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Shear_ResidualAddOp : Shear_Op<"residual_add", [Pure, AttrSizedOperandSegments]> {
  let summary = "residual stream update, with layer and hidden masks";
  let description = [{
    `result = residual + update · layer_mask ⊙ hidden_mask`. The layer mask is
    a scalar (rank-0); a layer whose mask is 0 is the identity.

    Example:
    ```mlir
    %x2 = shear.residual_add %x1, %o layer_mask(%zl) hidden_mask(%zd) : (tensor<?x?x4096xf32>, tensor<?x?x4096xf32>, tensor<f32>, tensor<4096xf32>) -> tensor<?x?x4096xf32>
    ```
  }];
  let arguments = (ins Shear_Activation:$residual, Shear_Activation:$update,
                       Optional<Shear_Mask>:$layer_mask,
                       Optional<Shear_Mask>:$hidden_mask);
  let results = (outs Shear_Activation:$result);
  let assemblyFormat = [{
    $residual `,` $update (`layer_mask` `(` $layer_mask^ `)`)? (`hidden_mask` `(` $hidden_mask^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Shear_LMHeadOp : Shear_Op<"lm_head", [Pure]> {
  let summary = "output projection to vocabulary logits";
  let description = [{
    `logits = x · weightᵀ`. With `tied`, `weight` must be the embedding table
    of the model's `shear.embed` (same SSA value).

    Example:
    ```mlir
    %logits = shear.lm_head %x, %table {tied} : (tensor<?x?x4096xf32>, tensor<32000x4096xbf16>) -> tensor<?x?x32000xf32>
    ```
  }];
  let arguments = (ins Shear_Activation:$input, Shear_WeightTensor:$weight, UnitAttr:$tied);
  let results = (outs Shear_Activation:$logits);
  let assemblyFormat = "$input `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Shear_CrossEntropyOp : Shear_Op<"cross_entropy", [Pure]> {
  let summary = "mean next-token cross-entropy";
  let description = [{
    Mean over positions whose label is not `ignore_index` of
    `logsumexp(logits[b, t]) − logits[b, t, labels[b, t]]`.

    Example:
    ```mlir
    %loss = shear.cross_entropy %logits, %labels : (tensor<?x?x32000xf32>, tensor<?x?xi64>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Shear_Activation:$logits, Shear_TokenIds:$labels,
                       DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs RankedTensorOf<[F32]>:$loss);
  let assemblyFormat = "$logits `,` $labels attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The lowered program
//===----------------------------------------------------------------------===//

def Shear_KernelOp : Shear_Op<"kernel"> {
  let summary = "a call into the runtime's kernel library";
  let description = [{
    What the decoder ops lower to: a call of the runtime kernel `callee` (the
    CPU and CUDA backends register the same names) with tensor arguments and
    the attributes of the op it came from. `masks` names the optional mask
    arguments present, in order, after the fixed ones. shear-run executes a
    function made of `shear.weight`, `shear.kernel` and `func.return`.

    Example:
    ```mlir
    %y = shear.kernel "rms_norm"(%x, %w, %z) {eps = 1.0e-05 : f64, masks = ["hidden"]}
           : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$callee, Variadic<AnyRankedTensor>:$args);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$callee `(` $args `)` attr-dict `:` functional-type($args, results)";
  let hasVerifier = 1;
}

#endif // SHEAR_OPS_TD
