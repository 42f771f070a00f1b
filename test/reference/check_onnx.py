#!/usr/bin/python3
"""check_onnx.py MODEL.onnx: onnx.checker.check_model(full_check=True) passes,
opset <= 17, and the signature is one of shear's two layouts: the decoder
layout (input_ids, attention_mask, position_ids int64 and past_key_values.<i>
.key/.value float32 [batch, kv heads, past_seq, head dim] -> logits and
present.<i>.key/.value [batch, kv heads, total_seq, head dim]), or the
cache-less one (input_ids int64 [batch, seq] -> logits float32 [batch, seq,
vocab]). Prints the checker's verdict and the signature."""
import sys

import onnx

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
assert opset <= 17, opset


def sig(v):
    t = v.type.tensor_type
    return (onnx.TensorProto.DataType.Name(t.elem_type),
            [d.dim_param or d.dim_value for d in t.shape.dim])


ins, outs = model.graph.input, model.graph.output
names_in = [i.name for i in ins]
names_out = [o.name for o in outs]
if names_in == ["input_ids"]:
    assert names_out == ["logits"], names_out
    print(f"checker ok (IR {model.ir_version}, opset {opset}); input_ids {sig(ins[0])} -> "
          f"logits {sig(outs[0])}")
    sys.exit(0)
layers = (len(ins) - 3) // 2
want_in = ["input_ids", "attention_mask", "position_ids"] + [
    f"past_key_values.{l}.{w}" for l in range(layers) for w in ("key", "value")]
want_out = ["logits"] + [f"present.{l}.{w}" for l in range(layers) for w in ("key", "value")]
assert names_in == want_in, names_in
assert names_out == want_out, names_out
for v in list(ins[3:]) + list(outs[1:]):
    dtype, dims = sig(v)
    assert dtype == "FLOAT" and len(dims) == 4 and dims[0] == "batch", (v.name, dtype, dims)
    assert dims[1] == sig(ins[3])[1][1] and dims[3] == sig(ins[3])[1][3], (v.name, dims)
print(f"checker ok (IR {model.ir_version}, opset {opset}); decoder with a KV cache: "
      f"{layers} layers; input_ids {sig(ins[0])}, attention_mask {sig(ins[1])}, "
      f"position_ids {sig(ins[2])}, past {sig(ins[3])} -> logits {sig(outs[0])}, "
      f"present {sig(outs[1])}")
