// materialize-shapes refuses what it cannot make exact, with exit code 2.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %ref/make_tiny_hf.py --out %t/hf --layers 2 --hidden 8 --heads 4 --kv-heads 2 --intermediate 12 --vocab 10
// RUN: shear-translate --import-hf %t/hf -o %t/model.mlir
// RUN: shear-opt %t/model.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir

// Gates must be finalized first.
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/masked.mlir --materialize-shapes -o %t/c.mlir 2>&1 | FileCheck %s --check-prefix=GATES
// GATES: materialize-shapes: the layer mask is still a gate: run --finalize-masks first

// A dense model has nothing to materialize.
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/model.mlir --materialize-shapes -o %t/c.mlir 2>&1 | FileCheck %s --check-prefix=DENSE
// DENSE: materialize-shapes: the model has no masks: nothing to materialize

// Masks that keep different sizes in different layers give no LLaMA model.
// RUN: shear-opt %t/masked.mlir --finalize-masks -o %t/final.mlir
// RUN: %python -c "import sys; sys.path.insert(0, '%ref'); import safetensors_np as st, numpy as np; m = {k[len('shear.mask.'):]: v for k, (d, v) in st.read('%t/final.masks.safetensors').items()}; m['layer'] = np.array([0.9, 0.9]); m['intermediate'][:, :] = 0.5; m['intermediate'][1, :2] = 0.0; st.write('%t/uneven.safetensors', {'shear.mask.' + k: v for k, v in m.items()})"
// RUN: sed 's/final.masks.safetensors/uneven.safetensors/' %t/final.mlir > %t/uneven.mlir
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/uneven.mlir --materialize-shapes -o %t/c.mlir 2>&1 | FileCheck %s --check-prefix=UNEVEN
// UNEVEN: layer 1 keeps 2 heads, 1 kv groups and 10 intermediate dims, unlike the first kept layer (2, 1, 12): the masks must keep the same sizes in every layer

// Masks of a consistent shape other than the recorded target.
// RUN: %python -c "import sys; sys.path.insert(0, '%ref'); import safetensors_np as st, numpy as np; m = {k[len('shear.mask.'):]: v for k, (d, v) in st.read('%t/final.masks.safetensors').items()}; m['layer'] = np.array([0.9, 0.9]); st.write('%t/twolayers.safetensors', {'shear.mask.' + k: v for k, v in m.items()})"
// RUN: sed 's/final.masks.safetensors/twolayers.safetensors/' %t/final.mlir > %t/twolayers.mlir
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/twolayers.mlir --materialize-shapes -o %t/c.mlir 2>&1 | FileCheck %s --check-prefix=TARGET
// TARGET: the final masks give layers=2,heads=2,kv-heads=1,hidden=4,intermediate=6 but the target is layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6

// Weights that do not belong to the module (another model's checkpoint).
// RUN: %python %ref/make_tiny_hf.py --out %t/other --layers 2 --hidden 8 --heads 4 --kv-heads 2 --intermediate 10 --vocab 10
// RUN: cp %t/other/model.safetensors %t/hf/model.safetensors
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/final.mlir --materialize-shapes -o %t/c.mlir 2>&1 | FileCheck %s --check-prefix=FOREIGN
// FOREIGN: hf/model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' is F32 [10, 8] but the module declares F32 [12, 8]
// RUN: not ls %t/c.safetensors

// An unknown dtype option.
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/final.mlir "--materialize-shapes=weight-dtype=int8" -o %t/c.mlir 2>&1 | FileCheck %s --check-prefix=DTYPE
// DTYPE: weight-dtype must be source, f32, bf16 or f16, got 'int8'
