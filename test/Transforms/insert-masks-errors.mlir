// Every rejected target gets exit code 2 and a message saying what is wrong.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=3,heads=2,hidden=8,intermediate=12 -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=LARGER
// LARGER: insert-masks: target layers (3) is larger than the source's (2)
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=2,heads=2,hidden=8,intermediate=13 -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=LARGER-M
// LARGER-M: target intermediate (13) is larger than the source's (12)
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=1,heads=1,hidden=8,intermediate=6 -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=HIDDEN
// HIDDEN: target hidden (8) must equal target heads x head_dim (1 x 4 = 4): head_dim is never pruned
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=3,kv-heads=2,hidden=6,intermediate=6 -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=MULTIPLE
// MULTIPLE: target heads (3) must be a multiple of target kv-heads (2)
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=8,intermediate=6 -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=MHA
// MHA: the source has multi-head attention (kv-heads = heads = 2): target kv-heads (1) must equal target heads (2)
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=0,heads=1,hidden=4,intermediate=6 -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: target layers must be positive, got 0
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=7b -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=PRESET
// PRESET: unknown target-shape preset '7b' (presets: 2.7b, 1.3b, 370m, tiny, tiny-gqa;
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks "--target-shape=layers=1;heads=1" -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=MALFORMED
// MALFORMED: malformed target shape 'layers=1;heads=1': value of 'layers' is not an integer ('1;heads=1')
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=1,layers=2 -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=TWICEKEY
// TWICEKEY: malformed target shape 'layers=1,layers=2': 'layers' given twice
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=heads=1,hidden=8 -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=BOTH
// BOTH: target hidden (8) must equal target heads x head_dim (1 x 4 = 4)
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks -o %t/m.mlir 2>&1 | FileCheck %s --check-prefix=NONE
// NONE: insert-masks: no target shape: give --target-shape=PRESET
// Errors are one line naming the file and the pass, without the module.
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=3 2>&1 | FileCheck %s --check-prefix=ONELINE --implicit-check-not=shear.weight --implicit-check-not=func.func --implicit-check-not=note:
// ONELINE: tiny-mha.mlir:{{[0-9]+}}:{{[0-9]+}}: error: insert-masks: target layers (3) is larger than the source's (2)
// A masked model cannot be masked again.
// RUN: shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=1,heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/masked.mlir --insert-masks --target-shape=layers=1,heads=1,hidden=4,intermediate=6 -o %t/again.mlir 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: insert-masks: the model already has masks
// Nothing is written for a rejected target.
// RUN: not ls %t/m.gates.safetensors
// A failed run leaves an existing output as it was.
// RUN: echo "previous" > %t/keep.mlir
// RUN: not shear-opt %S/Inputs/tiny-mha.mlir --insert-masks --target-shape=layers=9,heads=1,hidden=4,intermediate=6 -o %t/keep.mlir
// RUN: FileCheck %s --check-prefix=KEPT < %t/keep.mlir
// KEPT: previous
