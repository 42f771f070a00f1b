// Knowledge distillation in the training step (build-train-step
// distill-from=TEACHER): the teacher's forward pass is cloned into
// @train_step on the same ids, its weights renamed teacher.<name>, read from
// the teacher's own file (the tensor keeps its name there) and marked
// frozen, its ops marked shear.frozen. The loss is a `distill` kernel of
// both logits and the labels; the metrics add kd_loss. Lowered, the
// teacher runs the evaluation kernels (attention, not attention.train);
// differentiated, distill.bwd returns only the student's cotangent and no
// frozen weight gets a gradient. Only the vocabulary must match: here a
// 2-layer MHA teacher distils into a masked GQA student.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir "--build-train-step=distill-from=%S/Inputs/tiny-mha.mlir distill-temperature=2 distill-alpha=0.75" | FileCheck %s
// RUN: shear-opt %t/masked.mlir "--build-train-step=distill-from=%S/Inputs/tiny-mha.mlir" --lower-to-runtime --differentiate | FileCheck %s --check-prefix=LOWERED
// RUN: shear-opt %t/masked.mlir "--build-train-step=distill-from=%S/Inputs/tiny-mha.mlir" --lower-to-runtime --differentiate | grep 'func.func @train_step' | FileCheck %s --check-prefix=GRADS
// A masked teacher stands for its dense source: its clone has no gate, no
// mask weight and no mask operand, and reads the source's tensors.
// RUN: shear-opt %t/masked.mlir "--build-train-step=distill-from=%t/masked.mlir" | FileCheck %s --check-prefix=MASKED
// RUN: shear-opt %t/masked.mlir "--build-train-step=distill-from=%t/masked.mlir" | not grep -E 'teacher\.shear\.|mask\(.*shear\.frozen'
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/masked.mlir "--build-train-step=distill-from=%t/absent.mlir" 2>&1 | FileCheck %s --check-prefix=ABSENT
// RUN: sed -e 's/10x8/12x8/g' -e 's/x10xf32/x12xf32/g' %S/Inputs/tiny-mha.mlir > %t/vocab12.mlir
// RUN: %python %ref/expect_exit.py 2 shear-opt %t/masked.mlir "--build-train-step=distill-from=%t/vocab12.mlir" 2>&1 | FileCheck %s --check-prefix=VOCAB

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x?xi64>, %[[LABELS:[a-z0-9]+]]: tensor<?x?xi64>
// CHECK-SAME: shear.metrics = ["loss", "lm_loss", "kd_loss", "lagrangian",
// CHECK: %[[TE:.*]] = shear.weight "teacher.model.embed_tokens.weight" from "{{.*}}/Inputs/mha/model.safetensors" {frozen, tensor = "model.embed_tokens.weight"} : tensor<10x8xf32>
// CHECK: shear.embed %[[TE]], %[[IDS]] {shear.frozen}
// CHECK: shear.attention {{.*}} {head_dim = 4 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64, shear.frozen}
// CHECK: %[[TL:.*]] = shear.lm_head {{.*}} {shear.frozen}
// CHECK: shear.gate
// CHECK: %[[SL:.*]] = shear.lm_head
// CHECK-NOT: shear.frozen
// CHECK: %[[D:.*]]:3 = shear.kernel "distill"(%[[SL]], %[[TL]], %[[LABELS]]) {alpha = 7.500000e-01 : f64, ignore_index = -100 : i64, temperature = 2.000000e+00 : f64}
// CHECK: shear.kernel "add"(%[[D]]#0,

// LOWERED-LABEL: func.func @train_step(
// LOWERED: shear.kernel "attention"({{.*}}) {head_dim = 4 : i64, num_heads = 2 : i64
// LOWERED: shear.kernel "attention.train"
// LOWERED: %[[D:.*]]:3 = shear.kernel "distill"
// LOWERED: shear.kernel "distill.bwd"({{.*}}) {alpha = 5.000000e-01 : f64, ignore_index = -100 : i64, temperature = 1.000000e+00 : f64} : ({{.*}}) -> tensor<?x?x10xf32>
// LOWERED-NOT: "attention.bwd"({{.*}}) {head_dim = 4

// GRADS: shear.gradients = [
// GRADS-SAME: "model.embed_tokens.weight"]
// GRADS-NOT: teacher.

// MASKED: shear.weight "teacher.model.embed_tokens.weight" from "{{.*}}gqa/model.safetensors" {frozen, tensor = "model.embed_tokens.weight"}
// MASKED-NEXT: shear.embed %{{[0-9]+}}, %arg0 {shear.frozen}
// MASKED: shear.attention %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}} {head_dim = 2 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64, shear.frozen}
// MASKED-NEXT: shear.residual_add %{{[0-9]+}}, %{{[0-9]+}} {shear.frozen}
// MASKED: shear.mlp %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}} {shear.frozen}
// MASKED-NEXT: shear.residual_add %{{[0-9]+}}, %{{[0-9]+}} {shear.frozen}
// MASKED: shear.lm_head %{{[0-9]+}}, %{{[0-9]+}} {shear.frozen, tied}
// ABSENT: absent.mlir
// VOCAB: build-train-step: {{.*}}vocab12.mlir: the teacher's @forward must take the same token ids and return logits over the same vocabulary as the student's
