//===- ShearDialect.td - the shear dialect -----------------*- tablegen -*-===//
//
// The vocabulary in which shear expresses a LLaMA-family decoder, its pruning
// masks and (later) its training program.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_DIALECT_TD
#define SHEAR_DIALECT_TD

include "mlir/IR/OpBase.td"

def Shear_Dialect : Dialect {
  let name = "shear";
  let cppNamespace = "::shear";
  let summary = "LLaMA-family decoders at the granularity structured pruning reasons about";
  let description = [{
    Ops for a LLaMA-family decoder (embedding, RMSNorm, attention with RoPE and
    grouped-query attention, SwiGLU MLP, residual add, lm_head, cross-entropy),
    a reference to an externally stored weight, and the hard-concrete gate that
    turns gate parameters into a mask. Masks are optional operands, so one op
    set expresses both the dense and the masked model.

    Activations are float32 tensors `[batch, seq, features]`; weights keep the
    element type they are stored with (f32, f16, bf16).
  }];
}

class Shear_Op<string mnemonic, list<Trait> traits = []>
    : Op<Shear_Dialect, mnemonic, traits>;

#endif // SHEAR_DIALECT_TD
