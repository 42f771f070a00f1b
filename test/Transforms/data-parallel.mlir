// data-parallel: every gradient a differentiated step returns is averaged over
// the data-parallel ranks by an in-place all_reduce right after it is
// complete (where a GPU backend can overlap it with the rest of the backward
// pass); the optimizer then reads the averaged gradients. Alone (one rank)
// all_reduce does nothing.
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate --data-parallel | FileCheck %s
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate --data-parallel --build-optimizer | FileCheck %s --check-prefix=OPT
// RUN: shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --differentiate --data-parallel --data-parallel | FileCheck %s --check-prefix=TWICE
// RUN: %python %ref/expect_exit.py 2 shear-opt %S/Inputs/tiny-mha.mlir "--build-train-step=mode=train" --lower-to-runtime --data-parallel 2>&1 | FileCheck %s --check-prefix=NOGRAD

// The embedding's gradient is complete after the last add of its two uses
// (embed and the untied lm_head are separate weights here: lm_head's is
// complete at once).
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: shear.data_parallel
// CHECK: %[[DHEAD:.*]]:2 = shear.kernel "lm_head.bwd"
// CHECK-NEXT: %[[HEADG:.*]] = shear.kernel "all_reduce"(%[[DHEAD]]#1) : (tensor<10x8xf32>) -> tensor<10x8xf32>
// CHECK: %[[DEMB:.*]] = shear.kernel "embed.bwd"
// CHECK-NEXT: %[[EMBG:.*]] = shear.kernel "all_reduce"(%[[DEMB]]) : (tensor<10x8xf32>) -> tensor<10x8xf32>
// CHECK: return %{{.*}}, %{{.*}}, %[[EMBG]],
// CHECK-SAME: %[[HEADG]] :

// OPT: shear.kernel "global_norm"({{(%[0-9]+, )*}}%{{[0-9]+}})
// OPT-NOT: shear.kernel "all_reduce"

// Running it twice averages once.
// TWICE-COUNT-21: shear.kernel "all_reduce"
// TWICE-NOT: shear.kernel "all_reduce"

// NOGRAD: data-parallel: @train_step has no gradients: run --differentiate first
