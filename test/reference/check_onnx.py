#!/usr/bin/python3
"""check_onnx.py MODEL.onnx: onnx.checker.check_model(full_check=True) passes,
opset <= 17, and the input/output signature is input_ids int64 [batch, seq] ->
logits float32 [batch, seq, vocab]."""
import sys

import onnx

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
assert opset <= 17, opset
(inp,), (out,) = model.graph.input, model.graph.output


def sig(v):
    t = v.type.tensor_type
    return (onnx.TensorProto.DataType.Name(t.elem_type),
            [d.dim_param or d.dim_value for d in t.shape.dim])


print(f"checker ok (IR {model.ir_version}, opset {opset}); {inp.name} {sig(inp)} -> {out.name} {sig(out)}")
