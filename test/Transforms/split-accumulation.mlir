// split-accumulation: @train_step stays as it is; @train_micro is its
// forward and backward, each gradient added to a zero-initialized float32
// sum "grad:<name>" beside the moments right after it is computed (scaled by
// %scale; %first: the sum is not read); @train_apply(step, lr...) is its
// optimizer, reading the sums. The tiny masked model trains 35 tensors: 35
// adamw in each of @train_step and @train_apply, 35 accumulate in
// @train_micro, no adamw there and no forward kernel in @train_apply.
// RUN: rm -rf %t && mkdir -p %t
// RUN: shear-opt %S/Inputs/tiny-gqa.mlir --insert-masks --target-shape=layers=1,heads=2,kv-heads=1,hidden=4,intermediate=6 -o %t/masked.mlir
// RUN: shear-opt %t/masked.mlir --build-train-step --lower-to-runtime --differentiate --data-parallel "--build-optimizer=optimizer-state=opt.safetensors" --split-accumulation -o %t/split.mlir
// RUN: FileCheck %s < %t/split.mlir
// RUN: %python -c "import re; t = open('%t/split.mlir').read(); f = {m.group(1): m.start() for m in re.finditer(r'func.func @(\w+)', t)}; step, micro, apply = t[f['train_step']:f['train_micro']], t[f['train_micro']:f['train_apply']], t[f['train_apply']:]; print('step adamw', step.count('\"adamw\"'), 'micro adamw', micro.count('\"adamw\"'), 'accumulate', micro.count('\"accumulate\"'), 'apply adamw', apply.count('\"adamw\"'), 'apply forward', len(re.findall(r'\"(attention|mlp|embed|rms_norm|gate.sample)', apply)), 'apply all_reduce', apply.count('\"all_reduce\"'))" | FileCheck %s --check-prefix=COUNT
// COUNT: step adamw 35 micro adamw 0 accumulate 35 apply adamw 35 apply forward 0 apply all_reduce 35

// CHECK-LABEL: func.func @train_step(
// CHECK: "adamw"
// CHECK: func.func @train_micro(%{{.*}}: tensor<?x?xi64>, %{{.*}}: tensor<?x?xi64>, %{{.*}}: tensor<i64>, %[[SCALE:.*]]: tensor<f32>, %[[FIRST:.*]]: tensor<i64>)
// The optimizer's metric is not the micro-batch's; its updates are the sums.
// CHECK-SAME: shear.metrics = ["loss", "lm_loss", "lagrangian", {{.*}}"target_sparsity.hidden"], shear.micro_batch, shear.updates = {{\[}}["opt.safetensors", "grad:shear.lambda1.hidden"],
// CHECK-NOT: grad_norm
// CHECK: %[[L:.*]]:3 = shear.kernel "lagrangian.bwd"
// CHECK-NEXT: %[[S:.*]] = shear.weight "grad:shear.lambda1.hidden" from "opt.safetensors" {zero_init} : tensor<f32>
// CHECK-NEXT: shear.kernel "accumulate"(%[[S]], %[[L]]#1, %[[SCALE]], %[[FIRST]])
// CHECK: "grad:model.embed_tokens.weight" from "opt.safetensors" {zero_init} : tensor<10x8xf32>
// CHECK-NOT: "adamw"
// CHECK: func.func @train_apply(%[[STEP:.*]]: tensor<i64>, %[[LR:.*]]: tensor<f32>, %{{.*}}: tensor<f32>, %{{.*}}: tensor<f32>)
// CHECK-SAME: shear.lr_args = ["lr", "lr_gate", "lr_lambda"], shear.metrics = ["grad_norm"]
// The sums averaged over the ranks in place are updates of themselves.
// CHECK-SAME: ["opt.safetensors", "grad:shear.lambda2.hidden"]
// CHECK: %[[E:.*]] = shear.weight "grad:model.embed_tokens.weight" from "opt.safetensors" {zero_init} : tensor<10x8xf32>
// CHECK-NEXT: %[[EM:.*]] = shear.kernel "all_reduce"(%[[E]])
// CHECK: %[[NORM:.*]] = shear.kernel "global_norm"(
// CHECK: %[[P:.*]] = shear.weight "model.embed_tokens.weight"
// CHECK: shear.kernel "adamw"(%[[P]], %[[EM]], %{{.*}}, %{{.*}}, %[[NORM]], %[[LR]], %[[STEP]])
// CHECK: return

// Before build-optimizer there is nothing to split.
// RUN: not shear-opt %t/masked.mlir --build-train-step --lower-to-runtime --differentiate --split-accumulation 2>&1 | FileCheck %s --check-prefix=EARLY
// EARLY: split-accumulation: run build-optimizer first
