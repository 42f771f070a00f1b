// build-eval-step: @eval_loss(ids, labels) = @forward + mean cross-entropy
// (labels -100 ignored), so evaluation returns one number instead of the
// [batch, seq, vocab] logits. @forward stays; lower-to-runtime lowers both for
// evaluation (gates take deterministic masks).
// RUN: shear-opt %S/Inputs/tiny-mha.mlir --build-eval-step | FileCheck %s
// RUN: shear-opt %S/Inputs/tiny-mha.mlir --build-eval-step --lower-to-runtime | FileCheck %s --check-prefix=LOWERED
// RUN: shear-opt %S/Inputs/tiny-mha.mlir --build-eval-step --build-eval-step | FileCheck %s --check-prefix=TWICE
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/no-forward.mlir --build-eval-step 2>&1 | FileCheck %s --check-prefix=NOFWD

// CHECK: func.func @forward(%arg0: tensor<?x?xi64>) -> tensor<?x?x10xf32>
// CHECK: func.func @eval_loss(%[[IDS:.*]]: tensor<?x?xi64>, %[[LABELS:.*]]: tensor<?x?xi64>) -> tensor<f32>
// CHECK: %[[TABLE:.*]] = shear.weight "model.embed_tokens.weight"
// CHECK: shear.embed %[[TABLE]], %[[IDS]]
// CHECK: %[[LOGITS:.*]] = shear.lm_head
// CHECK: %[[LOSS:.*]] = shear.cross_entropy %[[LOGITS]], %[[LABELS]] :
// CHECK: return %[[LOSS]] : tensor<f32>

// LOWERED: func.func @eval_loss(
// LOWERED: shear.kernel "lm_head"
// LOWERED: shear.kernel "cross_entropy"(%{{.*}}, %{{.*}}) {ignore_index = -100 : i64} : (tensor<?x?x10xf32>, tensor<?x?xi64>) -> tensor<f32>
// LOWERED-NOT: shear.cross_entropy

// Running it again replaces the function rather than adding a second one.
// TWICE-COUNT-1: func.func @eval_loss(

// NOFWD: build-eval-step: no func.func @forward
